"""The architecture view in the page (assets/js/architecture.js over views/architecture.py):
it opens, shows every layer of the bundled model with its numbers, moves the focus along
the edges, jumps to the overview and back, zooms and pans, and draws ResNet-50's layout
from the CPython view-model; no Content-Security-Policy violation on the way."""

from __future__ import annotations

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


def view_box(page) -> list[float]:
    return [float(v) for v in page.get_attribute("#architecture svg.arch-graph", "viewBox").split()]


def crop(path, box, name: str) -> None:
    """The region ``box`` (page pixels, left top right bottom) of a full-page screenshot."""
    Image.open(path).crop(tuple(round(v) for v in box)).save(ARTIFACTS / f"{name}.png")


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


def test_keyboard_focus_follows_the_edges_and_enter_jumps_to_the_overview(opened, reference):
    page = opened
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
      const { ArchitectureView } = await import("./assets/js/architecture.js");
      const section = document.createElement("section");
      section.id = "architecture-gallery";
      section.className = "architecture";
      document.querySelector("main").append(section);
      const view = new ArchitectureView(section, { onJump: () => {} });
      view.render(JSON.parse(text));
      const merge = JSON.parse(text).nodes.find((n) => n.op === op && n.id > 20);
      view.focusNode(merge.id);  // a merge, in the middle of the view
      view.zoom(0.6);
      return section.querySelectorAll("g.arch-node").length;
    }""", [json.dumps(made), merge])
    assert count == len(made["nodes"]) == nodes
    section = page.locator("#architecture-gallery")
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(ARTIFACTS / f"architecture-{name}.png"))
    page.click("#architecture-gallery .arch-toolbar button[title^='Fit']")
    section.screenshot(path=str(ARTIFACTS / f"architecture-{name}-fit.png"))
    page.evaluate("document.querySelector('#architecture-gallery').remove()")


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
