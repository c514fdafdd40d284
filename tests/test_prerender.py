"""The prerendered first paint (assets/prerendered/, build/prerender.py) is the page's first
overview: the default state, and not stale. It is made by Pyodide; CPython's NumPy rounds a
few float32 values one unit in the last place differently, so here the numbers are compared
to float32 precision (the e2e test compares the worker's answer byte for byte)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math

import numpy as np
import pytest

from tests.e2e.conftest import load_build_script
from tests.page_app import local_app
from tests.paths import ROOT

FOLDER = ROOT / "assets" / "prerendered"
STALE = "stale: run `make prerender` (Node.js) and commit assets/prerendered/"


@pytest.fixture(scope="module")
def prerender():
    return load_build_script("prerender")


@pytest.fixture(scope="module")
def index() -> dict:
    return json.loads((FOLDER / "index.json").read_text())


def close(a, b, path: str = "") -> list[str]:
    """Where two decoded views differ beyond float32 rounding (relative 1e-5: a logit one
    unit off moves a tiny probability by more than one unit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in close(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in close(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9) else [f"{path}: {a} != {b}"]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def test_the_first_state_is_the_page_default(index):
    catalogue = json.loads((ROOT / "assets" / "models" / "index.json").read_text())
    examples = json.loads((ROOT / catalogue[0]["examples"] / "index.json").read_text())
    first = index["states"][0]
    assert (first["model"], first["image"], first["range"]) == (
        catalogue[0]["id"], examples[0]["file"], "layer")
    for state in index["states"]:
        assert (FOLDER / state["view"]).is_file() and (FOLDER / state["rasters"]).is_file()


def test_the_start_answer_is_the_workers():
    app = local_app()
    started = asyncio.run(app.start())
    index = json.loads((FOLDER / "index.json").read_text())
    assert index["started"] == {"model": started["model"],
                                "examples": json.loads(started["examples"]),
                                "catalogue": json.loads(started["catalogue"])}, STALE


def test_each_prerendered_overview_is_what_page_app_answers_now(index):
    """Stale files (another model, example, or overview code) fail here."""
    for state in index["states"]:
        app = local_app()
        asyncio.run(app.start())
        if state["model"] != app.model_id:
            assert "error" not in asyncio.run(app.open_model(state["model"]))
        assert "error" not in asyncio.run(app.example(state["image"]))
        answer = app.mode(state["range"])
        assert "error" not in answer
        text = (FOLDER / state["view"]).read_text()
        assert close(json.loads(text), json.loads(answer["view"])) == [], (state, STALE)
        rasters = np.frombuffer((FOLDER / state["rasters"]).read_bytes(), np.uint8)
        fresh = np.frombuffer(bytes(answer["rasters"]), np.uint8)
        assert rasters.shape == fresh.shape
        # A colour one step away at most, where a value sits on a colour's edge.
        assert np.abs(rasters.astype(int) - fresh).max() <= 1, (state, STALE)


def test_states_are_written_as_model_image_range(prerender):
    state = prerender.parse_state("fashion-mnist:trouser_1.png:neuron")
    assert state == {"model": "fashion-mnist", "image": "trouser_1.png", "range": "neuron"}
    assert prerender.file_stem(state) == "fashion-mnist--trouser_1--neuron"
    for bad in ("fashion-mnist:trouser_1.png", "fashion-mnist:trouser_1.png:all", "::layer"):
        with pytest.raises(argparse.ArgumentTypeError):
            prerender.parse_state(bad)


def test_the_inputs_digest_follows_the_states(prerender):
    """What decides whether the build step runs again (nothing is rewritten otherwise)."""
    default = prerender.default_state()
    other = {**default, "image": "trouser_1.png"}
    assert prerender.inputs([default]) == prerender.inputs([default])
    assert prerender.inputs([default]) != prerender.inputs([default, other])
    with pytest.raises(SystemExit, match="no model 'nope'"):
        prerender.inputs([{**default, "model": "nope"}])
