"""Ops that only move data: Flatten, Reshape, Concat. Their gradients move back the same way."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, axis, optional, required
from cnnlens.ops.spec import Grads, OpSpec, Shape, Wanted, floating


def flatten(x: np.ndarray, at: int) -> np.ndarray:
    """``(d0, ..., dn)`` → ``(d0 * ... * d(at-1), d(at) * ... * dn)``; ``at`` in ``[0, rank]``."""
    return x.reshape(math.prod(x.shape[:at]), math.prod(x.shape[at:]))


def reshape_target(shape: Sequence[int], target: Sequence[int], allowzero: bool) -> tuple[int, ...]:
    """Resolve ONNX Reshape's special values against the input ``shape``.

    ``0`` copies the input dimension at that position (unless ``allowzero``, where it means
    a real zero); one ``-1`` is inferred from the remaining element count.
    """
    target = [int(d) for d in target]
    if target.count(-1) > 1:
        raise ModelError(f"Reshape: more than one -1 in target {tuple(target)}")
    if any(d < -1 for d in target):
        raise ModelError(f"Reshape: invalid dimension in target {tuple(target)}")
    if allowzero and 0 in target and -1 in target:
        raise ModelError("Reshape: allowzero=1 forbids combining 0 and -1 in the target")
    resolved = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(shape):
                raise ModelError(f"Reshape: target {tuple(target)} copies missing axis {i}")
            d = shape[i]
        resolved.append(d)
    size = math.prod(shape)
    if -1 in resolved:
        known = math.prod(d for d in resolved if d != -1)
        if known == 0 or size % known:
            raise ModelError(
                f"Reshape: cannot infer -1 reshaping {tuple(shape)} to {tuple(target)}"
            )
        resolved[resolved.index(-1)] = size // known
    if math.prod(resolved) != size:
        raise ModelError(f"Reshape: cannot reshape {tuple(shape)} to {tuple(target)}")
    return tuple(resolved)


def op_flatten(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Flatten: to 2-D at ``axis`` (default 1)."""
    x = required(inputs, 0, "Flatten")
    return [flatten(x, axis(int(attrs.get("axis", 1)), x.ndim, "Flatten", inclusive_end=True))]


def op_reshape(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Reshape: target from input #1 (opset >= 5) or the ``shape`` attribute (before)."""
    x = required(inputs, 0, "Reshape")
    target = optional(inputs, 1)
    if target is None:
        if "shape" not in attrs:
            raise ModelError("Reshape needs a target shape (input #1)")
        target = np.asarray(attrs["shape"], dtype=np.int64)
    if target.ndim != 1 or not np.issubdtype(target.dtype, np.integer):
        raise ModelError(
            f"Reshape: target must be a 1-D integer tensor, got {target.dtype} {target.shape}"
        )
    return [x.reshape(reshape_target(x.shape, target.tolist(), bool(attrs.get("allowzero", 0))))]


def op_concat(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Concat: join along the required ``axis``."""
    if "axis" not in attrs:
        raise ModelError("Concat: attribute 'axis' is required")
    arrays = [required(inputs, i, "Concat") for i in range(len(inputs))]
    if not arrays:
        raise ModelError("Concat needs at least one input")
    return [np.concatenate(arrays, axis=axis(int(attrs["axis"]), arrays[0].ndim, "Concat"))]


def vjp_flatten(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The output gradient shaped back like the input."""
    x, g = required(inputs, 0, "Flatten"), grads[0]
    return [g.reshape(x.shape) if g is not None and floating(x) else None]


def vjp_reshape(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The output gradient shaped back like the data; the target shape gets none."""
    x, g = required(inputs, 0, "Reshape"), grads[0]
    x_grad = g.reshape(x.shape) if g is not None and floating(x) else None
    return [x_grad] + [None] * (len(inputs) - 1)


def vjp_concat(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
               grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The output gradient cut back into the inputs' pieces along ``axis``."""
    arrays = [required(inputs, i, "Concat") for i in range(len(inputs))]
    g = grads[0]
    if g is None:
        return [None] * len(arrays)
    at = axis(int(attrs["axis"]), g.ndim, "Concat")
    ends = np.cumsum([a.shape[at] for a in arrays])[:-1]
    pieces = np.split(g, ends, axis=at)
    return [p if floating(a) else None for a, p in zip(arrays, pieces, strict=True)]


def flatten_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                  constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None:
        return None
    at = axis(int(attrs.get("axis", 1)), len(x), "Flatten", inclusive_end=True)
    return (math.prod(x[:at]), math.prod(x[at:]))


def reshape_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                  constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    target = constants[1] if len(constants) > 1 else None
    if x is None or target is None:
        return None  # computed at run time: forward.run's running total covers it
    return reshape_target(x, target.tolist(), bool(attrs.get("allowzero", 0)))


def concat_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                 constants: list[np.ndarray | None]) -> Shape | None:
    if not shapes or any(s is None for s in shapes):
        return None
    first = shapes[0]
    assert first is not None
    at = axis(int(attrs["axis"]), len(first), "Concat")
    return (*first[:at], sum(s[at] for s in shapes if s), *first[at + 1:])


SPECS = (
    OpSpec("Flatten", op_flatten, flatten_shape, vjp=vjp_flatten),
    OpSpec("Reshape", op_reshape, reshape_shape, vjp=vjp_reshape),
    OpSpec("Concat", op_concat, concat_shape, vjp=vjp_concat),
)
