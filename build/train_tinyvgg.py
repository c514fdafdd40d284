#!/usr/bin/env python3
"""Train the bundled TinyVGG on Fashion-MNIST and write every artefact derived from it.

Writes, under ``--out`` (the repository root by default):

* ``assets/models/tinyvgg-fashion-mnist.onnx`` - the model, with readable value names and
  the ``cnnlens.*`` metadata the engine reads;
* ``assets/models/MODEL_CARD.md`` - architecture, data, preprocessing, recipe, accuracy;
* ``assets/images/fashion-mnist/*.png`` and ``index.json`` - example test images.

Runs in its own venv (``.venv-train``) because only this script needs torch:

    python3 -m venv .venv-train
    .venv-train/bin/pip install -r build/requirements-train.txt
    .venv-train/bin/python build/train_tinyvgg.py

The data come from Debian's ``dataset-fashion-mnist`` package (IDX files), parsed here with
gzip + NumPy so that nothing is fetched at run time.
"""

# The model card is prose for people: it uses the multiplication and minus signs on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper, shape_inference
from PIL import Image
from torch import nn

DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
# Training-set statistics after x/255, rounded: these exact values go into the metadata, so
# the engine normalises with the numbers the model was trained with.
MEAN = 0.2860
STD = 0.3530
SCALE = 1.0 / 255.0
OPSET = 17
MODEL_REL = Path("assets/models/tinyvgg-fashion-mnist.onnx")
CARD_REL = Path("assets/models/MODEL_CARD.md")
IMAGES_REL = Path("assets/images/fashion-mnist")
EXAMPLES_PER_CLASS = 3
PRODUCER = "cnnlens train_tinyvgg.py"

