"""The explainer as a reader meets it (issue 13): the detail view opens where it can be
seen, the keyboard reaches everything quickly, the overview fits a laptop with its legends,
embeds fit their frame, nothing breaks the Content-Security-Policy, an opened model is named.

One booted page serves the module, with every `securitypolicyviolation` recorded from its
first byte; the test that reads them runs last, after the others have used every control.
"""

from __future__ import annotations

import json

import pytest

from tests.onnx_builders import ModelBuilder
from tests.paths import BUNDLED_MODEL

from .conftest import ARTIFACTS, screenshot, wait_ready

RECORD_VIOLATIONS = """
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
        {directive: e.effectiveDirective, source: e.sourceFile, line: e.lineNumber}));
"""
MIN_TILE = 24  # px: the smallest tile the overview may scale down to and still be read
OPENED = "(() => Number(document.querySelector('#detail').dataset.opened || 0))()"


@pytest.fixture(scope="module")
def app(browser, site):
    page = browser.context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.set_default_timeout(20_000)
    page.goto(site + "index.html")
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    return page


def ready(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def opened(page) -> int:
    return int(page.evaluate(OPENED))


def wait_opened(page, before: int) -> None:
    page.wait_for_function(f"{OPENED} > {before}")


def close_detail(page) -> None:
    if page.locator("[data-testid=detail]").count():
        page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('[data-testid=detail]')")
    # Its closing transition over: the panel's card gone, the overview's columns at rest.
    page.wait_for_function("!document.querySelector('.detail-ghost')"
                           " && !document.querySelector('#overview.expanded, #overview.settling')")


def resize(page, width: int, height: int) -> None:
    """Sets the window's size and waits until the page has answered it: the overview is
    fitted to the new size on the frame after the resize event (Overview.fit), and a tile
    clicked or measured before that has the old size."""
    if page.evaluate("[innerWidth, innerHeight]") == [width, height]:
        return  # no resize event comes
    page.evaluate("""() => { window.__fitted = new Promise((done) => addEventListener(
        'resize', () => requestAnimationFrame(done), {once: true})); }""")
    page.set_viewport_size({"width": width, "height": height})
    # This listener came after the overview's, so its frame callback runs after the fit.
    page.evaluate("() => window.__fitted")


def in_viewport(page, selector: str) -> bool:
    return page.evaluate(
        """s => { const r = document.querySelector(s).getBoundingClientRect();
                  return r.top >= 0 && r.top < innerHeight
                      && r.left >= 0 && r.right <= innerWidth; }""",
        selector)


TARGETS = [  # (selector, layer, channel, kind)
    ("canvas.tile[data-layer='conv_1_1'][data-channel='0']", "conv_1_1", 0, "conv"),
    ("canvas.tile[data-layer='relu_1_1'][data-channel='2']", "relu_1_1", 2, "relu"),
    ("canvas.tile[data-layer='max_pool_2'][data-channel='1']", "max_pool_2", 1, "pool"),
    ("li.class[data-channel='3']", "logits", 3, "flatten"),
    ("canvas.tile[data-layer='image'][data-channel='0']", "image", 0, "neuron"),
]


@pytest.mark.parametrize(("selector", "layer", "channel", "kind"), TARGETS)
def test_a_click_opens_the_detail_view_in_view_and_focused(app, selector, layer, channel, kind):
    app.evaluate("scrollTo(0, 0)")
    before = opened(app)
    app.click(f"#overview {selector}")
    wait_opened(app, before)
    detail = "[data-testid=detail]"
    assert app.get_attribute(detail, "data-layer") == layer
    assert app.get_attribute(detail, "data-channel") == str(channel)
    assert app.get_attribute(detail, "data-kind") == kind
    assert in_viewport(app, detail)
    assert app.evaluate("document.querySelector('[data-testid=detail]')"
                        ".contains(document.activeElement)")
    app.keyboard.press("Escape")
    app.wait_for_function("!document.querySelector('[data-testid=detail]')")
    assert app.evaluate(f"document.activeElement.matches(\"#overview {selector}\")")


def test_enter_on_a_focused_tile_opens_the_detail_view_in_view(app):
    app.evaluate("scrollTo(0, 0)")
    app.focus("#overview canvas.tile[data-layer='conv_2_2'][data-channel='5']")
    before = opened(app)
    app.keyboard.press("Enter")
    wait_opened(app, before)
    assert in_viewport(app, "[data-testid=detail]")
    assert app.evaluate("document.querySelector('#detail').contains(document.activeElement)")
    close_detail(app)


def test_arrow_keys_update_the_open_detail_view(app):
    app.click("#overview canvas.tile[data-layer='relu_1_1'][data-channel='2']")
    app.wait_for_function("document.querySelector('[data-testid=detail]')?.dataset.channel === '2'")
    app.focus("#overview canvas.tile[data-layer='relu_1_1'][data-channel='2']")
    app.keyboard.press("ArrowDown")
    app.wait_for_function("document.querySelector('[data-testid=detail]')?.dataset.channel === '3'")
    assert "relu_1_1 · channel 3" in app.locator("#detail-title").text_content()
    assert app.evaluate("document.activeElement.dataset.channel") == "3"  # focus stays on tiles
    app.keyboard.press("ArrowRight")
    app.wait_for_function(
        "document.querySelector('[data-testid=detail]')?.dataset.layer === 'conv_1_2'")
    assert "layer=conv_1_2" in app.url and "channel=3" in app.url
    close_detail(app)


def layout(page) -> dict:
    return page.evaluate("""() => {
        const boxes = [...document.querySelectorAll('#overview canvas.tile, #overview li.class')]
            .map(e => e.getBoundingClientRect());
        const tiles = [...document.querySelectorAll(
            '#overview section.column:not(.kind-input) canvas.tile')]
            .map(e => e.getBoundingClientRect().width);
        const o = document.querySelector('#overview');
        return {bottom: Math.max(...boxes.map(b => b.bottom)),
                right: Math.max(...boxes.map(b => b.right)),
                tile: Math.min(...tiles), pageWidth: document.documentElement.scrollWidth,
                scrolls: o.scrollWidth > o.clientWidth + 1};
    }""")


LEGENDS = [
    "#overview section[data-layer='conv_1_1'] [data-legend=activations]",
    "#overview section[data-layer='conv_1_1'] [data-legend=weights]",
    "#overview section[data-layer='relu_2_2'] [data-legend=activations]",
    "#overview section.kind-output [data-legend=logits]",
]


def test_the_overview_fits_a_laptop_screen_with_its_legends_visible(app):
    close_detail(app)  # an open view folds the other columns into strips
    resize(app, 1280, 800)
    app.evaluate("scrollTo(0, 0)")
    box = layout(app)
    assert box["bottom"] <= 800 and box["right"] <= 1280 and not box["scrolls"], box
    assert box["tile"] >= MIN_TILE
    for selector in LEGENDS:
        assert app.locator(selector).is_visible(), selector
        bottom = app.evaluate("s => document.querySelector(s).getBoundingClientRect().bottom",
                              selector)
        assert bottom <= 800, selector
    screenshot(app, "experience-1280x800")


def test_the_overview_at_1024x768_and_on_a_phone(app):
    close_detail(app)
    resize(app, 1024, 768)
    app.evaluate("scrollTo(0, 0)")
    box = layout(app)
    assert box["right"] <= 1024 and not box["scrolls"] and box["tile"] >= MIN_TILE, box
    assert box["pageWidth"] <= 1024
    screenshot(app, "experience-1024x768")
    resize(app, 390, 844)
    box = layout(app)
    assert box["pageWidth"] <= 390 and box["scrolls"] and box["tile"] >= MIN_TILE, box
    # The prediction stays in view while the overview scrolls sideways and down the page.
    app.evaluate("""() => { const o = document.querySelector('#overview');
        o.scrollLeft = o.scrollWidth; scrollTo(0, o.getBoundingClientRect().top + scrollY); }""")
    app.wait_for_timeout(100)
    assert in_viewport(app, "[data-testid=top1]")
    screenshot(app, "experience-390x844")
    app.evaluate("scrollTo(0, 0)")
    resize(app, 1280, 800)


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1024, 768), (390, 844)])
def test_screenshots_of_an_open_detail_view(app, width, height):
    resize(app, width, height)
    app.evaluate("scrollTo(0, 0)")
    before = opened(app)
    app.click("#overview canvas.tile[data-layer='conv_1_2'][data-channel='1']")
    wait_opened(app, before)
    assert in_viewport(app, "[data-testid=detail]")
    assert app.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(app, f"experience-detail-{width}x{height}")
    app.screenshot(path=str(ARTIFACTS / f"experience-detail-{width}x{height}-viewport.png"))
    close_detail(app)
    resize(app, 1280, 800)


