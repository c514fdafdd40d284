"""What the page is showing: model, image, forward pass and colour range, as one value.

A `Session` is immutable. Every change builds a new one and only replaces the old one
once it is complete, so a bad image or model raises and leaves the previous state showing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from .decode import Picture
from .edits import NO_EDITS, Edits, forward
from .engine import Ran
from .errors import CnnlensError, ModelError
from .forward import ForwardResult, first_non_finite, run
from .loader import LoadedModel
from .model_card import Preprocessing, class_names, model_card
from .preprocess import input_preview, picture_input
from .preprocess_settings import form_state
from .views.detail import DetailView, detail_view
from .views.input_note import input_note
from .views.neuron import neuron
from .views.overview import RANGE_MODES, RangeMode, overview


def check_drawable(result: ForwardResult) -> None:
    """Refuses a pass whose activations overflowed anywhere, even where the output stayed
    finite: every tensor is drawn, and no colour or number can show inf or NaN."""
    name = first_non_finite(result)
    if name is not None:
        raise ModelError(f"the values of {name!r} overflowed (inf or NaN) on this image; "
                         "cnnlens cannot show them")


def with_reader_preprocessing(loaded: LoadedModel, prep: Preprocessing | None) -> LoadedModel:
    """``loaded`` with the reader's preprocessing; None: the model's own (its card's, or the
    defaults)."""
    own = model_card(loaded.model)
    card = own if prep is None else replace(own, preprocessing=prep,
                                            preprocessing_source="reader")
    return replace(loaded, card=card)


@dataclass(frozen=True)
class Session:
    """One complete state of the explainer."""

    loaded: LoadedModel
    image_name: str
    image: Picture  # file bytes, or an example's decoded pixels (`examples.py`)
    x: np.ndarray  # (1, C, H, W) model input
    result: ForwardResult
    classes: tuple[str, ...]
    mode: RangeMode = "layer"
    note: str | None = None  # the picture is far from the training data (views.input_note)
    ran: Ran | None = None  # which backend ran the forward pass, when the page's engine did
    edits: Edits = NO_EDITS  # the learner's functions and kernels (live_code), in `loaded`

    @classmethod
    def start(cls, loaded: LoadedModel, image: Picture, image_name: str,
              mode: RangeMode = "layer", edits: Edits = NO_EDITS) -> Session:
        x = picture_input(image, loaded.card.preprocessing)
        made = cls.made(loaded, image, image_name, x, forward(loaded.model, x, edits), mode)
        return replace(made, edits=edits)

    @classmethod
    def made(cls, loaded: LoadedModel, image: Picture, image_name: str, x: np.ndarray,
             result: ForwardResult, mode: RangeMode = "layer", ran: Ran | None = None
             ) -> Session:
        """A session from the forward pass of ``x`` (``picture_input`` of ``image``) made
        elsewhere: by `start`, or by the page's engine (`backend_requests`)."""
        check_drawable(result)
        classes = class_names(loaded.card, result.probabilities.shape[-1])
        note = input_note(image, x, loaded.card.preprocessing)
        return cls(loaded, image_name, image, x, result, classes, mode, note, ran=ran)

    def with_image(self, image: Picture, image_name: str) -> Session:
        return Session.start(self.loaded, image, image_name, self.mode, self.edits)

    def with_model(self, loaded: LoadedModel) -> Session:
        """Runs the current image through another model (edited functions carry over,
        edited kernels do not)."""
        return Session.start(loaded, self.image, self.image_name, self.mode,
                             self.edits.for_model())

    def with_edits(self, edits: Edits) -> Session:
        """The same image through the same model (holding ``edits``' kernels) with ``edits``."""
        return Session.start(self.loaded, self.image, self.image_name, self.mode, edits)

    @cached_property
    def gradient_result(self) -> ForwardResult:
        """The forward pass the gradient methods differentiate: the engine's own functions
        (an edited function has no vector-Jacobian product), with any edited kernels."""
        return self.result if not self.edits.overrides else run(self.loaded.model, self.x)

    def with_preprocessing(self, prep: Preprocessing | None) -> Session:
        """Runs the current image again with the reader's preprocessing (it stays for the
        next images of this model); None: the model's own (its card's, or the defaults)."""
        return Session.start(with_reader_preprocessing(self.loaded, prep), self.image,
                             self.image_name, self.mode, self.edits)

    def with_mode(self, mode: str) -> Session:
        if mode not in RANGE_MODES:
            raise CnnlensError(f"unknown colour range {mode!r}; expected one of {RANGE_MODES}")
        return replace(self, mode=mode)

    @property
    def top1(self) -> str:
        return self.classes[int(np.argmax(self.result.probabilities[0]))]

    def overview(self) -> tuple[dict[str, Any], np.ndarray]:
        """The overview's view-model and its raster buffer (see `views.overview`)."""
        card = self.loaded.card
        preview = input_preview(self.x, card.preprocessing)
        view, rasters = overview(self.loaded.model, self.result, list(self.classes), preview,
                                 self.mode)
        view["model"] = {"name": card.name or self.loaded.name, "file": self.loaded.name}
        view["image"] = self.image_name
        view["note"] = self.note
        if self.edits.labels:  # an unedited overview stays byte for byte the prerendered one
            view["modified"] = self.edits.labels
        return view, rasters

    def preprocessing(self) -> dict[str, Any]:
        """The preprocessing in use, for the page's form (see `preprocess_settings`)."""
        return form_state(self.loaded.card, self.loaded.model)

    def neuron(self, layer: str, channel: int) -> dict[str, Any]:
        """The numbers behind one tile or class (see `views.neuron`)."""
        return neuron(self.loaded.model, self.result, list(self.classes), layer, channel)

    def detail(self, layer: str, channel: int) -> DetailView:
        """The detail view for a tile or a class (see `views.detail`)."""
        return detail_view(self.loaded.model, self.result, list(self.classes), layer, channel)
