"""The prerendered first paint (assets/prerendered/, build/prerender.py): the overview is on
screen before Python is up, hover works, what needs Python waits with "Python is starting"
where the reader acted and is carried out once it is, and the worker's answer is the
prerendered one byte for byte (so nothing is redrawn). The worker's runtime download is held
back with a route, which is how Python is kept from starting."""

from __future__ import annotations

import functools
import json
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer

import numpy as np
import pytest

from tests.e2e.conftest import load_build_script, screenshot, wait_ready
from tests.e2e.test_overview import canvas_pixels, lit_edges
from tests.e2e.test_site import PlainHandler
from tests.paths import ROOT
from tests.test_prerender import fresh_differences

FOLDER = ROOT / "assets" / "prerendered"
INDEX = json.loads((FOLDER / "index.json").read_text())
DEFAULT = INDEX["states"][0]
STARTING = re.compile(r"^Python is starting — \d{1,2}%$")
# Counts every tile drawn (overview.js paints tiles with putImageData).
COUNT_PAINTS = """
window.__paints = 0;
const put = CanvasRenderingContext2D.prototype.putImageData;
CanvasRenderingContext2D.prototype.putImageData = function (...args) {
  window.__paints += 1;
  return put.apply(this, args);
};
"""


class Held:
    """The runtime's big download, held until `release` (Python cannot start before)."""

    PATTERN = "**/pyodide.asm.wasm"

    def __init__(self, context) -> None:
        self.context = context
        self.routes: list = []
        context.route(self.PATTERN, lambda route: self.routes.append(route))

    def wait(self, page, timeout_s: float = 120) -> None:
        """Until the worker asks for the runtime (it is then held: Python cannot be up)."""
        for _ in range(int(timeout_s * 10)):
            if self.routes:
                return
            page.wait_for_timeout(100)
        raise AssertionError("the worker never asked for the runtime")

    def release(self) -> None:
        self.context.unroute(self.PATTERN)
        for route in self.routes:
            route.continue_()
        self.routes.clear()


@pytest.fixture
def held(browser):
    hold = Held(browser.context)
    yield hold
    hold.release()


def painted_page(browser, url: str, viewport: dict | None = None):
    page = browser.context.new_page()
    if viewport:
        page.set_viewport_size(viewport)
    page.add_init_script(COUNT_PAINTS)
    page.goto(url)
    page.wait_for_function("document.documentElement.dataset.cnnlensPainted === 'prerendered'")
    return page


def is_live(page) -> bool:
    return page.evaluate("'cnnlensReady' in document.documentElement.dataset")


def test_the_overview_is_drawn_and_hovered_before_python_is_up(browser, site, held):
    page = painted_page(browser, site + "index.html")
    held.wait(page)
    assert not is_live(page)
    assert page.locator("#boot").is_hidden() and page.locator("#app").is_visible()
    # The tiles are the prerendered bytes.
    view = json.loads((FOLDER / DEFAULT["view"]).read_text())
    rasters = np.frombuffer((FOLDER / DEFAULT["rasters"]).read_bytes(), np.uint8)
    column = next(c for c in view["columns"] if c["name"] == "conv_1_1")
    tile = column["tiles"][2]
    size = column["width"] * column["height"] * 4
    expected = rasters[tile["offset"]:tile["offset"] + size]
    drawn = canvas_pixels(page, "conv_1_1", 2)
    assert drawn.reshape(-1).tolist() == expected.tolist()
    assert page.locator("[data-testid=top1]").text_content() == \
        view["output"]["classes"][view["output"]["top1"]]["name"]
    # Hover: edges and tooltip, all in the page's JS.
    page.hover("#overview canvas.tile[data-layer='conv_2_1'][data-channel='4']")
    assert sorted(lit_edges(page)) == sorted([f"max_pool_1:{c}", "conv_2_1:4"] for c in range(10))
    assert "conv_2_1, channel 4" in page.locator("#overview .tooltip").text_content()
    assert page.locator("[data-legend=activations]").count() > 0
    assert not is_live(page)
    page.close()


