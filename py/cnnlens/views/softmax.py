"""The softmax view: from logits to probabilities, every step written out."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..forward import ForwardResult


def softmax_view(result: ForwardResult, classes: list[str]) -> dict[str, Any]:
    """Per class: logit z, exp(z), and probability exp(z) / Σ exp(z).

    The probabilities shown are the engine's (the overview's); exp and the sum are in
    float64 so the written-out division reproduces them.
    """
    logits = result.logits[0].astype(np.float64)
    exps = np.exp(logits)
    total = float(exps.sum())
    return {
        "kind": "softmax", "layer": result.output_name, "total": total,
        "classes": [
            {"index": i, "name": name, "logit": float(z), "exp": float(e),
             "probability": float(p)}
            for i, (name, z, e, p) in enumerate(
                zip(classes, logits, exps, result.probabilities[0], strict=True))
        ],
    }
