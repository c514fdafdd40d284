"""The overview view-model: columns, tiles, raster offsets and the colour encodings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnlens.forward import run
from cnnlens.onnx_reader import read_model
from cnnlens.views import colormap
from cnnlens.views.overview import overview
from tests.onnx_builders import ModelBuilder

FIRST, MIDDLE, LAST = (np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)])
                       for h in ("#67001f", "#f7f7f7", "#053061"))


def small_cnn(channels_in: int = 3, softmax: bool = False):
    b = ModelBuilder((1, channels_in, 9, 9), seed=3)
    conv = b.add("Conv", [b.input, b.weight((4, channels_in, 3, 3)), b.weight((4,), "b", 1)],
                 pads=(1, 1, 1, 1))
    relu = b.add("Relu", [conv])
    pool = b.add("MaxPool", [relu], kernel_shape=(3, 3), strides=(3, 3))
    flat = b.add("Flatten", [pool])
    scores = b.add("Gemm", [flat, b.weight((5, 36)), b.weight((5,), "b", 1)], transB=1)
    if softmax:
        b.add("Softmax", [scores], axis=1)
    model = read_model(b.build().SerializeToString())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, channels_in, 9, 9)).astype(np.float32)
    preview = rng.integers(0, 256, size=(9, 9, channels_in), dtype=np.uint8)
    return model, run(model, x), preview, (conv, relu, pool)


def tile(view, rasters, layer: str, channel: int) -> np.ndarray:
    """RGBA pixels `(H, W, 4)` of one tile, located the way the JS renderer locates it."""
    column = next(c for c in view["columns"] if c["name"] == layer)
    start = column["tiles"][channel]["offset"]
    size = column["width"] * column["height"] * 4
    return rasters[start:start + size].reshape(column["height"], column["width"], 4)


def test_columns_follow_the_network_with_one_tile_per_channel():
    model, result, preview, (conv, relu, pool) = small_cnn()
    view, rasters = overview(model, result, [f"c{i}" for i in range(5)], preview)
    assert [c["name"] for c in view["columns"]] == [result.input_name, conv, relu, pool]
    assert [c["kind"] for c in view["columns"]] == ["input", "conv", "relu", "pool"]
    assert [len(c["tiles"]) for c in view["columns"]] == [3, 4, 4, 4]
    # Readers see node names (the tensors stay the keys); a node without one shows its tensor.
    conv_node = model.graph.producers[conv].name
    assert conv_node and conv_node != conv
    assert view["columns"][1]["title"] == conv_node
    assert view["columns"][1]["label"] == f"{conv_node} · 4 × 9 × 9"
    assert view["columns"][0]["title"] == result.input_name
    assert [c["shape"] for c in view["columns"]] == [[3, 9, 9], [4, 9, 9], [4, 9, 9], [4, 3, 3]]
    last = view["columns"][-1]
    assert last["tiles"][-1]["offset"] + last["width"] * last["height"] * 4 == rasters.size
    assert rasters.dtype == np.uint8
    json.dumps(view)  # plain data only: it crosses to JavaScript as JSON


@pytest.mark.parametrize(("softmax", "label"), [(False, "logits"), (True, "Softmax")])
def test_the_output_says_what_the_model_ends_in_and_reads_every_last_channel(softmax, label):
    model, result, preview, (_, _, pool) = small_cnn(softmax=softmax)
    assert (model.graph.producers[model.output.name].op_type == "Softmax") == softmax
    view, _ = overview(model, result, [f"c{i}" for i in range(5)], preview)
    assert view["output"]["op"] == label
    assert view["output"]["sources"] == {"column": pool, "channels": [[0, 1, 2, 3]] * 5}


def test_output_lists_every_class_with_the_top_one_marked():
    model, result, preview, _ = small_cnn()
    names = ["a", "b", "c", "d", "e"]
    view, _ = overview(model, result, names, preview)
    output = view["output"]
    assert [c["name"] for c in output["classes"]] == names
    probabilities = [c["probability"] for c in output["classes"]]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
    assert output["top1"] == int(np.argmax(probabilities))


def test_layer_range_maps_extremes_to_the_ends_and_zero_to_white():
    model, result, preview, (conv, relu, _) = small_cnn()
    view, rasters = overview(model, result, list("abcde"), preview, mode="layer")
    values = result.tensors[conv][0]
    c, y, x = np.unravel_index(np.argmax(np.abs(values)), values.shape)
    extreme = LAST if values[c, y, x] > 0 else FIRST
    np.testing.assert_array_equal(tile(view, rasters, conv, c)[y, x, :3], extreme)
    relu_values = result.tensors[relu][0]
    zero = np.argwhere(relu_values == 0)[0]
    np.testing.assert_array_equal(tile(view, rasters, relu, zero[0])[zero[1], zero[2], :3], MIDDLE)
    positive = np.argwhere(relu_values > 0.3 * relu_values.max())[0]
    r, _, b = tile(view, rasters, relu, positive[0])[positive[1], positive[2], :3].astype(int)
    assert b > r  # positive activations are blue


def test_range_modes_change_which_tiles_reach_the_extremes():
    model, result, preview, (conv, _, _) = small_cnn()
    values = result.tensors[conv][0]

    def extreme_channels(mode):
        view, rasters = overview(model, result, list("abcde"), preview, mode=mode)
        hits = []
        for k in range(values.shape[0]):
            rgb = tile(view, rasters, conv, k)[..., :3].reshape(-1, 3)
            if (rgb == FIRST).all(axis=1).any() or (rgb == LAST).all(axis=1).any():
                hits.append(k)
        return hits

    assert extreme_channels("neuron") == list(range(values.shape[0]))
    layer_max_channel = int(np.argmax(np.abs(values).max(axis=(1, 2))))
    assert extreme_channels("layer") == [layer_max_channel]
    network_max = max(np.abs(result.tensors[n][0]).max() for n in list(result.tensors)[1:4])
    assert (extreme_channels("network") != []) == bool(np.abs(values).max() == network_max)


def test_rgb_input_is_shown_one_colour_per_channel_and_grey_as_grey():
    model, result, preview, _ = small_cnn()
    view, rasters = overview(model, result, list("abcde"), preview)
    for k in range(3):
        pixels = tile(view, rasters, result.input_name, k)
        np.testing.assert_array_equal(pixels[..., k], preview[..., k])
        assert not np.delete(pixels[..., :3], k, axis=-1).any()
    assert view["columns"][0]["op"] == "rgb"

    model, result, preview, _ = small_cnn(channels_in=1)
    view, rasters = overview(model, result, list("abcde"), preview)
    pixels = tile(view, rasters, result.input_name, 0)
    for k in range(3):
        np.testing.assert_array_equal(pixels[..., k], preview[..., 0])
    assert view["columns"][0]["op"] == "grey"


def test_diverging_scale_is_red_below_zero_white_at_zero_blue_above():
    t = np.linspace(-1, 1, 101, dtype=np.float32)
    rgba = colormap.diverging(t, 1.0).astype(int)
    red_minus_blue = rgba[:, 0] - rgba[:, 2]
    assert (red_minus_blue[t < -0.1] > 0).all()
    assert (red_minus_blue[t > 0.1] < 0).all()
    brightness = rgba[:, :3].sum(axis=1)
    assert brightness[50] == brightness.max()
    assert brightness[0] < brightness[25] < brightness[50] > brightness[75] > brightness[100]
    assert (rgba[:, 3] == 255).all()
    # A layer of zeros has no range: everything is the middle colour, no division by zero.
    np.testing.assert_array_equal(colormap.diverging(np.zeros(3), 0.0)[:, :3], [MIDDLE] * 3)
