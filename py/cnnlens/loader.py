"""Model bytes → a model cnnlens can run, with its card: one loader for the CLI and the page.

It is also the one place that decides a file's format: ONNX (binary protobuf), or a Caffe
network definition in protobuf text format (``.prototxt``, Netscope's input), which
:mod:`cnnlens.caffe` translates into ONNX whose weights are declared by shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from .fold import fold_constants
from .forward import check_supported
from .graph import Model
from .limits import check_file_size
from .model_card import ModelCard, class_names, model_card, output_size
from .onnx_reader import read_model

PROTOTXT_SUFFIXES = (".prototxt", ".pbtxt")


@dataclass(frozen=True)
class LoadedModel:
    """A model that has been read and checked, with its card; ``name`` is its file name
    (the page) or path (the CLI)."""

    model: Model
    card: ModelCard
    name: str


def is_prototxt(data: bytes, name: str) -> bool:
    """Whether a file is a Caffe prototxt: by its extension (``.onnx`` is ONNX, whatever it
    holds), else by its content (text that starts like protobuf text format; ONNX's binary
    tags are control bytes)."""
    suffix = PurePath(name).suffix.lower()
    if suffix in PROTOTXT_SUFFIXES or suffix == ".onnx":
        return suffix != ".onnx"
    from .caffe import looks_like_prototxt  # Caffe's reader only for files not named .onnx

    return bool(data) and looks_like_prototxt(data)


def read_any(data: bytes, name: str, weights: Literal["initial", "shapes"] = "initial"
             ) -> Model:
    """An ONNX file or a Caffe prototxt → a validated model (``weights`` as
    :func:`~cnnlens.onnx_reader.read_model`'s). Raises our documented errors: a prototxt
    that is not UTF-8 text or not protobuf text format raises
    :class:`~cnnlens.prototxt.PrototxtError`."""
    if data and is_prototxt(data, name):
        # Caffe's reader only for prototxts: its tokenizer's pattern costs the page's boot
        # ~30 ms to compile.
        from .caffe import convert
        from .prototxt import PrototxtError

        check_file_size(len(data))
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PrototxtError(f"a .prototxt must be UTF-8 text; byte {exc.start} is not "
                                "(is it a binary .caffemodel?)") from exc
        data = convert(text, PurePath(name).stem)
    return read_model(data, weights)


def read_shapes(data: bytes, name: str) -> Model:
    """For the commands that need only shapes (``inspect``, ``check``): weights declared by
    shape stay placeholders (any size, never run), and constants fold as in
    :func:`load_model`, so exporters' ``Shape → Gather → Concat`` around a Reshape is no
    layer of the table. Unsupported ops are left for the caller to name."""
    return fold_constants(read_any(data, name, weights="shapes"))


def load_model(data: bytes, name: str) -> LoadedModel:
    """Reads, validates and checks a model; raises our documented errors for anything else.

    Every op must be supported, and a fixed-size output must match the card's class names,
    so a model that cannot run is refused before any image is given to it. Shape
    computations known at load time are folded into initializers (:mod:`cnnlens.fold`).
    """
    model = read_any(data, name)
    check_supported(model)
    model = fold_constants(model)
    card = model_card(model)
    count = output_size(model)
    if count is not None:
        class_names(card, count)
    return LoadedModel(model, card, name)
