"""Conv: N-d cross-correlation with padding, strides, dilations and groups.

Windows are gathered once (im2col via a strided view) and every group is contracted in a
single batched matrix product, so there is no Python loop over pixels, channels or groups.
Depthwise convolution is the case ``group == C``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, optional, required
from cnnlens.ops.spec import OpSpec, Shape
from cnnlens.ops.windows import WindowPlan, pad_spatial, plan_from_attributes, sliding_windows


def convolve(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, plan: WindowPlan, group: int = 1
) -> np.ndarray:
    """``(N, C, *S)`` with weights ``(M, C / group, *K)`` and bias ``(M,)`` → ``(N, M, *O)``.

    Output channel ``m`` belongs to group ``m // (M / group)`` and sees only that group's
    ``C / group`` input channels.
    """
    n, channels = x.shape[:2]
    filters = w.shape[0]
    rank = len(plan.output)
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
    positions = math.prod(plan.output)
    depth = (channels // group) * math.prod(plan.kernel)

    windows = sliding_windows(pad_spatial(x, plan, 0.0), plan)  # (N, C, *O, *K)
    channels_last = (0, *range(2, 2 + rank), 1, *range(2 + rank, 2 + 2 * rank))
    columns = (
        windows.transpose(channels_last)  # (N, *O, C, *K)
        .reshape(n, positions, group, depth)
        .transpose(0, 2, 1, 3)  # (N, group, P, depth)
    )
    kernels = w.reshape(group, filters // group, depth).transpose(0, 2, 1)  # (group, depth, M/g)
    y = np.matmul(columns, kernels)  # (N, group, P, M / group)
    y = y.transpose(0, 1, 3, 2).reshape(n, filters, *plan.output)
    if b is not None:
        y = y + b.reshape(1, filters, *(1,) * rank)
    return y


def op_conv(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Conv (opset 1-22): X, W, optional B; pads / auto_pad / strides / dilations / group."""
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
    return [convolve(x, w, b, plan, int(attrs.get("group", 1)))]


def conv_shape(shapes: list[Shape | None], attrs: dict[str, Any],
               constants: list[np.ndarray | None]) -> Shape | None:
    x, w = shapes[0], shapes[1] if len(shapes) > 1 else None
    if x is None or w is None or len(w) != len(x):
        return None
    plan = plan_from_attributes(x[2:], w[2:], attrs, "Conv")
    return (x[0], w[0], *plan.output)


SPECS = (OpSpec("Conv", op_conv, conv_shape, kind="conv", detail="conv"),)
