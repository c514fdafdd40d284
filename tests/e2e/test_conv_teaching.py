"""The convolution view as a teaching tool: speed, placing the window, running sums, tooltips.

One boot serves the module, with CSP violations recorded from the first byte. After boot the
page's clock is Playwright's fake one, paused: every animation step happens only when a test
advances the clock, so the pace is checked without timing anything.
Expected numbers come from the CPython engine's tensors, not from the view.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cnnlens.forward import run
from cnnlens.model_card import model_card
from cnnlens.onnx_reader import read_model
from cnnlens.preprocess import preprocess
from tests.paths import BUNDLED_MODEL, EXAMPLES

from .conftest import ARTIFACTS, open_view, values, wait_ready
from .test_security import RECORD_VIOLATIONS

TOL = {"rtol": 1e-5, "atol": 1e-5}
LAYER, CHANNEL = "conv_2_1", 4  # 10 input channels, 14 × 14, 3 × 3 kernels, padding 1
TAPS, CHANNELS, SIDE = 9, 10, 14
FULL = TAPS + CHANNELS + 1  # beats of one window: products, channel sums, bias
SPEEDS = [("product", 1200), ("product", 450), ("window", 800), ("window", 250), ("window", 60)]
INTRO_MS = 450


@pytest.fixture(scope="module")
def engine():
    """The CPython engine's padded input, kernels, bias and output of LAYER, CHANNEL."""
    model = read_model(BUNDLED_MODEL.read_bytes())
    first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
    x = preprocess((EXAMPLES / first).read_bytes(), model_card(model).preprocessing)
    result = run(model, x)
    node = model.graph.producers[LAYER]
    return {
        "x": np.pad(result.tensors[node.inputs[0]][0].astype(np.float64), ((0, 0), (1, 1), (1, 1))),
        "w": model.graph.initializers[node.inputs[1]][CHANNEL].astype(np.float64),
        "b": float(model.graph.initializers[node.inputs[2]][CHANNEL]),
        "out": result.tensors[LAYER][0, CHANNEL],
        "relu": result.tensors["relu_1_1"][0, 3],
    }


@pytest.fixture(scope="module")
def page(browser, site):
    page = browser.context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(site + "index.html")
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    return page


def state(page) -> dict[str, str]:
    return page.eval_on_selector("#detail .formula", "f => ({...f.dataset})")


def position(page) -> tuple[int, int]:
    i, j = state(page)["position"].split(",")
    return int(i), int(j)


def set_speed(page, level: int) -> None:
    page.eval_on_selector("#detail .formula input.speed", """(s, level) => {
        s.value = String(level);
        s.dispatchEvent(new Event('input', {bubbles: true}));
    }""", level)


def point_at(page, selector: str, i: float, j: float, size: tuple[int, int]) -> tuple[float, float]:
    """Viewport coordinates of the centre of cell (i, j) of the map at `selector`."""
    box = page.locator(selector).first
    box.scroll_into_view_if_needed()
    r = box.bounding_box()
    return r["x"] + r["width"] * (j + 0.5) / size[1], r["y"] + r["height"] * (i + 0.5) / size[0]


OUTPUT = "#detail .formula .placer"
LADDER = ".ladder .partial[data-value]"  # the running sum's boxes filled so far


