"""Activation maximisation in the page: it opens from the overview, redraws as it climbs,
ends at the CPython engine's picture, stops on Cancel within one chunk, leaves the page
answering clicks, and a link (or an embed) repeats the same picture."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnlens.methods.maximize import SUGGESTED

from .conftest import REDRAW_TIMEOUT_MS, engine_reference, open_tab, screenshot, wait_ready
from .method_panels import cancel_mid_run, drawn_numbers, set_number

TOL = {"rtol": 1e-4, "atol": 1e-4}
PANEL = "[data-testid='method-maximize']"
RUN_TIMEOUT_MS = 120_000
# What the page runs by default (assets/js/views/maximize.js), spelled as Settings fields.
PAGE_SETTINGS = {"step_size": 0.1, "blur_sigma": 0.5, "clip": True, **SUGGESTED}

# The CPython engine's pictures, one thread of OpenBLAS (see test_methods_attribution.py:
# split over threads it rounds some rows differently, which can move a max-pool's tie).
REFERENCE = """
import json, sys
import numpy as np
from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.methods.maximize import Maximizer, Settings
from cnnlens.methods.targets import target_for
from tests.paths import BUNDLED_MODEL

loaded = load_model(BUNDLED_MODEL.read_bytes(), BUNDLED_MODEL.name)
result = run(loaded.model, np.zeros((1, 1, 28, 28), np.float32))  # only for the shapes
out = {}
for key, layer, channel, position, settings, seed, steps in json.loads(sys.argv[2]):
    target = target_for(loaded.model, result, layer, channel,
                        None if position is None else tuple(position))
    climber = Maximizer(loaded, target, Settings(**settings), seed)
    climber.step(steps)
    out[key] = climber.image
    out[key + "/values"] = climber.values[:, 0]
np.savez(sys.argv[1], **out)
"""
CASES = [
    ("channel", "conv_2_1", 3, None, PAGE_SETTINGS, 0, 30),
    ("class", "logits", 8, None, {**PAGE_SETTINGS, "jitter": 0, "l2_decay": 0.05}, 7, 25),
    ("neuron", "relu_2_2", 1, [6, 4], PAGE_SETTINGS, 3, 20),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, np.ndarray]:
    """The CPython engine's results for CASES, on the example the page boots with."""
    return engine_reference(tmp_path_factory.mktemp("reference"), REFERENCE, CASES)


@pytest.fixture(scope="module")
def app(page):
    """The booted app (conftest's `page`), its console messages in `app.console`."""
    return page


def panel(page, key: str) -> str:
    return page.get_attribute(PANEL, f"data-{key}")


def draws(page) -> int:
    return int(panel(page, "cnnlens-method-ready") or 0)


def wait_done(page, goal: int) -> None:
    page.wait_for_function(
        """goal => { const p = document.querySelector("[data-testid='method-maximize']");
            return p && p.dataset.done === 'true' && Number(p.dataset.goal) === goal; }""",
        arg=goal, timeout=RUN_TIMEOUT_MS)


def picture(page) -> np.ndarray:
    return drawn_numbers(page, PANEL, "pictures")


def value_history(page) -> np.ndarray:
    return drawn_numbers(page, PANEL, "values")


def open_maximize(page, layer: str, channel: int) -> None:
    """Clicks a tile or class, then the "What excites it most" tab; waits until the panel
    shows a run for it."""
    selector = (f"#overview li.class[data-channel='{channel}']" if layer == "logits" else
                f"#overview canvas.tile[data-layer='{layer}'][data-channel='{channel}']")
    open_tab(page, selector, "#tab-maximize")
    page.wait_for_function(
        """([layer, channel]) => {
            const p = document.querySelector("[data-testid='method-maximize']");
            const label = p?.dataset.target || "";
            return label === `${layer}:${channel}` || label.startsWith(`${layer}:${channel}:`)
                || label === `${layer}:*`; }""", arg=[layer, channel], timeout=REDRAW_TIMEOUT_MS)


def test_it_opens_from_the_overview_with_the_suggested_regularisers(app):
    open_maximize(app, "conv_2_1", 3)
    assert app.locator("#detail-body").is_hidden()
    assert float(app.input_value("#maximize-l2")) == SUGGESTED["l2_decay"]
    assert float(app.input_value("#maximize-jitter")) == SUGGESTED["jitter"]
    assert float(app.input_value("#maximize-blur")) == SUGGESTED["blur_every"]
    for toggle in ("#maximize-l2-on", "#maximize-jitter-on", "#maximize-blur-on",
                   "#maximize-clip"):
        assert app.is_checked(toggle)
    assert "conv_2_1, channel 3" in app.text_content("#maximize-title")
    assert app.locator(f"{PANEL} .maximize-about cite").count() == 3


