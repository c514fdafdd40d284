"""`convert-tfjs` and `convert-caffe`: an ONNX file the page opens, written from a TF.js
layers model or a Caffe network definition, and refused when the page could not open it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from .. import caffe, tfjs
from ..loader import load_model
from ..model_card import CLASSES_KEY, NAME_KEY
from ..summary import total_params
from .common import EXIT_OK, CliError, about, dims, read_file

# ---------------------------------------------------------------- convert-tfjs


def write_model(data: bytes, path: str, out: TextIO, *, untrained: bool = False) -> None:
    """Writes a converted model to `path` once the loader has accepted it (what the page
    could not open is refused, nothing written), and says what was written."""
    with about(path):
        loaded = load_model(data, path)
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc
    model = loaded.model
    declared = (f", {total_params(model):,} parameters declared by shape (untrained)"
                if untrained else "")
    print(f"wrote {path}: {len(model.graph.nodes)} nodes, input {model.input.name} "
          f"{dims(model.input.shape)}, output {model.output.name} "
          f"{dims(model.output.shape)}{declared}", file=out)


def read_classes(path: str) -> list[str]:
    """A text file's class names, one per line in output order (blank lines skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise CliError(f"{path} lists no class names")
    return names


def cmd_convert_tfjs(args: argparse.Namespace, out: TextIO) -> int:
    """model.json + the weight shards it names (beside it) → an .onnx the page opens."""
    metadata = {CLASSES_KEY: json.dumps(read_classes(args.classes))} if args.classes else {}
    if args.name:
        metadata[NAME_KEY] = args.name
    text = read_file(args.model_json)
    with about(args.model_json):
        document = tfjs.parse_model_json(text)
        folder = Path(args.model_json).parent
        weights = b"".join(read_file(str(folder / path)) for path in tfjs.shard_paths(document))
        data = tfjs.convert(document, weights, metadata)
    write_model(data, args.out, out)
    return EXIT_OK


def _add_convert_tfjs(commands: Any) -> None:
    command = commands.add_parser(
        "convert-tfjs", help="convert a TF.js layers model (Keras Sequential) to ONNX",
        description="Converts a TF.js layers model (model.json and the weight shards its "
                    "manifest names, read from beside it) into an ONNX file cnnlens opens, "
                    "channels first. Supported layers: " + ", ".join(sorted(tfjs.LAYERS)) + ".")
    command.add_argument("model_json", metavar="MODEL_JSON", help="the TF.js model.json")
    command.add_argument("out", metavar="OUT.onnx", help="the .onnx to write")
    command.add_argument("--classes", metavar="FILE",
                         help="class names, one per line in output order (default: class 0, …)")
    command.add_argument("--name", metavar="TEXT", help="the model's name in its card")
    command.set_defaults(handler=cmd_convert_tfjs)


# ---------------------------------------------------------------- convert-caffe


def cmd_convert_caffe(args: argparse.Namespace, out: TextIO) -> int:
    """A Caffe prototxt → an .onnx whose weights are declared by shape (untrained when run)."""
    data = read_file(args.prototxt)
    with about(args.prototxt):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CliError(f"{args.prototxt}: not UTF-8 text (byte {exc.start})") from exc
        onnx_bytes = caffe.convert(text, Path(args.prototxt).stem)
    write_model(onnx_bytes, args.out, out, untrained=True)
    return EXIT_OK


def _add_convert_caffe(commands: Any) -> None:
    command = commands.add_parser(
        "convert-caffe", help="convert a Caffe .prototxt (Netscope's input) to ONNX",
        description="Translates a Caffe network definition (protobuf text format, the "
                    "layer or V1 layers syntax) into an ONNX file cnnlens opens, its weights "
                    "declared by shape (run with seeded He-initialised values, untrained). "
                    "inspect and check read a .prototxt directly. Supported layer types: "
                    + ", ".join(sorted(caffe.SUPPORTED)) + ".")
    command.add_argument("prototxt", metavar="NET.prototxt", help="the Caffe network definition")
    command.add_argument("out", metavar="OUT.onnx", help="the .onnx to write")
    command.set_defaults(handler=cmd_convert_caffe)


def add_parsers(commands: Any) -> None:
    _add_convert_tfjs(commands)
    _add_convert_caffe(commands)
