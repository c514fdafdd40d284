"""The article's figures in the browser: without JavaScript the static SVGs, once booted the
live ones with the numbers of the image on screen (the overview's own numbers and the
CPython engine's), following an example switch, operable by keyboard, inside a phone's
width, and without a single Content-Security-Policy violation.

One booted page (violations recorded from the first byte) serves the module.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from .conftest import engine_reference, screenshot, wait_ready
from .test_article import no_js  # noqa: F401  (the module's page without JavaScript)
from .test_security import RECORD_VIOLATIONS

FIGURES = ["relu", "pool", "softmax", "colours"]

# What the CPython engine's figures hold for each image in argv (the page's code, in a
# fresh interpreter with one BLAS thread as in Pyodide).
REFERENCE = """
import json, sys
import numpy as np
sys.path.insert(0, "py")
from cnnlens.loader import load_model
from cnnlens.session import Session
from cnnlens.views.figures import figures
loaded = load_model(open("assets/models/tinyvgg-fashion-mnist.onnx", "rb").read(), "m")
out = {}
for file in json.loads(sys.argv[2]):
    data = open("assets/images/fashion-mnist/" + file, "rb").read()
    session = Session.start(loaded, data, file)
    made = figures(loaded.model, session.result, list(session.classes), file)
    out[file + ":relu"] = [[p["x"], p["y"]] for p in made["relu"]["data"]["points"]]
    out[file + ":pool"] = np.ravel(made["pool"]["data"]["patch"])
    out[file + ":softmax"] = [[c["logit"], c["probability"]]
                              for c in made["softmax"]["data"]["classes"]]
    scales = made["colours"]["data"]
    out[file + ":colours"] = [[scales[k]["min"], scales[k]["max"]] for k in scales]
np.savez(sys.argv[1], **out)
"""

# The numbers a figure on the page shows, read from the SVG it drew.
NUMBERS = """figure => {
    const svg = figure.querySelector('.figure-art');
    const all = (sel, attr) =>
        [...svg.querySelectorAll(sel)].map(e => Number(e.getAttribute(attr)));
    const name = figure.dataset.figure;
    if (name === 'relu') {
        const x = all('.fig-point', 'data-x'), y = all('.fig-point', 'data-y');
        return x.map((v, i) => [v, y[i]]);
    }
    if (name === 'pool') return all('.fig-patch', 'data-value');
    if (name === 'softmax') {
        const z = all('.fig-logit', 'data-logit'), p = all('.fig-probability', 'data-probability');
        return z.map((v, i) => [v, p[i]]);
    }
    return all('.fig-scale', 'data-min').map((v, i) => [v, all('.fig-scale', 'data-max')[i]]);
}"""

OVERVIEW_CLASSES = """() => [...document.querySelectorAll('section.kind-output li.class')]
    .map(li => [Number(li.dataset.logit), Number(li.dataset.probability)])"""


@pytest.fixture(scope="module")
def fig_page(browser, site):
    page = browser.context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(site + "index.html")
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    record_requests(page)
    show_figures(page)  # the figures are asked for only once they are in view
    wait_figures(page, 1)
    yield page
    page.close()


def wait_figures(page, count: int) -> None:
    page.wait_for_function("n => Number(document.documentElement.dataset.cnnlensFigures || 0) >= n",
                           arg=count, timeout=60_000)


def show_figures(page) -> None:
    page.evaluate("document.querySelector('#figure-relu').scrollIntoView()")


def record_requests(page) -> None:
    """From now on, the name of every request the page sends to the worker goes into
    `window.__sent` (one queue: every request passes through the client's `send`)."""
    page.evaluate("""() => {
        const client = window.cnnlens.client;
        const send = client.send.bind(client);
        window.__sent = [];
        client.send = (name, ...args) => { window.__sent.push(name); return send(name, ...args); };
    }""")


def sent(page, name: str) -> int:
    return page.evaluate("name => window.__sent.filter(n => n === name).length", name)


def figure_numbers(page, name: str) -> np.ndarray:
    return np.array(page.eval_on_selector(f"#figure-{name}", NUMBERS), np.float64)


def static_numbers(name: str) -> np.ndarray:
    """The same numbers read from the committed static SVG (as the no-JS article shows it)."""
    from .conftest import ROOT

    text = (ROOT / "assets" / "figures" / f"{name}.svg").read_text()
    attr = lambda a: [float(v) for v in re.findall(rf'{a}="([^"]+)"', text)]  # noqa: E731
    if name == "relu":
        return np.array(list(zip(attr("data-x"), attr("data-y"), strict=True)))
    if name == "pool":
        return np.array(re.findall(r'fig-cell fig-patch" data-value="([^"]+)"', text), float)
    if name == "softmax":
        return np.array(list(zip(attr("data-logit"), attr("data-probability"), strict=True)))
    return np.array(list(zip(attr("data-min"), attr("data-max"), strict=True)))


def close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=1e-4, atol=1e-5)


