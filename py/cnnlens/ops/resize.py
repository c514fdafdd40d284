"""Resize: nearest and (bi)linear interpolation, one axis at a time.

For each output position along an axis, a coordinate transformation (ONNX's
``coordinate_transformation_mode``) gives the input coordinate it samples. Nearest rounds
it (``nearest_mode``) and copies that input; linear clamps it into the input and mixes the
two inputs around it. N-linear interpolation is the product of per-axis weights, so it
runs as one linear pass per axis; the gradient runs the passes backwards, adding each
output's gradient onto the inputs it read with the same weights.

Opset 10's Resize (``X, scales``) samples ``x_out / scale`` and rounds nearest by ONNX
Runtime's "simple" rule (down when enlarging, up when shrinking); opset 11 added the
modes and ``roi`` / ``sizes``, opset 18 ``axes``. ``tf_crop_and_resize``, the deprecated
``tf_half_pixel_for_nn``, ``cubic``, antialiasing and aspect-ratio policies other than
``stretch`` are refused by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import Inputs, axis, optional, required
from cnnlens.ops.spec import (
    Grads,
    OpSpec,
    Shape,
    VjpFunction,
    Wanted,
    computed_at_run_time,
    floating,
)

TRANSFORMS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
              "asymmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")


@dataclass(frozen=True)
class AxisSampling:
    """Where one axis's outputs read: ``(out,)`` int64 ``low`` and ``high`` input positions
    and float64 ``weight`` of ``high`` (nearest: ``high == low``, weight 0)."""

    low: np.ndarray
    high: np.ndarray
    weight: np.ndarray


@dataclass(frozen=True)
class ResizePlan:
    """Every axis's output length and scale, and how positions map back."""

    sizes: tuple[int, ...]
    scales: tuple[float, ...]
    mode: str
    transform: str
    nearest_mode: str


def _text(attrs: dict[str, Any], name: str, default: str) -> str:
    value = attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def resize_plan(shape: Shape, inputs: Inputs, attrs: dict[str, Any], opset10: bool
                ) -> ResizePlan:
    """Output lengths and scales from ``scales`` or ``sizes`` (with ``axes``) and the modes."""
    mode = _text(attrs, "mode", "nearest")
    if mode not in ("nearest", "linear"):
        raise ModelError(f"Resize: mode {mode!r} is not supported; cnnlens knows nearest and "
                         "linear")
    if opset10:
        transform, nearest_mode = "asymmetric", "simple"
        scales_input, sizes_input = optional(inputs, 1), None
    else:
        transform = _text(attrs, "coordinate_transformation_mode", "half_pixel")
        nearest_mode = _text(attrs, "nearest_mode", "round_prefer_floor")
        scales_input, sizes_input = optional(inputs, 2), optional(inputs, 3)
    if transform not in TRANSFORMS:
        raise ModelError(f"Resize: coordinate_transformation_mode {transform!r} is not "
                         "supported")
    if nearest_mode not in NEAREST_MODES:
        raise ModelError(f"Resize: nearest_mode {nearest_mode!r} is not supported")
    if int(attrs.get("antialias", 0)):
        raise ModelError("Resize: antialias=1 is not supported")
    if _text(attrs, "keep_aspect_ratio_policy", "stretch") != "stretch":
        raise ModelError("Resize: only keep_aspect_ratio_policy 'stretch' is supported")
    rank = len(shape)
    axes = [axis(int(a), rank, "Resize") for a in attrs.get("axes", range(rank))]
    scales = [1.0] * rank
    sizes = list(shape)
    if sizes_input is not None and np.size(sizes_input):
        given = [int(s) for s in np.asarray(sizes_input).reshape(-1)]
        if len(given) != len(axes) or min(given) < 0:
            raise ModelError(f"Resize: sizes {given} do not fit {len(axes)} axes")
        for at, size in zip(axes, given, strict=True):
            sizes[at] = size
            # The scale as ONNX Runtime computes it from sizes, in float32.
            scales[at] = float(np.float32(size) / np.float32(shape[at])) if shape[at] else 1.0
    elif scales_input is not None and np.size(scales_input):
        given_scales = [float(s) for s in np.asarray(scales_input).reshape(-1)]
        if len(given_scales) != len(axes) or min(given_scales) <= 0:
            raise ModelError(f"Resize: scales {given_scales} do not fit {len(axes)} axes")
        for at, scale in zip(axes, given_scales, strict=True):
            scales[at] = scale
            # float32 product, as ONNX Runtime computes it, then rounded down.
            sizes[at] = math.floor(np.float32(shape[at]) * np.float32(scale))
    else:
        raise ModelError("Resize needs scales or sizes")
    return ResizePlan(tuple(sizes), tuple(scales), mode, transform, nearest_mode)


def source_coordinates(out: int, size: int, scale: float, transform: str) -> np.ndarray:
    """``(out,)`` float32: the input coordinate each output position samples, computed in
    float32 as ONNX Runtime does, so that rounding (nearest's ties, floor) agrees."""
    f = np.float32
    x = np.arange(out, dtype=f)
    s = f(scale)
    if transform == "asymmetric":
        return x / s
    if transform == "align_corners":
        return np.zeros(out, f) if out <= 1 else x * f(size - 1) / f(out - 1)
    if transform == "pytorch_half_pixel" and out <= 1:
        return np.zeros(out, f)
    if transform == "half_pixel_symmetric":
        adjustment = f(out) / (s * f(size))
        offset = f(size) / f(2) * (f(1) - adjustment)
        return offset + (x + f(0.5)) / s - f(0.5)
    return (x + f(0.5)) / s - f(0.5)  # half_pixel and pytorch_half_pixel


