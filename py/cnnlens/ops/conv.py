"""Conv: N-d cross-correlation with padding, strides, dilations and groups.

Windows are gathered once (im2col via a strided view) and every group is contracted in a
single batched matrix product, so there is no Python loop over pixels, channels or groups.
Depthwise convolution is the case ``group == C``. The vector-Jacobian product reuses the
same layout: two more batched products and a fold of the columns back onto the input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, optional, required
from cnnlens.ops.spec import Grads, OpSpec, Shape, Wanted
from cnnlens.ops.windows import (
    WindowPlan,
    fold_windows,
    pad_spatial,
    plan_from_attributes,
    sliding_windows,
)


def convolve(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, plan: WindowPlan, group: int = 1
) -> np.ndarray:
    """``(N, C, *S)`` with weights ``(M, C / group, *K)`` and bias ``(M,)`` → ``(N, M, *O)``.

    Output channel ``m`` belongs to group ``m // (M / group)`` and sees only that group's
    ``C / group`` input channels.
    """
    _check_groups(x, w, group)
    n, filters, rank = x.shape[0], w.shape[0], len(plan.output)
    y = np.matmul(im2col(x, plan, group), kernel_matrix(w, group))  # (N, group, P, M / group)
    y = y.transpose(0, 1, 3, 2).reshape(n, filters, *plan.output)
    if b is not None:
        y = y + b.reshape(1, filters, *(1,) * rank)
    return y


def convolve_vjp(
    x: np.ndarray, w: np.ndarray, dy: np.ndarray, plan: WindowPlan, group: int = 1,
    wanted: Wanted = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients ``(dX, dW, dB)`` shaped ``(N, C, *S)``, ``(M, C / group, *K)``, ``(M,)``
    from the output's gradient ``dy`` ``(N, M, *O)``; ``None`` for those not ``wanted``
    (not computed: the backward pass wants only ``dX``).

    In the forward's im2col layout ``Y = columns @ kernels`` per group, so
    ``dcolumns = dY @ kernelsᵀ`` (folded back onto the input) and ``dkernels = columnsᵀ @ dY``
    summed over the batch and positions.
    """
    _check_groups(x, w, group)
    n, channels = x.shape[:2]
    filters, rank = w.shape[0], len(plan.output)
    positions = math.prod(plan.output)
    dy_columns = dy.reshape(n, group, filters // group, positions).transpose(0, 1, 3, 2)
    dx = dw = db = None
    if wanted[0]:
        d_columns = np.matmul(dy_columns, kernel_matrix(w, group).transpose(0, 2, 1))
        d_windows = (
            d_columns.transpose(0, 2, 1, 3)  # (N, P, group, depth)
            .reshape(n, *plan.output, channels, *plan.kernel)
            .transpose(np.argsort(_CHANNELS_LAST[rank]))  # (N, C, *O, *K)
        )
        dx = fold_windows(d_windows, plan, x.shape[2:])
    if wanted[1]:
        columns = im2col(x, plan, group)  # (N, group, P, depth)
        depth = columns.shape[-1]
        # Batch and positions contract together: (group, depth, N P) @ (group, N P, M / group).
        d_kernels = np.matmul(
            columns.transpose(1, 3, 0, 2).reshape(group, depth, n * positions),
            dy_columns.transpose(1, 0, 2, 3).reshape(group, n * positions, filters // group),
        )
        dw = d_kernels.transpose(0, 2, 1).reshape(w.shape)
    if wanted[2]:
        db = dy.sum(axis=(0, *range(2, dy.ndim)))
    return dx, dw, db


_CHANNELS_LAST = {
    rank: (0, *range(2, 2 + rank), 1, *range(2 + rank, 2 + 2 * rank)) for rank in range(1, 8)
}
"""Per spatial rank, the axes of ``(N, C, *O, *K)`` in the order ``(N, *O, C, *K)``."""


def im2col(x: np.ndarray, plan: WindowPlan, group: int) -> np.ndarray:
    """``(N, C, *S)`` → columns ``(N, group, P, depth)``: one row per output position ``P``
    holding the window's ``C / group`` channels × kernel taps (``depth``) of one group."""
    n, channels = x.shape[:2]
    rank = len(plan.output)
    depth = (channels // group) * math.prod(plan.kernel)
    windows = sliding_windows(pad_spatial(x, plan, 0.0), plan)  # (N, C, *O, *K)
    return (
        windows.transpose(_CHANNELS_LAST[rank])  # (N, *O, C, *K)
        .reshape(n, math.prod(plan.output), group, depth)
        .transpose(0, 2, 1, 3)
    )


def kernel_matrix(w: np.ndarray, group: int) -> np.ndarray:
    """Weights ``(M, C / group, *K)`` → ``(group, depth, M / group)``, matching :func:`im2col`."""
    filters = w.shape[0]
    return w.reshape(group, filters // group, -1).transpose(0, 2, 1)


def _check_groups(x: np.ndarray, w: np.ndarray, group: int) -> None:
    channels, filters = x.shape[1], w.shape[0]
    if group < 1 or channels % group or filters % group:
        raise ModelError(
            f"Conv: group={group} must divide both the {channels} input and "
            f"{filters} output channels"
        )
    if w.shape[1] * group != channels:
        raise ModelError(
            f"Conv: weights {w.shape} expect {w.shape[1] * group} input channels "
            f"(group={group}), the input has {channels}"
        )


def _conv_arguments(
    inputs: Inputs, attrs: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, WindowPlan, int]:
    """X, W, optional B, the window plan and ``group``, checked against each other."""
    x = required(inputs, 0, "Conv")
    w = required(inputs, 1, "Conv")
    b = optional(inputs, 2)
    if x.ndim < 3 or w.ndim != x.ndim:
        raise ModelError(f"Conv: input {x.shape} and weights {w.shape} need equal rank >= 3")
    kernel = tuple(w.shape[2:])
    declared = tuple(attrs.get("kernel_shape", kernel))
    if declared != kernel:
        raise ModelError(f"Conv: kernel_shape {declared} disagrees with weights {w.shape}")
    if b is not None and b.shape != (w.shape[0],):
        raise ModelError(f"Conv: bias {b.shape} should be ({w.shape[0]},)")
    plan = plan_from_attributes(x.shape[2:], kernel, attrs, "Conv")
    return x, w, b, plan, int(attrs.get("group", 1))


def op_conv(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Conv (opset 1-22): X, W, optional B; pads / auto_pad / strides / dilations / group."""
    x, w, b, plan, group = _conv_arguments(inputs, attrs)
    return [convolve(x, w, b, plan, group)]


def vjp_conv(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
             rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """``[dX, dW, dB]`` (``dB`` only when B is given) from the gradient of Y, each only
    when ``wanted``."""
    x, w, b, plan, group = _conv_arguments(inputs, attrs)
    if grads[0] is None:
        return [None] * len(inputs)
    flags = (wanted[0], wanted[1], b is not None and wanted[2])
    return list(convolve_vjp(x, w, grads[0], plan, group, flags))[: len(inputs)]


def conv_shape(shapes: list[Shape | None], attrs: dict[str, Any],
               constants: list[np.ndarray | None]) -> Shape | None:
    x, w = shapes[0], shapes[1] if len(shapes) > 1 else None
    if x is None or w is None or len(w) != len(x):
        return None
    plan = plan_from_attributes(x[2:], w[2:], attrs, "Conv")
    return (x[0], w[0], *plan.output)


def conv_window(shapes: list[Shape], attrs: dict[str, Any]) -> WindowPlan:
    """The window one output neuron reads from X, from the shapes of X and W."""
    return plan_from_attributes(shapes[0][2:], shapes[1][2:], attrs, "Conv")


SPECS = (OpSpec("Conv", op_conv, conv_shape, vjp=vjp_conv, kind="conv", detail="conv",
                core=convolve, window=conv_window),)
