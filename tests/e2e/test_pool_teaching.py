"""The pooling view as a teaching tool: the convolution view's speed control and window
placement (stepper.js), and the window's maximum built up one value at a time.

After boot the page's clock is Playwright's fake one, paused: every animation step happens
only when a test advances the clock. Expected numbers come from the CPython engine, run in
a fresh interpreter (`engine_reference`), not from the view.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from tests.onnx_builders import ModelBuilder
from tests.paths import BUNDLED_MODEL

from .conftest import ARTIFACTS, engine_reference, open_view, values, wait_ready
from .test_conv_teaching import overflow, point_at, position, set_speed, state
from .test_security import RECORD_VIOLATIONS

TOL = {"rtol": 1e-6, "atol": 1e-6}
LAYER, CHANNEL = "max_pool_1", 7  # relu_1_2 (28 × 28) → 14 × 14, 2 × 2 windows, stride 2
SIDE, TAPS = 14, 4
SPEEDS = [("value", 1200), ("value", 450), ("window", 800), ("window", 250), ("window", 60)]
INTRO_MS = 450
OUTPUT = "#detail .formula .placer"
LADDER = ".ladder .partial[data-value]"  # the running maximum's boxes filled so far

REFERENCE = """
import json, sys
import numpy as np
from cnnlens.forward import run
from cnnlens.model_card import model_card
from cnnlens.onnx_reader import read_model
from cnnlens.preprocess import preprocess
from tests.paths import BUNDLED_MODEL, EXAMPLES

layer, channel = json.loads(sys.argv[2])
model = read_model(BUNDLED_MODEL.read_bytes())
first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
result = run(model, preprocess((EXAMPLES / first).read_bytes(), model_card(model).preprocessing))
node = model.graph.producers[layer]
np.savez(sys.argv[1], x=result.tensors[node.inputs[0]][0, channel],
         out=result.tensors[layer][0, channel])
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """The engine's input (28, 28) and output (14, 14) of LAYER, CHANNEL for the first example."""
    return engine_reference(tmp_path_factory.mktemp("reference"), REFERENCE, [LAYER, CHANNEL])


@pytest.fixture(scope="module")
def page(browser, site):
    page = browser.context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(site + "index.html")
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    page.clock.install()
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    return page


def window(engine, i: int, j: int) -> np.ndarray:
    """The 2 × 2 window of output (i, j), row-major (4,)."""
    return engine["x"][2 * i:2 * i + 2, 2 * j:2 * j + 2].ravel()


def assert_window_numbers(page, engine, i: int, j: int) -> None:
    """The view's numbers at (i, j) are the engine's: window, running maximum, output."""
    w = window(engine, i, j)
    np.testing.assert_allclose(values(page, ".window-values .num"), w, **TOL)
    np.testing.assert_allclose(values(page, LADDER), np.maximum.accumulate(w), **TOL)
    np.testing.assert_allclose(values(page, ".sums .out"), [engine["out"][i, j]], **TOL)
    assert values(page, ".window-values .pick") == [pytest.approx(float(w.max()), abs=1e-6)]
    # the window drawn on the input where the layer reads it
    corner = page.eval_on_selector(
        "#detail .formula-maps .map-box svg",
        "s => [...s.querySelectorAll('rect.window')].map(r => [Number(r.getAttribute('y')),"
        " Number(r.getAttribute('x'))])")
    assert corner == [[2 * i + a, 2 * j + b] for a in range(2) for b in range(2)]


def test_opening_builds_the_first_window_value_by_value(page, engine):
    open_view(page, LAYER, CHANNEL, "pool")
    w = window(engine, 0, 0)
    assert (state(page)["playing"], int(state(page)["beats"])) == ("intro", TAPS)
    for beat in range(1, TAPS + 1):
        assert int(state(page)["beat"]) == beat
        np.testing.assert_allclose(values(page, LADDER), np.maximum.accumulate(w)[:beat], **TOL)
        assert values(page, ".window-values .current") == [pytest.approx(float(w[beat - 1]),
                                                                         abs=1e-6)]
        if beat < TAPS:
            assert values(page, ".sums .out") == []
        page.clock.run_for(INTRO_MS)
    s = state(page)
    assert (s["playing"], s["position"], int(s["beat"])) == ("false", "0,0", TAPS)
    assert_window_numbers(page, engine, 0, 0)
    page.clock.run_for(10 * INTRO_MS)  # played once, then it stays
    assert (state(page)["position"], int(state(page)["beat"])) == ("0,0", TAPS)


