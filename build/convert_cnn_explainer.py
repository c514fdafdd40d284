#!/usr/bin/env python3
"""Convert CNN Explainer's trained TinyVGG with our TF.js importer and write what ships with it.

Reads ``../shared/reference/cnn-explainer/`` (beside the repository; see its README): the
TF.js layers model (``model.json``, ``group1-shard1of1.bin``), the example images and the
MIT licence. Writes, under ``--out`` (the repository root by default):

* ``assets/models/cnn-explainer/tinyvgg-cnn-explainer.onnx`` - made by
  ``cnnlens.tfjs.convert`` (the code behind ``cnnlens convert-tfjs``), with class names,
  preprocessing, provenance and the licence notice in its metadata and ``doc_string``;
* ``assets/models/cnn-explainer/MODEL_CARD.md`` and ``LICENSE`` (CNN Explainer's);
* ``assets/images/cnn-explainer/*.png`` (the example images: CNN Explainer's JPEGs as
  Pillow decodes them, saved losslessly, see `write_examples`), ``index.json``
  (``[{file, label}]``, as ``assets/images/fashion-mnist/index.json``) and ``LICENSE``.
  They sit under ``assets/images/`` because that is what the site ships with the page
  (``build/site.py`` takes only ``.onnx`` files from ``assets/models/``).

The conversion is deterministic: running this again on the same source writes the same
bytes (``tests/test_cnn_explainer_fidelity.py`` checks it). The model card's fidelity
figures are measured here, against the reference outputs, which are not copied.

    .venv/bin/python build/convert_cnn_explainer.py [--source DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "py"))

from cnnlens import model_card, tfjs  # noqa: E402
from cnnlens.forward import run  # noqa: E402
from cnnlens.loader import load_model  # noqa: E402
from cnnlens.preprocess import preprocess  # noqa: E402
from cnnlens.summary import summarize  # noqa: E402

SOURCE = ROOT.parent / "shared" / "reference" / "cnn-explainer"
MODEL_REL = Path("assets/models/cnn-explainer/tinyvgg-cnn-explainer.onnx")
IMAGES_REL = Path("assets/images/cnn-explainer")
UPSTREAM = "https://github.com/poloclub/cnn-explainer"

# CNN Explainer's src/config.js, in output order.
CLASSES = ["lifeboat", "ladybug", "pizza", "bell pepper", "school bus", "koala", "espresso",
           "red panda", "orange", "sport car"]
# Example image → its class; white.jpeg (a blank picture) belongs to none and is not shipped.
EXAMPLES = {
    "boat_1.jpeg": "lifeboat", "bug_1.jpeg": "ladybug", "pizza_1.jpeg": "pizza",
    "pepper_1.jpeg": "bell pepper", "bus_1.jpeg": "school bus", "koala_1.jpeg": "koala",
    "koala_2.jpeg": "koala", "espresso_1.jpeg": "espresso", "panda_1.jpeg": "red panda",
    "panda_2.jpeg": "red panda", "orange_1.jpeg": "orange", "car_1.jpeg": "sport car",
}
NAME = "TinyVGG (CNN Explainer, Tiny ImageNet)"
DATASET = ("Tiny ImageNet (64×64 RGB), the 10 classes CNN Explainer uses; trained by "
           "CNN Explainer's authors")
COPYRIGHT = "Copyright (c) 2020 Polo Club of Data Science"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def doc_string(source: Path) -> str:
    """Provenance and CNN Explainer's licence notice, carried inside the .onnx file."""
    return (f"CNN Explainer's trained TinyVGG ({UPSTREAM}, public/assets/data/model.json and "
            "group1-shard1of1.bin), converted from its TF.js layers model by cnnlens "
            "convert-tfjs (build/convert_cnn_explainer.py). Licence of the weights:\n\n"
            + (source / "LICENSE").read_text())


def convert(source: Path) -> bytes:
    """The .onnx bytes of CNN Explainer's model, with its card's metadata."""
    document = tfjs.parse_model_json((source / "model.json").read_text())
    weights = b"".join((source / path).read_bytes() for path in tfjs.shard_paths(document))
    metadata = {
        model_card.NAME_KEY: NAME,
        model_card.DESCRIPTION_KEY: (
            "CNN Explainer's TinyVGG (Wang et al., 2020; MIT licence, " + COPYRIGHT + "), "
            "converted from its TF.js layers model by cnnlens convert-tfjs."),
        model_card.DATASET_KEY: DATASET,
        model_card.CLASSES_KEY: json.dumps(CLASSES),
    }
    return tfjs.convert(document, weights, metadata, doc_string(source))


