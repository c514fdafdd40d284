"""The overview: input channels, one tile per channel of every spatial layer, class scores.

`overview()` returns a JSON-ready dictionary plus one flat RGBA byte buffer holding
every tile's raster, so the page crosses the Python→JS bridge once per redraw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..forward import ForwardResult
from ..graph import Model, Node
from ..ops import op_spec
from . import colormap
from .connections import channel_sources, source_column

RangeMode = Literal["neuron", "layer", "network"]
RANGE_MODES: tuple[RangeMode, ...] = ("neuron", "layer", "network")

def _pass_through(node: Node) -> bool:
    """Nodes that only pass a tensor on: a column for them would repeat their neighbour."""
    spec = op_spec(node.op_type, node.domain)
    return spec is not None and spec.pass_through


@dataclass(frozen=True)
class SpatialLayer:
    """One node output drawn as a column of activation maps."""

    name: str
    node: Node
    values: np.ndarray  # (C, H, W), batch item 0

    @property
    def op_type(self) -> str:
        return self.node.op_type

    @property
    def kind(self) -> str:
        spec = op_spec(self.op_type, self.node.domain)
        return spec.kind if spec is not None else "other"


def spatial_layers(model: Model, result: ForwardResult) -> list[SpatialLayer]:
    """Every node output of rank 4 (N, C, H, W), in execution order."""
    producers = model.graph.producers
    layers = []
    for name, tensor in result.tensors.items():
        node = producers.get(name)
        if node is None or _pass_through(node) or tensor.ndim != 4:
            continue
        layers.append(SpatialLayer(name, node, tensor[0]))
    return layers


def color_ranges(layers: list[SpatialLayer], mode: RangeMode) -> list[np.ndarray]:
    """Half-width of the diverging scale for each layer, shaped `(C, 1, 1)` to broadcast.

    "neuron": each channel its own max |x|; "layer": one per layer; "network": one for all.
    """
    per_channel = [np.abs(layer.values).max(axis=(1, 2), keepdims=True) for layer in layers]
    if mode == "neuron":
        return per_channel
    per_layer = [np.broadcast_to(c.max(), c.shape) for c in per_channel]
    if mode == "layer":
        return per_layer
    top = max((float(c.max()) for c in per_channel), default=0.0)
    return [np.full_like(c, top) for c in per_channel]


def input_rasters(preview: np.ndarray) -> tuple[str, np.ndarray]:
    """Display pixels `(H, W, C)` uint8 → (encoding name, RGBA tiles `(C, H, W, 4)`)."""
    channels = np.moveaxis(preview, -1, 0).astype(np.float32)
    if channels.shape[0] == 3:
        return "rgb", np.stack([colormap.channel_tint(c, k) for k, c in enumerate(channels)])
    return "grey", colormap.grey(channels)


def _shape_label(shape: tuple[int, ...]) -> str:
    return " × ".join(str(d) for d in shape)


def _pair(values: Any) -> str:
    values = tuple(int(v) for v in values)
    return "×".join(map(str, values)) if len(set(values)) > 1 else str(values[0])


def hyperparameters(model: Model, node: Node) -> str:
    """A one-line summary of a conv or pooling node's geometry, e.g. "3×3 · stride 1 · pad 1"."""
    attrs = node.attributes
    if node.op_type == "Conv":
        weight = model.graph.initializers.get(node.inputs[1])
        kernel = attrs.get("kernel_shape", weight.shape[2:] if weight is not None else ())
    elif node.op_type in ("MaxPool", "AveragePool"):
        kernel = attrs.get("kernel_shape", ())
    else:
        return ""
    parts = [_shape_label(tuple(int(k) for k in kernel))] if len(kernel) else []
    parts.append(f"stride {_pair(attrs.get('strides', (1,) * len(kernel) or (1,)))}")
    pads = attrs.get("pads")
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        parts.append(str(attrs["auto_pad"]).lower().replace("_", " "))
    elif pads:
        parts.append(f"pad {_pair(pads)}")
    if any(int(d) != 1 for d in attrs.get("dilations", ())):
        parts.append(f"dilation {_pair(attrs['dilations'])}")
    if int(attrs.get("group", 1)) != 1:
        parts.append(f"groups {attrs['group']}")
    return " · ".join(parts)


def parameter_count(model: Model, node: Node) -> int:
    return sum(int(model.graph.initializers[name].size) for name in node.inputs
               if name in model.graph.initializers)


def _tiles(values: np.ndarray, offset: int, vmax: np.ndarray | None) -> list[dict[str, Any]]:
    c, h, w = values.shape
    lows, highs = values.min(axis=(1, 2)), values.max(axis=(1, 2))
    return [
        {
            "channel": k,
            "offset": offset + k * h * w * 4,
            "min": float(lows[k]),
            "max": float(highs[k]),
            **({"range": float(vmax[k, 0, 0])} if vmax is not None else {}),
        }
        for k in range(c)
    ]


