"""MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.

Local pools reduce the strided window view of :mod:`cnnlens.ops.windows` over its kernel
axes. Max pooling pads with ``-inf`` so padding never wins; average pooling pads with zeros
and divides by how many positions each window counts, which depends on
``count_include_pad`` but never includes the ceil-mode overhang.

A window can miss the input entirely (padding wider than the dilated gaps, or a ceil-mode
overhang). The spec leaves that case open; cnnlens follows onnxruntime, which yields the
lowest finite value for MaxPool and 0 for an AveragePool with nothing to count, so no
``-inf`` or NaN flows into later layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, required
from cnnlens.ops.spec import OpSpec, Shape
from cnnlens.ops.windows import WindowPlan, pad_spatial, plan_from_attributes, sliding_windows


def max_pool(x: np.ndarray, plan: WindowPlan) -> np.ndarray:
    """``(N, C, *S)`` → ``(N, C, *O)``: the largest value in each window."""
    floating = np.issubdtype(x.dtype, np.floating)
    lowest = np.finfo(x.dtype).min if floating else np.iinfo(x.dtype).min
    windows = sliding_windows(pad_spatial(x, plan, -np.inf if floating else lowest), plan)
    y = windows.max(axis=_kernel_axes(windows, plan))
    if _may_miss_input(plan):
        y = np.where(_window_counts(x.shape[2:], plan, False) == 0, lowest, y)
    return y


def average_pool(x: np.ndarray, plan: WindowPlan, count_include_pad: bool) -> np.ndarray:
    """``(N, C, *S)`` → ``(N, C, *O)``: each window's sum over the positions it counts.

    Without ``count_include_pad`` a window averages only real input positions; with it,
    also the declared padding. Separable per axis, so the divisor is an outer product.
    """
    windows = sliding_windows(pad_spatial(x, plan, 0.0), plan)
    sums = windows.sum(axis=_kernel_axes(windows, plan))
    counts = _window_counts(x.shape[2:], plan, count_include_pad).astype(sums.dtype)
    # An empty window has a zero sum; dividing it by 1 gives onnxruntime's 0, not NaN.
    return sums / np.maximum(counts, 1)


def _may_miss_input(plan: WindowPlan) -> bool:
    return any(plan.pads_begin) or any(plan.pads_end) or any(plan.overhang)


def _window_counts(spatial: tuple[int, ...], plan: WindowPlan, include_pad: bool) -> np.ndarray:
    """How many positions each output window averages, broadcastable to ``(1, 1, *O)``."""
    rank = len(spatial)
    counts = np.ones((1, 1) + (1,) * rank)
    for i, size in enumerate(spatial):
        begin, end = plan.pads_begin[i], plan.pads_end[i]
        counted = np.zeros(begin + size + end + plan.overhang[i])
        counted[slice(0, begin + size + end) if include_pad else slice(begin, begin + size)] = 1
        span, stride = plan.spans[i], plan.strides[i]
        taps = sliding_window_view(counted, span)[: (plan.output[i] - 1) * stride + 1 : stride]
        per_window = taps[:, :: plan.dilations[i]].sum(axis=1)
        shape = [1] * (2 + rank)
        shape[2 + i] = plan.output[i]
        counts = counts * per_window.reshape(shape)
    return counts


def _kernel_axes(windows: np.ndarray, plan: WindowPlan) -> tuple[int, ...]:
    return tuple(range(windows.ndim - len(plan.kernel), windows.ndim))


def _pool_plan(x: np.ndarray, attrs: dict[str, Any], op: str) -> WindowPlan:
    if x.ndim < 3:
        raise ModelError(f"{op}: input {x.shape} needs rank >= 3, (N, C, *spatial)")
    if "kernel_shape" not in attrs:
        raise ModelError(f"{op}: attribute 'kernel_shape' is required")
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    if len(kernel) != x.ndim - 2:
        raise ModelError(f"{op}: kernel_shape {kernel} does not match input {x.shape}")
    return plan_from_attributes(
        x.shape[2:], kernel, attrs, op, ceil_mode=bool(attrs.get("ceil_mode", 0))
    )


def op_max_pool(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX MaxPool: kernel_shape, strides, pads / auto_pad, dilations, ceil_mode.

    Only the values output; the optional Indices output is not computed.
    """
    x = required(inputs, 0, "MaxPool")
    return [max_pool(x, _pool_plan(x, attrs, "MaxPool"))]


def op_average_pool(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX AveragePool: as MaxPool, plus count_include_pad (dilations since opset 19)."""
    x = required(inputs, 0, "AveragePool")
    include_pad = bool(attrs.get("count_include_pad", 0))
    return [average_pool(x, _pool_plan(x, attrs, "AveragePool"), include_pad)]


def op_global_average_pool(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """``(N, C, *S)`` → ``(N, C, 1, ...)``: the mean of each channel."""
    x = required(inputs, 0, "GlobalAveragePool")
    return [x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)]


def op_global_max_pool(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """``(N, C, *S)`` → ``(N, C, 1, ...)``: the maximum of each channel."""
    x = required(inputs, 0, "GlobalMaxPool")
    return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]


def pool_shape(shapes: list[Shape | None], attrs: dict[str, Any],
               constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None:
        return None
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    plan = plan_from_attributes(x[2:], kernel, attrs, "pool",
                                ceil_mode=bool(attrs.get("ceil_mode", 0)))
    return (x[0], x[1], *plan.output)


def global_pool_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                      constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    return None if x is None else (x[0], x[1], *(1,) * (len(x) - 2))


SPECS = (
    OpSpec("MaxPool", op_max_pool, pool_shape, channelwise=True, kind="pool", detail="pool"),
    OpSpec("AveragePool", op_average_pool, pool_shape, channelwise=True, kind="pool",
           detail="pool"),
    OpSpec("GlobalAveragePool", op_global_average_pool, global_pool_shape, channelwise=True,
           kind="pool"),
    OpSpec("GlobalMaxPool", op_global_max_pool, global_pool_shape, channelwise=True,
           kind="pool"),
)
