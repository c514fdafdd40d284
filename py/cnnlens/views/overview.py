"""The overview: input channels, one tile per channel of every spatial layer, class scores.

`overview()` returns a JSON-ready dictionary plus one flat RGBA byte buffer holding
every shown tile's raster, so the page crosses the Python→JS bridge once per redraw. A
column shows at most `PAGE` channels at once (a ResNet-50 has 2,048 in a layer, 26,000
tiles in all, beyond what a page can lay out); `column_page` answers another page of one
column's channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model, Node
from ..ops import op_spec
from . import colormap
from .connections import part, sources

RangeMode = Literal["neuron", "layer", "network"]
RANGE_MODES: tuple[RangeMode, ...] = ("neuron", "layer", "network")

PAGE = 16
"""Channels a column shows at once: at the smallest tile the overview draws (24 px) they
fit a laptop's screen in height, and every channel of the bundled TinyVGGs (10) shows."""

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


def page_of(channel: int, count: int) -> range:
    """The channels shown with `channel` (clamped to the `count` there are): its page."""
    first = min(max(channel, 0), count - 1) // PAGE * PAGE
    return range(first, min(first + PAGE, count))


def _tiles(values: np.ndarray, offset: int, vmax: np.ndarray | None,
           shown: range) -> list[dict[str, Any]]:
    """The shown channels of `values` `(C, H, W)`, their rasters laid one after another
    from `offset`."""
    _, h, w = values.shape
    page = values[shown.start:shown.stop]
    lows, highs = page.min(axis=(1, 2)), page.max(axis=(1, 2))
    return [
        {
            "channel": k,
            "offset": offset + i * h * w * 4,
            "min": float(lows[i]),
            "max": float(highs[i]),
            **({"range": float(vmax[k, 0, 0])} if vmax is not None else {}),
        }
        for i, k in enumerate(shown)
    ]


def _page_rasters(layer: SpatialLayer, vmax: np.ndarray, shown: range) -> np.ndarray:
    """The shown channels' RGBA tiles, flat."""
    rgba = colormap.diverging(layer.values[shown.start:shown.stop], vmax[shown.start:shown.stop])
    return rgba.reshape(-1)


def _column(name: str, kind: str, op_type: str, values: np.ndarray, tiles: list[dict[str, Any]],
            legend: dict[str, Any], title: str = "") -> dict[str, Any]:
    """`name` is the tensor (the key of every request); `title` what readers see: the node's
    name, falling back to the tensor's. `tiles` are the shown channels (`PAGE` at most)."""
    c, h, w = values.shape
    title = title or name
    return {
        "name": name, "title": title, "kind": kind, "op": op_type, "shape": [c, h, w],
        "label": f"{title} · {_shape_label((c, h, w))}", "width": w, "height": h,
        "tiles": tiles, "legend": legend, "params": 0, "details": "", "sources": None,
    }


def _layer_column(model: Model, layer: SpatialLayer, vmax: np.ndarray, offset: int,
                  shown: range, wiring: dict[str, Any] | None) -> dict[str, Any]:
    top = float(vmax.max())
    column = _column(layer.name, layer.kind, layer.op_type, layer.values,
                     _tiles(layer.values, offset, vmax, shown),
                     colormap.legend(-top, top, "activation"), layer.node.name)
    column["params"] = parameter_count(model, layer.node)
    column["details"] = hyperparameters(model, layer.node)
    column["sources"] = wiring
    if layer.op_type == "Conv" and layer.node.inputs[1] in model.graph.initializers:
        weights = model.graph.initializers[layer.node.inputs[1]]
        reach = float(np.abs(weights).max())
        column["weights"] = colormap.legend(-reach, reach, "weight")
    return column


