"""The reader's preprocessing: the page's form and the link's keys (text) ↔ `Preprocessing`.

A model without ``cnnlens.preprocessing`` runs on `model_card.default_preprocessing`:
plain 0–1 pixels (mean 0, std 1), RGB, at its input's size. The page's form lets the reader
say what the model was trained with instead. Its fields, all text as typed (a field left
out keeps the current value):

- ``size``: ``"224"`` or ``"224x192"`` (height × width); where the model's input fixes a
  side, that side is the only one allowed;
- ``mean``, ``std``: one number per channel (comma- or space-separated), or one for all;
- ``order``: ``"RGB"`` or ``"BGR"`` (3-channel models);
- ``pixels``: ``"0-1"`` (pixels divided by 255 before mean and std) or ``"0-255"``.

A bad value raises `ModelError` saying which field and why; nothing is half-applied.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from typing import Any

from .errors import ModelError
from .graph import Model
from .limits import check_budget
from .model_card import ModelCard, Preprocessing, check_against_input, input_dims

FIELDS = ("size", "mean", "std", "order", "pixels")
PIXEL_SCALES = {"0-1": 1 / 255, "0-255": 1.0}
MAX_SIDE = 4096  # a typo such as 22400 is refused here, with a reason, before the budget
_SIZE = re.compile(r"^\s*(\d+)\s*(?:[x×,]\s*(\d+)\s*)?$")


def _size(text: str) -> tuple[int, int]:
    match = _SIZE.match(text)
    if not match:
        raise ModelError(f"size must be one or two positive whole numbers of pixels (224, or "
                         f"224x192 for height × width), got {text!r}")
    h = int(match.group(1))
    w = int(match.group(2) or h)
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise ModelError(f"size must be between 1 and {MAX_SIDE} pixels a side, got {h}x{w}")
    return h, w


def _numbers(text: str, key: str, channels: int) -> tuple[float, ...]:
    """One number per channel, or one for every channel."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ModelError(f"{key}: {part!r} is not a number") from None
        if not math.isfinite(value):
            raise ModelError(f"{key}: {part!r} is not a finite number")
        values.append(value)
    if len(values) == 1:
        values *= channels
    if len(values) != channels:
        which = "R, G, B" if channels == 3 else "grey"
        raise ModelError(f"{key} needs {channels} number(s), one per channel ({which}), or one "
                         f"for all; got {len(parts)}")
    if key == "std" and any(v <= 0 for v in values):
        raise ModelError(f"std must be positive (each channel is divided by it), got "
                         f"{', '.join(_text(v) for v in values)}")
    return tuple(values)


def _fields(settings: str) -> dict[str, str]:
    try:
        value = json.loads(settings)
    except json.JSONDecodeError as exc:
        raise ModelError(f"the preprocessing settings are not JSON: {exc}") from exc
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ModelError("the preprocessing settings must be a JSON object of text fields")
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise ModelError(f"unknown preprocessing field(s) {unknown}; known: {list(FIELDS)}")
    return value


def parse_settings(settings: str, model: Model, current: Preprocessing) -> Preprocessing:
    """The form's or link's fields (a JSON object of text) over `current`, checked against
    the model's input and the memory budget. Raises `ModelError` for any bad value."""
    fields = _fields(settings)
    changes: dict[str, Any] = {}
    if "size" in fields:
        changes["size"] = _size(fields["size"])
    for key in ("mean", "std"):
        if key in fields:
            changes[key] = _numbers(fields[key], key, current.channels)
    if "order" in fields:
        order = fields["order"].strip().upper()
        if current.channels != 3 and order != "RGB":
            raise ModelError("channel order applies to 3-channel (colour) models only")
        changes["channel_order"] = order
    if "pixels" in fields:
        if fields["pixels"] not in PIXEL_SCALES:
            raise ModelError(f"pixels must be one of {list(PIXEL_SCALES)}, "
                             f"got {fields['pixels']!r}")
        changes["scale"] = PIXEL_SCALES[fields["pixels"]]
    prep = replace(current, **changes)  # __post_init__ checks every value again
    check_against_input(prep, model)
    check_budget(model, (1, prep.channels, *prep.size))
    return prep


def _text(value: float) -> str:
    """Shortest text that reads back as `value` (0.485, 1, 0.229)."""
    text = repr(float(value))
    return text.removesuffix(".0")


def settings_text(prep: Preprocessing) -> dict[str, str]:
    """`prep` as the form's and link's fields (what `parse_settings` reads back)."""
    pixels = next((k for k, v in PIXEL_SCALES.items() if math.isclose(v, prep.scale)), None)
    text = {
        "size": f"{prep.size[0]}x{prep.size[1]}",
        "mean": ",".join(map(_text, prep.mean)),
        "std": ",".join(map(_text, prep.std)),
        "order": prep.channel_order,
    }
    if pixels is not None:
        text["pixels"] = pixels
    return text


def form_state(card: ModelCard, model: Model) -> dict[str, Any]:
    """What the page's form shows: the preprocessing in use, as text, where it comes from
    ("metadata", "defaults" or "reader"), and whether the input fixes the size."""
    prep = card.preprocessing
    _, h, w = input_dims(model)
    return {
        "source": card.preprocessing_source,
        "channels": prep.channels,
        "size_fixed": isinstance(h, int) and isinstance(w, int),
        "resize": prep.resize,
        "scale": prep.scale,
        "fields": settings_text(prep),
    }
