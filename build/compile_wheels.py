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
hooks; Pillow's FreeType library, which draws text with `ImageFont`, 0.21 MB). A wheel's
`parts`, subpackages that its `import` does not load, leave it for archives of their own
beside it (`numpy-random.zip`, …), which py/cnnlens/later_modules.py fetches and unpacks
into site-packages on their first import (listed by a generated module in the wheel,
`_later_<name>`): Pyodide compiles every extension module of a package when it loads it, so
NumPy's random and FFT libraries (a third of its machine code) no longer delay each boot.
`RECORD` lists what each new wheel holds. A wheel keeps its file name; dist's `pyodide-lock.json`
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
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
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
class Part:
    """Subpackages (their folders) shipped beside the wheel, in `<name>-<part>.zip`."""
    folders: tuple[str, ...]
    # Whether the service worker fetches it with each release (what the page's features
    # import, so that they work offline) or keeps it once a first import fetched it.
    precached: bool
    check: str  # run in the checking Pyodide, through the page's finder


@dataclass(frozen=True)
class Wheel:
    top: str                     # what `import` names
    trimmed: tuple[str, ...]     # paths (prefixes) that cannot work or are never used here
    check: str                   # run in a Pyodide that loaded the new wheel
    parts: dict[str, Part] = field(default_factory=dict)


# By lock entry name. NumPy: f2py builds Fortran extensions with a compiler, _pyinstaller
# holds PyInstaller's hooks (`numpy.f2py` is imported only when asked for); `import numpy`
# loads neither random (the methods' seeded noise, the gallery's untrained weights) nor the
# rest of its parts (our code never imports them; numpy.linalg stays: numpy.lib imports it).
# Pillow: _imagingft is FreeType, which ImageFont imports to draw text (without it,
# ImageFont imports and says what is missing when asked to).
WHEELS = {
    "numpy": Wheel(
        "numpy", ("numpy/f2py/", "numpy/_pyinstaller/"),
        "import numpy; assert int(numpy.arange(6).reshape(2, 3).sum()) == 15",
        {"random": Part(("numpy/random/",), True,
                        "import numpy; g = numpy.random.default_rng((0, 1));"
                        " assert g.standard_normal(4, dtype=numpy.float32).dtype == 'float32'"),
         "extras": Part(("numpy/fft/", "numpy/ma/", "numpy/polynomial/", "numpy/testing/"),
                        False, "import numpy.fft, numpy.ma, numpy.polynomial;"
                        " assert abs(numpy.fft.fft([1.0, 2.0]).real[1] + 1) < 1e-12")}),
    "pillow": Wheel("PIL", ("PIL/_imagingft.",), (
        "import io; from PIL import Image; b = io.BytesIO();"
        " Image.new('RGB', (3, 2), (9, 8, 7)).save(b, 'WEBP', lossless=True);"
        " assert Image.open(b).convert('RGB').getpixel((2, 1)) == (9, 8, 7)")),
}

NODE_SCRIPT = """
const [runtime, build, source, target, name, py] = process.argv.slice(1);
const folder = target.slice(0, target.lastIndexOf("/"));
const { loadPyodide } = await import(runtime + "/pyodide.mjs");
const fs = await import("fs");
try {
  const pyodide = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  pyodide.FS.mkdir("/build");
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: build }, "/build");
  pyodide.FS.mkdir("/parts");
  pyodide.FS.writeFile("/source.whl", fs.readFileSync(source));
  pyodide.runPython(
    "import sys; sys.path.insert(0, '/build'); import compile_wheels;"
    + `compile_wheels.compile_wheel('/source.whl', '/target.whl', '${name}', '/parts')`);
  fs.writeFileSync(target, pyodide.FS.readFile("/target.whl"));
  for (const part of pyodide.FS.readdir("/parts").filter((f) => f.endsWith(".zip"))) {
    fs.writeFileSync(`${folder}/${part}`, pyodide.FS.readFile(`/parts/${part}`));
  }
  const check = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  await check.loadPackage(target, { messageCallback: () => {}, checkIntegrity: false });
  for (const [at, root] of [["/build", build], ["/py", py], ["/parts", folder]]) {
    check.FS.mkdir(at);
    check.FS.mount(check.FS.filesystems.NODEFS, { root }, at);
  }
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


def part_name(name: str, part: str) -> str:
    """The archive of package `name`'s `part` (``numpy-random.zip``)."""
    return f"{name}-{part}.zip"


