"""The attribution view: which input pixels the selected neuron or class responds to.

For the current image and one target (a class's logit, or a channel's mean activation) it
computes the maps of :data:`cnnlens.methods.attribution.METHODS` with
:func:`cnnlens.methods.attribution.attribute` and packs, per method, the numbers the
engine answered, the same numbers coloured for the page and a transparent overlay of
them for drawing on top of the input. The page only draws what is packed here
(``assets/js/views/attribution.js``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from ..methods.attribution import CAM_METHODS, METHODS, attribute, cam_layers, upsample
from ..methods.targets import Target, target_for
from . import colormap
from .bundle import Bundle

PIXEL_METHODS = ("saliency", "gradient-x-input", "deconvnet", "guided", "guided-gradcam")
"""Methods whose map has the input's shape `(1, C, H, W)`; Grad-CAM's is a layer's `(H', W')`."""

# Each method's title, what it shows in our own words, and the paper it comes from.
ABOUT: dict[str, dict[str, Any]] = {
    "saliency": {
        "title": "Saliency (vanilla gradient)",
        "text": "How much the target would change if one input pixel were nudged a little: "
                "the gradient of the target with respect to the input, taken straight back "
                "through every layer. Large values (either sign) mark the pixels the target "
                "is most sensitive to, whether or not they are bright.",
        "paper": {"authors": "Simonyan, Vedaldi and Zisserman", "year": 2014,
                  "title": "Deep Inside Convolutional Networks: Visualising Image "
                           "Classification Models and Saliency Maps",
                  "url": "https://arxiv.org/abs/1312.6034"},
    },
    "gradient-x-input": {
        "title": "Gradient × input",
        "text": "The gradient multiplied by the pixel value itself, so a pixel counts only if "
                "it is both present and influential. For a network without ReLUs this is "
                "exactly each pixel's share of the target; with them it is a first-order "
                "estimate of that share.",
        "paper": {"authors": "Shrikumar, Greenside, Shcherbina and Kundaje", "year": 2016,
                  "title": "Not Just a Black Box: Learning Important Features Through "
                           "Propagating Activation Differences",
                  "url": "https://arxiv.org/abs/1605.01713"},
    },
    "deconvnet": {
        "title": "DeconvNet",
        "text": "The signal is sent back down through the transposed convolutions, but every "
                "ReLU on the way lets through only the positive part of what comes back, "
                "regardless of what it did going forward. It shows which patterns in the "
                "input would excite the target, more than where they are.",
        "paper": {"authors": "Zeiler and Fergus", "year": 2014,
                  "title": "Visualizing and Understanding Convolutional Networks",
                  "url": "https://arxiv.org/abs/1311.2901"},
    },
    "guided": {
        "title": "Guided backpropagation",
        "text": "The gradient, except that every ReLU passes a signal back only where its input "
                "was positive going forward and the signal coming back is positive too. Both "
                "filters together give sharp, low-noise pictures of the edges the target "
                "responds to.",
        "paper": {"authors": "Springenberg, Dosovitskiy, Brox and Riedmiller", "year": 2015,
                  "title": "Striving for Simplicity: The All Convolutional Net",
                  "url": "https://arxiv.org/abs/1412.6806"},
    },
    "gradcam": {
        "title": "Grad-CAM",
        "text": "Weights each channel of a convolutional layer by its average gradient, adds "
                "the weighted maps and keeps the positive part. The map is as coarse as the "
                "layer, but says which region of the image counts in favour of the target; "
                "here it is stretched to the input's size to lie over it.",
        "paper": {"authors": "Selvaraju, Cogswell, Das, Vedantam, Parikh and Batra",
                  "year": 2017,
                  "title": "Grad-CAM: Visual Explanations from Deep Networks via "
                           "Gradient-based Localization",
                  "url": "https://arxiv.org/abs/1610.02391"},
    },
    "guided-gradcam": {
        "title": "Guided Grad-CAM",
        "text": "Guided backpropagation multiplied pixel by pixel by the stretched Grad-CAM "
                "map: fine detail, but only inside the region Grad-CAM found. It is as sharp "
                "as the one and as focused as the other.",
        "paper": {"authors": "Selvaraju, Cogswell, Das, Vedantam, Parikh and Batra",
                  "year": 2017,
                  "title": "Grad-CAM: Visual Explanations from Deep Networks via "
                           "Gradient-based Localization",
                  "url": "https://arxiv.org/abs/1610.02391"},
    },
}