def test_a_skip_link_and_one_tab_stop_for_the_examples_reach_the_tiles(app):
    app.evaluate("scrollTo(0, 0)")
    assert app.evaluate("""() => [...document.querySelectorAll(
        'a[href], button, input, select, textarea, [tabindex]')].find(e => e.tabIndex >= 0)
        .matches('a.skip-link')""")
    app.focus("a.skip-link")
    assert in_viewport(app, "a.skip-link")  # it shows itself when focused
    app.keyboard.press("Enter")
    assert app.evaluate("document.activeElement.matches('#overview canvas.tile, #overview .class')")
    # Past the skip link: the thirty examples are one stop; a tile within fifteen presses
    # (one stop per control: upload, address, Load, model, Preprocessing…, Open a model…,
    # Paste a Caffe prototxt, colour range, details, Architecture, Embed, the backend's
    # "Run on" and its per-layer table).
    app.focus("a.skip-link")
    presses = 0
    while presses < 40 and not app.evaluate(
            "document.activeElement.matches('#overview canvas.tile')"):
        app.keyboard.press("Tab")
        presses += 1
    assert presses <= 15
    stops = app.evaluate("[...document.querySelectorAll('#examples button')]"
                         ".filter(b => b.tabIndex >= 0).length")
    assert stops == 1
    # Arrows move within the examples; Enter picks one.
    app.focus("#examples [tabindex='0']")
    first = app.evaluate("document.activeElement.dataset.file")
    app.keyboard.press("ArrowRight")
    second = app.evaluate("document.activeElement.dataset.file")
    assert second != first
    before = ready(app)
    app.keyboard.press("Enter")
    wait_ready(app, before + 1)
    assert app.locator("#image-name").text_content() == second
    assert app.get_attribute(f"#examples [data-file='{second}']", "aria-pressed") == "true"


