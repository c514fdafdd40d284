"""cnnlens and CNN Explainer side by side: the same browser flags, interleaved runs, ratios.

    .venv/bin/python -m bench.side_by_side [--runs 5]     # also part of `make bench`

Our site is built (build/site.py, as `make site` does) into a temporary folder; CNN Explainer's
production build is `../shared/reference/cnn-explainer-site/` (see its README: served at the
root with `/cnn-explainer/<path>` mapped to `<path>`). Both are served by the standard
library's http.server on 127.0.0.1 (no cache headers: a static host's defaults) and driven
by Debian's headless Chromium with the end-to-end tests' flags plus `--disable-webgl` (CNN
Explainer's fastest configuration here: TF.js on the CPU; our page draws with canvas 2D) and
a host-resolver rule that fails every name but 127.0.0.1 (CNN Explainer asks for YouTube's
iframe API), so no request routing turns the HTTP cache off.

Each round, for each site (the order alternates between rounds), on a fresh profile:
- cold visit: navigation start → full overview; a click on a `conv_1_1` tile as soon as one
  can be clicked → its detail view drawn with the engine's numbers ("interactive"); memory
  of the main thread and the worker; every byte the visit fetched (the service worker's
  precache included, which is awaited);
- warm visit (the same tab, navigated again: our service worker answers, CNN Explainer's
  files come from the HTTP cache): → full overview and → interactive;
- a third visit: image switches (click another example → every feature map redrawn).
After the rounds, ours alone: the blog post with three embeds (bench/embed.py, the same built
site), all drawn, as a ratio to CNN Explainer's cold → full overview.
"Full overview", ours: `data-cnnlens-ready` ≥ 1; CNN Explainer: its README's condition (103
feature maps with data, 10 output bars). Times are `performance.now()` in the page when a
MutationObserver first sees the condition, so both sides are timed alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from tests.e2e.conftest import BOOT_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, is_local

from bench import boot_split, embed
from bench.browser import ROOT, summary
from bench.memory import heaps
from bench.site_boot import Quiet, serve
from bench.visit_bytes import visit_bytes

REFERENCE = ROOT.parent / "shared" / "reference" / "cnn-explainer-site"
FLAGS = [*CHROMIUM_ARGS, "--disable-webgl",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
SWITCHES = 3  # image switches per round and site

# Sets window.__sbs[key] to performance.now() the first time `predicate` holds, watching
# every change to the document (callbacks come in batches, so this costs little).
_WATCH = """([key, predicate, arg]) => {
    const holds = new Function("arg", `return (${predicate})(arg);`);
    window.__sbs = window.__sbs || {};
    window.__sbs[key] = null;
    const check = (observer) => {
        if (window.__sbs[key] !== null || !holds(arg)) return;
        window.__sbs[key] = performance.now();
        observer?.disconnect();
    };
    const observer = new MutationObserver(() => check(observer));
    observer.observe(document, {subtree: true, childList: true, attributes: true});
    check(observer);
}"""
# Starts a switch and resolves with the ms until `switched` holds (checked on every change).
_SWITCH = """([action, switched, arg]) => new Promise((resolve) => {
    const start = performance.now();
    const state = new Function("arg", action)(arg);
    const done = new Function("state", `return (${switched})(state);`);
    const observer = new MutationObserver(() => {
        if (!done(state)) return;
        observer.disconnect();
        resolve(performance.now() - start);
    });
    observer.observe(document, {subtree: true, childList: true, attributes: true});
})"""
_LIVE = "performance.getEntriesByName('cnnlens:ready:1')[0]?.startTime ?? null"
# The same, from the first parse on: an init script runs before the page's own scripts.
_WATCH_INIT = """(() => {{
    if (location.origin === "null") return;
    const start = () => ({watch})(["overview", {predicate}, null]);
    if (document.documentElement) start(); else addEventListener("DOMContentLoaded", start);
}})()"""


@dataclass(frozen=True)
class Side:
    name: str
    docroot: Path
    url: str
    overview: str    # JS predicate: the full overview is drawn
    tile: str        # selector of the conv_1_1 tile to click
    takes_clicks: str  # JS predicate: a click on the tile is surely handled now
    before: str      # JS expression: the detail state before the click (the predicate's arg)
    answered: str    # JS predicate(before): the tile's detail view shows its numbers
    switch: str      # JS function body(arg: run index): start an image switch; returns the
                     # state that `switched` compares with
    switched: str    # JS predicate(state): every feature map redrawn for the new image
    wasm: str        # JS expression (awaited): the workers' WebAssembly memory in bytes
    installed: str | None  # selector that appears once the service worker has precached
    kept: str | None  # JS predicate: what a later visit starts from is kept (ours: Python's
    #                   snapshot, then the scripts' code cache: assets/js/offline.js)
    path_of: Callable[[str], str]  # URL path → file path under docroot


OURS = {
    # The prerendered first paint (build/prerender.py) is the worker's own answer, drawn
    # before Python is up; without one, the first live overview.
    "overview": """() => document.documentElement.dataset.cnnlensPainted === 'prerendered'
        || Number(document.documentElement.dataset.cnnlensReady || 0) >= 1""",
    "tile": "#overview canvas.tile[data-layer='conv_1_1'][data-channel='0']",
    "takes_clicks": "() => document.documentElement.dataset.cnnlensBooted === 'true'",
    "before": "Number(document.getElementById('detail')?.dataset.opened || 0)",
    "answered": """(before) => {
        const panel = document.getElementById('detail');
        return Number(panel.dataset.opened || 0) > before && panel.dataset.layer === 'conv_1_1'
            && panel.querySelectorAll('[data-value]').length > 0;
    }""",
    "switch": """const buttons = [...document.querySelectorAll('button.example')]
            .filter(b => b.getAttribute('aria-pressed') !== 'true');
        const ready = Number(document.documentElement.dataset.cnnlensReady);
        buttons[arg % buttons.length].click();
        return ready;""",
    "switched": "(ready) => Number(document.documentElement.dataset.cnnlensReady) > ready",
    "wasm": "(await cnnlens.python.memory()).wasm_bytes",
}
_CE_OVERVIEW = """() => {
    const maps = document.querySelectorAll('svg#cnn-svg image.node-image');
    return maps.length === 103 && document.querySelectorAll('rect.output-rect').length === 10
        && [...maps].every(m => (m.getAttribute('href') || m.getAttribute('xlink:href')
                                 || '').length > 100);
}"""
CNN_EXPLAINER = {
    "overview": _CE_OVERVIEW,
    "tile": "#layer-1-node-0",
    "takes_clicks": _CE_OVERVIEW,
    "before": "0",
    # Its convolution view: the three input channels and the intermediate results, each an
    # image of the engine's numbers (hover shows them).
    "answered": """() => {
        const maps = document.querySelectorAll(
            'svg#cnn-svg g.intermediate-layer image:not(.animation-control-button)');
        return maps.length >= 3 && [...maps].every(m => (m.getAttribute('href')
            || m.getAttribute('xlink:href') || '').length > 100);
    }""",
    # Its README's way: clear the maps, click another example, wait for the maps again.
    "switch": """for (const m of document.querySelectorAll('svg#cnn-svg image.node-image')) {
            m.removeAttribute('href'); m.removeAttribute('xlink:href');
        }
        const others = document.querySelectorAll('.image-container.inactive[data-imageName]');
        others[arg % others.length].click();
        return null;""",
    "switched": _CE_OVERVIEW,
    "wasm": "0",  # TF.js's CPU backend: typed arrays on the main thread, no worker
}


class _CnnExplainerHandler(Quiet):
    """Its bundle asks for /cnn-explainer/<path>; the files are at /<path>."""

    def translate_path(self, path: str) -> str:
        return super().translate_path(_strip_prefix(path))


def _strip_prefix(path: str) -> str:
    return path[len("/cnn-explainer"):] if path.startswith("/cnn-explainer/") else path


def _launch(playwright, profile: Path):
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
        viewport={"width": 1280, "height": 800})
    context.requests = []
    context.finished = []
    context.on("request", lambda request: context.requests.append(request.url))
    context.on("requestfinished", lambda request: context.finished.append(request))
    return context


def _wait(page, key: str) -> float:
    page.wait_for_function(f"() => window.__sbs && window.__sbs[{json.dumps(key)}] !== null",
                           timeout=BOOT_TIMEOUT_MS, polling=50)
    return float(page.evaluate(f"window.__sbs[{json.dumps(key)}]"))


def _visit(page, side: Side) -> dict[str, float]:
    """Navigate; → full overview; click the conv_1_1 tile as soon as it is on screen → its
    detail view. A click the page did not take (it arrived before the page took clicks and
    nothing answered it within a second after) is repeated: `clicks` counts them."""
    page.goto(side.url)
    page.wait_for_selector(side.tile, state="visible", timeout=BOOT_TIMEOUT_MS)
    before = page.evaluate(side.before)
    page.evaluate(_WATCH, ["answered", side.answered, before])
    answered = "() => window.__sbs.answered !== null"
    clicks = 0
    while True:
        early = not page.evaluate(f"({side.takes_clicks})()")
        page.click(side.tile, timeout=BOOT_TIMEOUT_MS)
        clicks += 1
        if early:  # wait until the page takes clicks, then a second for an answer
            page.wait_for_function(f"() => ({answered})() || ({side.takes_clicks})()",
                                   timeout=BOOT_TIMEOUT_MS, polling=50)
        try:
            page.wait_for_function(answered, timeout=1_000 if early else BOOT_TIMEOUT_MS,
                                   polling=50)
            break
        except PlaywrightTimeout:
            if not early:
                raise
    interactive = float(page.evaluate("window.__sbs.answered"))
    overview = _wait(page, "overview")
    live = page.evaluate(_LIVE)  # ours: the first overview Python answered (null: theirs)
    return {"overview_ms": overview, "interactive_ms": interactive, "clicks": clicks,
            "live_overview_ms": live}


def _switches(page, side: Side, count: int) -> list[float]:
    """Click another example → every feature map redrawn, `count` times, on a fresh visit."""
    page.goto(side.url)
    page.wait_for_function(side.takes_clicks, timeout=BOOT_TIMEOUT_MS, polling=50)
    page.wait_for_timeout(1_500)  # CNN Explainer's output bars animate for about a second
    times = []
    for i in range(count):
        times.append(page.evaluate(_SWITCH, [side.switch, side.switched, i]))
        page.wait_for_timeout(1_500)
    return times


def round_for(playwright, side: Side, profile: Path) -> dict:
    """One cold visit, one warm visit and image switches, on one fresh profile."""
    context = _launch(playwright, profile)
    try:
        overview_predicate = json.dumps(side.overview)
        context.add_init_script(_WATCH_INIT.format(watch=_WATCH, predicate=overview_predicate))
        page = context.new_page()
        cold = _visit(page, side)
        result: dict = {"cold": cold, "memory": heaps(page, side.wasm)}
        if side.name == "cnnlens":
            result["cold_split"] = boot_split.measure(page)
        if side.installed:
            page.wait_for_selector(side.installed, state="attached", timeout=BOOT_TIMEOUT_MS)
        else:
            page.wait_for_load_state("networkidle")
        result["bytes"] = visit_bytes(list(context.finished), side.docroot, side.path_of)
        if side.kept:  # ours: made from the cache, not downloaded
            page.wait_for_function(side.kept, timeout=BOOT_TIMEOUT_MS, polling=100)
        result["warm"] = _visit(page, side)
        if side.name == "cnnlens":
            result["warm_split"] = boot_split.measure(page)
            result["warm_restored"] = boot_split.restored(page)
        result["switch_ms"] = _switches(page, side, SWITCHES)
    finally:
        context.close()
    # Failed by the resolver rule, never sent; anything else outside is a bug.
    outside = [url for url in context.requests if not is_local(url)]
    result["outside_requests"] = sorted(set(outside))
    return result


# Each figure, as the report words it.
FIGURES = {
    "cold_overview_ms": "cold: navigation → full overview",
    "cold_interactive_ms": "cold: navigation → a conv_1_1 tile's detail view (interactive)",
    "warm_overview_ms": "warm (second visit): → full overview",
    "warm_interactive_ms": "warm: → interactive",
    "image_switch_ms": "click another example → every map redrawn",
    "first_visit_bytes_raw": "first visit: bytes as served",
    "first_visit_bytes_gzip": "first visit: bytes, gzip -6 of each file",
    "first_visit_requests": "first visit: requests",
    "main_thread_heap_bytes": "memory: main thread (JS heap + ArrayBuffers)",
    "worker_heap_bytes": "memory: workers (JS heap + ArrayBuffers, WebAssembly included)",
}
CROSS = ("warm_interactive_vs_their_warm_overview",
         "our warm → interactive / their warm → full overview")
BLOG = ("blog_post_drawn_vs_their_cold_overview",
        "our blog post, three embeds all drawn (prerendered counts) / their cold → full overview")


def figures(rounds: list[dict]) -> dict[str, dict]:
    def of(key: str, field: str) -> list[float]:
        return [r[key][field] for r in rounds]

    return {
        "cold_overview_ms": summary(of("cold", "overview_ms")),
        "cold_interactive_ms": summary(of("cold", "interactive_ms")),
        "warm_overview_ms": summary(of("warm", "overview_ms")),
        "warm_interactive_ms": summary(of("warm", "interactive_ms")),
        "image_switch_ms": summary([t for r in rounds for t in r["switch_ms"]]),
        "first_visit_bytes_raw": summary(of("bytes", "raw")),
        "first_visit_bytes_gzip": summary(of("bytes", "gzip")),
        "first_visit_requests": summary(of("bytes", "requests")),
        "main_thread_heap_bytes": summary(of("memory", "main_bytes")),
        "worker_heap_bytes": summary(of("memory", "worker_bytes")),
    }


def ratios(ours: dict[str, dict], theirs: dict[str, dict],
           blog: dict[str, dict] | None = None) -> dict[str, float | None]:
    """Ours / theirs, medians; plus the issue's cross targets (our warm → interactive over
    their warm → full overview; our blog post all drawn over their cold → full overview)."""
    out = {key: (ours[key]["median"] / theirs[key]["median"]
                 if theirs[key]["median"] else None) for key in FIGURES}
    out[CROSS[0]] = (
        ours["warm_interactive_ms"]["median"] / theirs["warm_overview_ms"]["median"])
    if blog:
        out[BLOG[0]] = (blog["embed_blog_post_all_drawn_ms"]["median"]
                        / theirs["cold_overview_ms"]["median"])
    return out


def _splits(rounds: list[dict], key: str) -> dict[str, dict]:
    parts = [p for p, _ in boot_split.PARTS if all(p in r[key] for r in rounds)]
    return {p: summary([r[key][p] for r in rounds]) for p in parts}


def measure(playwright, runs: int) -> dict:
    """Both sites, `runs` interleaved rounds; ours alone (with the reason) without
    ../shared."""
    with tempfile.TemporaryDirectory(prefix="cnnlens-sbs-") as tmp:
        site = embed.built_site(Path(tmp) / "site")  # + the blog post's prerendered views
        servers = []
        server, url = serve(site.out, Quiet, "")
        servers.append(server)
        ours_url = url
        sides = [Side("cnnlens", site.out, url, installed=(
            f"[data-testid=offline-ready][data-version='{site.version}']"),
            kept="() => document.documentElement.dataset.cnnlensCodeCache",
            path_of=lambda path: path, **OURS)]
        skipped = None
        if (REFERENCE / "index.html").is_file():
            server, url = serve(REFERENCE, _CnnExplainerHandler, "")
            servers.append(server)
            sides.append(Side("cnn-explainer", REFERENCE, url, installed=None, kept=None,
                              path_of=_strip_prefix, **CNN_EXPLAINER))
        else:
            skipped = (f"CNN Explainer's built site is not at {REFERENCE} (../shared is "
                       "absent): only cnnlens was measured, no ratios")
        rounds: dict[str, list[dict]] = {s.name: [] for s in sides}
        try:
            for run in range(runs):
                for side in (sides if run % 2 == 0 else sides[::-1]):
                    profile = Path(tmp) / f"{side.name}-{run}"
                    rounds[side.name].append(round_for(playwright, side, profile))
            blog = embed.blog_post(playwright, ours_url, runs)
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
    results: dict = {"runs": runs, "flags": FLAGS, "site_version": site.version,
                     "skipped": skipped,
                     "sides": {name: figures(r) for name, r in rounds.items()},
                     "outside_requests": {name: sorted({u for x in r
                                                        for u in x["outside_requests"]})
                                          for name, r in rounds.items()},
                     "clicks": {name: [x["cold"]["clicks"] for x in r]
                                for name, r in rounds.items()},
                     # The first visit's requests by cause, each side's first round.
                     "first_visit_requests_by": {name: r[0]["bytes"]["causes"]
                                                 for name, r in rounds.items()},
                     # Ours: when Python's own first overview came (after a prerendered one).
                     "live_overview_ms": {
                         visit: summary([x[visit]["live_overview_ms"]
                                         for x in rounds["cnnlens"]])
                         for visit in ("cold", "warm")},
                     # Ours: whether each warm visit restored Python from its snapshot.
                     "warm_restored": [x["warm_restored"] for x in rounds["cnnlens"]],
                     "blog_post": blog,
                     "boot_split_ms": {"cold": _splits(rounds["cnnlens"], "cold_split"),
                                       "warm": _splits(rounds["cnnlens"], "warm_split")}}
    if not skipped:
        results["ratios"] = ratios(results["sides"]["cnnlens"],
                                   results["sides"]["cnn-explainer"], blog)
    return results


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    from bench import report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    with sync_playwright() as playwright:
        results = measure(playwright, args.runs)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(report.side_by_side_table({"side_by_side": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
