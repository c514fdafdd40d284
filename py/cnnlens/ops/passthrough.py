"""Ops that produce their input or a stored value: Identity, Dropout (at inference), Constant.

The first two pass the gradient straight back; Constant has no input to pass it to.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, required
from cnnlens.ops.spec import Grads, OpSpec, Shape, Wanted, floating, same_shape

# Constant's value attributes (one must be set) and how each becomes an array.
_CONSTANT_VALUES = {
    "value": lambda v: np.asarray(v),
    "value_float": lambda v: np.array(v, dtype=np.float32),
    "value_floats": lambda v: np.array(v, dtype=np.float32),
    "value_int": lambda v: np.array(v, dtype=np.int64),
    "value_ints": lambda v: np.array(v, dtype=np.int64),
}


def op_identity(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [required(inputs, 0, "Identity")]


def op_dropout(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """Inference-mode Dropout (opset >= 12): the input unchanged, and an all-true mask for
    the optional second output. A ``training_mode`` input is ignored: cnnlens only infers."""
    x = required(inputs, 0, "Dropout")
    return [x, np.ones(x.shape, dtype=np.bool_)]


def op_dropout_before_12(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """Dropout in test mode, opset 10-11: the mask output is all false (as onnxruntime)."""
    x = required(inputs, 0, "Dropout")
    return [x, np.zeros(x.shape, dtype=np.bool_)]


def op_dropout_before_10(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """Dropout in test mode, opset 1-9: the mask output has the input's type, all zero."""
    x = required(inputs, 0, "Dropout")
    return [x, np.zeros_like(x)]


def op_constant(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Constant: exactly one of value / value_float(s) / value_int(s)."""
    present = [name for name in attrs if name in _CONSTANT_VALUES]
    if len(present) != 1:
        others = sorted(set(attrs) - set(_CONSTANT_VALUES))
        detail = f" (unsupported: {', '.join(others)})" if others else ""
        raise ModelError(f"Constant needs exactly one supported value attribute{detail}")
    return [_CONSTANT_VALUES[present[0]](attrs[present[0]])]


def constant_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                   constants: list[np.ndarray | None]) -> Shape | None:
    value = attrs.get("value")
    return tuple(np.shape(value)) if value is not None else None


def vjp_identity(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                 grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The output gradient, unchanged."""
    return [grads[0] if floating(required(inputs, 0, "Identity")) else None]


def vjp_dropout(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The data output's gradient, unchanged (every opset: inference keeps every value); the
    mask output and the ``ratio`` / ``training_mode`` inputs take no part."""
    x_grad = grads[0] if floating(required(inputs, 0, "Dropout")) else None
    return [x_grad] + [None] * (len(inputs) - 1)


def vjp_constant(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                 grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """No inputs, no gradients."""
    return []


SPECS = (
    OpSpec("Identity", op_identity, same_shape, vjp=vjp_identity, pass_through=True),
    OpSpec("Dropout", op_dropout, same_shape, vjp=vjp_dropout, pass_through=True,
           earlier=((10, op_dropout_before_10), (12, op_dropout_before_12))),
    OpSpec("Constant", op_constant, constant_shape, vjp=vjp_constant),
)
