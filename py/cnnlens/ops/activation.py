"""Elementwise activations: Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid, HardSwish.
Shapes are unchanged.

Each forward has its vector-Jacobian product beside it. Where a derivative jumps, the value
at the jump is PyTorch's, so its autograd is a reference: Relu passes nothing at ``x = 0``,
LeakyRelu passes ``alpha`` there, Clip passes everything at its bounds, HardSigmoid nothing
at its corners (``F.hardsigmoid``), HardSwish the outer slopes at ``x = ±3``
(``F.hardswish``: 0 at -3, 1 at 3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnnlens.ops.arguments import Inputs, optional, required
from cnnlens.ops.spec import Grads, OpSpec, Wanted, floating, same_shape


def relu(x: np.ndarray) -> np.ndarray:
    """Each value, or 0 where it is negative; any shape."""
    return np.maximum(x, x.dtype.type(0))


def leaky_relu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x >= 0, x, x * x.dtype.type(alpha))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow: only ``exp(-|x|)`` is ever computed."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def clip(x: np.ndarray, low: Any, high: Any) -> np.ndarray:
    """``x`` limited to ``[low, high]``; ``None`` leaves that side open."""
    if low is not None:
        x = np.maximum(x, np.asarray(low, dtype=x.dtype))
    if high is not None:
        x = np.minimum(x, np.asarray(high, dtype=x.dtype))
    return x


def hard_sigmoid(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """``max(0, min(1, alpha x + beta))``."""
    linear = x * x.dtype.type(alpha) + x.dtype.type(beta)
    return np.clip(linear, x.dtype.type(0), x.dtype.type(1))


def hard_swish(x: np.ndarray) -> np.ndarray:
    """``x · max(0, min(1, x / 6 + 1/2))``, ONNX's HardSwish (HardSigmoid with 1/6, 1/2)."""
    return x * hard_sigmoid(x, 1 / 6, 0.5)


