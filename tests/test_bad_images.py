"""The bad-image corpus (tests/bad_inputs.py) through the command line.

Each file either predicts (exit 0, one JSON line) or is refused with exit status 2 and a
`cnnlens: error:` line naming the file with a specific message. Files that must mean the
same picture as a reference (an EXIF-rotated photo, an animation's first frame) must give
exactly the reference's probabilities.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from cnnlens.cli import main
from tests.bad_inputs import ImageCase, bad_image_files, write_bad_images
from tests.paths import BUNDLED_MODEL

CASES = [case for _, case in bad_image_files().values()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad_images")
    write_bad_images(folder)
    return folder


def predict(path: Path, capsys) -> tuple[int, list[dict], str]:
    out = io.StringIO()
    status = main(["predict", str(BUNDLED_MODEL), str(path), "--json"], out=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return status, lines, capsys.readouterr().err


def test_the_corpus_is_deterministic(tmp_path):
    assert bad_image_files() == bad_image_files()
    names = {case.name for case in write_bad_images(tmp_path)}
    assert names == {p.name for p in tmp_path.iterdir()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_on_every_bad_image(case: ImageCase, corpus: Path, capsys):
    path = corpus / case.name
    start = time.perf_counter()
    status, lines, err = predict(path, capsys)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{case.name} took {elapsed:.2f} s"
    if case.refused is None:
        assert status == 0, err
        assert len(lines) == 1 and lines[0]["top1"] in lines[0]["classes"]
        assert err == ""
    else:
        assert status == 2 and lines == []
        first = err.splitlines()[0]
        assert first.startswith(f"cnnlens: error: {path}: ")
        assert case.refused in first.lower(), first
        assert "Traceback" not in err
    if case.same_as is not None:
        _, reference, _ = predict(corpus / case.same_as, capsys)
        assert lines[0]["probabilities"] == reference[0]["probabilities"]
        assert lines[0]["classes"] == reference[0]["classes"]


def test_a_rotated_photo_is_not_read_sideways(corpus: Path, capsys):
    """Guards the EXIF check above against a picture that looks alike either way up."""
    from PIL import Image

    from cnnlens.decode import decode_image

    rotated = decode_image((corpus / "exif-rotated.jpg").read_bytes())
    stored = Image.open(corpus / "exif-rotated.jpg")
    assert rotated.size == (stored.height, stored.width) != stored.size