def fidelity(data: bytes, source: Path) -> tuple[dict[str, float], float, int, int]:
    """Max |ours - reference| per layer of boat_1 (reference HWC, ours CHW) and over every
    image's probabilities, and how many images have the same top class, of how many."""
    loaded = load_model(data, MODEL_REL.name)
    references = json.loads((source / "reference_predictions.json").read_text())["images"]
    worst, same = 0.0, 0
    for file, reference in references.items():
        x = preprocess((source / "images" / file).read_bytes(), loaded.card.preprocessing)
        probabilities = run(loaded.model, x).probabilities[0]
        worst = max(worst, float(np.abs(probabilities - reference["probabilities"]).max()))
        same += int(probabilities.argmax()) == reference["top1"]
    x = preprocess((source / "images" / "boat_1.jpeg").read_bytes(), loaded.card.preprocessing)
    tensors = run(loaded.model, x).tensors
    layers = {}
    with np.load(source / "reference_activations_boat_1.npz") as reference:
        for key in reference.files:
            ours = tensors[{"output": "output_softmax", "logits": "output"}.get(key, key)][0]
            theirs = reference[key]
            if key == "flatten":  # HWC order, channel fastest → our CHW order
                theirs = theirs.reshape(13, 13, 10).transpose(2, 0, 1).ravel()
            elif theirs.ndim == 3:
                theirs = theirs.transpose(2, 0, 1)
            layers[key] = float(np.abs(ours - theirs).max())
    return layers, worst, same, len(references)


