"""Vector-Jacobian products of the window ops (Conv and the pools) against PyTorch autograd.

Each case draws float64 data and a random upstream gradient, runs the same op forward in
torch, backpropagates, and compares every input gradient with ours within 1e-4 of the
largest expected magnitude. Torch pads symmetrically only, so asymmetric ONNX pads and
SAME_* auto_pad are applied to torch's input explicitly (zeros for Conv and AveragePool,
``-inf`` for MaxPool), with padding amounts from the ONNX spec's formula written out here.
Where torch has no counterpart (AveragePool with dilations, or with asymmetric pads that it
must not count), the reference is float64 central differences of our own forward.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlens.ops import op_spec
from cnnlens.ops.conv import op_conv, vjp_conv
from cnnlens.ops.pool import (
    op_average_pool,
    op_max_pool,
    vjp_average_pool,
    vjp_global_average_pool,
    vjp_global_max_pool,
    vjp_max_pool,
)

SETTINGS = settings(max_examples=50, deadline=None)
AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def assert_close(ours: np.ndarray | None, expected: np.ndarray) -> None:
    """Equal shapes, and every element within 1e-4 of the reference's largest magnitude."""
    assert ours is not None
    assert ours.shape == expected.shape
    scale = float(np.abs(expected).max(initial=0.0))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-4 * max(scale, 1e-12))