AttributionView = tuple[dict[str, Any], np.ndarray, np.ndarray]
"""(JSON-ready view, float32 numbers, RGBA rasters), see `views.bundle`."""


def overlay(values: np.ndarray, reach: float, signed: bool) -> np.ndarray:
    """Values `(H, W)` → RGBA `(H, W, 4)`: the map's colours, opaque where |value| is `reach`
    and transparent at zero, so the input shows through where the map says nothing."""
    rgba = _colour(values, reach, signed)
    safe = reach if reach > 0 else 1.0
    rgba[..., 3] = np.rint(np.clip(np.abs(values) / safe, 0.0, 1.0) * 255).astype(np.uint8)
    return rgba


def summary(attribution: np.ndarray) -> np.ndarray:
    """A pixel-space map `(C, H, W)` → one value per pixel `(H, W)`: the sum over channels.

    The sum keeps the sign; for gradient × input it is each pixel's share of the
    first-order estimate, its three colour channels together. One channel is itself.
    """
    return attribution.sum(axis=0)


def _colour(values: np.ndarray, reach: float, signed: bool) -> np.ndarray:
    """Values `(*S)` → RGBA `(*S, 4)`: signed ones on the diverging scale from −reach to
    +reach, non-negative ones (Grad-CAM) on the sequential one from 0 to reach."""
    if signed:
        return colormap.diverging(values, reach)
    return colormap.sequential(values, 0.0, reach if reach > 0 else 1.0, "logit")


def _pack_method(bundle: Bundle, name: str, values: np.ndarray, shown: np.ndarray,
                 signed: bool) -> dict[str, Any]:
    """Adds one method's arrays and images; returns its entry of the view.

    values: what the engine answered (`(C, H, W)` or `(H', W')`); shown: the `(H, W)` map
    drawn beside and over the input.
    """
    # The scale covers every value shown or listed: Grad-CAM's stretched map never exceeds
    # the layer's own, and a sum over colour channels may exceed each channel.
    reach = max(float(np.abs(shown).max()), float(np.abs(values).max()))
    bundle.array(name, values)
    bundle.array(f"{name}/shown", shown)
    bundle.image(name, _colour(shown, reach, signed))
    bundle.image(f"{name}/overlay", overlay(shown, reach, signed))
    low = -reach if signed else 0.0
    entry = {"name": name, **ABOUT[name], "signed": signed,
             "min": float(values.min()), "max": float(values.max()), "reach": reach,
             "legend": colormap.legend(low, reach, "activation" if signed else "logit")}
    if values.ndim == 3 and values.shape[0] > 1:
        # Colour inputs: each channel too, the three on one scale so that they compare.
        channel_reach = float(np.abs(values).max())
        bundle.image(f"{name}/channels", _colour(values, channel_reach, signed))
        entry["channel_reach"] = channel_reach
    return entry


def _input_image(preview: np.ndarray) -> np.ndarray:
    """Display pixels `(H, W, C)` uint8 → opaque RGBA `(H, W, 4)` (grey or colour)."""
    rgb = preview if preview.shape[-1] == 3 else np.repeat(preview[..., :1], 3, axis=-1)
    alpha = np.full((*preview.shape[:2], 1), 255, np.uint8)
    return np.concatenate([rgb, alpha], axis=-1)


