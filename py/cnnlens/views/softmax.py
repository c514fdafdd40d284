"""The softmax view: from logits to probabilities, every step written out."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..forward import ForwardResult


def softmax_view(result: ForwardResult, classes: list[str]) -> dict[str, Any]:
    """Per class: logit z, exp(z − m), and probability exp(z − m) / Σ exp(z − m).

    ``m`` (``max``) is the largest logit. Subtracting it changes no probability (it divides
    out) but keeps every exp at most 1: exp(800) overflows even float64, while the
    page must be able to show each number it divides. The probabilities shown are the
    engine's (the overview's); exp and the sum are in float64 so the written-out division
    reproduces them.
    """
    logits = result.logits[0].astype(np.float64)
    top = float(logits.max())
    exps = np.exp(logits - top)
    total = float(exps.sum())
    return {
        "kind": "softmax", "layer": result.output_name, "max": top, "total": total,
        "classes": [
            {"index": i, "name": name, "logit": float(z), "exp": float(e),
             "probability": float(p)}
            for i, (name, z, e, p) in enumerate(
                zip(classes, logits, exps, result.probabilities[0], strict=True))
        ],
    }
