"""Attribution in the page: each method opens from the overview, draws the engine's numbers,
is reachable by a link and an embed, and fits a laptop and a phone."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlens.methods.attribution import METHODS

from .conftest import REDRAW_TIMEOUT_MS, engine_reference, open_tab, screenshot, wait_ready

TOL = {"rtol": 1e-4, "atol": 1e-4}
CARD = "#method-attribution-host [data-testid='method-{}']"


# Computes the expected maps with OpenBLAS on one thread. Split over threads, OpenBLAS rounds
# some rows of a matrix product differently, so two identical background patches can come out
# of a convolution one unit in the last place apart; a max-pooling window holding both then
# routes its gradient to a different pixel than on one thread, or in Pyodide (no BLAS), where
# they tie exactly and the first wins. The maps are each correct; they just differ there.
REFERENCE = """
import json, sys
import numpy as np
from cnnlens.forward import run
from cnnlens.methods.attribution import CAM_METHODS, attribute
from cnnlens.methods.targets import target_for
from cnnlens.model_card import model_card
from cnnlens.onnx_reader import read_model
from cnnlens.preprocess import preprocess
from tests.paths import BUNDLED_MODEL, EXAMPLES

model = read_model(BUNDLED_MODEL.read_bytes())
first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
result = run(model, preprocess((EXAMPLES / first).read_bytes(), model_card(model).preprocessing))
maps = {}
for layer, channel, method, cam in json.loads(sys.argv[2]):
    target = target_for(model, result, layer, channel)
    values = attribute(model, result, method, target, layer=cam if method in CAM_METHODS else None)
    maps[f"{layer}/{channel}/{method}/{cam}"] = values if method == "gradcam" else values[0]
np.savez(sys.argv[1], **maps)
"""
CASES = [("logits", 3, m, "conv_2_2") for m in METHODS] + [
    ("relu_2_1", 5, m, "conv_2_1") for m in METHODS] + [
    ("logits", 7, "gradcam", "conv_1_2"), ("relu_2_2", 4, "gradcam", "conv_2_1"),
    ("logits", 3, "saliency", "conv_2_2")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, np.ndarray]:
    """The CPython engine's results for CASES, on the example the page boots with."""
    return engine_reference(tmp_path_factory.mktemp("reference"), REFERENCE, CASES)


def expected(reference, layer: str, channel: int, method: str, cam: str) -> np.ndarray:
    return reference[f"{layer}/{channel}/{method}/{cam}"]


@pytest.fixture(scope="module")
def app(page):
    """The booted app (conftest's `page`), its console messages in `app.console`."""
    return page


def counters(page) -> dict[str, int]:
    """data-cnnlens-method-ready of every attribution card on screen, by method."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#method-attribution-host .method-card')].map(c => [c.dataset.method,
        Number(c.dataset.cnnlensMethodReady)]))""")


def wait_drawn(page, before: dict[str, int], methods=METHODS) -> None:
    """Until every method's card has drawn once more than in `before`."""
    page.wait_for_function(
        """([methods, before]) => methods.every(m => {
            const card = document.querySelector(`#method-attribution-host [data-method="${m}"]`);
            return card && Number(card.dataset.cnnlensMethodReady) > (before[m] || 0);
        })""", arg=[list(methods), before], timeout=REDRAW_TIMEOUT_MS)


def drawn_numbers(page, method: str) -> np.ndarray:
    shape, values = page.eval_on_selector(
        CARD.format(method), "c => [c.cnnlensNumbers.shape, Array.from(c.cnnlensNumbers.values)]")
    return np.array(values, np.float32).reshape(shape)


def open_attribution(page, selector: str) -> None:
    """Clicks a tile or class, then the "What it responds to" tab, and waits for all cards."""
    before = counters(page)
    open_tab(page, selector, "#tab-attribution")
    wait_drawn(page, before)


@pytest.mark.parametrize(("selector", "layer", "channel"), [
    ("#overview li.class[data-channel='3']", "logits", 3),
    ("#overview canvas.tile[data-layer='relu_2_1'][data-channel='5']", "relu_2_1", 5),
])
def test_each_method_opens_from_the_overview_and_draws_the_engines_numbers(
        app, reference, selector, layer, channel):
    open_attribution(app, selector)
    assert app.get_attribute("#tab-attribution", "aria-selected") == "true"
    assert app.locator("#detail-body").is_hidden()
    cam = app.get_attribute("#method-attribution-host", "data-cam-layer")
    assert cam == ("conv_2_2" if layer == "logits" else "conv_2_1")  # the last one before it
    for method in METHODS:
        np.testing.assert_allclose(drawn_numbers(app, method),
                                   expected(reference, layer, channel, method, cam), **TOL)
        card = app.locator(CARD.format(method))
        assert card.locator(".legend").count() == 1
        assert card.locator("canvas.over").count() == 1
        assert card.locator(".method-paper cite").text_content()
    target = app.text_content("#method-attribution-host .method-target strong")
    assert (f"class {channel}" if layer == "logits" else f"channel {channel} of {layer}") in target
    link = app.evaluate("location.hash")
    assert "view=attribution" in link and f"layer={layer}&channel={channel}" in link


