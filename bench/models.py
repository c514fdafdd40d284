"""Gallery nets in the page: opening one until its overview is drawn, forward passes, DOM size.

ResNet-18 opened with "Open a model…" until its overview is drawn, ResNet-18's and
MobileNetV2's forward passes in the worker (Pyodide, NumPy, 3×224×224, seeded He weights),
and how many DOM elements their overviews (and ResNet-50's) take.

    .venv/bin/python -m bench.models [--runs 3] [--no-resnet50] [--timeout 300]

Every opening is a user's: a file given to the "Open a model…" input, or an option chosen in
the model picker, timed in the page from that `change` event until `data-cnnlens-ready`
increments (the complete overview of the new net is on screen). Each cold figure gets a
fresh browser (a new profile, a just-booted page), so nothing of an earlier opening is
warm. Every wait has a deadline and fails naming its step, and the page's error banner ends
a wait at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.browser import ROOT, fresh_browser, site, summary

GALLERY = ROOT / "assets" / "models" / "gallery"
STEP_TIMEOUT_S = 300.0  # ResNet-50's opening took 175 s on a loaded 2-CPU VM

# Installs the watch for one opening, before the action that starts it: the time runs from
# the first `change` event (captured on the document, before the page's own listener) to
# the next complete overview; an error banner in between ends it with the banner's text.
# The outcome lands in `window.cnnlensBench` (read by `_wait`).
_WATCH = """() => {
    const html = document.documentElement;
    const message = document.getElementById("message");
    const before = Number(html.dataset.cnnlensReady);
    let start = null;
    window.cnnlensBench = null;
    message.hidden = true;  // an earlier failure's banner must not end this opening
    message.textContent = "";
    document.addEventListener("change", () => { start = performance.now(); },
                              {capture: true, once: true});
    const observer = new MutationObserver(() => {
        if (Number(html.dataset.cnnlensReady) > before) {
            const end = performance.now();
            const draw = performance.getEntriesByName("cnnlens:render").at(-1);
            window.cnnlensBench = {ms: end - start, draw_ms: draw.duration};
        } else if (!message.hidden && message.textContent) {
            window.cnnlensBench = {error: message.textContent};
        } else {
            return;
        }
        observer.disconnect();
    });
    observer.observe(html, {attributes: true, attributeFilter: ["data-cnnlens-ready"]});
    observer.observe(message, {attributes: true, childList: true, characterData: true,
                               subtree: true});
}"""

_PICK = """id => {
    const select = document.getElementById("model-select");
    select.value = id;
    select.dispatchEvent(new Event("change", {bubbles: true}));
}"""


class StepFailed(RuntimeError):
    """A step did not finish: the page said why, or its deadline passed."""


def _until(page, expression: str, step: str, timeout_s: float) -> dict:
    """The value of `expression` once it is truthy; `StepFailed` naming `step` when it is
    not within `timeout_s`, or when it holds an `error`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"() => {expression}", timeout=timeout_s * 1000, polling=100)
    except PlaywrightTimeout:
        raise StepFailed(f"{step}: not done within {timeout_s:.0f} s") from None
    outcome = page.evaluate(expression)
    if "error" in outcome:
        raise StepFailed(f"{step}: the page said: {outcome['error']}")
    return outcome


def _boot(browser, url: str, timeout_s: float):
    """A just-booted page of a fresh browser (its first overview drawn); `StepFailed` with
    the page's message when its boot fails, or when it is not done within `timeout_s`."""
    page = browser.context.new_page()
    page.goto(url)
    _until(page, """(() => {
        const html = document.documentElement;
        if (html.dataset.cnnlensFailed) {
            return {error: document.getElementById("boot-label").textContent};
        }
        return Number(html.dataset.cnnlensReady) >= 1 && {ready: true};
    })()""", "boot", timeout_s)
    return page


def open_file(page, path: Path, timeout_s: float) -> dict:
    """Give `path` to "Open a model…" → its complete overview: `{ms, draw_ms}` (draw_ms:
    the page's own drawing of it, the `cnnlens:render` measure)."""
    page.evaluate(_WATCH)
    page.set_input_files("#open-model", str(path))
    return _until(page, "window.cnnlensBench", f"Open a model… {path.name}", timeout_s)


def pick(page, model: str, timeout_s: float) -> dict:
    """Choose catalogue model `model` in the picker → its complete overview (as `open_file`)."""
    page.evaluate(_WATCH)
    page.evaluate(_PICK, model)
    return _until(page, "window.cnnlensBench", f"model picker → {model}", timeout_s)


