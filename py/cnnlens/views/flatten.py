"""The flatten-and-output view: how the last maps become one vector and one class's logit.

Follows the common classifier head, [Flatten or Reshape] → [Gemm or MatMul]: the (C, H, W)
maps are read channel by channel into a vector of C·H·W numbers, and a class's logit is
that vector times the class's row of weights, plus its bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from . import colormap
from .bundle import Bundle


def _dense_row(model: Model, result: ForwardResult, index: int) -> tuple[str, np.ndarray, float]:
    """(input tensor name, weight row `(N,)`, bias) of the layer producing the logits."""
    node = model.graph.producers.get(result.logits_name)
    inits = model.graph.initializers
    if node is not None and node.op_type == "Gemm" and node.inputs[1] in inits:
        weights = inits[node.inputs[1]]
        row = weights[index] if node.attributes.get("transB", 0) else weights[:, index]
        bias = inits.get(node.inputs[2]) if len(node.inputs) > 2 else None
        alpha = float(node.attributes.get("alpha", 1.0))
        beta = float(node.attributes.get("beta", 1.0))
        b = 0.0 if bias is None else float(np.broadcast_to(bias, (result.logits.shape[-1],))[index])
        return node.inputs[0], alpha * row.astype(np.float64), beta * b
    if node is not None and node.op_type == "MatMul" and node.inputs[1] in inits:
        return node.inputs[0], inits[node.inputs[1]][:, index].astype(np.float64), 0.0
    raise CnnlensError("this model's output layer is not a Gemm or MatMul with stored weights")


def flatten_view(model: Model, result: ForwardResult, classes: list[str],
                 index: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Arrays: `maps` (C, H, W), `vector` (N,), `weights` (N,), `contributions` (N,)."""
    if not 0 <= index < result.logits.shape[-1]:
        raise CnnlensError(f"the output has no class {index}")
    vector_name, row, bias = _dense_row(model, result, index)
    flatten = model.graph.producers.get(vector_name)
    if flatten is None or flatten.op_type not in ("Flatten", "Reshape"):
        raise CnnlensError("the output layer does not read a flattened stack of maps")
    maps = result.tensors[flatten.inputs[0]][0]
    vector = result.tensors[vector_name][0].astype(np.float64)
    if maps.ndim != 3 or vector.size != maps.size or row.size != vector.size:
        raise CnnlensError("the flattened vector does not match the maps it came from")
    contributions = vector * row
    logit = float(contributions.sum() + bias)
    if not np.isclose(logit, result.logits[0, index], rtol=1e-4, atol=1e-4):
        raise CnnlensError(f"recomputing the logit of {classes[index]!r} disagrees with the engine")

    reach = float(np.abs(maps).max())
    weight_reach = float(np.abs(row).max())
    bundle = Bundle()
    bundle.array("maps", maps)
    bundle.array("vector", vector)
    bundle.array("weights", row)
    bundle.array("contributions", contributions)
    bundle.image("maps", colormap.diverging(maps, reach))
    bundle.image("vector", colormap.diverging(vector[None], reach))
    bundle.image("weights", colormap.diverging(row[None], weight_reach, "weight"))
    per_channel = maps.shape[1] * maps.shape[2]
    view = {
        "kind": "flatten", "layer": result.logits_name, "channel": index, "name": classes[index],
        "maps_name": flatten.inputs[0], "vector_name": vector_name, "bias": bias,
        "logit": float(result.logits[0, index]),
        "ranges": [[c * per_channel, (c + 1) * per_channel - 1] for c in range(maps.shape[0])],
    }
    return bundle.pack(view)