def test_it_redraws_as_it_climbs_and_ends_at_the_engines_picture(app, reference):
    open_maximize(app, "conv_2_1", 3)
    app.evaluate("""() => {
        const p = document.querySelector("[data-testid='method-maximize']");
        window.seenSteps = [];  // the steps drawn by the run of 30 steps
        new MutationObserver(() => p.dataset.goal === '30' && window.seenSteps.push(
            Number(p.dataset.step))).observe(p, {attributes: true,
            attributeFilter: ['data-cnnlens-method-ready']}); }""")
    set_number(app, "#maximize-steps", 30)
    wait_done(app, 30)
    seen = app.evaluate("window.seenSteps")
    assert seen[0] == 0 and seen[-1] == 30 and len(seen) >= 3, seen  # drawn along the way
    assert seen == sorted(seen)
    assert "step 30 / 30" in app.text_content("#maximize-status")
    np.testing.assert_allclose(picture(app)[0], reference["channel"][0], **TOL)
    np.testing.assert_allclose(value_history(app)[:, 0], reference["channel/values"], **TOL)
    assert app.locator(f"{PANEL} .maximize-plot path.line").count() == 1
    link = app.evaluate("location.hash")
    for part in ("view=maximize", "layer=conv_2_1", "channel=3", "seed=0", "steps=30"):
        assert part in link


@pytest.mark.parametrize("key", ["class", "neuron"])
def test_a_class_and_one_neuron_end_at_the_engines_picture(app, reference, key):
    case = next(c for c in CASES if c[0] == key)
    _, layer, channel, position, settings, seed, steps = case
    open_maximize(app, layer, channel)
    if key == "neuron":
        app.select_option("#maximize-mode", "neuron")
        set_number(app, "#maximize-y", position[0])
        set_number(app, "#maximize-x", position[1])
    else:
        app.uncheck("#maximize-jitter-on")
        set_number(app, "#maximize-l2", settings["l2_decay"])
    set_number(app, "#maximize-seed", seed)
    set_number(app, "#maximize-steps", steps)
    wait_done(app, steps)
    assert panel(app, "target") == (f"{layer}:{channel}" if position is None
                                    else f"{layer}:{channel}:{position[0]}:{position[1]}")
    np.testing.assert_allclose(picture(app)[0], reference[key][0], **TOL)
    if key == "class":  # back to the defaults for the tests after this one
        app.check("#maximize-jitter-on")
        set_number(app, "#maximize-l2", SUGGESTED["l2_decay"])


def test_cancel_stops_within_one_chunk_and_the_worker_drops_the_job(app):
    open_maximize(app, "conv_1_2", 2)
    set_number(app, "#maximize-steps", 3000)
    # The 3000-step run's own steps (the run open_maximize started may be past 5 already).
    app.wait_for_function(f"""() => {{ const p = document.querySelector("{PANEL}");
        return p.dataset.goal === '3000' && Number(p.dataset.step) >= 5; }}""",
                          timeout=RUN_TIMEOUT_MS)
    stopped = cancel_mid_run(app, PANEL, "#maximize-cancel")
    assert stopped >= 5
    assert "cancelled" in app.text_content("#maximize-status")


# Clicks with the real mouse; in the page, from the event's own time stamp (when the browser
# received the input) to the first frame drawn after the app's handler ran.
_WATCH_CLICK = """selector => new Promise((resolve) => {
    const target = document.querySelector(selector);
    target.addEventListener("click", (event) => {
        const received = event.timeStamp;
        requestAnimationFrame(() => resolve(performance.now() - received));
    }, {once: true});
    window.clickLatency = null;
}).then((ms) => { window.clickLatency = ms; })"""


def click_latency(page, selector: str) -> float:
    page.evaluate(f"() => {{ window.clickDone = ({_WATCH_CLICK})({json.dumps(selector)}); }}")
    page.click(selector)
    page.wait_for_function("window.clickLatency !== null")
    return page.evaluate("window.clickLatency")