# Names given to the exported graph, in node order; each node's output value takes its name.
NODE_NAMES = [
    "conv_1_1",
    "relu_1_1",
    "conv_1_2",
    "relu_1_2",
    "max_pool_1",
    "conv_2_1",
    "relu_2_1",
    "conv_2_2",
    "relu_2_2",
    "max_pool_2",
    "flatten",
    "logits",
]
NODE_OPS = [
    "Conv",
    "Relu",
    "Conv",
    "Relu",
    "MaxPool",
    "Conv",
    "Relu",
    "Conv",
    "Relu",
    "MaxPool",
    "Flatten",
    "Gemm",
]


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """Parse a gzipped IDX file (big-endian header: magic, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or dtype_code != 0x08:  # 0x08 = unsigned byte, all FMNIST uses
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims.tolist()}")
    return data.reshape(tuple(dims))


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (N, 28, 28) uint8, raw pixels
    labels: np.ndarray  # (N,) int64


def load_split(data_dir: Path, prefix: str) -> Split:
    images = read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(f"{prefix}: unexpected shapes {images.shape}, {labels.shape}")
    return Split(images, labels)


def normalise(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) → float32 (N, 1, 28, 28), exactly as the metadata tells the engine."""
    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
    # x / 255 rather than x * (1/255): the two differ in the last float32 bit for some x,
    # and dividing is what torchvision's ToTensor and cnnlens's preprocess.py do.
    return (x / np.float32(255.0) - np.float32(MEAN)) / np.float32(STD)


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------
class TinyVGG(nn.Module):
    """TinyVGG as in the common PyTorch course, with 10 hidden units and a 1x28x28 input."""

    def __init__(self, in_channels: int = 1, hidden: int = 10, classes: int = 10) -> None:
        super().__init__()
        self.block_1 = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.block_2 = nn.Sequential(
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(hidden * 7 * 7, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.block_2(self.block_1(x)))


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    # Two threads = this project's machines; a fixed count also fixes the reduction order.
    torch.set_num_threads(2)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip: garments are near-symmetric, so this is label-preserving."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    out = x.clone()
    out[flip] = out[flip].flip(-1)
    return out


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> np.ndarray:
    model.eval()
    preds = [model(x[i : i + batch]).argmax(1) for i in range(0, x.shape[0], batch)]
    return torch.cat(preds).numpy()


@dataclass(frozen=True)
class Recipe:
    seed: int
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float

    def summary(self) -> str:
        return (
            f"seed={self.seed}, epochs={self.epochs}, batch_size={self.batch_size}, "
            f"optimizer=Adam(lr={self.lr:g}, weight_decay={self.weight_decay:g}), "
            f"schedule=OneCycleLR(max_lr={self.lr:g}, cosine), "
            "loss=cross-entropy, augmentation=random horizontal flip (p=0.5)"
        )


def train(model: TinyVGG, train: Split, test: Split, recipe: Recipe) -> float:
    """Train in place; returns the final accuracy on the test images."""
    x_train, y_train = normalise(train.images), torch.from_numpy(train.labels)
    x_test = normalise(test.images)
    gen = torch.Generator().manual_seed(recipe.seed)
    steps_per_epoch = (x_train.shape[0] + recipe.batch_size - 1) // recipe.batch_size
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    # One-cycle: a short warm-up then cosine decay; reaches a good optimum in few epochs.
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.lr, epochs=recipe.epochs, steps_per_epoch=steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss()
    accuracy = 0.0
    for epoch in range(1, recipe.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(x_train.shape[0], generator=gen)
        total, seen = 0.0, 0
        for i in range(0, order.shape[0], recipe.batch_size):
            idx = order[i : i + recipe.batch_size]
            xb, yb = augment(x_train[idx], gen), y_train[idx]
            loss = loss_fn(model(xb), yb)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * idx.shape[0]
            seen += idx.shape[0]
        accuracy = float((predict(model, x_test) == test.labels).mean())
        print(
            f"epoch {epoch:2d}/{recipe.epochs}  train loss {total / seen:.4f}  "
            f"test acc {accuracy:.4f}  ({time.perf_counter() - start:.1f} s)",
            flush=True,
        )
    return accuracy


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------
def export_onnx(model: TinyVGG) -> onnx.ModelProto:
    """Export with the TorchScript exporter (the dynamo one needs onnxscript) and tidy names."""
    model.eval()
    buf = io.BytesIO()
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 28, 28),),
        buf,
        dynamo=False,
        opset_version=OPSET,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True,
    )
    proto = onnx.load_from_string(buf.getvalue())
    graph = proto.graph
    ops = [n.op_type for n in graph.node]
    if ops != NODE_OPS:
        raise RuntimeError(f"exporter produced {ops}, expected {NODE_OPS}")

    renames: dict[str, str] = {}
    for node, name in zip(graph.node, NODE_NAMES, strict=True):
        renames[node.output[0]] = name
        # Parameters are named after the node that uses them: conv_1_1.weight, logits.bias…
        for param, suffix in zip(node.input[1:], ("weight", "bias"), strict=False):
            renames[param] = f"{name}.{suffix}"
        node.name = name
    for node in graph.node:
        node.input[:] = [renames.get(v, v) for v in node.input]
        node.output[:] = [renames.get(v, v) for v in node.output]
    for init in graph.initializer:
        init.name = renames[init.name]
        # Rewrite every initializer as float32 raw_data (our reader decodes only that form).
        init.CopyFrom(
            numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name)
        )
    for vi in graph.output:
        vi.name = renames.get(vi.name, vi.name)
    graph.name = "tinyvgg_fashion_mnist"
    # Store the shapes of every intermediate value, so readers need not infer them.
    del graph.value_info[:]
    return shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)


