"""The prerendered first paint (assets/prerendered/, build/prerender.py) is the page's first
overview: the default state, and not stale; the embeds' detail view and playground states
are what `page.App` answers too. They are made by Pyodide; CPython's NumPy rounds a few
float32 values one unit in the last place differently, so here the numbers are compared to
float32 precision (the e2e tests compare the worker's answer byte for byte)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnnlens.views import colormap
from tests.e2e.conftest import load_build_script
from tests.page_app import local_app
from tests.paths import ROOT

FOLDER = ROOT / "assets" / "prerendered"
# The largest difference between neighbouring entries of a colour table, in any channel.
COLOUR_STEP = max(int(np.abs(np.diff(lut.astype(int), axis=0)).max())
                  for lut in colormap.SCALES.values())
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


def fresh_answer(state: dict) -> dict:
    """What `page.App` answers for a prerendered state now, in CPython (the page's own
    request sequence: start, open the model, the example, then the view)."""
    app = local_app()
    asyncio.run(app.start())
    if state["kind"] == "playground":
        return app.playground(state["n"], state["p"], state["k"], state["s"])
    if state["model"] != app.model_id:
        assert "error" not in asyncio.run(app.open_model(state["model"]))
    assert "error" not in asyncio.run(app.example(state["image"]))
    if state["kind"] == "overview":
        return app.mode(state["range"])
    return app.detail(state["layer"], state["channel"])


def fresh_differences(folder: Path, state: dict) -> list[str]:
    """Where the prerendered files of `state` differ from a fresh answer beyond float32
    rounding: JSON fields by `close`; rasters by one step of a colour table (a value one unit
    off on the edge between two entries takes the next, up to `COLOUR_STEP` apart); float32
    numbers by a relative 1e-5 of the array's largest value (a sum of products, one unit
    off)."""
    answer = fresh_answer(state)
    assert "error" not in answer, answer
    found = []
    for field in ("view", "playground"):
        if field in state:
            text = (folder / state[field]).read_text()
            found += close(json.loads(text), json.loads(answer[field]), field)
    if "rasters" in state:
        rasters = np.frombuffer((folder / state["rasters"]).read_bytes(), np.uint8)
        fresh = np.frombuffer(bytes(answer["rasters"]), np.uint8)
        if rasters.shape != fresh.shape or np.abs(rasters.astype(int) - fresh).max() > (
                COLOUR_STEP):
            found.append("rasters")
    if "numbers" in state:
        numbers = np.frombuffer((folder / state["numbers"]).read_bytes(), np.float32)
        fresh = np.frombuffer(bytes(answer["numbers"]), np.float32)
        if numbers.shape != fresh.shape or not np.allclose(
                numbers, fresh, rtol=1e-5, atol=1e-5 * np.abs(fresh).max()):
            found.append("numbers")
    missing = {"view", "rasters"} if state["kind"] == "overview" else {
        "detail": {"view", "numbers", "rasters"}, "playground": {"playground"}}[state["kind"]]
    return found + [f"no {field} file" for field in sorted(missing - state.keys())]


def test_the_first_state_is_the_page_default(index):
    catalogue = json.loads((ROOT / "assets" / "models" / "index.json").read_text())
    examples = json.loads((ROOT / catalogue[0]["examples"] / "index.json").read_text())
    first = index["states"][0]
    assert (first["kind"], first["model"], first["image"], first["range"]) == (
        "overview", catalogue[0]["id"], examples[0]["file"], "layer")
    assert (FOLDER / first["view"]).is_file() and (FOLDER / first["rasters"]).is_file()


def test_the_start_answer_is_the_workers():
    app = local_app()
    started = asyncio.run(app.start())
    index = json.loads((FOLDER / "index.json").read_text())
    assert index["started"] == {"model": started["model"],
                                "examples": json.loads(started["examples"]),
                                "catalogue": json.loads(started["catalogue"])}, STALE


def test_each_prerendered_state_is_what_page_app_answers_now(index):
    """Stale files (another model, example, or overview code) fail here."""
    for state in index["states"]:
        assert fresh_differences(FOLDER, state) == [], (state, STALE)


def test_a_changed_number_is_found(index, tmp_path):
    """The comparison above can fail: one raster byte and one view number moved."""
    state = index["states"][0]
    for name in (state["view"], state["rasters"]):
        shutil.copyfile(FOLDER / name, tmp_path / name)
    rasters = bytearray((tmp_path / state["rasters"]).read_bytes())
    rasters[len(rasters) // 2] ^= 0x40
    (tmp_path / state["rasters"]).write_bytes(bytes(rasters))
    assert fresh_differences(tmp_path, state) == ["rasters"]
    text = (FOLDER / state["view"]).read_text()
    number = re.search(r"\d\.\d{4,}", text)
    moved = text[:number.start()] + str(float(number.group()) * 1.01) + text[number.end():]
    (tmp_path / state["view"]).write_text(moved)
    assert len(fresh_differences(tmp_path, state)) == 2


@pytest.mark.slow
def test_the_embeds_detail_and_playground_states_are_what_page_app_answers(prerender, tmp_path):
    """`make site`'s detail view and playground (prerender.EMBEDDED), made here by Node
    (the e2e test of the blog post checks the same files of a built site)."""
    states = [prerender.parse_state(text) for text in prerender.EMBEDDED[1:]]
    if not prerender.write(tmp_path, [prerender.default_state(), *states], force=True):
        pytest.skip("Node.js is not installed: prerender cannot run")
    index = json.loads((tmp_path / "index.json").read_text())
    assert [s["kind"] for s in index["states"]] == ["overview", "detail", "playground"]
    for state in index["states"][1:]:
        assert fresh_differences(tmp_path, state) == [], state


def test_the_blog_posts_frames_are_the_embedded_states(prerender):
    """`make site` prerenders what examples/blog-post.html shows (prerender.EMBEDDED), read
    from its frames' addresses with embed-page.js's defaults."""
    html = (ROOT / "examples" / "blog-post.html").read_text()
    shown = []
    for src in re.findall(r'<iframe[^>]*src="[^"#]*#([^"]*)"', html):
        link = dict(part.split("=", 1) for part in src.replace("&amp;", "&").split("&"))
        if link["view"] == "playground":
            shown.append("playground:5:1:3:2")  # playground.js's FIELDS defaults
        elif link["view"] == "overview":
            shown.append(f"fashion-mnist:{link['image']}:{link.get('range', 'layer')}")
        else:
            shown.append(f"fashion-mnist:{link['image']}:{link['layer']}:{link['channel']}")
    assert shown == list(prerender.EMBEDDED)


def test_states_are_written_as_model_image_range(prerender):
    state = prerender.parse_state("fashion-mnist:trouser_1.png:neuron")
    assert state == {"kind": "overview", "model": "fashion-mnist", "image": "trouser_1.png",
                     "range": "neuron"}
    assert prerender.file_stem(state) == "fashion-mnist--trouser_1--neuron"
    state = prerender.parse_state("fashion-mnist:trouser_1.png:conv_1_2:3")
    assert state == {"kind": "detail", "model": "fashion-mnist", "image": "trouser_1.png",
                     "layer": "conv_1_2", "channel": 3}
    assert prerender.file_stem(state) == "fashion-mnist--trouser_1--conv_1_2--3"
    state = prerender.parse_state("playground:5:1:3:2")
    assert state == {"kind": "playground", "n": 5, "p": 1, "k": 3, "s": 2}
    assert prerender.file_stem(state) == "playground--5-1-3-2"
    for bad in ("fashion-mnist:trouser_1.png", "fashion-mnist:trouser_1.png:all", "::layer",
                "fashion-mnist:trouser_1.png:conv_1_2:x", "playground:5:1:x:2"):
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
