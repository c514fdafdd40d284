"""The architecture view in the page (assets/js/architecture/ over views/architecture.py):
it opens, shows every layer of the bundled model with its numbers, moves the focus along
the edges, jumps to the overview and back, zooms and pans; deep nets (ResNet-50 from the
picker, GoogLeNet) open readable at their input, not as a fitted strip, with a minimap that
shows the view's rectangle and moves the view where it is pressed or dragged, and the
keyboard's focus stays in view down the graph; no Content-Security-Policy violation on the
way."""

from __future__ import annotations

import functools
import json

import pytest
from PIL import Image

from cnnlens.onnx_reader import read_model
from cnnlens.views.architecture import architecture
from tests.e2e.conftest import ARTIFACTS, screenshot, wait_ready
from tests.paths import BUNDLED_MODEL
from tests.test_gallery import GALLERY

VIOLATIONS = """() => {
  window.cspViolations = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.cspViolations.push(
      `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
}"""


def view_box(page, scope: str = "#architecture") -> list[float]:
    return [float(v) for v in page.get_attribute(f"{scope} svg.arch-graph", "viewBox").split()]


def crop(path, box, name: str) -> None:
    """The region ``box`` (page pixels, left top right bottom) of a full-page screenshot."""
    Image.open(path).crop(tuple(round(v) for v in box)).save(ARTIFACTS / f"{name}.png")


# The smallest text of a box as drawn on screen, in CSS pixels: its font size times the
# drawing's scale, as the browser maps the SVG to the screen.
LABEL_PX = """scope => {
  const svg = document.querySelector(`${scope} svg.arch-graph`);
  const texts = [...svg.querySelector('g.arch-node').querySelectorAll('text')];
  const font = Math.min(...texts.map(t => parseFloat(getComputedStyle(t).fontSize)));
  return font * svg.getScreenCTM().a;
}"""
# Whether node `id`'s box lies within the drawing's box on screen (half a pixel of rounding).
IN_VIEW = """([scope, id]) => {
  const view = document.querySelector(`${scope} svg.arch-graph`).getBoundingClientRect();
  const box = document.querySelector(`${scope} g.arch-node[data-node="${id}"] rect`)
    .getBoundingClientRect();
  return box.left >= view.left - 0.5 && box.right <= view.right + 0.5
    && box.top >= view.top - 0.5 && box.bottom <= view.bottom + 0.5;
}"""
READABLE_PX = 9
SIZES = ((1280, 800), (390, 844))


def draw(page, made: dict, scope_id: str) -> None:
    """A new ArchitectureView of the view-model ``made`` in a section of its own, at the
    page's present size."""
    page.evaluate("""async ([text, id]) => {
      const { ArchitectureView } = await import("./assets/js/architecture/view.js");
      const section = document.createElement("section");
      section.id = id;
      section.className = "architecture";
      document.querySelector("main").append(section);
      new ArchitectureView(section, { onJump: () => {} }).render(JSON.parse(text));
      section.scrollIntoView();
    }""", [json.dumps(made), scope_id])


def active(page) -> dict:
    return page.evaluate("""() => {
      const e = document.activeElement;
      return {node: e.dataset.node ?? null, layer: e.dataset.layer ?? null,
              selected: e.classList.contains('selected'), inOverview: !!e.closest('#overview')};
    }""")


@pytest.fixture(scope="module")
def opened(page):
    page.evaluate(VIOLATIONS)
    page.click("#architecture-button")
    page.wait_for_selector("#architecture g.arch-node[data-node='-1']:focus")
    return page


@pytest.fixture(scope="module")
def reference():
    return architecture(read_model(BUNDLED_MODEL.read_bytes()), (1, 1, 28, 28))


@functools.cache
def gallery_view(name: str) -> dict:
    return architecture(read_model((GALLERY / f"{name}.onnx").read_bytes(), weights="shapes"))


RESNET50_PARAMS = 25_557_032  # torchvision's figure (tests/test_gallery.py)
# Opening ResNet-50 makes 25 M weights and runs it at 224 × 224 in the worker: seconds on a
# quiet machine, minutes on a loaded one.
RESNET50_OPEN_MS = 400_000


@pytest.fixture(scope="module")
def resnet50(opened):
    """The page with ResNet-50 chosen in the model picker and its architecture drawn."""
    page = opened
    page.set_viewport_size({"width": 1280, "height": 800})
    page.select_option("#model-select", "resnet50")
    page.wait_for_function(
        "t => document.querySelector('#architecture .arch-totals').textContent.includes(t)",
        arg=f"{RESNET50_PARAMS:,} parameters", timeout=RESNET50_OPEN_MS)
    page.locator("#architecture").scroll_into_view_if_needed()
    return page


