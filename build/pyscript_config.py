"""Writes `assets/pyscript.json`: where PyScript finds our Pyodide and our Python files.

PyScript resolves every relative URL in the config against the config file itself, so
paths here are relative to `assets/`. Run after adding or removing a module under
`py/cnnlens/`; `make serve` and `make test` run it, and a test fails when it is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "assets" / "pyscript.json"
PACKAGE = ROOT / "py" / "cnnlens"
# The runtime's big downloads, whose sizes let the boot show "4.2 of 12.5 MB"
# (assets/js/runtime-progress.js counts the bytes as they arrive).
SIZES = ROOT / "assets" / "runtime-sizes.json"
PYODIDE = ROOT / "build" / "vendor" / "pyodide"
RUNTIME_FILES = ("pyodide.asm.wasm", "python_stdlib.zip")
# The command line is never imported by the page, so the page does not fetch it.
CLI_ONLY = ("cnnlens/__main__.py", "cnnlens/cli.py", "cnnlens/commands/")
# Our package as one archive (build/package_zip.py), what dist/ and the dev server give the
# page in place of one request per module.
ARCHIVE = "py/cnnlens.zip"


def cli_modules() -> list[str]:
    """The package's modules (paths under py/) that only the command line imports."""
    return [m for m in _modules() if m.startswith(CLI_ONLY)]


def _modules() -> list[str]:
    return sorted(p.relative_to(ROOT / "py").as_posix() for p in PACKAGE.rglob("*.py"))


def config(packaged: bool = False) -> dict[str, object]:
    """The PyScript config: our local interpreter and every module of the package the page
    may import (all but the command line's), or, `packaged`, the archive PyScript unpacks
    that holds them."""
    modules = [m for m in _modules() if not m.startswith(CLI_ONLY)]
    files = ({f"../{ARCHIVE}": "./*"} if packaged else
             {f"../py/{module}": f"./{module}" for module in modules})
    return {
        "interpreter": "../build/vendor/pyodide/pyodide.mjs",
        # Packages are loaded by py/main.py from our own trimmed pyodide-lock.json.
        "packages_cache": "never",
        "files": files,
    }


def render() -> str:
    return json.dumps(config(), indent=2) + "\n"


def runtime_sizes() -> str | None:
    """`{file name: bytes}` of the vendored runtime files, or None before `make vendor`."""
    paths = [PYODIDE / name for name in RUNTIME_FILES]
    if not all(path.is_file() for path in paths):
        return None
    return json.dumps({path.name: path.stat().st_size for path in paths}, indent=2) + "\n"


def _write(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    path.write_text(text)
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    _write(CONFIG, render())
    sizes = runtime_sizes()
    if sizes is not None:
        _write(SIZES, sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
