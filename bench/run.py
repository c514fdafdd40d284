"""`make bench`: every benchmark, one results file, one HTML report.

    .venv/bin/python -m bench.run [--runs 5] [--switches 50] [--no-browser] [--no-engine]
                                  [--no-resnet50] [--no-webgpu]

Writes bench/results/<date>-<git sha>[-dirty].json and bench/report.html (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from bench import (
    boot,
    dissect,
    embed,
    engine,
    interaction,
    memory,
    methods,
    models,
    pyodide_forward,
    report,
    side_by_side,
    webgpu,
)
from bench.browser import ROOT, booted_page, fresh_browser, git_sha, machine, site, summary

RESULTS = ROOT / "bench" / "results"
NOT_MEASURED: dict[str, str] = {}


def browser_figures(runs: int, switches: int, resnet50: bool, gpu: bool) -> dict:
    from playwright.sync_api import sync_playwright

    with site() as url, sync_playwright() as playwright:
        results = boot.measure(playwright, url, runs)
        # Our site built as `make site` builds it, and CNN Explainer's, each on its own server.
        results["side_by_side"] = side_by_side.measure(playwright, runs)
        results["figures"].update(embed.measure(playwright, runs))
        with fresh_browser(playwright) as browser:
            page = booted_page(browser, url)
            forward = pyodide_forward.measure(page, max(runs, 20))
            results["figures"].update(forward.pop("figures"))
            results.update(forward)
            results["figures"].update(interaction.measure(page, max(runs, 20)))
            results["figures"].update(methods.measure(page, runs))
            results["figures"].update(dissect.measure(page, runs))
            # A page of its own, so the leak check starts from a just-booted state.
            leak = memory.growth(booted_page(browser, url), switches)
        # Gallery nets, each in browsers of its own: a stuck or failed step is named in
        # gallery_failures and the other figures are still written.
        gallery = models.measure(playwright, url, runs, resnet50)
        results["figures"].update(gallery["figures"])
        results["gallery_failures"] = gallery["failures"]
        if gpu:
            # NumPy vs WebGPU in the worker, from bench/webgpu.html (SwiftShader without a
            # GPU: minutes for ResNet-18 on a small machine).
            measured = webgpu.measure(playwright, url.removesuffix("index.html"), runs)
            results["figures"].update(measured["figures"])
            results["webgpu"] = measured["webgpu"]
    results["memory"] = {"switches": switches, **leak}
    results["figures"]["js_heap_growth_bytes"] = summary(
        [leak["after"]["js_heap_bytes"] - leak["before"]["js_heap_bytes"]])
    results["figures"]["wasm_memory_growth_bytes"] = summary(
        [leak["after"]["wasm_bytes"] - leak["before"]["wasm_bytes"]])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (at least 5)")
    parser.add_argument("--switches", type=int, default=50, help="image switches for memory")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-engine", action="store_true")
    parser.add_argument("--no-resnet50", action="store_true",
                        help="skip opening ResNet-50 (minutes on a small machine)")
    parser.add_argument("--no-webgpu", action="store_true",
                        help="skip bench/webgpu.html (NumPy vs WebGPU in the worker)")
    args = parser.parse_args()

    sha = git_sha()  # before anything runs: the tree measured, not the one after
    results: dict = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                     "git": sha, "machine": machine(), "figures": {},
                     "not_measured": NOT_MEASURED}
    if not args.no_browser:
        browser = browser_figures(args.runs, args.switches, not args.no_resnet50,
                                  not args.no_webgpu)
        results["figures"].update(browser.pop("figures"))
        results.update(browser)
    if not args.no_engine:
        results["figures"].update(engine.measure(max(args.runs, 7))["figures"])

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{dt.date.today().isoformat()}-{sha}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(report.table(results))
    if "side_by_side" in results:
        print(report.side_by_side_table(results))
    print(f"wrote {path.relative_to(ROOT)} and {report.write(results).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
