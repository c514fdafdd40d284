"""The numbers behind one neuron (one channel of one layer, or one class of the output).

This is what the detail panel shows for a layer kind without a view of its own (the input,
normalisation, …) and for a class whose output layer the flatten view cannot draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"min": float(values.min()), "max": float(values.max()),
            "mean": float(values.mean()), "std": float(values.std())}


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
    return info
