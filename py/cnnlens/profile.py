"""Per-node timings of one forward pass, for the benchmarks (bench/) and nothing else.

It runs the same node runner as :func:`cnnlens.forward.run`, in the same order, and only
adds a clock around each node, so the engine itself carries no timing code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cnnlens.forward import _compute_dtype, _prepare_input, _run_node, check_supported
from cnnlens.graph import Model


@dataclass(frozen=True)
class NodeTiming:
    """One node of one pass: its name, op type, first output and wall time."""

    node: str
    op_type: str
    output: str
    ms: float


def profile(model: Model, x: np.ndarray) -> tuple[list[NodeTiming], dict[str, np.ndarray]]:
    """Runs ``x`` through ``model`` like ``forward.run``; returns the per-node timings in
    execution order and every produced tensor by name (input first), for checking."""
    check_supported(model)
    values: dict[str, np.ndarray] = {
        name: _compute_dtype(array) for name, array in model.graph.initializers.items()
    }
    values[model.input.name] = _prepare_input(model.input, x)
    tensors = {model.input.name: values[model.input.name]}
    timings = []
    for node in model.topological_order():
        start = time.perf_counter()
        outputs = _run_node(node, values, model.opset)
        ms = (time.perf_counter() - start) * 1000.0
        for name, array in outputs.items():
            values[name] = tensors[name] = array
        timings.append(NodeTiming(node.name, node.op_type, node.outputs[0], ms))
    return timings, tensors
