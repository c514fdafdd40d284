"""Real headless Chromium (Debian's) against the page served from 127.0.0.1.

Every request the browser makes is recorded; a test fails if any goes beyond
127.0.0.1, and such requests are aborted so nothing actually leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.paths import ROOT, load_build_script

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BOOT_TIMEOUT_MS = 180_000
ARTIFACTS = ROOT / "tests" / "artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL of the repository root served on 127.0.0.1 (a free port)."""
    if not (ROOT / "build" / "vendor" / "pyodide" / "pyodide.mjs").exists():
        pytest.fail("the vendored runtime is missing: run `make vendor` (make test does it)")
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: run `make test` as root, "
                    "or apt-get install chromium")
    server, url = load_build_script("serve").serve(ROOT, 0)
    yield url
    server.shutdown()


NOT_LOCAL = re.compile(r"^(?!(?:https?://127\.0\.0\.1[:/]|data:|blob:|about:|chrome-extension:))")


def is_local(url: str) -> bool:
    """True for requests that stay on this machine (or never touch the network)."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about", "chrome-extension"}:
        return True
    return parts.hostname == "127.0.0.1"


# The archives a visit fetches only when something imports one of their modules
# (build/shipped_runtime.py's ON_DEMAND: the stdlib's modules the page never imports,
# NumPy's parts that none of its features imports): a module whose page fetched one without
# saying so (`FETCHES_LATER_MODULES = True`) fails, so every browser test checks that what
# it does needs none of them.
LATER_STDLIB = "/python_stdlib_later.zip"
ON_DEMAND = tuple("/" + path.rpartition("/")[2]
                  for path in sorted(load_build_script("shipped_runtime").ON_DEMAND))


class Browser:
    """One fresh Chromium profile with every request recorded."""

    def __init__(self, playwright, profile: Path, webgpu: bool = False) -> None:
        args = CHROMIUM_ARGS + (["--enable-unsafe-webgpu"] if webgpu else [])
        self.context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=args,
            viewport={"width": 1280, "height": 800},
        )
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        # A pattern, not a Python predicate: the driver matches it without a round trip to
        # Python per request (which slowed service-worker precaching enough to race).
        self.context.route(NOT_LOCAL, lambda route: route.abort())

    def outside_requests(self) -> list[str]:
        return [url for url in self.requests if not is_local(url)]

    def close(self) -> None:
        self.context.close()

    def check(self, module: object) -> None:
        """Fails on any request beyond 127.0.0.1 and, unless the test `module` says it
        fetches them, on the archives fetched on demand."""
        assert self.outside_requests() == [], "requests left 127.0.0.1"
        if not getattr(module, "FETCHES_LATER_MODULES", False):
            wanted = [url.partition("?for=")[2] for url in self.requests
                      if any(f"{archive}?" in url for archive in ON_DEMAND)]
            assert not wanted, (f"the page imported {wanted} from an archive fetched on demand: "
                                "take it out of build/compile_stdlib.py's LATER or make its "
                                "part in build/compile_wheels.py precached")


@pytest.fixture(scope="module")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance, tmp_path_factory, request) -> Iterator[Browser]:
    b = Browser(playwright_instance, tmp_path_factory.mktemp("profile"))
    yield b
    b.close()
    b.check(request.module)


REDRAW_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def page(browser, site):
    """The app after boot: first overview drawn and every request handler connected. Its
    console messages are kept in `page.console` (a CSP violation is one)."""
    page = browser.context.new_page()
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    page.goto(site + "index.html")
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    return page


def wait_ready(page, count: int) -> None:
    """Waits until the overview has been completely drawn `count` times (the first is the boot)."""
    page.wait_for_function(
        "n => Number(document.documentElement.dataset.cnnlensReady || 0) >= n",
        arg=count, timeout=BOOT_TIMEOUT_MS if count <= 1 else REDRAW_TIMEOUT_MS,
    )


def ready(page) -> int:
    """How many times the overview has been completely drawn."""
    return int(page.evaluate("Number(document.documentElement.dataset.cnnlensReady)"))


def wait_live_code(page) -> None:
    """Waits until the live code panel's cells can be edited and run."""
    page.wait_for_function("document.querySelector('#live-code').dataset.state === 'ready'")
    page.wait_for_selector("[data-testid='code-relu'] .cm-content")


