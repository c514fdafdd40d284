"""Interactions on a booted page, each timed from the input to what it changes drawn:
image and colour-range switches (overview redrawn), hover (edges lit), opening a conv
neuron's detail view, and one step of its window animation; and the detail view's in-place
transitions, opening (click to the view drawn with every transition ended) and closing
(Escape to the panel hidden and the columns back), with the longest frame in between
(requestAnimationFrame timestamps: the budget is 50 ms, i.e. at least 20 fps).
Alone: `.venv/bin/python -m bench.interaction [--runs 10]`.
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


# Frame times of a transition are the gaps between requestAnimationFrame timestamps, counted
# from the last frame before it starts to the frame after every animation on the panel and
# the overview's columns has ended (the budget: 50 ms a frame). Shared by opening and closing.
_FRAMES = """
    const panel = document.getElementById("detail");
    const moving = () => [...document.querySelectorAll("#stage > *, #overview section.column")]
        .flatMap((e) => e.getAnimations());
    const frames = [];
    let running = true;
    let started = 0;  // frames drawn before the transition started
    const tick = (t) => { frames.push(t); if (running) requestAnimationFrame(tick); };
    const count = (start, resolve) => {
        running = false;
        const ms = performance.now() - start;
        const shown = frames.slice(Math.max(0, started - 1));
        const gaps = shown.slice(1).map((t, i) => t - shown[i]);
        resolve({ms, frames: gaps.length, longest: Math.max(0, ...gaps),
                 fps: gaps.length / ((shown.at(-1) - shown[0]) / 1000 || Infinity)});
    };
    // Two frames on, the transitions have started (or, with reduced motion, there are none).
    const settled = (then) => requestAnimationFrame(() => requestAnimationFrame(async () => {
        await Promise.all(moving().map((a) => a.finished.catch(() => null)));
        requestAnimationFrame(then);  // the transitions' last frame is drawn
    }));
    const closed = () => new Promise((resolve) => {
        const gone = () => panel.hidden && !document.querySelector(".detail-ghost");
        const wait = () => (gone() ? resolve() : requestAnimationFrame(wait));
        if (!panel.hidden) document.getElementById("detail-close").click();
        wait();
    });
"""

# Opens a tile's detail view from closed (the panel's entry transition runs only from
# hidden; the overview makes room on a wide screen): click → view drawn and every transition
# over. The wait for the worker's answer is in `ms` only, not in the frames.
_OPEN_TRANSITION = """([layer, channel]) => new Promise(async (resolve) => {""" + _FRAMES + """
    await closed();
    const before = Number(panel.dataset.opened || 0);
    new MutationObserver((_, observer) => {
        if (Number(panel.dataset.opened || 0) <= before) return;
        observer.disconnect();
        started = frames.length;
        settled(() => count(start, resolve));
    }).observe(panel, {attributes: true});
    const start = performance.now();
    requestAnimationFrame(tick);
    document.querySelector(
        `#overview canvas.tile[data-layer="${layer}"][data-channel="${channel}"]`).click();
})"""

# Closes the open view with Escape: → panel hidden, its closing card gone, columns back and
# every transition over.
_CLOSE_TRANSITION = """() => new Promise((resolve) => {""" + _FRAMES + """
    requestAnimationFrame((t0) => {
        frames.push(t0);
        started = frames.length;
        const start = performance.now();
        requestAnimationFrame(tick);
        document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape", bubbles: true}));
        settled(() => {
            const gone = () => panel.hidden && !document.querySelector(".detail-ghost");
            const wait = () => (gone() ? count(start, resolve) : requestAnimationFrame(wait));
            wait();
        });
    });
})"""


def hover(page) -> float:
    """Pointer over a conv tile → its incoming edges lit (synchronous: one frame or less)."""
    return page.evaluate(_HOVER)


def open_detail(page, channel: int) -> float:
    """Click a conv_2_1 tile → its convolution view drawn (worker round trip included)."""
    return page.evaluate(_OPEN, ["conv_2_1", channel])


def open_with_transition(page, channel: int) -> dict:
    """Click a conv_2_1 tile with the panel closed → view drawn in place and every transition
    over: `ms`, `longest` frame (ms), `frames`, `fps` over that span."""
    return page.evaluate(_OPEN_TRANSITION, ["conv_2_1", channel])


def close_with_transition(page) -> dict:
    """Escape on the open view → columns back, panel hidden, every transition over (the same
    keys as `open_with_transition`)."""
    return page.evaluate(_CLOSE_TRANSITION)


def transitions(page, runs: int) -> dict:
    """The detail view's opening and closing transitions, `runs` of each, one after the other."""
    opens, closes = [], []
    for i in range(runs):
        opens.append(open_with_transition(page, i % 10))
        closes.append(close_with_transition(page))
    return {"detail_open_drawn_with_transition_ms": summary([t["ms"] for t in opens]),
            "detail_transition_longest_frame_ms": summary([t["longest"] for t in opens]),
            "detail_transition_fps": summary([t["fps"] for t in opens]),
            "detail_close_transition_ms": summary([t["ms"] for t in closes]),
            "detail_close_transition_longest_frame_ms": summary([t["longest"] for t in closes]),
            "detail_close_transition_fps": summary([t["fps"] for t in closes])}


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
            "convolution_animation_step_ms": summary(steps),
            **transitions(page, runs)}


def main() -> int:
    """The detail view's transitions alone, on a freshly booted page at 1280 × 800."""
    import argparse
    import json

    from playwright.sync_api import sync_playwright

    from bench.browser import booted_page, fresh_browser, site

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--runs", type=int, default=10, help="openings and closings measured")
    args = parser.parse_args()
    with site() as url, sync_playwright() as playwright, fresh_browser(playwright) as browser:
        page = booted_page(browser, url)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.wait_for_timeout(200)
        print(json.dumps(transitions(page, args.runs), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
