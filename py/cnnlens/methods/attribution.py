"""Attribution: which parts of the current input a target (class or neuron) responds to.

Every method is one or two backward passes (:func:`cnnlens.backward.backward`) over the
forward pass the page already holds; nothing is recomputed forward. :data:`METHODS` names
them as the CLI and the page do; :data:`OUTPUTS` says what :func:`attribute` returns for
each, with ``(N, C, H, W)`` the model input's shape (``N = 1`` for the page and the CLI).
Values are float32. Choices the model cannot honour raise
:class:`~cnnlens.errors.CnnlensError`.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from ..backward import backward
from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model
from ..ops import op_spec
from ..ops.spec import ReluRule
from .targets import Target, seeds

METHODS: Final = ("saliency", "gradient-x-input", "deconvnet", "guided", "gradcam",
                  "guided-gradcam")
"""The attribution methods, by the names the CLI (``--method``) and the page
(``data-testid="method-<name>"``) use."""

OUTPUTS: Final = {
    "saliency": "d target / d input, signed, shaped like the input (N, C, H, W) "
                "(Simonyan et al. 2014)",
    "gradient-x-input": "that gradient times the input, elementwise, (N, C, H, W) "
                        "(Shrikumar et al. 2016)",
    "deconvnet": "the backward pass with every ReLU passing back only the positive part of "
                 "the gradient, whatever its input was, (N, C, H, W) (Zeiler & Fergus 2014)",
    "guided": "guided backpropagation: every ReLU passes back the positive part of the "
              "gradient where its input was positive, (N, C, H, W) (Springenberg et al. 2015)",
    "gradcam": "Grad-CAM of a convolutional layer's output A (N, K, h, w), before any ReLU "
               "that follows it, for the first sample: ReLU(sum_k alpha_k A^k) with alpha_k "
               "the spatial mean of d target / d A^k, shaped like the layer's maps (h, w) "
               "(Selvaraju et al. 2017); the layer defaults to the last convolution",
    "guided-gradcam": "guided backpropagation times the Grad-CAM map stretched to the "
                      "input's height and width (bilinear, pixel centres aligned), "
                      "(N, C, H, W)",
}
"""What each method's map is, and its shape."""

CAM_METHODS: Final = ("gradcam", "guided-gradcam")
"""The methods that read a convolutional layer (``layer`` of :func:`attribute`)."""

_RULES: Final[dict[str, ReluRule]] = {
    "saliency": "plain", "gradient-x-input": "plain", "deconvnet": "deconvnet",
    "guided": "guided",
}


def cam_layers(model: Model, result: ForwardResult) -> tuple[str, ...]:
    """The layers Grad-CAM can read: the ``(N, K, h, w)`` outputs of convolutions, in
    execution order (the last one is the default)."""
    names = []
    for node in model.topological_order():
        spec = op_spec(node.op_type, node.domain)
        output = node.outputs[0] if node.outputs else ""
        if spec is not None and spec.kind == "conv" and output in result.tensors \
                and result.tensors[output].ndim == 4:
            names.append(output)
    return tuple(names)


def cam_layer(model: Model, result: ForwardResult, layer: str | None = None) -> str:
    """``layer`` checked as a Grad-CAM layer, or the default (the last convolution)."""
    names = cam_layers(model, result)
    if not names:
        raise CnnlensError("Grad-CAM needs a convolutional layer, and this model has none")
    if layer is None:
        return names[-1]
    if layer not in names:
        what = "is not a convolutional layer" if layer in result.tensors else "does not exist"
        raise CnnlensError(f"Grad-CAM needs a convolutional layer; {layer!r} {what} (the "
                           f"convolutional layers are {', '.join(names)})")
    return layer


def input_gradient(model: Model, result: ForwardResult, target: Target,
                   rule: ReluRule = "plain") -> np.ndarray:
    """d target / d model input, ``(N, C, H, W)`` float32, with ReLUs under ``rule``."""
    grads = backward(model, result, seeds(result, target), rule)
    x = result.tensors[result.input_name]
    return grads.get(result.input_name, np.zeros(x.shape, np.float32))


def grad_cam(model: Model, result: ForwardResult, target: Target,
             layer: str | None = None) -> np.ndarray:
    """Grad-CAM ``(h, w)`` float32 of ``layer`` (default: the last convolution) for the
    first sample: ``ReLU(Σ_k alpha_k A^k)``, ``alpha_k`` the mean of d target / d ``A^k``."""
    name = cam_layer(model, result, layer)
    grads = backward(model, result, seeds(result, target))
    if name not in grads:
        raise CnnlensError(f"the target (layer {target.layer!r}) does not depend on layer "
                           f"{name!r}; choose a layer before it")
    activations = result.tensors[name][0]  # (K, h, w)
    alpha = grads[name][0].mean(axis=(1, 2))  # (K,)
    cam = np.tensordot(alpha, activations, axes=1)  # Σ_k alpha_k A^k, (h, w)
    return np.maximum(cam, 0).astype(np.float32)


def _bilinear_weights(size_in: int, size_out: int) -> np.ndarray:
    """``(size_out, size_in)`` rows of bilinear weights, pixel centres aligned
    (``align_corners=False``): output ``i`` samples input ``(i + ½) · in/out − ½``,
    clamped to the edge pixels."""
    source = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    return linear_weights(np.clip(source, 0, size_in - 1), size_in)


def linear_weights(positions: np.ndarray, count: int) -> np.ndarray:
    """``(len(positions), count)`` weights of linear interpolation between ``count``
    samples at fractional sample positions ``0 … count - 1`` (each row sums to 1)."""
    low = np.floor(positions).astype(np.intp)
    high = np.minimum(low + 1, count - 1)
    frac = positions - low
    weights = np.zeros((len(positions), count))
    rows = np.arange(len(positions))
    np.add.at(weights, (rows, low), 1 - frac)
    np.add.at(weights, (rows, high), frac)
    return weights


def upsample(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map ``(h, w)`` stretched to ``size`` ``(H, W)`` by bilinear interpolation, float32.

    Pixel centres align (as ``torch.nn.functional.interpolate(..., mode="bilinear",
    align_corners=False)`` and OpenCV's ``resize``); computed as two small matrix
    products, one per axis.
    """
    rows = _bilinear_weights(values.shape[0], int(size[0]))
    cols = _bilinear_weights(values.shape[1], int(size[1]))
    return (rows @ values.astype(np.float64) @ cols.T).astype(np.float32)


def attribute(model: Model, result: ForwardResult, method: str, target: Target,
              layer: str | None = None) -> np.ndarray:
    """The ``method`` map of ``target`` for the input of ``result`` (shapes in the module
    docstring). ``layer`` is Grad-CAM's layer, for the :data:`CAM_METHODS` only
    (default: the last convolution)."""
    if method not in METHODS:
        raise CnnlensError(f"there is no attribution method {method!r}; expected one of "
                           f"{', '.join(METHODS)}")
    if layer is not None and method not in CAM_METHODS:
        raise CnnlensError(f"a layer applies only to {' and '.join(CAM_METHODS)}, "
                           f"not to {method}")
    x = result.tensors[result.input_name]
    if method in _RULES:
        gradient = input_gradient(model, result, target, _RULES[method])
        return gradient * x if method == "gradient-x-input" else gradient
    cam = grad_cam(model, result, target, layer)
    if method == "gradcam":
        return cam
    guided = input_gradient(model, result, target, "guided")
    return guided * upsample(cam, x.shape[2:])
