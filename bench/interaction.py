"""Interactions on a booted page, each timed from the input to what it changes drawn:
image and colour-range switches (overview redrawn), hover (edges lit), opening a conv
neuron's detail view, and one step of its window animation.
"""

from __future__ import annotations

from bench.browser import redraw_ms, summary

RANGE_MODES = ("neuron", "network", "layer")  # cycled, so every switch changes the colours


def example_files(page) -> list[str]:
    return page.eval_on_selector_all("button.example", "bs => bs.map(b => b.dataset.file)")


def switch_image(page, file: str) -> float:
    """Click an example → overview redrawn."""
    return redraw_ms(page, "document.querySelector(`button.example[data-file=\"${arg}\"]`)"
                           ".click()", file)


def switch_range(page, mode: str) -> float:
    """Choose a colour range in the select → overview redrawn."""
    return redraw_ms(page, """const select = document.getElementById("range-mode");
        select.value = arg; select.dispatchEvent(new Event("change"));""", mode)


_HOVER = """() => {
    const tile = document.querySelector("#overview canvas.tile[data-layer='conv_2_1']");
    const start = performance.now();
    tile.dispatchEvent(new PointerEvent("pointerover", {bubbles: true}));
    const lit = document.querySelectorAll("svg.edges path.lit").length;
    if (!lit) throw new Error("hover lit no edge");
    return performance.now() - start;
}"""

_OPEN = """([layer, channel]) => new Promise((resolve) => {
    const panel = document.getElementById("detail");
    const before = Number(panel.dataset.opened || 0);
    const start = performance.now();
    new MutationObserver((_, observer) => {
        if (Number(panel.dataset.opened || 0) > before) {
            observer.disconnect();
            resolve(performance.now() - start);
        }
    }).observe(panel, {attributes: true});
    document.querySelector(
        `#overview canvas.tile[data-layer="${layer}"][data-channel="${channel}"]`).click();
})"""

_STEP = """() => {
    const start = performance.now();
    document.querySelector("#detail .formula button.next").click();
    return performance.now() - start;
}"""


def hover(page) -> float:
    """Pointer over a conv tile → its incoming edges lit (synchronous: one frame or less)."""
    return page.evaluate(_HOVER)


def open_detail(page, channel: int) -> float:
    """Click a conv_2_1 tile → its convolution view drawn (worker round trip included)."""
    return page.evaluate(_OPEN, ["conv_2_1", channel])


def measure(page, runs: int) -> dict:
    files = example_files(page)
    images = [switch_image(page, files[(i + 1) % len(files)]) for i in range(runs)]
    ranges = [switch_range(page, RANGE_MODES[i % len(RANGE_MODES)]) for i in range(runs)]
    # The page's own measure of the JS drawing alone, over every redraw so far.
    render = page.evaluate("performance.getEntriesByName('cnnlens:render').map(m => m.duration)")
    hovers = [hover(page) for _ in range(runs)]
    opens = [open_detail(page, i % 10) for i in range(runs)]
    steps = [page.evaluate(_STEP) for _ in range(runs)]
    return {"image_switch_ms": summary(images), "range_switch_ms": summary(ranges),
            "overview_render_ms": summary(render), "hover_edges_ms": summary(hovers),
            "detail_view_open_ms": summary(opens),
            "convolution_animation_step_ms": summary(steps)}
