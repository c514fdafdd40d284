"""The vendored runtime as the page is given it: Python's modules as bytecode.

    replacements(root)   # {site path: bytes} served or shipped instead of the vendored file

Pyodide's `python_stdlib.zip` and its NumPy and Pillow wheels hold source only, and a page
that loads them compiles every module it imports on every boot (the dev page's cold boot took
17.8 s from source and 9.9 s from bytecode, medians of 3 on a loaded machine). So the
compiled forms (build/compile_stdlib.py, build/compile_wheels.py) take their place at the
same paths (the stdlib's modules the page never imports in a second zip beside the first, the
wheels' parts beside them), with what must agree with them: `pyodide-lock.json` giving the
compiled wheels' sha256 (which Pyodide checks) and `assets/runtime-sizes.json` the sizes the
boot's "MB of MB" counts. `make site` (build/site.py) writes them into dist/, and the dev
server (build/serve.py, also the browser tests') answers with them, so both run what a
reader gets. Without Node.js there are none and the vendored files are used as they are.
Stdlib only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BUILD = Path(__file__).resolve().parent
ROOT = BUILD.parent
if str(BUILD) not in sys.path:  # its sibling scripts, imported by name (appended: the
    sys.path.append(str(BUILD))  # stdlib's `site` is never shadowed by build/site.py)

import compile_stdlib  # noqa: E402
import compile_wheels  # noqa: E402

RUNTIME = compile_stdlib.RUNTIME_PATH
# The stdlib's modules the page never imports, fetched on first import (never precached).
LATER_STDLIB = compile_stdlib.LATER_PATH
# What the service worker keeps once a first import fetched it, never precaching it: the
# later stdlib, and the wheels' parts that none of the page's features imports.
ON_DEMAND = frozenset({LATER_STDLIB} | {
    f"{RUNTIME}/{compile_wheels.part_name(name, part)}"
    for name, wheel in compile_wheels.WHEELS.items()
    for part, p in wheel.parts.items() if not p.precached})
RUNTIME_SIZES = "assets/runtime-sizes.json"


def replacements(root: Path = ROOT) -> dict[str, bytes]:
    """Site path → the bytes given in place of the repository's file at `root` (built once,
    then cached in build/cache/); empty without Node.js."""
    stdlib = compile_stdlib.compiled()
    wheels = {name: compile_wheels.compiled(name) for name in compile_wheels.WHEELS}
    if stdlib is None or None in wheels.values():
        return {}
    lock_path = root / RUNTIME / compile_wheels.LOCK
    lock = compile_wheels.relock(json.loads(lock_path.read_text()), wheels)
    replaced = {
        f"{RUNTIME}/{compile_stdlib.NAME}": (stdlib / compile_stdlib.NAME).read_bytes(),
        LATER_STDLIB: (stdlib / compile_stdlib.LATER_NAME).read_bytes(),
        f"{RUNTIME}/{compile_wheels.LOCK}": (json.dumps(lock, indent=2) + "\n").encode(),
    }
    for name, wheel in wheels.items():
        replaced[f"{RUNTIME}/{wheel.name}"] = wheel.read_bytes()
        for part in compile_wheels.WHEELS[name].parts:
            archive = compile_wheels.part_name(name, part)
            replaced[f"{RUNTIME}/{archive}"] = (wheel.parent / archive).read_bytes()
    names = json.loads((root / RUNTIME_SIZES).read_text())
    sizes = {name: len(replaced.get(f"{RUNTIME}/{name}", b"")) or
             (root / RUNTIME / name).stat().st_size for name in names}
    replaced[RUNTIME_SIZES] = (json.dumps(sizes, indent=2) + "\n").encode()
    return replaced