def axis_sampling(out: int, size: int, scale: float, plan: ResizePlan) -> AxisSampling:
    """Which inputs each output position reads along one axis, and with what weight."""
    x = source_coordinates(out, size, scale, plan.transform).astype(np.float64)
    if plan.mode == "linear":
        x = np.clip(x, 0, size - 1)
        low = np.floor(x).astype(np.int64)
        high = np.minimum(low + 1, size - 1)
        return AxisSampling(low, high, x - low)
    rounding = plan.nearest_mode
    if rounding == "simple":
        rounding = "ceil" if scale < 1 else "floor"
    if rounding == "floor":
        nearest = np.floor(x)
    elif rounding == "ceil":
        nearest = np.ceil(x)
    else:  # round, halves going down or up as the mode says
        half = np.floor(x) + 0.5 == x
        nearest = np.where(half, np.floor(x) if rounding == "round_prefer_floor" else np.ceil(x),
                           np.round(x))
    index = np.clip(nearest, 0, size - 1).astype(np.int64)
    return AxisSampling(index, index, np.zeros(out))


def _samplings(shape: Shape, plan: ResizePlan) -> list[tuple[int, AxisSampling]]:
    """The axes that change, each with its sampling (an identical axis is left alone)."""
    changed = []
    for at, (size, out, scale) in enumerate(zip(shape, plan.sizes, plan.scales, strict=True)):
        if out == size and scale == 1:
            continue  # every transformation maps position i to i here
        if size == 0:
            raise ModelError(f"Resize cannot resize an empty axis ({shape})")
        changed.append((at, axis_sampling(out, size, scale, plan)))
    return changed


def _along(weights: np.ndarray, at: int, ndim: int, dtype: np.dtype) -> np.ndarray:
    return weights.astype(dtype).reshape((-1,) + (1,) * (ndim - at - 1))


def resize(x: np.ndarray, plan: ResizePlan) -> np.ndarray:
    """``x`` resized to ``plan.sizes``."""
    y = x
    for at, s in _samplings(x.shape, plan):
        low = np.take(y, s.low, axis=at)
        if plan.mode == "nearest":
            y = low
            continue
        w = _along(s.weight, at, y.ndim, y.dtype)
        y = low * (1 - w) + np.take(y, s.high, axis=at) * w
    return y


def resize_vjp(g: np.ndarray, shape: Shape, plan: ResizePlan) -> np.ndarray:
    """The output gradient → the input's, shaped ``shape``: each output's gradient added
    onto the inputs it read, with the weights it read them with, axis by axis backwards."""
    steps = _samplings(shape, plan)
    for at, s in reversed(steps):
        moved = np.moveaxis(g, at, 0)
        w = s.weight.astype(g.dtype).reshape((-1,) + (1,) * (moved.ndim - 1))
        summed = np.zeros((shape[at], *moved.shape[1:]), dtype=g.dtype)
        if plan.mode == "nearest":
            np.add.at(summed, s.low, moved)
        else:
            np.add.at(summed, s.low, moved * (1 - w))
            np.add.at(summed, s.high, moved * w)
        g = np.moveaxis(summed, 0, at)
    return g


def op_resize(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Resize, opset 11 and later: ``X, roi, scales, sizes``."""
    x = required(inputs, 0, "Resize")
    return [resize(x, resize_plan(x.shape, inputs, attrs, opset10=False))]


def op_resize_10(inputs: Inputs, attrs: dict[str, Any]) -> list[np.ndarray]:
    """ONNX Resize, opset 10: ``X, scales``, asymmetric coordinates."""
    x = required(inputs, 0, "Resize")
    return [resize(x, resize_plan(x.shape, inputs, attrs, opset10=True))]


def _vjp(opset10: bool) -> VjpFunction:
    def vjp(inputs: Inputs, attrs: dict[str, Any], outputs: list[np.ndarray], grads: Grads,
            rule: str, wanted: Wanted) -> list[np.ndarray | None]:
        x, g = required(inputs, 0, "Resize"), grads[0]
        rest: list[np.ndarray | None] = [None] * (len(inputs) - 1)
        if g is None or not floating(x):
            return [None, *rest]
        return [resize_vjp(g, x.shape, resize_plan(x.shape, inputs, attrs, opset10)), *rest]

    vjp.__doc__ = "The image's gradient (:func:`resize_vjp`); roi, scales, sizes get none."
    return vjp


vjp_resize, vjp_resize_10 = _vjp(False), _vjp(True)


def resize_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                 constants: list[np.ndarray | None]) -> Shape | None:
    x = shapes[0]
    if x is None:
        return None
    if computed_at_run_time(shapes, constants, range(1, len(shapes))):
        return None  # scales or sizes computed at run time
    opset10 = len(constants) == 2  # opset 10 has (X, scales); later opsets X, roi, scales…
    return resize_plan(x, constants, attrs, opset10).sizes


SPECS = (
    # Channel-wise while the channel axis keeps its length, the case connections.py draws.
    OpSpec("Resize", op_resize, resize_shape, vjp=vjp_resize, channelwise=True,
           earlier=((11, op_resize_10),), earlier_vjp=((11, vjp_resize_10),)),
)
