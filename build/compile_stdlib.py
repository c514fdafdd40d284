#!/usr/bin/env python3
"""Pyodide's `python_stdlib.zip` as bytecode, for dist/: each `name.py` becomes `name.pyc`.

    python3 build/compile_stdlib.py      # prints the cached zip's path (build/site.py uses it)

Pyodide 0.27.7 ships the stdlib as source only, so every page load compiles each module it
imports; with bytecode in the zip (imported sourceless, as zipimport allows) "Python start"
took 4.7 s instead of 19.3 s in the page on a loaded machine, for 1.6 MB more (deflated).
The bytecode must be Pyodide's Python 3.12, so it is compiled inside Pyodide under Node.js
(build/pyodide_node.py), then checked by booting a second Pyodide on it. Unchecked-hash pycs
(nothing to check against) and a zip written with sorted names and fixed dates make the
output byte-identical for the same input. Cached in build/cache/stdlib/, keyed by the input
zip, Pyodide's version and this script; without Node.js there is none and the site keeps the
source zip.

The same file is imported inside Pyodide (`compile_zip` below).
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

BUILD = Path(__file__).resolve().parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)
CACHE = BUILD / "cache" / "stdlib"
NAME = "python_stdlib.zip"
# Where Pyodide mounts the stdlib zip: source imports give their code this file name, so
# tracebacks read the same as with the source zip.
MOUNTED = "/lib/python312.zip"
DATE = (1980, 1, 1, 0, 0, 0)
# Modules the check imports from the compiled zip: ours, PyScript's and NumPy's start-up needs.
CHECK = ("asyncio", "json", "email.parser", "importlib.metadata", "zipfile", "tempfile",
         "pathlib", "dataclasses", "typing", "base64", "struct")

NODE_SCRIPT = """
const [runtime, build, source, target] = process.argv.slice(1);
const { loadPyodide } = await import(runtime + "/pyodide.mjs");
try {
  const pyodide = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  pyodide.FS.mkdir("/build");
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: build }, "/build");
  pyodide.FS.writeFile("/source.zip", (await import("fs")).readFileSync(source));
  pyodide.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_stdlib;"
    + "compile_stdlib.compile_zip('/source.zip', '/target.zip')");
  (await import("fs")).writeFileSync(target, pyodide.FS.readFile("/target.zip"));
  const check = await loadPyodide({ indexURL: runtime + "/", stdLibURL: target,
                                    stdout: () => {} });
  check.FS.mkdir("/build");
  check.FS.mount(check.FS.filesystems.NODEFS, { root: build }, "/build");
  check.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_stdlib; compile_stdlib.check()");
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
"""


# --- inside Pyodide ---

def compiled_entry(name: str, data: bytes, folder: str) -> tuple[str, bytes]:
    """A zip entry as shipped: a `.py` (imported from `folder`) as its `.pyc`, else as is."""
    from importlib._bootstrap_external import _code_to_hash_pyc
    from importlib.util import source_hash

    if not name.endswith(".py"):
        return name, data
    code = compile(data, f"{folder}/{name}", "exec", dont_inherit=True, optimize=0)
    return name + "c", bytes(_code_to_hash_pyc(code, source_hash(data), checked=False))


def write_entries(target: str, entries: list[tuple[str, bytes, int]]) -> None:
    """(name, bytes, external_attr) entries into the zip `target`: sorted, fixed dates."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name, data, attributes in sorted(entries, key=lambda e: e[0]):
            info = zipfile.ZipInfo(name, DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = attributes
            out.writestr(info, data)


def compile_zip(source: str, target: str) -> None:
    """Writes `source`'s entries into `target`, sorted, each `.py` compiled to `.pyc`."""
    with zipfile.ZipFile(source) as src:
        entries = [(*compiled_entry(e.filename, src.read(e), MOUNTED), e.external_attr)
                   for e in src.infolist()]
    write_entries(target, entries)


def check() -> None:
    """Imports CHECK from the running interpreter's stdlib zip; fails unless each came from a
    `.pyc` in it."""
    import importlib

    for name in CHECK:
        origin = importlib.import_module(name).__file__ or ""
        if not (origin.startswith(MOUNTED) and origin.endswith(".pyc")):
            raise SystemExit(f"compile_stdlib: {name} was imported from {origin}, not a .pyc")


# --- in CPython ---

def key(source: Path, version: str) -> str:
    digest = hashlib.sha256(version.encode() + b"\0")
    digest.update(hashlib.sha256(source.read_bytes()).digest())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def build(target: Path) -> None:
    """Compiles the vendored runtime's zip into `target`, in Pyodide (Node.js needed)."""
    import pyodide_node as runner  # CPython only: this script is also imported in Pyodide
    partial = target.with_suffix(".partial")
    status = runner.run(NODE_SCRIPT, str(BUILD), str(runner.PYODIDE / NAME), str(partial))
    if status != 0:
        partial.unlink(missing_ok=True)
        raise SystemExit(f"compile_stdlib: compiling {NAME} in Pyodide failed (exit {status})")
    partial.replace(target)


def compiled() -> Path | None:
    """The compiled zip for the vendored runtime (made once, then from the cache), or None
    without Node.js."""
    import pyodide_node as runner  # CPython only: this script is also imported in Pyodide
    source = runner.PYODIDE / NAME
    if not source.is_file():
        raise SystemExit("compile_stdlib: the vendored runtime is missing (run `make vendor`)")
    target = CACHE / f"python_stdlib-{key(source, runner.version())}.zip"
    if target.is_file():
        return target
    if runner.node() is None:
        print("compile_stdlib: Node.js is not installed, so dist/ keeps Pyodide's source-only "
              f"{NAME} (Python start compiles the stdlib on every page load)", file=sys.stderr)
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob("python_stdlib-*.zip"):
        stale.unlink()
    build(target)
    print(f"compile_stdlib: wrote {target.relative_to(BUILD.parent)}", file=sys.stderr)
    return target


if __name__ == "__main__":
    made = compiled()
    print(made or "(none: Node.js is not installed)")
    sys.exit(0)
