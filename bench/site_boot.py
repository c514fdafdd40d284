#!/usr/bin/env python3
"""Boot time of the built site in headless Chromium: cold, and warm from the service worker.

    .venv/bin/python -m bench.site_boot [--runs 5]

Builds the site into a temporary folder, serves it from a sub-path with the standard
library's http.server (no cache headers, so a cold visit downloads everything), and
measures time from navigation start to the first complete overview (`cnnlens:ready:1`), and
to the prerendered overview drawn before Python starts (`cnnlens:painted`):
- cold: a fresh browser profile per run;
- warm: one profile, precached by a first visit, then reloads answered by the service
  worker, online and with the network off.
Prints medians (and min/max).
Needs the dev environment (Playwright) and Debian's chromium, unlike site.py.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, load_build_script

SUB_PATH = "courses/ml/cnn/"
TIMEOUT_MS = 180_000
READY = "performance.getEntriesByName('cnnlens:ready:1')[0].startTime"
PAINTED = "performance.getEntriesByName('cnnlens:painted')[0]?.startTime ?? null"




class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(docroot: Path, handler: type[SimpleHTTPRequestHandler] = Quiet,
          path: str = SUB_PATH) -> tuple[ThreadingHTTPServer, str]:
    """`docroot` on a free 127.0.0.1 port, in a daemon thread; the server and the URL of
    `path` on it (a sub-path by default: the site as a course page hosts it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(handler, directory=str(docroot)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/{path}"


def context(playwright, profile: Path):
    # No request routing here: Playwright's routing turns the HTTP cache off and adds a
    # round trip per request, which would distort the figures. Everything is on 127.0.0.1.
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 800})


def boot_ms(page, painted: list[float] | None = None) -> float:
    """Navigation → full overview; navigation → prerendered paint appended to `painted`."""
    page.wait_for_function("document.documentElement.dataset.cnnlensReady",
                           timeout=TIMEOUT_MS)
    paint = page.evaluate(PAINTED)
    if painted is not None and paint is not None:
        painted.append(float(paint))
    return float(page.evaluate(READY))


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"median {statistics.median(values):7.0f} ms  "
            f"(min {min(values):.0f}, max {max(values):.0f}, n={len(values)})")


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        docroot = Path(tmp) / "docroot"
        site = load_build_script("site").build_site(docroot / SUB_PATH.rstrip("/"))
        server, url = serve(docroot)
        cold: list[float] = []
        warm: list[float] = []
        warm_offline: list[float] = []
        painted: dict[str, list[float]] = {"cold": [], "warm": [], "offline": []}
        with sync_playwright() as playwright:
            for run in range(args.runs):
                ctx = context(playwright, Path(tmp) / f"cold-{run}")
                page = ctx.new_page()
                page.goto(url)
                cold.append(boot_ms(page, painted["cold"]))
                ctx.close()
            ctx = context(playwright, Path(tmp) / "warm")
            page = ctx.new_page()
            page.goto(url)
            boot_ms(page)
            page.wait_for_selector(
                f"[data-testid=offline-ready][data-version='{site.version}']",
                state="attached", timeout=TIMEOUT_MS)
            for samples, offline in ((warm, False), (warm_offline, True)):
                ctx.set_offline(offline)
                for _ in range(args.runs):
                    page.reload()
                    samples.append(boot_ms(page, painted["offline" if offline else "warm"]))
                    assert page.evaluate("Boolean(navigator.serviceWorker.controller)")
            ctx.close()
        server.shutdown()
    print(f"site {site.version}, {len(site.files)} files, served by http.server from /{SUB_PATH}")
    print(f"cold (fresh profile, from the network):  {summary(cold)}")
    print(f"  first painted overview:                {summary(painted['cold'])}")
    print(f"warm (service worker cache, online):     {summary(warm)}")
    print(f"  first painted overview:                {summary(painted['warm'])}")
    print(f"warm (service worker cache, offline):    {summary(warm_offline)}")
    print(f"  first painted overview:                {summary(painted['offline'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
