"""The types ONNX gives the attributes of its ops, checked before a model runs.

An attribute of the wrong type would otherwise fail deep inside an op with a message about
the wrong thing (``strides="ab"`` gave "invalid literal for int()"); checked here, the
message names the node, the attribute, the type ONNX wants and what the file holds. The
table is keyed by attribute name alone: in the default ONNX domain each name below has the
same type in every op that has it (``onnx/defs``). Names not listed are not checked (the
op reads them itself).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.graph import Model, OpaqueAttribute

INT, FLOAT, STRING, INTS, FLOATS, TENSOR = "INT", "FLOAT", "STRING", "INTS", "FLOATS", "TENSOR"

ATTRIBUTE_TYPES: dict[str, str] = {
    **dict.fromkeys(("kernel_shape", "strides", "pads", "dilations", "output_padding",
                     "output_shape", "perm", "axes", "split", "value_ints"), INTS),
    **dict.fromkeys(("group", "axis", "ceil_mode", "count_include_pad", "storage_order",
                     "transA", "transB", "keepdims", "select_last_index", "allowzero",
                     "size", "to", "training_mode", "exclude_outside", "blocksize",
                     "value_int", "noop_with_empty_axes", "num_outputs"), INT),
    **dict.fromkeys(("alpha", "beta", "gamma", "epsilon", "momentum", "bias", "lambd",
                     "cubic_coeff_a", "extrapolation_value", "value_float"), FLOAT),
    **dict.fromkeys(("value_floats", "scales"), FLOATS),
    **dict.fromkeys(("auto_pad", "mode", "coordinate_transformation_mode", "nearest_mode",
                     "approximate", "value_string"), STRING),
    "value": TENSOR,
}
# The few names another op gives another type: Pad's constant before opset 11.
OP_ATTRIBUTE_TYPES: dict[tuple[str, str], str] = {("Pad", "value"): FLOAT}

_WORDS = {INT: "an integer", FLOAT: "a number", STRING: "a string",
          INTS: "a list of integers", FLOATS: "a list of numbers", TENSOR: "a tensor"}


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def has_type(value: Any, kind: str) -> bool:
    """Whether a decoded attribute value (see :class:`cnnlens.graph.Node`) is of ONNX type
    ``kind``; an integer is accepted where a FLOAT is wanted (it is exactly one)."""
    if kind == INT:
        return _is_int(value)
    if kind == FLOAT:
        return _is_number(value)
    if kind == STRING:
        return isinstance(value, str)
    if kind == TENSOR:
        return isinstance(value, np.ndarray)
    check = _is_int if kind == INTS else _is_number
    return isinstance(value, tuple) and all(check(v) for v in value)


def check_attribute_types(model: Model) -> None:
    """Raises :class:`ModelError` for the first attribute (in graph order) of a default-domain
    node whose type is not the one ONNX gives it, naming node, op, attribute and value."""
    for node in model.graph.nodes:
        if node.domain:
            continue
        for name, value in node.attributes.items():
            kind = OP_ATTRIBUTE_TYPES.get((node.op_type, name), ATTRIBUTE_TYPES.get(name))
            if kind is None or isinstance(value, OpaqueAttribute) or has_type(value, kind):
                continue
            shown = "a tensor" if isinstance(value, np.ndarray) else repr(value)
            raise ModelError(
                f"node {node.name!r} ({node.op_type}): attribute {name!r} must be "
                f"{_WORDS[kind]} ({kind}), got {shown}")
