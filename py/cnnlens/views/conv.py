"""The convolution view: how one output channel is computed, with the real numbers.

One row per input channel: the input map, its kernel, and the intermediate result of
sliding that kernel over it; their element-wise sum plus the bias is the output map. The
window products are recomputed here from the input and the kernel (NumPy windows, not the
engine's matrix product) and checked against the engine's output before anything is shown.
The running sums the page animates (product by product, then channel by channel) are
packed too, so the page only looks numbers up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from ..ops.windows import pad_spatial, plan_from_attributes, sliding_windows
from . import colormap
from .bundle import Bundle

# float32 engine vs float64 recomputation: differences stay far below this.
_AGREEMENT = 1e-4


def _half_range(values: np.ndarray) -> float:
    return float(np.abs(values).max())


def conv_view(model: Model, result: ForwardResult, layer: str,
              channel: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """View-model of output `channel` of Conv node output `layer`.

    Arrays: `inputs` (Cg, Hp, Wp) the padded input channels of this neuron's group,
    `kernels` (Cg, kH, kW), `products` (Cg, Ho, Wo, kH, kW) of every window position,
    `partials` (Cg, Ho, Wo, kH·kW) the running sum of one window's products in row-major
    order (its last entry is the intermediate), `intermediates` (Cg, Ho, Wo) their sums,
    `channel_partials` (Cg, Ho, Wo) the running sum of the intermediates over the channels
    (its last entry plus the bias is the output), `output` (Ho, Wo) the engine's output.
    Images: `inputs`, `kernels` (weight scale), `products`, `intermediates`, `output`.
    """
    node = model.graph.producers.get(layer)
    if node is None or node.op_type != "Conv":
        raise CnnlensError(f"{layer!r} is not the output of a convolution")
    weights = model.graph.initializers.get(node.inputs[1])
    if weights is None:
        raise CnnlensError(f"the kernels of {layer!r} are computed, not stored; cannot show them")
    x = result.tensors[node.inputs[0]][0]
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    bias = model.graph.initializers.get(bias_name, np.zeros(weights.shape[0], np.float32))
    groups = int(node.attributes.get("group", 1))
    per_group = x.shape[0] // groups
    first = (channel // (weights.shape[0] // groups)) * per_group
    inputs = x[first:first + per_group].astype(np.float64)
    kernels = weights[channel].astype(np.float64)

    plan = plan_from_attributes(x.shape[1:], kernels.shape[1:], node.attributes, "Conv")
    padded = pad_spatial(inputs[None], plan, 0.0)[0]
    windows = sliding_windows(padded[None], plan)[0]  # (Cg, Ho, Wo, kH, kW)
    products = windows * kernels[:, None, None]
    partials = np.cumsum(products.reshape(*products.shape[:3], -1), axis=-1)
    intermediates = partials[..., -1]
    channel_partials = np.cumsum(intermediates, axis=0)
    recomputed = channel_partials[-1] + float(bias[channel])
    output = result.tensors[layer][0, channel]
    if not np.allclose(recomputed, output, rtol=_AGREEMENT, atol=_AGREEMENT):
        raise CnnlensError(f"recomputing {layer!r} channel {channel} disagrees with the engine")

    bundle = Bundle()
    bundle.array("inputs", padded)
    bundle.array("kernels", kernels)
    bundle.array("products", products)
    bundle.array("partials", partials)
    bundle.array("intermediates", intermediates)
    bundle.array("channel_partials", channel_partials)
    bundle.array("output", output)
    in_range = _half_range(x)
    bundle.image("inputs", colormap.diverging(padded, in_range))
    bundle.image("kernels", colormap.diverging(kernels, _half_range(weights), "weight"))
    product_range = _half_range(products)
    bundle.image("products", colormap.diverging(products, product_range))
    mid_range = _half_range(intermediates)
    bundle.image("intermediates", colormap.diverging(intermediates, mid_range))
    out_range = _half_range(result.tensors[layer])
    bundle.image("output", colormap.diverging(output, out_range))
    view = {
        "kind": "conv", "layer": layer, "channel": channel, "input": node.inputs[0],
        "input_channels": list(range(first, first + per_group)),
        "bias": float(bias[channel]),
        "stride": list(plan.strides), "dilation": list(plan.dilations),
        "pads": [list(plan.pads_begin), list(plan.pads_end)],
        "out": list(plan.output),
        "ranges": {"input": in_range, "product": product_range, "intermediate": mid_range,
                   "output": out_range, "weight": _half_range(weights)},
        "legends": {"input": colormap.legend(-in_range, in_range, "activation"),
                    "weight": colormap.legend(-_half_range(weights), _half_range(weights),
                                              "weight"),
                    "product": colormap.legend(-product_range, product_range, "activation")},
    }
    return bundle.pack(view)