def test_the_view_shows_every_layer_with_its_numbers(opened, reference):
    page = opened
    assert page.get_attribute("#architecture-button", "aria-expanded") == "true"
    labels = page.eval_on_selector_all("#architecture g.arch-node",
                                       "gs => gs.map(g => g.getAttribute('aria-label'))")
    assert len(labels) == len(reference["nodes"])  # the input and every node
    for label, node in zip(labels, reference["nodes"], strict=True):
        assert label.startswith(f"{node['name']}: {node['op']}")
        assert "×".join(map(str, node["shape"][1:])) in label
        if node["id"] >= 0:
            assert f"{node['params']:,} parameters" in label
            assert f"{node['macs']:,} multiply-adds" in label
    edges = page.eval_on_selector_all("#architecture path.arch-edge", "ps => ps.length")
    assert edges == len(reference["edges"])
    totals = page.text_content("#architecture .arch-totals")
    assert f"{reference['totals']['params']:,} parameters" in totals
    assert f"{reference['totals']['layers']} layers" in totals


def test_the_bundled_model_opens_readable_at_its_input(opened):
    """Its whole chain fitted would draw its text at 4 px: it opens at its input instead."""
    assert opened.evaluate(LABEL_PX, "#architecture") >= READABLE_PX
    assert opened.evaluate(IN_VIEW, ["#architecture", -1])


def test_a_short_graph_opens_whole(opened, reference):
    """Fitting the whole graph is the opening view while its text still reads: the first
    three boxes of the bundled chain."""
    page = opened
    third = reference["nodes"][2]
    short = {**reference, "nodes": reference["nodes"][:3],
             "edges": [e for e in reference["edges"] if e["target"] <= 1],
             "height": third["y"] + third["height"] / 2}
    draw(page, short, "architecture-short")
    try:
        assert page.evaluate(LABEL_PX, "#architecture-short") >= READABLE_PX
        for node in short["nodes"]:
            assert page.evaluate(IN_VIEW, ["#architecture-short", node["id"]])
        _, y, _, height = view_box(page, "#architecture-short")
        # centred: as much room above the graph as below it
        assert abs(-y - (y + height - short["height"])) < 1
    finally:
        page.evaluate("document.querySelector('#architecture-short').remove()")


@pytest.mark.parametrize("size", SIZES, ids=lambda size: str(size[0]))
@pytest.mark.parametrize("name", ["resnet50", "googlenet", "bundled"])
def test_deep_nets_open_readable_at_their_input_beside_a_minimap(opened, reference, name, size):
    """Fitted whole, ResNet-50 is a strip of 2 px text (at 390 px even GoogLeNet's width
    alone is): each opens at its input at a readable size, the minimap showing where."""
    page = opened
    made = reference if name == "bundled" else gallery_view(name)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    scope = "#architecture-opening"
    try:
        draw(page, made, scope[1:])
        assert page.evaluate(LABEL_PX, scope) >= READABLE_PX
        assert page.evaluate(IN_VIEW, [scope, -1])
        frame = page.locator(f"{scope} .arch-minimap-view").bounding_box()
        minimap = page.locator(f"{scope} .arch-minimap").bounding_box()
        assert frame["height"] > 0 and frame["width"] > 0
        assert minimap["y"] <= frame["y"] < minimap["y"] + minimap["height"] / 4  # the top
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
        page.locator(scope).screenshot(
            path=str(ARTIFACTS / f"architecture-opening-{name}-{size[0]}.png"))
        # Down the graph by keyboard, the focused box stays on screen at this size too.
        page.focus(f"{scope} g.arch-node[data-node='-1']")
        for step in range(min(30, len(made["nodes"]) - 1)):
            page.keyboard.press("ArrowDown")
            node = active(page)["node"]
            assert page.evaluate(IN_VIEW, [scope, node]), f"step {step}: node {node}"
    finally:
        page.evaluate(f"document.querySelector('{scope}')?.remove()")
        page.set_viewport_size({"width": 1280, "height": 800})