def set_metadata(proto: onnx.ModelProto, accuracy: float, recipe: Recipe) -> dict[str, str]:
    preprocessing = {
        "mode": "L",
        "size": [28, 28],
        "resize": "fit",
        "scale": SCALE,
        "mean": [MEAN],
        "std": [STD],
        "invert_light_background": True,
        "layout": "NCHW",
    }
    meta = {
        "cnnlens.name": "TinyVGG (Fashion-MNIST)",
        "cnnlens.description": (
            "A small VGG-style CNN (two blocks of two 3x3 convolutions with 10 channels, "
            "ReLU and 2x2 max-pooling, then one linear layer) that classifies 28x28 "
            "greyscale garment images into the 10 Fashion-MNIST classes."
        ),
        "cnnlens.classes": json.dumps(CLASSES),
        "cnnlens.preprocessing": json.dumps(preprocessing),
        "cnnlens.dataset": "Fashion-MNIST (Debian dataset-fashion-mnist)",
        "cnnlens.test_accuracy": f"{accuracy:.4f}",
        "cnnlens.training": recipe.summary(),
    }
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, meta)
    proto.producer_name = PRODUCER
    proto.producer_version = torch.__version__.split("+")[0]
    proto.doc_string = (
        "TinyVGG trained on Fashion-MNIST by cnnlens build/train_tinyvgg.py; input 'image' "
        "(N,1,28,28) float32 normalised as in cnnlens.preprocessing, output 'logits' (N,10)."
    )
    return meta


@torch.no_grad()
def check_export(proto: onnx.ModelProto, model: TinyVGG, x: torch.Tensor) -> float:
    """Run the ONNX reference evaluator on a few images; returns max |Δlogit| vs PyTorch."""
    from onnx.reference import ReferenceEvaluator

    onnx.checker.check_model(proto, full_check=True)
    (ref,) = ReferenceEvaluator(proto).run(["logits"], {"image": x.numpy()})
    return float(np.abs(ref - model(x).numpy()).max())


# --------------------------------------------------------------------------------------
# Model card and example images
# --------------------------------------------------------------------------------------
def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def layer_table(model: TinyVGG, proto: onnx.ModelProto) -> list[tuple[str, str, str, int]]:
    shapes: dict[str, list[int | str]] = {}
    for vi in [*proto.graph.value_info, *proto.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_param or d.dim_value for d in dims]
    params = {i.name: int(np.prod(i.dims)) for i in proto.graph.initializer}
    rows = []
    for node in proto.graph.node:
        shape = "×".join(str(d) for d in ["N", *shapes[node.output[0]][1:]])
        count = sum(params.get(v, 0) for v in node.input)
        rows.append((node.name, node.op_type, shape, count))
    assert sum(r[3] for r in rows) == sum(p.numel() for p in model.parameters())
    return rows


