"""`python -m cnnlens inspect | check | predict | activations | attribute | maximize |
convert-tfjs`: the engine from the command line.

The CLI runs exactly what the page runs (`onnx_reader` → `preprocess` → `forward`), so its
numbers are the page's numbers. Our documented errors (`CnnlensError`, unreadable files)
print `cnnlens: error: ...` on stderr and exit with status 2, never a traceback; `check`
exits with 1 for a model it can read but the page cannot run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TextIO

import numpy as np

from . import caffe, limits, tfjs, untrained
from .attributes import check_attribute_types
from .errors import CnnlensError, ModelError
from .forward import ForwardResult, check_supported, run
from .graph import Dim, Model, elem_type_name
from .loader import LoadedModel, load_model, read_shapes
from .macs import CONVENTION
from .methods.attribution import CAM_METHODS, METHODS, OUTPUTS, attribute
from .methods.maximize import SUGGESTED, Maximizer, Settings
from .methods.targets import (
    Target,
    class_named,
    parse_neuron,
    parse_target,
    predicted_class,
)
from .model_card import CLASSES_KEY, NAME_KEY, ModelCard, class_names, model_card, output_size
from .preprocess import preprocess
from .summary import LayerSummary, infer_shapes, summarize, total_params

PROG = "cnnlens"
EXIT_OK = 0
EXIT_ERROR = 2  # usage and input errors, like argparse's own
EXIT_NOT_RUNNABLE = 1  # `check`: readable, but the page will not run it
DEFAULT_TOP = 5


class CliError(Exception):
    """A documented error about one named file (unreadable, or bad content)."""


class ImageFileError(CliError):
    """One image could not be read or preprocessed; others may still work."""


# ---------------------------------------------------------------- loading


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


# ---------------------------------------------------------------- inspect


def _dims(shape: Iterable[Dim] | None) -> str:
    if shape is None:
        return "(unknown shape)"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _trace_shape(loaded: LoadedModel) -> tuple[int, ...]:
    """A concrete `(1, C, H, W)` for the summary's trial run: declared dims, else the card's."""
    prep = loaded.card.preprocessing
    wanted = (1, prep.channels, *prep.size)
    declared = loaded.model.input.shape or wanted
    return tuple(d if isinstance(d, int) else w for d, w in zip(declared, wanted, strict=True))


def _table(rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    """Rows of cells → aligned text lines; columns in `right` are right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                  for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


def _output_count(model: Model, layers: Sequence[LayerSummary]) -> int:
    """K of the traced `(N, K)` output (the declared K when the output is no node's)."""
    name = model.output.name
    shape = next((layer.output_shape for layer in layers if name in layer.outputs), ())
    return int(shape[-1]) if shape else output_size(model) or 0


def layer_table(loaded: LoadedModel) -> tuple[tuple[int, ...], list[LayerSummary]]:
    """The input shape the table is computed at, and the per-layer summary."""
    shape = _trace_shape(loaded)
    with about(loaded.name):
        return shape, summarize(loaded.model, shape)


def inspect_json(loaded: LoadedModel) -> str:
    """`inspect --json`: every layer (name, op, output shape, parameters, MACs), the totals
    and the input shape they were computed at."""
    shape, layers = layer_table(loaded)
    return json.dumps({
        "layers": [{"name": layer.name, "op": layer.op_type,
                    "output_shape": list(layer.output_shape), "params": layer.params,
                    "macs": layer.macs} for layer in layers],
        "total_params": total_params(loaded.model),
        "total_macs": sum(layer.macs for layer in layers),
        "input_shape": list(shape),
    })


