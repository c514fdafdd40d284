"""Binary elementwise arithmetic: Add, Sub, Mul, Div, with NumPy broadcasting.

Opset >= 7 broadcasts like NumPy. Older models may instead set ``broadcast=1`` with an
``axis`` at which B's dimensions line up with A's; that is mapped onto NumPy broadcasting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.ops.arguments import Inputs, axis, required
from cnnlens.ops.spec import OpFunction, OpSpec, broadcast_shape


def align_legacy_broadcast(a: np.ndarray, b: np.ndarray, attrs: dict[str, Any]) -> np.ndarray:
    """B reshaped so NumPy broadcasting reproduces opset < 7 ``broadcast`` / ``axis``."""
    if not attrs.get("broadcast", 0) or "axis" not in attrs:
        return b
    start = axis(int(attrs["axis"]), a.ndim, "broadcast")
    trailing = a.ndim - start - b.ndim
    return b.reshape(b.shape + (1,) * trailing) if trailing > 0 else b


def _binary(op_type: str, ufunc: np.ufunc) -> OpFunction:
    def op(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
        a = required(inputs, 0, op_type)
        b = required(inputs, 1, op_type)
        return [ufunc(a, align_legacy_broadcast(a, b, attrs))]

    op.__name__ = op.__qualname__ = f"op_{op_type.lower()}"
    op.__doc__ = f"ONNX {op_type}: elementwise {ufunc.__name__} with broadcasting."
    return op


op_add = _binary("Add", np.add)
op_sub = _binary("Sub", np.subtract)
op_mul = _binary("Mul", np.multiply)


def op_div(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Div: true division for floats, truncation toward zero for integers (as C does)."""
    a = required(inputs, 0, "Div")
    b = align_legacy_broadcast(a, required(inputs, 1, "Div"), attrs)
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        quotient = np.trunc(np.true_divide(a, b))
        return [quotient.astype(np.result_type(a, b))]
    return [np.divide(a, b)]


SPECS = tuple(
    OpSpec(op_type, function, broadcast_shape, channelwise=True)
    for op_type, function in (("Add", op_add), ("Sub", op_sub), ("Mul", op_mul), ("Div", op_div))
)
