"""LRN, local response normalisation across channels (AlexNet, GoogLeNet v1).

``y = x / (bias + alpha / size · S)^beta``, where ``S`` at channel ``c`` sums ``x²`` over the
channels ``c - floor((size-1)/2)`` to ``c + ceil((size-1)/2)`` that exist. Its gradient
reaches each channel from its own output and from every output whose window holds it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, required
from cnnlens.ops.spec import Grads, OpSpec, Wanted, floating, same_shape


def channel_window_sum(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """``(N, C, ...)`` → the same shape: at channel ``c``, the sum of channels
    ``c - before`` to ``c + after`` that exist."""
    widths = [(0, 0)] * x.ndim
    widths[1] = (before, after)
    padded = np.pad(x, widths)
    channels = x.shape[1]
    total = np.zeros_like(x)
    for tap in range(before + after + 1):  # the few taps of the window
        total += padded[:, tap:tap + channels]
    return total


def lrn_parameters(attrs: dict[str, Any]) -> tuple[int, float, float, float]:
    """``(size, alpha, beta, bias)``; ``size`` is required and positive."""
    if "size" not in attrs:
        raise ModelError("LRN: attribute 'size' is required")
    size = int(attrs["size"])
    if size < 1:
        raise ModelError(f"LRN: size must be positive, got {size}")
    return (size, float(attrs.get("alpha", 1e-4)), float(attrs.get("beta", 0.75)),
            float(attrs.get("bias", 1.0)))


def lrn_scale(x: np.ndarray, size: int, alpha: float, bias: float) -> np.ndarray:
    """``bias + alpha / size · S``, the base each output divides by (before ``^beta``)."""
    squares = channel_window_sum(x * x, (size - 1) // 2, size // 2)
    return x.dtype.type(bias) + x.dtype.type(alpha / size) * squares


def op_lrn(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX LRN over ``(N, C, ...)``."""
    x = required(inputs, 0, "LRN")
    if x.ndim < 3:
        raise ModelError(f"LRN: input {x.shape} needs rank >= 3, (N, C, *spatial)")
    size, alpha, beta, bias = lrn_parameters(attrs)
    return [x * np.power(lrn_scale(x, size, alpha, bias), x.dtype.type(-beta))]


def lrn_vjp(x: np.ndarray, g: np.ndarray, size: int, alpha: float, beta: float, bias: float
            ) -> np.ndarray:
    """``dX`` for ``(N, C, ...)`` ``x`` and output gradient ``g``:
    ``g s^-beta − 2 alpha beta / size · x · Σ_{c ∋ j} g_c x_c s_c^(−beta−1)``, the sum
    over the outputs whose window holds channel ``j`` (the window read backwards)."""
    scale = lrn_scale(x, size, alpha, bias)
    power = np.power(scale, x.dtype.type(-beta))
    through = g * x * power / scale
    # Output c reads channels c - before .. c + after, so channel j feeds j - after .. j + before.
    spread = channel_window_sum(through, size // 2, (size - 1) // 2)
    return g * power - x.dtype.type(2 * alpha * beta / size) * x * spread


def vjp_lrn(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
            rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """``[dX]`` (:func:`lrn_vjp`)."""
    x, g = required(inputs, 0, "LRN"), grads[0]
    if g is None or not floating(x):
        return [None]
    size, alpha, beta, bias = lrn_parameters(attrs)
    return [lrn_vjp(x, g, size, alpha, beta, bias)]


SPECS = (
    # Not channel-wise: each output channel reads its neighbours too.
    OpSpec("LRN", op_lrn, same_shape, vjp=vjp_lrn, kind="norm"),
)