def card(data: bytes, source: Path) -> str:
    loaded = load_model(data, MODEL_REL.name)
    rows = summarize(loaded.model, (1, 3, 64, 64))
    table = "\n".join(
        f"| `{layer.name}` | {layer.op_type} | N×{'×'.join(map(str, layer.output_shape[1:]))} "
        f"| {layer.params:,} |" for layer in rows)
    total = sum(int(a.size) for a in loaded.model.graph.initializers.values())
    layers, worst, same, count = fidelity(data, source)
    figures = "\n".join(f"| `{key}` | {value:.1e} |" for key, value in layers.items())
    prep = json.dumps(loaded.card.preprocessing.to_json())
    examples = ", ".join(f"`{png(file)}` ({label})" for file, label in EXAMPLES.items())
    return f"""# Model card: TinyVGG (CNN Explainer, Tiny ImageNet)

`tinyvgg-cnn-explainer.onnx` is the TinyVGG that [CNN Explainer]({UPSTREAM}) (Wang et al.,
"CNN Explainer: Learning Convolutional Neural Networks with Interactive Visualization",
IEEE VIS 2020) trained and explains, converted by cnnlens's own TF.js importer
(`cnnlens convert-tfjs`, `py/cnnlens/tfjs.py`). It, this card, `LICENSE` and the example
images in `assets/images/cnn-explainer/` are written by `build/convert_cnn_explainer.py`;
do not edit them by hand, re-run the script instead.

## Licence and provenance

The weights and the example images are CNN Explainer's, under the MIT licence
({COPYRIGHT}); the licence is in `LICENSE` beside this card and beside the images, and the
`.onnx` file carries the notice in its `doc_string`.

- Source: `{UPSTREAM}`, `public/assets/data/model.json` and `group1-shard1of1.bin`
  (a TF.js *layers* model, {json.loads((source / "model.json").read_text())["generatedBy"]},
  converted by {json.loads((source / "model.json").read_text())["convertedBy"]}),
  and `public/assets/img/` for the images.
- sha256 of the files converted: `model.json` {sha256(source / "model.json")},
  `group1-shard1of1.bin` {sha256(source / "group1-shard1of1.bin")}.
- Conversion: Keras's channels-last layers become an ONNX (opset {tfjs.OPSET}) graph in
  channels-first order: conv kernels (kh, kw, in, out) → (out, in, kh, kw); the Dense
  kernel's 1690 rows are permuted from Keras's (H, W, C) flatten order (channel fastest)
  to the (C, H, W) order of ONNX's `Flatten`, so the graph keeps a plain `Flatten`; the
  Dense layer's softmax becomes its own node. No weight is changed otherwise.

## Architecture

Input `input` is N×3×64×64 float32 (RGB), output `output_softmax` N×10 (probabilities;
`output` holds the logits). Convolutions 3×3, stride 1, no padding (`valid`), 10 filters
each: the first layer has the 3 × 10 = 30 kernels CNN Explainer's article shows. Max-pools
2×2, stride 2.

| layer | op | output shape | params |
|---|---|---|---|
| `input` | input | N×3×64×64 | 0 |
{table}
| **total** | | | **{total:,}** |

## Classes

In output order (metadata key `cnnlens.classes`, from CNN Explainer's `src/config.js`):
{", ".join(f"{k} {name}" for k, name in enumerate(CLASSES))}.

## Preprocessing

Metadata key `cnnlens.preprocessing`:

```json
{prep}
```

RGB, resized to 64×64 (`stretch`; the examples are 64×64 already), pixels divided by 255,
no mean or standard deviation: what CNN Explainer feeds its model.

## Fidelity

Measured by the script against reference outputs of TensorFlow.js 1.0.0 (the version CNN
Explainer's page loads, `cpu` backend), from the same Pillow-decoded pixels:
{same} of {count} images have the same top class, and the largest difference of a
probability over all {count} images is {worst:.1e}. For `boat_1.jpeg`, the largest
difference per layer (`output` is the softmax, `logits` the Dense layer before it; the
reference's channels-last tensors compared in our channels-first order):

| layer | max abs difference |
|---|---|
{figures}

`tests/test_cnn_explainer_fidelity.py` (CPython) and
`tests/e2e/test_cnn_explainer_model.py` (the page) hold these to 1e-4.

## Limitations

- Trained by CNN Explainer's authors on 10 Tiny ImageNet classes for teaching; we have no
  held-out accuracy figure to report. Expect confident mistakes on anything else (the
  second koala example is already called a ladybug).
- 64×64 input: detail is lost, and pictures that are not square are stretched.

## Example images

`assets/images/cnn-explainer/`: {examples}; listed with their class in `index.json`.
They are CNN Explainer's JPEGs (`public/assets/img/`) decoded by Pillow and saved as
lossless PNG: the page's Pillow (Pyodide's) decodes these JPEGs a grey level differently
here and there, which moves a probability by up to about 1.5e-3; from the PNGs the page and
the CLI start from the same pixels, the ones the fidelity figures above were measured on.
"""


def png(file: str) -> str:
    """The shipped name of example `file` (``boat_1.jpeg`` → ``boat_1.png``)."""
    return Path(file).with_suffix(".png").name


def write_examples(source: Path, images: Path) -> None:
    """Each example's RGB pixels as Pillow decodes the JPEG (the reference outputs'
    starting point), as PNG, plus ``index.json``."""
    images.mkdir(parents=True, exist_ok=True)
    for file in EXAMPLES:
        with Image.open(source / "images" / file) as picture:
            picture.convert("RGB").save(images / png(file), optimize=True)
    index = [{"file": png(file), "label": label} for file, label in EXAMPLES.items()]
    (images / "index.json").write_text(json.dumps(index, indent=2) + "\n")


def write(out: Path, source: Path) -> None:
    data = convert(source)
    model = out / MODEL_REL
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(data)
    (model.parent / "MODEL_CARD.md").write_text(card(data, source))
    images = out / IMAGES_REL
    write_examples(source, images)
    for folder in (model.parent, images):
        shutil.copyfile(source / "LICENSE", folder / "LICENSE")
    print(f"wrote {MODEL_REL} ({len(data):,} bytes), its card, and {len(EXAMPLES)} images")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help="CNN Explainer's model, shard, images and LICENSE "
                             "(default: ../shared/reference/cnn-explainer)")
    parser.add_argument("--out", type=Path, default=ROOT, help="repository root to write into")
    args = parser.parse_args(argv)
    if not (args.source / "model.json").is_file():
        parser.error(f"{args.source} has no model.json (is ../shared there?)")
    write(args.out, args.source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
