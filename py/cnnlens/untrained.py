"""Weights declared by shape only, and the seeded He-initialised values that stand in for them.

The architecture gallery (``assets/models/gallery/``, written by ``build/make_gallery.py``)
ships networks without weight data: ONNX has no initializer without data, so each learned
tensor is a graph *input* with its full shape, after the image input (always the first),
and the metadata key :data:`WEIGHTS_KEY` = :data:`DECLARED` says so. The reader turns them
into initializers:

- for shapes alone (``inspect``, ``check``, parameter counts, multiply-adds) into
  :func:`placeholder` arrays, read-only zero-stride views that take no memory but report
  their full ``shape``, ``size`` and ``nbytes``;
- for running (the page, ``predict``) into :func:`materialise`'s values, after the memory
  budget has been checked against the declared sizes, so an oversized network (VGG-16's
  528 MiB of float32) is refused before anything is allocated.

The values (an untrained network: its predictions mean nothing, and the gallery's model
cards say so) are deterministic, **seed** :data:`SEED`:

- a weight of rank >= 2, laid out output-first (Conv ``(M, C/group, kH, kW)``, Gemm
  ``(N, K)`` with ``transB=1``), is He-normal: ``N(0, 2 / fan_in)`` with ``fan_in`` the
  product of its dims after the first (He et al. 2015), drawn in float32 from
  ``numpy.random.default_rng((seed, i))`` for the ``i``-th declared weight;
- BatchNormalization's scale and variance are 1, its bias and mean 0 (the identity up to
  its epsilon);
- every other rank-0 or rank-1 weight (biases) is 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.graph import FLOAT_ELEM_TYPES, Graph, Model, ValueInfo
from cnnlens.limits import check_model_size, check_tensor_size

WEIGHTS_KEY = "cnnlens.weights"
DECLARED = "declared"
SEED = 0

_ONES = {("BatchNormalization", 1), ("BatchNormalization", 4)}
"""(op type, input index) of declared weights that start at 1: BN's scale and variance."""


def declares_weights(metadata: dict[str, str]) -> bool:
    """Whether a model's ``metadata_props`` say its weights are declared by shape."""
    return metadata.get(WEIGHTS_KEY) == DECLARED


def placeholder(shape: Sequence[int]) -> np.ndarray:
    """A read-only float32 zero array of ``shape`` that takes no memory (zero strides)."""
    return np.broadcast_to(np.zeros((), np.float32), tuple(shape))


def is_placeholder(array: np.ndarray) -> bool:
    """Whether ``array`` is a :func:`placeholder` (a zero-stride view of one value)."""
    return array.size > 1 and not any(array.strides) and not array.flags.writeable


def declared(inputs: Sequence[ValueInfo]) -> dict[str, np.ndarray]:
    """Graph inputs after the first → placeholder initializers; raises :class:`ModelError`
    for one that is not a float tensor of fixed shape."""
    weights = {}
    for info in inputs[1:]:
        if info.elem_type not in FLOAT_ELEM_TYPES or info.shape is None or not all(
                isinstance(d, int) for d in info.shape):
            raise ModelError(
                f"declared weight {info.name!r} must be a floating-point tensor of fixed "
                f"shape (metadata {WEIGHTS_KEY}={DECLARED!r})")
        weights[info.name] = placeholder(info.shape)  # type: ignore[arg-type]
    return weights


def materialise(model: Model, seed: int = SEED) -> Model:
    """The model with every placeholder weight replaced by its seeded initial value.

    Checks each declared tensor and their total against the page's weight budgets
    (:mod:`cnnlens.limits`) first and raises their :class:`ModelError` rather than
    allocating more than the page could hold.
    """
    graph = model.graph
    names = [name for name, array in graph.initializers.items() if is_placeholder(array)]
    if not names:
        return model
    check_model_size(model)
    for name in names:
        check_tensor_size(name, graph.initializers[name].shape, 4)
    roles = {(name, i): node.op_type for node in graph.nodes
             for i, name in enumerate(node.inputs)}
    starts_at_one = {name for (name, i), op in roles.items() if (op, i) in _ONES}
    values = dict(graph.initializers)
    for index, name in enumerate(names):
        values[name] = initial_value(graph.initializers[name].shape, name in starts_at_one,
                                     np.random.default_rng((seed, index)))
    new_graph = Graph(name=graph.name, nodes=graph.nodes, initializers=values,
                      inputs=graph.inputs, outputs=graph.outputs)
    return replace(model, graph=new_graph)


def initial_value(shape: tuple[int, ...], one: bool, rng: np.random.Generator) -> np.ndarray:
    """One weight's start: He-normal for rank >= 2 (``fan_in`` = product of ``shape[1:]``),
    else all ones (``one``) or all zeros."""
    if len(shape) >= 2:
        std = math.sqrt(2.0 / max(math.prod(shape[1:]), 1))
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
    return np.full(shape, 1.0 if one else 0.0, dtype=np.float32)
