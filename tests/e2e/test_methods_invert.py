"""Network inversion in the page ("What it keeps"): it opens from the overview, redraws as
it descends, ends at the CPython engine's reconstruction for the same seed, shows the
binarised and dropped-out inversions and every layer side by side with their errors, and
stops on Cancel within one chunk. One page for the module."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import ARTIFACTS, REDRAW_TIMEOUT_MS, engine_reference, open_tab
from .method_panels import cancel_mid_run, drawn_numbers, set_number

TOL = {"rtol": 1e-4, "atol": 1e-4}
PANEL = "[data-testid='method-invert']"
RUN_TIMEOUT_MS = 120_000

# The CPython engine's reconstructions with the page's default settings, on the example the
# page boots with; one thread of OpenBLAS, as NumPy in Pyodide (see conftest).
REFERENCE = """
import json, sys
import numpy as np
from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.methods.inversion import Inverter, Settings, binarised, dropped_out
from cnnlens.preprocess import preprocess
from cnnlens.views.invert import DROPOUT_SEED
from tests.paths import BUNDLED_MODEL, EXAMPLES

loaded = load_model(BUNDLED_MODEL.read_bytes(), BUNDLED_MODEL.name)
x = preprocess((EXAMPLES / "t-shirt-top_1.png").read_bytes(), loaded.card.preprocessing)
tensors = run(loaded.model, x).tensors
out = {"original": x}
for key, layer, kind, seed, steps in json.loads(sys.argv[2]):
    goal = {"plain": tensors[layer], "binarised": binarised(tensors[layer]),
            "dropout": dropped_out(tensors[layer], (seed, DROPOUT_SEED))}[kind]
    inverter = Inverter(loaded, layer, goal, Settings(), seed)
    inverter.step(steps)
    out[key] = inverter.image
    out[key + "/losses"] = inverter.losses[:, 0]
