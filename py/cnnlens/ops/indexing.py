"""Ops exporters emit around Reshape and Pad to compute shapes: Shape, Gather, Slice,
Cast, ConstantOfShape.

Where their inputs are known when the model loads (the input's declared shape, weights,
constants), :mod:`cnnlens.fold` computes them once and they never run; these functions
run the rest. Shapes and indices are integers, so only the data of Gather and Slice, and a
float Cast's input, take a gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.graph import BFLOAT16, ELEM_TYPE_NAMES, STRING
from cnnlens.ops.arguments import Inputs, axis, optional, required
from cnnlens.ops.spec import (
    Grads,
    OpSpec,
    Shape,
    Wanted,
    computed_at_run_time,
    floating,
    same_shape,
)


def shape_slice(rank: int, attrs: dict[str, Any]) -> slice:
    """Shape's ``start`` / ``end`` (opset 15), clamped to ``[0, rank]`` as the spec says."""
    start, end = int(attrs.get("start", 0)), attrs.get("end")
    end = rank if end is None else int(end)
    start, end = (min(max(v + rank if v < 0 else v, 0), rank) for v in (start, end))
    return slice(start, end)


def gather_indices(indices: np.ndarray, size: int) -> np.ndarray:
    """Gather's indices made non-negative; a :class:`ModelError` for one out of range."""
    if not np.issubdtype(indices.dtype, np.integer):
        raise ModelError(f"Gather: indices must be integers, got {indices.dtype}")
    bad = (indices < -size) | (indices >= size)
    if bad.any():
        raise ModelError(f"Gather: index {int(indices[bad].flat[0])} is out of range for an "
                         f"axis of {size}")
    return np.where(indices < 0, indices + size, indices).astype(np.int64)


def constant_of_shape_value(attrs: dict[str, Any]) -> np.ndarray:
    """The one-element fill value (float32 zero by default)."""
    value = np.asarray(attrs.get("value", np.zeros(1, np.float32)))
    if value.size != 1:
        raise ModelError(f"ConstantOfShape: value must hold one element, got {value.size}")
    return value.reshape(())


def target_shape(shape: np.ndarray, op: str) -> tuple[int, ...]:
    """A 1-D integer tensor of non-negative sizes, as a shape tuple."""
    if shape.ndim != 1 or not np.issubdtype(shape.dtype, np.integer):
        raise ModelError(f"{op}: the shape must be a 1-D integer tensor, got {shape.dtype} "
                         f"{shape.shape}")
    if (shape < 0).any():
        raise ModelError(f"{op}: negative size in shape {tuple(shape.tolist())}")
    return tuple(int(d) for d in shape)


def slices(shape: Shape, inputs: Inputs, attrs: dict[str, Any]) -> tuple[slice, ...]:
    """Slice's ``starts``, ``ends``, ``axes``, ``steps`` (inputs since opset 10, attributes
    before) as one Python slice per axis, clamped as the spec says."""
    if len(inputs) > 1:
        starts, ends = (np.asarray(required(inputs, i, "Slice")).reshape(-1) for i in (1, 2))
        given_axes, given_steps = (optional(inputs, i) for i in (3, 4))
    else:
        if "starts" not in attrs or "ends" not in attrs:
            raise ModelError("Slice needs its starts and ends")
        starts, ends = np.asarray(attrs["starts"]), np.asarray(attrs["ends"])
        given_axes, given_steps = attrs.get("axes"), None
    count = len(starts)
    axes = (range(count) if given_axes is None
            else [axis(int(a), len(shape), "Slice") for a in np.asarray(given_axes).reshape(-1)])
    steps = [1] * count if given_steps is None else [int(s) for s in np.asarray(
        given_steps).reshape(-1)]
    if not len(ends) == len(axes) == len(steps) == count:
        raise ModelError("Slice: starts, ends, axes and steps differ in length")
    chosen = [slice(None)] * len(shape)
    for at, start, end, step in zip(axes, starts.tolist(), ends.tolist(), steps, strict=True):
        if step == 0:
            raise ModelError("Slice: a step cannot be 0")
        dim = shape[at]
        start, end = (v + dim if v < 0 else v for v in (start, end))
        if step > 0:
            chosen[at] = slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
        else:
            # An end clamped to -1 means "past the first element", which Python spells None.
            end = min(max(end, -1), dim - 1)
            chosen[at] = slice(min(max(start, 0), dim - 1), None if end < 0 else end, step)
    return tuple(chosen)


def cast_dtype(attrs: dict[str, Any]) -> np.dtype:
    """Cast's target ``to`` as a NumPy dtype (bfloat16 and strings are refused)."""
    to = int(attrs.get("to", 0))
    if to in (STRING, BFLOAT16) or to not in ELEM_TYPE_NAMES:
        raise ModelError(f"Cast to element type {to} is not supported")
    return np.dtype(ELEM_TYPE_NAMES[to])