def test_the_tooltip_goes_when_the_embed_dialog_opens(app):
    app.focus("#overview canvas.tile[data-layer='conv_1_1'][data-channel='1']")
    tooltip = app.locator("#overview .tooltip")
    assert tooltip.is_visible()
    assert "values from" in tooltip.text_content()  # the neuron's range
    # By keyboard (a click would move the pointer off the tile, which hides it anyway).
    app.focus("#embed-button")
    app.keyboard.press("Enter")
    app.locator("#embed-dialog").wait_for(state="visible")
    assert tooltip.is_hidden()
    app.keyboard.press("Escape")


def test_hover_on_a_class_lights_the_edges_from_the_last_layer(app):
    app.hover("#overview li.class[data-channel='4']")
    lit = app.eval_on_selector_all("svg.edges path.lit",
                                   "ps => ps.map(p => [p.dataset.from, p.dataset.to])")
    assert sorted(lit) == sorted([f"max_pool_2:{c}", "logits:4"] for c in range(10))
    assert "probability" in app.locator("#overview .tooltip").text_content()
    app.mouse.move(1, 1)


def test_an_old_error_goes_while_the_address_is_fixed(app, site):
    app.fill("#image-url", f"{site}no/such/picture.png")
    app.click("#url-form button")
    app.wait_for_function("document.querySelector('#message').textContent.includes('404')")
    app.locator("#image-url").press("End")
    app.locator("#image-url").press("Backspace")
    assert app.locator("#message").is_hidden()


def test_the_offline_line_does_not_move_the_page(app):
    top = "document.querySelector('#app').getBoundingClientRect().top"
    before = app.evaluate(top)
    app.evaluate("document.querySelector('[data-testid=offline-ready]').hidden = false")
    after = app.evaluate(top)
    app.evaluate("document.querySelector('[data-testid=offline-ready]').hidden = true")
    assert after == before


def test_the_detail_transition_is_short_and_respects_reduced_motion(app):
    def durations() -> list[float]:
        before = opened(app)
        app.click("#overview canvas.tile[data-layer='conv_1_1'][data-channel='4']")
        wait_opened(app, before)
        seconds = app.evaluate("""() => getComputedStyle(document.querySelector('#detail'))
            .transitionDuration.split(',').map(parseFloat)""")
        running = app.evaluate("document.querySelector('#detail').getAnimations().length")
        close_detail(app)
        return seconds, running
    seconds, _ = durations()
    assert 0 < max(seconds) <= 0.3
    app.emulate_media(reduced_motion="reduce")
    seconds, running = durations()
    assert max(seconds) == 0 and running == 0
    app.emulate_media(reduced_motion="no-preference")


