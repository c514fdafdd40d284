"""What a visit downloaded: response bodies as served, the same files as a compressing host
would send them (gzip -6, as build/site.py counts), and the requests split by who asked (the
page and its workers, or the service worker's precache) and by the file's first two folders.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit


def visit_bytes(finished: list, docroot: Path, path_of: Callable[[str], str]) -> dict:
    """`finished`: Playwright's finished requests of one visit; `path_of` maps a URL's path
    to the file's path under `docroot`."""
    raw = packed = 0
    causes: dict[str, int] = {}
    for request in finished:
        who = "page" if request.service_worker is None else "service worker"
        path = path_of(unquote(urlsplit(request.url).path)).lstrip("/")
        cause = f"{who}: {'/'.join(path.split('/')[:2]) or 'index.html'}"
        causes[cause] = causes.get(cause, 0) + 1
        size = max(request.sizes()["responseBodySize"], 0)
        raw += size
        file = docroot / path
        if file.is_dir():
            file = file / "index.html"
        if size and file.is_file():
            packed += len(gzip.compress(file.read_bytes(), 6, mtime=0))
    return {"raw": raw, "gzip": packed, "requests": len(finished),
            "causes": dict(sorted(causes.items()))}
