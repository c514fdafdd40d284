"""The pooling view: each k×k window of the input and the one value it keeps."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from ..ops.windows import pad_spatial, plan_from_attributes, sliding_windows
from . import colormap
from .bundle import Bundle

_POOLS = {"MaxPool": "max", "AveragePool": "mean"}


def pool_view(model: Model, result: ForwardResult, layer: str,
              channel: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Arrays: `input` (Hp, Wp) padded (padding as NaN: it holds no value), `output` (Ho, Wo),
    `picks` (Ho, Wo) the flat window index of each maximum (max pooling only)."""
    node = model.graph.producers.get(layer)
    if node is None or node.op_type not in _POOLS:
        raise CnnlensError(f"{layer!r} is not the output of max or average pooling")
    x = result.tensors[node.inputs[0]][0, channel]
    kernel = tuple(int(k) for k in node.attributes["kernel_shape"])
    plan = plan_from_attributes(x.shape, kernel, node.attributes, node.op_type,
                                ceil_mode=bool(node.attributes.get("ceil_mode", 0)))
    padded = pad_spatial(x[None, None].astype(np.float64), plan, np.nan)[0, 0]
    windows = sliding_windows(padded[None, None], plan)[0, 0]  # (Ho, Wo, kH, kW)
    flat = windows.reshape(*windows.shape[:2], -1)
    output = result.tensors[layer][0, channel]
    reach = float(np.abs(result.tensors[node.inputs[0]]).max())
    bundle = Bundle()
    bundle.array("input", padded)
    bundle.array("output", output)
    if _POOLS[node.op_type] == "max":
        picks = np.nanargmax(np.where(np.isnan(flat), -np.inf, flat), axis=-1)
        if not np.allclose(np.take_along_axis(flat, picks[..., None], -1)[..., 0], output):
            raise CnnlensError(f"recomputing {layer!r} channel {channel} disagrees with the engine")
        bundle.array("picks", picks)
    bundle.image("input", colormap.diverging(np.nan_to_num(padded), reach))
    bundle.image("output", colormap.diverging(output, reach))
    view = {"kind": "pool", "op": _POOLS[node.op_type], "layer": layer, "channel": channel,
            "input": node.inputs[0], "kernel": list(plan.kernel), "stride": list(plan.strides),
            "dilation": list(plan.dilations), "pads": [list(plan.pads_begin), list(plan.pads_end)],
            "out": list(plan.output), "range": reach}
    return bundle.pack(view)
