"""The numbers behind one neuron (one channel of one layer, or one class of the output).

This is what the detail panel shows until the per-kind detail views exist: the map's
size and value range, and for a convolution the kernels and bias that produced it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from . import colormap


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"min": float(values.min()), "max": float(values.max()),
            "mean": float(values.mean()), "std": float(values.std())}


def _conv_parameters(model: Model, layer: str, channel: int) -> dict[str, Any]:
    node = model.graph.producers[layer]
    weights = model.graph.initializers.get(node.inputs[1]) if len(node.inputs) > 1 else None
    if weights is None:
        return {}
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    bias = model.graph.initializers.get(bias_name)
    kernels = weights[channel]  # (C_in / groups, kH, kW)
    # One weight scale for the whole layer, so kernels of different neurons compare.
    rgba = colormap.diverging(kernels, float(np.abs(weights).max()), "weight")
    return {
        "kernels": kernels.astype(float).tolist(),
        "kernel_colors": [[[colormap.hex_colour(c) for c in row] for row in k] for k in rgba],
        "bias": float(bias[channel]) if bias is not None else 0.0,
    }


def neuron(model: Model, result: ForwardResult, classes: list[str], layer: str,
           channel: int) -> dict[str, Any]:
    """Plain data about `channel` of `layer`; raises CnnlensError for a name we do not draw."""
    if layer == result.logits_name:
        if not 0 <= channel < result.logits.shape[-1]:
            raise CnnlensError(f"the output has no class {channel}")
        return {"layer": layer, "kind": "output", "channel": channel, "name": classes[channel],
                "logit": float(result.logits[0, channel]),
                "probability": float(result.probabilities[0, channel])}
    tensor = result.tensors.get(layer)
    if tensor is None or tensor.ndim != 4:
        raise CnnlensError(f"there is no layer {layer!r} with activation maps")
    if not 0 <= channel < tensor.shape[1]:
        raise CnnlensError(f"layer {layer!r} has {tensor.shape[1]} channels, not {channel + 1}")
    values = tensor[0, channel]
    node = model.graph.producers.get(layer)
    info: dict[str, Any] = {
        "layer": layer, "kind": "input" if node is None else node.op_type, "channel": channel,
        "shape": list(values.shape), **_stats(values),
    }
    if node is not None and node.op_type == "Conv":
        info.update(_conv_parameters(model, layer, channel))
    return info
