"""The built site (build/site.py) on a plain static host, from a sub-path, and offline.

The host is the standard library's `http.server` with nothing added: no cross-origin
isolation headers, no cache headers, no MIME types of ours. The site is served at
/courses/ml/cnn/, a symlink that a test repoints to publish a new release.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.paths import BUNDLED_MODEL as MODEL
from tests.paths import EXAMPLES

from .conftest import (
    BOOT_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    Browser,
    load_build_script,
    run_and_wait,
    screenshot,
    type_code,
    wait_live_code,
    wait_ready,
)

SUB_PATH = "courses/ml/cnn/"
# Precaching ~18 MB from 127.0.0.1 takes a second or two after the boot.
OFFLINE_READY_TIMEOUT_MS = 60_000
# A learner's ReLU that needs the stdlib's later zip (statistics, a code page).
LATER_IMPORTS = ('def relu(x):\n    import codecs, statistics\n'
                 '    assert codecs.encode("\\u00e9", "cp1252") == b"\\xe9"\n'
                 '    return np.maximum(x, 0)\n')
# Fetched by that test: the conftest's check lets this module's visitor fetch it.
FETCHES_LATER_MODULES = True

site_build = load_build_script("site")


class PlainHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Host:
    url: str  # the site's URL, ending in SUB_PATH
    link: Path  # the symlink the sub-path is; repoint it to publish another build
    headers: dict[str, dict[str, str]]  # response headers by URL path, as sent

    def publish(self, build: Path) -> None:
        tmp = self.link.with_name("next")
        tmp.symlink_to(build, target_is_directory=True)
        tmp.replace(self.link)


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, object]:
    """Release 1 as `make site` builds it, and release 2: the same with one file changed."""
    if not (ROOT / "build" / "vendor" / "pyodide" / "pyodide.mjs").exists():
        pytest.fail("the vendored runtime is missing: run `make vendor` (make test does it)")
    base = tmp_path_factory.mktemp("releases")
    one = site_build.build_site(base / "one")
    shutil.copytree(one.out, base / "two")
    index = base / "two" / "index.html"
    index.write_text(index.read_text().replace("<title>", "<title>release two — "))
    two = site_build.write_service_worker(base / "two")
    # A real release comes seconds or days later. Built within the same second, release two's
    # changed files would carry release one's Last-Modified (one-second resolution), and the
    # browser's revalidation of sw.js would get "304 Not Modified" and never see it.
    later = time.time() + 5
    for changed in (index, base / "two" / "sw.js"):
        os.utime(changed, (later, later))
    return {"one": one, "two": two}


@pytest.fixture(scope="module")
def host(releases, tmp_path_factory) -> Iterator[Host]:
    docroot = tmp_path_factory.mktemp("docroot")
    (docroot / "courses" / "ml").mkdir(parents=True)
    link = docroot / "courses" / "ml" / "cnn"
    link.symlink_to(releases["one"].out, target_is_directory=True)
    headers: dict[str, dict[str, str]] = {}

    class Recording(PlainHandler):
        def end_headers(self) -> None:
            headers[urlsplit(self.path).path] = dict(self._headers_buffer_as_dict())
            super().end_headers()

        def _headers_buffer_as_dict(self) -> dict[str, str]:
            lines = b"".join(self._headers_buffer).decode("latin-1").split("\r\n")[1:]
            return dict(line.split(": ", 1) for line in lines if ": " in line)

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        Recording, directory=str(docroot)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Host(f"http://127.0.0.1:{server.server_address[1]}/{SUB_PATH}", link, headers)
    server.shutdown()
    server.server_close()


class SiteBrowser(Browser):
    """Also tells the page's and its Python worker's requests from the service worker's."""

    def __init__(self, playwright, profile: Path) -> None:
        if not Path(CHROMIUM).exists():
            pytest.fail("Debian's chromium is missing: run `make test` as root")
        super().__init__(playwright, profile)
        self.page_requests: list[str] = []
        self.failed: list[str] = []
        self.context.on("request", self._record)
        self.context.on("requestfinished", self._check)

    def _record(self, request) -> None:
        if request.service_worker is None:
            self.page_requests.append(request.url)

    def _check(self, request) -> None:
        response = request.response()
        if response is not None and response.status >= 400:
            self.failed.append(f"{response.status} {request.url}")


