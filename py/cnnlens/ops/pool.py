"""MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.

Local pools reduce the strided window view of :mod:`cnnlens.ops.windows` over its kernel
axes. Max pooling pads with ``-inf`` so padding never wins; average pooling pads with zeros
and divides by how many positions each window counts, which depends on
``count_include_pad`` but never includes the ceil-mode overhang.

A window can miss the input entirely (padding wider than the dilated gaps, or a ceil-mode
overhang). The spec leaves that case open; cnnlens follows onnxruntime, which yields the
lowest finite value for MaxPool and 0 for an AveragePool with nothing to count, so no
``-inf`` or NaN flows into later layers.

Backward, every window's gradient is spread over the taps it read and folded back onto
the input (:func:`~cnnlens.ops.windows.fold_windows`): all of it to the first largest
real input position for max pooling (as PyTorch does with ties; padding never wins, and
a window that misses the input passes nothing back), or shared evenly among the counted
positions for average pooling.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, required
from cnnlens.ops.spec import Grads, OpSpec, Shape, Wanted
from cnnlens.ops.windows import (
    WindowPlan,
    fold_windows,
    pad_spatial,
    plan_from_attributes,
    sliding_windows,
)


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


def max_pool_vjp(x: np.ndarray, dy: np.ndarray, plan: WindowPlan) -> np.ndarray:
    """``dy`` ``(N, C, *O)`` → ``dX`` ``(N, C, *S)``: each window's gradient goes to the
    first position (in the window's row-major tap order) of its largest input value."""
    rank = len(plan.kernel)
    windows = sliding_windows(pad_spatial(x, plan, -np.inf), plan)  # (N, C, *O, *K)
    kernel_axes = _kernel_axes(windows, plan)
    largest = np.expand_dims(windows.max(axis=kernel_axes), kernel_axes)
    # A NaN is the maximum of its window (max propagates it), so it takes the gradient.
    hits = (windows == largest) | np.isnan(windows)
    if _may_miss_input(plan):
        # Mark real positions so that -inf padding never ties with a -inf input.
        inside = np.ones((1, 1, *x.shape[2:]), dtype=bool)
        hits &= sliding_windows(pad_spatial(inside, plan, False), plan)
    flat = hits.reshape(*hits.shape[: 2 + rank], -1)
    first = flat.argmax(axis=-1)[..., None]  # 0 where nothing hit; masked below
    chosen = (np.arange(flat.shape[-1]) == first) & flat
    d_windows = np.where(chosen, dy[..., None], 0).astype(dy.dtype, copy=False)
    return fold_windows(d_windows.reshape(windows.shape), plan, x.shape[2:])


def average_pool_vjp(
    x_shape: tuple[int, ...], dy: np.ndarray, plan: WindowPlan, count_include_pad: bool
) -> np.ndarray:
    """``dy`` ``(N, C, *O)`` → ``dX`` shaped ``x_shape``, ``(N, C, *S)``: each window's
    gradient divided by the count the forward divided by, on every tap of the window."""
    rank = len(plan.kernel)
    counts = _window_counts(x_shape[2:], plan, count_include_pad)
    share = dy / np.maximum(counts, 1).astype(dy.dtype)
    d_windows = np.broadcast_to(share.reshape(*share.shape, *(1,) * rank),
                                (*share.shape, *plan.kernel))
    return fold_windows(d_windows, plan, x_shape[2:])


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


def vjp_max_pool(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                 grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """``[dX]``; ``None`` for an integer input, which has no gradient."""
    x = required(inputs, 0, "MaxPool")
    if grads[0] is None or not np.issubdtype(x.dtype, np.floating):
        return [None]
    return [max_pool_vjp(x, grads[0], _pool_plan(x, attrs, "MaxPool"))]


def vjp_average_pool(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                     grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """``[dX]``, dividing by the same counts as the forward."""
    x = required(inputs, 0, "AveragePool")
    if grads[0] is None:
        return [None]
    include_pad = bool(attrs.get("count_include_pad", 0))
    plan = _pool_plan(x, attrs, "AveragePool")
    return [average_pool_vjp(x.shape, grads[0], plan, include_pad)]


def vjp_global_average_pool(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                            grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """``[dX]``: each channel's gradient shared evenly by its ``prod(S)`` positions."""
    x = required(inputs, 0, "GlobalAveragePool")
    if grads[0] is None:
        return [None]
    size = math.prod(x.shape[2:])
    return [np.broadcast_to(grads[0] / np.asarray(size, grads[0].dtype), x.shape).copy()]


def vjp_global_max_pool(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                        grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """``[dX]``: each channel's gradient to its first largest position (a NaN if any)."""
    x = required(inputs, 0, "GlobalMaxPool")
    if grads[0] is None or not np.issubdtype(x.dtype, np.floating):
        return [None]
    flat = x.reshape(*x.shape[:2], -1)
    first = flat.argmax(axis=-1)[..., None]  # NumPy's argmax also returns the first NaN
    dy = grads[0].reshape(*x.shape[:2], 1)
    dx = np.where(np.arange(flat.shape[-1]) == first, dy, 0).astype(dy.dtype, copy=False)
    return [dx.reshape(x.shape)]


def pool_window(shapes: list[Shape], attrs: dict[str, Any]) -> WindowPlan:
    """The window one output neuron reads from X (MaxPool, AveragePool)."""
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    return plan_from_attributes(shapes[0][2:], kernel, attrs, "pool",
                                ceil_mode=bool(attrs.get("ceil_mode", 0)))


def pool_shape(shapes: list[Shape | None], attrs: dict[str, Any],
               constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None:
        return None
    return (x[0], x[1], *pool_window([x], attrs).output)


def global_pool_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                      constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    return None if x is None else (x[0], x[1], *(1,) * (len(x) - 2))


SPECS = (
    OpSpec("MaxPool", op_max_pool, pool_shape, vjp=vjp_max_pool, channelwise=True,
           kind="pool", detail="pool", core=max_pool, window=pool_window),
    OpSpec("AveragePool", op_average_pool, pool_shape, vjp=vjp_average_pool, channelwise=True,
           kind="pool", detail="pool", window=pool_window),
    OpSpec("GlobalAveragePool", op_global_average_pool, global_pool_shape,
           vjp=vjp_global_average_pool, channelwise=True, kind="pool"),
    OpSpec("GlobalMaxPool", op_global_max_pool, global_pool_shape, vjp=vjp_global_max_pool,
           channelwise=True, kind="pool"),
)
