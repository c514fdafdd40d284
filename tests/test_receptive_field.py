"""Receptive fields: TinyVGG's by hand, and a strided, dilated, padded model's by hand and
against where a neuron's gradient reaches the input (the backward pass, not the geometry)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlens.backward import backward
from cnnlens.forward import run
from cnnlens.loader import LoadedModel, load_model
from cnnlens.receptive_field import Field, boxes, receptive_fields
from tests.onnx_builders import ModelBuilder
from tests.paths import BUNDLED_MODEL


def _fields(loaded: LoadedModel, shape: tuple[int, ...]) -> dict[str, Field | None]:
    result = run(loaded.model, np.zeros(shape, np.float32))
    return receptive_fields(loaded.model, {k: v.shape for k, v in result.tensors.items()})


@pytest.fixture(scope="module")
def tinyvgg() -> dict[str, Field | None]:
    return _fields(load_model(BUNDLED_MODEL.read_bytes(), "bundled"), (1, 1, 28, 28))


# By hand: 3x3 convolutions with padding 1 grow the field by 2 * jump, 2x2 pools by jump
# and double the jump; each padding of 1 moves the start back by one jump.
TINYVGG = {
    "conv_1_1": (-1, 1, 3), "relu_1_1": (-1, 1, 3),
    "conv_1_2": (-2, 1, 5), "max_pool_1": (-2, 2, 6),
    "conv_2_1": (-4, 2, 10), "conv_2_2": (-6, 2, 14), "relu_2_2": (-6, 2, 14),
    "max_pool_2": (-6, 4, 16),
}


@pytest.mark.parametrize("layer", TINYVGG)
def test_tinyvgg_fields_by_hand(tinyvgg, layer):
    start, jump, size = TINYVGG[layer]
    assert tinyvgg[layer] == Field((start, start), (jump, jump), (size, size))


def test_a_max_pool_2_neuron_sees_a_16_by_16_window(tinyvgg):
    field = tinyvgg["max_pool_2"]
    inner = boxes(field, np.array([3, 2]), (28, 28))
    assert inner.tolist() == [6, 2, 22, 18]  # 16 x 16, end-exclusive
    # At the corners the window is cut to the picture.
    assert boxes(field, np.array([[0, 0], [6, 6]]), (28, 28)).tolist() == [
        [0, 0, 10, 10], [18, 18, 28, 28]]


def test_layers_past_flatten_see_everything(tinyvgg):
    assert tinyvgg["flatten"] is None and tinyvgg["logits"] is None
    assert boxes(None, np.array([[1, 2]]), (28, 28)).tolist() == [[0, 0, 28, 28]]


def strided_dilated() -> tuple[LoadedModel, dict[str, str]]:
    """(1, 1, 32, 32): conv 3x3 stride 2 pad 1 → conv 3x3 dilation 2 pad 2 → average pool
    3x3 stride 2 pad 1 → two 3x3 convs padded only at the top-left / bottom-right, added."""
    b = ModelBuilder((1, 1, 32, 32), seed=3)
    a = b.add("Conv", [b.input, b.weight((2, 1, 3, 3))], strides=[2, 2], pads=[1, 1, 1, 1])
    d = b.add("Conv", [a, b.weight((2, 2, 3, 3))], dilations=[2, 2], pads=[2, 2, 2, 2])
    p = b.add("AveragePool", [d], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
              count_include_pad=1)
    early = b.add("Conv", [p, b.weight((2, 2, 3, 3))], pads=[2, 2, 0, 0])
    late = b.add("Conv", [p, b.weight((2, 2, 3, 3))], pads=[0, 0, 2, 2])
    s = b.add("Add", [early, late])
    loaded = load_model(b.build(s).SerializeToString(), "strided.onnx")
    return loaded, {"a": a, "d": d, "p": p, "early": early, "late": late, "sum": s}


def test_strided_dilated_fields_by_hand():
    loaded, names = strided_dilated()
    fields = _fields(loaded, (1, 1, 32, 32))
    expected = {
        "a": (-1, 2, 3),       # 0 - 1 * 1, jump 1 * 2, 1 + 1 * 2
        "d": (-5, 2, 11),      # -1 - 2 * 2, 3 + 2 * 2 * 2 (dilation 2)
        "p": (-7, 4, 15),      # -5 - 2 * 1, jump 2 * 2, 11 + 2 * 2
        "early": (-15, 4, 23), # -7 - 4 * 2, 15 + 4 * 2
        "late": (-7, 4, 23),   # no padding before
        "sum": (-15, 4, 31),   # the union: from -15 to -7 + 23 = 16
    }
    for key, (start, jump, size) in expected.items():
        assert fields[names[key]] == Field((start, start), (jump, jump), (size, size)), key


@pytest.mark.parametrize("key", ["a", "d", "p", "sum"])
def test_boxes_are_where_the_gradient_reaches(key):
    """The input pixels a neuron's gradient is non-zero on span exactly its box (random
    weights: no cancellation; average pooling: every tap counts)."""
    loaded, names = strided_dilated()
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    result = run(loaded.model, x)
    layer = names[key]
    field = receptive_fields(loaded.model, {k: v.shape for k, v in result.tensors.items()})[layer]
    _, _, h, w = result.tensors[layer].shape
    for y, x_ in {(0, 0), (h // 2, w // 3), (h - 1, w - 1)}:
        seed = np.zeros(result.tensors[layer].shape, np.float32)
        seed[0, 1, y, x_] = 1
        grad = backward(loaded.model, result, {layer: seed})[result.input_name][0, 0]
        rows, cols = np.flatnonzero(grad.any(axis=1)), np.flatnonzero(grad.any(axis=0))
        reached = [rows[0], cols[0], rows[-1] + 1, cols[-1] + 1]
        assert boxes(field, np.array([y, x_]), (32, 32)).tolist() == reached, (key, y, x_)
