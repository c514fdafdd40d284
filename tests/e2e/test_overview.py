"""The overview as a learner uses it: colours, edges, selection, links, keyboard, layout."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from cnnlens.forward import run
from cnnlens.model_card import model_card
from cnnlens.onnx_reader import read_model
from cnnlens.preprocess import preprocess
from cnnlens.views import colormap
from tests.onnx_builders import ModelBuilder
from tests.paths import BUNDLED_MODEL, EXAMPLES

from .conftest import Browser, screenshot, wait_ready

INDEX = json.loads((EXAMPLES / "index.json").read_text())


def engine(file: str):
    model = read_model(BUNDLED_MODEL.read_bytes())
    x = preprocess((EXAMPLES / file).read_bytes(), model_card(model).preprocessing)
    return model, run(model, x)


def canvas_pixels(page, layer: str, channel: int) -> np.ndarray:
    """RGBA `(H, W, 4)` read back from one tile's canvas."""
    data = page.evaluate(
        """([layer, channel]) => {
            const c = document.querySelector(
                `#overview canvas.tile[data-layer="${layer}"][data-channel="${channel}"]`);
            return [c.width, c.height, Array.from(c.getContext('2d')
                .getImageData(0, 0, c.width, c.height).data)];
        }""", [layer, channel])
    width, height, values = data
    return np.array(values, np.uint8).reshape(height, width, 4)


def ready(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def do(page, action) -> None:
    """Runs an action that redraws the overview and waits for the redraw."""
    before = ready(page)
    action()
    wait_ready(page, before + 1)




def expected_half_range(result, layer: str, channel: int, mode: str) -> float:
    spatial = [n for n, t in result.tensors.items() if t.ndim == 4 and n != result.input_name]
    values = result.tensors[layer][0]
    if mode == "neuron":
        return float(np.abs(values[channel]).max())
    if mode == "layer":
        return float(np.abs(values).max())
    return max(float(np.abs(result.tensors[n]).max()) for n in spatial)


@pytest.mark.parametrize("mode", ["layer", "neuron", "network"])
def test_tile_pixels_are_the_engine_activation_in_the_chosen_colour_range(page, mode):
    if page.input_value("#range-mode") != mode:
        do(page, lambda: page.select_option("#range-mode", mode))
    file = page.locator("#image-name").text_content()
    _, result = engine(file)
    for layer, channel in [("conv_1_1", 0), ("relu_1_2", 3), ("max_pool_2", 9)]:
        values = result.tensors[layer][0, channel]
        expected = colormap.diverging(values, expected_half_range(result, layer, channel, mode))
        np.testing.assert_array_equal(canvas_pixels(page, layer, channel), expected)


def lit_edges(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "svg.edges path.lit", "ps => ps.map(p => [p.dataset.from, p.dataset.to])")


def test_hover_lights_exactly_the_edges_that_feed_the_tile(page):
    page.hover("#overview canvas.tile[data-layer='conv_2_1'][data-channel='4']")
    edges = lit_edges(page)
    assert sorted(edges) == sorted([f"max_pool_1:{c}", "conv_2_1:4"] for c in range(10))
    assert page.locator("#overview .tooltip").is_visible()
    assert "conv_2_1, channel 4" in page.locator("#overview .tooltip").text_content()
    page.hover("#overview canvas.tile[data-layer='relu_2_1'][data-channel='7']")
    assert lit_edges(page) == [["conv_2_1:7", "relu_2_1:7"]]
    page.hover("#overview canvas.tile[data-layer='conv_1_1'][data-channel='2']")
    assert lit_edges(page) == [["image:0", "conv_1_1:2"]]
    at_rest = page.eval_on_selector_all("svg.edges path", "ps => ps.length")
    # conv_1_1 reads 1 channel; 3 convs read 10 each; 4 ReLUs and 2 pools one each; each
    # of the 10 classes reads all 10 channels of max_pool_2.
    assert at_rest == 10 * 1 + 3 * 10 * 10 + 6 * 10 + 10 * 10


def test_colour_range_switch_redraws_maps_and_legend(page):
    do(page, lambda: page.select_option("#range-mode", "layer"))
    pixels = canvas_pixels(page, "conv_1_2", 5)
    legend = page.locator("section[data-layer='conv_1_2'] .legend").first.get_attribute(
        "aria-label")
    do(page, lambda: page.select_option("#range-mode", "network"))
    assert not np.array_equal(canvas_pixels(page, "conv_1_2", 5), pixels)
    assert page.locator("section[data-layer='conv_1_2'] .legend").first.get_attribute(
        "aria-label") != legend
    screenshot(page, "overview-range-network")
    do(page, lambda: page.select_option("#range-mode", "layer"))


def test_network_details_show_dimensions_parameters_and_legends(page):
    details = page.locator("section[data-layer='conv_1_2'] .details")
    assert details.is_hidden()
    page.check("#show-details")
    assert details.is_visible()
    text = details.text_content()
    assert "10 × 28 × 28" in page.locator("section[data-layer='conv_1_2'] header").text_content()
    assert "3 × 3 · stride 1 · pad 1" in text
    assert "910 parameters" in text  # 10·10·3·3 weights + 10 biases
    assert page.locator("section[data-layer='max_pool_1'] .details").text_content().count(
        "stride 2") == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "overview-details")
    page.uncheck("#show-details")