def _column(name: str, kind: str, op_type: str, values: np.ndarray, tiles: list[dict[str, Any]],
            legend: dict[str, Any], title: str = "") -> dict[str, Any]:
    """`name` is the tensor (the key of every request); `title` what readers see: the node's
    name, falling back to the tensor's."""
    c, h, w = values.shape
    title = title or name
    return {
        "name": name, "title": title, "kind": kind, "op": op_type, "shape": [c, h, w],
        "label": f"{title} · {_shape_label((c, h, w))}", "width": w, "height": h,
        "tiles": tiles, "legend": legend, "params": 0, "details": "", "sources": None,
    }


def _layer_column(model: Model, layer: SpatialLayer, vmax: np.ndarray, offset: int,
                  previous: dict[str, Any] | None) -> dict[str, Any]:
    top = float(vmax.max())
    column = _column(layer.name, layer.kind, layer.op_type, layer.values,
                     _tiles(layer.values, offset, vmax), colormap.legend(-top, top, "activation"),
                     layer.node.name)
    column["params"] = parameter_count(model, layer.node)
    column["details"] = hyperparameters(model, layer.node)
    if previous is not None:
        column["sources"] = {
            "column": previous["name"],
            "channels": channel_sources(layer.node, previous["shape"][0], layer.values.shape[0]),
        }
    if layer.op_type == "Conv" and layer.node.inputs[1] in model.graph.initializers:
        weights = model.graph.initializers[layer.node.inputs[1]]
        reach = float(np.abs(weights).max())
        column["weights"] = colormap.legend(-reach, reach, "weight")
    return column


def _output(model: Model, result: ForwardResult, classes: list[str],
            last: dict[str, Any] | None) -> dict[str, Any]:
    """The class scores. `op` names what the model ends in: "Softmax" when the graph computes
    the probabilities itself, otherwise "logits" (the page still shows their softmax).
    `sources`: every class reads every channel of the last column before it (`last`)."""
    probabilities = result.probabilities[0]
    logits = result.logits[0]
    low, high = float(logits.min()), float(logits.max())
    colours = colormap.sequential(logits, low, high, "logit")
    producer = model.graph.producers.get(result.logits_name)
    return {
        "name": result.logits_name,
        "title": (producer.name if producer is not None else "") or result.logits_name,
        "op": "Softmax" if result.output_name != result.logits_name else "logits",
        "sources": None if last is None else {
            "column": last["name"],
            "channels": [list(range(last["shape"][0]))] * len(classes),
        },
        "classes": [
            {"index": i, "name": classes[i], "probability": float(p), "logit": float(z),
             "color": colormap.hex_colour(colours[i])}
            for i, (p, z) in enumerate(zip(probabilities, logits, strict=True))
        ],
        "top1": int(np.argmax(probabilities)),
        "legend": colormap.legend(low, high, "logit"),
    }


def _aliases(model: Model) -> dict[str, str]:
    """Maps outputs of pass-through nodes to the tensor they pass on."""
    return {node.outputs[0]: node.inputs[0] for node in model.graph.nodes
            if _pass_through(node) and node.inputs and node.outputs}


def overview(model: Model, result: ForwardResult, classes: list[str], preview: np.ndarray,
             mode: RangeMode = "layer") -> tuple[dict[str, Any], np.ndarray]:
    """The whole overview for one image.

    preview: the model input as display pixels `(H, W, C)` uint8.
    Returns (view, rasters): `view` is JSON-ready; `rasters` is one flat uint8 buffer of
    RGBA tiles, each tile addressed by its `offset` and its column's width and height.
    """
    encoding, input_tiles = input_rasters(preview)
    pixels = np.moveaxis(preview, -1, 0).astype(np.float32)
    input_column = _column(result.input_name, "input", encoding, pixels,
                           _tiles(pixels, 0, None), colormap.legend(0.0, 255.0, "grey"))
    columns = {result.input_name: input_column}
    chunks = [input_tiles.reshape(-1)]
    offset = input_tiles.size

    aliases = _aliases(model)
    layers = spatial_layers(model, result)
    for layer, vmax in zip(layers, color_ranges(layers, mode), strict=True):
        source = source_column(layer.node, set(columns), aliases)
        previous = columns[source] if source is not None else None
        columns[layer.name] = _layer_column(model, layer, vmax, offset, previous)
        rgba = colormap.diverging(layer.values, vmax)
        chunks.append(rgba.reshape(-1))
        offset += rgba.size

    last = list(columns.values())[-1]
    view = {"mode": mode, "columns": list(columns.values()),
            "output": _output(model, result, classes, last)}
    return view, np.concatenate(chunks)
