"""Memory budgets for models, checked from declared sizes and shapes before anything is allocated.

A hostile or careless model can claim gigabytes with a few bytes: a tensor whose dims say
100 000 x 100 000, a Conv padded by a million pixels, a broadcast of two long vectors into a
matrix. In the browser, running out of memory kills the worker and with it the page, so we
refuse such models with a `ModelError` that names the tensor and its size:

- `check_tensor_size` is called by the ONNX reader for every initializer *before* its data
  is decoded;
- `check_budget(model, input_shape)` infers every intermediate shape it can (each op's
  shape rule lives in its `OpSpec`) and is called by `forward.run` before any node runs;
- `forward.run` also adds up what it has really allocated, for the shapes inference could
  not know (it stops at values it cannot infer), so one node's output is the most that can
  ever be over the budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.graph import Model, Node
from cnnlens.ops import op_spec

MAX_TENSOR_BYTES = 256 * 2**20
"""Largest single tensor (weights or activation). Big ImageNet CNNs stay under 200 MB."""

MAX_MODEL_BYTES = 512 * 2**20
"""All initializers together; WebAssembly has 4 GiB, and the page also needs activations."""

MAX_ACTIVATION_BYTES = 1024 * 2**20
"""All activations of one forward pass together (the explainer keeps every one)."""

MAX_FILE_BYTES = MAX_MODEL_BYTES + 64 * 2**20
"""Largest model file we parse: the weights budget plus room for the graph and metadata."""

MAX_RANK = 32
"""Most dims a tensor may have (NumPy allows 64; CNN tensors have at most 5)."""

FLOAT_BYTES = 4  # activations are computed in float32

Shape = tuple[int, ...]


def describe_bytes(size: int) -> str:
    """A byte count as people read it: 1.5 GiB, 300.0 MiB, 12,288 bytes."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size:,} bytes"


def check_file_size(size: int, limit: int | None = None) -> None:
    """Refuses a model file too large to hold within the budgets, before parsing it."""
    limit = MAX_FILE_BYTES if limit is None else limit
    if size > limit:
        raise ModelError(
            f"the model file is {describe_bytes(size)}, over the limit of {describe_bytes(limit)}"
        )


def check_tensor_size(label: str, dims: Sequence[int], itemsize: int,
                      limit: int = MAX_TENSOR_BYTES) -> None:
    """Refuses a tensor whose declared `dims` need more than `limit` bytes."""
    if len(dims) > MAX_RANK:
        raise ModelError(f"tensor {label!r} has {len(dims)} dims; cnnlens supports {MAX_RANK}")
    # An empty tensor (a 0 among its dims) is measured as if the 0s were 1s: otherwise any
    # other dims would pass, and NumPy cannot even describe dims whose product overflows
    # 64 bits (found by fuzzing, docs/FUZZING.md).
    size = math.prod(max(d, 1) for d in dims) * itemsize
    if size > limit:
        empty = " without its empty dims" if 0 in dims else ""
        raise ModelError(
            f"tensor {label!r} declares shape {tuple(dims)}, {describe_bytes(size)}{empty}, "
            f"over the limit of {describe_bytes(limit)} for one tensor"
        )


def check_model_size(model: Model, limit: int = MAX_MODEL_BYTES) -> None:
    """Refuses a model whose initializers together take more than `limit` bytes."""
    size = sum(int(a.nbytes) for a in model.graph.initializers.values())
    if size > limit:
        raise ModelError(
            f"the model's weights take {describe_bytes(size)}, over the limit of "
            f"{describe_bytes(limit)}"
        )


def check_budget(model: Model, input_shape: Sequence[int], *,
                 tensor_limit: int = MAX_TENSOR_BYTES,
                 total_limit: int = MAX_ACTIVATION_BYTES) -> None:
    """Refuses, before running, a forward pass whose activations would not fit the budget.

    Shapes are inferred from `input_shape`, the initializers and the node attributes; a
    value whose shape cannot be inferred (an op used wrongly, which the forward pass will
    report) is skipped along with everything computed from it.
    """
    check_model_size(model)
    shapes: dict[str, Shape] = {name: a.shape for name, a in model.graph.initializers.items()}
    shapes[model.input.name] = tuple(int(d) for d in input_shape)
    total = 0
    for name in _inferred(model, shapes):
        size = math.prod(shapes[name]) * FLOAT_BYTES
        total += size
        if size > tensor_limit:
            raise ModelError(
                f"tensor {name!r} would have shape {shapes[name]}, {describe_bytes(size)}, over "
                f"the limit of {describe_bytes(tensor_limit)} for one activation"
            )
        if total > total_limit:
            raise ModelError(
                f"the activations up to {name!r} would take {describe_bytes(total)}, over the "
                f"limit of {describe_bytes(total_limit)} for one forward pass"
            )


def infer_shapes(model: Model, input_shape: Sequence[int]) -> dict[str, Shape]:
    """Every shape known before running on an input of ``input_shape``: the initializers',
    the input's and each node's first output's that its op's rule infers (as
    :func:`check_budget` does; a backend plans with them)."""
    shapes: dict[str, Shape] = {name: a.shape for name, a in model.graph.initializers.items()}
    shapes[model.input.name] = tuple(int(d) for d in input_shape)
    for _name in _inferred(model, shapes):
        pass
    return shapes


def _inferred(model: Model, shapes: dict[str, Shape]) -> Iterator[str]:
    """Yields the input, then every node output whose shape could be inferred, in execution
    order, after recording its shape in `shapes` (so the caller can stop at the first one
    over budget before inferring, let alone allocating, the rest)."""
    yield model.input.name
    initializers = model.graph.initializers
    for node in model.topological_order():
        if not node.outputs or not node.outputs[0]:
            continue
        inputs = [shapes.get(name) if name else None for name in node.inputs]
        try:
            shape = _output_shape(node, inputs, initializers)
        except (ModelError, ValueError, TypeError, IndexError, KeyError, ZeroDivisionError):
            shape = None  # the node is used wrongly; the forward pass will say how
        if shape is not None:
            shapes[node.outputs[0]] = tuple(int(d) for d in shape)
            yield node.outputs[0]


def _output_shape(node: Node, inputs: list[Shape | None], values: dict[str, np.ndarray]
                  ) -> Shape | None:
    """The first output's shape by the op's own rule; ``None`` when it cannot be known."""
    spec = op_spec(node.op_type, node.domain)
    if spec is None or (inputs and inputs[0] is None and node.op_type != "Constant"):
        return None
    constants = [values.get(name) if name else None for name in node.inputs]
    return spec.shape(inputs, node.attributes, constants)
