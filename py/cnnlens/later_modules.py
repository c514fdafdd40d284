"""Modules the page's boot never imports, shipped apart and fetched on their first import.

dist/ (and the dev server) ship some of Python's modules in archives of their own, which a
boot neither downloads nor loads: the part of the stdlib the page never imports (mail and
network protocols a worker cannot open, debuggers, test runners, most codecs — about a third
of its bytes; build/compile_stdlib.py), and NumPy's subpackages that `import numpy` does not
load (build/compile_wheels.py's parts: `numpy.random`, which the visualisation methods use
and the service worker precaches; `numpy.fft`, `numpy.ma`, … which only a learner's code
might). A learner's live code may still ``import statistics``: a :class:`LaterModules` per
archive, last on :data:`sys.meta_path`, is asked only when the usual finders found nothing,
and only for the modules its archive holds (listed by a small generated module beside them,
:data:`LISTINGS`); it fetches the archive once (a synchronous request: imports cannot wait),
puts it in place — a zip mounted as is, or unpacked into site-packages where it holds
extension modules, which cannot be imported from a zip — and lets the path finders find the
module there. The service worker keeps each archive once fetched.
"""

from __future__ import annotations

import importlib
import io
import sys
import zipfile
from collections.abc import Callable
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

# The generated modules that list the archives (`ARCHIVES`): the stdlib's main zip holds
# the first, the compiled NumPy wheel the second; either is absent where its package is
# shipped whole (CPython, or a build without Node.js).
LISTINGS = ("_later_stdlib", "_later_numpy")


class LaterModules:
    """A `sys.meta_path` finder for the modules `names` (``unittest``, ``encodings.cp1252``,
    ``numpy.fft``) of the archive `fetch(name)` returns the first time one, `name`, is
    imported: written as a zip at `root` and put on `sys.path` or, with `unpack`, unpacked
    into the folder `root` (already on it)."""

    def __init__(self, names: frozenset[str], root: str, fetch: Callable[[str], bytes],
                 unpack: bool = False) -> None:
        self.names = names
        self.root = root
        self.fetch = fetch
        self.unpack = unpack
        self.ready = False

    def find_spec(self, name: str, path: object = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name not in self.names:
            return None
        if not self.ready:
            self._place(name)
        parent, _, _ = name.rpartition(".")
        if not parent:
            return PathFinder.find_spec(name)
        # A submodule of a package shipped in the boot's part (the codecs of `encodings`,
        # `numpy.fft`): its other half is the same folder under `root`.
        search = sys.modules[parent].__path__
        folder = f"{self.root}/{parent.replace('.', '/')}"
        if folder not in search:
            search.append(folder)
        return PathFinder.find_spec(name, search)

    def _place(self, name: str) -> None:
        try:
            data = self.fetch(name)
        except OSError as error:
            raise ImportError(
                f"the module {name} is among those the page downloads when they are first "
                f"imported, and that download failed ({error}); it works once the page is "
                "online again") from error
        if self.unpack:
            zipfile.ZipFile(io.BytesIO(data)).extractall(self.root)
            importlib.invalidate_caches()  # the path finders listed these folders before
        else:
            with open(self.root, "wb") as file:
                file.write(data)
            sys.path.append(self.root)
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


def finders(listing: ModuleType, fetch: Callable[[str], Callable[[str], bytes]]
            ) -> list[LaterModules]:
    """One finder per archive of `listing` (a generated module: `ARCHIVES`, each a dict of
    its site `path`, `root`, `unpack` and module `names`), fetching through `fetch(path)`."""
    return [LaterModules(a["names"], a["root"], fetch(a["path"]), a["unpack"])
            for a in listing.ARCHIVES]


def install(base_url: str) -> int:
    """Puts the finders last on `sys.meta_path` for the site at `base_url`, once; the number
    of archives they fetch from (0 where every package is shipped whole)."""
    present = [f for f in sys.meta_path if isinstance(f, LaterModules)]
    if present:
        return len(present)
    added = []
    for name in LISTINGS:
        try:
            listing = importlib.import_module(name)
        except ImportError:
            continue
        added += finders(listing, lambda path: fetch_sync(base_url + path))
    sys.meta_path.extend(added)
    return len(added)