def named_model() -> bytes:
    """A small grey CNN whose nodes are named apart from their output tensors, ending in Gemm."""
    b = ModelBuilder((1, 1, 28, 28), input_name="pixels", seed=3)
    conv = b.add("Conv", [b.input, b.weight((4, 1, 3, 3)), b.weight((4,), "b", 1)],
                 outputs=["c1"], name="edges", pads=(1, 1, 1, 1))
    relu = b.add("Relu", [conv], outputs=["r1"], name="rectify")
    flat = b.add("Flatten", [relu], outputs=["f"], name="flatten")
    b.add("Gemm", [flat, b.weight((10, 4 * 28 * 28)), b.weight((10,), "b", 1)],
          outputs=["scores"], name="classify", transB=1)
    return b.build(metadata={"cnnlens.classes": json.dumps([f"k{i}" for i in range(10)])}
                   ).SerializeToString()


def test_an_opened_model_is_named_and_a_link_to_it_says_it_is_not_part_of_the_site(app, browser):
    before = ready(app)
    app.set_input_files("#open-model", files=[{
        "name": "mine.onnx", "mimeType": "application/octet-stream", "buffer": named_model()}])
    wait_ready(app, before + 1)
    assert "mine.onnx" in app.locator(".prediction").text_content()
    headings = app.eval_on_selector_all("#overview section.column h3",
                                        "hs => hs.map(h => h.textContent)")
    assert headings[1:3] == ["edges", "rectify"]
    assert app.locator("#overview section.kind-output .kind").text_content() == "logits"
    assert app.locator("#overview section[data-layer='c1']").count() == 1  # tensors stay keys
    link = app.url
    assert "model=mine.onnx" in link
    other = browser.context.new_page()
    other.goto(link)
    wait_ready(other, 1)
    other.locator("#message").wait_for(state="visible")
    message = other.locator("#message").text_content()
    assert "mine.onnx" in message and "not part of the site" in message
    other.close()
    # Back to the bundled model for the tests after this one.
    before = ready(app)
    app.set_input_files("#open-model", files=[{
        "name": "tinyvgg-fashion-mnist.onnx", "mimeType": "application/octet-stream",
        "buffer": BUNDLED_MODEL.read_bytes()}])
    wait_ready(app, before + 1)
    # The bundled model ends in Gemm too: its output column says logits, not Softmax.
    assert app.locator("#overview section.kind-output .kind").text_content() == "logits"


def test_embed_fits_its_frame_width_and_hints_that_it_scrolls(browser, site):
    page = browser.context.new_page()
    page.set_viewport_size({"width": 700, "height": 600})
    page.goto(site + "embed.html#view=overview&fit=width")
    wait_ready(page, 1)
    right = page.evaluate("document.querySelector('#overview section.kind-output')"
                          ".getBoundingClientRect().right")
    assert right <= 700
    assert page.evaluate("document.documentElement.scrollWidth") <= 700
    screenshot(page, "experience-embed-700-fit")
    page.close()
    page = browser.context.new_page()
    page.set_viewport_size({"width": 390, "height": 600})
    page.goto(site + "embed.html#view=overview")
    wait_ready(page, 1)
    assert page.locator("[data-testid=scroll-hint]").is_visible()
    # The frame follows a new address.
    page.evaluate("location.hash = 'view=relu&layer=relu_1_1&channel=4'")
    page.wait_for_function("document.querySelector('#detail-title')?.textContent"
                           ".includes('relu_1_1 · channel 4')", timeout=180_000)
    page.close()


def test_the_refused_playground_does_not_state_an_output_size(app):
    app.locator("#article").scroll_into_view_if_needed()
    for key, value in {"n": "6", "p": "0", "k": "3", "s": "2"}.items():
        app.fill(f"[data-testid=pg-{key}]", value)
    app.wait_for_function("document.querySelector('[data-valid]')?.dataset.valid === 'false'")
    formula = app.locator("[data-testid=pg-formula]").text_content()
    output = app.locator("[data-testid=pg-output]").text_content()
    assert output == "refused"
    assert "Output size =" not in formula


def test_no_csp_violation_across_a_tour_of_every_control(app):
    """Runs last: the tests above used every control; this tour repeats the keyboard and
    dialog paths, then reads every violation recorded since the first byte."""
    app.evaluate("scrollTo(0, 0)")
    app.focus("#overview canvas.tile[data-layer='conv_1_1'][data-channel='0']")
    for key in ["ArrowDown", "ArrowRight", "ArrowUp", "End", "Home", "Enter"]:
        app.keyboard.press(key)
    app.wait_for_function("document.querySelector('[data-testid=detail]')")
    app.click("#embed-button")
    app.keyboard.press("Escape")
    app.check("#show-details")
    app.uncheck("#show-details")
    before = ready(app)
    app.select_option("#range-mode", "neuron")
    wait_ready(app, before + 1)
    close_detail(app)
    assert app.evaluate("window.__cspViolations") == []
    assert not [m for m in app.console if "Content Security Policy" in m]
