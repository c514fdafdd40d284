"""Softmax, in today's per-axis form (opset >= 13) and the older flatten-to-2-D form."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnlens.ops.arguments import Inputs, axis, required
from cnnlens.ops.spec import OpSpec, same_shape


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


SPECS = (
    OpSpec("Softmax", op_softmax, same_shape, earlier=((13, op_softmax_before_13),)),
)
