#!/usr/bin/env python3
"""Pyodide's NumPy and Pillow wheels as bytecode, for dist/: each `name.py` becomes `name.pyc`.

    python3 build/compile_wheels.py      # prints the cached wheels' paths (build/site.py uses them)

The wheels Pyodide 0.27.7 ships hold their Python modules as source only, so every page
load compiled each module `import numpy` runs (some ninety, 3.6 MB of source: about 0.7 s of
compiling in CPython, several times that in Pyodide while its interpreter is still being
tiered up), and the first upload each of Pillow's. Here they are compiled once, as the stdlib
is (build/compile_stdlib.py, whose compile step this shares: unchecked-hash pycs imported
sourceless, Pyodide's Python 3.12 under Node.js), and what only compilers and type checkers
read (`.pyi` stubs, C headers and sources, Cython sources and declarations) is left out, as
is what cannot work or is never used in a page (`TRIMMED`: NumPy's f2py and PyInstaller's
hooks; Pillow's FreeType library, which draws text with `ImageFont`, 0.21 MB). `RECORD`
lists what each new wheel holds. A wheel keeps its file name; dist's `pyodide-lock.json`
gives its own sha256, which Pyodide checks when it loads it. A second Pyodide then loads the
new wheel and imports the package from its bytecode before it is used. Sorted names and
fixed dates make the output byte-identical for the same input; cached in
build/cache/wheels/, keyed by the wheel, Pyodide's version and both scripts. Without Node.js
there are none and dist/ keeps the official wheels.

The same file is imported inside Pyodide (`compile_wheel` below).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

BUILD = Path(__file__).resolve().parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)
CACHE = BUILD / "cache" / "wheels"
LOCK = "pyodide-lock.json"
# Where Pyodide unpacks wheels: the bytecode's file names, so tracebacks name real paths.
SITE_PACKAGES = "/lib/python3.12/site-packages"
# Read by compilers and type checkers only; never imported.
LEFT_OUT = (".pyi", ".h", ".c", ".pxd", ".pyx")


@dataclass(frozen=True)
class Wheel:
    top: str                     # what `import` names
    trimmed: tuple[str, ...]     # paths (prefixes) that cannot work or are never used here
    check: str                   # run in a Pyodide that loaded the new wheel


# By lock entry name. NumPy: f2py builds Fortran extensions with a compiler, _pyinstaller
# holds PyInstaller's hooks (`numpy.f2py` is imported only when asked for). Pillow:
# _imagingft is FreeType, which ImageFont imports to draw text (without it, ImageFont
# imports and says what is missing when asked to).
WHEELS = {
    "numpy": Wheel("numpy", ("numpy/f2py/", "numpy/_pyinstaller/"),
                   "import numpy; assert int(numpy.arange(6).reshape(2, 3).sum()) == 15"),
    "pillow": Wheel("PIL", ("PIL/_imagingft.",), (
        "import io; from PIL import Image; b = io.BytesIO();"
        " Image.new('RGB', (3, 2), (9, 8, 7)).save(b, 'WEBP', lossless=True);"
        " assert Image.open(b).convert('RGB').getpixel((2, 1)) == (9, 8, 7)")),
}

NODE_SCRIPT = """
const [runtime, build, source, target, name] = process.argv.slice(1);
const { loadPyodide } = await import(runtime + "/pyodide.mjs");
const fs = await import("fs");
try {
  const pyodide = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  pyodide.FS.mkdir("/build");
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: build }, "/build");
  pyodide.FS.writeFile("/source.whl", fs.readFileSync(source));
  pyodide.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_wheels;"
    + `compile_wheels.compile_wheel('/source.whl', '/target.whl', '${name}')`);
  fs.writeFileSync(target, pyodide.FS.readFile("/target.whl"));
  const check = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  await check.loadPackage(target, { messageCallback: () => {}, checkIntegrity: false });
  check.FS.mkdir("/build");
  check.FS.mount(check.FS.filesystems.NODEFS, { root: build }, "/build");
  check.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_wheels;"
    + `compile_wheels.check('${name}')`);
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
"""


# --- inside Pyodide ---

def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def compile_wheel(source: str, target: str, name: str) -> None:
    """Writes the wheel of package `name` at `source` into `target`, sorted, each `.py`
    compiled to `.pyc`, the files in LEFT_OUT and its `trimmed` dropped and RECORD rewritten
    for what remains."""
    from compile_stdlib import compiled_entry, write_entries

    entries: list[tuple[str, bytes, int]] = []
    record = None
    with zipfile.ZipFile(source) as src:
        for entry in src.infolist():
            file = entry.filename
            if file.endswith(".dist-info/RECORD"):
                record = entry
            elif not file.endswith(LEFT_OUT) and not file.startswith(WHEELS[name].trimmed):
                compiled = compiled_entry(file, src.read(entry), SITE_PACKAGES)
                entries.append((*compiled, entry.external_attr))
    if record is None:
        raise SystemExit(f"compile_wheels: {source} has no RECORD: not a wheel")
    lines = [f"{file},{_record_hash(data)},{len(data)}" for file, data, _ in entries
             if not file.endswith("/")]
    lines.append(f"{record.filename},,")
    entries.append((record.filename, ("\n".join(sorted(lines)) + "\n").encode(),
                    record.external_attr))
    write_entries(target, entries)


def check(name: str) -> None:
    """Runs package `name`'s check in the running interpreter; fails unless its modules
    came from bytecode."""
    wheel = WHEELS[name]
    exec(wheel.check, {})
    top = wheel.top
    origin = sys.modules[top].__file__ or ""
    if not origin.endswith(".pyc"):
        raise SystemExit(f"compile_wheels: {top} was imported from {origin}, not a .pyc")


# --- in CPython ---

def official_wheel(runtime: Path, name: str) -> Path:
    """The vendored wheel of package `name`, as the runtime's lock file names it."""
    lock = json.loads((runtime / LOCK).read_text())
    return runtime / lock["packages"][name]["file_name"]


