"""`dissect`: what each channel of a layer responds to over a probe set (network
dissection, lite; `cnnlens.methods.dissection`), the page's numbers from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..forward import run
from ..loader import LoadedModel
from ..methods.dissection import DEFAULT_TOP, MAX_TOP, Dissection, Dissector
from ..model_card import class_names
from ..probe import (
    INDEX_PATH,
    ProbeSet,
    bundled_entry,
    from_files,
    from_zip,
    load_bundled,
    read_index,
)
from .common import EXIT_OK, CliError, about, load, positive, read_file, trace_shape

SITE = Path(__file__).resolve().parents[3]
"""The repository root: the bundled probe sets' files are the site's."""

DISSECT_HELP = """\
Runs the model over a probe set and, for each channel of --layer, finds its top-K probe
images by their maximal activation (the value, its position in the layer, the neuron's
receptive field in input pixels, end-exclusive) and its mean activation per class. The
probe set is a folder of images (in subfolders: labelled by them), a .zip of such, or a
bundled set's name (%s). With --json prints {"layer", "channels": [{"channel", "top":
[{"image", "value", "position", "box"}], "class_means": {CLASS: MEAN}}]} (class_means
empty when the images have no labels; image: the file's path in the folder, or the
index in a bundled packed set)."""


def _bundled(name: str, loaded: LoadedModel) -> ProbeSet:
    entry = bundled_entry(read_index(read_file(str(SITE / INDEX_PATH))), name)

    async def read(path: str) -> bytes:
        return read_file(str(SITE / path))

    result = run(loaded.model, np.zeros(trace_shape(loaded), np.float32))
    classes = class_names(loaded.card, result.probabilities.shape[-1])
    return asyncio.run(load_bundled(entry, read, loaded.card.preprocessing, classes))


def read_probe(text: str, loaded: LoadedModel) -> ProbeSet:
    """A folder, a zip or a bundled probe set's name, preprocessed for ``loaded``."""
    path = Path(text)
    prep = loaded.card.preprocessing
    with about(text):
        if path.is_dir():
            files = [(p.relative_to(path).as_posix(), read_file(str(p)))
                     for p in sorted(path.rglob("*")) if p.is_file()]
            return from_files(text, files, prep)
        if path.is_file():
            return from_zip(text, read_file(text), prep)
    if "/" in text or "\\" in text or text.endswith(".zip"):
        raise CliError(f"cannot read {text}: no such folder or file")
    return _bundled(text, loaded)


def dissection_json(found: Dissection, probe: ProbeSet) -> dict[str, Any]:
    """The issue's automation format: channels in order, each with its top images."""
    channels = []
    for c in range(found.top.shape[0]):
        top = [{"image": probe.names[int(i)], "value": float(v),
                "position": [int(y) for y in p], "box": [int(b) for b in box]}
               for i, v, p, box in zip(found.top[c], found.values[c], found.positions[c],
                                       found.boxes[c], strict=True)]
        means = {name: float(m) for name, m in zip(found.classes, found.class_means[c],
                                                   strict=True)}
        channels.append({"channel": c, "top": top, "class_means": means})
    return {"layer": found.layer, "channels": channels}


def summary_lines(found: Dissection, probe: ProbeSet) -> list[str]:
    """The layer summary as text: channels by selectivity, dead ones flagged."""
    lines = [f"{found.layer} over {probe.name} ({len(probe)} images)",
             "channel  selectivity  top class        peak    top images"]
    for c in found.ranking:
        best = (found.classes[int(np.argmax(found.class_means[c]))]
                if found.classes else "-")
        index = "-" if np.isnan(found.selectivity[c]) else f"{found.selectivity[c]:.3f}"
        flag = "  dead" if found.dead[c] else ""
        images = ", ".join(str(probe.names[int(i)]) for i in found.top[c][:3])
        lines.append(f"{c:>7}  {index:>11}  {best:<15} {found.peak[c]:7.3f}    "
                     f"{images}{flag}")
    return lines


def cmd_dissect(args: argparse.Namespace, out: TextIO) -> int:
    if args.top > MAX_TOP:
        raise CliError(f"--top takes 1 to {MAX_TOP}, not {args.top}")
    loaded = load(args.model)
    probe = read_probe(args.probe, loaded)
    for reason in probe.skipped:
        print(f"cnnlens: skipped {reason}", file=sys.stderr)
    with about(loaded.name):
        found = Dissector(loaded, probe, args.layer, args.top).run()
    if args.json:
        print(json.dumps(dissection_json(found, probe)), file=out)
    else:
        print("\n".join(summary_lines(found, probe)), file=out)
    return EXIT_OK


def add_parsers(commands: Any) -> None:
    command = commands.add_parser(
        "dissect", help="each channel's top probe images and class means (dissection)",
        description=DISSECT_HELP % ", ".join(
            e["name"] for e in read_index((SITE / INDEX_PATH).read_text())
        ) if (SITE / INDEX_PATH).is_file() else DISSECT_HELP % "none found")
    command.add_argument("model", metavar="MODEL", help="an .onnx file")
    command.add_argument("--layer", required=True, metavar="L", help="the layer to dissect")
    command.add_argument("--probe", required=True, metavar="PATH_OR_NAME",
                         help="a folder or .zip of images, or a bundled probe set's name")
    command.add_argument("--top", type=positive, default=DEFAULT_TOP, metavar="K",
                         help=f"top images per channel (default: {DEFAULT_TOP})")
    command.add_argument("--json", action="store_true",
                         help="print each channel as JSON instead of the summary")
    command.set_defaults(handler=cmd_dissect)