def _upstream(model: Model, tensor: str) -> set[str]:
    """Every tensor that `tensor` is computed from, itself included."""
    found = {tensor}
    for node in reversed(model.topological_order()):  # a loop over nodes, not values
        if any(name in found for name in node.outputs if name):
            found.update(name for name in node.inputs if name)
    return found


def grad_cam_layers(model: Model, result: ForwardResult, target: Target) -> tuple[str, ...]:
    """The convolutional layers Grad-CAM can explain `target` by: those it is computed from
    (its own layer included), in execution order; the last is the default."""
    before = _upstream(model, target.layer)
    return tuple(name for name in cam_layers(model, result) if name in before)


def describe(target: Target, classes: list[str]) -> dict[str, Any]:
    """What the target is, in words, for the panel's heading."""
    if target.is_class:
        label = f"class {target.channel} “{classes[target.channel]}” (its logit)"
    else:
        label = f"channel {target.channel} of {target.layer} (its mean activation)"
    return {"kind": target.kind, "layer": target.layer, "channel": target.channel,
            "label": label}


def attribution_view(model: Model, result: ForwardResult, preview: np.ndarray,
                     classes: list[str], layer: str, channel: int, method: str = "all",
                     cam_layer: str = "") -> AttributionView:
    """Attribution maps of one target (a class, or a channel's mean) for the current image.

    preview: the model input as display pixels `(H, W, C)` uint8. `method` is one name of
    `METHODS` or "all"; `cam_layer` is Grad-CAM's layer ("" for the default: the last
    convolution the target is computed from). With "all", Grad-CAM and guided Grad-CAM are
    left out when no convolution comes before the target. Raises `CnnlensError` for an
    unknown method, layer or channel, or a Grad-CAM layer the target does not depend on.

    Arrays: `<method>` the engine's map (`(C, H, W)`, Grad-CAM's `(h, w)`) and
    `<method>/shown` the `(H, W)` map drawn (channels summed; Grad-CAM stretched).
    Images: `input`, `<method>`, `<method>/overlay` `(H, W)` and for colour inputs
    `<method>/channels` `(C, H, W)`.
    """
    if method != "all" and method not in METHODS:
        raise CnnlensError(f"there is no attribution method {method!r}; expected one of "
                           f"{', '.join(METHODS)} (or all)")
    if layer == result.input_name:
        raise CnnlensError("attribution explains a neuron or a class by the input; the input "
                           "itself depends on nothing: choose a tile of a later layer or a "
                           "class")
    target = target_for(model, result, layer, channel)
    layers = grad_cam_layers(model, result, target)
    if cam_layer and cam_layer not in layers:
        raise CnnlensError(f"Grad-CAM needs a convolutional layer that {layer} is computed "
                           f"from; {cam_layer!r} is not one of them "
                           f"({', '.join(layers) or 'there are none'})")
    chosen = cam_layer or (layers[-1] if layers else "")
    if method in CAM_METHODS and not chosen:
        raise CnnlensError(f"Grad-CAM needs a convolutional layer before {layer}, and there "
                           "is none")
    names = [name for name in (METHODS if method == "all" else (method,))
             if chosen or name not in CAM_METHODS]
    x = result.tensors[result.input_name]

    bundle = Bundle()
    bundle.image("input", _input_image(preview))
    entries = []
    for name in names:
        values = attribute(model, result, name, target,
                           layer=chosen if name in CAM_METHODS else None)
        if name == "gradcam":
            shown = upsample(values, x.shape[2:])
            entries.append(_pack_method(bundle, name, values, shown, signed=False))
        else:
            entries.append(_pack_method(bundle, name, values[0], summary(values[0]),
                                        signed=True))
    view = {
        "kind": "attribution",
        "layer": layer, "channel": channel,
        "target": describe(target, classes),
        "input": {"name": result.input_name, "shape": list(x.shape[1:])},
        "cam_layers": list(layers), "cam_layer": chosen,
        "methods": entries,
    }
    return bundle.pack(view)
