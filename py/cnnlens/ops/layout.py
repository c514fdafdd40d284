"""Ops that rearrange axes without changing values: Transpose, Squeeze, Unsqueeze.

Their gradients rearrange back: the inverse permutation, or the input's shape again.
Squeeze and Unsqueeze read ``axes`` from input #1 since opset 13 and from the attribute
before; one reader handles both, since a model has one or the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, axis, optional, required
from cnnlens.ops.spec import Grads, OpSpec, Shape, Wanted, floating


def permutation(rank: int, attrs: dict[str, Any]) -> tuple[int, ...]:
    """Transpose's ``perm``, reversing the axes by default; checked to be a permutation."""
    perm = tuple(int(p) for p in attrs.get("perm", range(rank - 1, -1, -1)))
    if sorted(perm) != list(range(rank)):
        raise ModelError(f"Transpose: perm {perm} is not a permutation of {rank} axes")
    return perm


def axes_argument(inputs: Inputs, attrs: dict[str, Any]) -> list[int] | None:
    """``axes`` from input #1 (opset >= 13) or the attribute (before); ``None`` if neither."""
    given = optional(inputs, 1)
    if given is not None:
        return [int(a) for a in np.asarray(given).reshape(-1)]
    return [int(a) for a in attrs["axes"]] if "axes" in attrs else None


def squeezed_shape(shape: Shape, axes: list[int] | None) -> Shape:
    """``shape`` without the listed axes (each of size 1), or without every 1 by default."""
    if axes is None:
        return tuple(d for d in shape if d != 1)
    drop = {axis(a, len(shape), "Squeeze") for a in axes}
    if len(drop) != len(axes):
        raise ModelError(f"Squeeze: axes {axes} repeat an axis")
    wide = [shape[a] for a in sorted(drop) if shape[a] != 1]
    if wide:
        raise ModelError(f"Squeeze: axes {axes} of shape {shape} are not all of size 1")
    return tuple(d for i, d in enumerate(shape) if i not in drop)


def unsqueezed_shape(shape: Shape, axes: list[int] | None) -> Shape:
    """``shape`` with a 1 inserted at each of ``axes``, which index the output's axes."""
    if not axes:
        raise ModelError("Unsqueeze needs its axes (input #1 or the 'axes' attribute)")
    rank = len(shape) + len(axes)
    added = {axis(a, rank, "Unsqueeze") for a in axes}
    if len(added) != len(axes):
        raise ModelError(f"Unsqueeze: axes {axes} repeat an axis")
    rest = iter(shape)
    return tuple(1 if i in added else next(rest) for i in range(rank))


def op_transpose(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Transpose: output axis ``i`` is input axis ``perm[i]``."""
    x = required(inputs, 0, "Transpose")
    return [x.transpose(permutation(x.ndim, attrs))]


def op_squeeze(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Squeeze: drops size-1 axes (the listed ones, or all)."""
    x = required(inputs, 0, "Squeeze")
    return [x.reshape(squeezed_shape(x.shape, axes_argument(inputs, attrs)))]


def op_unsqueeze(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Unsqueeze: inserts size-1 axes at the listed output positions."""
    x = required(inputs, 0, "Unsqueeze")
    return [x.reshape(unsqueezed_shape(x.shape, axes_argument(inputs, attrs)))]


def vjp_transpose(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                  grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The output gradient under the inverse permutation."""
    x, g = required(inputs, 0, "Transpose"), grads[0]
    if g is None or not floating(x):
        return [None]
    return [g.transpose(np.argsort(permutation(x.ndim, attrs)))]


def vjp_reshaping(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                  grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """Squeeze's and Unsqueeze's: the output gradient shaped like the data; axes get none."""
    x, g = required(inputs, 0, "Squeeze/Unsqueeze"), grads[0]
    x_grad = g.reshape(x.shape) if g is not None and floating(x) else None
    return [x_grad] + [None] * (len(inputs) - 1)


def _axes_known(shapes: list[Shape | None], constants: list[np.ndarray | None]) -> bool:
    return not (len(shapes) > 1 and shapes[1] is not None and constants[1] is None)


def transpose_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                    constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    return None if x is None else tuple(x[p] for p in permutation(len(x), attrs))


def squeeze_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                  constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None or not _axes_known(shapes, constants):
        return None
    return squeezed_shape(x, axes_argument(constants, attrs))


def unsqueeze_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                    constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None or not _axes_known(shapes, constants):
        return None
    return unsqueezed_shape(x, axes_argument(constants, attrs))


SPECS = (
    OpSpec("Transpose", op_transpose, transpose_shape, vjp=vjp_transpose),
    OpSpec("Squeeze", op_squeeze, squeeze_shape, vjp=vjp_reshaping),
    OpSpec("Unsqueeze", op_unsqueeze, unsqueeze_shape, vjp=vjp_reshaping),
)
