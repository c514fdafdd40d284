"""What a learner changed in the page, and the forward pass that runs with it.

Two kinds of edit (made by :mod:`cnnlens.live_code`): an op's ``core`` function replaced by
the learner's (kept as op specs whose forward calls it, ``Edits.overrides``), and one conv
neuron's kernel set to other numbers (kept in the model's weights, ``Edits.kernels``, with
the model they were made on, ``Edits.base``, so Reset restores it exactly).

Edited functions run through :func:`cnnlens.forward.run`'s per-node hook, on NumPy as the
learner wrote them (a backend hook must not take those nodes). Gradients use the engine's
own functions: an edited function has no vector-Jacobian product.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from .errors import ModelError
from .forward import COMPUTE_DTYPE, ForwardResult, NodeOutputs, as_compute_dtype, check_finite, run
from .graph import Model, Node
from .ops.spec import OpSpec


@dataclass(frozen=True)
class KernelEdit:
    """Conv neuron ``channel`` of ``layer`` (the Conv's output tensor) reads ``values`` as its
    ``(kH, kW)`` kernel on input channel ``input_channel`` (``None``: on every one)."""

    layer: str
    channel: int
    input_channel: int | None
    values: tuple[tuple[float, ...], ...]

    @property
    def label(self) -> str:
        where = "" if self.input_channel is None else f", input {self.input_channel}"
        return f"kernel of {self.layer} #{self.channel}{where}"


@dataclass(frozen=True)
class Edits:
    """Everything the learner changed. ``code``: ``(cell, text)`` of each edited cell;
    ``overrides``: op type → the spec that runs the learner's function."""

    code: tuple[tuple[str, str], ...] = ()
    overrides: Mapping[str, OpSpec] = field(default_factory=lambda: MappingProxyType({}))
    kernels: tuple[KernelEdit, ...] = ()
    base: Model | None = None

    @property
    def labels(self) -> list[str]:
        """What the page's badge lists: the edited functions, then the kernels."""
        return ([f"{spec.core.__name__}()" for spec in self.overrides.values() if spec.core]
                + [edit.label for edit in self.kernels])

    def for_model(self) -> Edits:
        """The edits that carry over to another model: the functions, not the kernels."""
        return replace(self, kernels=(), base=None)


NO_EDITS = Edits()


def conv_weight(model: Model, layer: str) -> tuple[Node, str, np.ndarray]:
    """The Conv node whose output is ``layer``, its weight's name and value ``(M, C, kH, kW)``."""
    node = model.graph.producers.get(layer)
    if node is None or node.op_type != "Conv" or len(node.inputs) < 2:
        raise ModelError(f"{layer!r} is not the output of a convolution")
    weight = model.graph.initializers.get(node.inputs[1])
    if weight is None or weight.ndim != 4:
        raise ModelError(f"the convolution {layer!r} has no 2-D kernel among its weights")
    return node, node.inputs[1], weight


def with_kernel(model: Model, edit: KernelEdit) -> Model:
    """``model`` with one neuron's kernel replaced (one input channel, or all of them)."""
    _node, name, weight = conv_weight(model, edit.layer)
    values = np.asarray(edit.values, dtype=weight.dtype)
    if not 0 <= edit.channel < weight.shape[0]:
        raise ModelError(f"{edit.layer} has neurons 0 to {weight.shape[0] - 1}, "
                         f"not {edit.channel}")
    if values.shape != weight.shape[2:]:
        raise ModelError(f"the kernel of {edit.layer} is {weight.shape[2]}×{weight.shape[3]}, "
                         f"not {'×'.join(map(str, values.shape))}")
    if not np.isfinite(values).all():
        raise ModelError("a kernel's numbers must be finite")
    inputs = slice(None) if edit.input_channel is None else edit.input_channel
    if edit.input_channel is not None and not 0 <= edit.input_channel < weight.shape[1]:
        raise ModelError(f"{edit.layer} reads input channels 0 to {weight.shape[1] - 1}, "
                         f"not {edit.input_channel}")
    edited = weight.copy()
    edited[edit.channel, inputs] = values
    graph = replace(model.graph, initializers={**model.graph.initializers, name: edited})
    return replace(model, graph=graph)


def forward(model: Model, x: np.ndarray, edits: Edits) -> ForwardResult:
    """:func:`cnnlens.forward.run` with the edited functions in place of the engine's
    (``model`` already holds the edited kernels). Without edited functions, exactly ``run``."""
    if not edits.overrides:
        return run(model, x)
    # The hook sees each node's outputs; with the weights and the input it knows every
    # tensor an edited node reads.
    known: dict[str, np.ndarray] = {name: as_compute_dtype(array)
                                    for name, array in model.graph.initializers.items()}
    known[model.input.name] = np.asarray(x).astype(COMPUTE_DTYPE)

    def hook(node: Node, compute):
        outputs = run_edited(node, edits, model.opset, known)
        outputs = compute() if outputs is None else outputs
        known.update(outputs)
        return outputs

    return finish(model, run(model, x, hook, finite=False), edits)


def run_edited(node: Node, edits: Edits, opset: int, known: Mapping[str, np.ndarray]
               ) -> NodeOutputs | None:
    """``node``'s outputs by the learner's function, from the tensors ``known`` so far;
    None when its op is not edited (the engine's backend hook asks this too)."""
    spec = None if node.domain else edits.overrides.get(node.op_type)
    return None if spec is None else _run_edited(node, spec, opset, known)


def finish(model: Model, result: ForwardResult, edits: Edits) -> ForwardResult:
    """A pass run with ``run_edited`` (and ``finite=False``), completed: an edited softmax
    makes the probabilities where the graph has no Softmax node; then the finiteness check."""
    softmax = edits.overrides.get("Softmax")
    if softmax is not None and result.logits_name == result.output_name:
        # No Softmax node: the engine made the probabilities from the logits itself.
        rows = softmax.function(model.opset)([result.logits], {"axis": 1})[0]
        result = replace(result, probabilities=rows.astype(COMPUTE_DTYPE, copy=False))
    check_finite(result)
    return result


def _run_edited(node: Node, spec: OpSpec, opset: int,
                known: Mapping[str, np.ndarray]) -> NodeOutputs:
    results = spec.function(opset)([known[name] if name else None for name in node.inputs],
                                   node.attributes)
    return {name: as_compute_dtype(np.asarray(results[i]))
            for i, name in enumerate(node.outputs) if name and i < len(results)}
