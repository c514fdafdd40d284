"""The gradient methods in the page: the backward pass in the worker, a click → its saliency
and Grad-CAM maps drawn, activation maximisation's steps per second (one channel and a
whole layer), with the intervals between its redraws (each is one chunk of at most 100 ms
of Python plus the trip and the drawing), and network inversion's steps per second (one
layer, and every layer side by side).

Everything is measured in the page, with `performance.now()` and the panels'
`data-cnnlens-method-ready` counters, on the bundled model and the booted example.

    .venv/bin/python -m bench.methods [--runs 5]   # these and the forward pass, alone
"""

from __future__ import annotations

import sys

from bench import pyodide_forward
from bench.browser import run_alone, summary

RUN_TIMEOUT_MS = 300_000


def backward(page, repeats: int) -> list[float]:
    """Backward passes of the top class down to the input in the worker (`time_backward`)."""
    return page.evaluate("async n => Array.from(await cnnlens.python.time_backward(n))",
                         repeats)


def open_tab(page, layer: str, channel: int, tab: str) -> None:
    """Opens a tile's detail panel on the method tab `tab` (attribution, maximize, invert)."""
    page.click(f"#overview canvas.tile[data-layer='{layer}'][data-channel='{channel}']")
    page.wait_for_function("!document.querySelector('#detail').hidden")
    if page.get_attribute(f"#tab-{tab}", "aria-selected") != "true":
        page.click(f"#tab-{tab}")


# Click a tile while the attribution tab is open → its saliency and Grad-CAM cards drawn again
# (the page asks for all six maps in one request, so the other four come with them).
_ATTRIBUTION = """([layer, channel]) => new Promise((resolve) => {
    const host = document.getElementById("method-attribution-host");
    const count = (name) => Number(host.querySelector(
        `[data-testid="method-${name}"]`)?.dataset.cnnlensMethodReady || 0);
    const before = {saliency: count("saliency"), gradcam: count("gradcam")};
    const start = performance.now();
    const observer = new MutationObserver(() => {
        if (count("saliency") > before.saliency && count("gradcam") > before.gradcam) {
            observer.disconnect();
            resolve(performance.now() - start);
        }
    });
    observer.observe(host, {subtree: true, childList: true, attributes: true});
    document.querySelector(
        `#overview canvas.tile[data-layer="${layer}"][data-channel="${channel}"]`).click();
})"""


def attribution_click(page, runs: int) -> list[float]:
    open_tab(page, "conv_2_1", 0, "attribution")
    page.wait_for_selector("#method-attribution-host [data-testid='method-gradcam']")
    return [page.evaluate(_ATTRIBUTION, ["conv_2_1", (i + 1) % 10]) for i in range(runs)]


# Starts a run of `steps` steps from the panel's Steps box; resolves with the time from its
# first drawn state (step 0) to its last and the intervals between its redraws.
_MAXIMIZE = """([steps, layer]) => new Promise((resolve) => {
    const panel = document.querySelector("[data-testid='method-maximize']");
    const times = [];
    const observer = new MutationObserver(() => {
        if (Number(panel.dataset.goal) !== steps || !panel.dataset.target.startsWith(layer)) return;
        times.push(performance.now());
        if (panel.dataset.done === "true") {
            observer.disconnect();
            const gaps = times.slice(1).map((t, i) => t - times[i]);
            resolve({ms: times.at(-1) - times[0], gaps});
        }
    });
    observer.observe(panel, {attributes: true, attributeFilter: ["data-cnnlens-method-ready"]});
    const box = document.getElementById("maximize-steps");
    box.value = String(steps);
    box.dispatchEvent(new Event("change", {bubbles: true}));
})"""


def maximize_runs(page, steps: int, runs: int, layer: str) -> tuple[list[float], list[float]]:
    """Steps per second of `runs` runs (a whole-layer step counts once) and every interval
    between two redraws."""
    rates, gaps = [], []
    for i in range(runs):
        # Alternate the goal so each run is a new one (a change restarts it).
        goal = steps + i % 2
        done = page.evaluate(_MAXIMIZE, [goal, layer])
        rates.append(goal / (done["ms"] / 1000.0))
        gaps.extend(done["gaps"])
    return rates, gaps


# The same for the "What it keeps" tab: a run of `steps` steps in `mode` from its Steps box.
_INVERT = """([steps, mode]) => new Promise((resolve) => {
    const panel = document.querySelector("[data-testid='method-invert']");
    const times = [];
    const observer = new MutationObserver(() => {
        if (Number(panel.dataset.goal) !== steps || panel.dataset.mode !== mode) return;
        times.push(performance.now());
        if (panel.dataset.done === "true") {
            observer.disconnect();
            resolve({ms: times.at(-1) - times[0]});
        }
    });
    observer.observe(panel, {attributes: true, attributeFilter: ["data-cnnlens-method-ready"]});
    const box = document.getElementById("invert-steps");
    box.value = String(steps);
    box.dispatchEvent(new Event("change", {bubbles: true}));
})"""


def invert_runs(page, steps: int, runs: int, mode: str) -> list[float]:
    """Steps per second of `runs` inversion runs (in `all` mode a step of every layer's
    reconstruction counts once)."""
    page.select_option("#invert-mode", mode)
    rates = []
    for i in range(runs):
        goal = steps + i % 2  # a new goal each run, so each is a new run
        done = page.evaluate(_INVERT, [goal, mode])
        rates.append(goal / (done["ms"] / 1000.0))
    return rates


def invert(page, runs: int) -> dict:
    open_tab(page, "conv_1_2", 0, "invert")
    page.wait_for_selector("[data-testid='method-invert'][data-layer='conv_1_2']",
                           timeout=RUN_TIMEOUT_MS)
    return {
        "invert_steps_per_s": summary(invert_runs(page, 100, runs, "layer")),
        "invert_all_layers_steps_per_s": summary(invert_runs(page, 5, max(runs // 2, 3),
                                                             "all")),
    }


def measure(page, runs: int) -> dict:
    passes = backward(page, max(runs, 20))
    clicks = attribution_click(page, runs)
    open_tab(page, "conv_2_1", 3, "maximize")
    page.wait_for_selector("[data-testid='method-maximize'][data-done='true']",
                           timeout=RUN_TIMEOUT_MS)
    single, gaps = maximize_runs(page, 100, runs, "conv_2_1:3")
    page.select_option("#maximize-mode", "layer")
    layer, layer_gaps = maximize_runs(page, 10, max(runs // 2, 3), "conv_2_1:*")
    return {
        "backward_ms": summary(passes),
        "attribution_click_ms": summary(clicks),
        "maximize_steps_per_s": summary(single),
        "maximize_layer_steps_per_s": summary(layer),
        "maximize_redraw_interval_ms": summary(gaps + layer_gaps),
        **invert(page, runs),
    }


def _alone(page, runs: int) -> dict:
    figures = {"forward_ms": pyodide_forward.measure(page, 20)["figures"]["forward_ms"]}
    figures.update(measure(page, runs))
    return figures


def main() -> int:
    return run_alone(__doc__, _alone)


if __name__ == "__main__":
    sys.exit(main())
