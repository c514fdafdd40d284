"""The pooling view: each k×k window of the input and the one value it keeps.

The page steps through a window one value at a time, so the running result is packed too:
the largest value so far (max pooling), or the sum so far and the count it is divided by
(average pooling); the page only looks numbers up. Both are recomputed here from the
padded input and checked against the engine's output before anything is shown.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from ..ops.windows import WindowPlan, pad_spatial, plan_from_attributes, sliding_windows
from . import colormap
from .bundle import Bundle

_POOLS = {"MaxPool": "max", "AveragePool": "mean"}
# float32 engine vs float64 recomputation: differences stay far below this.
_AGREEMENT = 1e-4


def _counts(spatial: tuple[int, ...], plan: WindowPlan, include_pad: bool) -> np.ndarray:
    """(Ho, Wo): how many positions each window averages; the declared padding counts only
    with `include_pad`, the ceil-mode overhang never."""
    declared = list(zip(plan.pads_begin, plan.pads_end, strict=True))
    counted = np.pad(np.ones(spatial), declared, constant_values=float(include_pad))
    counted = np.pad(counted, [(0, o) for o in plan.overhang])
    return sliding_windows(counted[None, None], plan)[0, 0].sum(axis=(-2, -1))


def pool_view(model: Model, result: ForwardResult, layer: str,
              channel: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Arrays: `input` (Hp, Wp) padded (padding as NaN: it holds no value), `output` (Ho, Wo),
    `running` (Ho, Wo, kH·kW) the window's running result in row-major tap order: the
    largest value so far (NaN while only padding was seen) or the sum so far (padding adds
    0); max pooling: `picks` (Ho, Wo) the flat window index of each maximum; average
    pooling: `counts` (Ho, Wo) what each window's sum is divided by."""
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
        running = np.fmax.accumulate(flat, axis=-1)
        picks = np.nanargmax(np.where(np.isnan(flat), -np.inf, flat), axis=-1)
        kept = np.take_along_axis(flat, picks[..., None], -1)[..., 0]
        agrees = np.allclose(kept, output) and np.allclose(running[..., -1], output)
        bundle.array("picks", picks)
    else:
        running = np.cumsum(np.nan_to_num(flat), axis=-1)
        counts = _counts(x.shape, plan, bool(node.attributes.get("count_include_pad", 0)))
        mean = running[..., -1] / np.maximum(counts, 1)
        agrees = np.allclose(mean, output, rtol=_AGREEMENT, atol=_AGREEMENT)
        bundle.array("counts", counts)
    if not agrees:
        raise CnnlensError(f"recomputing {layer!r} channel {channel} disagrees with the engine")
    bundle.array("running", running)
    bundle.image("input", colormap.diverging(np.nan_to_num(padded), reach))
    bundle.image("output", colormap.diverging(output, reach))
    view = {"kind": "pool", "op": _POOLS[node.op_type], "layer": layer, "channel": channel,
            "input": node.inputs[0], "kernel": list(plan.kernel), "stride": list(plan.strides),
            "dilation": list(plan.dilations), "pads": [list(plan.pads_begin), list(plan.pads_end)],
            "out": list(plan.output), "range": reach,
            "legend": colormap.legend(-reach, reach, "activation")}
    return bundle.pack(view)
