"""CNN Explainer's elastic detail view (issue 13): on a wide screen a click opens the neuron's
view inside the overview's box, between the column feeding it (moved to the left) and its own
column (moved to the box's right edge), while every other column folds into a faded strip at
the edge on its side, still clickable; closing hides the panel at once (the page's state, its
address and automation see it closed), gives the focus back to the tile and runs the opening
transition reversed: a card of the panel's size fades and shrinks in its place while the
columns unfold. On a phone the view opens below the overview, animated both ways too, and a
hint says the overview scrolls.

"Inside the overview's box" means: the view's left and right edges lie within the overview's,
its top within the overview's top and bottom (it starts in the overview, not below it), and it
covers no tile of a column left at full opacity. Transitions are read with getAnimations() in
the same task as the event that starts them (no timing), and paused mid-way for screenshots.
"""

from __future__ import annotations

import pytest

from .conftest import ARTIFACTS, open_view, screenshot

TARGETS = [  # (kind, layer, channel, the column feeding it)
    ("conv", "conv_1_2", 1, "relu_1_1"),
    ("relu", "relu_2_1", 2, "conv_2_1"),
    ("pool", "max_pool_2", 1, "relu_2_2"),
    ("flatten", "logits", 3, "max_pool_2"),
]

# Boxes of the view, the overview and every column, with the columns' opacity and transform
# and whether any tile of a column at full opacity meets the view.
LAYOUT = """() => {
    const box = (e) => { const r = e.getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
    const panel = document.querySelector('#detail');
    const view = box(panel);
    const meets = (r) => r.left < view.right && r.right > view.left
                      && r.top < view.bottom && r.bottom > view.top;
    const columns = [...document.querySelectorAll('#overview section.column')].map((c) => ({
        layer: c.dataset.layer, opacity: Number(getComputedStyle(c).opacity),
        transform: getComputedStyle(c).transform,
        covered: [...c.querySelectorAll('[data-channel]')].some(
            (t) => meets(t.getBoundingClientRect())),
    }));
    return {view, overview: box(document.querySelector('#overview')), columns,
            edges: getComputedStyle(document.querySelector('svg.edges')).visibility,
            focused: panel.contains(document.activeElement),
            pageWidth: document.documentElement.scrollWidth,
            width: innerWidth, height: innerHeight};
}"""

# Presses Escape (or clicks the close button) and reads, in the same task, what the closing
# transition leaves: the panel hidden, its closing card in its place and animating.
CLOSE_NOW = """(how) => {
    const panel = document.querySelector('#detail');
    if (how === 'button') document.querySelector('#detail-close').click();
    else document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
    const card = document.querySelector('#stage > .detail-ghost');
    return {hidden: panel.hidden, running: card ? card.getAnimations().length : 0,
            testid: panel.dataset.testid || null,
            columnsMoving: [...document.querySelectorAll('#overview section.column')]
                .some((c) => c.getAnimations().length > 0)};
}"""

# Time-based animations only (the phone's scroll hint follows the overview's scroll instead).
SETTLED = """() => document.getAnimations().every(
    (a) => a.timeline !== document.timeline || a.playState !== 'running')"""


def settle(page) -> None:
    page.wait_for_function(SETTLED)


def open_settled(page, layer: str, channel: int, kind: str) -> dict:
    page.evaluate("scrollTo(0, 0)")
    open_view(page, layer, channel, kind)
    settle(page)
    return page.evaluate(LAYOUT)


def assert_in_place(layout: dict, layer: str, feeding: str) -> None:
    view, box = layout["view"], layout["overview"]
    assert box["left"] - 0.5 <= view["left"] < view["right"] <= box["right"] + 0.5, layout
    assert box["top"] - 0.5 <= view["top"] < box["bottom"], layout
    assert 0 <= view["top"] < layout["height"] and view["right"] <= layout["width"], layout
    kept = {c["layer"]: c for c in layout["columns"] if c["layer"] in (layer, feeding)}
    assert set(kept) == {layer, feeding}
    for column in kept.values():
        assert column["opacity"] == 1 and not column["covered"], column
    for column in layout["columns"]:
        if column["layer"] not in kept:
            assert column["opacity"] < 0.5 and column["transform"] != "none", column
    assert layout["edges"] == "hidden"  # the overview's edges would not fit the moved columns
    assert layout["focused"]