def op_shape(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Shape: the input's shape as int64, optionally sliced by ``start`` / ``end``."""
    x = required(inputs, 0, "Shape")
    return [np.array(x.shape[shape_slice(x.ndim, attrs)], dtype=np.int64)]


def op_gather(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Gather: ``data`` indexed by ``indices`` along ``axis`` (default 0); the output
    has ``data``'s axes before ``axis``, then ``indices``'s, then ``data``'s after."""
    data, indices = required(inputs, 0, "Gather"), required(inputs, 1, "Gather")
    at = axis(int(attrs.get("axis", 0)), data.ndim, "Gather")
    return [np.take(data, gather_indices(indices, data.shape[at]), axis=at)]


def op_slice(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Slice: a strided window along some axes."""
    x = required(inputs, 0, "Slice")
    return [x[slices(x.shape, inputs, attrs)]]


def op_cast(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Cast: the values converted to ``to`` (floats to integers truncate)."""
    return [required(inputs, 0, "Cast").astype(cast_dtype(attrs))]


def op_constant_of_shape(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX ConstantOfShape: a tensor of the given shape, every element ``value``."""
    shape = target_shape(np.asarray(required(inputs, 0, "ConstantOfShape")), "ConstantOfShape")
    value = constant_of_shape_value(attrs)
    # Imported here: cnnlens.limits reads the op registry this module is part of.
    from cnnlens.limits import check_tensor_size

    check_tensor_size("ConstantOfShape", shape, value.dtype.itemsize)  # before allocating
    return [np.full(shape, value, dtype=value.dtype)]


def gather_vjp(g: np.ndarray, shape: Shape, indices: np.ndarray, at: int) -> np.ndarray:
    """Gather's output gradient added back onto the data positions it read: ``g`` is
    ``data[:at] + indices.shape + data[at+1:]``, the answer ``shape``."""
    k = indices.ndim
    # Indices' axes first, then data's axes before and after `at`: how `np.add.at` reads them.
    moved = np.moveaxis(g, tuple(range(at, at + k)), tuple(range(k)))
    summed = np.zeros((shape[at], *shape[:at], *shape[at + 1:]), dtype=g.dtype)
    np.add.at(summed, gather_indices(indices, shape[at]), moved)
    return np.moveaxis(summed, 0, at)


def vjp_gather(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
               rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The data's gradient (:func:`gather_vjp`); the indices get none."""
    data, indices, g = required(inputs, 0, "Gather"), required(inputs, 1, "Gather"), grads[0]
    if g is None or not floating(data):
        return [None, None]
    at = axis(int(attrs.get("axis", 0)), data.ndim, "Gather")
    return [gather_vjp(g, data.shape, indices, at), None]


def vjp_slice(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
              rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The output gradient put back where the window was, zero elsewhere; starts, ends,
    axes and steps get none."""
    x, g = required(inputs, 0, "Slice"), grads[0]
    rest: list[np.ndarray | None] = [None] * (len(inputs) - 1)
    if g is None or not floating(x):
        return [None, *rest]
    grad = np.zeros(x.shape, dtype=g.dtype)
    grad[slices(x.shape, inputs, attrs)] = g  # a window never reads a position twice
    return [grad, *rest]


def vjp_cast(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
             rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """Between float types the gradient passes unchanged; to or from integers, none."""
    x, g = required(inputs, 0, "Cast"), grads[0]
    if g is None or not floating(x) or not np.issubdtype(cast_dtype(attrs), np.floating):
        return [None]
    return [g]


def vjp_none(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
             rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """Shape's and ConstantOfShape's: their outputs do not vary with their inputs' values."""
    return [None] * len(inputs)


def shape_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None:
        return None
    window = shape_slice(len(x), attrs)
    return (max(window.stop - window.start, 0),)


def gather_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                 constants: list[np.ndarray | None]) -> Shape | None:
    data, indices = shapes[0], shapes[1] if len(shapes) > 1 else None
    if data is None or indices is None:
        return None
    at = axis(int(attrs.get("axis", 0)), len(data), "Gather")
    return (*data[:at], *indices, *data[at + 1:])


def slice_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None:
        return None
    if computed_at_run_time(shapes, constants, range(1, len(shapes))):
        return None  # the window is computed at run time
    chosen = slices(x, constants, attrs)
    return tuple(len(range(*s.indices(d))) for s, d in zip(chosen, x, strict=True))


def constant_of_shape_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                            constants: list[np.ndarray | None]) -> Shape | None:
    shape = constants[0] if constants else None
    return None if shape is None else target_shape(np.asarray(shape), "ConstantOfShape")


SPECS = (
    OpSpec("Shape", op_shape, shape_shape, vjp=vjp_none),
    OpSpec("Gather", op_gather, gather_shape, vjp=vjp_gather),
    OpSpec("Slice", op_slice, slice_shape, vjp=vjp_slice),
    OpSpec("Cast", op_cast, same_shape, vjp=vjp_cast),
    OpSpec("ConstantOfShape", op_constant_of_shape, constant_of_shape_shape, vjp=vjp_none),
)