def test_the_speed_control_sets_the_pace_and_the_step(page, engine):
    for level, (unit, ms) in enumerate(SPEEDS):
        set_speed(page, level)
        s = state(page)
        assert (s["unit"], int(s["interval"])) == (unit, ms)
        assert page.locator("#detail .formula button.next").text_content() == f"Next {unit}"
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
    set_speed(page, 3)
    page.clock.run_for(249)
    assert int(state(page)["step"]) == start + 3
    page.clock.run_for(1)
    assert int(state(page)["step"]) == start + 4
    # step by step: one value per 1200 ms, the next window from its first value
    set_speed(page, 0)
    page.clock.run_for(1200)
    assert (int(state(page)["step"]), int(state(page)["beat"])) == (start + 5, 1)
    page.clock.run_for(1200)
    assert (int(state(page)["step"]), int(state(page)["beat"])) == (start + 5, 2)
    i, j = divmod(start + 5, SIDE)
    running = np.maximum.accumulate(window(engine, i, j))
    np.testing.assert_allclose(values(page, LADDER), running[:2], **TOL)
    page.click("#detail .formula button.play")  # pause
    page.clock.run_for(5000)
    assert (int(state(page)["beat"]), state(page)["playing"]) == (2, "false")
    page.click("#detail .formula button.next")  # one value
    assert int(state(page)["beat"]) == 3
    assert len(values(page, LADDER)) == 3


def test_hover_and_drag_on_the_output_place_the_window(page, engine):
    set_speed(page, 2)
    page.click("#detail .formula button.play")
    page.mouse.move(*point_at(page, OUTPUT, 5, 9, (SIDE, SIDE)))
    assert position(page) == (5, 9)
    assert state(page)["playing"] == "false"  # placing the window pauses the animation
    assert_window_numbers(page, engine, 5, 9)
    page.mouse.move(*point_at(page, OUTPUT, 1, 1, (SIDE, SIDE)))
    page.mouse.down()
    page.mouse.move(*point_at(page, OUTPUT, 12, 3, (SIDE, SIDE)), steps=5)
    page.mouse.up()
    assert position(page) == (12, 3)
    assert_window_numbers(page, engine, 12, 3)


def test_arrow_keys_move_the_window(page, engine):
    page.focus(OUTPUT)
    page.keyboard.press("Home")
    assert position(page) == (0, 0)
    for key in ["ArrowRight"] * 4 + ["ArrowDown"] * 3 + ["ArrowLeft"]:
        page.keyboard.press(key)
    assert position(page) == (3, 3)
    assert_window_numbers(page, engine, 3, 3)
    said = page.locator("#detail .formula [aria-live]").text_content()
    assert said.startswith("Output (3, 3) = ")
    page.keyboard.press("End")
    page.keyboard.press("ArrowDown")
    assert position(page) == (SIDE - 1, SIDE - 1)  # the window stays on the map
    assert_window_numbers(page, engine, SIDE - 1, SIDE - 1)


