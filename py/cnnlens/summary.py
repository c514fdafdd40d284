"""A per-layer table (op, output shape, parameter count) for ``inspect`` and the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.forward import run
from cnnlens.graph import Model, ValueInfo


@dataclass
class LayerSummary:
    """One node: its first output's shape (batch axis included) and the number of weights
    it reads from initializers (each initializer counted once per node)."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    output_shape: tuple[int, ...]
    params: int
    attributes: dict[str, Any]


def summarize(model: Model, input_shape: tuple[int, ...] | None = None) -> list[LayerSummary]:
    """Describe every node in execution order.

    Shapes come from a forward pass on zeros of ``input_shape`` (default: the declared input
    shape with a symbolic batch axis taken as 1). Raises :class:`ModelError` when a
    non-batch axis is symbolic and no ``input_shape`` is given, and
    :class:`~cnnlens.errors.UnsupportedOpError` for ops cnnlens cannot run.
    """
    shape = tuple(input_shape) if input_shape is not None else concrete_shape(model.input)
    with np.errstate(all="ignore"):  # zeros may divide by zero; only shapes matter here
        tensors = run(model, np.zeros(shape, dtype=np.float32)).tensors
    initializers = model.graph.initializers
    layers = []
    for node in model.topological_order():
        first_output = next((name for name in node.outputs if name), None)
        weights = {name for name in node.inputs if name in initializers}
        layers.append(
            LayerSummary(
                name=node.name,
                op_type=node.op_type,
                inputs=node.inputs,
                outputs=node.outputs,
                output_shape=() if first_output is None else tuple(tensors[first_output].shape),
                params=sum(int(initializers[name].size) for name in weights),
                attributes=dict(node.attributes),
            )
        )
    return layers


def concrete_shape(spec: ValueInfo) -> tuple[int, ...]:
    """The declared input shape with a symbolic or unknown batch axis (axis 0) set to 1."""
    if spec.shape is None:
        raise ModelError(f"input {spec.name!r} declares no shape; pass input_shape")
    shape = []
    for i, dim in enumerate(spec.shape):
        if isinstance(dim, int):
            shape.append(dim)
        elif i == 0:
            shape.append(1)
        else:
            raise ModelError(
                f"input {spec.name!r} axis {i} is symbolic ({dim!r}); pass input_shape"
            )
    return tuple(shape)