def describe(loaded: LoadedModel) -> list[str]:
    """The `inspect` report: the card, then one row per layer, then the totals."""
    model, card = loaded.model, loaded.card
    shape, layers = layer_table(loaded)
    with about(loaded.name):
        classes = class_names(card, _output_count(model, layers))
    source = model.input
    facts = [
        ("Model", card.name or Path(loaded.name).name),
        ("File", loaded.name),
        ("Description", card.description or "-"),
        ("Dataset", card.dataset or "-"),
        ("Test accuracy", "-" if card.test_accuracy is None else f"{card.test_accuracy:.2%}"),
        ("Producer", f"{model.producer or '-'} (ONNX IR {model.ir_version}, opset {model.opset})"),
        ("Input", f"{source.name} {elem_type_name(source.elem_type)} {_dims(source.shape)}"),
        ("Output", f"{model.output.name} {_dims(model.output.shape)}"),
        ("Classes", f"{len(classes)}: " + ", ".join(classes)),
        ("Preprocessing", json.dumps(card.preprocessing.to_json())),
    ]
    width = max(len(label) for label, _ in facts)
    lines = [f"{label.ljust(width)}  {value}" for label, value in facts]
    if untrained.declares_weights(model.metadata):
        lines.append(f"{'Weights'.ljust(width)}  untrained: seeded He-initialised "
                     f"(seed {untrained.SEED}) when run")
    rows = [("Layer", "Op", "Output shape", "Params", "MACs")] + [
        (layer.name, layer.op_type, " x ".join(map(str, layer.output_shape)), f"{layer.params:,}",
         f"{layer.macs:,}")
        for layer in layers
    ]
    lines += ["", *_table(rows, right={3, 4})]
    lines.append(f"Total parameters: {total_params(model):,}")
    lines.append(f"Total MACs: {sum(layer.macs for layer in layers):,} at input "
                 f"{_dims(shape)}")
    return lines


def cmd_inspect(args: argparse.Namespace, out: TextIO) -> int:
    loaded = load_shapes(args.model)
    print(inspect_json(loaded) if args.json else "\n".join(describe(loaded)), file=out)
    return EXIT_OK


# ---------------------------------------------------------------- check


def page_problems(model: Model, data: bytes, name: str) -> tuple[list[str], list[str]]:
    """Whether the page will run `model` (read from `data` for shapes only): every reason it
    will not (unsupported ops, attribute types, weights and activations against the page's
    budgets, the card), and what was measured. When nothing is wrong so far, the page's own
    loader and a forward pass on zeros have the last word."""
    problems: list[str] = []
    facts: list[str] = []

    def attempt(step: Callable[[], object]) -> object:
        try:
            return step()
        except CnnlensError as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
            return None

    attempt(lambda: check_supported(model))
    attempt(lambda: check_attribute_types(model))
    weights = model.graph.initializers
    size = sum(int(array.nbytes) for array in weights.values())
    facts.append(f"weights: {limits.describe_bytes(size)} (limit "
                 f"{limits.describe_bytes(limits.MAX_MODEL_BYTES)})"
                 + (f", untrained: seeded He-initialised (seed {untrained.SEED})"
                    if untrained.declares_weights(model.metadata) else ""))
    attempt(lambda: limits.check_model_size(model))
    for label, array in weights.items():
        attempt(lambda label=label, array=array: limits.check_tensor_size(
            label, array.shape, array.itemsize))
    card = attempt(lambda: model_card(model, check_memory=False))
    if isinstance(card, ModelCard):
        count = output_size(model)
        if count is not None:
            attempt(lambda: class_names(card, count))
        shape = _trace_shape(LoadedModel(model, card, name))
        shapes = attempt(lambda: infer_shapes(model, shape))
        if isinstance(shapes, dict):
            values = [v for v in shapes if v not in weights]
            total = sum(math.prod(shapes[v]) for v in values) * limits.FLOAT_BYTES
            facts.append(f"activations: {limits.describe_bytes(total)} at input {_dims(shape)} "
                         f"(limit {limits.describe_bytes(limits.MAX_ACTIVATION_BYTES)})")
        if not problems:
            attempt(lambda: limits.check_budget(model, shape))
        if not problems:
            def page_path() -> None:
                page_model = load_model(data, name).model
                run(page_model, np.zeros(shape, np.float32), finite=False)
            attempt(page_path)
    return problems, facts


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    """Exit 0 when the page will run MODEL, 1 when not (each reason printed), 2 unreadable."""
    data = read_file(args.model)
    if not data:
        raise CliError(f"{args.model}: the file is empty (0 bytes), not an ONNX model")
    try:
        model = read_shapes(data, args.model)
    except ModelError as exc:  # a readable file that describes something cnnlens cannot use
        print(f"{args.model}: the page will not run it:\n  - {exc}", file=out)
        return EXIT_NOT_RUNNABLE
    except CnnlensError as exc:
        raise CliError(f"{args.model}: {exc}") from exc
    problems, facts = page_problems(model, data, args.model)
    if problems:
        lines = [f"{args.model}: the page will not run it:", *(f"  - {p}" for p in problems)]
    else:
        lines = [f"{args.model}: the page runs it"]
    lines += [f"  {fact}" for fact in facts]
    print("\n".join(lines), file=out)
    return EXIT_NOT_RUNNABLE if problems else EXIT_OK


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


