"""Softmax, in today's per-axis form (opset >= 13) and the older flatten-to-2-D form, with
their vector-Jacobian products."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnlens.ops.arguments import Inputs, axis, required
from cnnlens.ops.spec import Grads, OpSpec, Wanted, floating, same_shape


def softmax(x: np.ndarray, along: int = -1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along one axis; subtracting the max first avoids overflow."""
    if x.shape[along] == 0:  # nothing to normalise, and max() has no identity
        return x.copy()
    shifted = x - x.max(axis=along, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=along, keepdims=True)


def op_softmax(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Softmax (opset >= 13): normalise along ``axis`` (default -1)."""
    x = required(inputs, 0, "Softmax")
    return [softmax(x, axis(int(attrs.get("axis", -1)), x.ndim, "Softmax"))]


def op_softmax_before_13(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Softmax (opset 1-12): view as 2-D at ``axis`` (default 1), normalise each row."""
    x = required(inputs, 0, "Softmax")
    at = axis(int(attrs.get("axis", 1)), x.ndim, "Softmax")
    rows = x.reshape(math.prod(x.shape[:at]), math.prod(x.shape[at:]))
    return [softmax(rows, 1).reshape(x.shape)]


def softmax_vjp(y: np.ndarray, g: np.ndarray, along: int = -1) -> np.ndarray:
    """The input gradient of ``y = softmax(x, along)`` for the output gradient ``g``.

    The Jacobian is ``diag(y) - y yᵀ`` along the axis, so ``dx = y (g - Σ g y)``.
    """
    return y * (g - (g * y).sum(axis=along, keepdims=True))


def vjp_softmax(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """Gradient of ONNX Softmax (opset >= 13) with respect to its input."""
    x, y, g = required(inputs, 0, "Softmax"), outputs[0], grads[0]
    if g is None or not floating(x):
        return [None]
    return [softmax_vjp(y, g, axis(int(attrs.get("axis", -1)), y.ndim, "Softmax"))]


def vjp_softmax_before_13(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                          grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """Gradient of ONNX Softmax (opset 1-12): the 2-D view's rows, as the forward."""
    x, y, g = required(inputs, 0, "Softmax"), outputs[0], grads[0]
    if g is None or not floating(x):
        return [None]
    at = axis(int(attrs.get("axis", 1)), y.ndim, "Softmax")
    rows = (math.prod(y.shape[:at]), math.prod(y.shape[at:]))
    return [softmax_vjp(y.reshape(rows), g.reshape(rows), 1).reshape(y.shape)]


SPECS = (
    OpSpec("Softmax", op_softmax, same_shape, vjp=vjp_softmax, core=softmax,
           earlier=((13, op_softmax_before_13),), earlier_vjp=((13, vjp_softmax_before_13),)),
)
