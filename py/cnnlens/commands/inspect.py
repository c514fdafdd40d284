"""`inspect` (the card and a per-layer table) and `check` (will the page run it, and every
reason if not): what a model's shapes say, nothing run on an image."""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .. import limits, untrained
from ..attributes import check_attribute_types
from ..errors import CnnlensError, ModelError
from ..forward import check_supported, run
from ..graph import Model, elem_type_name
from ..loader import LoadedModel, load_model, read_shapes
from ..macs import CONVENTION
from ..model_card import ModelCard, class_names, model_card, output_size
from ..summary import LayerSummary, infer_shapes, summarize, total_params
from .common import (
    EXIT_NOT_RUNNABLE,
    EXIT_OK,
    CliError,
    about,
    dims,
    load_shapes,
    read_file,
    trace_shape,
)

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


# ---------------------------------------------------------------- inspect


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
    shape = trace_shape(loaded)
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
        ("Input", f"{source.name} {elem_type_name(source.elem_type)} {dims(source.shape)}"),
        ("Output", f"{model.output.name} {dims(model.output.shape)}"),
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
                 f"{dims(shape)}")
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
        shape = trace_shape(LoadedModel(model, card, name))
        shapes = attempt(lambda: infer_shapes(model, shape))
        if isinstance(shapes, dict):
            values = [v for v in shapes if v not in weights]
            total = sum(math.prod(shapes[v]) for v in values) * limits.FLOAT_BYTES
            facts.append(f"activations: {limits.describe_bytes(total)} at input {dims(shape)} "
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


def add_parsers(commands: Any) -> None:
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
