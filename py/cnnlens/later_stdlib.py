"""The part of Python's standard library the page never imports, fetched on first import.

dist/ (and the dev server) ship the stdlib in two zips (build/compile_stdlib.py): what the
page and what it runs import, mounted by Pyodide at start, and the rest — mail and network
protocols a worker cannot open, debuggers, test runners, most codecs — in
``python_stdlib_later.zip`` (about a third of the stdlib's bytes), which a first visit does
not download. A learner's live code may still ``import statistics``: :class:`LaterStdlib`,
last on :data:`sys.meta_path`, is asked only when the usual finders found nothing, and only
for the modules the later zip holds (the main zip's generated ``_later_stdlib`` names them);
it fetches the zip once (a synchronous request: imports cannot wait), mounts it and lets the
path finders find the module there. The service worker keeps the zip once fetched.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType


class LaterStdlib:
    """A `sys.meta_path` finder for the modules `names` (``unittest``, ``encodings.cp1252``) that
    live in the zip `fetch(name)` returns, mounted at `mounted` the first time one, `name`,
    is imported."""

    def __init__(self, names: frozenset[str], mounted: str,
                 fetch: Callable[[str], bytes]) -> None:
        self.names = names
        self.mounted = mounted
        self.fetch = fetch
        self.ready = False

    def find_spec(self, name: str, path: object = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name not in self.names:
            return None
        if not self.ready:
            self._mount(name)
        parent, _, _ = name.rpartition(".")
        if not parent:
            return PathFinder.find_spec(name)
        # A submodule of a package in the main zip (the codecs of `encodings`): its other
        # half is the same folder in the later zip.
        search = sys.modules[parent].__path__
        folder = f"{self.mounted}/{parent.replace('.', '/')}"
        if folder not in search:
            search.append(folder)
        return PathFinder.find_spec(name, search)

    def _mount(self, name: str) -> None:
        try:
            data = self.fetch(name)
        except OSError as error:
            raise ImportError(
                f"this module is in the part of Python's standard library the page downloads "
                f"when it is first imported, and that download failed ({error}); "
                "it works once the page is online again") from error
        with open(self.mounted, "wb") as file:
            file.write(data)
        sys.path.append(self.mounted)
        self.ready = True


def fetch_sync(url: str) -> Callable[[str], bytes]:
    """A function that GETs `url` synchronously in a browser worker (``OSError`` if it
    cannot), saying for which module in its query (which the service worker and the server
    ignore; a test reads it)."""
    def fetch(name: str) -> bytes:
        from js import XMLHttpRequest
        from pyodide.ffi import JsException

        request = XMLHttpRequest.new()
        try:
            request.open("GET", f"{url}?for={name}", False)
            request.responseType = "arraybuffer"
            request.send()
        except JsException as error:
            raise OSError(f"could not load {url}: {error}") from error
        if request.status != 200:
            raise OSError(f"could not load {url} (HTTP {request.status})")
        return request.response.to_bytes()

    return fetch


def install(base_url: str) -> bool:
    """Puts the finder last on `sys.meta_path` for the site at `base_url`; False where the
    stdlib is one zip (the vendored one: no Node.js at build time)."""
    try:
        from _later_stdlib import MOUNTED, NAMES, PATH
    except ImportError:
        return False
    if any(isinstance(finder, LaterStdlib) for finder in sys.meta_path):
        return True
    sys.meta_path.append(LaterStdlib(NAMES, MOUNTED, fetch_sync(base_url + PATH)))
    return True