# ---------------------------------------------------------------- attribute


def write_npy(path: str, array: np.ndarray) -> None:
    """Writes `array` to exactly `path` as `.npy` (`np.save` would append ".npy")."""
    try:
        with open(path, "wb") as file:
            np.lib.format.write_array(file, np.ascontiguousarray(array), allow_pickle=False)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


def cmd_attribute(args: argparse.Namespace, out: TextIO) -> int:
    if args.layer is not None and args.method not in CAM_METHODS:
        raise CliError(f"--layer applies only to {' and '.join(CAM_METHODS)}, not to "
                       f"{args.method}")
    loaded = load(args.model)
    _, result = forward(loaded, args.image)
    classes = class_names(loaded.card, result.probabilities.shape[-1])
    target: Target
    if args.class_name is not None:
        target = class_named(result, classes, args.class_name)
    elif args.neuron is not None:
        target = parse_neuron(loaded.model, result, args.neuron)
    else:
        target = predicted_class(result)
    values = attribute(loaded.model, result, args.method, target, args.layer)
    write_npy(args.out, values.astype(np.float32))
    print(f"wrote {args.method} of {target.label(classes)}, shape "
          f"({', '.join(map(str, values.shape))}), to {args.out}", file=out)
    return EXIT_OK


# ---------------------------------------------------------------- maximize


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(step_size=args.step_size, l2_decay=args.l2, jitter=args.jitter,
                    blur_every=args.blur_every, blur_sigma=args.blur_sigma,
                    clip=not args.no_clip, noise=args.noise)


