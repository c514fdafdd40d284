"""Which backend runs each node of one forward pass: WebGPU where its kernels support the
node, NumPy otherwise, in contiguous segments, each of which the GPU runs in one call with
one readback.

Pure planning over the graph and the shapes known before running (`limits.infer_shapes`);
`engine.py` runs the plan through `forward.run_async`'s hook.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .graph import Model, Node
from .limits import Shape, infer_shapes

Backend = Literal["NumPy", "WebGPU"]
NUMPY: Backend = "NumPy"
WEBGPU: Backend = "WebGPU"

GpuNode = dict[str, Any]
"""A node as the kernels read it (`assets/js/gpu/index.js`): ``{op, attrs, inputs, outputs,
shapes}``, ONNX op names and attributes, ``shapes`` every input's and output's dims."""

Supports = Callable[[GpuNode], bool]


@dataclass(frozen=True)
class Segment:
    """Consecutive nodes on one backend. On WebGPU: ``feeds``, the tensors it reads that
    neither it nor the weights make, and ``wanted``, the outputs read back."""

    backend: Backend
    nodes: tuple[Node, ...]
    gpu_nodes: tuple[GpuNode, ...] = ()
    feeds: tuple[str, ...] = ()
    wanted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The segments of one forward pass, in execution order."""

    segments: tuple[Segment, ...]

    def placement(self) -> dict[str, Backend]:
        """Node name → the backend that runs it."""
        return {node.name: s.backend for s in self.segments for node in s.nodes}

    def first_nodes(self) -> dict[str, Segment]:
        """The name of each WebGPU segment's first node → that segment (where it runs)."""
        return {s.nodes[0].name: s for s in self.segments if s.backend == WEBGPU}


def gpu_node(node: Node, shapes: Mapping[str, Shape]) -> GpuNode | None:
    """``node`` as the kernels read it, or None when it cannot go to the GPU: an attribute
    that is not plain numbers or text (a tensor), or a shape not known before running."""
    attrs: dict[str, Any] = {}
    for name, value in node.attributes.items():
        plain = _plain(value)
        if plain is None:
            return None
        attrs[name] = plain
    names = [n for n in (*node.inputs, *node.outputs) if n]
    if node.domain or not all(n in shapes for n in names):
        return None
    return {"op": node.op_type, "name": node.name, "attrs": attrs, "inputs": list(node.inputs),
            "outputs": list(node.outputs), "shapes": {n: list(shapes[n]) for n in names}}


def _plain(value: Any) -> Any:
    if isinstance(value, bool | np.ndarray) or not isinstance(value, int | float | str | tuple):
        return None
    if isinstance(value, tuple):
        items = [_plain(v) for v in value]
        return None if any(isinstance(v, list) or v is None for v in items) else items
    return value


def plan(model: Model, input_shape: Sequence[int], supports: Supports | None, *,
         numpy_only: Collection[str] = (), keep_all: bool = True, split: bool = False) -> Plan:
    """Where each node of ``model`` runs on an input of ``input_shape``.

    ``supports`` is the kernels' answer for one node (None: no GPU, everything on NumPy);
    op types in ``numpy_only`` always run on NumPy (the ones a learner edited).
    ``keep_all``: read back every output (the views show every tensor); otherwise only
    what later segments and the result read, so the kernels may fuse a Conv with the
    activation after it. ``split``: one node per WebGPU segment (per-layer timings).
    """
    shapes = infer_shapes(model, input_shape)
    order = model.topological_order()
    runs: list[tuple[Backend, list[Node], list[GpuNode]]] = []
    for node in order:
        described = None
        if supports is not None and node.op_type not in numpy_only:
            described = gpu_node(node, shapes)
            if described is not None and not supports(described):
                described = None
        backend = NUMPY if described is None else WEBGPU
        if runs and runs[-1][0] == backend and not (split and backend == WEBGPU):
            runs[-1][1].append(node)
            if described is not None:
                runs[-1][2].append(described)
        else:
            runs.append((backend, [node], [] if described is None else [described]))
    read_later = _readers(model, order)
    segments = []
    for backend, nodes, described in runs:
        if backend == NUMPY:
            segments.append(Segment(NUMPY, tuple(nodes)))
            continue
        made = {name for node in nodes for name in node.outputs if name}
        inside = {node.name for node in nodes}
        feeds = tuple(dict.fromkeys(
            name for node in nodes for name in node.inputs
            if name and name not in made and name not in model.graph.initializers))
        wanted = tuple(name for node in nodes for name in node.outputs if name and (
            keep_all or read_later.get(name, set()) - inside))
        if not keep_all:
            described = _fused(described, read_later, wanted, supports)
        segments.append(Segment(WEBGPU, tuple(nodes), tuple(described), feeds, wanted))
    return Plan(tuple(segments))


FUSES_INTO = frozenset({"Conv", "Gemm", "MatMul", "BatchNormalization", "Add", "Sub", "Mul",
                        "Div"})
"""The ops whose kernels apply a following Relu in the same pass (``attrs.fuse``)."""


def _fused(described: list[GpuNode], read_later: Mapping[str, set[str]],
           wanted: tuple[str, ...], supports: Supports | None) -> list[GpuNode]:
    """A segment's nodes with each Relu folded into the node before it, where only that
    Relu reads its pre-activation and nobody wants the pre-activation back."""
    out: list[GpuNode] = []
    for node in described:
        before = out[-1] if out else None
        if (before is not None and node["op"] == "Relu" and before["op"] in FUSES_INTO
                and "fuse" not in before["attrs"] and node["inputs"] == before["outputs"]
                and len(read_later.get(before["outputs"][0], ())) == 1
                and before["outputs"][0] not in wanted):
            output = node["outputs"][0]
            fused = {**before, "attrs": {**before["attrs"], "fuse": {"op": "Relu"}},
                     "outputs": [output],
                     "shapes": {**before["shapes"], output: node["shapes"][output]}}
            if supports is not None and supports(fused):
                out[-1] = fused
                continue
        out.append(node)
    return out


def _readers(model: Model, order: Sequence[Node]) -> dict[str, set[str]]:
    """Tensor name → the nodes that read it; the graph's output and the logits (what the
    forward pass's result reads) count as read by every node."""
    readers: dict[str, set[str]] = {}
    for node in order:
        for name in node.inputs:
            readers.setdefault(name, set()).add(node.name)
    everyone = {"", *(node.name for node in order)}
    output = model.output.name
    producer = model.graph.producers.get(output)
    for name in (output, *(producer.inputs if producer is not None else ())):
        readers[name] = everyone
    return readers


def weights(model: Model, chosen: Plan) -> dict[str, np.ndarray]:
    """The initializers the plan's WebGPU nodes read, as float32 (uploaded once a model)."""
    names = dict.fromkeys(name for s in chosen.segments if s.backend == WEBGPU
                          for node in s.nodes for name in node.inputs
                          if name in model.graph.initializers)
    return {name: np.ascontiguousarray(model.graph.initializers[name], dtype=np.float32)
            for name in names}
