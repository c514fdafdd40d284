"""Fuzz target for the model loader: `make fuzz` runs it under atheris (libFuzzer).

Every input goes through what the page does with an opened model: read the ONNX bytes,
check the ops, read the card (which checks the memory budget), then run one forward pass
on zeros of the card's input size. Our documented errors (`CnnlensError`) are the expected
outcome for bad bytes; any other exception is a bug and stops the fuzzer with the input
saved as `crash-*` in the working directory.

Run by hand: .venv/bin/python tests/fuzz_onnx.py -max_total_time=300 build/fuzz-corpus
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def seeds() -> list[bytes]:
    """Starting points: the bundled model and the broken-model corpus."""
    sys.path.insert(0, str(ROOT))
    from tests.bad_models import bad_model_files
    from tests.paths import BUNDLED_MODEL

    return [BUNDLED_MODEL.read_bytes()] + [c.data for c in bad_model_files().values()]


def load_and_run(data: bytes) -> None:
    """The whole model path; raises only `CnnlensError` for bad input."""
    from cnnlens.errors import CnnlensError
    from cnnlens.forward import run
    from cnnlens.loader import load_model

    try:
        loaded = load_model(data, "fuzz.onnx")
        prep = loaded.card.preprocessing
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # overflow in float32 is fine: not an error
            run(loaded.model, np.zeros((1, prep.channels, *prep.size), np.float32))
    except CnnlensError:
        pass


def main() -> None:
    import atheris

    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None and not any(corpus.glob("*")):
        corpus.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(seeds()):
            (corpus / f"seed-{i:02d}.onnx").write_bytes(seed)
    with atheris.instrument_imports():
        import cnnlens.forward
        import cnnlens.limits
        import cnnlens.model_card
        import cnnlens.onnx_reader
        import cnnlens.ops
        import cnnlens.protobuf
        import cnnlens.session  # noqa: F401
    atheris.Setup(sys.argv, load_and_run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