def type_code(page, cell: str, text: str) -> None:
    """Replaces a live code cell's text as a reader does: focus, select all, type."""
    page.click(f"[data-testid='code-{cell}'] .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def run_and_wait(page) -> None:
    """Runs the live code and waits for the overview it redraws."""
    drawn = ready(page)
    page.click("[data-testid='code-run']")
    wait_ready(page, drawn + 1)


# Whether the page gets an animation frame within two seconds, and whether it is visible.
FRAMES = """() => new Promise((resolve) => {
    const late = setTimeout(() => resolve({frames: false, visibility: document.visibilityState}),
                            2000);
    requestAnimationFrame(() => { clearTimeout(late); resolve({frames: true}); });
})"""
CLICK_TIMEOUT_MS = 15_000


def click(page, selector: str) -> None:
    """`page.click`, which waits until two animation frames show the element at rest. Once in
    CI and once in a full local run under load (never in a dozen runs of the module alone), a
    click of test_in_place_detail.py timed out so, and so did every later click of the module
    on that page, whatever the viewport: as if the browser had stopped drawing it. So a click
    that times out looks at the page's frames: with frames, the time-out stands (the page's
    fault); without, the page is brought to the front, the click repeated if frames came back,
    and the test fails saying the browser stopped drawing if they did not."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.click(selector, timeout=CLICK_TIMEOUT_MS)
        return
    except PlaywrightTimeout:
        drawing = page.evaluate(FRAMES)
        if drawing["frames"]:
            raise
    page.bring_to_front()
    assert page.evaluate(FRAMES)["frames"], f"the browser stopped drawing the page: {drawing}"
    print(f"the browser had stopped drawing the page ({drawing}); brought to the front")
    page.click(selector)


def open_view(page, layer: str, channel: int, kind: str) -> None:
    """Clicks a tile or class and waits until the detail view of `kind` shows it."""
    opened = int(page.evaluate("Number(document.querySelector('#detail').dataset.opened || 0)"))
    click(page, f"#overview [data-layer='{layer}'][data-channel='{channel}']")
    page.wait_for_function(
        "([n, kind]) => Number(document.querySelector('#detail').dataset.opened || 0) > n"
        " && document.querySelector('#detail').dataset.kind === kind", arg=[opened, kind])


def values(page, selector: str) -> list[float]:
    """The numbers (`data-value`) of the detail view's elements matching `selector`."""
    return page.eval_on_selector_all(f"#detail {selector}",
                                     "es => es.map(e => Number(e.dataset.value))")


def open_tab(page, selector: str, tab: str) -> None:
    """Clicks the tile or class at `selector`, waits for its detail view, then selects the
    detail panel's tab `tab` (e.g. "#tab-attribution") unless it is selected already."""
    opened = int(page.evaluate("Number(document.querySelector('#detail').dataset.opened || 0)"))
    page.click(selector)
    page.wait_for_function("n => Number(document.querySelector('#detail').dataset.opened || 0)"
                           " > n", arg=opened)
    if page.get_attribute(tab, "aria-selected") != "true":
        page.click(tab)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def engine_reference(tmp_path: Path, script: str, cases: object) -> dict[str, np.ndarray]:
    """What the CPython engine computes for `cases`: `script` runs in a fresh interpreter
    with `sys.argv[1:] == [out.npz, json(cases)]` and saves its arrays to out.npz.

    OpenBLAS runs on one thread there, as NumPy does in Pyodide: with several threads,
    equal windows of a convolution can come out one rounding apart, which moves a max-pool
    gradient to another (equally valid) pixel than the page's.
    """
    out = tmp_path / "reference.npz"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script, str(out), json.dumps(cases)], env=env,
                   check=True, cwd=ROOT)
    with np.load(out) as arrays:
        return dict(arrays)
