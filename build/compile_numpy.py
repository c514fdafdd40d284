#!/usr/bin/env python3
"""Pyodide's NumPy wheel as bytecode, for dist/: each `name.py` becomes `name.pyc`.

    python3 build/compile_numpy.py      # prints the cached wheel's path (build/site.py uses it)

The wheel Pyodide 0.27.7 ships holds NumPy's Python modules as source only, so every page
load compiled each module `import numpy` runs (some ninety, 3.6 MB of source: about 0.7 s of
compiling in CPython, several times that in Pyodide while its interpreter is still being
tiered up). Here they are compiled once, as the stdlib is (build/compile_stdlib.py, whose
compile step this shares: unchecked-hash pycs imported sourceless, Pyodide's Python 3.12
under Node.js), and what only compilers and type checkers read (`.pyi` stubs, C headers and
sources, Cython sources and declarations) is left out, as are f2py and PyInstaller's
hooks. `RECORD` lists what the new wheel holds. The wheel keeps its file name; dist's
`pyodide-lock.json` gives its own sha256, which Pyodide checks when it loads it. A second
Pyodide then loads the new wheel and imports NumPy from its bytecode before it is used.
Sorted names and fixed dates make the output byte-identical for the same input; cached
in build/cache/numpy/, keyed by the wheel, Pyodide's version and both scripts. Without
Node.js there is none and dist/ keeps the official wheel.

The same file is imported inside Pyodide (`compile_wheel` below).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path

BUILD = Path(__file__).resolve().parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)
CACHE = BUILD / "cache" / "numpy"
LOCK = "pyodide-lock.json"
# Where Pyodide unpacks wheels: the bytecode's file names, so tracebacks name real paths.
SITE_PACKAGES = "/lib/python3.12/site-packages"
# Read by compilers and type checkers only; never imported.
LEFT_OUT = (".pyi", ".h", ".c", ".pxd", ".pyx")
# Subpackages that cannot work in a browser: f2py builds Fortran extensions with a compiler,
# _pyinstaller holds PyInstaller's hooks (`numpy.f2py` is imported only when asked for).
LEFT_OUT_PACKAGES = ("numpy/f2py/", "numpy/_pyinstaller/")

NODE_SCRIPT = """
const [runtime, build, source, target] = process.argv.slice(1);
const { loadPyodide } = await import(runtime + "/pyodide.mjs");
const fs = await import("fs");
try {
  const pyodide = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  pyodide.FS.mkdir("/build");
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: build }, "/build");
  pyodide.FS.writeFile("/source.whl", fs.readFileSync(source));
  pyodide.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_numpy;"
    + "compile_numpy.compile_wheel('/source.whl', '/target.whl')");
  fs.writeFileSync(target, pyodide.FS.readFile("/target.whl"));
  const check = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  await check.loadPackage(target, { messageCallback: () => {}, checkIntegrity: false });
  check.FS.mkdir("/build");
  check.FS.mount(check.FS.filesystems.NODEFS, { root: build }, "/build");
  check.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_numpy; compile_numpy.check()");
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
"""


# --- inside Pyodide ---

def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def compile_wheel(source: str, target: str) -> None:
    """Writes `source`'s entries into `target`, sorted, each `.py` compiled to `.pyc`, the
    files in LEFT_OUT and LEFT_OUT_PACKAGES dropped and RECORD rewritten for what remains."""
    from compile_stdlib import compiled_entry, write_entries

    entries: list[tuple[str, bytes, int]] = []
    record = None
    with zipfile.ZipFile(source) as src:
        for entry in src.infolist():
            name = entry.filename
            if name.endswith(".dist-info/RECORD"):
                record = entry
            elif not name.endswith(LEFT_OUT) and not name.startswith(LEFT_OUT_PACKAGES):
                compiled = compiled_entry(name, src.read(entry), SITE_PACKAGES)
                entries.append((*compiled, entry.external_attr))
    if record is None:
        raise SystemExit(f"compile_numpy: {source} has no RECORD: not a wheel")
    lines = [f"{name},{_record_hash(data)},{len(data)}" for name, data, _ in entries
             if not name.endswith("/")]
    lines.append(f"{record.filename},,")
    entries.append((record.filename, ("\n".join(sorted(lines)) + "\n").encode(),
                    record.external_attr))
    write_entries(target, entries)


def check() -> None:
    """Imports NumPy in the running interpreter; fails unless it came from bytecode."""
    import numpy

    origin = numpy.__file__ or ""
    if not origin.endswith(".pyc") or int(numpy.arange(6).reshape(2, 3).sum()) != 15:
        raise SystemExit(f"compile_numpy: numpy was imported from {origin}, not a .pyc")


# --- in CPython ---

def official_wheel(runtime: Path) -> Path:
    """The vendored NumPy wheel, as the runtime's lock file names it."""
    lock = json.loads((runtime / LOCK).read_text())
    return runtime / lock["packages"]["numpy"]["file_name"]


def key(source: Path, version: str) -> str:
    digest = hashlib.sha256(version.encode() + b"\0")
    digest.update(hashlib.sha256(source.read_bytes()).digest())
    digest.update(Path(__file__).read_bytes())
    import compile_stdlib  # CPython only, as below: this script is also imported in Pyodide

    digest.update(Path(compile_stdlib.__file__).read_bytes())
    return digest.hexdigest()[:16]


def compiled() -> Path | None:
    """The compiled wheel for the vendored runtime (made once, then from the cache), or None
    without Node.js."""
    import pyodide_node as runner
    source = official_wheel(runner.PYODIDE)
    if not source.is_file():
        raise SystemExit("compile_numpy: the vendored runtime is missing (run `make vendor`)")
    folder = CACHE / key(source, runner.version())
    target = folder / source.name  # Pyodide reads the package's name from the file's
    if target.is_file():
        return target
    if runner.node() is None:
        print("compile_numpy: Node.js is not installed, so dist/ keeps the source-only NumPy "
              "wheel (each page load compiles what `import numpy` runs)", file=sys.stderr)
        return None
    for stale in CACHE.glob("*/*.whl"):
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "partial" / source.name  # loaded by name in the check
    partial.parent.mkdir(exist_ok=True)
    status = runner.run(NODE_SCRIPT, str(BUILD), str(source), str(partial))
    if status != 0:
        partial.unlink(missing_ok=True)
        raise SystemExit(f"compile_numpy: compiling {source.name} in Pyodide failed "
                         f"(exit {status})")
    partial.replace(target)
    partial.parent.rmdir()
    print(f"compile_numpy: wrote {target.relative_to(BUILD.parent)}", file=sys.stderr)
    return target


def relock(lock: dict, wheel: Path) -> dict:
    """`lock` (a pyodide-lock.json) with NumPy's sha256 that of `wheel`."""
    lock["packages"]["numpy"]["sha256"] = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return lock


if __name__ == "__main__":
    made = compiled()
    print(made or "(none: Node.js is not installed)")
    sys.exit(0)