def write_card(
    path: Path,
    rows: list[tuple[str, str, str, int]],
    meta: dict[str, str],
    per_class: list[float],
    recipe: Recipe,
    n_test: int,
    n_train: int,
    stats: tuple[float, float],
) -> None:
    total = sum(r[3] for r in rows)
    table = "\n".join(f"| `{n}` | {op} | {s} | {p:,} |" for n, op, s, p in rows)
    class_rows = "\n".join(
        f"| {i} | {c} | {a:.4f} |" for i, (c, a) in enumerate(zip(CLASSES, per_class, strict=True))
    )
    accuracy = meta["cnnlens.test_accuracy"]
    text = f"""# Model card: TinyVGG (Fashion-MNIST)

`tinyvgg-fashion-mnist.onnx` is the model cnnlens ships. It is written, with this card and the
example images in `assets/images/fashion-mnist/`, by `build/train_tinyvgg.py`; do not edit
them by hand, re-run the script instead.

**Test accuracy: {accuracy}** on the {n_test:,} Fashion-MNIST test images
(metadata key `cnnlens.test_accuracy`).

## Architecture

TinyVGG in the form used by the common PyTorch course: two blocks of
(3×3 conv → ReLU → 3×3 conv → ReLU → 2×2 max-pool), 10 channels throughout, then a linear
classifier. Input `image` is N×1×28×28 float32 (batch dimension `N` dynamic), output `logits`
is N×10; there is no softmax in the graph (the engine computes the probabilities).
ONNX opset {OPSET}; each node and its output value share the name in the first column;
parameters are `<node>.weight` / `<node>.bias` (float32 raw data).

| layer | op | output shape | params |
|---|---|---|---|
| `image` | input | N×1×28×28 | 0 |
{table}
| **total** | | | **{total:,}** |

Convolutions: kernel 3×3, stride 1, padding 1. Max-pools: kernel 2×2, stride 2.
Flatten keeps the batch axis and flattens C×H×W (10×7×7 = 490) in row-major order.

## Data

Fashion-MNIST (Zalando Research; Xiao, Rasul & Vollgraf, 2017), MIT licence, as installed by
the Debian package `dataset-fashion-mnist` under `{DATA_DIR}`
(the four gzipped IDX files, read with gzip + NumPy). {n_train:,} training images and
{n_test:,} test images, 28×28 greyscale, a light garment on a black background. All training
images are used for training (no validation split); the test images are used only to measure
accuracy. The recipe was fixed before the final run, not searched on the test set, but the
per-epoch test accuracy was watched while choosing it, so the figure is at most mildly
optimistic.

Classes, in label order (metadata key `cnnlens.classes`):
{", ".join(f"{i} {c}" for i, c in enumerate(CLASSES))}.

## Preprocessing

Metadata key `cnnlens.preprocessing`:

```json
{meta["cnnlens.preprocessing"]}
```

The steps, in order (the reference implementation is `preprocess_image` in
`tests/test_bundled_model.py`):

1. Decode the image, applying its EXIF orientation. If it has transparency, composite it
   onto white first (a transparent background then counts as light, step 3).
2. Convert to greyscale (`"mode": "L"`, Pillow's ITU-R 601-2 luma).
3. If the background is light — the mean of the image's border pixels (its outermost
   one-pixel ring) is above 127 — invert it (`255 − x`): Fashion-MNIST garments are light on
   black (`"invert_light_background": true`).
4. Fit it inside 28×28 keeping its aspect ratio (`"resize": "fit"`): ratio
   r = min(28/w, 28/h), new sides w′ = max(1, round(w·r)), h′ = max(1, round(h·r)) (Python's
   `round`), resampled with Pillow `Image.resize((w′, h′), Image.BILINEAR)`, pasted on a black
   28×28 canvas at (⌊(28 − w′)/2⌋, ⌊(28 − h′)/2⌋). A 28×28 image is left untouched.
5. `x · scale` with scale = 1/255 (computed as `x / 255` in float32), then
   `(x − mean) / std` with mean = {MEAN}, std = {STD} (the training-set pixel statistics,
   {stats[0]:.5f} and {stats[1]:.5f}, rounded; the training used exactly the rounded numbers).
6. Lay out as N×C×H×W = 1×1×28×28 float32 (`"layout": "NCHW"`).

## Training

- Recipe (metadata key `cnnlens.training`): {recipe.summary()}.
- Data order, augmentation and initialisation all come from the one seed (`random`, NumPy
  and torch seeded; `torch.use_deterministic_algorithms(True)`; `torch.set_num_threads(2)`),
  so the same command on the same CPU and torch version reproduces the file.
- Framework: PyTorch {torch.__version__.split("+")[0]} (CPU), exported with the TorchScript
  ONNX exporter (`dynamo=False`), value and node names rewritten afterwards; the export is
  checked with `onnx.checker` and the ONNX reference evaluator against PyTorch.

Reproduce (from the repository root):

```sh
python3 -m venv .venv-train
.venv-train/bin/pip install -r build/requirements-train.txt
.venv-train/bin/python build/train_tinyvgg.py --epochs {recipe.epochs} --seed {recipe.seed}
```

## Evaluation

Accuracy on all {n_test:,} test images: **{accuracy}**. Per class:

| label | class | accuracy |
|---|---|---|
{class_rows}

## Limitations

- Trained only on Fashion-MNIST: expects a single garment, shoe or bag, centred, seen from the
  front, filling most of the frame, on a plain background. Photos of people wearing clothes,
  several items, cluttered or textured backgrounds, and unusual crops will be misclassified,
  often with high confidence.
- 28×28 greyscale only: colour and fine detail are thrown away. Shirt, T-shirt/top, Pullover
  and Coat are confused most (see the per-class table).
- The background-inversion rule looks only at the border: an image whose border is light
  but whose garment is lighter, or a dark garment on a dark background, comes out with the
  wrong polarity.
- A teaching model: small (10 channels) so that every activation can be shown, not to be
  state of the art.

## Example images

`assets/images/fashion-mnist/` holds the first {EXAMPLES_PER_CLASS} correctly classified test
images of each class (lowest test index first), as raw 28×28 greyscale PNGs (not normalised),
listed with their label and test index in `index.json`.
"""
    path.write_text(text, encoding="utf-8")