def test_screenshots_and_phone_layout(page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    open_view(page, LAYER, CHANNEL, "pool")
    page.clock.run_for(2 * INTRO_MS)  # mid-way through the first window
    page.locator("#detail").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "pool-teaching-1280.png"))
    page.locator("#detail").screenshot(path=str(ARTIFACTS / "pool-teaching-detail-1280.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        open_view(page, LAYER, CHANNEL, "pool")
        page.clock.run_for(TAPS * INTRO_MS)
        page.locator("#detail .numbers-row").scroll_into_view_if_needed()
        sizes = overflow(page)
        assert sizes["views"] <= sizes["width"] and sizes["boxes"] <= sizes["width"]
        assert sizes["panel"] == 0
        controls = page.eval_on_selector("#detail .formula .controls-row",
                                         "c => c.getBoundingClientRect().right")
        assert controls <= sizes["width"]
        page.screenshot(path=str(ARTIFACTS / "pool-teaching-390.png"))
        page.locator("#detail").screenshot(path=str(ARTIFACTS / "pool-teaching-detail-390.png"))
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


AVERAGE_REFERENCE = """
import json, sys
import numpy as np
from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.model_card import model_card
from cnnlens.preprocess import preprocess
from tests.paths import EXAMPLES

path, channel = json.loads(sys.argv[2])
loaded = load_model(open(path, "rb").read(), "average.onnx")
first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
x = preprocess((EXAMPLES / first).read_bytes(), model_card(loaded.model).preprocessing)
result = run(loaded.model, x)
np.savez(sys.argv[1], x=result.tensors["conv"][0, channel], out=result.tensors["avg"][0, channel])
"""


def average_model():
    """Conv → AveragePool 3 × 3, stride 2, padding 1 (not counted) → Flatten → Gemm, on the
    bundled model's input and card."""
    b = ModelBuilder(("batch", 1, 28, 28), input_name="image", seed=4)
    y = b.add("Conv", [b.input, b.weight((2, 1, 3, 3))], outputs=["conv"], pads=[1, 1, 1, 1])
    y = b.add("AveragePool", [y], outputs=["avg"], kernel_shape=[3, 3], strides=[2, 2],
              pads=[1, 1, 1, 1], count_include_pad=0)
    y = b.add("Gemm", [b.add("Flatten", [y]), b.weight((10, 2 * 14 * 14))], transB=1)
    meta = {p.key: p.value for p in onnx.load(str(BUNDLED_MODEL)).metadata_props}
    return b.build(y, metadata=meta)


def test_average_pooling_adds_the_window_up_then_divides_by_its_count(page, tmp_path):
    """Runs last: it opens another model. The sum so far, the count (padding not counted)
    and the mean, against the CPython engine; the window placed with the arrow keys."""
    path = tmp_path / "average.onnx"
    path.write_bytes(average_model().SerializeToString())
    engine = engine_reference(tmp_path, AVERAGE_REFERENCE, [str(path), 1])
    padded = np.pad(engine["x"].astype(np.float64), 1, constant_values=np.nan)
    page.clock.resume()
    ready = int(page.evaluate("document.documentElement.dataset.cnnlensReady"))
    page.set_input_files("#open-model", str(path))
    wait_ready(page, ready + 1)
    open_view(page, "avg", 1, "pool")
    page.focus(OUTPUT)
    page.keyboard.press("Home")
    for i, j, keys in [(0, 0, []), (5, 7, ["ArrowDown"] * 5 + ["ArrowRight"] * 7),
                       (13, 13, ["End"])]:
        for key in keys:
            page.keyboard.press(key)
        assert position(page) == (i, j)
        window = padded[2 * i:2 * i + 3, 2 * j:2 * j + 3].ravel()
        real = window[~np.isnan(window)]
        np.testing.assert_allclose(values(page, ".window-values .num[data-value]"), real, **TOL)
        assert page.locator("#detail .window-values .pad").count() == 9 - real.size
        np.testing.assert_allclose(values(page, LADDER), np.cumsum(np.nan_to_num(window)),
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(values(page, ".sums .sum"), [real.sum()], rtol=1e-5, atol=1e-5)
        assert values(page, ".sums .count") == [real.size]  # 4 in a corner, 9 inside
        np.testing.assert_allclose(values(page, ".sums .out"), [engine["out"][i, j]], **TOL)
        assert engine["out"][i, j] == pytest.approx(real.mean(), abs=1e-5)
    page.locator("#detail").screenshot(path=str(ARTIFACTS / "pool-average-detail-1280.png"))


def test_no_content_security_policy_violation(page):
    assert page.evaluate("window.__cspViolations") == []
