"""Sliding-window geometry shared by Conv and the pooling ops.

Per spatial axis, a window of ``kernel`` taps spaced ``dilation`` apart spans
``(kernel - 1) * dilation + 1`` input positions and moves ``stride`` positions per output.
:func:`plan_windows` resolves ``pads`` / ``auto_pad`` / ``ceil_mode`` into one
:class:`WindowPlan`; :func:`sliding_windows` then exposes every window as a strided view,
``(N, C, *O, *K)``, so the ops reduce over the last axes with no Python loop over pixels.
:func:`fold_windows` is the way back: it sums gradients shaped like that view onto the input
they were read from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlens.errors import ModelError
from cnnlens.ops.arguments import ints

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


@dataclass(frozen=True)
class WindowPlan:
    """Where a window op samples its input, one entry per spatial axis.

    ``pads_begin`` / ``pads_end`` are the padding the op defines (explicit or from
    ``auto_pad``); ``overhang`` is extra end padding that only exists so the last ceil-mode
    window has somewhere to read from; it never counts as padding.
    """

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads_begin: tuple[int, ...]
    pads_end: tuple[int, ...]
    overhang: tuple[int, ...]
    output: tuple[int, ...]

    @property
    def spans(self) -> tuple[int, ...]:
        """Input positions one window covers, per axis."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations, strict=True))


def plan_from_attributes(
    spatial: Sequence[int],
    kernel: Sequence[int],
    attrs: dict[str, Any],
    op: str,
    *,
    ceil_mode: bool = False,
) -> WindowPlan:
    """Read ``strides``, ``dilations``, ``pads`` and ``auto_pad`` from ``attrs`` and plan."""
    rank = len(spatial)
    auto_pad = attrs.get("auto_pad", "NOTSET") or "NOTSET"
    if auto_pad not in AUTO_PADS:
        raise ModelError(f"{op}: unknown auto_pad {auto_pad!r}")
    return plan_windows(
        spatial,
        kernel,
        strides=ints(attrs, "strides", (1,) * rank, rank, op),
        dilations=ints(attrs, "dilations", (1,) * rank, rank, op),
        pads=ints(attrs, "pads", (0,) * (2 * rank), 2 * rank, op),
        auto_pad=auto_pad,
        ceil_mode=ceil_mode,
        op=op,
    )


