"""Runs the vendored Pyodide under Node.js, for build steps that must run on the worker's own
runtime (Python 3.12, Pyodide's NumPy) rather than on CPython: build/prerender.py and
build/compile_stdlib.py.

    run(NODE_SCRIPT, *args)   # node --input-type=module -e NODE_SCRIPT RUNTIME *args

The script's first argument is the runtime's folder (load `RUNTIME + "/pyodide.mjs"`). Stdlib only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PYODIDE = Path(__file__).resolve().parent / "vendor" / "pyodide"


def node() -> str | None:
    """Node.js's executable, or None when it is not installed."""
    return shutil.which("node")


def version() -> str:
    """The vendored Pyodide's version (from its lock file)."""
    return json.loads((PYODIDE / "pyodide-lock.json").read_text())["info"]["version"]


def _runtime(folder: Path) -> Path:
    """The vendored runtime, hard-linked (or copied) into `folder`, where Node reads it as
    CommonJS: pyodide.asm.js is CommonJS, which Node assumes only outside our package.json's
    "type": "module" (and ESLint would lint a copy inside the repository)."""
    (folder / "package.json").write_text('{"type": "commonjs"}\n')
    target = folder / "runtime"
    target.mkdir()
    for source in PYODIDE.iterdir():
        try:
            os.link(source, target / source.name)
        except OSError:
            shutil.copy2(source, target / source.name)
    return target


def run(script: str, *args: str) -> int:
    """Runs the ES module `script` under Node with the runtime's folder and `args` as its
    arguments; returns Node's exit status. Node must be installed (see `node()`)."""
    executable = node()
    if executable is None:
        raise RuntimeError("Node.js is not installed")
    if not (PYODIDE / "pyodide.mjs").is_file():
        raise SystemExit("the vendored runtime is missing (run `make vendor` first)")
    with tempfile.TemporaryDirectory(prefix="cnnlens-pyodide-") as folder:
        runtime = _runtime(Path(folder))
        done = subprocess.run([executable, "--input-type=module", "-e", script, str(runtime),
                               *args], cwd=folder)
    return done.returncode
