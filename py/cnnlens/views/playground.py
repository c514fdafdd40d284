"""The hyperparameter playground: how input size, padding, kernel size and stride decide
the output size of a convolution (or pooling) layer.

Pure function of four integers; the page draws what it returns. A setting is refused when
the kernel does not tile the padded input symmetrically: when the kernel is larger than the
padded input, or when the last window would stop short of the right (and bottom) edge
because ``n + 2p − k`` is not a multiple of the stride.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import CnnlensError

# What the controls offer: enough to see every effect, small enough to draw one cell per pixel.
LIMITS = {"n": (1, 16), "p": (0, 4), "k": (1, 9), "s": (1, 5)}
NAMES = {"n": "input size n", "p": "padding p", "k": "kernel size k", "s": "stride s"}


class PlaygroundError(CnnlensError, ValueError):
    """A setting outside what the playground offers (not a whole number, or out of range)."""


def _pixels(count: int) -> str:
    return f"{count} pixel" if count == 1 else f"{count} pixels"


def _check(name: str, value: Any) -> int:
    low, high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlaygroundError(f"the {NAMES[name]} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise PlaygroundError(f"the {NAMES[name]} must be between {low} and {high}, not {value}")
    return value


def playground(n: int, p: int, k: int, s: int) -> dict[str, Any]:
    """Everything the playground shows for input size ``n``, padding ``p``, kernel ``k``
    and stride ``s`` (square input and kernel).

    Returns ``n, p, k, s``; ``padded`` (``n + 2p``); ``span`` (``n + 2p − k``); ``valid``;
    ``reason`` (why it is refused, ``None`` when valid); ``output`` (``⌊span / s⌋ + 1``, or
    ``None`` when the kernel does not fit at all); ``formula`` (the formula with the numbers
    filled in); ``last`` (where the last window starts along each axis) and ``uncovered``
    (how many pixels at the right and bottom edges no window reaches; ``0`` when valid); and
    ``steps``: for a valid setting, the top-left corner ``[row, col]`` of the
    window in padded coordinates for each output position in row-major order (``output²``
    of them), empty otherwise.
    """
    n, p, k, s = (_check(name, value) for name, value in zip("npks", (n, p, k, s), strict=True))
    padded = n + 2 * p
    span = padded - k
    filled = f"⌊({n} + 2·{p} − {k}) / {s}⌋ + 1"
    if span < 0:
        reason = (f"The {k}×{k} kernel does not fit in the {padded}×{padded} padded input: "
                  f"n + 2p − k = {span} is negative, so there is no position for the window.")
        return {"n": n, "p": p, "k": k, "s": s, "padded": padded, "span": span, "valid": False,
                "reason": reason, "output": None, "formula": f"{filled}: no output", "steps": [],
                "last": None, "uncovered": None}
    output = span // s + 1
    short = span % s
    reason = None
    if short:
        reason = (f"With stride {s} the window would stop {_pixels(short)} short of the right "
                  f"edge: n + 2p − k = {span} is not a multiple of {s}.")
    steps = [] if short else [[i * s, j * s] for i in range(output) for j in range(output)]
    return {"n": n, "p": p, "k": k, "s": s, "padded": padded, "span": span,
            "valid": not short, "reason": reason, "output": output,
            "formula": f"{filled} = ⌊{span} / {s}⌋ + 1 = {output}", "steps": steps,
            "last": (output - 1) * s, "uncovered": short}


def answer(n: int, p: int, k: int, s: int) -> dict[str, Any]:
    """The page's answer: the playground as JSON, or why these numbers are refused."""
    try:
        return {"playground": json.dumps(playground(n, p, k, s))}
    except CnnlensError as error:
        return {"error": str(error)}