def violations(page) -> list:
    return page.evaluate("window.__cspViolations")


def test_each_live_figure_replaces_its_static_one_with_the_same_numbers(fig_page):
    page = fig_page
    first = page.evaluate("document.querySelector('#examples .example').dataset.file")
    for name in FIGURES:
        figure = page.locator(f"#figure-{name}")
        assert figure.get_attribute("data-live") == "true"
        assert figure.get_attribute("data-image") == first
        assert figure.locator("img").count() == 0  # the static image was replaced
        art = figure.locator("svg.figure-art")
        assert art.get_attribute("role") == "img"
        label = art.get_attribute("aria-label")
        assert label and re.search(r"\d", label), name  # the text alternative has the numbers
        close(figure_numbers(page, name), static_numbers(name))
    # The softmax figure shows the overview's own logits and probabilities.
    close(figure_numbers(page, "softmax"), page.evaluate(OVERVIEW_CLASSES))
    assert violations(page) == []


def test_the_figures_follow_an_example_switch(fig_page, tmp_path):
    page = fig_page
    ready = int(page.evaluate("document.documentElement.dataset.cnnlensReady"))
    drawn = int(page.evaluate("document.documentElement.dataset.cnnlensFigures"))
    page.click("#examples .example[data-file='trouser_1.png']")
    wait_ready(page, ready + 1)
    show_figures(page)
    wait_figures(page, drawn + 1)
    page.wait_for_function(
        "() => document.querySelector('#figure-softmax').dataset.image === 'trouser_1.png'")
    reference = engine_reference(tmp_path, REFERENCE, ["trouser_1.png"])
    for name in FIGURES:
        assert page.get_attribute(f"#figure-{name}", "data-image") == "trouser_1.png"
        close(figure_numbers(page, name), reference[f"trouser_1.png:{name}"])
        assert "trouser_1.png" in page.inner_text(f"#figure-{name} figcaption")
    close(figure_numbers(page, "softmax"), page.evaluate(OVERVIEW_CLASSES))
    label = page.get_attribute("#figure-softmax svg", "aria-label")
    assert label.endswith("Prediction: Trouser.")
    assert violations(page) == []


def test_relu_and_pooling_work_by_keyboard_and_pointer(fig_page):
    page = fig_page
    relu = page.locator("#figure-relu svg.figure-art")
    relu.focus()
    points = page.locator("#figure-relu .fig-point")
    count = points.count()
    page.keyboard.press("Home")
    assert page.get_attribute("#figure-relu", "data-current") == "0"
    readout = page.locator("#figure-relu .figure-readout")
    x0 = float(points.nth(0).get_attribute("data-x"))
    assert x0 < 0 and "→ y = max(0, x) = 0 " in readout.inner_text()
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#figure-relu", "data-current") == "1"
    page.keyboard.press("End")
    assert page.get_attribute("#figure-relu", "data-current") == str(count - 1)
    assert page.locator("#figure-relu .fig-point.current").count() == 1
    points.nth(2).hover()
    assert page.get_attribute("#figure-relu", "data-current") == "2"

    visible = "() => [...document.querySelectorAll('#figure-pool .fig-step')].findIndex(g => g.getAttribute('visibility') === 'visible')"  # noqa: E501
    pool = page.locator("#figure-pool svg.figure-art")
    pool.focus()
    page.keyboard.press("Home")
    assert page.evaluate(visible) == 0
    page.keyboard.press("ArrowRight")
    assert page.evaluate(visible) == 1
    page.keyboard.press("Enter")
    assert page.evaluate(visible) == 2
    page.get_by_test_id("figure-pool-next").click()
    assert page.evaluate(visible) == 3
    page.get_by_test_id("figure-pool-next").click()  # wraps around
    assert page.evaluate(visible) == 0
    pool.click()
    assert page.evaluate(visible) == 1
    text = page.text_content("#figure-pool .figure-readout")
    assert text.startswith("Window 2 of 4")
    assert violations(page) == []


