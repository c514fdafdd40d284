"""Pad: constant, reflect, edge and wrap padding (negative pads crop).

Each padded axis is described by a *source index map*: for every output position, the
input position it copies, or ``-1`` where the constant goes. The forward pass takes along
that map one axis at a time; the backward pass adds each output gradient back onto the
position it was copied from (reflect, edge and wrap copy one input position to several
output positions, so their gradients sum there), and the constant gets none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, axis, optional, required
from cnnlens.ops.spec import Grads, OpSpec, Shape, Wanted, computed_at_run_time, floating

PAD_MODES = ("constant", "reflect", "edge", "wrap")


def source_indices(size: int, begin: int, end: int, mode: str) -> np.ndarray:
    """``(begin + size + end,)`` int64: the input position each output position copies
    along one axis of length ``size``, ``-1`` for the constant (``mode == "constant"``).

    Negative ``begin`` / ``end`` crop. Reflect mirrors about the first and last positions
    without repeating them (NumPy's ``reflect``), as often as the pad needs.
    """
    # Crop first (negative pads), then pad what is left, as ONNX Runtime does: it matters
    # for wrap and reflect when one end is cropped and the other padded.
    start = max(-begin, 0)
    kept = size - start - max(-end, 0)
    if kept < 0:
        raise ModelError(f"Pad: pads ({begin}, {end}) crop more than the axis's {size}")
    indices = _padded_indices(kept, max(begin, 0), max(end, 0), mode)
    return np.where(indices >= 0, indices + start, -1)


def _padded_indices(size: int, begin: int, end: int, mode: str) -> np.ndarray:
    """:func:`source_indices` for pads that are not negative."""
    positions = np.arange(-begin, size + end, dtype=np.int64)
    inside = (positions >= 0) & (positions < size)
    if mode == "constant" or inside.all():
        return np.where(inside, positions, -1)
    if size == 0:
        raise ModelError(f"Pad: mode {mode!r} cannot pad an empty axis")
    if mode == "edge":
        return np.clip(positions, 0, size - 1)
    if mode == "wrap":
        return positions % size
    if size == 1:  # reflect about a single position: it repeats
        return np.zeros_like(positions)
    period = 2 * (size - 1)
    folded = positions % period
    return np.where(folded >= size, period - folded, folded)


def pad_arguments(x_rank: int, inputs: Inputs, attrs: dict[str, Any]
                  ) -> tuple[list[tuple[int, int]], str, float]:
    """``(begin, end)`` per axis, the mode and the constant value, from the inputs (opset
    >= 11: ``pads``, ``constant_value``, ``axes`` since opset 18) or the attributes before
    (``pads`` or opset 1's ``paddings``, ``value``)."""
    mode = attrs.get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode not in PAD_MODES:
        raise ModelError(f"Pad: unsupported mode {mode!r}; cnnlens knows {', '.join(PAD_MODES)}")
    pads_input = optional(inputs, 1)
    if pads_input is not None:
        pads = [int(p) for p in np.asarray(pads_input).reshape(-1)]
    elif "pads" in attrs or "paddings" in attrs:
        pads = [int(p) for p in attrs.get("pads", attrs.get("paddings"))]
    else:
        raise ModelError("Pad needs its pads (input #1 or the 'pads' attribute)")
    value_input = optional(inputs, 2)
    if value_input is not None and np.size(value_input) != 1:
        raise ModelError(f"Pad: constant_value must be one value, got shape {value_input.shape}")
    value = float(value_input.reshape(-1)[0]) if value_input is not None and np.size(
        value_input) else float(attrs.get("value", 0.0))
    axes_input = optional(inputs, 3)
    axes = (list(range(x_rank)) if axes_input is None
            else [axis(int(a), x_rank, "Pad") for a in np.asarray(axes_input).reshape(-1)])
    if len(pads) != 2 * len(axes):
        raise ModelError(f"Pad: {len(pads)} pads for {len(axes)} axes; it needs two per axis")
    widths = [(0, 0)] * x_rank
    for i, at in enumerate(axes):
        widths[at] = (pads[i], pads[len(axes) + i])
    return widths, mode, value


def pad(x: np.ndarray, widths: list[tuple[int, int]], mode: str, value: float) -> np.ndarray:
    """``x`` padded (or cropped) by ``widths``, one ``(begin, end)`` per axis."""
    y = x
    for at, (begin, end) in enumerate(widths):
        if begin == 0 and end == 0:
            continue
        indices = source_indices(y.shape[at], begin, end, mode)
        outside = indices < 0
        if y.shape[at] == 0:  # nothing to take from: the constant everywhere
            shape = list(y.shape)
            shape[at] = len(indices)
            y = np.full(shape, value, dtype=y.dtype)
            continue
        y = np.take(y, np.maximum(indices, 0), axis=at)
        if outside.any():
            mask = outside.reshape((-1,) + (1,) * (y.ndim - at - 1))
            y = np.where(mask, np.asarray(value, dtype=y.dtype), y)
    return y


def pad_vjp(g: np.ndarray, shape: Shape, widths: list[tuple[int, int]], mode: str
            ) -> np.ndarray:
    """``g`` shaped like the padded output → the gradient shaped ``shape``, the input's: each
    output position's gradient added onto the input position it copied."""
    for at, (begin, end) in enumerate(widths):
        if begin == 0 and end == 0:
            continue
        indices = source_indices(shape[at], begin, end, mode)
        kept = indices >= 0
        moved = np.moveaxis(g, at, 0)
        summed = np.zeros((shape[at], *moved.shape[1:]), dtype=g.dtype)
        np.add.at(summed, indices[kept], moved[kept])
        g = np.moveaxis(summed, 0, at)
    return g


def op_pad(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Pad, every opset: pads as an attribute (before 11) or input #1."""
    x = required(inputs, 0, "Pad")
    widths, mode, value = pad_arguments(x.ndim, inputs, attrs)
    return [pad(x, widths, mode, value)]


def vjp_pad(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
            rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The data's gradient (:func:`pad_vjp`); pads, constant and axes get none."""
    x, g = required(inputs, 0, "Pad"), grads[0]
    rest: list[np.ndarray | None] = [None] * (len(inputs) - 1)
    if g is None or not floating(x):
        return [None, *rest]
    widths, mode, _ = pad_arguments(x.ndim, inputs, attrs)
    return [pad_vjp(g, x.shape, widths, mode), *rest]


def pad_shape(shapes: list[Shape | None], attrs: dict[str, Any],
              constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None or computed_at_run_time(shapes, constants, (1, 3)):
        return None  # pads or axes computed at run time
    widths, _, _ = pad_arguments(len(x), constants, attrs)
    return tuple(d + b + e for d, (b, e) in zip(x, widths, strict=True))


SPECS = (
    # Channel-wise while the channel axis is not padded, the case connections.py draws
    # (it also checks the channel counts agree).
    OpSpec("Pad", op_pad, pad_shape, vjp=vjp_pad, channelwise=True),
)
