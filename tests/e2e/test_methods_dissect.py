"""Dissection in the page: it opens from the overview, runs the bundled probe set in chunks
and draws the CPython engine's numbers, is kept for the session, stops on Cancel, and
takes the reader's own zip (a bad file in it named)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from tests.paths import EXAMPLES

from .conftest import REDRAW_TIMEOUT_MS, engine_reference, open_tab, screenshot

TOL = {"rtol": 1e-4, "atol": 1e-4}
PANEL = "[data-testid='method-dissect']"
RUN_TIMEOUT_MS = 120_000

REFERENCE = """
import asyncio, json, sys
import numpy as np
from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.methods.dissection import Dissector
from cnnlens.model_card import class_names
from cnnlens.probe import load_bundled, read_index
from tests.paths import BUNDLED_MODEL, ROOT

loaded = load_model(BUNDLED_MODEL.read_bytes(), BUNDLED_MODEL.name)
async def read(path):
    return (ROOT / path).read_bytes()
entry = read_index((ROOT / "assets/probes/index.json").read_text())[0]
probe = asyncio.run(load_bundled(entry, read, loaded.card.preprocessing, []))
out = {}
for layer, top in json.loads(sys.argv[2]):
    found = Dissector(loaded, probe, layer, top).run()
    for name in ("values", "class_means", "thresholds", "top"):
        out[f"{layer}/{name}"] = getattr(found, name)
np.savez(sys.argv[1], **out)
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, np.ndarray]:
    return engine_reference(tmp_path_factory.mktemp("reference"), REFERENCE, [["conv_2_2", 8]])


def state(page, key: str) -> str | None:
    return page.get_attribute(PANEL, f"data-{key}")


def wait_drawn(page, count: int, layer: str) -> None:
    page.wait_for_function(
        """([n, layer]) => { const p = document.querySelector("[data-testid='method-dissect']");
            return p && Number(p.dataset.cnnlensMethodReady || 0) >= n
                && p.dataset.layer === layer && p.dataset.done === 'true'; }""",
        arg=[count, layer], timeout=RUN_TIMEOUT_MS)


def numbers(page, name: str) -> np.ndarray:
    shape, values = page.eval_on_selector(
        PANEL, f"p => [p.cnnlensNumbers.{name}.shape, Array.from(p.cnnlensNumbers.{name}.values)]")
    return np.array(values, np.float32).reshape(shape)


def test_it_draws_the_engines_dissection_of_conv_2_2(page, reference):
    open_tab(page, "#overview canvas.tile[data-layer='conv_2_2'][data-channel='3']",
             "#tab-dissect")
    wait_drawn(page, 1, "conv_2_2")
    for name in ("values", "class_means", "thresholds"):
        np.testing.assert_allclose(numbers(page, name), reference[f"conv_2_2/{name}"], **TOL)
    assert state(page, "channel") == "3"
    assert page.locator(f"{PANEL} .dissect-table tr[data-channel]").count() == 10
    assert page.locator(f"{PANEL} .dissect-top").count() == 8
    images = page.eval_on_selector_all(f"{PANEL} .dissect-top canvas.map:not(.crop)",
                                       "cs => cs.map(c => c.getAttribute('aria-label'))")
    tops = reference["conv_2_2/top"][3]
    assert [label.split(": ")[1].split(",")[0] for label in images] == [str(i) for i in tops]
    assert page.locator(f"{PANEL} svg.dissect-bars rect").count() == 10
    screenshot(page, "dissect-1280")


def test_another_channel_is_shown_without_running_again(page):
    drawn = int(state(page, "cnnlens-method-ready"))
    page.click(f"{PANEL} .dissect-table tr[data-channel='7'] button")
    assert state(page, "channel") == "7"
    assert int(state(page, "cnnlens-method-ready")) == drawn


def test_a_dissection_is_kept_and_cancel_stops_a_run(page):
    page.select_option("#dissect-top", "4")  # another dissection: it runs
    page.wait_for_function(
        """() => { const p = document.querySelector("[data-testid='method-dissect']");
            return p.dataset.state === 'running' && p.dataset.done === 'false'; }""",
        timeout=REDRAW_TIMEOUT_MS)
    page.click(f"{PANEL} button:has-text('Cancel')")
    assert state(page, "state") == "cancelled"
    assert "Cancelled after" in page.inner_text("#dissect-status")
    drawn = int(state(page, "cnnlens-method-ready"))
    page.select_option("#dissect-top", "8")  # made before: answered at once, done
    wait_drawn(page, drawn + 1, "conv_2_2")
    assert page.eval_on_selector(PANEL, "p => p.querySelector('progress').value") == 301


def test_the_readers_own_zip(page):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("coat_1.png", "coat_2.png", "bag_1.png", "bag_2.png"):
            kind = name.split("_")[0]
            archive.writestr(f"{kind}/{name}", (EXAMPLES / name).read_bytes())
        archive.writestr("bag/notes.txt", "not a picture")
    drawn = int(state(page, "cnnlens-method-ready"))
    page.set_input_files("#dissect-zip", files=[{"name": "mine.zip", "mimeType": "application/zip",
                                                 "buffer": buffer.getvalue()}])
    wait_drawn(page, drawn + 1, "conv_2_2")
    status = page.inner_text("#dissect-status")
    assert "mine.zip" in status and "bag/notes.txt: not an image file" in status
    assert page.locator(f"{PANEL} svg.dissect-bars rect").count() == 2
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "dissect-390")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_another_model_is_dissected_again(page):
    """A new model halts what was drawn: the same layer name is dissected again (over the
    reader's zip, still chosen, then over CNN Explainer's 12 examples), never shown from
    the previous model."""
    ready = int(page.evaluate("Number(document.documentElement.dataset.cnnlensReady)"))
    page.select_option("#model-select", "cnn-explainer")
    page.wait_for_function("n => Number(document.documentElement.dataset.cnnlensReady) > n",
                           arg=ready, timeout=REDRAW_TIMEOUT_MS)
    drawn = int(state(page, "cnnlens-method-ready") or 0)
    open_tab(page, "#overview canvas.tile[data-layer='conv_2_2'][data-channel='0']",
             "#tab-dissect")
    wait_drawn(page, drawn + 1, "conv_2_2")
    assert "mine.zip (4 images)" in page.inner_text("#dissect-status")
    # Drawn at the new model's 64 x 64 (the canvas scales each input pixel by a whole number).
    assert page.eval_on_selector(f"{PANEL} .dissect-top canvas.map", "c => c.width") % 64 == 0
    page.select_option("#dissect-probe", "")
    wait_drawn(page, drawn + 2, "conv_2_2")
    assert "CNN Explainer's 12 example images" in page.inner_text("#dissect-status")
    assert page.locator(f"{PANEL} svg.dissect-bars rect").count() == 10