def test_a_tile_clicked_early_says_python_is_starting_then_opens(browser, site, held):
    page = painted_page(browser, site + "index.html")
    page.click("#overview canvas.tile[data-layer='conv_1_1'][data-channel='3']")
    indicator = page.locator("[data-testid=python-starting]")
    indicator.wait_for()
    assert STARTING.match(indicator.text_content()), indicator.text_content()
    assert page.locator("#detail").is_hidden()
    screenshot(page, "prerender-starting-1280")
    phone = painted_page(browser, site + "index.html", {"width": 390, "height": 844})
    phone.click("#overview canvas.tile[data-layer='conv_1_1'][data-channel='3']")
    phone.locator("[data-testid=python-starting]").wait_for()
    screenshot(phone, "prerender-starting-390")
    phone.close()
    assert not is_live(page)
    held.release()
    page.wait_for_function(
        "() => document.querySelector('#detail').dataset.layer === 'conv_1_1'"
        " && document.querySelector('#detail').dataset.channel === '3'"
        " && !document.querySelector('#detail').hidden", timeout=180_000)
    assert is_live(page)
    assert indicator.count() == 0
    page.close()


def test_an_example_clicked_early_is_carried_out(browser, site, held):
    page = painted_page(browser, site + "index.html")
    other = INDEX["started"]["examples"][3]["file"]
    page.click(f"#examples button.example[data-file='{other}']")
    assert STARTING.match(page.locator("[data-testid=python-starting]").text_content())
    screenshot(page, "prerender-example-starting-1280")
    held.release()
    wait_ready(page, 2)
    assert page.locator("#image-name").text_content() == other
    assert page.locator(f"#examples button[data-file='{other}']").get_attribute(
        "aria-pressed") == "true"
    assert page.locator("[data-testid=python-starting]").count() == 0
    page.close()


def test_the_workers_answer_is_the_prerendered_one_byte_for_byte_and_not_redrawn(
        browser, site, held):
    page = painted_page(browser, site + "index.html")
    paints = page.evaluate("window.__paints")
    assert paints > 0
    held.release()
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    assert page.evaluate("window.__paints") == paints, "the live answer was drawn again"
    same = page.evaluate(
        """async ([image, view, rasters]) => {
          const base = new URL("assets/prerendered/", document.baseURI);
          const text = await (await fetch(new URL(view, base))).text();
          const bytes = new Uint8Array(await (await fetch(new URL(rasters, base))).arrayBuffer());
          const answer = await window.cnnlens.python.example(image);
          const live = answer.rasters;
          let equal = live.length === bytes.length;
          for (let i = 0; equal && i < bytes.length; i += 1) equal = live[i] === bytes[i];
          return {view: answer.view === text, rasters: equal, length: live.length};
        }""", [DEFAULT["image"], DEFAULT["view"], DEFAULT["rasters"]])
    assert same == {"view": True, "rasters": True, "length": rasters_size()}
    page.close()


def rasters_size() -> int:
    return (FOLDER / DEFAULT["rasters"]).stat().st_size


def test_a_link_to_another_image_skips_the_prerendered_paint(browser, site, held):
    page = browser.context.new_page()
    with page.expect_response(re.compile(r"/assets/prerendered/index\.json$")):
        page.goto(site + "index.html#image=trouser_1.png")
    page.wait_for_function("document.documentElement.dataset.cnnlensStage === 'runtime'")
    page.wait_for_timeout(300)  # the index is read; nothing more is coming
    assert "cnnlensPainted" not in page.evaluate("Object.keys(document.documentElement.dataset)")
    assert page.locator("#boot").is_visible()
    held.release()
    wait_ready(page, 1)
    assert page.locator("#image-name").text_content() == "trouser_1.png"
    page.close()


def test_an_embedded_default_overview_is_painted_before_python(browser, site, held):
    url = site + f"embed.html#view=overview&image={DEFAULT['image']}&range=layer"
    page = painted_page(browser, url)
    assert not is_live(page)
    assert page.locator("#overview canvas.tile").count() > 0
    assert page.locator("#embed-status").is_hidden()
    paints = page.evaluate("window.__paints")
    held.release()
    wait_ready(page, 1)
    assert page.evaluate("window.__paints") == paints
    page.close()


FRAMES = ("overview-frame", "conv-frame", "playground-frame")
# What each frame shows, and a mark on it: a redraw replaces the marked element (the
# overview keeps its canvases and paints them again: COUNT_PAINTS counts that).
FRAME_DRAWN = {
    "overview-frame": "document.querySelectorAll('#overview canvas.tile').length === 101",
    "conv-frame": "document.querySelectorAll('#detail .elastic-row:not(.total)').length === 10",
    "playground-frame": "document.querySelector('#playground').dataset.setting === '5,1,3,2'"
                        " && document.querySelectorAll('#playground rect.out').length === 9",
}
MARKED = {"overview-frame": "#overview canvas.tile", "conv-frame": "#detail .elastic-row",
          "playground-frame": "#playground svg"}
