"""The blog post with three embedded views (examples/blog-post.html), against the site as
`make site` builds it (the blog post's views prerendered, build/prerender.py's `EMBEDDED`),
with the post beside it as its host would put it: navigation start → all three drawn,
counting a view drawn from its prerendered files (`data-cnnlens-painted`) as drawn, and →
all three live (Python's own answer on screen, `data-cnnlens-ready`). A fresh profile each
run; the three frames' workers boot side by side and share one download of the runtime.

    .venv/bin/python -m bench.embed [--runs 3]     # also part of `make bench`
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from tests.e2e.conftest import BOOT_TIMEOUT_MS, load_build_script

from bench.browser import ROOT, fresh_browser, summary
from bench.site_boot import Quiet, serve

FRAMES = ("overview-frame", "conv-frame", "playground-frame")
POST = "examples/blog-post.html"
_EVERY = """ids => ids.every(id => {
    // A frame between two documents has none, or one without an element yet.
    const flags = document.getElementById(id)?.contentDocument?.documentElement?.dataset;
    return Boolean(flags) && (%s);
})"""
_DRAWN = _EVERY % ("flags.cnnlensPainted === 'prerendered' || Number(flags.cnnlensReady || 0) >= 1")
_LIVE = _EVERY % "Number(flags.cnnlensReady || 0) >= 1"


def built_site(out: Path):
    """The site as `make site` builds it into `out`, with the blog post at `POST` (its frames
    ask for ../embed.html); the `Site`."""
    prerender = load_build_script("prerender")
    states = [prerender.parse_state(text) for text in prerender.EMBEDDED]
    site = load_build_script("site").build_site(out, prerender=states)
    (site.out / POST).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / POST, site.out / POST)
    return site


def cold_embeds(playwright, page_url: str) -> dict[str, float]:
    with fresh_browser(playwright) as browser:
        page = browser.context.new_page()
        page.set_viewport_size({"width": 1000, "height": 3000})  # every lazy frame in view
        page.goto(page_url)
        times = {}
        for key, condition in (("drawn", _DRAWN), ("live", _LIVE)):
            page.wait_for_function(condition, arg=list(FRAMES), timeout=BOOT_TIMEOUT_MS,
                                   polling=20)
            times[key] = page.evaluate("performance.now()")
        return times


def blog_post(playwright, site_url: str, runs: int) -> dict:
    """The blog post of a built site served at `site_url` (ending in /), `runs` visits."""
    visits = [cold_embeds(playwright, site_url + POST) for _ in range(runs)]
    return {"embed_blog_post_all_drawn_ms": summary([v["drawn"] for v in visits]),
            "embed_blog_post_all_views_ms": summary([v["live"] for v in visits])}


def measure(playwright, runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="cnnlens-embed-") as tmp:
        site = built_site(Path(tmp) / "site")
        server, url = serve(site.out, Quiet, "")
        try:
            return blog_post(playwright, url, runs)
        finally:
            server.shutdown()
            server.server_close()


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with sync_playwright() as playwright:
        print(json.dumps(measure(playwright, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