def test_no_figures_are_asked_for_while_the_article_is_off_screen(fig_page, tmp_path):
    page = fig_page
    page.evaluate("window.scrollTo(0, 0)")
    assert page.evaluate("""() => document.querySelector('#article figure[data-figure]')
        .getBoundingClientRect().top > innerHeight + 200""")  # well below the fold
    shown = page.get_attribute("#figure-pool", "data-image")
    ready = int(page.evaluate("document.documentElement.dataset.cnnlensReady"))
    drawn = int(page.evaluate("document.documentElement.dataset.cnnlensFigures"))
    before = sent(page, "figures")
    page.click("#examples .example[data-file='trouser_2.png']")
    # A figures request would be sent at once when the redraw is counted (a mutation
    # observer's microtask), before this wait sees the count.
    wait_ready(page, ready + 1)
    assert sent(page, "figures") == before
    assert page.get_attribute("#figure-pool", "data-image") == shown != "trouser_2.png"
    show_figures(page)
    wait_figures(page, drawn + 1)
    assert sent(page, "figures") == before + 1
    reference = engine_reference(tmp_path, REFERENCE, ["trouser_2.png"])
    for name in FIGURES:
        assert page.get_attribute(f"#figure-{name}", "data-image") == "trouser_2.png"
        close(figure_numbers(page, name), reference[f"trouser_2.png:{name}"])
    # back and forth in view: nothing changed, nothing asked
    page.evaluate("window.scrollTo(0, 0)")
    show_figures(page)
    page.wait_for_function("() => document.querySelector('#figure-relu')"
                           ".getBoundingClientRect().top < innerHeight")
    assert sent(page, "figures") == before + 1
    assert violations(page) == []


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_figures_fit_the_width_and_screenshots(fig_page, width, height):
    page = fig_page
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(100)  # one layout
    for name in FIGURES:
        box = page.locator(f"#figure-{name}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, name
        art = page.locator(f"#figure-{name} .figure-art").bounding_box()
        assert art["width"] >= min(300, width - 60), name  # drawn large enough to read
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.locator("#figure-relu").scroll_into_view_if_needed()
    screenshot(page, f"article-figures-{width}")
    assert violations(page) == []


def test_the_article_without_javascript_shows_every_static_figure(no_js):  # noqa: F811
    page = no_js
    for name in FIGURES:
        img = page.locator(f"#figure-{name} img.figure-art")
        assert img.is_visible(), name
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), name
        assert re.search(r"\d", img.get_attribute("alt")), name
        assert page.locator(f"#figure-{name} figcaption").is_visible()


def test_a_model_without_relu_keeps_the_static_relu_and_pool_figures(fig_page, tmp_path):
    """Runs last: it leaves the page on another model."""
    from tests.test_article_figures import plain_model

    page = fig_page
    path = tmp_path / "plain.onnx"
    path.write_bytes(plain_model().SerializeToString())
    ready = int(page.evaluate("document.documentElement.dataset.cnnlensReady"))
    drawn = int(page.evaluate("document.documentElement.dataset.cnnlensFigures"))
    page.set_input_files("#open-model", str(path))
    wait_ready(page, ready + 1)
    show_figures(page)
    wait_figures(page, drawn + 1)
    for name in ["relu", "pool"]:
        figure = page.locator(f"#figure-{name}")
        assert figure.get_attribute("data-live") == "none"
        img = figure.locator("img.figure-art")
        assert img.get_attribute("src") == f"assets/figures/{name}.svg"
        assert re.search(r"\d", img.get_attribute("alt"))
        assert "no layer this figure can draw" in figure.locator(".figure-readout").inner_text()
        assert figure.locator(".figure-next").count() == 0
    close(figure_numbers(page, "softmax"), page.evaluate(OVERVIEW_CLASSES))
    assert page.get_attribute("#figure-colours", "data-live") == "true"
    assert violations(page) == []
