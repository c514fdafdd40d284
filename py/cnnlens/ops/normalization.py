"""BatchNormalization in inference mode: per-channel affine map from running statistics."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, required
from cnnlens.ops.spec import Grads, OpSpec, Wanted, floating, same_shape


def batch_normalize(
    x: np.ndarray,
    scale: np.ndarray,
    bias: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    epsilon: float,
) -> np.ndarray:
    """``(N, C, *S)`` with per-channel ``(C,)`` parameters → ``(N, C, *S)``.

    ``y = (x - mean) / sqrt(var + epsilon) * scale + bias``.
    """
    channels = x.shape[1]
    for name, p in (("scale", scale), ("B", bias), ("mean", mean), ("var", var)):
        if p.shape != (channels,):
            raise ModelError(f"BatchNormalization: {name} {p.shape} should be ({channels},)")
    shape = (1, channels) + (1,) * (x.ndim - 2)
    eps = var.dtype.type(epsilon)
    normalised = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return normalised * scale.reshape(shape) + bias.reshape(shape)


def op_batch_normalization(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX BatchNormalization (inference): X, scale, B, input_mean, input_var; epsilon."""
    op = "BatchNormalization"
    if attrs.get("training_mode", 0):
        raise ModelError(f"{op}: training_mode=1 is not supported (inference only)")
    if not attrs.get("spatial", 1):
        raise ModelError(f"{op}: spatial=0 (per-activation statistics) is not supported")
    x = required(inputs, 0, op)
    if x.ndim < 2:
        raise ModelError(f"{op}: input {x.shape} needs rank >= 2, (N, C, ...)")
    parameters = [required(inputs, i, op) for i in range(1, 5)]
    return [batch_normalize(x, *parameters, float(attrs.get("epsilon", 1e-5)))]


def batch_normalize_vjp(
    x: np.ndarray,
    scale: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    epsilon: float,
    g: np.ndarray,
    wanted: Wanted = (True,) * 5,
) -> tuple[np.ndarray | None, ...]:
    """Gradients of :func:`batch_normalize` for ``g (N, C, *S)``: for X ``(N, C, *S)``, then
    scale, B, mean and var, each ``(C,)``; ``None`` for those not ``wanted`` (not computed).

    With ``s = 1 / sqrt(var + epsilon)`` per channel: ``dX = g scale s``, ``dB = Σ g``,
    ``dscale = Σ g (x - mean) s``, ``dmean = -scale s Σ g``,
    ``dvar = -scale s³ Σ g (x - mean) / 2``, sums over every axis but the channel's.
    """
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    others = tuple(i for i in range(x.ndim) if i != 1)
    inv_std = 1 / np.sqrt(var + var.dtype.type(epsilon))
    gx = g * (scale * inv_std).reshape(shape) if wanted[0] else None
    if not any(wanted[1:]):
        return gx, None, None, None, None
    g_sum = g.sum(axis=others)
    g_centred = (g * (x - mean.reshape(shape))).sum(axis=others)
    half = var.dtype.type(0.5)
    grads = (gx, g_centred * inv_std, g_sum, -scale * inv_std * g_sum,
             -half * scale * inv_std**3 * g_centred)
    return tuple(grad if want else None for grad, want in zip(grads, wanted, strict=True))


def vjp_batch_normalization(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray],
                            grads: Grads, rule: str, wanted: Wanted) -> list[np.ndarray | None]:
    """Gradients of inference-mode BatchNormalization w.r.t. X, scale, B, mean and var."""
    op = "BatchNormalization"
    x, g = required(inputs, 0, op), grads[0]
    parameters = [required(inputs, i, op) for i in range(1, 5)]
    if g is None or not all(floating(v) for v in (x, *parameters)):
        return [None] * len(inputs)
    scale, _, mean, var = parameters
    return list(batch_normalize_vjp(x, scale, mean, var, float(attrs.get("epsilon", 1e-5)), g,
                                    wanted))


SPECS = (
    OpSpec("BatchNormalization", op_batch_normalization, same_shape,
           vjp=vjp_batch_normalization, channelwise=True, kind="norm"),
)
