"""Boot, forward-pass, image-switch and byte figures of the page in headless Chromium.

Usage: .venv/bin/python bench/boot.py [--runs 5] [--switches 20] [--out bench/results]
Each cold run uses a fresh profile. Figures are medians (with min and max) and are
written to bench/results/<date>-<git sha>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import BOOT_TIMEOUT_MS, Browser, _load_serve  # noqa: E402

STAGES = ("runtime", "packages", "model", "forward", "draw")
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
}).observe({type: "longtask", buffered: true});
"""


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def cold_boot(playwright, url: str) -> dict:
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(playwright, Path(profile))
        browser.context.add_init_script(LONG_TASKS)
        finished = []
        browser.context.on("requestfinished", lambda request: finished.append(request))
        page = browser.context.new_page()
        page.goto(url)
        page.wait_for_function("document.documentElement.dataset.cnnlensReady",
                               timeout=BOOT_TIMEOUT_MS)
        marks = page.evaluate(
            "Object.fromEntries(performance.getEntriesByType('mark')"
            ".filter(m => m.name.startsWith('cnnlens:')).map(m => [m.name, m.startTime]))")
        # Context-level events also see the worker's downloads (runtime, packages, model).
        resources = [(r.url, r.sizes()["responseBodySize"]) for r in finished]
        long_tasks = page.evaluate("window.__longTasks")
        outside = browser.outside_requests()
        browser.close()
    assert not outside, outside
    ready = marks["cnnlens:ready:1"]
    starts = [marks[f"cnnlens:stage:{s}"] for s in STAGES] + [ready]
    return {
        "boot_ms": ready,
        "stages_ms": {s: b - a for s, a, b in zip(STAGES, starts, starts[1:], strict=False)},
        "resources": resources,
        "long_tasks_ms": long_tasks,
    }


def bytes_downloaded(resources: list[tuple[str, int]]) -> dict[str, int]:
    """Raw bytes as served, and what gzip -9 of the same files would send."""
    raw = sum(size for _, size in resources)
    compressed = 0
    for url, _ in resources:
        path = ROOT / urlsplit(url).path.lstrip("/")
        compressed += len(gzip.compress(path.read_bytes(), 9)) if path.is_file() else 0
    return {"raw": raw, "gzip": compressed, "files": len(resources)}


def warm_page_figures(playwright, url: str, switches: int) -> dict:
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(playwright, Path(profile))
        page = browser.context.new_page()
        page.goto(url)
        page.wait_for_function("document.documentElement.dataset.cnnlensReady",
                               timeout=BOOT_TIMEOUT_MS)
        forward_ms = page.evaluate(
            "async () => Array.from(await cnnlens.python.time_forward(50))")
        files = page.eval_on_selector_all("button.example", "bs => bs.map(b => b.dataset.file)")
        switch_ms = []
        for i in range(switches):
            switch_ms.append(page.evaluate(
                """file => new Promise(resolve => {
                    const html = document.documentElement;
                    const before = Number(html.dataset.cnnlensReady);
                    const start = performance.now();
                    new MutationObserver((_, observer) => {
                        if (Number(html.dataset.cnnlensReady) > before) {
                            observer.disconnect();
                            resolve(performance.now() - start);
                        }
                    }).observe(html, {attributes: true});
                    document.querySelector(`button.example[data-file="${file}"]`).click();
                })""", files[(i + 1) % len(files)]))
        measures = page.evaluate(
            "Object.entries(Object.groupBy(performance.getEntriesByType('measure')"
            ".filter(m => m.name.startsWith('cnnlens:')), m => m.name))"
            ".map(([k, v]) => [k, v.map(m => m.duration)])")
        browser.close()
    return {"forward_ms": forward_ms, "switch_ms": switch_ms,
            "measures": dict(measures)}


def git_sha() -> str:
    """The commit measured; "-dirty" when the working tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout

    sha = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return sha + ("-dirty" if git("status", "--porcelain", "--untracked-files=no").strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    server, base = _load_serve().serve(ROOT, 0)
    url = base + "index.html"
    try:
        with sync_playwright() as playwright:
            cold = [cold_boot(playwright, url) for _ in range(args.runs)]
            warm = warm_page_figures(playwright, url, args.switches)
    finally:
        server.shutdown()

    results = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_sha(),
        "machine": {"platform": platform.platform(), "processor": platform.machine(),
                    "cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "browser": "Debian chromium, headless, --disable-gpu"},
        "cold_boot_ms": summary([c["boot_ms"] for c in cold]),
        "cold_boot_stages_ms": {s: summary([c["stages_ms"][s] for c in cold]) for s in STAGES},
        "boot_longest_task_ms": summary([max(c["long_tasks_ms"], default=0) for c in cold]),
        "first_visit_bytes": bytes_downloaded(cold[0]["resources"]),
        "forward_ms": summary(warm["forward_ms"]),
        "image_switch_ms": summary(warm["switch_ms"]),
        "image_switch_phases_ms": {k.removeprefix("cnnlens:"): summary(v)
                                   for k, v in warm["measures"].items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{dt.date.today().isoformat()}-{results['git']}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
