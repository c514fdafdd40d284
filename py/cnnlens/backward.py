"""Reverse mode over a forward pass: the gradient of a scalar with respect to every tensor.

The backward pass walks the nodes in reverse execution order and applies each op's
vector-Jacobian product (``OpSpec.vjp``) to the forward pass's own tensors, so nothing is
recomputed forward; it asks each only for the gradients of inputs that are not
initializers (weights, biases, constants), whose gradients it never keeps. The scalar is
given by its *seeds*: for each tensor it reads, the gradient of the scalar with respect to
that tensor (for a class logit, a one-hot row of the logits; for a channel's mean,
``1 / (H W)`` over that channel).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import ModelError
from .forward import ForwardResult, as_compute_dtype
from .graph import Model
from .ops import op_spec
from .ops.spec import RELU_RULES, ReluRule


def backward(model: Model, result: ForwardResult, seeds: Mapping[str, np.ndarray],
             rule: ReluRule = "plain") -> dict[str, np.ndarray]:
    """Gradients of the scalar that ``seeds`` define, by tensor name.

    ``seeds`` maps tensor names of ``result`` to arrays of their shapes. The answer holds
    every tensor the scalar depends on, the model input included (initializers excluded),
    each shaped like the tensor, float32. ``rule`` is how ReLU passes gradients back
    (:data:`~cnnlens.ops.spec.RELU_RULES`). Raises :class:`ModelError` for an op without
    a vector-Jacobian product, naming the node.
    """
    if rule not in RELU_RULES:
        raise ModelError(f"unknown ReLU rule {rule!r}; expected one of {RELU_RULES}")
    initializers = model.graph.initializers
    grads: dict[str, np.ndarray] = {}
    for name, seed in seeds.items():
        if name not in result.tensors:
            raise ModelError(f"there is no tensor called {name!r} to differentiate")
        tensor = result.tensors[name]
        if np.shape(seed) != tensor.shape:
            raise ModelError(f"the seed for {name!r} is shaped {np.shape(seed)}, the tensor "
                             f"{tensor.shape}")
        grads[name] = np.asarray(seed, dtype=np.float32)

    for node in reversed(model.topological_order()):
        output_grads = [grads.get(name) if name else None for name in node.outputs]
        if all(g is None for g in output_grads):
            continue
        spec = op_spec(node.op_type, node.domain)
        vjp = None if spec is None else spec.gradient(model.opset)
        if vjp is None:
            raise ModelError(f"node {node.name!r} ({node.op_type}): cnnlens cannot compute "
                             "its gradient")
        inputs = [_value(name, result, initializers) for name in node.inputs]
        outputs = [result.tensors[name] for name in node.outputs if name]
        # Initializers' gradients are never kept, so their vjps may skip them (Conv's kernels).
        wanted = tuple(bool(name) and name not in initializers for name in node.inputs)
        try:
            input_grads = vjp(inputs, node.attributes, outputs, output_grads, rule, wanted)
        except (ValueError, TypeError, IndexError) as exc:
            raise ModelError(f"node {node.name!r} ({node.op_type}), backward: {exc}") from exc
        for name, grad in zip(node.inputs, input_grads, strict=False):
            if not name or grad is None or name in initializers:
                continue
            grad = grad.astype(np.float32, copy=False)
            grads[name] = grads[name] + grad if name in grads else grad
    return grads


def _value(name: str, result: ForwardResult, initializers: Mapping[str, np.ndarray]
           ) -> np.ndarray | None:
    if not name:
        return None
    if name in result.tensors:
        return result.tensors[name]
    return as_compute_dtype(initializers[name])