def key(source: Path, version: str) -> str:
    digest = hashlib.sha256(version.encode() + b"\0")
    digest.update(hashlib.sha256(source.read_bytes()).digest())
    digest.update(Path(__file__).read_bytes())
    import compile_stdlib  # CPython only, as below: this script is also imported in Pyodide

    digest.update(Path(compile_stdlib.__file__).read_bytes())
    return digest.hexdigest()[:16]


def compiled(name: str) -> Path | None:
    """The compiled wheel of package `name` for the vendored runtime (made once, then from
    the cache), or None without Node.js."""
    import pyodide_node as runner
    source = official_wheel(runner.PYODIDE, name)
    if not source.is_file():
        raise SystemExit("compile_wheels: the vendored runtime is missing (run `make vendor`)")
    folder = CACHE / name / key(source, runner.version())
    target = folder / source.name  # Pyodide reads the package's name from the file's
    if target.is_file():
        return target
    if runner.node() is None:
        print(f"compile_wheels: Node.js is not installed, so dist/ keeps the source-only {name} "
              "wheel (each page load compiles the modules it imports)", file=sys.stderr)
        return None
    for stale in (CACHE / name).glob("*/*.whl"):
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "partial" / source.name  # loaded by name in the check
    partial.parent.mkdir(exist_ok=True)
    status = runner.run(NODE_SCRIPT, str(BUILD), str(source), str(partial), name)
    if status != 0:
        partial.unlink(missing_ok=True)
        raise SystemExit(f"compile_wheels: compiling {source.name} in Pyodide failed "
                         f"(exit {status})")
    partial.replace(target)
    partial.parent.rmdir()
    print(f"compile_wheels: wrote {target.relative_to(BUILD.parent)}", file=sys.stderr)
    return target


def relock(lock: dict, wheels: dict[str, Path]) -> dict:
    """`lock` (a pyodide-lock.json) with each package's sha256 that of its wheel in
    `wheels` (package name → file)."""
    for name, wheel in wheels.items():
        lock["packages"][name]["sha256"] = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return lock


if __name__ == "__main__":
    for package in WHEELS:
        print(compiled(package) or f"{package}: none (Node.js is not installed)")
    sys.exit(0)
