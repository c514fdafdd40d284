"""Run a :class:`~cnnlens.graph.Model` on an input, keeping every intermediate tensor.

Computation is float32 throughout (floating initializers and op outputs of other float
types are converted), matching what exporters and onnxruntime use for these models.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass

import numpy as np

from cnnlens.attributes import check_attribute_types
from cnnlens.errors import ModelError, UnsupportedOpError
from cnnlens.graph import Model, Node, ValueInfo
from cnnlens.limits import MAX_ACTIVATION_BYTES, check_budget, describe_bytes
from cnnlens.ops import op_function
from cnnlens.ops.softmax import softmax

COMPUTE_DTYPE = np.float32


@dataclass
class ForwardResult:
    """Everything one forward pass produced.

    ``tensors`` is insertion-ordered: the graph input first, then every node output in
    execution order, each with its batch axis. ``logits`` and ``probabilities`` are
    ``(N, K)``; probability rows sum to 1. Treat the arrays as read-only: outputs of
    Reshape, Flatten or Identity may be views sharing memory with their inputs.
    """

    tensors: dict[str, np.ndarray]
    logits: np.ndarray
    probabilities: np.ndarray
    input_name: str
    logits_name: str
    output_name: str


def unsupported_ops(model: Model) -> dict[str, tuple[str, ...]]:
    """Unsupported op type (``domain::`` prefixed outside ONNX) → its node names, graph order."""
    missing: dict[str, list[str]] = {}
    for node in model.graph.nodes:
        if op_function(node.op_type, model.opset, node.domain) is None:
            missing.setdefault(node.qualified_op_type, []).append(node.name)
    return {op: tuple(names) for op, names in missing.items()}


def check_supported(model: Model) -> None:
    """Raise :class:`UnsupportedOpError` naming every unsupported op and node, if any, then
    :class:`ModelError` for an attribute of the wrong type (:mod:`cnnlens.attributes`)."""
    missing = unsupported_ops(model)
    if missing:
        raise UnsupportedOpError(missing)
    check_attribute_types(model)


NodeOutputs = dict[str, np.ndarray]
NodeHook = Callable[[Node, Callable[[], NodeOutputs]], NodeOutputs]
"""Wraps one node's computation: ``hook(node, compute)`` calls ``compute()`` (or not) and
returns the node's named outputs. Timings, caches and backend choices live in hooks, so
there is one forward loop."""
AsyncNodeHook = Callable[[Node, Callable[[], NodeOutputs], Mapping[str, np.ndarray]],
                         Awaitable[NodeOutputs]]
"""The awaitable form of :data:`NodeHook` (:func:`run_async`): ``await hook(node, compute,
values)``, ``values`` every tensor known so far by name (initializers included), so a
backend can send a node's inputs elsewhere. It may leave out an output that nothing after
it reads (a fused pre-activation); the result then has no such tensor."""

Step = tuple[Node, Callable[[], NodeOutputs], Mapping[str, np.ndarray]]


def run(model: Model, x: np.ndarray, hook: NodeHook | None = None, *,
        finite: bool = True) -> ForwardResult:
    """Forward ``x`` (shaped like ``model.input``, e.g. ``(N, C, H, W)``) through the model.

    ``hook``, when given, wraps every node's computation (see :data:`NodeHook`).
    Raises :class:`UnsupportedOpError` before computing anything if an op is missing, and
    :class:`ModelError` for an input that does not fit the declared shape, a node that
    cannot run on what it receives (the message names the node) or, unless ``finite`` is
    false (only shapes are wanted), logits or probabilities that are not finite
    (:func:`check_finite`).
    """
    walk = _walk(model, x, finite)
    try:
        node, compute, _values = next(walk)
        while True:
            outputs = compute() if hook is None else hook(node, compute)
            node, compute, _values = walk.send(outputs)
    except StopIteration as done:
        return done.value


async def run_async(model: Model, x: np.ndarray, hook: AsyncNodeHook, *,
                    finite: bool = True) -> ForwardResult:
    """:func:`run` with an awaitable hook (a backend whose results arrive asynchronously,
    such as WebGPU's readback): the same node walk, checks and result."""
    walk = _walk(model, x, finite)
    try:
        step = next(walk)
        while True:
            step = walk.send(await hook(*step))
    except StopIteration as done:
        return done.value


def _walk(model: Model, x: np.ndarray, finite: bool
          ) -> Generator[Step, NodeOutputs, ForwardResult]:
    """The one forward loop, driven by :func:`run` and :func:`run_async`: yields each node
    with its computation and the tensors so far, is sent that node's outputs, and returns
    the result."""
    check_supported(model)
    check_budget(model, np.shape(x))  # refuse what would not fit before allocating any of it
    graph = model.graph
    source = model.input
    order = model.topological_order()

    values: dict[str, np.ndarray] = {
        name: as_compute_dtype(array) for name, array in graph.initializers.items()
    }
    values[source.name] = _prepare_input(source, x)
    tensors = {source.name: values[source.name]}
    allocated = 0
    for node in order:
        def compute(node: Node = node) -> NodeOutputs:
            return _run_node(node, values, model.opset)

        outputs = yield node, compute, values
        for name, array in outputs.items():
            values[name] = tensors[name] = array
            # Shapes `check_budget` could not infer are counted here, as they appear.
            allocated += array.nbytes
            if allocated > MAX_ACTIVATION_BYTES:
                raise ModelError(
                    f"the activations up to {name!r} take {describe_bytes(allocated)}, over the "
                    f"limit of {describe_bytes(MAX_ACTIVATION_BYTES)} for one forward pass")

    output_name = model.output.name
    output = values[output_name]
    logits_name = _softmax_input(model, output_name, output.shape)
    if logits_name is None:
        logits_name = output_name
        logits = _rows(output)
        probabilities = softmax(logits, 1)
    else:
        logits = _rows(values[logits_name])
        probabilities = _rows(output)
    result = ForwardResult(
        tensors=tensors,
        logits=logits,
        probabilities=probabilities,
        input_name=source.name,
        logits_name=logits_name,
        output_name=output_name,
    )
    if finite:
        check_finite(result)
    return result


def _run_node(node: Node, values: dict[str, np.ndarray], opset: int) -> dict[str, np.ndarray]:
    """Apply one node; return its named outputs (omitted ``""`` outputs are dropped)."""
    function = op_function(node.op_type, opset, node.domain)
    assert function is not None  # check_supported ran first
    arguments = [values[name] if name else None for name in node.inputs]
    try:
        results = function(arguments, node.attributes)
    # NumPy reports shape mismatches as ValueError and a wrongly-typed attribute surfaces as
    # TypeError/IndexError; all mean this node cannot run on this model, so say which node.
    except (ValueError, TypeError, IndexError) as exc:
        raise ModelError(f"node {node.name!r} ({node.op_type}): {exc}") from exc
    except MemoryError as exc:  # the last line of defence, after the budget checks
        raise ModelError(f"node {node.name!r} ({node.op_type}) ran out of memory") from exc
    named = {}
    for i, name in enumerate(node.outputs):
        if not name:
            continue
        if i >= len(results):
            raise ModelError(
                f"node {node.name!r} ({node.op_type}): cnnlens does not compute output #{i} "
                f"({name!r})"
            )
        named[name] = as_compute_dtype(np.asarray(results[i]))
    return named


def _prepare_input(spec: ValueInfo, x: np.ndarray) -> np.ndarray:
    """Check ``x`` against the declared input and return a float32 copy."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.iscomplexobj(x):
        raise ModelError(f"input {spec.name!r} must be real numbers, got dtype {x.dtype}")
    if not spec.accepts(x.shape):
        expected = "(" + ", ".join("?" if d is None else str(d) for d in spec.shape or ()) + ")"
        raise ModelError(
            f"input {spec.name!r} expects shape {expected} (rank {len(spec.shape or ())}), "
            f"got {x.shape}"
        )
    return x.astype(COMPUTE_DTYPE)


def as_compute_dtype(array: np.ndarray) -> np.ndarray:
    """Floats of any width → float32; integer and bool tensors (shapes, masks) unchanged."""
    if np.issubdtype(array.dtype, np.floating) and array.dtype != COMPUTE_DTYPE:
        return array.astype(COMPUTE_DTYPE)
    return array


def _softmax_input(model: Model, output_name: str, shape: tuple[int, ...]) -> str | None:
    """The logits' name when ``output_name`` comes from a Softmax that normalises each
    sample's scores as a whole (so its rows, viewed as ``(N, K)``, sum to 1), on whatever
    axis it uses: ``(N, K)`` on axis 1 or -1, ``(N, K, 1, 1)`` on axis 1, ``(N, 1, K)`` on
    the last axis; ``None`` otherwise (the output is then taken as logits)."""
    node = model.graph.producers.get(output_name)
    if node is None or node.op_type != "Softmax" or node.domain or not node.inputs[0]:
        return None
    rank = len(shape)
    if rank < 2:
        per_sample = True
    else:
        default = 1 if model.opset < 13 else -1
        at = int(node.attributes.get("axis", default))
        at = at + rank if at < 0 else at
        if not 1 <= at < rank:
            per_sample = False
        elif model.opset < 13:
            # Flatten-to-2-D semantics: rows are shape[:at], each normalised as a whole.
            per_sample = math.prod(shape[1:at]) == 1
        else:
            # One axis is normalised: a whole sample only if every other one has size 1.
            per_sample = math.prod(shape[1:]) == shape[at]
    return node.inputs[0] if per_sample else None


def first_non_finite(result: ForwardResult) -> str | None:
    """The first tensor (in execution order) holding inf or NaN, or ``None``."""
    return next((name for name, array in result.tensors.items()
                 if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all()),
                None)


def check_finite(result: ForwardResult) -> None:
    """Raises :class:`ModelError` when the logits or probabilities hold inf or NaN, naming
    the first tensor (in execution order) where a non-finite value appeared."""
    if np.isfinite(result.logits).all() and np.isfinite(result.probabilities).all():
        return
    first = first_non_finite(result) or result.output_name
    raise ModelError(
        f"the model's output {result.output_name!r} is not finite (inf or NaN), so it gives "
        f"no class probabilities; the first non-finite value is in {first!r}")


def _rows(array: np.ndarray) -> np.ndarray:
    """``(N, ...)`` → ``(N, K)`` float32; a batch-less vector becomes one row."""
    rows = array.reshape(array.shape[0], -1) if array.ndim >= 2 else array.reshape(1, -1)
    return rows.astype(COMPUTE_DTYPE, copy=False)
