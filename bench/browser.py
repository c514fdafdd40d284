"""What every browser benchmark shares: the local server, a fresh Chromium profile, a booted
page, "do this and wait for the overview to be redrawn", and the statistics we report.

Launching and serving come from tests/e2e/conftest.py, so the benchmarks drive Chromium
with exactly the flags and request recording the end-to-end tests use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.conftest import (
    BOOT_TIMEOUT_MS,
    CHROMIUM,
    Browser,
    load_build_script,
    wait_ready,
)

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["BOOT_TIMEOUT_MS", "ROOT", "Browser", "booted_page", "fresh_browser", "git_sha",
           "machine", "redraw_ms", "run_alone", "site", "summary", "wait_ready"]


def summary(values: list[float]) -> dict[str, float]:
    """Median, min, max and count: the form of every figure in a results file."""
    return {"n": len(values), "min": min(values), "median": statistics.median(values),
            "max": max(values)}


@contextmanager
def site() -> Iterator[str]:
    """The repository root served on 127.0.0.1; yields the page's URL."""
    server, base = load_build_script("serve").serve(ROOT, 0)
    try:
        yield base + "index.html"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def fresh_browser(playwright) -> Iterator[Browser]:
    """Chromium on a new, empty profile (nothing cached); fails if a request left 127.0.0.1."""
    with tempfile.TemporaryDirectory(prefix="cnnlens-bench-") as profile:
        browser = Browser(playwright, Path(profile))
        try:
            yield browser
        finally:
            browser.close()
        outside = browser.outside_requests()
        assert not outside, f"requests left 127.0.0.1: {outside}"


def booted_page(browser: Browser, url: str):
    """A page showing its first complete overview."""
    page = browser.context.new_page()
    page.goto(url)
    wait_ready(page, 1)
    return page


def run_alone(doc: str, measure: Callable[..., dict]) -> int:
    """A page benchmark's ``main`` when it runs alone (``python -m bench.<name> [--runs
    5]``; ``doc`` its module docstring): a fresh browser, a booted page and
    ``measure(page, runs)``'s figures printed as JSON."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with site() as url, sync_playwright() as playwright, fresh_browser(playwright) as browser:
        figures = measure(booted_page(browser, url), args.runs)
    print(json.dumps(figures, indent=2))
    return 0


# Runs `action` (a JS function body taking `arg`) and resolves with the milliseconds until
# the page has finished its next complete overview redraw (data-cnnlens-ready increments).
_REDRAW = """([action, arg]) => new Promise((resolve, reject) => {
    const html = document.documentElement;
    const before = Number(html.dataset.cnnlensReady);
    const start = performance.now();
    new MutationObserver((_, observer) => {
        if (Number(html.dataset.cnnlensReady) > before) {
            observer.disconnect();
            resolve(performance.now() - start);
        }
    }).observe(html, {attributes: true});
    try { new Function("arg", action)(arg); } catch (error) { reject(error); }
})"""


def redraw_ms(page, action: str, arg: object = None) -> float:
    return page.evaluate(_REDRAW, [action, arg])


def git_sha() -> str:
    """The commit measured; "-dirty" when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout

    sha = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return sha + ("-dirty" if git("status", "--porcelain", "--untracked-files=no").strip() else "")


def machine() -> dict[str, object]:
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "browser": f"{version.strip() or 'chromium'} (headless, --disable-gpu)",
    }
