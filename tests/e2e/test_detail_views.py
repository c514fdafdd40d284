"""Detail views: every number shown equals the engine's tensors; animations cover every step."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnlens.forward import run
from cnnlens.model_card import model_card
from cnnlens.onnx_reader import read_model
from cnnlens.preprocess import preprocess
from tests.paths import BUNDLED_MODEL, EXAMPLES

from .conftest import open_view, screenshot, values

TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def engine():
    model = read_model(BUNDLED_MODEL.read_bytes())
    first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
    x = preprocess((EXAMPLES / first).read_bytes(), model_card(model).preprocessing)
    return model, run(model, x)




def position(page) -> tuple[int, int]:
    i, j = page.get_attribute("#detail .formula", "data-position").split(",")
    return int(i), int(j)


def step_through(page) -> list[str]:
    """Presses Step once per output position and returns the positions visited."""
    return page.evaluate("""() => {
        const f = document.querySelector('#detail .formula');
        const next = document.querySelector('#detail .formula button.next');
        const seen = [];
        for (let s = 0; s < Number(f.dataset.steps); s += 1) {
            next.click();
            seen.push(f.dataset.position);
        }
        return seen;
    }""")


def test_convolution_numbers_are_the_engines(page, engine):
    model, result = engine
    open_view(page, "conv_2_1", 4, "conv")
    node = model.graph.producers["conv_2_1"]
    x = np.pad(result.tensors[node.inputs[0]][0], ((0, 0), (1, 1), (1, 1)))
    w = model.graph.initializers[node.inputs[1]][4]
    b = float(model.graph.initializers[node.inputs[2]][4])
    out = result.tensors["conv_2_1"][0, 4]
    assert page.locator("#detail .elastic-row:not(.total)").count() == 10
    for _ in range(37):  # somewhere inside the map, not just the corner
        page.click("#detail .formula button.next")
    i, j = position(page)
    assert (i, j) == (37 // 14, 37 % 14)
    window = x[0, i:i + 3, j:j + 3]
    np.testing.assert_allclose(values(page, ".window-values .num"), window.ravel(), **TOL)
    np.testing.assert_allclose(values(page, ".kernel-values .num"), w[0].ravel(), **TOL)
    np.testing.assert_allclose(values(page, ".products .num"), (window * w[0]).ravel(), **TOL)
    np.testing.assert_allclose(values(page, ".sums .sum"), [(window * w[0]).sum()], **TOL)
    everything = (x[:, i:i + 3, j:j + 3] * w).sum() + b
    np.testing.assert_allclose(values(page, ".sums .out"), [out[i, j]], **TOL)
    np.testing.assert_allclose(out[i, j], everything, rtol=1e-4, atol=1e-5)
    assert b in [pytest.approx(v, abs=1e-6) for v in values(page, ".elastic-row.total .num")]
    screenshot(page, "detail-convolution")


def test_convolution_animation_covers_every_output_position_once(page):
    open_view(page, "conv_2_2", 1, "conv")
    steps = int(page.get_attribute("#detail .formula", "data-steps"))
    assert steps == 14 * 14
    seen = step_through(page)
    assert len(set(seen)) == steps
    assert seen[-1] == "0,0"  # one full cycle returns to the start


def test_relu_shows_max_of_zero_and_the_input(page, engine):
    _, result = engine
    open_view(page, "relu_1_1", 3, "relu")
    canvas = page.locator("#detail .relu-view .map-box canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 10.5 / 28, box["y"] + box["height"] * 5.5 / 28)
    assert page.get_attribute("#detail .relu-view", "data-position") == "5,10"
    x, y = values(page, ".formula-line .num")
    np.testing.assert_allclose(x, result.tensors["conv_1_1"][0, 3, 5, 10], **TOL)
    np.testing.assert_allclose(y, max(0.0, x), **TOL)
    np.testing.assert_allclose(y, result.tensors["relu_1_1"][0, 3, 5, 10], **TOL)
    screenshot(page, "detail-relu")


def test_max_pooling_picks_the_window_maximum_at_every_step(page, engine):
    _, result = engine
    open_view(page, "max_pool_2", 6, "pool")
    assert int(page.get_attribute("#detail .formula", "data-steps")) == 7 * 7
    # the first window is built up one value at a time when the view opens, then it stays
    page.wait_for_function("document.querySelector('#detail .formula').dataset.playing"
                           " === 'false'")
    source = result.tensors["relu_2_2"][0, 6]
    pooled = result.tensors["max_pool_2"][0, 6]
    for _ in range(3):
        i, j = position(page)
        window = source[2 * i:2 * i + 2, 2 * j:2 * j + 2]
        np.testing.assert_allclose(values(page, ".window-values .num"), window.ravel(), **TOL)
        np.testing.assert_allclose(values(page, ".sums .out"), [pooled[i, j]], **TOL)
        np.testing.assert_allclose(values(page, ".window-values .pick"), [window.max()], **TOL)
        for _ in range(9):
            page.click("#detail .formula button.next")
    assert len(set(step_through(page))) == 49
    screenshot(page, "detail-pooling")


def test_a_class_shows_flatten_weights_and_softmax_matching_the_overview(page, engine):
    model, result = engine
    shown = page.eval_on_selector_all(
        "#overview li.class", "ls => ls.map(l => Number(l.dataset.probability))")
    open_view(page, "logits", 6, "flatten")
    node = model.graph.producers["logits"]
    row = model.graph.initializers[node.inputs[1]][6]
    bias = float(model.graph.initializers[node.inputs[2]][6])
    vector = result.tensors["flatten"][0]
    sums = values(page, ".flatten-view .sums .num")
    np.testing.assert_allclose(sums, [(vector * row).sum(), bias, result.logits[0, 6]], **TOL)
    page.locator("#detail canvas.strip").first.scroll_into_view_if_needed()
    strip = page.locator("#detail canvas.strip").first.bounding_box()
    page.mouse.move(strip["x"] + strip["width"] * 100.5 / 490, strip["y"] + 5)
    assert page.get_attribute("#detail .flatten-view", "data-element") == "100"
    element, weight, product = values(page, ".flatten-view .formula-line .num")
    np.testing.assert_allclose([element, weight, product],
                               [vector[100], row[100], vector[100] * row[100]], **TOL)
    assert "channel 2, pixel (0, 2)" in page.locator("#detail .formula-line").text_content()

    probabilities = values(page, ".softmax .probability")
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(probabilities, shown, rtol=0, atol=0)
    exps = values(page, ".softmax td:nth-child(3) .num")
    total = values(page, ".softmax-view .sums .num")[0]
    np.testing.assert_allclose(np.array(exps) / total, probabilities, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(values(page, ".softmax td:nth-child(2) .num"), result.logits[0],
                               **TOL)
    screenshot(page, "detail-flatten-softmax")
    page.keyboard.press("Escape")
    assert page.locator("#detail").is_hidden()