def write_examples(out_dir: Path, test: Split, preds: np.ndarray) -> list[dict[str, object]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.png"):
        stale.unlink()
    index: list[dict[str, object]] = []
    for label, name in enumerate(CLASSES):
        hits = np.flatnonzero((test.labels == label) & (preds == label))[:EXAMPLES_PER_CLASS]
        for k, test_index in enumerate(hits.tolist(), start=1):
            file = f"{slug(name)}_{k}.png"
            image = Image.fromarray(test.images[test_index])  # 2-D uint8 gives mode "L"
            image.save(out_dir / file, optimize=True)
            index.append({"file": file, "label": name, "test_index": test_index})
    (out_dir / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return index


# --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="root under which assets/ is written (default: the repository)",
    )
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)

    recipe = Recipe(args.seed, args.epochs, args.batch_size, args.lr, args.weight_decay)
    seed_everything(recipe.seed)
    train_split, test_split = load_split(args.data, "train"), load_split(args.data, "t10k")
    scaled = train_split.images.astype(np.float64) / 255.0
    stats = (float(scaled.mean()), float(scaled.std()))
    # The constants are the rounded statistics; fail loudly if the data ever disagree.
    if abs(stats[0] - MEAN) > 5e-4 or abs(stats[1] - STD) > 5e-4:
        raise RuntimeError(f"training-set mean/std {stats} differ from {MEAN}/{STD}")
    print(f"train {train_split.images.shape}, test {test_split.images.shape}; {recipe.summary()}")

    model = TinyVGG()
    start = time.perf_counter()
    accuracy = train(model, train_split, test_split, recipe)
    train_s = time.perf_counter() - start

    preds = predict(model, normalise(test_split.images))
    per_class = [float((preds[test_split.labels == c] == c).mean()) for c in range(len(CLASSES))]
    proto = export_onnx(model)
    meta = set_metadata(proto, accuracy, recipe)
    max_diff = check_export(proto, model, normalise(test_split.images[:64]))
    if max_diff > 1e-4:
        raise RuntimeError(f"ONNX and PyTorch disagree by {max_diff}")

    model_path = args.out / MODEL_REL
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(proto.SerializeToString())
    write_card(
        args.out / CARD_REL,
        layer_table(model, proto),
        meta,
        per_class,
        recipe,
        len(test_split.labels),
        len(train_split.labels),
        stats,
    )
    index = write_examples(args.out / IMAGES_REL, test_split, preds)

    print(f"training time {train_s:.0f} s; ONNX vs PyTorch max |Δlogit| {max_diff:.2e}")
    print(
        f"wrote {model_path} ({os.path.getsize(model_path):,} bytes), "
        f"{args.out / CARD_REL}, {len(index)} example images"
    )
    print(f"final test accuracy {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
