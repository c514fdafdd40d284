"""The boot split finer than the page's stages: where the runtime stage's seconds go.

The page marks its stages (`cnnlens:stage:*`, `cnnlens:ready:1`); the worker marks its own
timeline: assets/js/runtime-progress.js (`cnnlens:runtime:module`, `:wasm-ready`,
`:pyodide-ready`) and py/worker.py (`cnnlens:worker:start`, `:packages-loaded`,
`:imported`, `:model-loaded`). Each part below ends at one boundary, in page time (the
worker's marks moved by the difference of the two `performance.timeOrigin`s); the runtime's
downloads end at the last of its big files' `responseEnd` in the worker's resource timing.
A part whose boundary is missing (an older page) is folded into the next one.
"""

from __future__ import annotations

# (part, where it ends): ("page", mark) on the page's timeline, ("worker", mark) on the
# worker's, ("download", None) the runtime's last big file, ("ready", None) the first
# overview; "draw" is the page drawing that answer (`_drawing`), cut from "first answer".
PARTS = (
    ("page", ("page", "cnnlens:stage:runtime")),
    ("worker start", ("worker", "cnnlens:runtime:module")),
    ("download", ("download", None)),
    ("wasm compile", ("worker", "cnnlens:runtime:wasm-ready")),
    ("Python start", ("worker", "cnnlens:runtime:pyodide-ready")),
    ("PyScript start", ("worker", "cnnlens:worker:start")),
    ("worker.py", ("page", "cnnlens:stage:packages")),
    ("NumPy", ("worker", "cnnlens:worker:packages-loaded")),
    ("import cnnlens", ("worker", "cnnlens:worker:imported")),
    ("model", ("worker", "cnnlens:worker:model-loaded")),
    ("first answer", ("ready", None)),
    ("draw", ("ready", None)),
)
RUNTIME_FILES = ("pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")

_PAGE = """() => ({
    origin: performance.timeOrigin,
    marks: Object.fromEntries(performance.getEntriesByType('mark')
        .filter(m => m.name.startsWith('cnnlens:')).map(m => [m.name, m.startTime])),
    renders: performance.getEntriesByName('cnnlens:render')
        .map(m => [m.startTime, m.duration]),
})"""
_WORKER = """() => ({
    origin: performance.timeOrigin,
    marks: Object.fromEntries(performance.getEntriesByType('mark')
        .filter(m => m.name.startsWith('cnnlens:')).map(m => [m.name, m.startTime])),
    resources: performance.getEntriesByType('resource').map(r => [r.name, r.responseEnd]),
})"""


def _worker_timeline(page) -> dict | None:
    """The PyScript worker's marks and resources (the worker that ran py/worker.py: the
    built site's snapshot maker, assets/js/snapshot-maker.js, marks its runtime too)."""
    for worker in page.workers:
        timeline = worker.evaluate(_WORKER)
        if "cnnlens:worker:start" in timeline["marks"]:
            return timeline
    return None


def _drawing(page_timeline: dict) -> float:
    """How long the page drew the first live answer: its first render after the worker's
    answer was asked for (a prerendered first paint is drawn earlier, and an answer equal to
    it is not drawn again: 0)."""
    asked = page_timeline["marks"].get("cnnlens:stage:forward", 0.0)
    ready = page_timeline["marks"].get("cnnlens:ready:1", 0.0)
    drawn = [d for start, d in page_timeline["renders"] if asked <= start <= ready]
    return drawn[0] if drawn else 0.0


def boundaries(page_timeline: dict, worker: dict | None) -> dict[str, float | None]:
    """Where each part ends, in ms since navigation start (None: not marked)."""
    shift = (worker["origin"] - page_timeline["origin"]) if worker else 0.0
    marks = page_timeline["marks"]
    ready = marks.get("cnnlens:ready:1")
    downloads = [end for url, end in (worker or {}).get("resources", [])
                 if url.rsplit("/", 1)[-1].split("?")[0] in RUNTIME_FILES and end > 0]
    ends: dict[str, float | None] = {}
    for part, (where, name) in PARTS:
        if where == "page":
            ends[part] = marks.get(name)
        elif where == "worker":
            found = worker["marks"].get(name) if worker else None
            ends[part] = None if found is None else found + shift
        elif where == "download":
            ends[part] = max(downloads) + shift if downloads else None
        elif part == "first answer":
            ends[part] = None if ready is None else ready - _drawing(page_timeline)
        else:
            ends[part] = ready
    return ends


def split(ends: dict[str, float | None]) -> dict[str, float]:
    """Milliseconds per part; boundaries out of order (a download that ends after the
    compile) are held at the previous one, so the parts add up to the boot time."""
    parts, last = {}, 0.0
    for part, end in ends.items():
        if end is None:
            continue
        end = max(end, last)
        parts[part] = end - last
        last = end
    return parts


def restored(page) -> bool:
    """Whether this page's Python was restored from its memory snapshot (the built site's
    later visits, assets/js/snapshot.js): "Python start" is then the restore."""
    worker = _worker_timeline(page)
    return bool(worker and "cnnlens:runtime:snapshot-restored" in worker["marks"])


def measure(page) -> dict[str, float]:
    """The finer split of the boot this page has just done (it must have drawn ready:1)."""
    return split(boundaries(page.evaluate(_PAGE), _worker_timeline(page)))