def cmd_maximize(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_from(args)  # bad numbers are refused before the model is read
    loaded = load(args.model)
    with about(loaded.name):
        # Any input gives the layers' shapes, which is all a target is checked against.
        result = run(loaded.model, np.zeros(_trace_shape(loaded), np.float32))
        classes = class_names(loaded.card, result.probabilities.shape[-1])
    target = parse_target(loaded.model, result, classes, args.target)
    with about(loaded.name):
        climber = Maximizer(loaded, target, settings, args.seed)
        climber.step(args.steps)
    write_npy(args.out, climber.image)
    start, end = climber.values[[0, -1], 0]
    print(json.dumps({"target": target.label(classes), "steps": climber.steps,
                      "start": float(start), "end": float(end)}), file=out)
    return EXIT_OK


# ---------------------------------------------------------------- entry point


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number 0 or more, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors in subcommands also say `cnnlens: error:`."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{PROG}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    root = _Parser(
        prog=PROG, description="Inspect and run CNNs stored as ONNX, as the cnnlens page does.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect = commands.add_parser(
        "inspect", help="model card and per-layer table (shapes, parameters, MACs)",
        description=INSPECT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    inspect.add_argument("model", metavar="MODEL", help="an .onnx file or a Caffe .prototxt")
    inspect.add_argument("--json", action="store_true",
                         help='print {"layers": [{"name", "op", "output_shape", "params", '
                              '"macs"}, ...], "total_params", "total_macs", "input_shape"}')
    inspect.set_defaults(handler=cmd_inspect)

    check = commands.add_parser(
        "check", help="will the page run this model? if not, exactly why",
        description=CHECK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("model", metavar="MODEL", help="an .onnx file or a Caffe .prototxt")
    check.set_defaults(handler=cmd_check)

    predict = commands.add_parser("predict", help="class probabilities for images")
    predict.add_argument("model", metavar="MODEL", help="an .onnx file")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    predict.add_argument("--json", action="store_true",
                         help="one JSON object per line and image: image, classes and "
                              "probabilities (most likely first), top1")
    predict.add_argument("--top", metavar="K", type=_positive,
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
    add_attribute(commands)
    add_maximize(commands)
    add_convert_tfjs(commands)
    add_convert_caffe(commands)
    return root


INSPECT_HELP = f"""\
Prints the model card and one row per layer: output shape (batch axis included, at the
model's declared input size; a symbolic axis takes the card's size, the batch 1),
parameters and multiply-accumulates. Weights declared by shape (the gallery) need no data.

Parameters: learned float tensors of rank >= 1 a node reads, each counted once;
BatchNormalization's running mean and variance are statistics and not counted (as in
PyTorch).

{textwrap.fill(CONVENTION, 88)}"""

CHECK_HELP = f"""\
Says whether the page will run MODEL and, if not, every reason: unsupported ops,
attributes of the wrong type, weights over {limits.describe_bytes(limits.MAX_MODEL_BYTES)} \
in all or {limits.describe_bytes(limits.MAX_TENSOR_BYTES)} in one tensor,
activations over {limits.describe_bytes(limits.MAX_ACTIVATION_BYTES)} at the declared \
input size, a card that does not fit. When nothing is wrong,
it loads MODEL as the page does and runs it once on zeros.
Exit status: 0 the page runs it, 1 it does not, 2 the file cannot be read."""

ATTRIBUTE_HELP = """\
Writes one attribution map of the target for the image to --out (.npy, float32). The
target is a class's logit (before softmax), one channel's mean activation (LAYER:CHANNEL)
or one neuron (LAYER:CHANNEL:Y:X); by default the predicted class. Gradients are taken
with respect to the preprocessed model input, shaped (N, C, H, W) with N = 1. What each
method writes:

""" + "\n".join(textwrap.fill(f"{name}: {text}.", 88, initial_indent="  ",
                               subsequent_indent="    ") for name, text in OUTPUTS.items())

MAXIMIZE_HELP = """\
Synthesises the preprocessed input (1, C, H, W) that maximises a target by gradient
ascent (Adam) from seeded noise, writes it to --out (.npy, float32) and prints
{"target", "steps", "start", "end"}: the target's value (a channel's mean activation, a
neuron's value or a class's logit) on the starting noise and on the result. The same
settings and seed give the same array."""


def add_attribute(commands: Any) -> None:
    command = commands.add_parser(
        "attribute", help="saliency, guided backprop, Grad-CAM, ... of a class or neuron",
        description=ATTRIBUTE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    command.add_argument("model", metavar="MODEL", help="an .onnx file")
    command.add_argument("image", metavar="IMAGE", help="an image file")
    command.add_argument("--method", required=True, choices=METHODS, metavar="METHOD",
                         help=f"one of {', '.join(METHODS)}")
    which = command.add_mutually_exclusive_group()
    which.add_argument("--class", dest="class_name", metavar="NAME",
                       help="a class name (or its number), default: the predicted class")
    which.add_argument("--neuron", metavar="LAYER:CHANNEL[:Y:X]",
                       help="a channel's mean, or with Y:X one neuron, of a layer")
    command.add_argument("--layer", metavar="CONV_LAYER",
                         help="Grad-CAM's convolutional layer (default: the last one)")
    command.add_argument("--out", metavar="FILE.npy", required=True, help="the .npy to write")
    command.set_defaults(handler=cmd_attribute)


def add_maximize(commands: Any) -> None:
    defaults = Settings()
    command = commands.add_parser(
        "maximize", help="the input that maximises a channel or class (activation maximisation)",
        description=MAXIMIZE_HELP)
    command.add_argument("model", metavar="MODEL", help="an .onnx file")
    command.add_argument("--target", required=True, metavar="LAYER:CHANNEL | class:NAME",
                         help="a channel's mean activation (LAYER:CHANNEL), one neuron "
                              "(LAYER:CHANNEL:Y:X) or a class's logit (class:NAME)")
    command.add_argument("--steps", type=_non_negative, default=100, metavar="N",
                         help="gradient steps (default: 100)")
    command.add_argument("--seed", type=int, default=0, metavar="S",
                         help="seeds the starting noise and the jitter (default: 0)")
    command.add_argument("--step-size", type=float, default=defaults.step_size, metavar="F",
                         help="Adam step, in preprocessed input units "
                              f"(default: {defaults.step_size})")
    command.add_argument("--l2", type=float, nargs="?", const=SUGGESTED["l2_decay"],
                         default=defaults.l2_decay, metavar="DECAY",
                         help="shrink the input towards the mean colour by this fraction "
                              f"per step (bare: {SUGGESTED['l2_decay']}; default: off)")
    command.add_argument("--jitter", type=int, nargs="?", const=SUGGESTED["jitter"],
                         default=defaults.jitter, metavar="PX",
                         help="shift the input randomly by up to PX pixels before each "
                              f"gradient (bare: {SUGGESTED['jitter']}; default: off)")
    command.add_argument("--blur-every", type=int, nargs="?", const=SUGGESTED["blur_every"],
                         default=defaults.blur_every, metavar="N",
                         help="blur the input every N steps (bare: "
                              f"{SUGGESTED['blur_every']}; default: off)")
    command.add_argument("--blur-sigma", type=float, default=defaults.blur_sigma,
                         metavar="PX", help=f"the blur's sigma (default: {defaults.blur_sigma})")
    command.add_argument("--no-clip", action="store_true",
                         help="do not clip the input to what preprocessing makes from pixels "
                              "0 to 255 (clipped by default)")
    command.add_argument("--noise", type=float, default=defaults.noise, metavar="F",
                         help="starting noise's standard deviation, as a fraction of the "
                              f"input range (default: {defaults.noise})")
    command.add_argument("--out", metavar="FILE.npy", required=True, help="the .npy to write")
    command.set_defaults(handler=cmd_maximize)


# ---------------------------------------------------------------- convert-tfjs


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
    with about(args.out):
        loaded = load_model(data, args.out)  # refuse what the page could not open
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    source = loaded.model.input
    print(f"wrote {args.out}: {len(loaded.model.graph.nodes)} nodes, input {source.name} "
          f"{_dims(source.shape)}, output {loaded.model.output.name} "
          f"{_dims(loaded.model.output.shape)}", file=out)
    return EXIT_OK


def add_convert_tfjs(commands: Any) -> None:
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
    with about(args.out):
        loaded = load_model(onnx_bytes, args.out)  # refuse what the page could not open
    try:
        Path(args.out).write_bytes(onnx_bytes)
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    source = loaded.model.input
    print(f"wrote {args.out}: {len(loaded.model.graph.nodes)} nodes, input {source.name} "
          f"{_dims(source.shape)}, output {loaded.model.output.name} "
          f"{_dims(loaded.model.output.shape)}, {total_params(loaded.model):,} parameters "
          "declared by shape (untrained)", file=out)
    return EXIT_OK


def add_convert_caffe(commands: Any) -> None:
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


def report(error: BaseException, err: TextIO | None = None) -> None:
    print(f"{PROG}: error: {error}", file=err or sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Runs one command; returns the exit status (0 ok, 2 usage or input error)."""
    args: Any = parser().parse_args(argv)  # exits with status 2 on a usage error
    try:
        return args.handler(args, out or sys.stdout)
    except (CnnlensError, CliError) as exc:
        report(exc)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. `cnnlens predict ... | head -1`: the reader has gone
        # Point stdout at /dev/null so the interpreter's final flush does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