np.savez(sys.argv[1], **out)
"""
CASES = [
    ("plain", "conv_1_2", "plain", 0, 30),
    ("binarised", "conv_2_1", "binarised", 4, 6),
    ("dropout", "conv_2_1", "dropout", 4, 6),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, np.ndarray]:
    return engine_reference(tmp_path_factory.mktemp("reference"), REFERENCE, CASES)


@pytest.fixture(scope="module")
def app(page):
    return page


def panel(page, key: str) -> str:
    return page.get_attribute(PANEL, f"data-{key}")


def numbers(page, name: str) -> np.ndarray:
    return drawn_numbers(page, PANEL, name)


def wait_done(page, goal: int, mode: str) -> None:
    page.wait_for_function(
        """([goal, mode]) => { const p = document.querySelector("[data-testid='method-invert']");
            return p && p.dataset.done === 'true' && Number(p.dataset.goal) === goal
                && p.dataset.mode === mode; }""",
        arg=[goal, mode], timeout=RUN_TIMEOUT_MS)


def shoot(page, name: str) -> None:
    """The page as the reader sees it with the panel scrolled into view (the viewport), in
    the test artifacts."""
    page.locator(PANEL).scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_it_opens_from_the_overview_and_ends_at_the_engines_reconstruction(app, reference):
    open_tab(app, "#overview canvas.tile[data-layer='conv_1_2'][data-channel='3']",
             "#tab-invert")
    app.wait_for_function(f"document.querySelector(\"{PANEL}\")?.dataset.layer === 'conv_1_2'",
                          timeout=REDRAW_TIMEOUT_MS)
    assert app.locator("#detail-body").is_hidden()
    assert "conv_1_2 keeps" in app.text_content("#invert-title")
    app.evaluate("""() => {
        const p = document.querySelector("[data-testid='method-invert']");
        window.seenSteps = [];
        new MutationObserver(() => p.dataset.goal === '30' && window.seenSteps.push(
            Number(p.dataset.step))).observe(p, {attributes: true,
            attributeFilter: ['data-cnnlens-method-ready']}); }""")
    set_number(app, "#invert-steps", 30)
    wait_done(app, 30, "layer")
    seen = app.evaluate("window.seenSteps")
    assert seen[0] == 0 and seen[-1] == 30 and len(seen) >= 3, seen  # redrawn as it goes
    np.testing.assert_allclose(numbers(app, "original"), reference["original"], **TOL)
    np.testing.assert_allclose(numbers(app, "pictures")[0], reference["plain"][0], **TOL)
    np.testing.assert_allclose(numbers(app, "losses")[:, 0], reference["plain/losses"], **TOL)
    assert app.locator(f"{PANEL} .maximize-plot path.line").count() == 1
    assert "input error" in app.text_content(f"{PANEL} figure:nth-child(2) figcaption")
    assert "step 30 / 30" in app.text_content("#invert-status")
    link = app.evaluate("location.hash")
    for part in ("view=invert", "layer=conv_1_2", "seed=0", "steps=30", "invert=layer"):
        assert part in link


def test_binarised_and_dropped_out_beside_the_plain_one(app, reference):
    open_tab(app, "#overview canvas.tile[data-layer='conv_2_1'][data-channel='0']",
             "#tab-invert")
    app.select_option("#invert-mode", "perturb")
    set_number(app, "#invert-seed", 4)
    set_number(app, "#invert-steps", 6)
    wait_done(app, 6, "perturb")
    labels = app.locator(f"{PANEL} .invert-label").all_text_contents()
    assert labels == ["original", "plain", "binarised", "dropout 50%"]
    pictures = numbers(app, "pictures")
    np.testing.assert_allclose(pictures[1], reference["binarised"][0], **TOL)
    np.testing.assert_allclose(pictures[2], reference["dropout"][0], **TOL)


def test_every_layer_side_by_side_with_its_error_and_screenshots(app):
    app.select_option("#invert-mode", "all")
    set_number(app, "#invert-steps", 3)  # 12 reconstructions: a short run
    wait_done(app, 3, "all")
    labels = app.locator(f"{PANEL} .invert-label").all_text_contents()
    assert labels[:3] == ["original", "conv_1_1", "relu_1_1"] and labels[-1] == "logits"
    errors = app.locator(f"{PANEL} figcaption .value").all_text_contents()
    assert len(errors) == 2 * (len(labels) - 1)  # under each reconstruction, both errors
    assert all(e.startswith("input error ") for e in errors[::2])
    assert all(e.startswith("activation error ") for e in errors[1::2])
    app.locator("#detail").scroll_into_view_if_needed()
    shoot(app, "method-invert-all-1280x800")
    app.set_viewport_size({"width": 390, "height": 844})
    try:
        assert app.evaluate("document.documentElement.scrollWidth") <= 390
        assert app.evaluate("(() => { const h = document.querySelector('#method-invert-host');"
                            " return h.scrollWidth <= h.clientWidth; })()")
        app.locator(PANEL).scroll_into_view_if_needed()
        shoot(app, "method-invert-all-390x844")
    finally:
        app.set_viewport_size({"width": 1280, "height": 800})


def test_cancel_stops_within_one_chunk_and_the_worker_drops_the_job(app):
    app.select_option("#invert-mode", "layer")
    set_number(app, "#invert-steps", 3000)
    app.wait_for_function(f"""() => {{ const p = document.querySelector("{PANEL}");
        return p.dataset.goal === '3000' && p.dataset.mode === 'layer'
            && Number(p.dataset.step) >= 3; }}""", timeout=RUN_TIMEOUT_MS)
    cancel_mid_run(app, PANEL, "#invert-cancel")
    assert "cancelled" in app.text_content("#invert-status")
    app.locator("#detail").scroll_into_view_if_needed()
    shoot(app, "method-invert-1280x800")
    app.set_viewport_size({"width": 390, "height": 844})
    try:
        app.locator(PANEL).scroll_into_view_if_needed()
        shoot(app, "method-invert-390x844")
    finally:
        app.set_viewport_size({"width": 1280, "height": 800})
    assert not [m for m in app.console if "Content Security Policy" in m], app.console
