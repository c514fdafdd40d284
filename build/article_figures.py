"""Writes the article's static figures, `assets/figures/<name>.svg`: what the live figures
show for the page's first example (the image it opens with), made by the same code
(`cnnlens.views.figures`) from a CPython forward pass. The article shows these without
JavaScript; `tests/test_article_figures.py` fails when they are stale (numbers compared to
a few digits: another machine's BLAS may round the last bit of a float32 differently).

    python3 build/article_figures.py [OUT_DIR]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "py"))
# One OpenBLAS thread, as NumPy has in Pyodide (set before NumPy loads, when run as a script).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from cnnlens.loader import load_model  # noqa: E402
from cnnlens.page import EXAMPLES_PATH, MODEL_PATH  # noqa: E402
from cnnlens.session import Session  # noqa: E402
from cnnlens.views.figures import FIGURES, figures  # noqa: E402

OUT = ROOT / "assets" / "figures"


def first_example() -> str:
    """The example the page opens with: the first of the example index."""
    return json.loads((ROOT / EXAMPLES_PATH / "index.json").read_text())[0]["file"]


def made() -> dict[str, Any]:
    """Every figure for the first example and the bundled model."""
    loaded = load_model((ROOT / MODEL_PATH).read_bytes(), Path(MODEL_PATH).name)
    file = first_example()
    session = Session.start(loaded, (ROOT / EXAMPLES_PATH / file).read_bytes(), file)
    return figures(loaded.model, session.result, list(session.classes), file)


def write(out: Path) -> list[Path]:
    """Writes one SVG per figure into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    every = made()
    paths = []
    for name in FIGURES:
        path = out / f"{name}.svg"
        path.write_text(every[name]["svg"] + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(written)
