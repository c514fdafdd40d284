"""Binary elementwise arithmetic: Add, Sub, Mul, Div, with NumPy broadcasting.

Opset >= 7 broadcasts like NumPy. Older models may instead set ``broadcast=1`` with an
``axis`` at which B's dimensions line up with A's; that is mapped onto NumPy broadcasting.
The vector-Jacobian products sum each input's gradient back over the axes broadcasting
stretched, so it is shaped like that input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnnlens.ops.arguments import Inputs, axis, required
from cnnlens.ops.spec import (
    Grads,
    OpFunction,
    OpSpec,
    VjpFunction,
    Wanted,
    broadcast_shape,
    floating,
    unbroadcast,
)


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


# The partial derivatives of each op, ``(a, b, y, g) -> (dL/da, dL/db)`` before
# unbroadcasting, with ``b`` already aligned to ``a`` and ``y`` the forward output.
_PARTIALS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "Add": lambda a, b, y, g: (g, g),
    "Sub": lambda a, b, y, g: (g, -g),
    "Mul": lambda a, b, y, g: (g * b, g * a),
    "Div": lambda a, b, y, g: (g / b, -(g * y) / b),  # d(a/b)/db = -a/b² = -y/b
}


def _binary_vjp(op_type: str) -> VjpFunction:
    partials = _PARTIALS[op_type]

    def vjp(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
            rule: str, wanted: Wanted) -> list[np.ndarray | None]:
        a = required(inputs, 0, op_type)
        b = required(inputs, 1, op_type)
        g = grads[0]
        if g is None or not (floating(a) and floating(b)):
            return [None, None]
        aligned = align_legacy_broadcast(a, b, attrs)
        ga, gb = partials(a, aligned, outputs[0], g)
        # A broadcast operand (a bias, a scale) is summed back only when its gradient is wanted.
        return [unbroadcast(ga, a.shape) if wanted[0] else None,
                unbroadcast(gb, aligned.shape).reshape(b.shape) if wanted[1] else None]

    vjp.__name__ = vjp.__qualname__ = f"vjp_{op_type.lower()}"
    vjp.__doc__ = f"Gradients of ONNX {op_type} with respect to A and B, shaped like each."
    return vjp


SPECS = tuple(
    OpSpec(op_type, function, broadcast_shape, vjp=_binary_vjp(op_type), channelwise=True)
    for op_type, function in (("Add", op_add), ("Sub", op_sub), ("Mul", op_mul), ("Div", op_div))
)
