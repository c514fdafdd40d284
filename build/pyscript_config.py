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


def config() -> dict[str, object]:
    """The PyScript config: our local interpreter and every module of the package."""
    modules = sorted(p.relative_to(ROOT / "py").as_posix() for p in PACKAGE.rglob("*.py"))
    return {
        "interpreter": "../build/vendor/pyodide/pyodide.mjs",
        # Packages are loaded by py/main.py from our own trimmed pyodide-lock.json.
        "packages_cache": "never",
        "files": {f"../py/{module}": f"./{module}" for module in modules},
    }


def render() -> str:
    return json.dumps(config(), indent=2) + "\n"


def main() -> int:
    text = render()
    if CONFIG.exists() and CONFIG.read_text() == text:
        return 0
    CONFIG.write_text(text)
    print(f"wrote {CONFIG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
