"""Elementwise activations: Relu, LeakyRelu, Sigmoid, Tanh, Clip. Shapes are unchanged."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlens.ops.arguments import Inputs, optional, required
from cnnlens.ops.spec import OpSpec, same_shape


def relu(x: np.ndarray) -> np.ndarray:
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


SPECS = (
    OpSpec("Relu", op_relu, same_shape, channelwise=True, kind="relu", detail="relu"),
    OpSpec("LeakyRelu", op_leaky_relu, same_shape, channelwise=True, kind="relu"),
    OpSpec("Sigmoid", op_sigmoid, same_shape, channelwise=True, kind="relu"),
    OpSpec("Tanh", op_tanh, same_shape, channelwise=True, kind="relu"),
    OpSpec("Clip", op_clip, same_shape, channelwise=True, kind="relu"),
)
