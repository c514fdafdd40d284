"""Cold and warm boot: navigation start → first complete overview, by stage, and → the
prerendered overview drawn before Python starts (`cnnlens:painted`, assets/prerendered/).

    .venv/bin/python -m bench.boot [--runs 5]

Cold: a fresh profile per run, so everything is downloaded and compiled. Warm: one profile
reloaded, so the HTTP cache is filled (build/serve.py sends `Cache-Control: no-cache`, so
each file is revalidated with a 304; a service worker will replace that later). Cold runs
also give the first-visit bytes and the main thread's longest task while booting.
"""

from __future__ import annotations

import gzip
from urllib.parse import urlsplit

from bench.browser import ROOT, fresh_browser, summary, wait_ready
from bench.memory import snapshot

# "page" is navigation start → the app's first mark (HTML, CSS, our JS, PyScript's JS).
STAGES = ("page", "runtime", "packages", "model", "forward", "draw")
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
}).observe({type: "longtask", buffered: true});
"""
MARKS = ("Object.fromEntries(performance.getEntriesByType('mark')"
         ".filter(m => m.name.startsWith('cnnlens:')).map(m => [m.name, m.startTime]))")


def _painted(page) -> float | None:
    """Navigation start → the prerendered overview drawn; None when none was drawn."""
    return page.evaluate(MARKS).get("cnnlens:painted")


def _stages(page) -> tuple[float, dict[str, float]]:
    """Boot time and the time spent in each stage, from the page's performance marks."""
    marks = page.evaluate(MARKS)
    ready = marks["cnnlens:ready:1"]
    starts = [0.0] + [marks[f"cnnlens:stage:{s}"] for s in STAGES[1:]] + [ready]
    stages = {s: b - a for s, a, b in zip(STAGES, starts, starts[1:], strict=False)}
    # The page marks "draw" only once the first overview is drawn, so the drawing itself
    # (the first cnnlens:render measure) is moved from "forward" to "draw".
    render = page.evaluate("performance.getEntriesByName('cnnlens:render')[0].duration")
    stages["forward"] -= render
    stages["draw"] += render
    return ready, stages


def _body(request) -> int:
    """Response body bytes sent over the network; Chromium reports -1 for cache hits."""
    return max(request.sizes()["responseBodySize"], 0)


def _bytes(resources: list[tuple[str, int]]) -> dict[str, int]:
    """Bytes as served, and what gzip -9 of the same files would send."""
    compressed = 0
    for url, _ in resources:
        path = ROOT / urlsplit(url).path.lstrip("/")
        compressed += len(gzip.compress(path.read_bytes(), 9)) if path.is_file() else 0
    return {"raw": sum(size for _, size in resources), "gzip": compressed,
            "files": len(resources)}


def cold_run(playwright, url: str) -> dict:
    with fresh_browser(playwright) as browser:
        browser.context.add_init_script(LONG_TASKS)
        finished = []
        # Context-level events also see the worker's downloads (runtime, packages, model).
        browser.context.on("requestfinished", lambda request: finished.append(request))
        page = browser.context.new_page()
        page.goto(url)
        wait_ready(page, 1)
        boot_ms, stages = _stages(page)
        return {
            "boot_ms": boot_ms,
            "painted_ms": _painted(page),
            "stages_ms": stages,
            "longest_task_ms": max(page.evaluate("window.__longTasks"), default=0.0),
            "bytes": _bytes([(r.url, _body(r)) for r in finished]),
            "memory": snapshot(page),
        }


def warm_runs(playwright, url: str, runs: int) -> list[dict]:
    """One visit to fill the cache, then `runs` measured reloads of the same profile."""
    with fresh_browser(playwright) as browser:
        # Playwright turns the HTTP cache off while any route is set, so the abort-outside
        # route goes; every request is still recorded and fresh_browser fails on outside ones.
        browser.context.unroute_all()
        page = browser.context.new_page()
        page.goto(url)
        wait_ready(page, 1)
        results, finished = [], []
        browser.context.on("requestfinished", lambda request: finished.append(request))
        for _ in range(runs):
            finished.clear()
            page.reload()
            wait_ready(page, 1)
            boot_ms, stages = _stages(page)
            transferred = sum(_body(r) for r in finished)
            results.append({"boot_ms": boot_ms, "painted_ms": _painted(page), "stages_ms": stages,
                            "bytes": transferred})
        return results


def measure(playwright, url: str, runs: int) -> dict:
    cold = [cold_run(playwright, url) for _ in range(runs)]
    warm = warm_runs(playwright, url, runs)
    first_visit = cold[0]["bytes"]
    painted = {kind: [r["painted_ms"] for r in runs if r["painted_ms"] is not None]
               for kind, runs in (("cold", cold), ("warm", warm))}
    return {
        "figures": {
            "cold_boot_ms": summary([c["boot_ms"] for c in cold]),
            "warm_boot_ms": summary([w["boot_ms"] for w in warm]),
            # Only where the page drew a prerendered overview (absent before it could).
            **{f"{kind}_first_paint_ms": summary(values)
               for kind, values in painted.items() if values},
            "boot_longest_main_thread_task_ms": summary([c["longest_task_ms"] for c in cold]),
            "warm_boot_bytes": summary([w["bytes"] for w in warm]),
            "js_heap_after_boot_bytes": summary([c["memory"]["js_heap_bytes"] for c in cold]),
            "wasm_memory_after_boot_bytes": summary(
                [c["memory"]["wasm_bytes"] for c in cold]),
        },
        "cold_boot_stages_ms": {s: summary([c["stages_ms"][s] for c in cold]) for s in STAGES},
        "warm_boot_stages_ms": {s: summary([w["stages_ms"][s] for w in warm]) for s in STAGES},
        "first_visit_bytes": first_visit,
    }


if __name__ == "__main__":  # python -m bench.boot: boot figures alone
    import argparse
    import json

    from playwright.sync_api import sync_playwright

    from bench.browser import site

    parser = argparse.ArgumentParser(description="Cold and warm boot of the repository root, "
                                     "in headless Chromium: first paint and full overview.")
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind (default 5)")
    args = parser.parse_args()
    with site() as url, sync_playwright() as playwright:
        results = measure(playwright, url, args.runs)
    print(json.dumps(results, indent=2))
    for kind in ("cold", "warm"):
        figures = results["figures"]
        paint = figures.get(f"{kind}_first_paint_ms", {}).get("median")
        full = figures[f"{kind}_boot_ms"]["median"]
        shown = f"{paint:,.0f} ms" if paint is not None else "none (no prerendered paint)"
        print(f"{kind}: navigation → first painted overview {shown}; "
              f"→ full live overview {full:,.0f} ms (medians of {args.runs})")