def plan_windows(
    spatial: Sequence[int],
    kernel: Sequence[int],
    *,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
    auto_pad: str = "NOTSET",
    ceil_mode: bool = False,
    op: str = "window op",
) -> WindowPlan:
    """Output size and padding per axis, following the ONNX Conv / pooling specs.

    ``pads`` is ONNX-ordered: all begins, then all ends. With ``auto_pad`` SAME_* the output
    is ``ceil(in / stride)`` and the needed padding is split evenly, the odd one going to the
    end (SAME_UPPER) or the beginning (SAME_LOWER); VALID means no padding. ``ceil_mode``
    applies only with explicit pads.
    """
    rank = len(spatial)
    if min(kernel, default=1) < 1 or min(strides, default=1) < 1 or min(dilations, default=1) < 1:
        raise ModelError(f"{op}: kernel, strides and dilations must be positive")
    if min(pads, default=0) < 0:
        raise ModelError(f"{op}: negative pads {tuple(pads)} are not supported")
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    ceil = ceil_mode and auto_pad == "NOTSET"
    begin, end, overhang, output = [], [], [], []
    for i in range(rank):
        size, span, stride = spatial[i], spans[i], strides[i]
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out = -(-size // stride)
            total = max(0, (out - 1) * stride + span - size)
            low = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
            pad_begin, pad_end = low, total - low
        else:
            pad_begin, pad_end = (0, 0) if auto_pad == "VALID" else (pads[i], pads[rank + i])
            out = _output_size(size + pad_begin + pad_end, span, stride, ceil)
            if out < 1:
                raise ModelError(
                    f"{op}: window of {span} on axis {i} does not fit the padded input "
                    f"of {size + pad_begin + pad_end}"
                )
            # PyTorch / onnxruntime rule: a ceil-mode window must start inside the input or
            # its begin padding, never wholly in the end padding.
            if ceil and (out - 1) * stride >= size + pad_begin:
                out -= 1
        begin.append(pad_begin)
        end.append(pad_end)
        overhang.append(max(0, (out - 1) * stride + span - (size + pad_begin + pad_end)))
        output.append(out)
    return WindowPlan(
        kernel=tuple(kernel),
        strides=tuple(strides),
        dilations=tuple(dilations),
        pads_begin=tuple(begin),
        pads_end=tuple(end),
        overhang=tuple(overhang),
        output=tuple(output),
    )


def _output_size(padded: int, span: int, stride: int, ceil_mode: bool) -> int:
    if padded < span:
        return 0
    steps = padded - span
    return (-(-steps // stride) if ceil_mode else steps // stride) + 1


def pad_spatial(x: np.ndarray, plan: WindowPlan, value: float) -> np.ndarray:
    """``(N, C, *S)`` → ``(N, C, *S')`` padded by ``value`` on both sides plus the overhang."""
    widths = [(0, 0)] * (x.ndim - len(plan.output))
    widths += [
        (b, e + o) for b, e, o in zip(plan.pads_begin, plan.pads_end, plan.overhang, strict=True)
    ]
    if not any(b or e for b, e in widths):
        return x
    return np.pad(x, widths, mode="constant", constant_values=value)


def sliding_windows(padded: np.ndarray, plan: WindowPlan) -> np.ndarray:
    """All windows of a padded ``(N, C, *S')`` tensor as a view ``(N, C, *O, *K)``.

    Windows step by the strides; taps inside a window step by the dilations.
    """
    rank = len(plan.output)
    lead = padded.ndim - rank
    axes = tuple(range(lead, padded.ndim))
    view = sliding_window_view(padded, plan.spans, axis=axes)
    positions = tuple(
        slice(0, (o - 1) * s + 1, s) for o, s in zip(plan.output, plan.strides, strict=True)
    )
    taps = tuple(slice(None, None, d) for d in plan.dilations)
    return view[(slice(None),) * lead + positions + taps]


def fold_windows(grad: np.ndarray, plan: WindowPlan, spatial: Sequence[int]) -> np.ndarray:
    """Vector-Jacobian product of ``sliding_windows(pad_spatial(x, plan, value), plan)``.

    ``grad`` is shaped like the windows view, ``(N, C, *O, *K)``; the result is shaped like
    ``x``, ``(N, C, *S)``, with ``S`` = ``spatial``: every input position receives the sum
    of the gradients of all window taps that read it (col2im). Taps that read padding or
    the ceil-mode overhang contribute nothing.
    """
    rank = len(plan.output)
    padded_shape = tuple(
        b + s + e + o
        for b, s, e, o in zip(plan.pads_begin, spatial, plan.pads_end, plan.overhang, strict=True)
    )
    padded = np.zeros(grad.shape[: grad.ndim - 2 * rank] + padded_shape, dtype=grad.dtype)
    # One loop step per kernel tap (e.g. 9 for 3 × 3): that tap of every window reads a
    # strided grid of the padded input, and no two windows share a position of one tap's
    # grid, so a strided in-place add is exact. Measured 10× faster than np.add.at on flat
    # indices for a 10 × 28 × 28 input and 3 × 3 kernels.
    for tap in np.ndindex(*plan.kernel):
        grid = tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s)
            for t, d, o, s in zip(tap, plan.dilations, plan.output, plan.strides, strict=True)
        )
        padded[(..., *grid)] += grad[(..., *tap)]
    inside = tuple(slice(b, b + s) for b, s in zip(plan.pads_begin, spatial, strict=True))
    return padded[(..., *inside)]
