"""bench/webgpu.html headless: per-layer and total forward times, NumPy vs WebGPU.

    .venv/bin/python -m bench.webgpu [--models fashion-mnist,resnet18,vgg16] [--repeats 5]
                                     [--timeout 1800] [--json FILE]

The page itself does the measuring (cnnlens's worker, its `time_backend` request on each
backend), so a browser with a real GPU gets the same table by opening it; this opens it in
the benchmarks' headless Chromium with `--enable-unsafe-webgpu`, waits for its JSON
(`[data-testid="webgpu-results"]`, `data-state="done"`) and turns the whole-pass times into
figures. Without a GPU that adapter is SwiftShader, on the CPU: its figures check that the
path runs, they say nothing of a GPU's speed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from bench.browser import Browser, site, summary

MODELS = ("fashion-mnist", "resnet18", "vgg16")
TIMEOUT_S = 1800.0


def figure_key(model: str) -> str:
    """A catalogue id as the `<net>` of a figure name: letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", model.lower())


def run_page(playwright, url: str, models: list[str], repeats: int, timeout_s: float) -> dict:
    """The page's JSON, on a fresh profile with WebGPU enabled."""
    with tempfile.TemporaryDirectory(prefix="cnnlens-webgpu-") as profile:
        browser = Browser(playwright, Path(profile), webgpu=True)
        try:
            page = browser.context.new_page()
            page.goto(f"{url}bench/webgpu.html?models={','.join(models)}&repeats={repeats}")
            page.wait_for_function(
                "document.querySelector('[data-testid=webgpu-results]').dataset.state === 'done'",
                timeout=timeout_s * 1000)
            results = json.loads(page.text_content("[data-testid=webgpu-results]") or "{}")
        finally:
            browser.close()
        outside = browser.outside_requests()
        assert not outside, f"requests left 127.0.0.1: {outside}"
    return results


def figures(results: dict) -> dict:
    """`forward_<net>_numpy_ms` and `forward_<net>_webgpu_ms` from each model's passes."""
    out = {}
    for model, result in results.get("models", {}).items():
        for backend in ("numpy", "webgpu"):
            totals = (result.get(backend) or {}).get("total_ms")
            if totals:
                out[f"forward_{figure_key(model)}_{backend}_ms"] = summary(totals)
    return out


def measure(playwright, url: str, repeats: int, models: list[str] | None = None,
            timeout_s: float = TIMEOUT_S) -> dict:
    """`{figures, webgpu}`: the figures and the page's whole JSON (per-layer rows, notes)."""
    results = run_page(playwright, url, list(models or MODELS), repeats, timeout_s)
    return {"figures": figures(results), "webgpu": results}


def table(results: dict) -> str:
    lines = ["| model | ran on | NumPy ms | WebGPU ms | note |", "|---|---|---|---|---|"]
    for model, result in results.get("models", {}).items():
        if result.get("error"):
            lines.append(f"| {model} | — | — | — | {result['error']} |")
            continue
        numpy, webgpu = result.get("numpy") or {}, result.get("webgpu") or {}
        note = "; ".join(str(s.get(k)) for s in (numpy, webgpu)
                         for k in ("pending", "error", "note") if s.get(k))
        cell = lambda side: f"{side['total_median_ms']:.1f}" if side.get("total_median_ms") else "—"  # noqa: E731
        lines.append(f"| {model} | {webgpu.get('ran', '—')} | {cell(numpy)} | {cell(webgpu)} "
                     f"| {note} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds for the page")
    parser.add_argument("--json", type=Path, help="also write the page's JSON here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with site() as index, sync_playwright() as playwright:
        url = index.removesuffix("index.html")
        measured = measure(playwright, url, args.repeats, args.models.split(","), args.timeout)
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2) + "\n")
    print(table(measured["webgpu"]))
    print(json.dumps(measured["figures"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
