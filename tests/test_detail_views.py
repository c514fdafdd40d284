"""Detail view-models in CPython: recomputed numbers, and refusal when they disagree."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from cnnlens.errors import CnnlensError
from cnnlens.forward import run
from cnnlens.model_card import model_card
from cnnlens.onnx_reader import read_model
from cnnlens.preprocess import preprocess
from cnnlens.views.conv import conv_view
from cnnlens.views.flatten import flatten_view
from cnnlens.views.pool import pool_view
from cnnlens.views.softmax import softmax_view
from tests.onnx_builders import ModelBuilder, onnxruntime_outputs
from tests.paths import BUNDLED_MODEL, EXAMPLES


def unpack(view, numbers, name):
    spec = view["arrays"][name]
    size = int(np.prod(spec["shape"]))
    return numbers[spec["offset"]:spec["offset"] + size].reshape(spec["shape"])


@pytest.fixture(scope="module")
def bundled():
    model = read_model(BUNDLED_MODEL.read_bytes())
    file = json.loads((EXAMPLES / "index.json").read_text())[3]["file"]
    return model, run(model, preprocess((EXAMPLES / file).read_bytes(),
                                        model_card(model).preprocessing))


def test_strided_dilated_grouped_conv_products_by_explicit_loops():
    b = ModelBuilder((1, 4, 9, 8), seed=11)
    b.add("Conv", [b.input, b.weight((6, 2, 3, 2)), b.weight((6,), "b", 1)], outputs=["y"],
          strides=(2, 1), dilations=(1, 2), pads=(1, 0, 2, 1), group=2)
    model = read_model(b.build().SerializeToString())
    x = np.random.default_rng(2).normal(size=(1, 4, 9, 8)).astype(np.float32)
    result = run(model, x)
    view, numbers, _ = conv_view(model, result, "y", 4)
    assert view["input_channels"] == [2, 3]
    padded = np.pad(x[0, 2:4], ((0, 0), (1, 2), (0, 1)))
    w = model.graph.initializers[model.graph.nodes[0].inputs[1]][4]
    products = unpack(view, numbers, "products")
    ho, wo = view["out"]
    for i in range(ho):
        for j in range(wo):
            for c in range(2):
                window = padded[c, 2 * i:2 * i + 3, j:j + 4:2]
                np.testing.assert_allclose(products[c, i, j], window * w[c], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(unpack(view, numbers, "output"), result.tensors["y"][0, 4])


def test_running_sums_add_the_products_one_tap_then_one_channel_at_a_time():
    """The sums the page animates, against float64 sums written out tap by tap."""
    b = ModelBuilder((1, 3, 7, 6), seed=5)
    b.add("Conv", [b.input, b.weight((4, 3, 3, 2)), b.weight((4,), "b", 1)], outputs=["y"],
          strides=(2, 1), dilations=(1, 2), pads=(1, 1, 1, 0))
    model = read_model(b.build().SerializeToString())
    x = np.random.default_rng(9).normal(size=(1, 3, 7, 6)).astype(np.float32)
    result = run(model, x)
    view, numbers, rasters = conv_view(model, result, "y", 2)
    w = model.graph.initializers[model.graph.nodes[0].inputs[1]][2].astype(np.float64)
    bias = float(model.graph.initializers[model.graph.nodes[0].inputs[2]][2])
    padded = np.pad(x[0].astype(np.float64), ((0, 0), (1, 1), (1, 0)))
    partials = unpack(view, numbers, "partials")
    channel_partials = unpack(view, numbers, "channel_partials")
    ho, wo = view["out"]
    assert partials.shape == (3, ho, wo, 6)
    for i in range(ho):
        for j in range(wo):
            total = 0.0
            for c in range(3):
                running = 0.0
                for tap in range(6):
                    a, t = divmod(tap, 2)
                    running += padded[c, 2 * i + a, j + 2 * t] * w[c, a, t]
                    assert partials[c, i, j, tap] == pytest.approx(running, abs=1e-6)
                total += running
                assert channel_partials[c, i, j] == pytest.approx(total, abs=1e-6)
            # the last running sum plus the bias is what the engine computed
            assert channel_partials[-1, i, j] + bias == pytest.approx(
                float(result.tensors["y"][0, 2, i, j]), abs=1e-5)
    products = unpack(view, numbers, "products")
    assert view["ranges"]["product"] == pytest.approx(float(np.abs(products).max()), rel=1e-6)
    image = view["images"]["products"]
    assert image["shape"] == [3, ho, wo, 3, 2]
    # A product of exactly zero (a padded cell) is the scale's white middle.
    c, i, j, a, t = np.argwhere(products == 0)[0]
    flat = (((c * ho + i) * wo + j) * 3 + a) * 2 + t
    start = image["offset"] + 4 * flat
    assert bytes(rasters[start:start + 3]) == bytes.fromhex("f7f7f7")


def test_a_view_refuses_to_show_numbers_that_disagree_with_the_engine(bundled):
    model, result = bundled
    tampered = dict(result.tensors)
    tampered["conv_1_2"] = tampered["conv_1_2"] + np.float32(0.01)
    with pytest.raises(CnnlensError, match="disagrees"):
        conv_view(model, replace(result, tensors=tampered), "conv_1_2", 0)
    with pytest.raises(CnnlensError, match="disagrees"):
        flatten_view(model, replace(result, logits=result.logits + 1), ["c"] * 10, 2)


def test_pool_picks_are_the_window_maxima(bundled):
    model, result = bundled
    view, numbers, _ = pool_view(model, result, "max_pool_1", 7)
    source = result.tensors["relu_1_2"][0, 7]
    picks = unpack(view, numbers, "picks").astype(int)
    windows = source.reshape(14, 2, 14, 2).transpose(0, 2, 1, 3).reshape(14, 14, 4)
    np.testing.assert_array_equal(np.take_along_axis(windows, picks[..., None], -1)[..., 0],
                                  windows.max(axis=-1))


def test_pool_running_maximum_is_the_window_read_one_value_at_a_time(bundled):
    model, result = bundled
    view, numbers, _ = pool_view(model, result, "max_pool_1", 7)
    source = result.tensors["relu_1_2"][0, 7].astype(np.float64)
    running = unpack(view, numbers, "running")
    assert running.shape == (14, 14, 4)
    for i, j in [(0, 0), (5, 9), (13, 13)]:
        window = source[2 * i:2 * i + 2, 2 * j:2 * j + 2].ravel()
        largest = -np.inf
        for tap in range(4):
            largest = max(largest, window[tap])
            assert running[i, j, tap] == pytest.approx(largest, abs=1e-6)
    np.testing.assert_allclose(running[..., -1], result.tensors["max_pool_1"][0, 7])


@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool_running_sums_and_counts_against_onnxruntime(count_include_pad):
    """Padding, a ceil-mode overhang and a stride of 2 by 1: the sum so far, the count and
    their quotient, against sums written out tap by tap and onnxruntime's output."""
    b = ModelBuilder((1, 2, 7, 6), seed=3)
    b.add("AveragePool", [b.input], outputs=["y"], kernel_shape=(3, 2), strides=(2, 1),
          pads=(1, 0, 0, 1), ceil_mode=1, count_include_pad=count_include_pad)
    proto = b.build()
    model = read_model(proto.SerializeToString())
    x = np.random.default_rng(4).normal(size=(1, 2, 7, 6)).astype(np.float32)
    view, numbers, _ = pool_view(model, run(model, x), "y", 1)
    expected = onnxruntime_outputs(proto, {"input": x})["y"][0, 1]
    ho, wo = view["out"]
    assert (ho, wo) == expected.shape == (4, 6)  # the last row of windows overhangs by one
    running, counts = unpack(view, numbers, "running"), unpack(view, numbers, "counts")
    rows, cols = 1 + 7, 6 + 1  # declared padding: 1 above, 1 on the right
    for i in range(ho):
        for j in range(wo):
            total, counted = 0.0, 0
            for tap in range(6):
                r, c = 2 * i + tap // 2, j + tap % 2
                inside = 1 <= r < 8 and c < 6
                total += float(x[0, 1, r - 1, c]) if inside else 0.0
                counted += inside or (count_include_pad and r < rows and c < cols)
                assert running[i, j, tap] == pytest.approx(total, abs=1e-6)
            assert counts[i, j] == counted
    np.testing.assert_allclose(running[..., -1] / counts, expected, rtol=1e-5, atol=1e-6)


def test_flatten_and_softmax_reproduce_logits_and_probabilities(bundled):
    model, result = bundled
    view, numbers, _ = flatten_view(model, result, [str(i) for i in range(10)], 3)
    total = unpack(view, numbers, "contributions").sum() + view["bias"]
    assert total == pytest.approx(float(result.logits[0, 3]), abs=1e-4)
    assert view["ranges"][1] == [49, 97]
    soft = softmax_view(result, [str(i) for i in range(10)])
    ratios = [c["exp"] / soft["total"] for c in soft["classes"]]
    np.testing.assert_allclose(ratios, result.probabilities[0], rtol=1e-5, atol=1e-7)