def dom_nodes(page) -> dict[str, int]:
    """Elements in the overview (`#overview`) and in the whole document."""
    return page.evaluate("""() => ({
        overview: document.querySelectorAll('#overview *').length,
        page: document.querySelectorAll('*').length})""")


def forward(page, repeats: int, timeout_s: float) -> list[float]:
    """Milliseconds per forward pass of the current model in the worker (`time_forward`)."""
    page.evaluate("""n => {
        window.cnnlensForward = null;
        cnnlens.python.time_forward(n).then(
            times => { window.cnnlensForward = {times: Array.from(times)}; },
            error => { window.cnnlensForward = {error: String(error)}; });
    }""", repeats)
    step = f"time_forward({repeats})"
    return _until(page, "window.cnnlensForward", step, timeout_s)["times"]


def _sizes(figures: dict, name: str, counts: list[dict[str, int]]) -> None:
    figures[f"overview_dom_nodes_{name}"] = summary([c["overview"] for c in counts])
    figures[f"page_dom_nodes_{name}"] = summary([c["page"] for c in counts])


def _resnet18(playwright, url: str, runs: int, timeout_s: float) -> dict:
    """Cold openings through "Open a model…", a fresh browser each; the forward pass on the
    first of those pages, once its overview is drawn."""
    opened, drawn, counts, times = [], [], [], []
    for run in range(runs):
        with fresh_browser(playwright) as browser:
            page = _boot(browser, url, timeout_s)
            outcome = open_file(page, GALLERY / "resnet18.onnx", timeout_s)
            opened.append(outcome["ms"])
            drawn.append(outcome["draw_ms"])
            counts.append(dom_nodes(page))
            if run == 0:
                times = forward(page, max(runs, 3), timeout_s)
        print(f"open resnet18 #{run + 1}: {outcome['ms']:.0f} ms", file=sys.stderr)
    figures = {"open_resnet18_overview_ms": summary(opened),
               "open_resnet18_overview_draw_ms": summary(drawn),
               "forward_resnet18_224_ms": summary(times)}
    _sizes(figures, "resnet18", counts)
    return figures


def _picked(playwright, url: str, model: str, name: str, repeats: int, timeout_s: float
            ) -> dict:
    """One net opened through the picker on a fresh browser: its opening, DOM size and,
    with `repeats`, its forward pass."""
    with fresh_browser(playwright) as browser:
        page = _boot(browser, url, timeout_s)
        outcome = pick(page, model, timeout_s)
        figures = {f"open_{name}_overview_ms": summary([outcome["ms"]]),
                   f"open_{name}_overview_draw_ms": summary([outcome["draw_ms"]])}
        _sizes(figures, name, [dom_nodes(page)])
        if repeats:
            figures[f"forward_{name}_224_ms"] = summary(forward(page, repeats, timeout_s))
    print(f"open {name}: {outcome['ms']:.0f} ms", file=sys.stderr)
    return figures


def measure(playwright, url: str, runs: int, resnet50: bool = True,
            timeout_s: float = STEP_TIMEOUT_S) -> dict:
    """Every figure of this module; a net whose step fails is left out and its failure
    named under `failures`, the others still measured."""
    figures: dict = {}
    failures: dict[str, str] = {}
    steps = [("resnet18", lambda: _resnet18(playwright, url, runs, timeout_s)),
             ("mobilenetv2", lambda: _picked(playwright, url, "mobilenet_v2", "mobilenetv2",
                                             max(runs, 3), timeout_s))]
    if resnet50:
        steps.append(("resnet50", lambda: _picked(playwright, url, "resnet50", "resnet50", 0,
                                                  timeout_s)))
    for name, step in steps:
        try:
            figures.update(step())
        except StepFailed as error:
            failures[name] = str(error)
            print(f"FAILED {error}", file=sys.stderr)
    return {"figures": figures, "failures": failures}


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3,
                        help="cold openings of ResNet-18 (a fresh browser each) and forward "
                             "passes per net")
    parser.add_argument("--no-resnet50", action="store_true",
                        help="skip ResNet-50 (its opening takes minutes on a small machine)")
    parser.add_argument("--timeout", type=float, default=STEP_TIMEOUT_S,
                        help="seconds each step may take before it fails (default %(default)s)")
    args = parser.parse_args()
    with site() as url, sync_playwright() as playwright:
        results = measure(playwright, url, args.runs, not args.no_resnet50, args.timeout)
    print(json.dumps(results, indent=2))
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
