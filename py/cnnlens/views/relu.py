"""The ReLU view: an input map and its output, max(0, x) pixel by pixel."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from . import colormap
from .bundle import Bundle


def relu_view(model: Model, result: ForwardResult, layer: str,
              channel: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Arrays `input` and `output`, both `(H, W)`: the engine's tensors for `channel`."""
    node = model.graph.producers.get(layer)
    if node is None or node.op_type != "Relu":
        raise CnnlensError(f"{layer!r} is not the output of a ReLU")
    before = result.tensors[node.inputs[0]][0, channel]
    after = result.tensors[layer][0, channel]
    reach = float(np.abs(result.tensors[node.inputs[0]]).max())
    bundle = Bundle()
    bundle.array("input", before)
    bundle.array("output", after)
    bundle.image("input", colormap.diverging(before, reach))
    bundle.image("output", colormap.diverging(after, reach))
    view = {"kind": "relu", "layer": layer, "channel": channel, "input": node.inputs[0],
            "range": reach}
    return bundle.pack(view)
