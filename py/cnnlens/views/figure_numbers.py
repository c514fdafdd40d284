"""The numbers the article's small figures show, picked from one forward pass.

Each function takes the engine's own tensors (nothing is recomputed but the average a pooling
window *would* give, for comparison) and returns plain data, `None` when the model has no
such layer; `views.figures` words and draws them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..forward import ForwardResult
from ..graph import Model, Node
from . import colormap

RELU_POINTS = 15
"""How many values of the ReLU's input the ReLU figure plots."""


def fmt(x: float) -> str:
    """A number for the reader: three significant digits, a true minus sign."""
    if x == 0:
        return "0"
    text = f"{x:.2e}" if abs(x) >= 1000 or abs(x) < 0.001 else f"{x:.3g}"
    return text.replace("-", "\u2212")


def _first(model: Model, result: ForwardResult, op_type: str) -> Node | None:
    """The first node of ``op_type`` (in execution order) whose input is a map `(N, C, H, W)`."""
    for node in model.graph.nodes:
        if node.op_type == op_type and result.tensors[node.inputs[0]].ndim == 4:
            return node
    return None


def relu_points(model: Model, result: ForwardResult, count: int = RELU_POINTS
                ) -> dict[str, Any] | None:
    """Values of channel 0 of the first ReLU: its input x and the engine's output y.

    The values are picked evenly across the range of x (the nearest actual value to each
    of ``count`` evenly spaced targets), so the plot shows both sides of zero. None when
    the model has no ReLU on a map.
    """
    node = _first(model, result, "Relu")
    if node is None:
        return None
    before = result.tensors[node.inputs[0]][0, 0]  # (H, W)
    after = result.tensors[node.outputs[0]][0, 0]
    flat = before.ravel()
    order = np.argsort(flat, kind="stable")
    targets = np.linspace(flat[order[0]], flat[order[-1]], count)
    ranks = np.clip(np.searchsorted(flat[order], targets), 0, flat.size - 1)
    picks = np.unique(order[ranks])
    picks = picks[np.argsort(flat[picks], kind="stable")]
    rows, cols = np.unravel_index(picks, before.shape)
    xs, ys = flat[picks], after.ravel()[picks]
    reach = float(np.abs(flat).max())
    return {
        "layer": node.outputs[0], "input": node.inputs[0], "channel": 0,
        "reach": reach,
        "points": [{"x": float(x), "y": float(y), "row": int(r), "col": int(c),
                    "text": f"x = {fmt(float(x))} → y = max(0, x) = {fmt(float(y))} "
                            f"(row {r}, column {c})"}
                   for x, y, r, c in zip(xs, ys, rows, cols, strict=True)],
    }


def pool_windows(model: Model, result: ForwardResult) -> dict[str, Any] | None:
    """Four neighbouring windows (2 × 2 outputs) of channel 0 of the first max pool.

    The patch is where each of the four windows holds different values, so every step
    shows a choice. ``max`` holds the engine's outputs, ``average``
    what an average pool would give instead, ``argmax`` where each window's max lies in
    the patch. None when the model has no 2D max pool without padding or dilation.
    """
    node = _first(model, result, "MaxPool")
    if node is None:
        return None
    attrs = node.attributes
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", (1, 1))
    if any(attrs.get("pads", (0,))) or any(d != 1 for d in attrs.get("dilations", (1,))):
        return None
    source = result.tensors[node.inputs[0]][0, 0]  # (H, W)
    pooled = result.tensors[node.outputs[0]][0, 0]  # (OH, OW)
    if pooled.shape[0] < 2 or pooled.shape[1] < 2:
        return None
    # Each output's window and its spread (max − min): pick the 2 × 2 outputs whose
    # weakest window spreads most, so no step shows a window of equal values.
    every = np.lib.stride_tricks.sliding_window_view(source, (kh, kw))[::sh, ::sw]
    every = every[:pooled.shape[0], :pooled.shape[1]]  # (OH, OW, kh, kw)
    spread = every.max(axis=(2, 3)) - every.min(axis=(2, 3))
    weakest = np.minimum.reduce([spread[:-1, :-1], spread[1:, :-1], spread[:-1, 1:],
                                 spread[1:, 1:]])  # (OH-1, OW-1)
    oy, ox = (int(i) for i in np.unravel_index(np.argmax(weakest), weakest.shape))
    ph, pw = sh + kh, sw + kw  # the input under 2 × 2 neighbouring outputs
    patch = source[oy * sh:oy * sh + ph, ox * sw:ox * sw + pw]
    windows = np.lib.stride_tricks.sliding_window_view(patch, (kh, kw))[::sh, ::sw][:2, :2]
    flat = windows.reshape(2, 2, kh * kw)
    where = np.argmax(flat, axis=2)  # (2, 2): the first max, as MaxPool's index output
    starts = np.stack(np.meshgrid(np.arange(2) * sh, np.arange(2) * sw, indexing="ij"), -1)
    argmax = starts + np.stack([where // kw, where % kw], axis=-1)  # (2, 2, 2) in the patch
    maxima = pooled[oy:oy + 2, ox:ox + 2].astype(float)
    averages = flat.mean(axis=2, dtype=np.float64)
    steps = [f"Window {i + 1} of 4 ({kh} × {kw}): its largest value, {fmt(maxima[r, c])}, is "
             f"the max-pool output; an average pool would give {fmt(averages[r, c])}."
             for i, (r, c) in enumerate(np.ndindex(2, 2))]
    return {
        "layer": node.outputs[0], "input": node.inputs[0], "channel": 0, "steps": steps,
        "kernel": [int(kh), int(kw)], "stride": [int(sh), int(sw)],
        "origin": [oy * sh, ox * sw], "out_origin": [oy, ox],
        "reach": float(np.abs(result.tensors[node.inputs[0]]).max()),
        "patch": patch.astype(float).tolist(),
        "max": maxima.tolist(),
        "average": averages.tolist(),
        "argmax": argmax.tolist(),
    }


def softmax_bars(result: ForwardResult, classes: list[str]) -> dict[str, Any]:
    """Each class's logit and probability, as the engine computed them."""
    logits = result.logits[0]
    probabilities = result.probabilities[0]
    return {
        "logits_name": result.logits_name,
        "top1": int(np.argmax(probabilities)),
        "classes": [{"name": name, "logit": float(z), "probability": float(p)}
                    for name, z, p in zip(classes, logits, probabilities, strict=True)],
    }


def colour_scales(model: Model, result: ForwardResult) -> dict[str, Any]:
    """The three legends of the overview with this image's ranges: activations of the first
    convolution (per layer, centred on zero), that convolution's weights, the logits."""
    conv = _first(model, result, "Conv")
    scales: dict[str, Any] = {}
    if conv is not None:
        reach = float(np.abs(result.tensors[conv.outputs[0]]).max())
        scales["activation"] = {**colormap.legend(-reach, reach, "activation"),
                                "layer": conv.outputs[0]}
        weights = model.graph.initializers.get(conv.inputs[1])
        if weights is not None:
            top = float(np.abs(weights).max())
            scales["weight"] = {**colormap.legend(-top, top, "weight"), "layer": conv.outputs[0]}
    logits = result.logits[0]
    scales["logit"] = {**colormap.legend(float(logits.min()), float(logits.max()), "logit"),
                       "layer": result.logits_name}
    return scales