def op_relu(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [relu(required(inputs, 0, "Relu"))]


def op_leaky_relu(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [leaky_relu(required(inputs, 0, "LeakyRelu"), float(attrs.get("alpha", 0.01)))]


def op_sigmoid(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [sigmoid(required(inputs, 0, "Sigmoid"))]


def op_tanh(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.tanh(required(inputs, 0, "Tanh"))]


def op_clip(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """Clip: bounds are inputs #1 and #2 since opset 11, ``min`` / ``max`` attributes before."""
    x = required(inputs, 0, "Clip")
    low, high = optional(inputs, 1), optional(inputs, 2)
    if low is None:
        low = attrs.get("min")
    if high is None:
        high = attrs.get("max")
    return [clip(x, low, high)]


def op_hard_sigmoid(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX HardSigmoid: ``alpha`` (default 0.2) and ``beta`` (0.5)."""
    x = required(inputs, 0, "HardSigmoid")
    return [hard_sigmoid(x, float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5)))]


def op_hard_swish(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    return [hard_swish(required(inputs, 0, "HardSwish"))]


def relu_vjp(x: np.ndarray, g: np.ndarray, rule: str) -> np.ndarray:
    """The gradient ReLU passes back under ``rule`` (``spec.RELU_RULES``), shaped like ``x``.

    ``plain``: ``g`` where ``x > 0`` (the true gradient); ``deconvnet``: ``max(g, 0)``
    wherever ``x`` was; ``guided``: ``max(g, 0)`` where ``x > 0``.
    """
    zero = g.dtype.type(0)
    if rule == "deconvnet":
        return np.maximum(g, zero)
    if rule == "guided":
        return np.where(x > 0, np.maximum(g, zero), zero)
    return np.where(x > 0, g, zero)


def leaky_relu_vjp(x: np.ndarray, g: np.ndarray, alpha: float) -> np.ndarray:
    """``g`` where ``x > 0``, ``alpha g`` elsewhere (``x = 0`` included, as PyTorch)."""
    return np.where(x > 0, g, g * g.dtype.type(alpha))


def clip_vjp(x: np.ndarray, g: np.ndarray, low: Any, high: Any) -> np.ndarray:
    """``g`` where ``low <= x <= high``, 0 outside; ``None`` leaves that side open.

    The bounds themselves pass the gradient, as ``torch.clamp`` does; with ``low > high``
    nothing passes (the output is the constant ``high``).
    """
    inside = np.ones(x.shape, dtype=np.bool_)
    if low is not None:
        inside &= x >= np.asarray(low, dtype=x.dtype)
    if high is not None:
        inside &= x <= np.asarray(high, dtype=x.dtype)
    return np.where(inside, g, g.dtype.type(0))


def hard_sigmoid_vjp(x: np.ndarray, g: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """``alpha g`` where ``0 < alpha x + beta < 1``, 0 elsewhere (the corners included)."""
    linear = x * x.dtype.type(alpha) + x.dtype.type(beta)
    inside = (linear > 0) & (linear < 1)
    return np.where(inside, g * g.dtype.type(alpha), g.dtype.type(0))


def hard_swish_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``g (x / 3 + 1/2)`` for ``-3 < x < 3``, ``g`` from 3 up, 0 to -3 (as PyTorch: the
    outer slopes at the corners)."""
    slope = np.where(x <= -3, 0, np.where(x < 3, x / x.dtype.type(3) + x.dtype.type(0.5), 1))
    return g * slope.astype(g.dtype, copy=False)


def _elementwise_vjp(inputs: Inputs, grads: Grads,
                     compute: Callable[[np.ndarray, np.ndarray], np.ndarray]
                     ) -> list[np.ndarray | None]:
    """The vjp frame of a one-input op: ``compute(x, g)`` for a float ``x``, ``None`` else."""
    x, g = inputs[0], grads[0]
    if g is None or not floating(x):
        return [None] * len(inputs)
    return [compute(x, g)]


def vjp_relu(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
             rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """ReLU's input gradient under ``rule`` (:func:`relu_vjp`)."""
    return _elementwise_vjp(inputs, grads, lambda x, g: relu_vjp(x, g, rule))


def vjp_leaky_relu(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                   grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """LeakyRelu's input gradient (:func:`leaky_relu_vjp`); ``rule`` concerns ReLU only."""
    alpha = float(attrs.get("alpha", 0.01))
    return _elementwise_vjp(inputs, grads, lambda x, g: leaky_relu_vjp(x, g, alpha))


def vjp_sigmoid(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """``g y (1 - y)`` from the output ``y`` (as PyTorch): where ``y`` rounds to 1 in float32
    (``x`` above about 17) the gradient is 0, and close to there it keeps few digits."""
    y = outputs[0]
    return _elementwise_vjp(inputs, grads, lambda x, g: g * y * (1 - y))


def vjp_tanh(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
             rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """``g (1 - y²)`` from the output ``y`` (as PyTorch): where ``|y|`` rounds to 1 in float32
    (``|x|`` from about 10) the gradient is 0, and close to there it keeps few digits."""
    y = outputs[0]
    return _elementwise_vjp(inputs, grads, lambda x, g: g * (1 - y * y))


def vjp_clip(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
             rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """The gradient reaches ``x`` only; the bounds (inputs #1, #2) get none."""
    low, high = optional(inputs, 1), optional(inputs, 2)
    if low is None:
        low = attrs.get("min")
    if high is None:
        high = attrs.get("max")
    x_grad = _elementwise_vjp(inputs[:1], grads, lambda x, g: clip_vjp(x, g, low, high))
    return x_grad + [None] * (len(inputs) - 1)


def vjp_hard_sigmoid(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                     grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """HardSigmoid's input gradient (:func:`hard_sigmoid_vjp`)."""
    alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
    return _elementwise_vjp(inputs, grads, lambda x, g: hard_sigmoid_vjp(x, g, alpha, beta))


def vjp_hard_swish(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                   grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """HardSwish's input gradient (:func:`hard_swish_vjp`)."""
    return _elementwise_vjp(inputs, grads, hard_swish_vjp)


SPECS = (
    OpSpec("Relu", op_relu, same_shape, vjp=vjp_relu, channelwise=True, kind="relu",
           detail="relu", core=relu),
    OpSpec("LeakyRelu", op_leaky_relu, same_shape, vjp=vjp_leaky_relu, channelwise=True,
           kind="relu"),
    OpSpec("Sigmoid", op_sigmoid, same_shape, vjp=vjp_sigmoid, channelwise=True, kind="relu"),
    OpSpec("Tanh", op_tanh, same_shape, vjp=vjp_tanh, channelwise=True, kind="relu"),
    OpSpec("Clip", op_clip, same_shape, vjp=vjp_clip, channelwise=True, kind="relu"),
    OpSpec("HardSigmoid", op_hard_sigmoid, same_shape, vjp=vjp_hard_sigmoid, channelwise=True,
           kind="relu"),
    OpSpec("HardSwish", op_hard_swish, same_shape, vjp=vjp_hard_swish, channelwise=True,
           kind="relu"),
)
