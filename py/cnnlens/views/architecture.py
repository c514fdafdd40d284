"""The architecture view: the model as a layered graph, laid out here, drawn by the page.

One box per node (its name, op, output shape, parameters and multiply-adds, from
:func:`cnnlens.summary.summarize`, so shapes come from the ops' shape rules and nothing is
run), one box for the model's input, and one edge per pair of nodes a value flows between.
The layout is the classic layered (Sugiyama) one, computed from the graph alone:

1. layers by longest path from the input (every edge points strictly downwards);
2. an edge spanning several layers gets a point in each layer it crosses (a "dummy"), so it
   bends around the boxes in between, as the residual connections of a ResNet do;
3. within each layer, an order that keeps edges from crossing: barycentre sweeps, down and
   up, each node moved to the mean position of its neighbours in the layer before;
4. x coordinates: each node pulled to the mean x of its neighbours, then pushed apart just
   enough that no two boxes of a layer overlap (a running maximum from the left and a
   running minimum from the right, averaged).

The page (``assets/js/architecture/``) only draws what this returns: boxes at ``x``, ``y``
(their centres) and edges as polylines, all in one coordinate space starting at (0, 0).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ..graph import Model, Node
from ..macs import CONVENTION
from ..ops import op_spec
from ..summary import LayerSummary, concrete_shape, summarize, total_params

NODE_WIDTH = 176.0
"""Width of a box (the page's text fits in it)."""
NODE_HEIGHT = 58.0
"""Height of a box: three lines of text."""
LAYER_GAP = 40.0
"""Vertical space between two layers of boxes, where the edges run."""
NODE_GAP = 24.0
"""Least horizontal space between two boxes of a layer."""
DUMMY_WIDTH = 8.0
"""Room an edge passing through a layer takes beside the boxes there."""
SWEEPS = 8
"""Down-and-up barycentre sweeps: enough for the orders of the gallery's nets to settle."""
PORT_GAP = 14.0
"""Distance between the ends of two edges meeting one side of a box."""
BYTES_PER_ELEMENT = 4
"""Activations are float32 in the engine (:mod:`cnnlens.forward`)."""

INPUT = -1
"""The id of the model's input in edges (nodes are numbered from 0 in execution order)."""


def _kind(node: Node) -> str:
    """The overview's colour group of ``node``; a Conv with one group per output channel
    is "depthwise" (MobileNet's blocks)."""
    spec = op_spec(node.op_type, node.domain)
    kind = spec.kind if spec is not None else "other"
    if node.op_type == "Conv" and int(node.attributes.get("group", 1)) > 1:
        return "depthwise"
    return kind


def _detail(node: Node) -> str:
    """A few words of hyperparameters: kernel, stride and groups of a Conv or a pool."""
    kernel = node.attributes.get("kernel_shape")
    if kernel is None:
        return ""
    words = ["×".join(str(int(k)) for k in kernel)]
    strides = tuple(int(s) for s in node.attributes.get("strides", ()))
    if any(s != 1 for s in strides):
        words.append("/" + "×".join(map(str, strides)) if len(set(strides)) > 1
                     else f"/{strides[0]}")
    group = int(node.attributes.get("group", 1))
    if group > 1:
        words.append(f"g{group}")
    return " ".join(words)


def data_edges(model: Model) -> list[tuple[int, int]]:
    """Each pair (source, target) of nodes a non-initializer value flows between, source
    :data:`INPUT` for the model's input, ids being positions in execution order; a node
    reading one value twice (``Mul(x, x)``) or two values of one node gets one edge."""
    order = model.topological_order()
    index = {id(node): i for i, node in enumerate(order)}
    producers = model.graph.producers
    source = model.input.name
    edges: list[tuple[int, int]] = []
    for j, node in enumerate(order):
        seen: set[int] = set()
        for name in node.inputs:
            if name == source:
                i = INPUT
            elif name in producers:
                i = index[id(producers[name])]
            else:
                continue  # an initializer or an omitted input
            if i not in seen:
                seen.add(i)
                edges.append((i, j))
    return edges


def longest_path_layers(count: int, edges: list[tuple[int, int]]) -> np.ndarray:
    """Layer of each of ``count`` vertices (numbered in a topological order, so every edge
    goes from a lower to a higher number): 0 for the sources, else one more than the
    deepest predecessor. Shape ``(count,)``."""
    layer = np.zeros(count, dtype=np.int64)
    incoming: list[list[int]] = [[] for _ in range(count)]
    for i, j in edges:
        incoming[j].append(i)
    for j in range(count):  # a topological order: every predecessor is done already
        if incoming[j]:
            layer[j] = 1 + max(layer[i] for i in incoming[j])
    return layer


def _split_long_edges(layer: list[int], edges: list[tuple[int, int]]
                      ) -> tuple[list[int], list[list[int]]]:
    """Vertices extended with one dummy per layer an edge crosses; each edge's chain of
    vertices from its source to its target."""
    layer = list(layer)
    chains = []
    for i, j in edges:
        chain = [i]
        for depth in range(layer[i] + 1, layer[j]):
            layer.append(depth)
            chain.append(len(layer) - 1)
        chain.append(j)
        chains.append(chain)
    return layer, chains


def _neighbours(chains: list[list[int]], count: int) -> tuple[list[list[int]], list[list[int]]]:
    """For each of ``count`` vertices, its neighbours one layer up and one layer down
    along the edges' chains."""
    up: list[list[int]] = [[] for _ in range(count)]
    down: list[list[int]] = [[] for _ in range(count)]
    for chain in chains:
        for a, b in itertools.pairwise(chain):
            down[a].append(b)
            up[b].append(a)
    return up, down


def _order_layers(layer: list[int], chains: list[list[int]]) -> list[list[int]]:
    """The vertices of each layer, ordered to keep edges from crossing (barycentre sweeps;
    the initial order is execution order, where a branch's nodes follow one another)."""
    depth = max(layer) + 1
    rows: list[list[int]] = [[] for _ in range(depth)]
    for v, d in enumerate(layer):
        rows[d].append(v)
    up, down = _neighbours(chains, len(layer))
    position = np.zeros(len(layer))
    for row in rows:
        position[row] = np.arange(len(row))

    def sweep(order: range, neighbours: list[list[int]]) -> None:
        for d in order:
            row = rows[d]
            if len(row) < 2:
                continue
            # A vertex without neighbours on that side keeps its place.
            keys = [float(np.mean(position[neighbours[v]])) if neighbours[v] else position[v]
                    for v in row]
            row[:] = [row[k] for k in np.argsort(keys, kind="stable")]
            position[row] = np.arange(len(row))

    for _ in range(SWEEPS):
        sweep(range(1, depth), up)
        sweep(range(depth - 2, -1, -1), down)
    return rows


def _place_row(desired: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Centres ``(n,)`` as near ``desired`` ``(n,)`` as boxes of ``widths`` ``(n,)``, kept
    in this order and at least :data:`NODE_GAP` apart: the mean of the leftmost
    and the rightmost placements that keep the gaps."""
    if len(desired) < 2:
        return desired.astype(float)
    gaps = (widths[:-1] + widths[1:]) / 2 + NODE_GAP
    offset = np.concatenate(([0.0], np.cumsum(gaps)))
    # x_i - offset_i must not decrease: a running max from the left pushes right, a running
    # min from the right pushes left; both keep every gap, and so does their mean.
    right = np.maximum.accumulate(desired - offset) + offset
    left = np.minimum.accumulate((desired - offset)[::-1])[::-1] + offset
    return (left + right) / 2


def _x_coordinates(rows: list[list[int]], widths: np.ndarray, chains: list[list[int]],
                   count: int) -> np.ndarray:
    """Centre x of every vertex: rows packed side by side first, then alternately pulled
    towards their neighbours above and below and pushed apart again."""
    up, down = _neighbours(chains, count)
    x = np.zeros(count)
    for row in rows:
        x[row] = _place_row(np.zeros(len(row)), widths[row])

    def pull(order: range, neighbours: list[list[int]]) -> None:
        for d in order:
            row = rows[d]
            desired = np.array([np.mean(x[neighbours[v]]) if neighbours[v] else x[v]
                                for v in row])
            x[row] = _place_row(desired, widths[row])

    depth = len(rows)
    for _ in range(4):
        pull(range(1, depth), up)
        pull(range(depth - 2, -1, -1), down)
    # Straighten the long chains last: both ends and every bend of an edge through empty
    # layers then share one column where they can.
    pull(range(1, depth), up)
    return x - (x - widths / 2).min()


def _spread(count: int) -> np.ndarray:
    """Offsets ``(count,)`` from a box's centre for ``count`` edges meeting one side of it,
    left to right and centred, so a merge shows each of its inputs arriving."""
    step = min(PORT_GAP, (NODE_WIDTH - 2 * PORT_GAP) / max(count - 1, 1))
    return (np.arange(count) - (count - 1) / 2) * step


def _ports(chains: list[list[int]], x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per edge, where it leaves its source's bottom and reaches its target's top, as
    offsets from the boxes' centres: edges sharing a side are spread in the order of the
    vertex they come from or go to, so they do not cross there."""
    starts = [0.0] * len(chains)
    ends = [0.0] * len(chains)
    leaving: dict[int, list[int]] = {}
    arriving: dict[int, list[int]] = {}
    for k, chain in enumerate(chains):
        leaving.setdefault(chain[0], []).append(k)
        arriving.setdefault(chain[-1], []).append(k)
    for side, offsets, neighbour in ((leaving, starts, 1), (arriving, ends, -2)):
        for group in side.values():
            if len(group) < 2:
                continue
            group.sort(key=lambda k: x[chains[k][neighbour]])
            for k, offset in zip(group, _spread(len(group)), strict=True):
                offsets[k] = float(offset)
    return starts, ends


def _label(node: Node, summary: LayerSummary, index: int) -> str:
    return node.name or (summary.outputs[0] if summary.outputs else f"{node.op_type} {index}")


def architecture(model: Model, input_shape: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The JSON-ready architecture view of ``model`` at ``input_shape`` (default: its
    declared input shape, batch 1).

    ``nodes``: the input first (``id`` :data:`INPUT`, kind "input"), then one per graph node
    in execution order (``id`` its position): ``name``, ``op``, ``kind``, ``detail``,
    ``tensor`` (its first output, the overview's column name), ``shape``, ``params``,
    ``macs``, ``layer``, centre ``x``, ``y``, ``width``, ``height``. ``edges``: ``source``,
    ``target`` (ids) and ``points`` (a polyline, ``[[x, y], ...]``, from the source's
    bottom to the target's top). ``totals``: parameters (each initializer once), MACs,
    activation memory in bytes (the input and every node's output, float32, all kept at
    once as cnnlens's forward pass keeps them), ``layers`` (nodes) and ``depth``.
    ``width``/``height``: the drawing's extent.
    """
    shape = tuple(input_shape) if input_shape is not None else concrete_shape(model.input)
    order = model.topological_order()
    layers = summarize(model, shape)
    edges = data_edges(model)
    count = len(order) + 1  # vertex 0 is the input, vertex i + 1 node i
    vertex_edges = [(i + 1, j + 1) for i, j in edges]
    depth_of = longest_path_layers(count, vertex_edges)
    all_layers, chains = _split_long_edges(depth_of.tolist(), vertex_edges)
    rows = _order_layers(all_layers, chains)
    widths = np.full(len(all_layers), DUMMY_WIDTH)
    widths[:count] = NODE_WIDTH
    x = _x_coordinates(rows, widths, chains, len(all_layers))
    y = np.asarray(all_layers, dtype=float) * (NODE_HEIGHT + LAYER_GAP) + NODE_HEIGHT / 2

    def box(v: int) -> dict[str, Any]:
        return {"layer": int(all_layers[v]), "x": round(float(x[v]), 1),
                "y": round(float(y[v]), 1), "width": NODE_WIDTH, "height": NODE_HEIGHT}

    nodes: list[dict[str, Any]] = [{
        "id": INPUT, "name": model.input.name, "op": "Input", "kind": "input", "detail": "",
        "tensor": model.input.name, "shape": list(shape), "params": 0, "macs": 0, **box(0)}]
    for i, (node, summary) in enumerate(zip(order, layers, strict=True)):
        nodes.append({
            "id": i, "name": _label(node, summary, i), "op": node.qualified_op_type,
            "kind": _kind(node), "detail": _detail(node),
            "tensor": next((name for name in node.outputs if name), ""),
            "shape": list(summary.output_shape), "params": summary.params,
            "macs": summary.macs, **box(i + 1)})
    starts, ends = _ports(chains, x)
    drawn = []
    for (source, target), chain, start, end in zip(edges, chains, starts, ends, strict=True):
        top, bottom = chain[0], chain[-1]
        points = [[round(float(x[top] + start), 1), round(float(y[top] + NODE_HEIGHT / 2), 1)]]
        points += [[round(float(x[v]), 1), round(float(y[v]), 1)] for v in chain[1:-1]]
        points.append([round(float(x[bottom] + end), 1),
                       round(float(y[bottom] - NODE_HEIGHT / 2), 1)])
        drawn.append({"source": source, "target": target, "points": points})
    activations = math.prod(shape) + sum(math.prod(layer.output_shape) for layer in layers)
    return {
        "model": model.graph.name,
        "input_shape": list(shape),
        "nodes": nodes,
        "edges": drawn,
        "totals": {
            "params": total_params(model),
            "macs": sum(layer.macs for layer in layers),
            "activation_bytes": activations * BYTES_PER_ELEMENT,
            "layers": len(order),
            "depth": int(depth_of.max()),
        },
        "conventions": CONVENTION,
        "width": round(float((x + widths / 2).max()), 1),
        "height": round(float(y.max() + NODE_HEIGHT / 2), 1),
    }
