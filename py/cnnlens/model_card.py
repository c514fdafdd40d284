"""What a model says about itself: class names and image preprocessing, from `metadata_props`.

Keys (all optional; values are strings, JSON where noted):

- ``cnnlens.classes``: JSON list of class names, one per output score;
- ``cnnlens.preprocessing``: JSON object, see `Preprocessing`;
- ``cnnlens.name``, ``cnnlens.description``, ``cnnlens.dataset``: free text;
- ``cnnlens.test_accuracy``: a number in [0, 1].

Other tools write class names under ``classes`` or ``labels`` (a JSON list or a
comma-separated string); those are read when ``cnnlens.classes`` is absent. Missing keys get
defaults derived from the model's input and output shapes. Values that are present but
malformed raise `ModelError` naming the key: a silently ignored typo would give wrong
predictions that look plausible.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ModelError
from .graph import Dim, Model
from .limits import check_budget

CLASSES_KEY = "cnnlens.classes"
PREPROCESSING_KEY = "cnnlens.preprocessing"
NAME_KEY = "cnnlens.name"
DESCRIPTION_KEY = "cnnlens.description"
DATASET_KEY = "cnnlens.dataset"
ACCURACY_KEY = "cnnlens.test_accuracy"
FOREIGN_CLASS_KEYS = ("classes", "labels")

MODES = {"L": 1, "RGB": 3}  # Pillow mode → channel count
RESIZE_MODES = ("fit", "stretch", "center-crop")
CHANNEL_ORDERS = ("RGB", "BGR")  # of a 3-channel input; BGR: OpenCV- and Caffe-trained models
LAYOUTS = ("NCHW",)
DEFAULT_SIDE = 224  # used for symbolic height/width, the usual ImageNet input


@dataclass(frozen=True)
class Preprocessing:
    """How to turn a picture into the model's input `(1, C, H, W)`.

    mode: "L" (1 channel) or "RGB" (3 channels); size: (H, W); resize: "fit" (keep aspect,
    black bars), "stretch" or "center-crop"; then `x * scale`, `(x - mean) / std` per
    channel (left empty: 0 and 1 for every channel); invert_light_background: invert
    pictures whose border is light (dark-on-light drawings for a model trained on
    light-on-dark data); channel_order: "RGB", or "BGR" for a model trained on pictures
    read by OpenCV (only with mode "RGB").
    """

    mode: str = "RGB"
    size: tuple[int, int] = (DEFAULT_SIDE, DEFAULT_SIDE)
    resize: str = "stretch"
    scale: float = 1 / 255
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    invert_light_background: bool = False
    layout: str = "NCHW"
    channel_order: str = "RGB"

    def __post_init__(self) -> None:
        channels = MODES[self.mode] if _is_one_of(self.mode, MODES) else 0
        # Frozen: fill the per-channel defaults the only way a frozen dataclass allows.
        if not self.mean:
            object.__setattr__(self, "mean", (0.0,) * channels)
        if not self.std:
            object.__setattr__(self, "std", (1.0,) * channels)
        _check_preprocessing(self)

    @property
    def channels(self) -> int:
        return MODES[self.mode]

    def to_json(self) -> dict[str, Any]:
        """The JSON form of ``cnnlens.preprocessing`` (lists, not tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ModelCard:
    """Everything cnnlens shows about a model besides its graph.

    `classes` has one name per output score; it is empty only when neither the metadata nor
    a fixed output shape tells how many scores there are (see `class_names`).
    `preprocessing_source`: "metadata" (``cnnlens.preprocessing``), "defaults" (the model
    has none: `default_preprocessing`) or "reader" (set in the page's form).
    """

    name: str
    description: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    dataset: str = ""
    test_accuracy: float | None = None
    preprocessing_source: str = "metadata"


# ---------------------------------------------------------------- validation


def _is_number(value: Any) -> bool:
    """A finite real number (NumPy scalars included); JSON's true/false are not numbers."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_one_of(value: Any, choices: Any) -> bool:
    return isinstance(value, str) and value in choices


def _check_preprocessing(prep: Preprocessing) -> None:
    """Raises `ModelError` (without a key prefix: the caller adds it) for an unusable value."""
    if not _is_one_of(prep.mode, MODES):
        raise ModelError(f"mode must be one of {sorted(MODES)}, got {prep.mode!r}")
    if (len(prep.size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool)
                                       and s > 0 for s in prep.size)):
        raise ModelError(f"size must be [height, width] with positive integers, got {prep.size!r}")
    if not _is_one_of(prep.resize, RESIZE_MODES):
        raise ModelError(f"resize must be one of {list(RESIZE_MODES)}, got {prep.resize!r}")
    if not _is_number(prep.scale) or prep.scale <= 0:
        raise ModelError(f"scale must be a positive number, got {prep.scale!r}")
    for key, values in (("mean", prep.mean), ("std", prep.std)):
        if len(values) != prep.channels or not all(map(_is_number, values)):
            raise ModelError(
                f"{key} must list {prep.channels} number(s), one per {prep.mode} channel, "
                f"got {list(values)!r}"
            )
    if any(s <= 0 for s in prep.std):
        raise ModelError(f"std must be positive, got {list(prep.std)!r}")
    if not isinstance(prep.invert_light_background, bool):
        raise ModelError(
            f"invert_light_background must be true or false, got {prep.invert_light_background!r}"
        )
    if not _is_one_of(prep.layout, LAYOUTS):
        raise ModelError(f"layout must be one of {list(LAYOUTS)}, got {prep.layout!r}")
    if not _is_one_of(prep.channel_order, CHANNEL_ORDERS):
        raise ModelError(f"channel_order must be one of {list(CHANNEL_ORDERS)}, "
                         f"got {prep.channel_order!r}")
    if prep.channel_order == "BGR" and prep.mode != "RGB":
        raise ModelError(f"channel_order 'BGR' needs mode 'RGB', got {prep.mode!r}")


# ---------------------------------------------------------------- parsing


def _json(metadata: dict[str, str], key: str) -> Any:
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError as exc:
        raise ModelError(f"metadata {key!r} is not valid JSON: {exc}") from exc


def input_dims(model: Model) -> tuple[Dim, Dim, Dim]:
    """(C, H, W) of the model's `(N, C, H, W)` input; symbolic dims stay str/None."""
    source = model.input
    if source.shape is None or len(source.shape) != 4:
        raise ModelError(
            f"graph input {source.name!r} has shape {source.shape}; cnnlens feeds images "
            "as (N, C, H, W)"
        )
    _, c, h, w = source.shape
    return c, h, w


def default_preprocessing(model: Model) -> Preprocessing:
    """Plain 0-1 pixels at the input's size, greyscale for 1 channel and RGB for 3."""
    c, h, w = input_dims(model)
    if isinstance(c, int) and c not in MODES.values():
        raise ModelError(
            f"graph input {model.input.name!r} has {c} channels; cnnlens feeds images as "
            "1 (greyscale) or 3 (RGB) channels"
        )
    mode = "L" if c == 1 else "RGB"
    size = tuple(d if isinstance(d, int) and d > 0 else DEFAULT_SIDE for d in (h, w))
    return Preprocessing(mode=mode, size=size)


def check_against_input(prep: Preprocessing, model: Model) -> None:
    """The declared preprocessing must produce what the input's fixed dims expect."""
    c, h, w = input_dims(model)
    if isinstance(c, int) and c != prep.channels:
        raise ModelError(f"mode {prep.mode!r} gives {prep.channels} channel(s) but graph input "
                         f"{model.input.name!r} takes {c}")
    for axis, dim, side in (("height", h, prep.size[0]), ("width", w, prep.size[1])):
        if isinstance(dim, int) and dim != side:
            raise ModelError(f"size {list(prep.size)} has {axis} {side} but graph input "
                             f"{model.input.name!r} has {axis} {dim}")


def _as_tuple(value: Any, key: str) -> Any:
    """JSON lists → tuples (the dataclass is frozen); list-valued fields must be lists."""
    if isinstance(value, list):
        return tuple(value)
    if key in ("size", "mean", "std"):
        raise ModelError(f"{key} must be a list, got {value!r}")
    return value


def parse_preprocessing(text: str, model: Model) -> Preprocessing:
    """The JSON of ``cnnlens.preprocessing`` → `Preprocessing`; absent fields from the input.

    Raises `ModelError` naming the key for malformed JSON, unknown fields or bad values.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"metadata {PREPROCESSING_KEY!r} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ModelError(f"metadata {PREPROCESSING_KEY!r} must be a JSON object, got {text!r}")
    known = Preprocessing.__dataclass_fields__
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ModelError(f"metadata {PREPROCESSING_KEY!r}: unknown field(s) {unknown}; "
                         f"known fields: {list(known)}")
    try:
        fields = {k: _as_tuple(v, k) for k, v in value.items()}
        defaults = default_preprocessing(model)
        # mean/std left out default per channel of the declared mode (see Preprocessing).
        prep = Preprocessing(**{"mode": defaults.mode, "size": defaults.size, **fields})
        check_against_input(prep, model)
    except ModelError as exc:
        raise ModelError(f"metadata {PREPROCESSING_KEY!r}: {exc}") from exc
    return prep


def _names(value: Any, key: str) -> tuple[str, ...]:
    """A JSON list of names (numbers allowed) → tuple of str."""
    if not isinstance(value, list) or not value:
        raise ModelError(f"metadata {key!r} must be a non-empty JSON list of class names")
    if not all(isinstance(v, str) or _is_number(v) for v in value):
        raise ModelError(f"metadata {key!r} must list class names as strings, got {value!r}")
    return tuple(str(v) for v in value)


def _foreign_names(text: str, key: str) -> tuple[str, ...]:
    """Another tool's ``classes``/``labels``: a JSON list, else comma-separated names."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, list):
        return _names(value, key)
    names = tuple(part.strip() for part in text.split(","))
    if not any(names):
        raise ModelError(f"metadata {key!r} holds no class names")
    return names


def output_size(model: Model) -> int | None:
    """Number of scores K of the `(N, K)` output when its last dim is fixed, else None."""
    shape = model.output.shape
    last = shape[-1] if shape else None
    return last if isinstance(last, int) and last > 0 else None


def parse_classes(model: Model) -> tuple[str, ...]:
    """Class names from the metadata, else "class 0", … for a fixed-size output, else ()."""
    metadata = model.metadata
    if CLASSES_KEY in metadata:
        return _names(_json(metadata, CLASSES_KEY), CLASSES_KEY)
    for key in FOREIGN_CLASS_KEYS:
        if key in metadata:
            return _foreign_names(metadata[key], key)
    count = output_size(model)
    return default_classes(count) if count else ()


def default_classes(count: int) -> tuple[str, ...]:
    return tuple(f"class {k}" for k in range(count))


def class_names(card: ModelCard, count: int) -> tuple[str, ...]:
    """The card's names for a model that outputs `count` scores; raises on a mismatch."""
    if not card.classes:
        return default_classes(count)
    if len(card.classes) != count:
        raise ModelError(f"the model card names {len(card.classes)} classes but the model "
                         f"outputs {count} scores")
    return card.classes


def _accuracy(metadata: dict[str, str]) -> float | None:
    if ACCURACY_KEY not in metadata:
        return None
    try:
        value = float(metadata[ACCURACY_KEY])
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # also rejects nan
        raise ModelError(f"metadata {ACCURACY_KEY!r} must be a number in [0, 1], "
                         f"got {metadata[ACCURACY_KEY]!r}")
    return value


def model_card(model: Model, *, check_memory: bool = True) -> ModelCard:
    """The model's card: metadata where present, defaults from the graph elsewhere.

    ``check_memory=False`` skips the memory budget, for callers that only read shapes
    (``inspect`` and ``check`` of a network whose weights are declared by shape)."""
    metadata = model.metadata
    declared = PREPROCESSING_KEY in metadata
    prep = (parse_preprocessing(metadata[PREPROCESSING_KEY], model)
            if declared else default_preprocessing(model))
    # The card fixes the input size, so this is the first point where the memory of a
    # forward pass is known: refuse a model that would not fit before an image is resized
    # to a gigantic input (the page and the CLI both read the card right after the model).
    if check_memory:
        check_budget(model, (1, prep.channels, *prep.size))
    return ModelCard(
        name=metadata.get(NAME_KEY, "").strip(),
        description=metadata.get(DESCRIPTION_KEY, "").strip(),
        classes=parse_classes(model),
        preprocessing=prep,
        dataset=metadata.get(DATASET_KEY, "").strip(),
        test_accuracy=_accuracy(metadata),
        preprocessing_source="metadata" if declared else "defaults",
    )
