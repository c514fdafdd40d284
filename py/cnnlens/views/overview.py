"""The overview: input channels, one tile per channel of every spatial layer, class scores.

`overview()` returns a JSON-ready dictionary plus one flat RGBA byte buffer holding
every tile's raster, so the page crosses the Python→JS bridge once per redraw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..forward import ForwardResult
from ..graph import Model
from . import colormap

RangeMode = Literal["neuron", "layer", "network"]
RANGE_MODES: tuple[RangeMode, ...] = ("neuron", "layer", "network")

# Op types that only pass a tensor through: a column for them would repeat its neighbour.
_PASS_THROUGH = {"Identity", "Dropout"}

_KINDS = {
    "Conv": "conv",
    "Relu": "relu", "LeakyRelu": "relu", "Clip": "relu", "Sigmoid": "relu", "Tanh": "relu",
    "MaxPool": "pool", "AveragePool": "pool", "GlobalAveragePool": "pool",
    "BatchNormalization": "norm",
}


@dataclass(frozen=True)
class SpatialLayer:
    """One node output drawn as a column of activation maps."""

    name: str
    op_type: str
    values: np.ndarray  # (C, H, W), batch item 0

    @property
    def kind(self) -> str:
        return _KINDS.get(self.op_type, "other")


def spatial_layers(model: Model, result: ForwardResult) -> list[SpatialLayer]:
    """Every node output of rank 4 (N, C, H, W), in execution order."""
    producers = model.graph.producers
    layers = []
    for name, tensor in result.tensors.items():
        node = producers.get(name)
        if node is None or node.op_type in _PASS_THROUGH or tensor.ndim != 4:
            continue
        layers.append(SpatialLayer(name, node.op_type, tensor[0]))
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


def _legend(vmax: float) -> dict[str, Any]:
    stops = colormap.lookup(np.linspace(0.0, 1.0, 11), "activation")
    return {"min": -vmax, "max": vmax, "colors": [colormap.hex_colour(c) for c in stops]}


def _column(name: str, kind: str, op_type: str, values: np.ndarray, offset: int,
            vmax: np.ndarray | None) -> dict[str, Any]:
    c, h, w = values.shape
    lows, highs = values.min(axis=(1, 2)), values.max(axis=(1, 2))
    tiles = [
        {
            "channel": k,
            "offset": offset + k * h * w * 4,
            "min": float(lows[k]),
            "max": float(highs[k]),
            **({"range": float(vmax[k, 0, 0])} if vmax is not None else {}),
        }
        for k in range(c)
    ]
    column: dict[str, Any] = {
        "name": name, "kind": kind, "op": op_type, "shape": [c, h, w],
        "label": f"{name} · {_shape_label((c, h, w))}", "width": w, "height": h, "tiles": tiles,
    }
    if vmax is not None:
        column["legend"] = _legend(float(vmax.max()))
    return column


def overview(model: Model, result: ForwardResult, classes: list[str], preview: np.ndarray,
             mode: RangeMode = "layer") -> tuple[dict[str, Any], np.ndarray]:
    """The whole overview for one image.

    preview: the model input as display pixels `(H, W, C)` uint8.
    Returns (view, rasters): `view` is JSON-ready; `rasters` is one flat uint8 buffer of
    RGBA tiles, each tile addressed by its `offset` and its column's width and height.
    """
    encoding, input_tiles = input_rasters(preview)
    chunks = [input_tiles.reshape(-1)]
    columns = [_column(result.input_name, "input", encoding, np.moveaxis(preview, -1, 0)
                       .astype(np.float32), 0, None)]
    offset = input_tiles.size

    layers = spatial_layers(model, result)
    for layer, vmax in zip(layers, color_ranges(layers, mode), strict=True):
        rgba = colormap.diverging(layer.values, vmax)
        columns.append(_column(layer.name, layer.kind, layer.op_type, layer.values, offset, vmax))
        chunks.append(rgba.reshape(-1))
        offset += rgba.size

    probabilities = result.probabilities[0]
    logits = result.logits[0]
    top = int(np.argmax(probabilities))
    view = {
        "mode": mode,
        "columns": columns,
        "output": {
            "name": result.logits_name,
            "classes": [
                {"index": i, "name": classes[i], "probability": float(p), "logit": float(z)}
                for i, (p, z) in enumerate(zip(probabilities, logits, strict=True))
            ],
            "top1": top,
        },
    }
    return view, np.concatenate(chunks)