def test_click_selects_and_the_link_restores_it(page, browser, site):
    trouser = next(e["file"] for e in INDEX if e["label"] == "Trouser")
    do(page, lambda: page.click(f"button.example[data-file='{trouser}']"))
    do(page, lambda: page.select_option("#range-mode", "neuron"))
    page.click("#overview canvas.tile[data-layer='conv_2_1'][data-channel='4']")
    page.locator("#detail").wait_for(state="visible")
    assert "conv_2_1 · channel 4" in page.locator("#detail-title").text_content()
    assert page.locator("#overview canvas.tile.selected").count() == 1
    screenshot(page, "overview-detail-panel")
    link = page.url
    assert "layer=conv_2_1" in link and "channel=4" in link and f"image={trouser}" in link
    assert "range=neuron" in link

    other = browser.context.new_page()
    other.goto(link)
    wait_ready(other, 1)
    other.locator("#detail").wait_for(state="visible")
    assert other.locator("#image-name").text_content() == trouser
    assert other.input_value("#range-mode") == "neuron"
    assert other.locator(
        "#overview canvas.tile.selected[data-layer='conv_2_1'][data-channel='4']").count() == 1
    assert "conv_2_1 · channel 4" in other.locator("#detail-title").text_content()
    other.close()
    page.keyboard.press("Escape")
    page.locator("#detail").wait_for(state="hidden")  # after its closing transition
    assert "layer=" not in page.url
    do(page, lambda: page.select_option("#range-mode", "layer"))


def test_keyboard_reaches_a_tile_and_opens_its_detail_view(page):
    page.locator("#range-mode").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('tile')"):
            break
    assert page.evaluate("document.activeElement.dataset.layer") is not None
    page.keyboard.press("Home")
    assert page.evaluate("document.activeElement.dataset.layer") == "image"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("[document.activeElement.dataset.layer, "
                            "document.activeElement.dataset.channel]")
    assert focused == ["conv_1_1", "2"]
    page.keyboard.press("Enter")
    page.locator("#detail").wait_for(state="visible")
    assert "conv_1_1 · channel 2" in page.locator("#detail-title").text_content()
    page.keyboard.press("Escape")
    page.locator("#detail").wait_for(state="hidden")  # after its closing transition
    assert page.evaluate("document.activeElement.dataset.channel") == "2"
    # The classes are reachable too: far right of the grid is the output column.
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.classList.contains('class')")
    page.keyboard.press("Enter")
    page.locator("#detail").wait_for(state="visible")
    assert "class" in page.locator("#detail-title").text_content()
    page.keyboard.press("Escape")


def test_controls_have_accessible_names(page):
    unnamed = page.evaluate("""() => [...document.querySelectorAll(
        'button, input, select, [role=button]')]
        .filter(e => e.offsetParent !== null || e.type === 'file')
        .filter(e => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim()))
        .map(e => e.outerHTML.slice(0, 80))""")
    assert unnamed == []


def test_paste_and_image_address_load_images(page, site):
    png = io.BytesIO()
    Image.fromarray(np.tile(np.arange(28, dtype=np.uint8)[:, None] * 9, (1, 28))).save(png, "PNG")
    do(page, lambda: page.evaluate(
        """bytes => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], 'clip.png', {type: 'image/png'}));
            document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt}));
        }""", list(png.getvalue())))
    assert page.locator("#image-name").text_content() == "clip.png"

    bag = next(e["file"] for e in INDEX if e["label"] == "Bag")
    page.fill("#image-url", f"{site}assets/images/fashion-mnist/{bag}")
    do(page, lambda: page.click("#url-form button"))
    assert page.locator("#image-name").text_content() == bag
    assert page.get_by_test_id("top1").text_content() == "Bag"

    before = ready(page)
    page.fill("#image-url", f"{site}no/such/picture.png")
    page.click("#url-form button")
    page.locator("#message").wait_for(state="visible")
    assert "404" in page.locator("#message").text_content()
    assert ready(page) == before
    assert page.get_by_test_id("top1").text_content() == "Bag"


