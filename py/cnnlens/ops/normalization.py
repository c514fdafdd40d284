"""BatchNormalization in inference mode: per-channel affine map from running statistics."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, required
from cnnlens.ops.spec import OpSpec, same_shape


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


SPECS = (
    OpSpec("BatchNormalization", op_batch_normalization, same_shape, channelwise=True,
           kind="norm"),
)