def _output(model: Model, result: ForwardResult, classes: list[str],
            last: dict[str, Any] | None) -> dict[str, Any]:
    """The class scores. `op` names what the model ends in: "Softmax" when the graph computes
    the probabilities itself, otherwise "logits" (the page still shows their softmax).
    `sources`: every class reads every channel of the last column before it (`last`).
    `order`: the classes in the order listed, `PAGE` at a time: by index when they fit on
    one page, else the most probable first (an ImageNet head's 1,000)."""
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
            "parts": [part(last["name"], 0, len(classes), 1)],
        },
        "classes": [
            {"index": i, "name": classes[i], "probability": float(p), "logit": float(z),
             "color": colormap.hex_colour(colours[i])}
            for i, (p, z) in enumerate(zip(probabilities, logits, strict=True))
        ],
        "order": (list(range(len(classes))) if len(classes) <= PAGE
                  else np.argsort(-probabilities, kind="stable").tolist()),
        "top1": int(np.argmax(probabilities)),
        "legend": colormap.legend(low, high, "logit"),
    }


def _aliases(model: Model) -> dict[str, str]:
    """Maps outputs of pass-through nodes to the tensor they pass on."""
    return {node.outputs[0]: node.inputs[0] for node in model.graph.nodes
            if _pass_through(node) and node.inputs and node.outputs}


Planned = list[tuple[SpatialLayer, np.ndarray, dict[str, Any] | None]]


def _plan(model: Model, result: ForwardResult, mode: RangeMode, input_channels: int) -> Planned:
    """Every drawn layer with its colour range (`(C, 1, 1)`) and its sources."""
    aliases = _aliases(model)
    drawn = {result.input_name: input_channels}
    layers = spatial_layers(model, result)
    planned = []
    for layer, vmax in zip(layers, color_ranges(layers, mode), strict=True):
        channels = layer.values.shape[0]
        planned.append((layer, vmax, sources(layer.node, drawn, aliases, channels)))
        drawn[layer.name] = channels
    return planned


def overview(model: Model, result: ForwardResult, classes: list[str], preview: np.ndarray,
             mode: RangeMode = "layer", pages: Mapping[str, int] | None = None
             ) -> tuple[dict[str, Any], np.ndarray]:
    """The whole overview for one image.

    preview: the model input as display pixels `(H, W, C)` uint8.
    pages: per column name, a channel whose page it shows (else its first `PAGE`).
    Returns (view, rasters): `view` is JSON-ready; `rasters` is one flat uint8 buffer of
    the shown RGBA tiles, each tile addressed by its `offset` and its column's width and
    height.
    """
    pages = pages or {}
    encoding, input_tiles = input_rasters(preview)
    pixels = np.moveaxis(preview, -1, 0).astype(np.float32)
    # Every channel of the picture shows: a model's input is grey or RGB (`preprocess`).
    input_column = _column(result.input_name, "input", encoding, pixels,
                           _tiles(pixels, 0, None, range(len(pixels))),
                           colormap.legend(0.0, 255.0, "grey"))
    columns = [input_column]
    chunks = [input_tiles.reshape(-1)]
    offset = input_tiles.size
    for layer, vmax, wiring in _plan(model, result, mode, len(pixels)):
        shown = page_of(pages.get(layer.name, 0), layer.values.shape[0])
        columns.append(_layer_column(model, layer, vmax, offset, shown, wiring))
        chunks.append(_page_rasters(layer, vmax, shown))
        offset += chunks[-1].size

    view = {"mode": mode, "page": PAGE, "columns": columns,
            "output": _output(model, result, classes, columns[-1])}
    return view, np.concatenate(chunks)


def column_page(model: Model, result: ForwardResult, mode: RangeMode, layer: str,
                channel: int) -> tuple[dict[str, Any], np.ndarray]:
    """One column of `overview` showing the page that holds `channel`, as that function
    makes it, its tiles' offsets into its own RGBA buffer."""
    planned = _plan(model, result, mode, result.tensors[result.input_name].shape[1])
    found = next((p for p in planned if p[0].name == layer), None)
    if found is None:
        raise CnnlensError(f"the overview has no column {layer!r} with channels to page through")
    drawn, vmax, wiring = found
    count = drawn.values.shape[0]
    if not 0 <= channel < count:
        raise CnnlensError(f"{layer} has channels 0 to {count - 1}, not {channel}")
    shown = page_of(channel, count)
    return _layer_column(model, drawn, vmax, 0, shown, wiring), _page_rasters(drawn, vmax, shown)
