"""What cnnlens knows about one ONNX op type, in one place.

Each op module ends with a ``SPECS`` tuple of :class:`OpSpec`: the forward function, its
vector-Jacobian product, its output-shape rule, whether output channel ``k`` depends on
input channel ``k`` alone, and how the views show it. Every other module (the forward and
backward passes, the memory budget, the overview's columns and edges, the detail views)
reads these specs, so adding an op means adding one spec and its tests.

Signatures, with ``inputs`` the node's input arrays in order (``None`` for an omitted
optional input) and ``attrs`` its decoded attributes:

- ``forward(inputs, attrs) -> outputs``: the output arrays in the node's output order;
  inputs are never modified.
- ``vjp(inputs, attrs, outputs, grads, rule, wanted) -> input_grads``: given the gradient
  of a scalar with respect to each output (``None`` for an output it does not depend on),
  the gradient with respect to each input, in input order (``None`` where no gradient is
  defined or needed: shapes, integer tensors). ``rule`` chooses how ReLU passes gradients
  back (:data:`RELU_RULES`); every other op ignores it. ``wanted`` (:data:`Wanted`) says
  which input gradients the caller uses: an op may skip the others (and answer ``None``
  for them), as the ops with weights do: the backward pass keeps no initializer's
  gradient, and skipping Conv's kernel gradient halves the bundled model's backward pass.
- ``shape(shapes, attrs, constants) -> shape``: the first output's shape from the input
  shapes (``None`` where unknown) and the inputs that are initializers (``None``
  otherwise), or ``None`` when it cannot be inferred before running.
- ``core``: the short NumPy function at the heart of ``forward`` (``relu``, ``convolve``,
  ``max_pool``, ``softmax``), which ``forward`` and the ``earlier`` forms call by its
  module-level name: the page shows its source and lets a learner replace it
  (:mod:`cnnlens.live_code`); ``None`` for ops the page does not offer to edit.
- ``window(shapes, attrs) -> plan``: for ops whose output neuron reads a sliding window of
  its first input (Conv, the pools), that window's geometry from the input shapes
  (receptive fields compose these); absent for every other op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from cnnlens.ops.arguments import Inputs
from cnnlens.ops.windows import WindowPlan

Shape = tuple[int, ...]
Grads = Sequence[np.ndarray | None]
OpFunction = Callable[[Inputs, dict[str, Any]], list[np.ndarray]]
Wanted = Sequence[bool]
"""Which input gradients a vjp's caller uses: one flag per input of the node, in order."""
VjpFunction = Callable[
    [Inputs, dict[str, Any], list[np.ndarray], Grads, str, Wanted], list[np.ndarray | None]
]
ShapeRule = Callable[[list[Shape | None], dict[str, Any], list[np.ndarray | None]], Shape | None]
WindowRule = Callable[[list[Shape], dict[str, Any]], WindowPlan]

ReluRule = Literal["plain", "deconvnet", "guided"]
RELU_RULES: tuple[ReluRule, ...] = ("plain", "deconvnet", "guided")
"""How ReLU passes a gradient back: ``plain`` where its input was positive (the true
gradient); ``deconvnet`` only the positive gradient, wherever the input was (Zeiler &
Fergus 2014); ``guided`` both conditions (Springenberg et al. 2015)."""

Kind = Literal["conv", "relu", "pool", "norm", "other"]


@dataclass(frozen=True)
class OpSpec:
    """One op type: how to compute it forward and backward, and how the views show it.

    ``kind`` groups columns in the overview (their colour and label); ``detail`` names the
    detail view that explains one of its neurons (``views.DETAIL_VIEWS`` in Python and
    ``VIEWS`` in ``assets/js/detail.js``), ``None`` for the plain numbers; ``pass_through``
    ops get no column of their own (it would repeat their input's). ``earlier`` holds the
    forward functions of older opsets whose meaning differed: ``(opset, function used
    below it)`` in increasing opset order; ``earlier_vjp`` the same for ``vjp``.
    """

    op_type: str
    forward: OpFunction
    shape: ShapeRule
    vjp: VjpFunction | None = None
    channelwise: bool = False
    kind: Kind = "other"
    detail: str | None = None
    core: Callable[..., np.ndarray] | None = None
    pass_through: bool = False
    earlier: tuple[tuple[int, OpFunction], ...] = ()
    earlier_vjp: tuple[tuple[int, VjpFunction], ...] = ()
    window: WindowRule | None = None

    def function(self, opset: int) -> OpFunction:
        """The forward function with this op's meaning at ``opset``."""
        for below, function in self.earlier:
            if opset < below:
                return function
        return self.forward

    def gradient(self, opset: int) -> VjpFunction | None:
        """The vector-Jacobian product with this op's meaning at ``opset`` (``earlier_vjp``
        lists the older ones, as ``earlier`` does for the forward), ``None`` if there is none."""
        for below, vjp in self.earlier_vjp:
            if opset < below:
                return vjp
        return self.vjp


def same_shape(shapes: list[Shape | None], attrs: dict[str, Any],
               constants: list[np.ndarray | None]) -> Shape | None:
    """The rule of elementwise ops: the output is shaped like input #0."""
    return shapes[0] if shapes else None


def broadcast_shape(shapes: list[Shape | None], attrs: dict[str, Any],
                    constants: list[np.ndarray | None]) -> Shape | None:
    """The rule of binary ops: NumPy broadcasting of inputs #0 and #1."""
    if len(shapes) < 2 or shapes[0] is None or shapes[1] is None:
        return None
    return tuple(np.broadcast_shapes(shapes[0], shapes[1]))


def computed_at_run_time(shapes: list[Shape | None], constants: list[np.ndarray | None],
                         indices: Sequence[int]) -> bool:
    """Whether any of the inputs at ``indices`` is present but not a constant: a shape rule
    that needs their values (pads, scales, slice bounds) cannot infer the output then."""
    return any(i < len(shapes) and shapes[i] is not None and constants[i] is None
               for i in indices)


def floating(array: np.ndarray | None) -> bool:
    """Whether ``array`` is a floating-point tensor, the only kind a gradient flows into."""
    return array is not None and np.issubdtype(array.dtype, np.floating)


def unbroadcast(grad: np.ndarray, shape: Shape) -> np.ndarray:
    """Sums ``grad`` over the axes broadcasting added or stretched, back to ``shape``."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, d in enumerate(shape) if d == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
