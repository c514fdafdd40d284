"""Constant folding at load time: nodes whose outputs are known before any image arrives.

Exporters surround Reshape (and sometimes Pad, Resize, Unsqueeze) with small shape
computations: ``Shape → Gather → Unsqueeze → Concat`` or ``Constant → ConstantOfShape``.
Their values depend only on weights, constants and the input's declared shape, so
:func:`fold_constants` computes them once, with the ops' own forward functions, and turns
their outputs into initializers; the forward pass, the overview and the gradients then
see only the layers that work on the image.

A node is folded when every input it reads is known (an initializer or a folded output),
or when it is a ``Shape`` whose input's shape is known: the declared input shape, when all
its sizes are fixed, carried forward through each op's shape rule. A node that cannot be
computed (a broken model) is left for the forward pass, which names it in its error; a
node producing a graph output is never folded, so every output is still computed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cnnlens.errors import CnnlensError
from cnnlens.forward import as_compute_dtype
from cnnlens.graph import Model, Node
from cnnlens.ops import op_spec

Shape = tuple[int, ...]


def fold_constants(model: Model) -> Model:
    """``model`` with every foldable node replaced by initializers holding its outputs
    (the same object when nothing folds); initializers no remaining node reads are
    dropped."""
    graph = model.graph
    known: dict[str, np.ndarray] = {
        name: as_compute_dtype(array) for name, array in graph.initializers.items()}
    shapes: dict[str, Shape] = {name: array.shape for name, array in known.items()}
    declared = model.input.shape
    if declared is not None and all(isinstance(d, int) for d in declared):
        shapes[model.input.name] = tuple(int(d) for d in declared)  # type: ignore[arg-type]
    outputs = {value.name for value in graph.outputs}

    kept: list[Node] = []
    for node in model.topological_order():
        values = _fold(node, known, shapes, model.opset)
        if values is None or outputs & set(node.outputs):
            kept.append(node)
            _infer_shape(node, known, shapes)
            continue
        for name, value in values.items():
            known[name] = value
            shapes[name] = value.shape
    if len(kept) == len(graph.nodes):
        return model

    # Only what the remaining nodes read: a folded weight computation must not leave its
    # sources behind too, doubling the weights the memory budget counts.
    used = {name for node in kept for name in node.inputs} | outputs
    initializers = {name: graph.initializers.get(name, array) for name, array in known.items()
                    if name in used}
    folded_graph = dataclasses.replace(graph, nodes=tuple(kept), initializers=initializers)
    return dataclasses.replace(model, graph=folded_graph)


def _fold(node: Node, known: dict[str, np.ndarray], shapes: dict[str, Shape], opset: int
          ) -> dict[str, np.ndarray] | None:
    """The node's named outputs when they can be computed now, else ``None``."""
    spec = op_spec(node.op_type, node.domain)
    if spec is None:
        return None
    if node.op_type == "Shape" and node.inputs and node.inputs[0] in shapes:
        # Only the shape is read: a stand-in of that shape (no memory) computes it.
        stand_in = np.broadcast_to(np.zeros((), np.float32), shapes[node.inputs[0]])
        arguments: list[np.ndarray | None] = [stand_in]
    elif all(not name or name in known for name in node.inputs):
        arguments = [known[name] if name else None for name in node.inputs]
    else:
        return None
    try:
        results = spec.function(opset)(arguments, node.attributes)
    except (CnnlensError, ValueError, TypeError, IndexError, KeyError):
        return None  # the forward pass will report this node by name
    if len(results) < sum(1 for name in node.outputs if name):
        return None
    return {name: as_compute_dtype(np.asarray(value))
            for name, value in zip(node.outputs, results, strict=False) if name}


def _infer_shape(node: Node, known: dict[str, np.ndarray], shapes: dict[str, Shape]) -> None:
    """Records the first output's shape, when the op's shape rule can tell it."""
    spec = op_spec(node.op_type, node.domain)
    if spec is None or not node.outputs or not node.outputs[0]:
        return
    inputs = [shapes.get(name) if name else None for name in node.inputs]
    if inputs and inputs[0] is None and node.inputs[0]:
        return
    constants = [known.get(name) if name else None for name in node.inputs]
    try:
        shape = spec.shape(inputs, node.attributes, constants)
    except (CnnlensError, ValueError, TypeError, IndexError, KeyError, ZeroDivisionError):
        return
    if shape is not None:
        shapes[node.outputs[0]] = tuple(int(d) for d in shape)
