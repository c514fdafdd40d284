#!/usr/bin/env python3
"""Serve the cnnlens repository root on 127.0.0.1 for development and the browser tests.

    python3 build/serve.py [--port 8000]    # --port 0 picks a free port

Importable: `serve(root, port)` starts a server in a background thread and returns it with
its URL, so tests can use it as a fixture. The repository root's Python is served as dist/
ships it: Pyodide's stdlib and NumPy as bytecode (build/shipped_runtime.py, built once with
Node.js and cached; without Node.js the vendored source files), and our package as one
archive with its bytecode (build/package_zip.py), which `assets/pyscript.json` is answered
with dist's form to name. The archive is made from py/ as it is at each request: an edited
module shows on reload, a few seconds late the first time (its bytecode is compiled again).
Stdlib only.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO, ClassVar

BUILD = Path(__file__).resolve().parent
ROOT = BUILD.parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)

import package_zip  # noqa: E402
import pyscript_config  # noqa: E402
import shipped_runtime  # noqa: E402

HOST = "127.0.0.1"

# Browsers refuse ES modules without a JavaScript type, and WebAssembly.instantiateStreaming
# needs application/wasm; the platform's mimetypes table is not reliable for either.
MIME_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".wasm": "application/wasm",
    ".whl": "application/octet-stream",
    ".zip": "application/octet-stream",
    ".onnx": "application/octet-stream",
    ".json": "application/json",
    ".toml": "text/plain",
    ".py": "text/plain",
    ".md": "text/plain",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}


class Handler(SimpleHTTPRequestHandler):
    """Static files with fixed MIME types, no caching, and no dot-folders (.git, .venv)."""

    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        **MIME_TYPES,
    }

    def end_headers(self) -> None:
        # Dev edits must show on reload, and the tests must never see a stale file.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def send_head(self) -> BinaryIO | None:
        path = urllib.parse.unquote(self.path.split("?", 1)[0].split("#", 1)[0])
        if any(part.startswith(".") for part in path.split("/") if part):
            # The repository root holds .git and .venv: nothing the page needs, not to be served.
            self.send_error(404, "Not found")
            return None
        path = path.lstrip("/")
        replaced = self.server.replaced.get(path)
        if path in self.server.made:
            made = self.server.made[path]()  # named by a hash of its sources: the name is its tag
            replaced = made.read_bytes(), f'"{made.stem}"'
        return super().send_head() if replaced is None else self._send_bytes(path, replaced)

    def _send_bytes(self, path: str, replaced: tuple[bytes, str]) -> BinaryIO | None:
        """The bytes answered for `path`, revalidated by their hash (`tag`)."""
        data, tag = replaced
        if self.headers.get("If-None-Match") == tag:
            self.send_response(304)
            self.send_header("ETag", tag)
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", tag)
        self.end_headers()
        return io.BytesIO(data)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.quiet:
            return
        super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    quiet = False
    replaced: ClassVar[dict[str, tuple[bytes, str]]] = {}  # path → (bytes, ETag)
    made: ClassVar[dict[str, Callable[[], Path]]] = {}  # path → makes (or finds) its file


def _as_shipped(server: Server, root: Path) -> None:
    """For the repository root: the runtime's files as dist/ ships them (bytecode in place of
    Pyodide's source-only stdlib and NumPy, build/shipped_runtime.py) and our package as one
    archive, so the dev page and the browser tests boot on what a reader gets; other folders
    (a built dist/) are served as they are."""
    if root.resolve() != ROOT:
        return
    replaced = shipped_runtime.replacements(root)
    config = pyscript_config.config(packaged=True)
    replaced["assets/pyscript.json"] = (json.dumps(config, indent=2) + "\n").encode()
    # Hashed once here, not on every request: each page boot asks for these megabytes.
    server.replaced = {path: (data, f'"{hashlib.sha256(data).hexdigest()[:32]}"')
                       for path, data in replaced.items()}
    modules = package_zip.page_modules()  # a module added later needs a restart, as dist a build
    server.made = {pyscript_config.ARCHIVE: functools.partial(package_zip.packed, modules)}


def make_server(root: Path, port: int, quiet: bool = False) -> tuple[Server, str]:
    handler = functools.partial(Handler, directory=str(root))
    server = Server((HOST, port), handler)
    server.quiet = quiet
    _as_shipped(server, root)
    return server, f"http://{HOST}:{server.server_address[1]}/"


def serve(root: Path = ROOT, port: int = 0, quiet: bool = True) -> tuple[Server, str]:
    """Serve root in a daemon thread; call server.shutdown() and server.server_close() to stop."""
    server, url = make_server(root, port, quiet)
    thread = threading.Thread(target=server.serve_forever, name="cnnlens-serve", daemon=True)
    thread.start()
    return server, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve cnnlens on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--root", type=Path, default=ROOT, help="folder to serve")
    args = parser.parse_args(argv)
    try:
        server, url = make_server(args.root, args.port)
    except OSError as e:
        print(f"serve: cannot listen on {HOST}:{args.port}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"cnnlens is being served at {url}", flush=True)
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
