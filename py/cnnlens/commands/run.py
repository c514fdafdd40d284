"""`predict` (class probabilities for images) and `activations` (every intermediate tensor
to an `.npz`): the model run forward on image files, as the page runs it."""

from __future__ import annotations

import argparse
import json
import zipfile
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from ..model_card import class_names
from .common import EXIT_ERROR, EXIT_OK, CliError, ImageFileError, forward, load, positive, report

DEFAULT_TOP = 5


# ---------------------------------------------------------------- predict


def ranking(probabilities: np.ndarray, classes: Sequence[str], top: int | None
            ) -> list[tuple[str, float]]:
    """`(K,)` probabilities → the `top` (all when None) (name, probability), most likely first.

    Ties keep model order (stable sort), so the order is reproducible. Probabilities are
    the float32 values widened to Python floats, exactly, so JSON shows every digit.
    """
    order = np.argsort(-probabilities, kind="stable")[:top]
    return [(classes[i], float(probabilities[i])) for i in order]


def prediction_json(image: str, ranked: Sequence[tuple[str, float]]) -> str:
    """One line of `predict --json`."""
    return json.dumps({
        "image": image,
        "classes": [name for name, _ in ranked],
        "probabilities": [p for _, p in ranked],
        "top1": ranked[0][0],
    })


def prediction_text(image: str, ranked: Sequence[tuple[str, float]]) -> list[str]:
    """The human form: the image, then one indented line per class."""
    width = max(len(name) for name, _ in ranked)
    return [image] + [f"  {name.ljust(width)}  {p:9.4%}" for name, p in ranked]


def cmd_predict(args: argparse.Namespace, out: TextIO) -> int:
    """Predict every image; a bad image is reported and skipped, a bad model stops."""
    loaded = load(args.model)
    top = args.top if args.top is not None else (None if args.json else DEFAULT_TOP)
    failed = 0
    for image in args.images:
        try:
            _, result = forward(loaded, image)
        except ImageFileError as exc:
            failed += 1
            report(exc)
            continue
        probabilities = result.probabilities[0]
        ranked = ranking(probabilities, class_names(loaded.card, probabilities.size), top)
        lines = [prediction_json(image, ranked)] if args.json else prediction_text(image, ranked)
        print("\n".join(lines), file=out, flush=True)
    if failed:
        report(CliError(f"{failed} of {len(args.images)} image(s) could not be predicted"))
        return EXIT_ERROR
    return EXIT_OK


# ---------------------------------------------------------------- activations


def write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Writes `arrays` as an uncompressed `.npz` that `np.load` reads, keyed by name.

    `np.savez(path, **arrays)` would do the same, but it appends ".npz" to other file
    names and cannot take a tensor named "file" or "allow_pickle" (its own parameters);
    ONNX value names can be anything, so the archive is written member by member.
    """
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


def cmd_activations(args: argparse.Namespace, out: TextIO) -> int:
    loaded = load(args.model)
    _, result = forward(loaded, args.image)
    # `tensors` already starts with the graph input (the preprocessed image), then every
    # node output in execution order, each with its batch axis.
    write_npz(args.out, result.tensors)
    print(f"wrote {len(result.tensors)} tensors to {args.out}", file=out)
    return EXIT_OK


def add_parsers(commands: Any) -> None:
    predict = commands.add_parser("predict", help="class probabilities for images")
    predict.add_argument("model", metavar="MODEL", help="an .onnx file")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    predict.add_argument("--json", action="store_true",
                         help="one JSON object per line and image: image, classes and "
                              "probabilities (most likely first), top1")
    predict.add_argument("--top", metavar="K", type=positive,
                         help=f"show the K most likely classes (default: {DEFAULT_TOP}; "
                              "all with --json)")
    predict.set_defaults(handler=cmd_predict)

    activations = commands.add_parser(
        "activations", help="save the input and every intermediate tensor to an .npz")
    activations.add_argument("model", metavar="MODEL", help="an .onnx file")
    activations.add_argument("image", metavar="IMAGE", help="an image file")
    activations.add_argument("--out", metavar="FILE", required=True,
                             help="the .npz to write (keys: ONNX value names)")
    activations.set_defaults(handler=cmd_activations)
