"""Interactions on a booted page, each timed from the input to what it changes drawn:
image and colour-range switches (overview redrawn), hover (edges lit), opening a conv
neuron's detail view, and one step of its window animation; and the detail panel's opening
transition: click to the panel fully drawn with the transition ended, and the longest frame
in between (requestAnimationFrame timestamps: the budget is 50 ms, i.e. at least 20 fps).
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


# Closes the panel, then opens a tile's detail view from hidden (the panel's @starting-style
# transition runs only from hidden) and counts frames until every animation on the panel is
# over. Frame times are the gaps between requestAnimationFrame timestamps from the panel's
# opening on (the frame that lays the new view out is the transition's first); the wait for
# the worker's answer before it is in `ms` only.
_TRANSITION = """([layer, channel]) => new Promise((resolve) => {
    const panel = document.getElementById("detail");
    if (!panel.hidden) document.getElementById("detail-close").click();
    const before = Number(panel.dataset.opened || 0);
    const frames = [];
    let running = true;
    let opened = 0;  // frames drawn before the panel opened
    const tick = (t) => { frames.push(t); if (running) requestAnimationFrame(tick); };
    const finish = () => {
        running = false;
        const ms = performance.now() - start;
        // From the last frame before the panel opened: the frame that draws the view is in.
        const shown = frames.slice(Math.max(0, opened - 1));
        const gaps = shown.slice(1).map((t, i) => t - shown[i]);
        resolve({ms, frames: gaps.length, longest: Math.max(0, ...gaps),
                 fps: gaps.length / ((shown.at(-1) - shown[0]) / 1000 || Infinity)});
    };
    new MutationObserver((_, observer) => {
        if (Number(panel.dataset.opened || 0) <= before) return;
        observer.disconnect();
        opened = frames.length;
        // Two frames on, the transition has started (or, with reduced motion, there is none).
        requestAnimationFrame(() => requestAnimationFrame(async () => {
            await Promise.all(panel.getAnimations().map((a) => a.finished.catch(() => null)));
            requestAnimationFrame(finish);  // the transition's last frame is drawn
        }));
    }).observe(panel, {attributes: true});
    const start = performance.now();
    requestAnimationFrame(tick);
    document.querySelector(
        `#overview canvas.tile[data-layer="${layer}"][data-channel="${channel}"]`).click();
})"""


def hover(page) -> float:
    """Pointer over a conv tile → its incoming edges lit (synchronous: one frame or less)."""
    return page.evaluate(_HOVER)


def open_detail(page, channel: int) -> float:
    """Click a conv_2_1 tile → its convolution view drawn (worker round trip included)."""
    return page.evaluate(_OPEN, ["conv_2_1", channel])


def open_with_transition(page, channel: int) -> dict:
    """Click a conv_2_1 tile with the panel closed → view drawn and transition over:
    `ms`, `longest` frame (ms), `frames`, `fps` over that span."""
    return page.evaluate(_TRANSITION, ["conv_2_1", channel])


def measure(page, runs: int) -> dict:
    files = example_files(page)
    images = [switch_image(page, files[(i + 1) % len(files)]) for i in range(runs)]
    ranges = [switch_range(page, RANGE_MODES[i % len(RANGE_MODES)]) for i in range(runs)]
    # The page's own measure of the JS drawing alone, over every redraw so far.
    render = page.evaluate("performance.getEntriesByName('cnnlens:render').map(m => m.duration)")
    hovers = [hover(page) for _ in range(runs)]
    opens = [open_detail(page, i % 10) for i in range(runs)]
    steps = [page.evaluate(_STEP) for _ in range(runs)]
    transitions = [open_with_transition(page, i % 10) for i in range(runs)]
    return {"image_switch_ms": summary(images), "range_switch_ms": summary(ranges),
            "overview_render_ms": summary(render), "hover_edges_ms": summary(hovers),
            "detail_view_open_ms": summary(opens),
            "convolution_animation_step_ms": summary(steps),
            "detail_open_drawn_with_transition_ms": summary([t["ms"] for t in transitions]),
            "detail_transition_longest_frame_ms": summary([t["longest"] for t in transitions]),
            "detail_transition_fps": summary([t["fps"] for t in transitions])}