def assert_closed(page, layer: str, channel: int) -> None:
    page.wait_for_function("document.querySelector('#detail').hidden"
                           " && !document.querySelector('.detail-ghost')")
    settle(page)
    layout = page.evaluate(LAYOUT)
    for column in layout["columns"]:
        assert column["opacity"] == 1 and column["transform"] == "none", column
    assert layout["edges"] == "visible"
    assert page.evaluate("([l, c]) => document.activeElement.dataset.layer === l"
                         " && document.activeElement.dataset.channel === String(c)",
                         [layer, channel])
    assert "layer=" not in page.url


@pytest.fixture(scope="module")
def wide(page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.emulate_media(reduced_motion="no-preference")
    return page


@pytest.mark.parametrize(("kind", "layer", "channel", "feeding"), TARGETS)
def test_a_click_opens_the_view_inside_the_overview_and_escape_reverses_it(
        wide, kind, layer, channel, feeding):
    layout = open_settled(wide, layer, channel, kind)
    assert_in_place(layout, layer, feeding)
    closing = wide.evaluate(CLOSE_NOW, "escape")
    # Mid-transition: the panel's card fading in its place, the columns on their way back.
    assert closing == {"hidden": True, "running": closing["running"], "testid": None,
                       "columnsMoving": True} and closing["running"] > 0, closing
    assert_closed(wide, layer, channel)


def test_the_close_button_and_a_click_on_the_faded_overview_close_it(wide):
    open_settled(wide, "conv_1_2", 4, "conv")
    closing = wide.evaluate(CLOSE_NOW, "button")
    assert closing["hidden"] and closing["running"] > 0 and closing["testid"] is None
    assert_closed(wide, "conv_1_2", 4)
    # The ReLU view is shorter than the overview: below it the faded columns show.
    layout = open_settled(wide, "relu_2_1", 5, "relu")
    assert layout["view"]["bottom"] + 20 < layout["overview"]["bottom"], layout
    wide.mouse.click((layout["view"]["left"] + layout["view"]["right"]) / 2,
                     layout["view"]["bottom"] + 10)
    assert_closed(wide, "relu_2_1", 5)


def test_a_folded_column_can_still_be_pointed_at_and_clicked(wide):
    """The other columns fold into faded strips at the edges; a click on one of their tiles
    opens that neuron's view, in place around its own column."""
    open_settled(wide, "conv_1_2", 0, "conv")
    box = wide.locator("#overview canvas.tile[data-layer='relu_2_2'][data-channel='6']")
    assert box.bounding_box()["width"] < 20  # folded
    wide.hover("#overview canvas.tile[data-layer='relu_2_2'][data-channel='6']")
    assert "relu_2_2, channel 6" in wide.locator("#overview .tooltip").text_content()
    layout = open_settled(wide, "relu_2_2", 6, "relu")
    assert_in_place(layout, "relu_2_2", "conv_2_2")
    wide.keyboard.press("Escape")
    assert_closed(wide, "relu_2_2", 6)


def test_arrow_keys_update_the_view_in_place(wide):
    open_settled(wide, "relu_1_1", 2, "relu")
    wide.focus("#overview canvas.tile[data-layer='relu_1_1'][data-channel='2']")
    wide.keyboard.press("ArrowDown")
    wide.wait_for_function(
        "document.querySelector('[data-testid=detail]')?.dataset.channel === '3'")
    assert "relu_1_1 · channel 3" in wide.locator("#detail-title").text_content()
    wide.keyboard.press("ArrowRight")  # another column: the room is made around it
    wide.wait_for_function(
        "document.querySelector('[data-testid=detail]')?.dataset.layer === 'conv_1_2'")
    settle(wide)
    layout = wide.evaluate(LAYOUT)
    layout["focused"] = True  # the arrow keys keep the focus on the tiles
    assert_in_place(layout, "conv_1_2", "relu_1_1")
    assert wide.evaluate("document.activeElement.dataset.layer") == "conv_1_2"
    wide.keyboard.press("Escape")
    assert_closed(wide, "conv_1_2", 3)


def test_the_method_tabs_work_in_place(wide):
    open_settled(wide, "conv_2_1", 0, "conv")
    wide.click("#tab-attribution")
    card = "[data-testid=method-saliency]"
    wide.wait_for_function(f"Number(document.querySelector('{card}')?.dataset.cnnlensMethodReady"
                           " || 0) >= 1", timeout=120_000)
    settle(wide)
    layout = wide.evaluate(LAYOUT)
    assert_in_place(layout, "conv_2_1", "max_pool_1")
    inside = wide.evaluate("""s => { const c = document.querySelector(s).getBoundingClientRect();
        const p = document.querySelector('#detail').getBoundingClientRect();
        return c.left >= p.left && c.right <= p.right && c.width > 100; }""", card)
    assert inside
    screenshot(wide, "in-place-attribution-1280x800")
    wide.click("#tab-detail")
    wide.keyboard.press("Escape")
    assert_closed(wide, "conv_2_1", 0)


def test_reduced_motion_opens_in_place_and_closes_at_once(wide):
    wide.emulate_media(reduced_motion="reduce")
    layout = open_settled(wide, "conv_1_1", 3, "conv")
    assert_in_place(layout, "conv_1_1", "image")
    durations = wide.evaluate("""() => ['#detail', '#overview section.column']
        .map((s) => getComputedStyle(document.querySelector(s)).transitionDuration)""")
    assert durations == ["0s", "0s"]
    closing = wide.evaluate(CLOSE_NOW, "escape")
    assert closing["running"] == 0 and not closing["columnsMoving"]
    assert_closed(wide, "conv_1_1", 3)
    wide.emulate_media(reduced_motion="no-preference")


def test_at_1024x768_the_view_opens_in_place(wide):
    wide.set_viewport_size({"width": 1024, "height": 768})
    wide.wait_for_timeout(100)  # the overview fits itself on the next frame
    for kind, layer, channel, feeding in TARGETS:
        layout = open_settled(wide, layer, channel, kind)
        assert_in_place(layout, layer, feeding)
        assert layout["pageWidth"] <= 1024
        wide.keyboard.press("Escape")
        assert_closed(wide, layer, channel)
    wide.set_viewport_size({"width": 1280, "height": 800})


def test_on_a_phone_the_view_opens_below_the_overview_animated(wide):
    wide.set_viewport_size({"width": 390, "height": 844})
    wide.wait_for_timeout(100)
    wide.evaluate("scrollTo(0, 0)")
    # Opening: the panel's entry transition runs from the frame it is shown in.
    running = wide.evaluate("""() => new Promise((resolve) => {
        const panel = document.querySelector('#detail');
        const before = Number(panel.dataset.opened || 0);
        new MutationObserver((_, o) => {
            if (Number(panel.dataset.opened || 0) <= before) return;
            o.disconnect();
            resolve(panel.getAnimations().length);
        }).observe(panel, {attributes: true});
        document.querySelector("#overview canvas.tile[data-layer='conv_1_1'][data-channel='2']")
            .click();
    })""")
    assert running > 0
    settle(wide)
    layout = wide.evaluate(LAYOUT)
    assert layout["view"]["top"] >= layout["overview"]["bottom"] - 0.5  # below, not in place
    assert 0 <= layout["view"]["top"] < 844 and layout["focused"]
    assert layout["view"]["left"] >= 0 and layout["view"]["right"] <= 390
    assert layout["pageWidth"] <= 390
    assert all(c["opacity"] == 1 and c["transform"] == "none" for c in layout["columns"])
    closing = wide.evaluate(CLOSE_NOW, "escape")
    assert closing["hidden"] and closing["running"] > 0
    assert_closed(wide, "conv_1_1", 2)
    wide.set_viewport_size({"width": 1280, "height": 800})


def hint_shown(page) -> bool:
    return page.evaluate("""() => { const h = document.querySelector(
        '[data-testid=overview-scroll-hint]'); const s = getComputedStyle(h);
        const r = h.getBoundingClientRect();
        return s.display !== 'none' && s.visibility === 'visible' && Number(s.opacity) > 0.5
            && r.width > 0 && r.top >= 0 && r.bottom <= innerHeight; }""")


def test_a_phone_is_told_the_overview_scrolls_sideways_until_it_has(wide):
    wide.set_viewport_size({"width": 390, "height": 844})
    wide.wait_for_timeout(100)
    wide.evaluate("scrollTo(0, 0); document.querySelector('#overview').scrollLeft = 0")
    wide.wait_for_timeout(100)
    assert hint_shown(wide)
    wide.evaluate("document.querySelector('#overview').scrollLeft = 400")
    wide.wait_for_timeout(100)
    assert not hint_shown(wide)
    wide.evaluate("document.querySelector('#overview').scrollLeft = 0")
    wide.wait_for_timeout(100)
    wide.screenshot(path=str(ARTIFACTS / "in-place-hint-390x844.png"))
    wide.set_viewport_size({"width": 1280, "height": 800})
    wide.wait_for_timeout(100)
    assert not hint_shown(wide)  # nothing scrolls on a laptop


# Every running animation paused half-way (the transitions are 260 ms long).
PAUSE_HALFWAY = """() => document.getAnimations().forEach((a) => {
    if (a.timeline === document.timeline) { a.pause(); a.currentTime = 130; } })"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1024, 768), (390, 844)])
def test_screenshots_open_mid_transition_and_closed(wide, width, height):
    wide.set_viewport_size({"width": width, "height": height})
    wide.wait_for_timeout(100)
    for kind, layer, channel, _ in TARGETS:
        name = f"in-place-{kind}-{width}x{height}"
        open_settled(wide, layer, channel, kind)
        wide.screenshot(path=str(ARTIFACTS / f"{name}-open.png"))
        wide.evaluate(CLOSE_NOW, "escape")
        wide.evaluate(PAUSE_HALFWAY)
        assert wide.locator(".detail-ghost").is_visible()
        wide.screenshot(path=str(ARTIFACTS / f"{name}-closing.png"))
        wide.evaluate(
            "document.getAnimations().forEach((a) => a.playState === 'paused' && a.play())")
        assert_closed(wide, layer, channel)
        wide.screenshot(path=str(ARTIFACTS / f"{name}-closed.png"))
    wide.set_viewport_size({"width": 1280, "height": 800})


# The in-place view's own edges (detail-edges.js): each path's end points, the boxes of the
# tile and the view's element it should join, and how many the view has.
DETAIL_EDGES = """() => {
    const svg = document.querySelector('#stage > svg.detail-edges');
    const paths = svg ? [...svg.querySelectorAll('path')] : [];
    const box = (e) => { const r = e.getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
    const shown = svg && getComputedStyle(svg).display !== 'none';
    const m = svg ? svg.getScreenCTM() : null;
    const point = (p, at) => { const q = p.getPointAtLength(at * p.getTotalLength());
        return {x: q.x * m.a + m.e, y: q.y * m.d + m.f}; };
    return {shown, edges: paths.map((p) => ({from: p.dataset.from, to: p.dataset.to,
        start: point(p, 0), end: point(p, 1)})),
        boxes: Object.fromEntries([...document.querySelectorAll(
            '#overview section.column:not(.faded) [data-channel], #detail .elastic-row'
            + '[data-input-channel], #detail .elastic-row[data-output],'
            + ' #detail .formula-maps .map-box')].map((e, k) => [
            e.dataset.layer ? `${e.dataset.layer}:${e.dataset.channel}`
            : e.dataset.inputChannel !== undefined ? `view:${e.dataset.inputChannel}`
            : e.dataset.output !== undefined ? 'view:output' : `map:${k}`, box(e)])),
    };
}"""


def within(point: dict, box: dict, slack: float = 3) -> bool:
    return (box["left"] - slack <= point["x"] <= box["right"] + slack
            and box["top"] - slack <= point["y"] <= box["bottom"] + slack)


def test_edges_join_the_feeding_tiles_to_the_conv_view_rows_and_its_output_to_the_tile(wide):
    """CNN Explainer joins the kept input column to the view's rows: one curve from each of
    relu_1_1's 10 tiles to the row of that channel, one from the sum's row to the tile."""
    open_settled(wide, "conv_1_2", 4, "conv")
    wide.wait_for_function("document.querySelectorAll('#stage > svg.detail-edges path')"
                           ".length > 0")
    drawn = wide.evaluate(DETAIL_EDGES)
    assert drawn["shown"]
    c_in = wide.evaluate("document.querySelectorAll('#detail .elastic-row[data-input-channel]')"
                         ".length")
    assert c_in == 10
    inputs = [e for e in drawn["edges"] if e["to"] != "conv_1_2:4"]
    outputs = [e for e in drawn["edges"] if e["to"] == "conv_1_2:4"]
    assert len(inputs) == c_in and len(outputs) == 1, drawn["edges"]
    boxes = drawn["boxes"]
    for edge in inputs:
        channel = edge["from"].split(":")[1]
        assert edge["from"] == f"relu_1_1:{channel}" and edge["to"] == f"view:{channel}"
        assert within(edge["start"], boxes[edge["from"]]), (edge, boxes[edge["from"]])
        assert within(edge["end"], boxes[edge["to"]]), (edge, boxes[edge["to"]])
    assert sorted(int(e["to"].split(":")[1]) for e in inputs) == list(range(10))
    (out,) = outputs
    assert within(out["start"], boxes["view:output"]), (out, boxes["view:output"])
    assert within(out["end"], boxes["conv_1_2:4"]), (out, boxes["conv_1_2:4"])
    screenshot(wide, "in-place-edges-conv-1280x800")
    wide.keyboard.press("Escape")
    assert wide.evaluate("document.querySelectorAll('#stage > svg.detail-edges path').length") == 0
    assert_closed(wide, "conv_1_2", 4)


def test_edges_join_a_relu_view_to_its_tiles_and_follow_the_arrow_keys_and_a_resize(wide):
    open_settled(wide, "relu_2_1", 2, "relu")
    wide.wait_for_function("document.querySelectorAll('#stage > svg.detail-edges path')"
                           ".length === 2")
    drawn = wide.evaluate(DETAIL_EDGES)
    maps = [b for k, b in drawn["boxes"].items() if k.startswith("map:")]
    into, out = drawn["edges"]
    assert (into["from"], out["to"]) == ("conv_2_1:2", "relu_2_1:2")
    assert within(into["start"], drawn["boxes"]["conv_2_1:2"]) and within(into["end"], maps[0])
    assert within(out["start"], maps[-1]) and within(out["end"], drawn["boxes"]["relu_2_1:2"])
    screenshot(wide, "in-place-edges-relu-1280x800")
    wide.focus("#overview canvas.tile[data-layer='relu_2_1'][data-channel='2']")
    wide.keyboard.press("ArrowDown")  # the view follows, and its edges with it
    wide.wait_for_function("[...document.querySelectorAll('#stage > svg.detail-edges path')]"
                           ".map((p) => p.dataset.from).join() === 'conv_2_1:3,view:output'")
    drawn = wide.evaluate(DETAIL_EDGES)
    assert within(drawn["edges"][0]["start"], drawn["boxes"]["conv_2_1:3"])
    assert within(drawn["edges"][1]["end"], drawn["boxes"]["relu_2_1:3"])
    wide.set_viewport_size({"width": 1100, "height": 800})  # redrawn for the new sizes
    wide.wait_for_timeout(100)
    settle(wide)
    wide.wait_for_function("document.querySelectorAll('#stage > svg.detail-edges path')"
                           ".length === 2")
    drawn = wide.evaluate(DETAIL_EDGES)
    assert within(drawn["edges"][0]["start"], drawn["boxes"]["conv_2_1:3"])
    assert within(drawn["edges"][1]["end"], drawn["boxes"]["relu_2_1:3"])
    wide.set_viewport_size({"width": 1280, "height": 800})
    wide.wait_for_timeout(100)
    wide.keyboard.press("Escape")
    assert_closed(wide, "relu_2_1", 3)


def test_no_view_edges_on_a_phone(wide):
    wide.set_viewport_size({"width": 390, "height": 844})
    wide.wait_for_timeout(100)
    open_settled(wide, "conv_1_2", 4, "conv")
    wide.wait_for_timeout(100)
    assert wide.evaluate(DETAIL_EDGES)["edges"] == []
    wide.keyboard.press("Escape")
    assert_closed(wide, "conv_1_2", 4)
    wide.set_viewport_size({"width": 1280, "height": 800})


def test_edges_join_a_pooling_view_to_its_tiles(wide):
    open_settled(wide, "max_pool_2", 1, "pool")
    wide.wait_for_function("document.querySelectorAll('#stage > svg.detail-edges path')"
                           ".length === 2")
    drawn = wide.evaluate(DETAIL_EDGES)
    maps = [b for k, b in drawn["boxes"].items() if k.startswith("map:")]
    into, out = drawn["edges"]
    assert (into["from"], out["to"]) == ("relu_2_2:1", "max_pool_2:1")
    assert within(into["start"], drawn["boxes"]["relu_2_2:1"]) and within(into["end"], maps[0])
    assert within(out["start"], maps[-1]) and within(out["end"], drawn["boxes"]["max_pool_2:1"])
    screenshot(wide, "in-place-edges-pool-1280x800")
    wide.keyboard.press("Escape")
    assert_closed(wide, "max_pool_2", 1)
