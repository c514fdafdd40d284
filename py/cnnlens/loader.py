"""ONNX bytes → a model cnnlens can run, with its card: one loader for the CLI and the page."""

from __future__ import annotations

from dataclasses import dataclass

from .fold import fold_constants
from .forward import check_supported
from .graph import Model
from .model_card import ModelCard, class_names, model_card, output_size
from .onnx_reader import read_model


@dataclass(frozen=True)
class LoadedModel:
    """A model that has been read and checked, with its card; ``name`` is its file name
    (the page) or path (the CLI)."""

    model: Model
    card: ModelCard
    name: str


def load_model(data: bytes, name: str) -> LoadedModel:
    """Reads, validates and checks a model; raises our documented errors for anything else.

    Every op must be supported, and a fixed-size output must match the card's class names,
    so a model that cannot run is refused before any image is given to it. Shape
    computations known at load time are folded into initializers (:mod:`cnnlens.fold`).
    """
    model = read_model(data)
    check_supported(model)
    model = fold_constants(model)
    card = model_card(model)
    count = output_size(model)
    if count is not None:
        class_names(card, count)
    return LoadedModel(model, card, name)
