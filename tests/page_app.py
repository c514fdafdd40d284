"""The worker's `page.App` in CPython, fetching the site's files from this checkout as the
page fetches them from its server (a missing file is the server's 404)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cnnlens.errors import CnnlensError
from cnnlens.page import App
from tests.paths import ROOT

BASE = "base/"


async def fetch_local(url: str) -> bytes:
    path = ROOT / url.removeprefix(BASE)
    if not path.is_file():
        raise CnnlensError(f"could not load {url} (HTTP 404)")
    return path.read_bytes()


def local_app() -> App:
    """An `App` before `start`."""
    return App(fetch_local, BASE)


def app_showing_first_example() -> tuple[App, list[dict[str, Any]]]:
    """A started `App` showing its first example, and the example list."""
    app = local_app()
    examples = json.loads(asyncio.run(app.start())["examples"])
    assert "view" in asyncio.run(app.example(examples[0]["file"]))
    return app, examples
