"""Reading op inputs and attributes, with errors that name the op instead of IndexError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnlens.errors import ModelError

Inputs = Sequence[np.ndarray | None]


def required(inputs: Inputs, index: int, op: str) -> np.ndarray:
    """Input ``index``; a :class:`ModelError` when it is missing or omitted (``""``)."""
    value = inputs[index] if index < len(inputs) else None
    if value is None:
        raise ModelError(f"{op} needs input #{index}, which is missing")
    return value


def optional(inputs: Inputs, index: int) -> np.ndarray | None:
    """Input ``index``, or ``None`` when absent or omitted."""
    return inputs[index] if index < len(inputs) else None


def ints(
    attrs: dict[str, Any], name: str, default: Sequence[int], length: int, op: str
) -> tuple[int, ...]:
    """An INTS attribute that must hold exactly ``length`` values (``default`` when absent)."""
    value = tuple(int(v) for v in attrs.get(name, default))
    if len(value) != length:
        raise ModelError(f"{op}: attribute {name!r} needs {length} values, got {value}")
    return value


def axis(value: int, rank: int, op: str, *, inclusive_end: bool = False) -> int:
    """Normalise a possibly negative axis for a rank-``rank`` tensor.

    ``inclusive_end`` allows ``rank`` itself, as Flatten does (``[-r, r]``).
    """
    upper = rank + 1 if inclusive_end else rank
    normalised = value + rank if value < 0 else value
    if not 0 <= normalised < upper:
        raise ModelError(f"{op}: axis {value} is out of range for a rank-{rank} tensor")
    return normalised