def test_fits_a_laptop_and_scrolls_inside_on_a_phone(page):
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    fits = "(o => o.scrollWidth <= o.clientWidth)(document.querySelector('#overview'))"
    assert page.evaluate(fits)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not page.evaluate(fits)
    screenshot(page, "overview-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "overview-default")


def rgb_model() -> bytes:
    """A small colour CNN with the bundled model's output name, to stand in for it."""
    b = ModelBuilder((1, 3, 16, 16), input_name="photo", seed=5)
    conv = b.add("Conv", [b.input, b.weight((4, 3, 3, 3)), b.weight((4,), "b", 1)],
                 outputs=["conv"], pads=(1, 1, 1, 1))
    relu = b.add("Relu", [conv], outputs=["relu"])
    pool = b.add("MaxPool", [relu], outputs=["pool"], kernel_shape=(2, 2), strides=(2, 2))
    flat = b.add("Flatten", [pool], outputs=["flat"])
    b.add("Gemm", [flat, b.weight((3, 256)), b.weight((3,), "b", 1)], outputs=["scores"],
          transB=1)
    model = b.build(metadata={
        "cnnlens.classes": json.dumps(["red", "green", "blue"]),
        "cnnlens.preprocessing": json.dumps({"mode": "RGB", "size": [16, 16],
                                             "resize": "stretch", "scale": 1 / 255}),
    })
    return model.SerializeToString()


def test_any_model_the_engine_runs_gets_an_overview(playwright_instance, site, tmp_path):
    browser = Browser(playwright_instance, tmp_path / "profile")
    body = rgb_model()
    browser.context.route("**/tinyvgg-fashion-mnist.onnx",
                          lambda route: route.fulfill(status=200, body=body))
    page = browser.context.new_page()
    page.goto(site + "index.html")
    wait_ready(page, 1)
    columns = page.eval_on_selector_all(
        "#overview section.column", "cs => cs.map(c => [c.dataset.layer, "
        "c.querySelectorAll('canvas.tile, li.class').length])")
    assert columns == [["photo", 3], ["conv", 4], ["relu", 4], ["pool", 4], ["scores", 3]]
    page.hover("#overview canvas.tile[data-layer='conv'][data-channel='1']")
    assert sorted(lit_edges(page)) == [[f"photo:{c}", "conv:1"] for c in range(3)]
    tints = [canvas_pixels(page, "photo", c)[..., :3].reshape(-1, 3).max(axis=0) for c in range(3)]
    for c, tint in enumerate(tints):  # each input channel drawn in its own colour only
        assert tint[c] > 0 and not np.delete(tint, c).any()
    screenshot(page, "overview-rgb-model")
    browser.close()
    assert browser.outside_requests() == []


def test_no_request_left_127_0_0_1_during_the_overview_tests(page, browser):
    assert browser.outside_requests() == []


def wide_model() -> bytes:
    """Two 96-channel convolutions: more channels than a column shows at once."""
    b = ModelBuilder((1, 1, 8, 8), seed=3)
    y = b.add("Conv", [b.input, b.weight((96, 1, 3, 3))], pads=[1, 1, 1, 1], name="wide_1")
    y = b.add("Relu", [y], name="relu_1")
    y = b.add("Conv", [y, b.weight((96, 96, 3, 3))], pads=[1, 1, 1, 1], name="wide_2")
    y = b.add("Flatten", [y])
    y = b.add("Gemm", [y, b.weight((10, 96 * 64)), b.weight((10,), "b", 1)], transB=1)
    return b.build(y).SerializeToString()


def test_a_wide_network_shows_16_channels_and_edges_from_the_others_as_a_stub(page, tmp_path):
    path = tmp_path / "wide.onnx"
    path.write_bytes(wide_model())
    ready = int(page.evaluate("Number(document.documentElement.dataset.cnnlensReady)"))
    page.set_input_files("#open-model", str(path))
    wait_ready(page, ready + 1)
    # Columns are keyed by their tensors: the image, wide_1, relu_1, wide_2.
    _, first, relu, second = page.eval_on_selector_all(
        "#overview section.column[data-layer]", "cs => cs.map(c => c.dataset.layer)")[:4]
    assert page.eval_on_selector_all(
        f"#overview canvas.tile[data-layer='{second}']",
        "ts => ts.map(t => Number(t.dataset.channel))") == list(range(16))
    assert page.locator(f"section[data-layer='{second}'] .pager [data-role=next]"
                        ).text_content() == "+ 80 more"
    # Few enough edges between the shown tiles to rest on screen: 16 + 16 + 16 × 16 + the
    # 10 classes × 16; each of wide_2's tiles also reads relu_1's 80 others (a stub, lit
    # only with the tile).
    resting = page.eval_on_selector_all("svg.edges path:not(.stub)", "ps => ps.length")
    assert resting == 16 + 16 + 16 * 16 + 10 * 16
    page.hover(f"#overview canvas.tile[data-layer='{second}'][data-channel='4']")
    assert sorted(lit_edges(page)) == sorted(
        [[f"{relu}:{c}", f"{second}:4"] for c in range(16)] + [[f"{relu}:+80", f"{second}:4"]])
    page.hover(f"#overview canvas.tile[data-layer='{relu}'][data-channel='5']")
    assert lit_edges(page) == [[f"{first}:5", f"{relu}:5"]]
    assert page.locator("#message").is_hidden()
