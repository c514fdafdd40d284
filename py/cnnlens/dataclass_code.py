"""The methods `dataclasses` writes for the boot's classes, compiled when dist/ is built.

Python 3.12's `dataclasses` writes each method it adds (``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, a frozen class's ``__setattr__``…) as source text and compiles it with `exec`,
one call per method, every time the class is created: the ~140 methods of the ~25 dataclasses
the page's worker creates at boot cost ~90 ms of compiling in Pyodide under Node.js, ~40% of
``import cnnlens.page``. build/package_zip.py imports what the worker imports at boot inside
Pyodide with :func:`record` on, and ships the compiled code, keyed by its source, in dist's
package zip (:data:`FILE`); py/worker.py calls :func:`install` first, which gives `dataclasses`
an `exec` that runs the recorded code for a source it has and compiles any other as before.
The CLI and the tests never install it (and CPython's code could not be loaded from it).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import marshal
from pathlib import Path
from types import CodeType

FILE = Path(__file__).with_name("dataclass_code.marshal")

# How often the installed `exec` ran recorded code, and how often it had to compile.
counts = {"recorded": 0, "compiled": 0}


def _compile(source: str) -> CodeType:
    # As `dataclasses` itself compiles it (its `exec` of a string): no `__future__` flag of
    # this module's (`annotations` would make the methods' annotations strings).
    return compile(source, "<string>", "exec", dont_inherit=True)


def record() -> dict[str, CodeType]:
    """Has `dataclasses` compile through a recorder from now on; returns what it recorded so
    far and will record (source → code)."""
    codes: dict[str, CodeType] = {}

    def recording_exec(source: str, scope: dict, names: dict) -> None:
        codes[source] = code = _compile(source)
        exec(code, scope, names)

    dataclasses.exec = recording_exec
    return codes


def save(codes: dict[str, CodeType], path: Path = FILE) -> None:
    """Writes `codes` with this Python's bytecode magic number."""
    path.write_bytes(marshal.dumps((importlib.util.MAGIC_NUMBER, codes)))


def install(path: Path = FILE) -> int:
    """Has `dataclasses` run the code recorded in `path` for the sources it holds; returns how
    many it holds (0, and nothing changed, when there is no file or another Python wrote it)."""
    try:
        magic, codes = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return 0
    if magic != importlib.util.MAGIC_NUMBER:
        return 0

    def recorded_exec(source: str, scope: dict, names: dict) -> None:
        code = codes.get(source)
        counts["recorded" if code else "compiled"] += 1
        exec(code or _compile(source), scope, names)

    dataclasses.exec = recorded_exec
    return len(codes)