# The worker's answer for the frame's view, compared with the prerendered files in the page.
SAME_BYTES = """async ([request, args, files]) => {
    const base = new URL("assets/prerendered/", document.baseURI);
    const answer = await window.cnnlens.python[request](...args);
    const equal = {};
    for (const [field, name] of Object.entries(files)) {
        const response = await fetch(new URL(name, base));
        if (typeof answer[field] === "string") {
            equal[field] = answer[field] === await response.text();
            continue;
        }
        const mine = new Uint8Array(await response.arrayBuffer());
        const a = answer[field];  // Uint8Array, or Float32Array for numbers
        const live = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
        equal[field] = live.byteLength === mine.byteLength && mine.every((b, i) => live[i] === b);
    }
    return equal;
}"""


def blog_frames(page) -> dict:
    return {name: page.locator(f"#{name}").element_handle().content_frame() for name in FRAMES}


def test_make_site_prerenders_the_blog_posts_three_views(browser, held, tmp_path):
    """`make site` (prerender.EMBEDDED): the blog post's overview, convolution and playground
    embeds are drawn from dist/'s files before Python is up, the files are what `page.App`
    answers (CPython, to float32 precision), and each worker's answer is the same bytes, so
    nothing is redrawn."""
    prerender = load_build_script("prerender")
    states = [prerender.parse_state(text) for text in prerender.EMBEDDED]
    built = load_build_script("site").build_site(tmp_path / "dist", prerender=states)
    folder = built.out / "assets" / "prerendered"
    index = json.loads((folder / "index.json").read_text())
    assert [s["kind"] for s in index["states"]] == ["overview", "overview", "detail",
                                                    "playground"]
    detail, playground = index["states"][2:]
    for state in index["states"][1:]:
        # In a thread: Playwright's sync API holds this one's event loop.
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(fresh_differences, folder, state).result() == [], state
        # Shipped for the embeds, but not precached by a visit to the page.
        assert (folder / state["view" if "view" in state else "playground"]).is_file()
        assert f"assets/prerendered/{state.get('view', state.get('playground'))}" \
            not in built.files
    # The host's page beside the site, where it finds ../embed.html (dist has no examples/).
    (built.out / "examples").mkdir()
    shutil.copyfile(ROOT / "examples" / "blog-post.html", built.out / "examples" / "post.html")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        PlainHandler, directory=str(built.out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/examples/post.html"
        page = browser.context.new_page()
        page.set_viewport_size({"width": 1000, "height": 3000})  # every lazy frame in view
        page.add_init_script(COUNT_PAINTS)  # in every frame
        page.goto(url)
        frames = blog_frames(page)
        for name, frame in frames.items():
            frame.wait_for_function("document.documentElement.dataset.cnnlensPainted"
                                    " === 'prerendered'")
            frame.wait_for_function(FRAME_DRAWN[name])
        held.wait(page)
        for name, frame in frames.items():
            assert not is_live(frame), name
            frame.evaluate("s => { window.__mark = document.querySelector(s); }", MARKED[name])
        paints = {name: frame.evaluate("window.__paints") for name, frame in frames.items()}
        assert paints["overview-frame"] > 0 and paints["conv-frame"] > 0
        conv = frames["conv-frame"]
        assert "conv_1_2 · channel 3" in conv.locator("#detail-title").text_content()
        # The page's own stepping runs on the prerendered numbers before Python is up.
        formula = conv.locator("#detail .formula")
        step = formula.get_attribute("data-step")
        conv.locator("#detail button", has_text="Next").first.click()
        conv.wait_for_function("s => document.querySelector('#detail .formula')"
                               ".dataset.step !== s", arg=step)
        assert frames["playground-frame"].locator("[data-testid=pg-output]").text_content() \
            == "3 × 3"
        assert not is_live(conv)
        held.release()
        for frame in frames.values():
            frame.wait_for_function(
                "Number(document.documentElement.dataset.cnnlensReady || 0) >= 1",
                timeout=180_000)
        for name, frame in frames.items():
            assert frame.evaluate("window.__mark.isConnected"), f"{name} was drawn again"
        assert {name: frame.evaluate("window.__paints") for name, frame in frames.items()} \
            == paints, "drawn again"
        files = {f: detail[f] for f in ("view", "numbers", "rasters")}
        assert conv.evaluate(SAME_BYTES, ["detail", ["conv_1_2", 3], files]) == {
            "view": True, "numbers": True, "rasters": True}
        assert frames["playground-frame"].evaluate(SAME_BYTES, [
            "playground", [5, 1, 3, 2], {"playground": playground["playground"]}]) == {
            "playground": True}
        page.close()
    finally:
        server.shutdown()
        server.server_close()
