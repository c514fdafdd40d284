"""A per-layer table (op, output shape, parameters, multiply-adds) for ``inspect``.

Shapes come from each op's shape rule (:mod:`cnnlens.limits`' inference), not from running
the model, so a table costs no activations and works for networks whose weights are only
declared by shape (:mod:`cnnlens.untrained`), whatever their size. Where a shape rule cannot
say (a shape computed at run time), the model is run on zeros instead, when it has real
weights to run with.

Parameters: the learned values a node reads from initializers, i.e. its floating-point
initializers of rank >= 1, each counted once per node; BatchNormalization's running mean
and variance (inputs 3 and 4) are statistics, not parameters (as in PyTorch, whose
published counts these match), and integer tensors (shapes, indices) and scalars (Clip's
bounds) are constants. Multiply-adds: :mod:`cnnlens.macs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.forward import run
from cnnlens.graph import Model, Node, ValueInfo
from cnnlens.limits import _inferred
from cnnlens.macs import node_macs
from cnnlens.untrained import is_placeholder

Shape = tuple[int, ...]

STATISTICS = {"BatchNormalization": (3, 4)}
"""Input indices of initializers that are statistics rather than learned parameters."""


@dataclass
class LayerSummary:
    """One node: its first output's shape (batch axis included), the number of parameters
    it reads (see the module docstring) and its multiply-adds (:mod:`cnnlens.macs`)."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    output_shape: tuple[int, ...]
    params: int
    attributes: dict[str, Any]
    macs: int = 0


def infer_shapes(model: Model, input_shape: tuple[int, ...]) -> dict[str, Shape]:
    """Every value's shape that the ops' shape rules give for ``input_shape``, by name
    (initializers included), without running anything."""
    shapes: dict[str, Shape] = {
        name: tuple(array.shape) for name, array in model.graph.initializers.items()}
    shapes[model.input.name] = tuple(int(d) for d in input_shape)
    for _ in _inferred(model, shapes):
        pass
    return shapes


def parameter_names(node: Node, model: Model) -> set[str]:
    """The initializers ``node`` reads that are learned parameters (module docstring)."""
    initializers = model.graph.initializers
    skipped = STATISTICS.get(node.op_type, ()) if not node.domain else ()
    return {
        name for i, name in enumerate(node.inputs)
        if name in initializers and i not in skipped and initializers[name].ndim >= 1
        and np.issubdtype(initializers[name].dtype, np.floating)
    }


def summarize(model: Model, input_shape: tuple[int, ...] | None = None) -> list[LayerSummary]:
    """Describe every node in execution order at ``input_shape`` (default: the declared
    input shape with a symbolic batch axis taken as 1).

    Raises :class:`ModelError` when a non-batch axis is symbolic and no ``input_shape`` is
    given, or when a shape can only be known by running a model whose weights are only
    declared; :class:`~cnnlens.errors.UnsupportedOpError` for ops cnnlens cannot run.
    """
    shape = tuple(input_shape) if input_shape is not None else concrete_shape(model.input)
    shapes = infer_shapes(model, shape)
    order = model.topological_order()
    unknown = [node for node in order
               if node.outputs and node.outputs[0] and node.outputs[0] not in shapes]
    if unknown:
        initializers = model.graph.initializers.values()
        if any(is_placeholder(array) for array in initializers):
            raise ModelError(
                f"the shape of {unknown[0].outputs[0]!r} (node {unknown[0].name!r}, "
                f"{unknown[0].op_type}) is known only by running the model, whose weights "
                "are only declared")
        with np.errstate(all="ignore"):  # zeros may divide by zero; only shapes matter here
            tensors = run(model, np.zeros(shape, dtype=np.float32), finite=False).tensors
        shapes.update({name: tuple(array.shape) for name, array in tensors.items()})
    initializers = model.graph.initializers
    layers = []
    for node in order:
        first_output = next((name for name in node.outputs if name), None)
        layers.append(
            LayerSummary(
                name=node.name,
                op_type=node.op_type,
                inputs=node.inputs,
                outputs=node.outputs,
                output_shape=() if first_output is None else shapes[first_output],
                params=sum(int(initializers[name].size)
                           for name in parameter_names(node, model)),
                attributes=dict(node.attributes),
                macs=node_macs(node, shapes),
            )
        )
    return layers


def total_params(model: Model) -> int:
    """Learned parameters of the whole model, each initializer counted once even when
    several nodes share it."""
    nodes = model.topological_order()
    names = set().union(*(parameter_names(node, model) for node in nodes))
    return sum(int(model.graph.initializers[name].size) for name in names)


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
