#!/usr/bin/env python3
"""Our package for dist/ as one archive, `py/cnnlens.zip`, with its bytecode beside the sources.

    python3 build/package_zip.py      # prints the cached zip's path (build/site.py uses it)

The dev page (`make serve`) has PyScript fetch each module the page imports, one request per
file (`assets/pyscript.json`); a first visit of dist/ asked for ~70 of them, and its service
worker's precache as many again. dist's `pyscript.json` names this zip instead, which PyScript
unpacks into the worker's file system (`"../py/cnnlens.zip": "./*"`): the same files, one
request. Every module's source stays in it (the page reads the ops' source with
`inspect.getsource`), and beside each its bytecode for Pyodide's Python 3.12
(`__pycache__/name.cpython-312.pyc`), checked-hash: Python imports it after comparing the
source's hash, so an edited source is compiled again, and the page skips compiling ours. The
bytecode is compiled inside Pyodide under Node.js (build/pyodide_node.py); without Node.js the
zip holds the sources alone. Beside them goes the code of the methods `dataclasses` writes for
the classes the worker's boot creates (py/cnnlens/dataclass_code.py), recorded there too.
Sorted names and fixed dates make the output byte-identical for
the same input. Cached in build/cache/package/, keyed by the sources, Pyodide's version and
this script.

The same file is imported inside Pyodide (`compile_into`, `record_dataclasses` below).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import zipfile
from pathlib import Path

BUILD = Path(__file__).resolve().parent
ROOT = BUILD.parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)
CACHE = BUILD / "cache" / "package"
DATE = (1980, 1, 1, 0, 0, 0)

NODE_SCRIPT = """
const [runtime, build, py, out] = process.argv.slice(1);
const { loadPyodide } = await import(runtime + "/pyodide.mjs");
try {
  const pyodide = await loadPyodide({ indexURL: runtime + "/", stdout: () => {} });
  for (const [at, root] of [["/build", build], ["/py", py], ["/out", out]]) {
    pyodide.FS.mkdir(at);
    pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root }, at);
  }
  pyodide.runPython(
    "import sys; sys.path.insert(0, '/build'); import package_zip;"
    + "package_zip.compile_into('/py', '/out/compiled.txt', '/out')");
  await pyodide.loadPackage("numpy", { messageCallback: () => {} });
  pyodide.runPython("import package_zip; package_zip.record_dataclasses('/py', '/out')");
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
"""


# --- inside Pyodide ---

def compile_into(py: str, listing: str, out: str) -> None:
    """Compiles each module named in `listing` (paths under `py`, a line each) into
    `out/<its pyc path>`, as a checked-hash pyc named by Pyodide's own cache tag."""
    from importlib._bootstrap_external import _code_to_hash_pyc
    from importlib.util import cache_from_source, source_hash

    for name in Path(listing).read_text().split():
        data = Path(py, name).read_bytes()
        code = compile(data, name, "exec", dont_inherit=True, optimize=0)
        target = Path(out, cache_from_source(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(_code_to_hash_pyc(code, source_hash(data), checked=True)))


# What py/worker.py imports before its first answer (tests/e2e/test_site.py checks that the
# page compiled no dataclass method at boot, so a module missing here fails there).
BOOT_IMPORTS = ("cnnlens.protocol", "cnnlens.later_modules", "cnnlens.page", "cnnlens.webgpu")


def record_dataclasses(py: str, out: str) -> None:
    """Imports `BOOT_IMPORTS` from `py` with cnnlens.dataclass_code's recorder on and writes
    what it recorded under `out`, where the zip's file goes."""
    import importlib

    sys.dont_write_bytecode = True  # `py` is the repository's own folder
    sys.path.insert(0, py)
    from cnnlens import dataclass_code

    codes = dataclass_code.record()
    for name in BOOT_IMPORTS:
        importlib.import_module(name)
    target = Path(out, "cnnlens", dataclass_code.FILE.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    dataclass_code.save(codes, target)


# --- in CPython ---

def key(modules: list[str], version: str) -> str:
    digest = hashlib.sha256(version.encode() + b"\0")
    for name in modules:
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256((ROOT / "py" / name).read_bytes()).digest())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def _bytecode(modules: list[str], folder: Path) -> dict[str, bytes]:
    """pyc path → bytes for `modules`, compiled in Pyodide ({} without Node.js)."""
    import pyodide_node as runner  # CPython only: this script is also imported in Pyodide
    if runner.node() is None:
        print("package_zip: Node.js is not installed, so dist/'s package has no bytecode "
              "(the page compiles our modules on every load)", file=sys.stderr)
        return {}
    (folder / "compiled.txt").write_text("\n".join(modules) + "\n")
    status = runner.run(NODE_SCRIPT, str(BUILD), str(ROOT / "py"), str(folder))
    if status != 0:
        raise SystemExit(f"package_zip: compiling our package in Pyodide failed (exit {status})")
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted([*folder.rglob("*.pyc"), *folder.rglob("*.marshal")])}


def write(target: Path, modules: list[str]) -> None:
    """The zip of `modules` (paths under py/) and their bytecode, sorted, fixed dates."""
    with tempfile.TemporaryDirectory(prefix="cnnlens-package-") as folder:
        entries = {name: (ROOT / "py" / name).read_bytes() for name in modules}
        entries.update(_bytecode(modules, Path(folder)))
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    partial.replace(target)


def packed(modules: list[str]) -> Path:
    """The zip for `modules` (paths under py/, e.g. `cnnlens/page.py`), made once, then
    from the cache."""
    import pyodide_node as runner  # CPython only: this script is also imported in Pyodide
    with_node = "node" if runner.node() else "no-node"
    target = CACHE / f"cnnlens-{key(modules, runner.version())}-{with_node}.zip"
    if target.is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob("cnnlens-*.zip"):
        stale.unlink()
    write(target, modules)
    return target


def page_modules() -> list[str]:
    """The modules the page may import (build/pyscript_config.py's list), under py/."""
    import pyscript_config

    return [src.removeprefix("../py/") for src in pyscript_config.config()["files"]]


if __name__ == "__main__":
    print(packed(page_modules()))
    sys.exit(0)
