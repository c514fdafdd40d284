"""The blog post with three embedded views (examples/blog-post.html): navigation start →
every frame drawn, on a fresh profile each run (the frames share one download of the runtime).
"""

from __future__ import annotations

from tests.e2e.conftest import BOOT_TIMEOUT_MS

from bench.browser import fresh_browser, summary

FRAMES = ("overview-frame", "conv-frame", "playground-frame")
_ALL_DRAWN = """ids => ids.every(id => {
    const doc = document.getElementById(id).contentDocument;
    return doc && Number(doc.documentElement.dataset.cnnlensReady || 0) >= 1;
})"""


def cold_embeds(playwright, page_url: str) -> float:
    with fresh_browser(playwright) as browser:
        page = browser.context.new_page()
        page.set_viewport_size({"width": 1000, "height": 3000})  # every lazy frame in view
        page.goto(page_url)
        page.wait_for_function(_ALL_DRAWN, arg=list(FRAMES), timeout=BOOT_TIMEOUT_MS,
                               polling=20)
        return page.evaluate("performance.now()")


def measure(playwright, site_url: str, runs: int) -> dict:
    blog = site_url.rsplit("/", 1)[0] + "/examples/blog-post.html"
    return {"embed_blog_post_all_views_ms": summary([cold_embeds(playwright, blog)
                                                     for _ in range(runs)])}
