"""Gallery nets in the page: open one through the model picker, its forward pass in the
worker (Pyodide, NumPy, 3×224×224, seeded He weights) and the size of its overview's DOM.

    .venv/bin/python -m bench.models [--runs 3] [--no-resnet50]

Each opening goes through the picker exactly as a user's does (choose the option, its
`change` event → `open_model` → the overview drawn), timed until `data-cnnlens-ready`
increments: the complete overview of the new net is on screen.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.browser import booted_page, fresh_browser, site, summary

# Catalogue ids (assets/models/index.json) and the names of their figures.
TIMED = (("resnet18", "resnet18"), ("mobilenet_v2", "mobilenetv2"))
LARGE = ("resnet50", "resnet50")  # only its overview's DOM size: opening takes 10–15 s
BACK = "fashion-mnist"  # switched to between openings, so each one opens a net anew

# Resolves with the ms until the next complete overview, or rejects with the page's error
# banner when the opening fails (the page then never redraws: waiting would hang).
_OPEN = """model => new Promise((resolve, reject) => {
    const html = document.documentElement;
    const message = document.getElementById("message");
    const before = Number(html.dataset.cnnlensReady);
    const start = performance.now();
    message.hidden = true;  // an earlier failure's banner must not end this opening
    message.textContent = "";
    const select = document.getElementById("model-select");
    select.value = model;
    new MutationObserver((_, observer) => {
        if (Number(html.dataset.cnnlensReady) > before) {
            observer.disconnect();
            resolve(performance.now() - start);
        } else if (!message.hidden && message.textContent) {
            observer.disconnect();
            reject(new Error(message.textContent));
        }
    }).observe(html, {attributes: true, childList: true, subtree: true, characterData: true});
    select.dispatchEvent(new Event("change"));
})"""


class OpenFailed(RuntimeError):
    """The page said why it could not open a model."""


def open_ms(page, model: str) -> float:
    """Choose `model` in the picker → its complete overview drawn, in ms."""
    try:
        return page.evaluate(_OPEN, model)
    except Exception as error:  # Playwright's Error: the page's banner text
        raise OpenFailed(f"{model}: {error}") from error


def open_in_worker(page, model: str) -> None:
    """Open `model` in the worker only (nothing drawn), for timing its forward pass."""
    page.evaluate("async id => { await cnnlens.client.ask('open_model', id); }", model)


def dom_nodes(page) -> int:
    """Elements in the whole document (the overview is most of them for a big net)."""
    return page.evaluate("document.querySelectorAll('*').length")


def forward(page, repeats: int) -> list[float]:
    """Milliseconds per forward pass of the current model in the worker (`time_forward`)."""
    return page.evaluate("async n => Array.from(await cnnlens.python.time_forward(n))", repeats)


def measure(page, runs: int, resnet50: bool = True) -> dict:
    """Every figure of this module on one booted page (it ends showing a gallery net)."""
    figures: dict = {}
    failures: dict[str, str] = {}
    for model, name in TIMED:
        # The forward pass first, through the worker alone: it does not need the overview.
        open_in_worker(page, model)
        figures[f"forward_{name}_224_ms"] = summary(forward(page, runs))
        print(f"forward {name}: {figures[f'forward_{name}_224_ms']}", file=sys.stderr)
        open_ms(page, BACK)
        try:
            opened = []
            for run in range(runs if model == "resnet18" else 1):
                if run:
                    open_ms(page, BACK)
                opened.append(open_ms(page, model))
        except OpenFailed as error:
            failures[name] = str(error)
            continue
        if model == "resnet18":
            figures["open_resnet18_overview_ms"] = summary(opened)
        figures[f"overview_dom_nodes_{name}"] = summary([dom_nodes(page)])
    if resnet50:
        model, name = LARGE
        try:
            figures[f"open_{name}_overview_ms"] = summary([open_ms(page, model)])
            figures[f"overview_dom_nodes_{name}"] = summary([dom_nodes(page)])
        except OpenFailed as error:
            failures[name] = str(error)
    return {"figures": figures, "failures": failures}


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="openings and forward passes")
    parser.add_argument("--no-resnet50", action="store_true")
    args = parser.parse_args()
    with site() as url, sync_playwright() as playwright, fresh_browser(playwright) as browser:
        results = measure(booted_page(browser, url), args.runs, not args.no_resnet50)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
