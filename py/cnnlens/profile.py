"""Per-node timings of one forward pass, for the benchmarks (bench/) and nothing else.

It runs :func:`cnnlens.forward.run` itself with a hook that puts a clock around each node,
so the engine carries no timing code and there is one forward loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnlens.forward import NodeOutputs, run
from cnnlens.graph import Model, Node


@dataclass(frozen=True)
class NodeTiming:
    """One node of one pass: its name, op type, first output and wall time."""

    node: str
    op_type: str
    output: str
    ms: float


def profile(model: Model, x: np.ndarray) -> tuple[list[NodeTiming], dict[str, np.ndarray]]:
    """Runs ``x`` through ``model`` with ``forward.run``; returns the per-node timings in
    execution order and every produced tensor by name (input first), for checking."""
    timings: list[NodeTiming] = []

    def timed(node: Node, compute: Callable[[], NodeOutputs]) -> NodeOutputs:
        start = time.perf_counter()
        outputs = compute()
        ms = (time.perf_counter() - start) * 1000.0
        timings.append(NodeTiming(node.name, node.op_type, node.outputs[0], ms))
        return outputs

    result = run(model, x, hook=timed)
    return timings, result.tensors