def onnx_pads(spatial, kernel, strides, dilations, auto_pad, pads):
    """Per-axis (begin, end) padding by the ONNX spec: SAME_* gives ``ceil(in / stride)``
    outputs, the odd padding at the end (UPPER) or the beginning (LOWER)."""
    rank = len(spatial)
    result = []
    for i in range(rank):
        if auto_pad == "VALID":
            result.append((0, 0))
        elif auto_pad.startswith("SAME"):
            out = -(-spatial[i] // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i])
            small, large = total // 2, total - total // 2
            result.append((small, large) if auto_pad == "SAME_UPPER" else (large, small))
        else:
            result.append((pads[i], pads[rank + i]))
    return result


def torch_pad(x: torch.Tensor, pads: list[tuple[int, int]], value: float) -> torch.Tensor:
    """Pads the spatial axes of ``(N, C, *S)``; F.pad lists the last axis first."""
    flat = [p for begin_end in reversed(pads) for p in begin_end]
    return F.pad(x, flat, value=value) if any(flat) else x


def tensor(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def data(rng: np.random.Generator, shape: tuple[int, ...], ties: bool = False) -> np.ndarray:
    """Normal data, or few distinct values so that max pooling sees many ties."""
    if ties:
        return rng.integers(0, 3, size=shape).astype(np.float64)
    return rng.normal(size=shape)


def central_differences(f: Callable[[list[np.ndarray]], np.ndarray], arrays: list[np.ndarray],
                        index: int, dy: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d sum(dy · f(arrays)) / d arrays[index], one element at a time (tiny shapes only)."""
    grad = np.zeros_like(arrays[index])
    for position in np.ndindex(grad.shape):
        values = []
        for step in (eps, -eps):
            moved = [a.copy() for a in arrays]
            moved[index][position] += step
            values.append(float(np.sum(dy * f(moved))))
        grad[position] = (values[0] - values[1]) / (2 * eps)
    return grad


# --------------------------------------------------------------------------- Conv
@st.composite
def conv_cases(draw):
    rank = draw(st.integers(1, 3))
    group = draw(st.integers(1, 3))
    per_group_in = draw(st.integers(1, 2))  # 1 with group == C: depthwise
    per_group_out = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilations = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    spatial = tuple(span + draw(st.integers(0, 4 if rank < 3 else 2)) for span in spans)
    auto_pad = draw(st.sampled_from(AUTO_PADS))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(2 * rank))
    return {
        "batch": draw(st.integers(1, 2)),
        "channels": group * per_group_in,
        "filters": group * per_group_out,
        "group": group,
        "spatial": spatial,
        "kernel": kernel,
        "strides": strides,
        "dilations": dilations,
        "auto_pad": auto_pad,
        "pads": pads,
        "bias": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def conv_attrs(case) -> dict:
    attrs = {"group": case["group"], "strides": list(case["strides"]),
             "dilations": list(case["dilations"]), "kernel_shape": list(case["kernel"])}
    if case["auto_pad"] == "NOTSET":
        attrs["pads"] = list(case["pads"])
    else:
        attrs["auto_pad"] = case["auto_pad"]
    return attrs


@SETTINGS
@given(conv_cases())
def test_conv_vjp_matches_torch(case):
    rng = np.random.default_rng(case["seed"])
    rank, group = len(case["spatial"]), case["group"]
    x = rng.normal(size=(case["batch"], case["channels"], *case["spatial"]))
    w = rng.normal(size=(case["filters"], case["channels"] // group, *case["kernel"]))
    b = rng.normal(size=case["filters"]) if case["bias"] else None
    pads = onnx_pads(case["spatial"], case["kernel"], case["strides"], case["dilations"],
                     case["auto_pad"], case["pads"])
    tx, tw = tensor(x), tensor(w)
    tb = None if b is None else tensor(b)
    conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
    ty = conv(torch_pad(tx, pads, 0.0), tw, tb, stride=case["strides"],
              dilation=case["dilations"], groups=group)
    dy = rng.normal(size=tuple(ty.shape))
    ty.backward(torch.tensor(dy))

    inputs = [x, w] if b is None else [x, w, b]
    attrs = conv_attrs(case)
    y = op_conv(inputs, attrs)[0]
    assert_close(y, ty.detach().numpy())  # the same op, so the gradients are comparable
    grads = vjp_conv(inputs, attrs, [y], [dy], "plain", [True] * len(inputs))
    assert len(grads) == len(inputs)
    assert_close(grads[0], tx.grad.numpy())
    assert_close(grads[1], tw.grad.numpy())
    if tb is not None:
        assert_close(grads[2], tb.grad.numpy())


def test_conv_vjp_matches_finite_differences():
    """Grouped, strided, dilated, asymmetrically padded: all three gradients."""
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=(2, 4, 7, 6)), rng.normal(size=(6, 2, 3, 2)), rng.normal(size=6)
    attrs = {"group": 2, "strides": [2, 1], "dilations": [1, 2], "pads": [1, 2, 2, 0]}

    def forward(arrays):
        return op_conv(arrays, attrs)[0]

    y = forward([x, w, b])
    dy = rng.normal(size=y.shape)
    grads = vjp_conv([x, w, b], attrs, [y], [dy], "plain", [True] * 3)
    for index in range(3):
        assert_close(grads[index], central_differences(forward, [x, w, b], index, dy))


def test_conv_vjp_without_an_output_gradient_is_none():
    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    assert vjp_conv([x, w, None], {}, [op_conv([x, w], {})[0]], [None], "plain",
                    [True] * 3) == [None] * 3


# --------------------------------------------------------------------------- pooling
@st.composite
def pool_cases(draw, *, dilated: bool):
    """Either torch's own padding (symmetric, at most half a window, ceil_mode allowed) or
    explicit ONNX pads / auto_pad that the test applies to torch's input itself."""
    rank = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilations = tuple(draw(st.integers(1, 2)) if dilated else 1 for _ in range(rank))
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    spatial = tuple(span + draw(st.integers(0, 4 if rank < 3 else 2)) for span in spans)
    native = draw(st.booleans())
    if native:
        # Torch allows at most half the undilated kernel.
        half = tuple(draw(st.integers(0, k // 2)) for k in kernel)
        pads, auto_pad, ceil_mode = half + half, "NOTSET", draw(st.booleans())
    else:
        pads = tuple(draw(st.integers(0, 2)) for _ in range(2 * rank))
        auto_pad, ceil_mode = draw(st.sampled_from(AUTO_PADS)), False
    return {
        "batch": draw(st.integers(1, 2)),
        "channels": draw(st.integers(1, 3)),
        "spatial": spatial,
        "kernel": kernel,
        "strides": strides,
        "dilations": dilations,
        "native": native,
        "pads": pads,
        "auto_pad": auto_pad,
        "ceil_mode": ceil_mode,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def pool_attrs(case) -> dict:
    attrs = {"kernel_shape": list(case["kernel"]), "strides": list(case["strides"]),
             "dilations": list(case["dilations"]), "ceil_mode": int(case["ceil_mode"])}
    if case["auto_pad"] == "NOTSET":
        attrs["pads"] = list(case["pads"])
    else:
        attrs["auto_pad"] = case["auto_pad"]
    return attrs


def torch_pool(case, tx: torch.Tensor, pool: Callable, pad_value: float, **options):
    """``pool`` on ``tx`` with the case's geometry: torch's own padding when ``native``."""
    rank = len(case["spatial"])
    if case["native"]:
        return pool(tx, case["kernel"], case["strides"], padding=case["pads"][:rank],
                    ceil_mode=case["ceil_mode"], **options)
    pads = onnx_pads(case["spatial"], case["kernel"], case["strides"], case["dilations"],
                     case["auto_pad"], case["pads"])
    return pool(torch_pad(tx, pads, pad_value), case["kernel"], case["strides"], padding=0,
                ceil_mode=False, **options)


@SETTINGS
@given(pool_cases(dilated=True), st.booleans())
def test_max_pool_vjp_matches_torch(case, ties):
    rng = np.random.default_rng(case["seed"])
    rank = len(case["spatial"])
    x = data(rng, (case["batch"], case["channels"], *case["spatial"]), ties)
    tx = tensor(x)
    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[rank - 1]
    ty = torch_pool(case, tx, pool, -math.inf, dilation=case["dilations"])
    dy = rng.normal(size=tuple(ty.shape))
    ty.backward(torch.tensor(dy))

    attrs = pool_attrs(case)
    y = op_max_pool([x], attrs)[0]
    assert y.shape == tuple(ty.shape)
    assert_close(vjp_max_pool([x], attrs, [y], [dy], "plain", [True])[0], tx.grad.numpy())


@SETTINGS
@given(pool_cases(dilated=False), st.booleans())
def test_average_pool_vjp_matches_torch(case, count_include_pad):
    # Explicit pads are real input to torch, so it counts them: only count_include_pad=1.
    include_pad = count_include_pad or not case["native"]
    rng = np.random.default_rng(case["seed"])
    rank = len(case["spatial"])
    x = rng.normal(size=(case["batch"], case["channels"], *case["spatial"]))
    tx = tensor(x)
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[rank - 1]
    ty = torch_pool(case, tx, pool, 0.0, count_include_pad=include_pad)
    dy = rng.normal(size=tuple(ty.shape))
    ty.backward(torch.tensor(dy))

    attrs = pool_attrs(case) | {"count_include_pad": int(include_pad)}
    y = op_average_pool([x], attrs)[0]
    assert y.shape == tuple(ty.shape)
    assert_close(vjp_average_pool([x], attrs, [y], [dy], "plain", [True])[0], tx.grad.numpy())


@st.composite
def tiny_pool_attrs(draw):
    """2-d pooling geometry torch cannot express: dilations with any pads, asymmetric pads
    wider than half a window (windows that miss the input), ceil_mode with all of them."""
    kernel = [draw(st.integers(1, 3)) for _ in range(2)]
    dilations = [draw(st.integers(1, 3)) for _ in range(2)]
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    spatial = tuple(max(1, span + draw(st.integers(-1, 3))) for span in spans)
    attrs = {
        "kernel_shape": kernel,
        "strides": [draw(st.integers(1, 3)) for _ in range(2)],
        "dilations": dilations,
        "pads": [draw(st.integers(0, 3)) for _ in range(4)],
        "ceil_mode": int(draw(st.booleans())),
        "count_include_pad": int(draw(st.booleans())),
    }
    for axis in range(2):  # the padded input must hold at least one window
        short = spans[axis] - (spatial[axis] + attrs["pads"][axis] + attrs["pads"][2 + axis])
        attrs["pads"][2 + axis] += max(0, short)
    return spatial, attrs, draw(st.integers(0, 2**32 - 1))


@SETTINGS
@given(tiny_pool_attrs())
def test_average_pool_vjp_matches_finite_differences(case):
    spatial, attrs, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 2, *spatial))

    def forward(arrays):
        return op_average_pool(arrays, attrs)[0]

    y = forward([x])
    dy = rng.normal(size=y.shape)
    expected = central_differences(forward, [x], 0, dy)
    assert_close(vjp_average_pool([x], attrs, [y], [dy], "plain", [True])[0], expected)


@SETTINGS
@given(tiny_pool_attrs())
def test_max_pool_vjp_matches_finite_differences(case):
    spatial, attrs, seed = case
    rng = np.random.default_rng(seed)
    # Distinct values at least 0.1 apart, so a 1e-6 step never changes a window's winner.
    x = (rng.permutation(2 * math.prod(spatial)) * 0.1).reshape(1, 2, *spatial) - 1.0

    def forward(arrays):
        # A window that misses the input outputs float64's lowest value, a constant that
        # would overflow the weighted sum; any constant has the same (zero) derivative.
        y = op_max_pool(arrays, attrs)[0]
        return np.where(y == np.finfo(y.dtype).min, 0.0, y)

    y = forward([x])
    dy = rng.normal(size=y.shape)
    expected = central_differences(forward, [x], 0, dy)
    assert_close(vjp_max_pool([x], attrs, [y], [dy], "plain", [True])[0], expected)


@pytest.mark.parametrize("values", [[-math.inf, -math.inf], [-math.inf, 2.0], [math.nan, 1.0]])
def test_max_pool_padding_never_wins(values):
    """-inf inputs beside -inf padding, and NaN (the maximum, as torch propagates it)."""
    x = np.array([[values]])
    tx = tensor(x)
    ty = F.max_pool1d(tx, 2, 1, padding=1)
    dy = np.array([[[1.0, 10.0, 100.0]]])
    ty.backward(torch.tensor(dy))
    attrs = {"kernel_shape": [2], "pads": [1, 1]}
    ours = vjp_max_pool([x], attrs, [op_max_pool([x], attrs)[0]], [dy], "plain", [True])[0]
    np.testing.assert_array_equal(ours, tx.grad.numpy())


def test_max_pool_window_outside_the_input_passes_nothing_back():
    """Pads wider than the kernel: the outer windows read padding only."""
    x = np.array([[[3.0, 5.0]]])
    attrs = {"kernel_shape": [1], "pads": [2, 1]}
    dy = np.array([[[1.0, 2.0, 4.0, 8.0, 16.0]]])  # windows: pad, pad, x0, x1, pad
    ours = vjp_max_pool([x], attrs, [op_max_pool([x], attrs)[0]], [dy], "plain", [True])[0]
    np.testing.assert_array_equal(ours, [[[4.0, 8.0]]])


# --------------------------------------------------------------------------- global pools
@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.booleans(), st.integers(0, 2**32 - 1))
def test_global_pool_vjps_match_torch(rank, channels, ties, seed):
    rng = np.random.default_rng(seed)
    x = data(rng, (2, channels, *rng.integers(1, 5, size=rank)), ties)
    dy = rng.normal(size=(2, channels, *(1,) * rank))
    average = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[rank - 1]
    largest = (F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d)[rank - 1]
    for pool, vjp in ((average, vjp_global_average_pool), (largest, vjp_global_max_pool)):
        tx = tensor(x)
        pool(tx, 1).backward(torch.tensor(dy))
        assert_close(vjp([x], {}, [], [dy], "plain", [True])[0], tx.grad.numpy())


def test_the_window_ops_register_their_vjps():
    expected = {"Conv": vjp_conv, "MaxPool": vjp_max_pool, "AveragePool": vjp_average_pool,
                "GlobalAveragePool": vjp_global_average_pool,
                "GlobalMaxPool": vjp_global_max_pool}
    for op_type, vjp in expected.items():
        assert op_spec(op_type).vjp is vjp
