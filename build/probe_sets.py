"""Writes the bundled probe set of the Fashion-MNIST model: ``assets/probes/``.

The first ``PER_CLASS`` images of each class of the Fashion-MNIST test set (t10k, in the
test set's order), interleaved by test index, packed as one zlib-compressed uint8 array
``(N, 28, 28, 1)`` (``fashion-mnist-test.bin``) beside its description
(``fashion-mnist-test.json``: shape, classes, labels, each image's test index, the
pixels' sha256, provenance and licence). Deterministic: run it again rather than edit the
files. Reads Debian's ``dataset-fashion-mnist`` (``make system-packages``) with the
training script's own IDX reader, so it needs that script's environment (``.venv``).

    .venv/bin/python build/probe_sets.py
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from pathlib import Path

import numpy as np

BUILD = Path(__file__).resolve().parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)
from train_tinyvgg import CLASSES, DATA_DIR, read_idx  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "assets" / "probes"
NAME = "fashion-mnist-test"
PER_CLASS = 30

SOURCE = ("Fashion-MNIST test set (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), "
          "Xiao, Rasul and Vollgraf, Zalando Research, 2017; read from Debian's "
          "dataset-fashion-mnist package")
LICENCE = "MIT License, Copyright (c) 2017 Zalando SE"


def chosen(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Test indices: the first ``per_class`` of each class, in increasing order."""
    first = [np.flatnonzero(labels == c)[:per_class] for c in range(len(CLASSES))]
    return np.sort(np.concatenate(first))


def main() -> None:
    images = read_idx(DATA_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(DATA_DIR / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    indices = chosen(labels, PER_CLASS)
    pixels = np.ascontiguousarray(images[indices][..., None], np.uint8)
    raw = pixels.tobytes()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{NAME}.bin").write_bytes(zlib.compress(raw, 9))
    description = {
        "name": NAME,
        "title": f"Fashion-MNIST test images ({PER_CLASS} per class)",
        "shape": list(pixels.shape),
        "classes": CLASSES,
        "labels": labels[indices].tolist(),
        "test_indices": indices.tolist(),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "data": f"{NAME}.bin",
        "source": SOURCE,
        "licence": LICENCE,
        "made_by": "build/probe_sets.py",
    }
    (OUT / f"{NAME}.json").write_text(json.dumps(description, indent=1) + "\n")
    print(f"wrote {len(indices)} images to {OUT / NAME}.bin and .json")


if __name__ == "__main__":
    main()
