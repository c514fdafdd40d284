"""What every CLI command shares: the documented errors, reading models and images as the
page does, exit statuses and argument types."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult, check_supported, run
from ..graph import Dim
from ..loader import LoadedModel, load_model, read_shapes
from ..model_card import class_names, model_card
from ..preprocess import preprocess

PROG = "cnnlens"
EXIT_OK = 0
EXIT_ERROR = 2  # usage and input errors, like argparse's own
EXIT_NOT_RUNNABLE = 1  # `check`: readable, but the page will not run it


class CliError(Exception):
    """A documented error about one named file (unreadable, or bad content)."""


class ImageFileError(CliError):
    """One image could not be read or preprocessed; others may still work."""


def report(error: BaseException, err: TextIO | None = None) -> None:
    print(f"{PROG}: error: {error}", file=err or sys.stderr, flush=True)


@contextmanager
def about(path: str, error: type[CliError] = CliError) -> Iterator[None]:
    """Turns our documented errors into `error` with a message that starts with `path`."""
    try:
        yield
    except CnnlensError as exc:
        raise error(f"{path}: {exc}") from exc


def read_file(path: str, error: type[CliError] = CliError) -> bytes:
    """The bytes of `path`; OS errors become `error` naming the file."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc


def load(path: str) -> LoadedModel:
    """Reads, validates and checks an ONNX model and its card (the page's loader)."""
    data = read_file(path)
    with about(path):
        return load_model(data, path)


def load_shapes(path: str) -> LoadedModel:
    """Like `load`, but weights declared by shape stay placeholders (any size): for the
    commands that need only shapes (`inspect`, `check`), never for running. Constants fold
    as the page's loader folds them, so the table lists the layers the page shows."""
    data = read_file(path)
    with about(path):
        model = read_shapes(data, path)
        check_supported(model)
        return LoadedModel(model, model_card(model, check_memory=False), path)


def forward(loaded: LoadedModel, image_path: str) -> tuple[np.ndarray, ForwardResult]:
    """One image file → (model input `(1, C, H, W)`, forward result).

    Image problems raise `ImageFileError` (the caller may go on with other images); model
    problems found while running raise a plain `CliError` (no other image would work).
    """
    data = read_file(image_path, ImageFileError)
    with about(image_path, ImageFileError):
        x = preprocess(data, loaded.card.preprocessing)
    with about(loaded.name):
        result = run(loaded.model, x)
        class_names(loaded.card, result.probabilities.shape[-1])
    return x, result


def dims(shape: Iterable[Dim] | None) -> str:
    if shape is None:
        return "(unknown shape)"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def trace_shape(loaded: LoadedModel) -> tuple[int, ...]:
    """A concrete `(1, C, H, W)` for the summary's trial run: declared dims, else the card's."""
    prep = loaded.card.preprocessing
    wanted = (1, prep.channels, *prep.size)
    declared = loaded.model.input.shape or wanted
    return tuple(d if isinstance(d, int) else w for d, w in zip(declared, wanted, strict=True))


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number 0 or more, got {text!r}")
    return value
