"""The in-memory model: plain frozen dataclasses, independent of the ONNX wire format.

A :class:`Model` made by :func:`cnnlens.onnx_reader.read_model` has passed
:meth:`Model.validate`, so code downstream may rely on: exactly one real (non-initializer)
float input of known rank, at least one node and one output, every node input defined, and
an acyclic graph.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from cnnlens.errors import ModelError

# ONNX TensorProto.DataType codes used by ValueInfo.elem_type (the subset with NumPy twins).
FLOAT = 1
UINT8 = 2
INT8 = 3
UINT16 = 4
INT16 = 5
INT32 = 6
INT64 = 7
STRING = 8
BOOL = 9
FLOAT16 = 10
DOUBLE = 11
UINT32 = 12
UINT64 = 13
BFLOAT16 = 16

ELEM_TYPE_NAMES = {
    FLOAT: "float32",
    UINT8: "uint8",
    INT8: "int8",
    UINT16: "uint16",
    INT16: "int16",
    INT32: "int32",
    INT64: "int64",
    STRING: "string",
    BOOL: "bool",
    FLOAT16: "float16",
    DOUBLE: "float64",
    UINT32: "uint32",
    UINT64: "uint64",
    BFLOAT16: "bfloat16",
}

FLOAT_ELEM_TYPES = frozenset({FLOAT, FLOAT16, DOUBLE, BFLOAT16})

Dim = int | str | None


def elem_type_name(elem_type: int) -> str:
    """Readable name of an ONNX element type code, e.g. ``1 -> "float32"``."""
    return ELEM_TYPE_NAMES.get(elem_type, f"type {elem_type}")


@dataclass(frozen=True)
class ValueInfo:
    """A declared graph input or output.

    ``shape`` has one entry per axis: an ``int`` for a fixed size, a ``str`` for a symbolic
    one (``"batch"``) and ``None`` for an unnamed unknown size. ``shape is None`` means the
    rank itself is unknown (the model declared no shape).
    """

    name: str
    elem_type: int
    shape: tuple[Dim, ...] | None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """Whether a concrete ``shape`` matches: same rank, equal fixed dims."""
        if self.shape is None:
            return True
        if len(shape) != len(self.shape):
            return False
        return all(not isinstance(d, int) or d == s for d, s in zip(self.shape, shape, strict=True))


@dataclass(frozen=True)
class OpaqueAttribute:
    """Stands in for an attribute value cnnlens does not decode (a subgraph, a sparse tensor,
    a type proto): only ops cnnlens cannot run use those."""

    kind: str

    def __repr__(self) -> str:
        return f"<{self.kind}>"


@dataclass(frozen=True)
class Node:
    """One operator application.

    ``inputs`` may contain ``""`` for an omitted optional input (ONNX convention); outputs
    likewise. ``attributes`` values are ``int``, ``float``, ``str``, tuples of those,
    ``np.ndarray`` (tensors), tuples of arrays, or :class:`OpaqueAttribute`.
    """

    op_type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    domain: str = ""

    @property
    def qualified_op_type(self) -> str:
        """``op_type``, prefixed with ``domain::`` outside the default ONNX domain."""
        return f"{self.domain}::{self.op_type}" if self.domain else self.op_type


@dataclass(frozen=True, eq=False)
class Graph:
    """Nodes plus their constant weights (compared by identity: it holds arrays).

    ``initializers`` maps names to arrays of any shape (``(M, C, kH, kW)`` conv weights,
    ``(K,)`` biases, int64 reshape targets, ...). ``inputs`` are the *real* inputs only:
    names that also have an initializer are excluded, as ONNX IR < 4 listed them twice.
    """

    name: str
    nodes: tuple[Node, ...]
    initializers: dict[str, np.ndarray]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]

    @cached_property
    def producers(self) -> dict[str, Node]:
        """Maps each value name to the node that produces it (raises on two producers)."""
        producers: dict[str, Node] = {}
        for node in self.nodes:
            for output in node.outputs:
                if not output:
                    continue
                if output in producers:
                    raise ModelError(
                        f"value {output!r} is produced by both node {producers[output].name!r} "
                        f"and node {node.name!r}"
                    )
                producers[output] = node
        return producers

    def topological_order(self) -> tuple[Node, ...]:
        """The nodes ordered so every input is computed before use.

        Keeps file order wherever it is already valid (ONNX requires sorted nodes, but not
        every exporter complies). Raises :class:`ModelError` naming dangling inputs (used but
        never defined) or the nodes caught in a cycle.
        """
        return self._order

    @cached_property
    def _order(self) -> tuple[Node, ...]:
        sources = {v.name for v in self.inputs} | set(self.initializers)
        producers = self.producers
        for name in sources & set(producers):
            raise ModelError(
                f"node {producers[name].name!r} overwrites graph input or initializer {name!r}"
            )

        dangling = [
            f"{name!r} (used by node {node.name!r})"
            for node in self.nodes
            for name in node.inputs
            if name and name not in sources and name not in producers
        ]
        if dangling:
            raise ModelError(
                "undefined value(s), neither an input, an initializer nor a node output: "
                + ", ".join(dangling)
            )

        index = {id(node): i for i, node in enumerate(self.nodes)}
        missing = [sum(1 for name in node.inputs if name in producers) for node in self.nodes]
        consumers: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            for name in node.inputs:
                if name in producers:
                    consumers.setdefault(name, []).append(i)

        # Kahn's algorithm with a min-heap on file position: a sorted file comes out unchanged.
        ready = [i for i, count in enumerate(missing) if count == 0]
        heapq.heapify(ready)
        order: list[Node] = []
        while ready:
            node = self.nodes[heapq.heappop(ready)]
            order.append(node)
            for output in node.outputs:
                for j in consumers.get(output, ()):
                    missing[j] -= 1
                    if missing[j] == 0:
                        heapq.heappush(ready, j)
        if len(order) != len(self.nodes):
            done = {index[id(node)] for node in order}
            stuck = [node.name for i, node in enumerate(self.nodes) if i not in done]
            raise ModelError(f"the graph has a cycle through node(s) {', '.join(map(repr, stuck))}")
        return tuple(order)


@dataclass(frozen=True, eq=False)
class Model:
    """A graph plus model-level facts (compared by identity: it holds arrays).

    ``opset`` is the version imported for the default ONNX domain; ``metadata`` holds the
    ``metadata_props`` key/value pairs; ``producer`` is ``"<producer_name> <version>"``.
    """

    graph: Graph
    metadata: dict[str, str]
    ir_version: int
    opset: int
    producer: str
    doc_string: str

    @property
    def input(self) -> ValueInfo:
        """The single real graph input (``(N, C, H, W)`` for an image CNN)."""
        inputs = self.graph.inputs
        if len(inputs) != 1:
            names = ", ".join(repr(v.name) for v in inputs) or "none"
            raise ModelError(f"expected exactly one graph input, found {len(inputs)}: {names}")
        return inputs[0]

    @property
    def output(self) -> ValueInfo:
        """The first graph output (the one cnnlens treats as the prediction)."""
        if not self.graph.outputs:
            raise ModelError("the graph declares no outputs")
        return self.graph.outputs[0]

    def topological_order(self) -> tuple[Node, ...]:
        """See :meth:`Graph.topological_order`."""
        return self.graph.topological_order()

    def validate(self) -> None:
        """Raise :class:`ModelError` unless the model is something cnnlens can run."""
        graph = self.graph
        if not graph.nodes:
            raise ModelError("the graph has no nodes")
        if not graph.outputs:
            raise ModelError("the graph declares no outputs")
        source = self.input
        if source.elem_type not in FLOAT_ELEM_TYPES:
            raise ModelError(
                f"graph input {source.name!r} is {elem_type_name(source.elem_type)}; "
                "cnnlens needs a floating-point input"
            )
        if source.shape is None:
            raise ModelError(f"graph input {source.name!r} declares no shape")
        self.topological_order()
        defined = set(graph.producers) | set(graph.initializers) | {source.name}
        for value in graph.outputs:
            if value.name not in defined:
                raise ModelError(f"graph output {value.name!r} is not produced by any node")
