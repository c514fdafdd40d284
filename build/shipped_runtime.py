"""The vendored runtime as the page is given it: Python's modules as bytecode.

    replacements(root)   # {site path: bytes} served or shipped instead of the vendored file

Pyodide's `python_stdlib.zip` and its NumPy wheel hold source only, and a page that loads
them compiles every module it imports on every boot (the dev page's cold boot took 17.8 s
from source and 9.9 s from bytecode, medians of 3 on a loaded machine). So the compiled
forms (build/compile_stdlib.py, build/compile_numpy.py) take their place at the same paths,
with what must agree with them: `pyodide-lock.json` giving the compiled wheel's sha256 (which
Pyodide checks) and `assets/runtime-sizes.json` the sizes the boot's "MB of MB" counts.
`make site` (build/site.py) writes them into dist/, and the dev server (build/serve.py, also
the browser tests') answers with them, so both run what a reader gets. Without Node.js there
are none and the vendored files are used as they are. Stdlib only.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = "build/vendor/pyodide"
RUNTIME_SIZES = "assets/runtime-sizes.json"


def _load(name: str):
    """A script of build/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"cnnlens_{name}",
                                                  Path(__file__).parent / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def replacements(root: Path = ROOT) -> dict[str, bytes]:
    """Site path → the bytes given in place of the repository's file at `root` (built once,
    then cached in build/cache/); empty without Node.js."""
    compile_stdlib, numpy = _load("compile_stdlib"), _load("compile_numpy")
    stdlib, wheel = compile_stdlib.compiled(), numpy.compiled()
    if stdlib is None or wheel is None:
        return {}
    lock_path = root / RUNTIME / numpy.LOCK
    lock = numpy.relock(json.loads(lock_path.read_text()), wheel)
    replaced = {
        f"{RUNTIME}/{compile_stdlib.NAME}": stdlib.read_bytes(),
        f"{RUNTIME}/{wheel.name}": wheel.read_bytes(),
        f"{RUNTIME}/{numpy.LOCK}": (json.dumps(lock, indent=2) + "\n").encode(),
    }
    names = json.loads((root / RUNTIME_SIZES).read_text())
    sizes = {name: len(replaced.get(f"{RUNTIME}/{name}", b"")) or
             (root / RUNTIME / name).stat().st_size for name in names}
    replaced[RUNTIME_SIZES] = (json.dumps(sizes, indent=2) + "\n").encode()
    return replaced
