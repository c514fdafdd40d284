"""Receptive fields: which input pixels each neuron of a layer can see.

Per spatial axis a tensor's neurons see evenly spaced, equally wide windows of the input:
neuron ``u`` sees input positions ``start + u * jump`` up to (not including)
``start + u * jump + size`` (:class:`Field`). The input sees itself (``0, 1, 1``). An op
with a sliding window (its spec's ``window``: Conv, MaxPool, AveragePool) composes its
window (kernel ``k``, stride ``s``, dilation ``d``, padding before ``p``) onto its input's
field: ``start - jump * p``, ``jump * s``, ``size + jump * (k - 1) * d``. An op that keeps
the spatial size (ReLU, BatchNormalization, a residual Add, Concat along channels) sees the
union of its same-sized inputs' fields. Any other op (Flatten, a global pool, Resize, Pad)
may see the whole input: its field is ``None``, and so is every field built on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import CnnlensError
from .graph import Model
from .ops import op_spec

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Field:
    """One tensor's receptive-field geometry, one entry per spatial axis (H, W, …)."""

    start: tuple[int, ...]
    jump: tuple[int, ...]
    size: tuple[int, ...]

    def after_window(self, kernel: tuple[int, ...], stride: tuple[int, ...],
                     dilation: tuple[int, ...], pad_begin: tuple[int, ...]) -> Field:
        """The field of a sliding window's output over a tensor with this field."""
        return Field(
            tuple(a - j * p for a, j, p in zip(self.start, self.jump, pad_begin, strict=True)),
            tuple(j * s for j, s in zip(self.jump, stride, strict=True)),
            tuple(r + j * (k - 1) * d
                  for r, j, k, d in zip(self.size, self.jump, kernel, dilation, strict=True)))


def _union(fields: list[Field]) -> Field | None:
    """The field of an op whose neuron ``u`` reads neuron ``u`` of each input: equal
    jumps give the smallest field holding them all; unequal ones no single field."""
    if len({f.jump for f in fields}) != 1:
        return None
    starts = np.array([f.start for f in fields])
    ends = starts + np.array([f.size for f in fields])
    low = starts.min(axis=0)
    return Field(tuple(int(v) for v in low), fields[0].jump,
                 tuple(int(v) for v in ends.max(axis=0) - low))


def receptive_fields(model: Model, shapes: dict[str, Shape]) -> dict[str, Field | None]:
    """Every tensor's :class:`Field` (``None``: it may see the whole input), from the
    tensors' shapes ``(N, C, *spatial)`` (a forward pass's, or inferred)."""
    source = model.input.name
    rank = len(shapes[source])
    fields: dict[str, Field | None] = {source: Field((0,) * (rank - 2), (1,) * (rank - 2),
                                                     (1,) * (rank - 2))}
    known = {**{name: a.shape for name, a in model.graph.initializers.items()}, **shapes}
    for node in model.topological_order():
        spec = op_spec(node.op_type, node.domain)
        # The inputs that carry the image (weights and constants never have a field).
        data = [name for name in node.inputs if name in fields]
        out = known.get(node.outputs[0]) if node.outputs else None
        field: Field | None = None
        if out is None or len(out) != rank or not data:
            field = None
        elif spec is not None and spec.window is not None:
            first = fields.get(node.inputs[0])
            inputs = [known.get(name) for name in node.inputs if name]
            if first is not None and all(shape is not None for shape in inputs):
                plan = spec.window(inputs, node.attributes)
                field = first.after_window(plan.kernel, plan.strides, plan.dilations,
                                           plan.pads_begin)
        else:
            same = [fields[name] for name in data
                    if len(known.get(name, ())) == rank and known[name][2:] == out[2:]]
            if same and len(same) == len(data) and all(f is not None for f in same):
                field = _union([f for f in same if f is not None])
        for name in node.outputs:
            fields[name] = field
    return fields


def boxes(field: Field | None, positions: np.ndarray, input_size: Shape) -> np.ndarray:
    """Receptive-field boxes in input pixels of neurons at ``positions`` ``(..., 2)``
    (y, x in the layer) → ``(..., 4)`` int64 ``[y0, x0, y1, x1]``, end-exclusive, clipped
    to the input ``(H, W)``; the whole input when ``field`` is None."""
    positions = np.asarray(positions, dtype=np.int64)
    height, width = input_size
    if field is None:
        whole = np.array([0, 0, height, width], dtype=np.int64)
        return np.broadcast_to(whole, (*positions.shape[:-1], 4)).copy()
    if len(field.start) != 2:
        raise CnnlensError(f"boxes need a 2-D layer, this one has {len(field.start)} "
                           "spatial axes")
    begin = np.array(field.start) + positions * np.array(field.jump)
    end = begin + np.array(field.size)
    limit = np.array([height, width])
    return np.concatenate([np.clip(begin, 0, limit), np.clip(end, 0, limit)], axis=-1)


def centres(field: Field, axis: int) -> tuple[float, float]:
    """Neuron ``u``'s field centre along ``axis`` in input pixel coordinates (pixel ``i``
    at ``i``) is ``first + u * step``: returns ``(first, step)``."""
    return field.start[axis] + (field.size[axis] - 1) / 2, float(field.jump[axis])
