"""Timings for the benchmarks (bench/) and nothing else: per-node timings of one forward
pass, and the worker's timing requests (``time_forward``, ``time_backward``,
``time_layers``, which ``page.App`` hands the current session to).

It runs :func:`cnnlens.forward.run` itself with a hook that puts a clock around each node,
so the engine carries no timing code and there is one forward loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cnnlens.backward import backward
from cnnlens.forward import NodeOutputs, run
from cnnlens.graph import Model, Node
from cnnlens.methods.targets import predicted_class, seeds
from cnnlens.protocol import BackwardTimes, ForwardTimes, LayerTimes

if TYPE_CHECKING:
    from cnnlens.session import Session


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


# ---------------------------------------------------------------- the worker's timing requests


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def time_forward(session: Session | None, repeats: int) -> ForwardTimes:
    """Milliseconds per forward pass of the session's model and input (``time_forward``)."""
    if session is None:
        return []
    times: ForwardTimes = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(session.loaded.model, session.x)
        times.append(_ms_since(start))
    return times


def time_backward(session: Session | None, repeats: int) -> BackwardTimes:
    """Milliseconds per backward pass of the top class's logit down to the input of the
    session's forward pass (``time_backward``: what a saliency map costs after the
    overview's own pass)."""
    if session is None:
        return []
    result = session.result
    top = seeds(result, predicted_class(result))
    times: BackwardTimes = []
    for _ in range(repeats):
        start = time.perf_counter()
        backward(session.loaded.model, result, top)
        times.append(_ms_since(start))
    return times


def time_layers(session: Session | None, repeats: int) -> LayerTimes:
    """Per node of the session's model: its name, op and milliseconds in each of
    ``repeats`` forward passes of its input (``time_layers``)."""
    if session is None:
        return []
    nodes: LayerTimes = []
    for _ in range(repeats):
        timings, _tensors = profile(session.loaded.model, session.x)
        if not nodes:
            nodes = [{"node": t.node, "op": t.op_type, "output": t.output, "ms": []}
                     for t in timings]
        for entry, timing in zip(nodes, timings, strict=True):
            entry["ms"].append(timing.ms)
    return nodes