def test_keyboard_focus_follows_the_edges_and_enter_jumps_to_the_overview(opened, reference):
    page = opened
    # From the input, wherever an earlier test left the focus (one in a drawing it has since
    # removed leaves it on the body, where the arrow keys move nothing).
    page.focus("#architecture g.arch-node[data-node='-1']")
    page.keyboard.press("ArrowDown")
    assert active(page)["node"] == "0"
    page.keyboard.press("ArrowDown")
    assert active(page)["node"] == "1"  # relu_1_1
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowDown")
    assert active(page)["node"] == "1"
    page.keyboard.press("Enter")
    now = active(page)
    screenshot(page, "architecture-jumped")
    assert now["inOverview"] and now["selected"]
    assert now["layer"] == reference["nodes"][2]["tensor"]
    assert page.is_visible("#architecture-back")
    page.click("#architecture-back")
    assert active(page)["node"] == "1"
    assert page.is_hidden("#architecture-back")
    # Flatten has no column of its own: it shows in the pool's before it.
    flatten = next(n for n in reference["nodes"] if n["op"] == "Flatten")
    selector = f"#architecture g.arch-node[data-node='{flatten['id']}']"
    page.focus(selector)  # brings it into the drawing's view, where it can be clicked
    page.click(selector)
    pool = reference["nodes"][flatten["id"]]  # the node before it (ids start at -1)
    assert pool["op"] == "MaxPool"
    assert active(page)["layer"] == pool["tensor"]
    page.click("#architecture-back")


def test_zoom_and_pan_change_the_view_box(opened):
    page = opened
    before = view_box(page)
    page.click("#architecture .arch-toolbar button[title^='Zoom in']")
    zoomed = view_box(page)
    assert zoomed[2] < before[2] and zoomed[3] < before[3]
    page.focus("#architecture g.arch-node[data-node='2']")  # may bring it into sight
    zoomed = view_box(page)
    page.keyboard.press("Shift+ArrowRight")
    panned = view_box(page)
    assert panned[0] > zoomed[0] and panned[1:] == zoomed[1:]
    page.keyboard.press("-")
    assert view_box(page)[2] > panned[2]
    box = page.locator("#architecture svg.arch-graph").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wheel_before = view_box(page)
    page.mouse.wheel(0, -300)
    page.wait_for_function("w => Number(document.querySelector('#architecture svg.arch-graph')"
                           ".getAttribute('viewBox').split(' ')[2]) < w", arg=wheel_before[2])
    dragged_before = view_box(page)
    page.mouse.move(box["x"] + 20, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 140, steps=5)
    page.mouse.up()
    dragged = view_box(page)
    assert dragged[0] < dragged_before[0] and dragged[1] < dragged_before[1]
    assert dragged[2:] == dragged_before[2:]
    page.click("#architecture .arch-toolbar button[title^='Fit']")


def test_screenshots_at_desktop_and_phone_sizes(opened):
    page = opened
    for width, height, name in ((1280, 800, "architecture-1280"), (390, 844, "architecture-390")):
        page.set_viewport_size({"width": width, "height": height})
        page.click("#architecture .arch-toolbar button[title^='Fit']")
        path = screenshot(page, name)
        box = page.locator("#architecture").bounding_box()
        scroll = page.evaluate("[scrollX, scrollY]")
        crop(path, (box["x"] + scroll[0], box["y"] + scroll[1], box["x"] + scroll[0] + box["width"],
                    box["y"] + scroll[1] + box["height"]), f"{name}-crop")
        overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.parametrize(("name", "merge", "nodes"),
                         [("resnet50", "Add", 176), ("googlenet", "Concat", 197)])
def test_gallery_nets_from_the_cpython_view_model_draw_every_node(opened, name, merge, nodes):
    """Opening ResNet-50 in the page would materialise 25 M weights and run it at 224 × 224:
    the renderer is checked on the CPython view-model instead, around a merge."""
    page = opened
    made = architecture(read_model((GALLERY / f"{name}.onnx").read_bytes(), weights="shapes"))
    count = page.evaluate("""async ([text, op]) => {
      const { ArchitectureView } = await import("./assets/js/architecture/view.js");
      const section = document.createElement("section");
      section.id = "architecture-gallery";
      section.className = "architecture";
      document.querySelector("main").append(section);
      const view = new ArchitectureView(section, { onJump: () => {} });
      view.render(JSON.parse(text));
      const merge = JSON.parse(text).nodes.find((n) => n.op === op && n.id > 20);
      view.focusNode(merge.id);  // a merge, in the middle of the view
      view.camera.zoom(0.6);
      return section.querySelectorAll("g.arch-node").length;
    }""", [json.dumps(made), merge])
    assert count == len(made["nodes"]) == nodes
    section = page.locator("#architecture-gallery")
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(ARTIFACTS / f"architecture-{name}.png"))
    page.click("#architecture-gallery .arch-toolbar button[title^='Fit']")
    section.screenshot(path=str(ARTIFACTS / f"architecture-{name}-fit.png"))
    page.evaluate("document.querySelector('#architecture-gallery').remove()")