def assert_window_numbers(page, engine, i: int, j: int, row: int = 0) -> None:
    """The formula's numbers at (i, j) are the engine's: window, kernel, products, sums."""
    x, w = engine["x"], engine["w"]
    window = x[row, i:i + 3, j:j + 3]
    np.testing.assert_allclose(values(page, ".window-values .num"), window.ravel(), **TOL)
    np.testing.assert_allclose(values(page, ".kernel-values .num"), w[row].ravel(), **TOL)
    np.testing.assert_allclose(values(page, ".products .num"), (window * w[row]).ravel(), **TOL)
    np.testing.assert_allclose(values(page, LADDER), np.cumsum(window * w[row]), **TOL)
    np.testing.assert_allclose(values(page, ".sums .sum"), [(window * w[row]).sum()], **TOL)
    per_channel = (x[:, i:i + 3, j:j + 3] * w).sum(axis=(1, 2))
    np.testing.assert_allclose(values(page, ".elastic-row .row-sum .num"), per_channel, **TOL)
    np.testing.assert_allclose(values(page, ".elastic-row .row-total .num[data-value]"),
                               np.cumsum(per_channel), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(values(page, ".sums .out"), [engine["out"][i, j]], **TOL)
    # the running sum's last value plus the bias is the output value
    last = values(page, ".elastic-row .row-total .num[data-value]")[-1]
    assert last + engine["b"] == pytest.approx(float(engine["out"][i, j]), abs=2e-5)
    # the window drawn on every input channel at once, at the same place
    corners = page.eval_on_selector_all(
        "#detail .elastic-row[data-row] .map-box:first-of-type svg",
        "ss => ss.map(s => { const r = s.querySelector('rect.window');"
        " return [Number(r.getAttribute('y')), Number(r.getAttribute('x'))]; })")
    assert corners == [[i, j]] * CHANNELS


def test_reduced_motion_opens_still(page):
    page.clock.install()
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    page.emulate_media(reduced_motion="reduce")
    open_view(page, "conv_1_2", 0, "conv")
    s = state(page)
    assert (s["playing"], s["position"], s["beat"]) == ("false", "0,0", s["beats"])
    assert page.locator("#detail .formula button.play").text_content() == "Play"
    page.clock.run_for(60_000)
    assert state(page) == s  # nothing moved by itself
    page.emulate_media(reduced_motion="no-preference")


def test_opening_builds_the_first_window_product_by_product(page, engine):
    open_view(page, LAYER, CHANNEL, "conv")
    x, w = engine["x"], engine["w"]
    running = np.cumsum(x[0, 0:3, 0:3] * w[0])
    assert (state(page)["playing"], int(state(page)["beats"])) == ("intro", FULL)
    for beat in range(1, TAPS + 1):
        assert int(state(page)["beat"]) == beat
        np.testing.assert_allclose(values(page, LADDER), running[:beat], **TOL)
        assert values(page, ".grid.products .current") == pytest.approx(
            [(x[0, 0:3, 0:3] * w[0]).ravel()[beat - 1]], abs=1e-6)
        page.clock.run_for(INTRO_MS)
    per_channel = (x[:, 0:3, 0:3] * w).sum(axis=(1, 2))
    for added in range(1, CHANNELS + 1):  # then the channels' sums, one at a time
        assert int(state(page)["beat"]) == TAPS + added
        np.testing.assert_allclose(values(page, ".row-total .num[data-value]"),
                                   np.cumsum(per_channel)[:added], rtol=1e-5, atol=2e-5)
        assert values(page, ".sums .out") == []
        page.clock.run_for(INTRO_MS)
    s = state(page)
    assert (s["playing"], s["position"], int(s["beat"])) == ("false", "0,0", FULL)
    assert_window_numbers(page, engine, 0, 0)
    page.clock.run_for(10 * INTRO_MS)  # played once, then it stays
    assert (state(page)["position"], int(state(page)["beat"])) == ("0,0", FULL)


def test_the_speed_control_sets_the_pace_and_the_step(page):
    for level, (unit, ms) in enumerate(SPEEDS):
        set_speed(page, level)
        s = state(page)
        assert (s["unit"], int(s["interval"])) == (unit, ms)
        expected = "Next product" if unit == "product" else "Next window"
        assert page.locator("#detail .formula button.next").text_content() == expected
    # fast: three windows in three intervals, none a moment before
    set_speed(page, 4)
    start = int(state(page)["step"])
    page.click("#detail .formula button.play")
    assert state(page)["playing"] == "play"
    page.clock.run_for(3 * 60 - 1)
    assert int(state(page)["step"]) == start + 2
    page.clock.run_for(1)
    assert int(state(page)["step"]) == start + 3
    # slowed down while playing: the new pace applies from now
    set_speed(page, 2)
    page.clock.run_for(799)
    assert int(state(page)["step"]) == start + 3
    page.clock.run_for(1)
    assert int(state(page)["step"]) == start + 4
    # step by step: one product per 1200 ms (the next window starts at its first product)
    set_speed(page, 0)
    page.clock.run_for(1200)
    assert (int(state(page)["step"]), int(state(page)["beat"])) == (start + 5, 1)
    page.clock.run_for(2 * 1200)
    assert (int(state(page)["step"]), int(state(page)["beat"])) == (start + 5, 3)
    page.click("#detail .formula button.play")  # pause
    page.clock.run_for(5000)
    assert (int(state(page)["beat"]), state(page)["playing"]) == (3, "false")
    page.click("#detail .formula button.next")  # one product
    assert int(state(page)["beat"]) == 4
    assert len(values(page, LADDER)) == 4


def test_hover_and_drag_on_the_output_place_the_window(page, engine):
    set_speed(page, 2)
    page.click("#detail .formula button.play")
    page.mouse.move(*point_at(page, OUTPUT, 5, 9, (SIDE, SIDE)))
    assert position(page) == (5, 9)
    assert state(page)["playing"] == "false"  # placing the window pauses the animation
    assert_window_numbers(page, engine, 5, 9)
    # a mouse drag ends where it is released
    page.mouse.move(*point_at(page, OUTPUT, 1, 1, (SIDE, SIDE)))
    page.mouse.down()
    page.mouse.move(*point_at(page, OUTPUT, 12, 3, (SIDE, SIDE)), steps=5)
    page.mouse.up()
    assert position(page) == (12, 3)
    assert_window_numbers(page, engine, 12, 3)
    # a touch drag (no hover on phones): pointerdown, moves, up
    a = point_at(page, OUTPUT, 2, 2, (SIDE, SIDE))
    b = point_at(page, OUTPUT, 7, 11, (SIDE, SIDE))
    page.eval_on_selector(OUTPUT, """(box, [a, b]) => {
        const fire = (type, [x, y]) => box.dispatchEvent(new PointerEvent(type, {
            bubbles: true, pointerType: 'touch', pointerId: 7, clientX: x, clientY: y}));
        fire('pointerdown', a);
        fire('pointermove', [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]);
        fire('pointermove', b);
        fire('pointerup', b);
    }""", [a, b])
    assert position(page) == (7, 11)
    assert_window_numbers(page, engine, 7, 11)
    # another row's numbers: pick input channel 6
    page.click("#detail .elastic-row[data-row='6'] .row-pick")
    assert state(page)["row"] == "6"
    assert_window_numbers(page, engine, 7, 11, row=6)
    page.click("#detail .elastic-row[data-row='0'] .row-pick")


def test_arrow_keys_move_the_window(page, engine):
    page.focus(OUTPUT)
    page.keyboard.press("Home")
    assert position(page) == (0, 0)
    for key in ["ArrowRight"] * 3 + ["ArrowDown"] * 2 + ["ArrowLeft"]:
        page.keyboard.press(key)
    assert position(page) == (2, 2)
    assert_window_numbers(page, engine, 2, 2)
    said = page.locator("#detail .formula [aria-live]").text_content()
    assert said.startswith("Output (2, 2) = ")
    page.keyboard.press("End")
    assert position(page) == (SIDE - 1, SIDE - 1)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert position(page) == (SIDE - 1, SIDE - 1)  # the window stays on the map
    page.keyboard.press("ArrowUp")
    assert position(page) == (SIDE - 2, SIDE - 1)
    assert_window_numbers(page, engine, SIDE - 2, SIDE - 1)


def tip_value(page) -> tuple[str, float | None]:
    tip = page.locator("#detail .value-tip")
    assert tip.is_visible()
    text = tip.text_content()
    number = re.search(r": (-?[0-9.e+-]+)$", text)
    return text, float(number.group(1)) if number else None


def test_the_value_under_the_pointer(page, engine):
    x = engine["x"]
    row = "#detail .elastic-row[data-row='3'] .map-box"
    page.mouse.move(*point_at(page, row, 4, 6, (16, 16)))  # padded input: pixel (3, 5)
    text, value = tip_value(page)
    assert "channel 3, pixel (3, 5)" in text
    assert value == pytest.approx(x[3, 4, 6], rel=5e-3, abs=1e-6)
    page.mouse.move(*point_at(page, row, 0, 6, (16, 16)))
    assert "padding" in tip_value(page)[0]
    page.mouse.move(*point_at(page, OUTPUT, 4, 8, (SIDE, SIDE)))
    text, value = tip_value(page)
    assert text.startswith(f"{LAYER} channel {CHANNEL} at (4, 8)")
    assert value == pytest.approx(float(engine["out"][4, 8]), rel=5e-3)
    page.mouse.move(5, 5)
    assert page.locator("#detail .value-tip").is_hidden()
    open_view(page, "relu_1_1", 3, "relu")
    page.mouse.move(*point_at(page, "#detail .relu-view .map-box", 5, 10, (28, 28)))
    text, value = tip_value(page)
    assert text.startswith("conv_1_1 (5, 10)")
    page.mouse.move(*point_at(page, "#detail .relu-view .map-box >> nth=1", 5, 10, (28, 28)))
    text, value = tip_value(page)
    assert text.startswith("relu_1_1 (5, 10)")
    assert value == pytest.approx(float(engine["relu"][5, 10]), rel=5e-3, abs=1e-6)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#detail").screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_desktop_screenshot(page):
    open_view(page, LAYER, CHANNEL, "conv")
    page.clock.run_for(5 * INTRO_MS)  # mid-way through the first window's products
    page.mouse.move(*point_at(page, "#detail .elastic-row[data-row='2'] .map-box", 6, 9, (16, 16)))
    assert page.locator("#detail .value-tip").is_visible()
    page.screenshot(path=str(ARTIFACTS / "conv-teaching-tooltip-1280.png"))
    shot(page, "conv-teaching-1280")


def overflow(page) -> dict[str, float]:
    """The viewport's width, the right-most edge of the views and of the boxes that scroll on
    their own, and by how much the detail panel's content is wider than the panel."""
    return page.evaluate("""() => {
        const right = (s) => Math.max(0,
            ...[...document.querySelectorAll(s)].map(e => e.getBoundingClientRect().right));
        const detail = document.querySelector('#detail');
        return {width: document.documentElement.clientWidth, views: right('#detail .view'),
                boxes: right('#detail :is(.numbers-row, .elastic, .scroll-x, .table-scroll)'),
                panel: detail.scrollWidth - detail.clientWidth};
    }""")


def test_phone_layout(page):
    page.set_viewport_size({"width": 390, "height": 844})
    open_view(page, LAYER, CHANNEL, "conv")
    page.clock.run_for(FULL * INTRO_MS)
    page.locator("#detail .numbers-row").scroll_into_view_if_needed()
    sizes = overflow(page)
    assert sizes["views"] <= sizes["width"] and sizes["boxes"] <= sizes["width"]
    assert sizes["panel"] == 0
    # window, kernel and products on one row, each whole, none scrolled away
    figures = page.eval_on_selector_all("#detail .numbers-row .cell-figure",
                                        "fs => fs.map(f => f.getBoundingClientRect().toJSON())")
    assert len(figures) == 3
    assert max(f["top"] for f in figures) - min(f["top"] for f in figures) < 1
    assert max(f["right"] for f in figures) <= sizes["width"]
    assert page.eval_on_selector("#detail .numbers-row", "r => r.scrollWidth <= r.clientWidth")
    shot(page, "conv-teaching-390")
    for layer, channel, kind in [("relu_1_1", 3, "relu"), ("max_pool_2", 6, "pool"),
                                 ("logits", 6, "flatten")]:
        open_view(page, layer, channel, kind)
        sizes = overflow(page)
        assert sizes["views"] <= sizes["width"] and sizes["boxes"] <= sizes["width"], kind
        assert sizes["panel"] == 0, kind
        shot(page, f"detail-{kind}-390")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_no_content_security_policy_violation(page):
    assert page.evaluate("window.__cspViolations") == []
