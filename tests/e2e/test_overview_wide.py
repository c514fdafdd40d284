"""The overview of wide and deep gallery nets (ResNet-18, ResNet-50 from the picker): a page
of 16 channels per column with "+ N more", a small DOM and answer, paging by pointer and
keyboard with the engine's values, edges derived from the sources' parts, links to a
channel on another page."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnlens.views import colormap
from tests.paths import EXAMPLES

from .conftest import ARTIFACTS, engine_reference, screenshot, wait_ready

FIRST = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]

REFERENCE = """
import json, sys
import numpy as np
from cnnlens.loader import load_model
from cnnlens.session import Session
from tests.paths import EXAMPLES, ROOT

name, image, cases = json.loads(sys.argv[2])
model = ROOT / "assets/models/gallery" / name
loaded = load_model(model.read_bytes(), name)
session = Session.start(loaded, (EXAMPLES / image).read_bytes(), image)
out = {}
for layer, channel in cases:
    values = session.result.tensors[layer][0]
    out[f"{layer}:{channel}"] = values[channel]
    out[f"{layer}:half"] = np.abs(values).max()
np.savez(sys.argv[1], **out)
"""

# The overview's elements per column: the section, its header (3 lines), the tiles' box, the
# pager (its box, the count, 2 buttons), the legends' box with up to 2 legends of 4 elements
# (a convolution's weights too), the details' box with 2 lines: at most 22 besides its tiles,
# 16 at most. The output: 16 classes of 6 elements, its header, pager and legend (about 20).
PER_COLUMN = 16 + 22
OUTPUT = 16 * 6 + 20


def ready(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def pick(page, model_id: str, timeout_ms: float = 120_000) -> None:
    """Opens a gallery net (ResNet-50's forward pass takes tens of seconds on a loaded VM)."""
    before = ready(page)
    page.select_option("#model-select", model_id)
    page.wait_for_function("n => Number(document.documentElement.dataset.cnnlensReady) > n",
                           arg=before, timeout=timeout_ms)


@pytest.fixture(scope="module")
def resnet(page):
    """The app with ResNet-18 open (on the first example, resized to 224 × 224)."""
    if page.locator("#image-name").text_content() != FIRST:
        before = ready(page)
        page.click(f"button.example[data-file='{FIRST}']")
        wait_ready(page, before + 1)
    pick(page, "resnet18")
    return page


def column_tiles(page, layer: str) -> list[int]:
    return page.eval_on_selector_all(
        f"#overview section.column[data-layer='{layer}'] [data-channel]",
        "ts => ts.map(t => Number(t.dataset.channel))")


def canvas_pixels(page, layer: str, channel: int) -> np.ndarray:
    width, height, values = page.evaluate(
        """([layer, channel]) => {
            const c = document.querySelector(
                `#overview canvas.tile[data-layer="${layer}"][data-channel="${channel}"]`);
            return [c.width, c.height, Array.from(c.getContext('2d')
                .getImageData(0, 0, c.width, c.height).data)];
        }""", [layer, channel])
    return np.array(values, np.uint8).reshape(height, width, 4)


def overview_answer_sizes(page) -> dict[str, int]:
    """Bytes of the overview answer for the state on screen (asked again, not drawn)."""
    return page.evaluate("""async () => {
        const answer = await cnnlens.python.mode(document.querySelector('#range-mode').value);
        return {json: new TextEncoder().encode(answer.view).length,
                rasters: answer.rasters.byteLength};
    }""")


def screens(page, name: str) -> None:
    """The whole page, and the screen a reader sees with the overview's top at its top."""
    screenshot(page, name)
    page.evaluate("document.querySelector('#overview').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(ARTIFACTS / f"{name}-screen.png"))


def dom_nodes(page) -> int:
    return page.evaluate("document.querySelectorAll('#overview *').length")


def lit_edges(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "svg.edges path.lit", "ps => ps.map(p => [p.dataset.from, p.dataset.to])")


def test_resnet18_shows_16_channels_a_column_in_a_small_dom(resnet):
    page = resnet
    columns = page.eval_on_selector_all(
        "#overview section.column:not(.kind-output)",
        "cs => cs.map(c => [c.dataset.layer, c.querySelectorAll('canvas.tile').length,"
        " c.querySelector('.pager [data-role=next]')?.textContent ?? null])")
    assert len(columns) == 68  # the input and 67 layers (tests/test_gallery.py: ResNet-18)
    shown = dict((name, (tiles, more)) for name, tiles, more in columns)
    assert shown["input"] == (3, None)
    assert shown["conv1.conv"] == (16, "+ 48 more")
    assert shown["layer4.1.1.conv"] == (16, "+ 496 more")
    assert shown["avgpool"] == (16, "+ 496 more")
    nodes = dom_nodes(page)
    # Was 23,001 at 878e554 (every one of 16,003 channels a tile, and 1,000 classes).
    assert nodes < len(columns) * PER_COLUMN + OUTPUT
    # The output lists its most probable 16 classes first, with the count of the rest.
    probabilities = page.eval_on_selector_all(
        "section.kind-output li.class", "ls => ls.map(l => Number(l.dataset.probability))")
    assert len(probabilities) == 16 and probabilities == sorted(probabilities, reverse=True)
    assert page.locator("section.kind-output li.class").first.get_attribute("class") == "class top"
    assert page.locator("section.kind-output .pager [data-role=next]").text_content() == (
        "+ 984 more")
    page.click("section.kind-output .pager [data-role=next]")
    page.wait_for_selector("section.kind-output .pager [data-role=previous]")
    following = page.eval_on_selector_all(
        "section.kind-output li.class", "ls => ls.map(l => Number(l.dataset.probability))")
    assert len(following) == 16 and following == sorted(following, reverse=True)
    assert following[0] <= probabilities[-1]  # ranks 17 to 32
    assert "17–32 of 1000" in page.locator("section.kind-output .pager").text_content()
    page.click("section.kind-output .pager [data-role=previous]")
    page.wait_for_selector("section.kind-output li.class.top")
    sizes = overview_answer_sizes(page)
    # Was 11.0 MB of JSON (every edge listed) and 33.5 MB of tiles. Now about 4.3 KB of
    # JSON per column; the tiles shown: 3 of 224², 48 of 112², then 56², 28², 14², 7², 1².
    assert sizes["json"] < 400_000
    assert sizes["rasters"] < 8_000_000
    screenshot(page, "overview-wide-resnet18")


def test_paging_shows_the_next_channels_with_the_engines_values(resnet, tmp_path):
    page = resnet
    page.click("section.column[data-layer='conv1.conv'] .pager [data-role=next]")
    page.wait_for_selector("canvas.tile[data-layer='conv1.conv'][data-channel='16']")
    assert column_tiles(page, "conv1.conv") == list(range(16, 32))
    pager = page.locator("section.column[data-layer='conv1.conv'] .pager")
    assert pager.locator("[data-role=next]").text_content() == "+ 32 more"
    assert pager.locator("[data-role=previous]").is_visible()
    assert "16–31 of 64" in pager.text_content()
    reference = engine_reference(tmp_path, REFERENCE,
                                 ["resnet18.onnx", FIRST, [["conv1.conv", 16], ["conv1.conv", 31]]])
    for channel in (16, 31):
        expected = colormap.diverging(reference[f"conv1.conv:{channel}"],
                                      float(reference["conv1.conv:half"]))
        drawn = canvas_pixels(page, "conv1.conv", channel)
        # Pyodide's NumPy and CPython's may round a float32 one unit apart, which can move
        # a pixel to the neighbouring colour of the scale.
        differ = np.abs(drawn.astype(int) - expected.astype(int)).max(axis=-1)
        assert (differ == 0).mean() > 0.999 and differ.max() <= 8
    screens(page, "overview-wide-paged")
    # Another colour range comes with every column's first page; the page turned to comes back.
    before = ready(page)
    page.select_option("#range-mode", "neuron")
    wait_ready(page, before + 1)
    page.wait_for_selector("canvas.tile[data-layer='conv1.conv'][data-channel='16']")
    assert column_tiles(page, "conv1.conv") == list(range(16, 32))
    expected = colormap.diverging(reference["conv1.conv:16"],
                                  float(np.abs(reference["conv1.conv:16"]).max()))
    differ = np.abs(canvas_pixels(page, "conv1.conv", 16).astype(int) - expected.astype(int))
    assert (differ.max(axis=-1) == 0).mean() > 0.999
    before = ready(page)
    page.select_option("#range-mode", "layer")
    wait_ready(page, before + 1)


def test_a_channel_on_another_page_opens_its_detail_view(resnet):
    page = resnet
    page.click("canvas.tile[data-layer='conv1.conv'][data-channel='20']")
    page.locator("#detail").wait_for(state="visible")
    page.wait_for_function(
        "() => document.querySelector('#detail').dataset.channel === '20'")
    assert "conv1.conv · channel 20" in page.locator("#detail-title").text_content()
    assert "channel=20" in page.url and "layer=conv1.conv" in page.url
    page.keyboard.press("Escape")
    page.locator("#detail").wait_for(state="hidden")


def test_arrow_keys_reach_the_pager_and_it_turns_the_page(resnet):
    page = resnet
    page.focus("canvas.tile[data-layer='layer1.0.1.conv'][data-channel='0']")
    for _ in range(16):
        page.keyboard.press("ArrowDown")
    focused = page.evaluate("[document.activeElement.dataset.role, "
                            "document.activeElement.getAttribute('aria-label')]")
    assert focused[0] == "next"
    assert focused[1].startswith("layer1.0.1.conv: show the next channels (48 more")
    page.keyboard.press("Enter")
    page.wait_for_selector("canvas.tile[data-layer='layer1.0.1.conv'][data-channel='16']")
    # The pager that turned keeps the focus, and says what is left.
    assert page.evaluate("document.activeElement.textContent") == "+ 32 more"
    page.keyboard.press("ArrowUp")  # the pager's first button now: "previous"
    assert page.evaluate("document.activeElement.dataset.role") == "previous"
    page.keyboard.press("ArrowUp")
    assert page.evaluate("[document.activeElement.dataset.layer, "
                         "document.activeElement.dataset.channel]") == ["layer1.0.1.conv", "31"]


def test_hover_lights_the_shown_feeders_and_one_stub_for_the_others(resnet):
    page = resnet
    page.hover("canvas.tile[data-layer='layer1.0.1.conv'][data-channel='20']")
    # A 3 × 3 convolution over all 64 channels of maxpool: 16 shown, 48 on other pages.
    assert sorted(lit_edges(page)) == sorted(
        [[f"maxpool:{c}", "layer1.0.1.conv:20"] for c in range(16)]
        + [["maxpool:+48", "layer1.0.1.conv:20"]])
    # Its batch norm reads channel 20 alone; the residual add its two inputs' channel 3.
    page.hover("canvas.tile[data-layer='layer1.0.1.bn'][data-channel='3']")
    assert lit_edges(page) == [["layer1.0.1.conv:+1", "layer1.0.1.bn:3"]]
    page.hover("canvas.tile[data-layer='layer1.0.add'][data-channel='3']")
    assert sorted(lit_edges(page)) == [["layer1.0.2.bn:3", "layer1.0.add:3"],
                                       ["maxpool:3", "layer1.0.add:3"]]


@pytest.mark.slow  # paging and a detail view on another page run above in CI
def test_a_link_to_channel_300_shows_its_page_and_detail(resnet, browser):
    other = browser.context.new_page()
    other.goto(resnet.url.split("#")[0] + f"#model=resnet18&image={FIRST}&range=layer"
               "&layer=layer4.1.1.conv&channel=300")
    wait_ready(other, 1)
    # Boot, then ResNet-18 opened, then the column turned to the page of channel 300.
    other.wait_for_function(
        "() => !document.querySelector('#detail').hidden"
        " && document.querySelector('#detail').dataset.channel === '300'", timeout=300_000)
    assert column_tiles(other, "layer4.1.1.conv") == list(range(288, 304))
    assert other.locator(
        "canvas.tile.selected[data-layer='layer4.1.1.conv'][data-channel='300']").count() == 1
    assert "layer4.1.1.conv · channel 300" in other.locator("#detail-title").text_content()
    other.close()


@pytest.mark.slow  # ResNet-18's small-DOM test runs the same path in CI
def test_resnet50_overview_stays_small(resnet):
    page = resnet
    pick(page, "resnet50", timeout_ms=300_000)
    columns = page.locator("#overview section.column").count() - 1
    assert columns == 174  # the input and 173 layers
    nodes = dom_nodes(page)
    assert nodes < columns * PER_COLUMN + OUTPUT
    sizes = overview_answer_sizes(page)
    # Was 87.9 MB of JSON and 150.8 MB of tiles.
    assert sizes["json"] < 800_000
    assert sizes["rasters"] < 16_000_000
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        screens(page, f"overview-wide-resnet50-{width}")
    page.set_viewport_size({"width": 1280, "height": 800})