def part_of(file: str, wheel: Wheel) -> str | None:
    """The part of `wheel` an entry of its wheel goes in, or None (the wheel itself)."""
    return next((part for part, p in wheel.parts.items() if file.startswith(p.folders)), None)


def listing(name: str) -> str:
    """The generated module `_later_<name>` (source) that names `name`'s parts for
    py/cnnlens/later_modules.py: where each is in the site, and the packages it holds."""
    from compile_stdlib import RUNTIME_PATH
    from compile_stdlib import listing as write

    return write("build/compile_wheels.py", f"the parts of {name} beside its wheel", [
        (f"{RUNTIME_PATH}/{part_name(name, part)}", SITE_PACKAGES, True,
         {f.strip("/").replace("/", ".") for f in p.folders})
        for part, p in WHEELS[name].parts.items()])


def compile_wheel(source: str, target: str, name: str, parts: str) -> None:
    """Writes the wheel of package `name` at `source` into `target`, sorted, each `.py`
    compiled to `.pyc`, the files in LEFT_OUT and its `trimmed` dropped, its `parts` into
    archives of their own in the folder `parts` (and their listing into the wheel), and
    RECORD rewritten for what remains."""
    from compile_stdlib import compiled_entry, write_entries

    wheel = WHEELS[name]
    entries: list[tuple[str, bytes, int]] = []
    beside: dict[str, list[tuple[str, bytes, int]]] = {part: [] for part in wheel.parts}
    record = None
    with zipfile.ZipFile(source) as src:
        for entry in src.infolist():
            file = entry.filename
            if file.endswith(".dist-info/RECORD"):
                record = entry
            elif not file.endswith(LEFT_OUT) and not file.startswith(wheel.trimmed):
                compiled = (*compiled_entry(file, src.read(entry), SITE_PACKAGES),
                            entry.external_attr)
                part = part_of(file, wheel)
                (entries if part is None else beside[part]).append(compiled)
    if record is None:
        raise SystemExit(f"compile_wheels: {source} has no RECORD: not a wheel")
    if wheel.parts:
        entries.append((*compiled_entry(f"_later_{name}.py", listing(name).encode(),
                                        SITE_PACKAGES), 0o644 << 16))
    lines = [f"{file},{_record_hash(data)},{len(data)}" for file, data, _ in entries
             if not file.endswith("/")]
    lines.append(f"{record.filename},,")
    entries.append((record.filename, ("\n".join(sorted(lines)) + "\n").encode(),
                    record.external_attr))
    write_entries(target, entries)
    for part, files in beside.items():
        if not files:
            raise SystemExit(f"compile_wheels: {name}'s part {part} matches nothing")
        write_entries(f"{parts}/{part_name(name, part)}", files)


def check(name: str) -> None:
    """Runs package `name`'s check in the running interpreter; fails unless its modules
    came from bytecode, or if its parts were imported by then. Then each part's check,
    through the page's finder (py/cnnlens/later_modules.py, at /py) reading the parts'
    archives from /parts."""
    wheel = WHEELS[name]
    exec(wheel.check, {})
    top = wheel.top
    origin = sys.modules[top].__file__ or ""
    if not origin.endswith(".pyc"):
        raise SystemExit(f"compile_wheels: {top} was imported from {origin}, not a .pyc")
    if not wheel.parts:
        return
    from compile_stdlib import finders_reading

    found = finders_reading(f"_later_{name}", "/parts")
    names = {module for finder in found for module in finder.names}
    if early := sorted(names & set(sys.modules)):
        raise SystemExit(f"compile_wheels: `import {top}` imports {early}: not for a part")
    sys.meta_path.extend(found)
    for part in wheel.parts.values():
        exec(part.check, {})
    for module in sorted(names & set(sys.modules)):  # those the checks imported
        origin = sys.modules[module].__file__ or ""
        if not origin.startswith(SITE_PACKAGES) or not origin.endswith(".pyc"):
            raise SystemExit(f"compile_wheels: {module} was imported from {origin}")


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
    the cache; its parts' archives beside it, `part_name`), or None without Node.js."""
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
    shutil.rmtree(CACHE / name, ignore_errors=True)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True)
    status = runner.run(NODE_SCRIPT, str(BUILD), str(source), str(partial / source.name),
                        name, str(BUILD.parent / "py"))
    if status != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise SystemExit(f"compile_wheels: compiling {source.name} in Pyodide failed "
                         f"(exit {status})")
    partial.replace(folder)
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