def test_the_page_answers_clicks_while_it_runs(app):
    open_maximize(app, "conv_2_2", 5)
    app.select_option("#maximize-mode", "layer")  # every channel: a long run
    app.wait_for_function(f"document.querySelector(\"{PANEL}\").dataset.state === 'running'"
                          f" && Number(document.querySelector(\"{PANEL}\")"
                          ".dataset.cnnlensMethodReady) > 0")
    ran = int(panel(app, "cnnlens-method-ready"))
    details = click_latency(app, "#show-details")
    assert app.evaluate("document.querySelector('#overview').classList"
                        ".contains('show-details')")
    assert panel(app, "state") == "running"
    tab = click_latency(app, "#tab-detail")
    assert app.get_attribute("#tab-detail", "aria-selected") == "true"
    assert details < 100 and tab < 100, (details, tab)
    # The switch paused it; coming back resumes the same run where it was.
    step = int(panel(app, "step"))
    app.click("#tab-maximize")
    app.wait_for_function(f"Number(document.querySelector(\"{PANEL}\").dataset.step) > {step}",
                          timeout=RUN_TIMEOUT_MS)
    assert int(panel(app, "cnnlens-method-ready")) > ran
    # The worker answers other requests between chunks: a colour range redraws the overview.
    ready = int(app.evaluate("document.documentElement.dataset.cnnlensReady"))
    app.select_option("#range-mode", "neuron")
    wait_ready(app, ready + 1)
    assert panel(app, "state") == "running"
    app.uncheck("#show-details")
    app.locator("#detail").scroll_into_view_if_needed()
    screenshot(app, "method-maximize-layer-1280x800")
    app.select_option("#range-mode", "layer")
    wait_ready(app, ready + 2)


def test_a_link_repeats_the_same_picture(app, browser, site):
    open_maximize(app, "conv_2_1", 6)
    app.select_option("#maximize-mode", "channel")
    set_number(app, "#maximize-seed", 42)
    set_number(app, "#maximize-steps", 40)
    wait_done(app, 40)
    first = picture(app)
    link = app.evaluate("location.hash")
    assert "seed=42" in link and "steps=40" in link and "view=maximize" in link
    # NumPy's random is not loaded at boot: each page's worker fetches it (precached by
    # sw.js, build/compile_wheels.py) on the first maximisation, once.
    def randoms() -> list[str]:
        return [u for u in browser.requests if "/numpy-random.zip?for=numpy.random" in u]

    before = len(randoms())
    again = browser.context.new_page()
    again.goto(site + "index.html" + link)
    wait_ready(again, 1)
    again.wait_for_selector(PANEL)
    wait_done(again, 40)
    assert again.get_attribute("#tab-maximize", "aria-selected") == "true"
    assert again.input_value("#maximize-seed") == "42"
    np.testing.assert_array_equal(picture(again), first)
    assert len(randoms()) == before + 1
    again.close()
    # An embed of the same link draws it too.
    embed = browser.context.new_page()
    embed.set_viewport_size({"width": 390, "height": 844})
    embed.goto(site + "embed.html" + link)
    wait_ready(embed, 1)
    wait_done(embed, 40)
    np.testing.assert_array_equal(picture(embed), first)
    assert embed.evaluate("document.documentElement.scrollWidth") <= 390
    assert "view=maximize" in embed.get_attribute("#open-full", "href")
    screenshot(embed, "method-maximize-embed-390x844")
    embed.close()


def test_a_bad_setting_says_why_and_the_picture_stays(app):
    open_maximize(app, "conv_1_1", 4)
    set_number(app, "#maximize-steps", 20)
    wait_done(app, 20)
    shown = picture(app)
    set_number(app, "#maximize-steps", 999999)
    app.wait_for_selector(f"{PANEL} .method-error:not([hidden])")
    assert "number of steps" in app.text_content(f"{PANEL} .method-error")
    np.testing.assert_array_equal(picture(app), shown)
    set_number(app, "#maximize-steps", 40)
    wait_done(app, 40)


def test_screenshots_and_no_csp_violation(app):
    open_maximize(app, "conv_2_2", 3)
    set_number(app, "#maximize-steps", 60)
    wait_done(app, 60)
    app.locator("#detail").scroll_into_view_if_needed()
    screenshot(app, "method-maximize-1280x800")
    app.set_viewport_size({"width": 390, "height": 844})
    try:
        assert app.evaluate("document.documentElement.scrollWidth") <= 390
        assert app.evaluate("(() => { const h = document.querySelector('#method-maximize-host');"
                            " return h.scrollWidth <= h.clientWidth; })()")
        screenshot(app, "method-maximize-390x844")
    finally:
        app.set_viewport_size({"width": 1280, "height": 800})
    assert not [m for m in app.console if "Content Security Policy" in m], app.console
