"""The forward pass inside the page's worker (Pyodide, NumPy): total and per layer.

Runs on the bundled model and the current example; requests go through the same worker
the page uses (`cnnlens.python`), so the figures include nothing but the computation.
"""

from __future__ import annotations

import statistics

from bench.browser import summary


def measure(page, repeats: int) -> dict:
    total = page.evaluate("async n => Array.from(await cnnlens.python.time_forward(n))", repeats)
    nodes = page.evaluate(
        "async n => Array.from(await cnnlens.python.time_layers(n), node =>"
        " ({node: node.node, op: node.op, ms: Array.from(node.ms)}))", repeats)
    # Without cross-origin isolation a worker's clock ticks in 0.1 ms steps, so a fast
    # layer's median can read 0; the mean over many passes averages the steps out.
    layers = [{"node": n["node"], "op": n["op"], **summary(n["ms"]),
               "mean": statistics.fmean(n["ms"])} for n in nodes]
    # The per-layer means should add up to about the total's mean; a big gap means overhead
    # outside the ops (input checks, dtype conversions, softmax detection).
    return {"figures": {"forward_ms": summary(total)},
            "forward_layers_ms": layers,
            "forward_mean_ms": statistics.fmean(total),
            "forward_layers_mean_sum_ms": statistics.fsum(layer["mean"] for layer in layers)}