def test_resnet50_from_the_picker_opens_readable_at_its_input(resnet50):
    page = resnet50
    assert page.evaluate(LABEL_PX, "#architecture") >= READABLE_PX
    assert page.evaluate(IN_VIEW, ["#architecture", -1])
    height = gallery_view("resnet50")["height"]
    assert view_box(page)[3] < height / 10  # a part of the graph, not all of it fitted
    page.locator("#architecture").screenshot(
        path=str(ARTIFACTS / "architecture-resnet50-picker.png"))


def frame_of(page) -> dict:
    return page.evaluate("""() => {
      const r = document.querySelector('#architecture .arch-minimap-view');
      return Object.fromEntries(['x', 'y', 'width', 'height', 'visibility'].map(
        a => [a, a === 'visibility' ? r.getAttribute(a) : Number(r.getAttribute(a))]));
    }""")


def test_the_minimap_shows_the_view_rectangle(resnet50):
    page = resnet50
    made = gallery_view("resnet50")
    x, y, width, height = view_box(page)
    frame = frame_of(page)
    # The view's box, cut to the graph's extent.
    assert frame["visibility"] == "visible"
    assert frame["x"] == pytest.approx(max(0, x), abs=0.01)
    assert frame["y"] == pytest.approx(max(0, y), abs=0.01)
    assert frame["width"] == pytest.approx(min(made["width"], x + width) - max(0, x), abs=0.01)
    assert frame["height"] == pytest.approx(min(made["height"], y + height) - max(0, y), abs=0.01)
    drawn = page.locator("#architecture .arch-minimap-view").bounding_box()
    minimap = page.locator("#architecture .arch-minimap").bounding_box()
    assert drawn["height"] >= 1
    assert minimap["x"] <= drawn["x"]
    assert drawn["x"] + drawn["width"] <= minimap["x"] + minimap["width"] + 1


def centre(page) -> tuple[float, float]:
    x, y, width, height = view_box(page)
    return x + width / 2, y + height / 2


def test_pressing_and_dragging_on_the_minimap_move_the_view_there(resnet50):
    page = resnet50
    made = gallery_view("resnet50")
    minimap = page.locator("#architecture .arch-minimap").bounding_box()
    # The minimap is the graph stretched to its box: a pixel there is this many graph units.
    per_x, per_y = made["width"] / minimap["width"], made["height"] / minimap["height"]
    scale = page.evaluate("document.querySelector('#architecture svg.arch-graph').getScreenCTM().a")
    at = (minimap["x"] + minimap["width"] / 2, minimap["y"] + minimap["height"] * 0.75)
    page.mouse.click(*at)
    cx, cy = centre(page)
    assert cx == pytest.approx(made["width"] / 2, abs=2 * per_x)
    assert cy == pytest.approx(made["height"] * 0.75, abs=2 * per_y)
    page.mouse.move(*at)
    page.mouse.down()
    page.mouse.move(at[0], minimap["y"] + minimap["height"] * 0.25, steps=6)
    page.mouse.up()
    assert centre(page)[1] == pytest.approx(made["height"] * 0.25, abs=2 * per_y)
    # Moving is not zooming.
    assert page.evaluate("document.querySelector('#architecture svg.arch-graph')"
                         ".getScreenCTM().a") == pytest.approx(scale)
    page.locator("#architecture").screenshot(
        path=str(ARTIFACTS / "architecture-resnet50-minimap-dragged.png"))


def test_focus_moving_down_the_graph_stays_in_view(resnet50):
    page = resnet50
    page.focus("#architecture g.arch-node[data-node='-1']")
    for step in range(60):
        page.keyboard.press("ArrowDown")
        node = active(page)["node"]
        assert page.evaluate(IN_VIEW, ["#architecture", node]), f"step {step}: node {node}"
    assert int(node) >= 50  # it went down the graph
    assert page.evaluate(LABEL_PX, "#architecture") >= READABLE_PX


def test_another_model_redraws_the_open_view(opened):
    page = opened
    lenet = architecture(read_model((GALLERY / "lenet5.onnx").read_bytes(), weights="shapes"))
    drawn = int(page.evaluate("Number(document.documentElement.dataset.cnnlensReady)"))
    page.select_option("#model-select", "lenet5")
    wait_ready(page, drawn + 1)
    # Both nets have 12 layers: the totals tell them apart.
    page.wait_for_function(
        "t => document.querySelector('#architecture .arch-totals').textContent.includes(t)",
        arg=f"{lenet['totals']['params']:,} parameters")
    names = page.eval_on_selector_all("#architecture g.arch-node",
                                      "gs => gs.map(g => g.getAttribute('aria-label'))")
    assert [name.split(":")[0] for name in names] == [n["name"] for n in lenet["nodes"]]


def test_no_content_security_policy_violation(opened):
    assert opened.evaluate("window.cspViolations") == []
    assert not [m for m in opened.console if "Content Security Policy" in m]