def test_the_grad_cam_layer_and_the_opacity_can_be_changed(app, reference):
    open_attribution(app, "#overview li.class[data-channel='7']")
    before = counters(app)
    app.select_option("#method-cam-layer", "conv_1_2")
    wait_drawn(app, before, ["gradcam", "guided-gradcam"])
    np.testing.assert_allclose(drawn_numbers(app, "gradcam"),
                               expected(reference, "logits", 7, "gradcam", "conv_1_2"), **TOL)
    assert drawn_numbers(app, "gradcam").shape == (28, 28)
    assert "cam=conv_1_2" in app.evaluate("location.hash")
    app.fill("#method-opacity", "25")
    opacities = app.eval_on_selector_all("#method-attribution-host canvas.over",
                                         "cs => cs.map(c => getComputedStyle(c).opacity)")
    assert opacities == ["0.25"] * len(METHODS)
    app.fill("#method-opacity", "60")  # the default again, for the screenshots


def test_the_tabs_answer_the_keyboard(app):
    open_attribution(app, "#overview canvas.tile[data-layer='conv_2_2'][data-channel='1']")
    app.focus("#tab-attribution")
    app.keyboard.press("ArrowLeft")
    assert app.evaluate("document.activeElement.id") == "tab-detail"
    assert app.get_attribute("#tab-detail", "aria-selected") == "true"
    assert app.locator("#detail-body").is_visible()
    assert app.locator("#method-attribution-host").is_hidden()
    assert "view=" not in app.evaluate("location.hash")
    before = counters(app)
    app.keyboard.press("ArrowRight")
    assert app.evaluate("document.activeElement.id") == "tab-attribution"
    wait_drawn(app, before)
    assert app.get_attribute("#tab-detail", "tabindex") == "-1"
    app.focus(CARD.format("deconvnet"))  # a card is a tab stop; Enter marks it for links
    app.keyboard.press("Enter")
    assert app.get_attribute(CARD.format("deconvnet"), "aria-current") == "true"
    assert "view=deconvnet" in app.evaluate("location.hash")


def test_the_input_itself_gets_a_clear_message(app):
    open_attribution(app, "#overview li.class[data-channel='2']")
    app.click("#overview canvas.tile[data-layer='image'][data-channel='0']")
    app.wait_for_selector("#method-attribution-host .method-error")
    assert "the input itself depends on nothing" in app.text_content(
        "#method-attribution-host .method-error")


def test_a_link_opens_grad_cam_after_boot(browser, site, reference):
    page = browser.context.new_page()
    page.goto(site + "index.html#view=gradcam&layer=relu_2_2&channel=4&cam=conv_2_1")
    wait_ready(page, 1)
    wait_drawn(page, {})
    assert page.get_attribute("#tab-attribution", "aria-selected") == "true"
    card = page.locator(CARD.format("gradcam"))
    assert "focused" in card.get_attribute("class")
    assert page.input_value("#method-cam-layer") == "conv_2_1"
    np.testing.assert_allclose(drawn_numbers(page, "gradcam"),
                               expected(reference, "relu_2_2", 4, "gradcam", "conv_2_1"), **TOL)
    link = page.evaluate("location.hash")
    assert "view=gradcam" in link and "cam=conv_2_1" in link and "layer=relu_2_2" in link
    # The embed button offers the same card alone.
    page.click("#embed-button")
    src = page.input_value("#embed-code").split('src="', 1)[1].split('"', 1)[0]
    assert "embed.html#view=gradcam&amp;" in src and "cam=conv_2_1" in src
    page.click("#embed-close")
    page.close()


def test_an_embed_shows_one_card(browser, site, reference):
    page = browser.context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site + "embed.html#view=saliency&layer=logits&channel=3")
    wait_ready(page, 1)
    assert page.locator(".method-card").count() == 1
    assert page.get_attribute(".method-card", "data-testid") == "method-saliency"
    assert int(page.get_attribute(".method-card", "data-cnnlens-method-ready")) >= 1
    np.testing.assert_allclose(drawn_numbers(page, "saliency"),
                               expected(reference, "logits", 3, "saliency", "conv_2_2"), **TOL)
    assert "Saliency" in page.text_content("#detail-title")
    assert "view=saliency" in page.get_attribute("#open-full", "href")  # the app opens it too
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "method-attribution-embed-390x844")
    page.close()


def test_screenshots_and_no_csp_violation(app):
    open_attribution(app, "#overview li.class[data-channel='1']")
    app.locator(CARD.format("guided")).click()  # marks it, as a link to it would
    assert "view=guided" in app.evaluate("location.hash")
    app.locator("#detail").scroll_into_view_if_needed()
    screenshot(app, "method-attribution-1280x800")
    app.set_viewport_size({"width": 390, "height": 844})
    assert app.evaluate("document.querySelector('#method-attribution-host')"
                        ".scrollWidth <= document.querySelector('#method-attribution-host')"
                        ".clientWidth")
    screenshot(app, "method-attribution-390x844")
    app.set_viewport_size({"width": 1280, "height": 800})
    assert not [m for m in app.console if "Content Security Policy" in m]