@pytest.fixture(scope="module")
def visitor(playwright_instance, tmp_path_factory, request) -> Iterator[SiteBrowser]:
    b = SiteBrowser(playwright_instance, tmp_path_factory.mktemp("site-profile"))
    yield b
    b.close()
    b.check(request.module)


def cli_top1(image: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "cnnlens", "predict", str(MODEL), str(image), "--json"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    return json.loads(out.splitlines()[0])["top1"]


def upload_and_check(page, image: Path) -> None:
    before = int(page.evaluate("document.documentElement.dataset.cnnlensReady"))
    page.set_input_files("#upload", str(image))
    wait_ready(page, before + 1)
    assert page.locator("#image-name").text_content() == image.name
    assert page.get_by_test_id("top1").text_content() == cli_top1(image)


def cache_names(page) -> list[str]:
    return page.evaluate("caches.keys()")


def wait_offline_ready(page, version: str) -> None:
    page.wait_for_selector(
        f"[data-testid=offline-ready][data-version='{version}']:not([hidden])",
        timeout=OFFLINE_READY_TIMEOUT_MS)


UPLOAD = EXAMPLES / "trouser_2.png"


@pytest.fixture(scope="module")
def page(visitor, host):
    page = visitor.context.new_page()
    page.goto(host.url)
    wait_ready(page, 1)
    return page


def test_the_site_boots_from_a_sub_path_of_a_plain_host(page, host, visitor, releases):
    assert page.evaluate("self.crossOriginIsolated") is False
    if shutil.which("node"):  # without Node.js the build keeps the source zip (and says so)
        stdlib = zipfile.ZipFile(releases["one"].out / site_build.STDLIB).namelist()
        # _later_stdlib.py: what the later zip holds, a listing (build/compile_stdlib.py).
        sources = [n for n in stdlib if n.endswith(".py")]
        assert sources == ["_later_stdlib.py"], "booted on the source stdlib"
    sent = {k.lower() for h in host.headers.values() for k in h}
    assert not sent & {"cross-origin-opener-policy", "cross-origin-embedder-policy"}
    upload_and_check(page, UPLOAD)
    assert visitor.failed == []
    assert all(urlsplit(u).path.startswith("/" + SUB_PATH) for u in visitor.page_requests)


def test_dist_holds_what_the_page_requests_and_nothing_else(page, host, releases, visitor):
    """Fails when the PyScript/Pyodide chunk lists in build/site.py go stale either way."""
    one = releases["one"]
    requested = {urlsplit(u).path.removeprefix("/" + SUB_PATH) or "index.html"
                 for u in visitor.page_requests}
    requested.discard("")
    shipped = set(one.files)
    assert requested - shipped - {"sw.js"} == set(), "requested but not in dist"
    # The trimmed part is the vendored runtime; app files may serve other entry pages
    # (embed.html) or later interactions, so only junk is ruled out for them (below).
    vendored = {f for f in shipped if f.startswith("build/vendor/")}
    # NumPy's random is asked for by the first maximisation or inversion, which this visit
    # does not run (tests/e2e/test_methods_*.py do).
    parts = {"build/vendor/pyodide/numpy-random.zip"}
    assert vendored - requested == parts, "vendored file in dist but never requested"
    # The prerendered first overview: shipped, precached (sw.js lists every shipped file)
    # and what the page fetched before Python was up.
    prerendered = {f for f in shipped if f.startswith("assets/prerendered/")}
    assert len(prerendered) == 3 and prerendered <= requested
    assert page.evaluate("document.documentElement.dataset.cnnlensPainted") == "prerendered"
    names = {p.relative_to(one.out).as_posix() for p in one.out.rglob("*") if p.is_file()}
    assert names == shipped | {"sw.js", "cnnlens-site.zip", *site_build.LICENSES,
                               *one.on_demand}
    assert not any(n.startswith(("tests/", "bench/")) or n.endswith((".map", ".tgz"))
                   for n in names)


# Elements of the page before Python is up, and what their stylesheets set.
STYLED = ("body", "#app", "#examples", "#dropzone", "#model-picker", "#stage", "#overview",
          "#detail", "#live-code", "article", "article h2", "article p", "#skip-link")
STYLE = """(selectors) => selectors.map((selector) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const style = getComputedStyle(element);
    return ["display", "position", "font-size", "font-family", "font-weight", "color",
            "background-color", "margin-top", "padding-left", "border-top-width",
            "grid-template-columns", "max-width"].map((name) => style.getPropertyValue(name));
})"""


def test_one_stylesheet_styles_the_page_as_the_twelve_do(page, visitor, site):
    """dist's index.html links its stylesheets joined into one (build/stylesheets.py): the
    same styles as the repository's page, which links them one by one."""
    sheets = page.evaluate("[...document.styleSheets].map(s => s.href)")
    assert [urlsplit(href).path.rsplit("/", 1)[1] for href in sheets] == ["index.css"]
    source = visitor.context.new_page()
    try:
        source.goto(site + "index.html")
        wait_ready(source, 1)
        assert len(source.evaluate("[...document.styleSheets].map(s => s.href)")) > 5
        expected = source.evaluate(STYLE, list(STYLED))
    finally:
        source.close()
    got = page.evaluate(STYLE, list(STYLED))
    assert all(got) and got == expected


def test_the_html_names_every_module_the_first_paint_needs(page):
    """dist's index.html names each module the page loaded before its prerendered paint
    (build/preload.py), so none waits for the one importing it."""
    named = page.evaluate("""() => [...document.querySelectorAll(
        'link[rel=modulepreload], script[src]')].map(e => e.href || e.src)""")
    fetched = page.evaluate("""() => {
        const painted = performance.getEntriesByName('cnnlens:painted')[0].startTime;
        return performance.getEntriesByType('resource')
            .filter(r => r.startTime < painted).map(r => r.name);
    }""")
    modules = {url for url in fetched if "/assets/js/" in url}
    assert len(modules) > 30 and modules <= set(named)


# Trace categories of V8's compile events, which say whether a code cache was used.
V8_COMPILE = ["v8", "devtools.timeline", "disabled-by-default-v8.compile"]


def code_caches(trace: Path) -> tuple[set[str], set[str]]:
    """File names of the scripts whose V8 code cache a trace shows made, and used."""
    events = json.loads(trace.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    data = [(e["name"], e.get("args", {}).get("data") or {}) for e in events]
    def names(wanted: tuple[str, ...], size: str) -> set[str]:
        return {d["url"].rpartition("/")[2] for name, d in data
                if name in wanted and int(d.get(size, 0)) > 0 and "url" in d}
    return (names(("v8.produceCache", "v8.produceModuleCache"), "producedCacheSize"),
            names(("v8.compile", "v8.compileModule"), "consumedCacheSize"))


def module_scripts(files: list[str]) -> list[str]:
    """The release's module scripts among the `files` sw.js precaches: every .js or .mjs but
    the classic embed.js and the two that must not run in code-cache.js's worker."""
    skip = {"assets/embed.js", "assets/js/snapshot-maker.js", "assets/js/code-cache-worker.js"}
    return [p for p in files if p.endswith((".js", ".mjs")) and p not in skip]


def restored_from_snapshot(page) -> bool:
    """Whether the page's Python worker was restored from the memory snapshot."""
    return any(worker.evaluate(
        "performance.getEntriesByName('cnnlens:runtime:snapshot-restored').length > 0")
        for worker in page.workers)


def test_the_boot_compiles_no_dataclass_method(page):
    """The methods `dataclasses` writes for the classes of py/worker.py's boot come compiled
    in dist's package (build/package_zip.py, cnnlens/dataclass_code.py): the worker's mark
    after its imports counts those it ran and those it had to compile."""
    counts = [worker.evaluate("""() => {
        const mark = performance.getEntriesByName('cnnlens:worker:imported')[0];
        return mark ? mark.detail : null; }""") for worker in page.workers]
    counts = [c for c in counts if c is not None]
    assert len(counts) == 1 and counts[0]["compiled"] == 0 and counts[0]["recorded"] > 100


def test_precached_then_boots_and_classifies_offline(page, host, releases, visitor, tmp_path):
    """Offline, the later visit restores Python from the snapshot the first one had made
    (numbers checked against the CLI), and a broken snapshot falls back to a normal boot."""
    one = releases["one"]
    wait_offline_ready(page, one.version)
    assert [n.endswith(one.version) for n in cache_names(page)] == [True]
    screenshot(page, "site-offline-ready")
    page.wait_for_function("document.documentElement.dataset.cnnlensSnapshot",
                           timeout=OFFLINE_READY_TIMEOUT_MS)
    assert page.evaluate("document.documentElement.dataset.cnnlensSnapshot") == "stored"
    assert not restored_from_snapshot(page)
    page.wait_for_function("document.documentElement.dataset.cnnlensCodeCache",
                           timeout=OFFLINE_READY_TIMEOUT_MS)
    assert (page.evaluate("document.documentElement.dataset.cnnlensCodeCache")
            == f"{len(module_scripts(one.files))} scripts")
    visitor.context.set_offline(True)
    try:
        trace = tmp_path / "second-visit.json"
        visitor.context.browser.start_tracing(path=str(trace), categories=V8_COMPILE)
        page.reload()
        wait_ready(page, 1)
        visitor.context.browser.stop_tracing()
        # The runtime's largest script compiled from V8's code cache on the second visit,
        # and no script's cache made then (without assets/js/code-cache.js on the first
        # visit, this one makes them, and only a third would use them).
        made, used = code_caches(trace)
        assert "pyodide.asm.js" in used and made == set()
        assert page.evaluate("navigator.onLine") is False
        assert page.evaluate("Boolean(navigator.serviceWorker.controller)")
        assert restored_from_snapshot(page)
        upload_and_check(page, EXAMPLES / "sandal_1.png")
        # Another runtime's snapshot (its build id changed): Pyodide refuses it.
        flip_snapshot_build_id(page)
        # The address without a state: the prerendered overview comes from the cache too.
        page.goto(host.url)
        wait_ready(page, 1)
        assert page.evaluate("document.documentElement.dataset.cnnlensPainted") == "prerendered"
        assert not restored_from_snapshot(page)
        first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
        assert page.get_by_test_id("top1").text_content() == cli_top1(EXAMPLES / first)
    finally:
        visitor.context.set_offline(False)
    # The release keeps its own snapshot again: after a refused restore, the old release's
    # worker could keep one of the page's requests in flight, and the next test's release
    # took over only once the page was left (offline.js reloads it then, but not always in
    # time for that test's minute on two busy cores).
    flip_snapshot_build_id(page)


def test_the_later_stdlib_is_kept_once_a_learners_code_imports_it(page, host, visitor):
    """Not precached (the page never needs it): the service worker keeps the stdlib's later
    zip once a learner's import fetched it, and an offline visit imports from it."""
    kept = """async (path) => {
        const cache = await caches.open((await caches.keys())[0]);
        return Boolean(await cache.match(new URL(path, location.href).href));
    }"""
    later = "build/vendor/pyodide/python_stdlib_later.zip"
    assert page.evaluate(kept, later) is False
    wait_live_code(page)
    type_code(page, "relu", LATER_IMPORTS)
    run_and_wait(page)
    assert page.is_hidden("[data-testid='code-relu'] .code-error")
    assert page.evaluate(kept, later) is True
    visitor.context.set_offline(True)
    try:
        page.goto(host.url)
        wait_ready(page, 1)
        wait_live_code(page)
        type_code(page, "relu", LATER_IMPORTS)
        run_and_wait(page)
        assert page.is_hidden("[data-testid='code-relu'] .code-error")
    finally:
        visitor.context.set_offline(False)
    page.click("[data-testid='code-reset']")


def flip_snapshot_build_id(page) -> None:
    """Flips a byte of the kept snapshot's build id (a second flip restores it)."""
    page.evaluate("""async () => {
        const cache = await caches.open((await caches.keys())[0]);
        const url = new URL('python-snapshot.bin', location.href).href;
        const bytes = new Uint8Array(await (await cache.match(url)).arrayBuffer());
        bytes[16] ^= 0xff;
        await cache.put(url, new Response(bytes));
    }""")


def test_a_new_release_takes_over_and_the_old_cache_goes(page, host, releases):
    one, two = releases["one"], releases["two"]
    assert one.version != two.version
    # Release one's memory snapshot settled first: published while its throwaway worker was
    # still making one, release two had not taken over within 60 s on two busy cores (an
    # open question for issue 15, not what this test is about).
    page.wait_for_function("document.documentElement.dataset.cnnlensSnapshot",
                           timeout=BOOT_TIMEOUT_MS)
    host.publish(two.out)
    page.reload()
    # The old release answers this load; the new one installs, takes over, and the page
    # reloads itself into it.
    wait_offline_ready(page, two.version)
    wait_ready(page, 1)
    assert page.title().startswith("release two — ")
    names = cache_names(page)
    assert len(names) == 1 and names[0].endswith(two.version), names
    upload_and_check(page, UPLOAD)


@pytest.mark.parametrize("unreachable", [
    "**/build/vendor/pyodide/**",  # app.js runs, the Python runtime cannot be loaded
    "**/build/vendor/pyscript/**",  # app.js itself cannot run: its import fails
])
def test_a_visit_that_starts_offline_says_it_needs_one_online_visit(
        playwright_instance, host, tmp_path, unreachable):
    """index.html loaded (e.g. from the HTTP cache) but the rest cannot be reached."""
    b = SiteBrowser(playwright_instance, tmp_path / "profile")
    try:
        b.context.route(unreachable, lambda route: route.abort("internetdisconnected"))
        b.context.route(lambda url: True, lambda route: (
            route.abort("internetdisconnected") if route.request.method == "HEAD"
            else route.fallback()))
        page = b.context.new_page()
        page.goto(host.url)
        page.wait_for_function("document.documentElement.dataset.cnnlensFailed",
                               timeout=BOOT_TIMEOUT_MS)
        page.wait_for_function(
            "document.getElementById('boot-label').textContent.includes('while online')")
        label = page.locator("#boot-label").text_content()
        assert label.startswith("cnnlens could not start:"), label
        assert "one complete visit while online" in label
        assert page.locator("#boot").is_visible()
        screenshot(page, f"site-offline-first-visit-{unreachable.split('/')[-2]}")
    finally:
        b.close()


def test_precaching_downloads_nothing_the_page_has_downloaded(playwright_instance, releases,
                                                              tmp_path):
    """A first visit, then the service worker's precache: the server sees one request for
    each file the page's Python worker fetched (the runtime, NumPy, our modules, the model,
    the prerendered overview; Pillow, which the page loads later, by the precache alone;
    runtime-progress.js: its boot id rides in the hash, never sent, so its URL is the one
    precached). The browser's HTTP cache is on: no request
    routing here, so requests are recorded and checked instead of aborted."""
    one = releases["one"]
    counts: dict[str, int] = {}

    class Counting(PlainHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            counts[path] = counts.get(path, 0) + 1
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        Counting, directory=str(one.out)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        wait_ready(page, 1)
        wait_offline_ready(page, one.version)
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    assert [url for url in requested if urlsplit(url).hostname != "127.0.0.1"
            and urlsplit(url).scheme not in {"data", "blob", "about"}] == []
    fetched = [f for f in one.files if f.startswith(("build/vendor/pyodide/", "py/",
                                                       "assets/prerendered/"))]
    fetched += ["assets/models/tinyvgg-fashion-mnist.onnx", "assets/runtime-sizes.json",
                "assets/js/runtime-progress.js"]
    assert "build/vendor/pyodide/pyodide.asm.wasm" in fetched
    assert {f: counts.get("/" + f, 0) for f in fetched} == {f: 1 for f in fetched}
