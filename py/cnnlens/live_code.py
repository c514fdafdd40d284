"""Live code: the learner edits the engine's own functions and kernels in the page.

Each cell shows the ``core`` of an op spec (:data:`CELLS`: ``relu``, ``convolve``,
``max_pool``, ``softmax``), read with :func:`inspect.getsource` from the package's own
files when the page asks, so it is the code that runs, never a copy kept for display
(the worker ships those modules as source: ``build/pyscript_config.py``). What the learner
writes is compiled in a copy of that module's namespace and replaces the function inside
the op's forward (:class:`cnnlens.edits.Edits`), checked on every call:

- a time budget (:data:`BUDGET_S`) through :func:`sys.settrace`, which stops a runaway loop
  between two lines of the learner's code (no SharedArrayBuffer, so the page cannot
  interrupt the worker; a long NumPy call runs to its end);
- the output must be an array of the shape and dtype the engine's own function returns,
  and finite where the engine's is.

Any failure is a :class:`CodeError` with the cell and line; the session stays as it was.
The requests (``code``, ``code_run``, ``code_reset``, ``kernel``, ``kernel_set``) start
here; ``page.App`` only hands them the session.
"""

from __future__ import annotations

import inspect
import json
import sys
import textwrap
import time
import types
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from .edits import NO_EDITS, Edits, KernelEdit, conv_weight, with_kernel
from .errors import CnnlensError
from .ops import SPECS
from .ops.spec import OpSpec
from .protocol import CodeErrorAnswer
from .session import Session

CELLS: dict[str, str] = {"conv": "Conv", "relu": "Relu", "pool": "MaxPool", "softmax": "Softmax"}
"""Cell name → the op type whose spec's ``core`` the cell shows, in the page's order."""
BUDGET_S = 2.0
"""Longest one call of the learner's code may run before it is stopped."""


class CodeError(CnnlensError):
    """The learner's code failed: ``cell`` and ``line`` (1-based, in the cell) say where."""

    def __init__(self, cell: str, line: int, message: str) -> None:
        super().__init__(f"{cell}, line {line}: {message}")
        self.cell, self.line, self.message = cell, line, message

    def answer(self) -> CodeErrorAnswer:
        return {"error": str(self), "cell": self.cell, "line": self.line}


class _OutOfTime(BaseException):
    """Raised inside the learner's code when the budget is spent; not an ``Exception``, so
    an ``except Exception`` there does not swallow it."""


def _core(cell: str) -> Callable[..., np.ndarray]:
    if cell not in CELLS:
        raise CnnlensError(f"there is no code cell called {cell!r}; the cells are "
                           f"{', '.join(CELLS)}")
    core = SPECS[CELLS[cell]].core
    assert core is not None  # tests/test_live_code.py checks every cell's spec has one
    return core


def original_source(cell: str) -> str:
    """The source of the function the engine runs for ``cell``, as written in its module."""
    try:
        return textwrap.dedent(inspect.getsource(_core(cell)))
    except OSError as error:  # shipped without its source: the page could not show it
        raise CnnlensError(f"the source of the {cell} function is not in this build") from error


def cells(edits: Edits) -> list[dict[str, Any]]:
    """Per cell: its name, op, function, where it lives, the engine's source and the text
    in effect (the learner's, or the engine's)."""
    edited = dict(edits.code)
    made = []
    for cell, op in CELLS.items():
        core = _core(cell)
        source = original_source(cell)
        made.append({"cell": cell, "op": op, "function": core.__name__,
                     "module": core.__module__, "line": core.__code__.co_firstlineno,
                     "source": source, "text": edited.get(cell, source)})
    return made


# --- running the learner's code within a budget ---


def _filename(cell: str) -> str:
    return f"<cell {cell}>"


def _guarded(cell: str, call: Callable[[], Any], last: list[int]) -> Any:
    """``call()`` with the learner's lines traced against the budget; ``last`` gets the line
    of the cell that ran last (where an output error is reported)."""
    filename = _filename(cell)
    deadline = time.perf_counter() + BUDGET_S

    def local(frame: types.FrameType, event: str, arg: Any) -> Any:
        last[0] = frame.f_lineno
        if time.perf_counter() > deadline:
            raise _OutOfTime
        return local

    def on_call(frame: types.FrameType, event: str, arg: Any) -> Any:
        if time.perf_counter() > deadline:
            raise _OutOfTime
        return local if frame.f_code.co_filename == filename else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        return call()
    except _OutOfTime as stop:
        raise CodeError(cell, _line(stop, filename, last[0]),
                        f"stopped after {BUDGET_S:g} s: the code ran too long (an endless "
                        "loop?)") from None
    except CodeError:
        raise
    except (Exception, SystemExit) as error:
        raise CodeError(cell, _line(error, filename, last[0]),
                        f"{type(error).__name__}: {error}") from None
    finally:
        sys.settrace(previous)


def _line(error: BaseException, filename: str, fallback: int) -> int:
    """The last line of the cell in ``error``'s traceback (a syntax error's own line)."""
    if isinstance(error, SyntaxError) and error.filename == filename:
        return error.lineno or 1
    lines = [tb.tb_lineno for tb in _frames(error.__traceback__)
             if tb.tb_frame.f_code.co_filename == filename]
    return lines[-1] if lines else max(fallback, 1)


def _frames(tb: types.TracebackType | None):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def compile_cell(cell: str, text: str) -> Callable[..., np.ndarray]:
    """The learner's version of ``cell``'s function, checked on every call against the
    engine's (``CodeError`` for a syntax error, a failure while defining it, or no such
    function)."""
    core = _core(cell)
    filename = _filename(cell)
    try:
        code = compile(text, filename, "exec")
    except SyntaxError as error:
        raise CodeError(cell, error.lineno or 1, f"SyntaxError: {error.msg}") from None
    namespace = dict(vars(sys.modules[core.__module__]))
    last = [1]
    _guarded(cell, lambda: exec(code, namespace), last)
    learner = namespace.get(core.__name__)
    if not callable(learner) or learner is core:
        raise CodeError(cell, 1, f"the cell must define {core.__name__}(...)")

    def edited(*args: Any, **kwargs: Any) -> np.ndarray:
        expected = core(*args, **kwargs)
        got = _guarded(cell, lambda: learner(*args, **kwargs), last)
        _check_output(cell, core.__name__, last[0], got, expected)
        return got

    edited.__name__ = core.__name__
    return edited


def _check_output(cell: str, name: str, line: int, got: Any, expected: np.ndarray) -> None:
    if not isinstance(got, np.ndarray):
        raise CodeError(cell, line, f"{name} returned {type(got).__name__}, not a NumPy array")
    if got.shape != expected.shape:
        raise CodeError(cell, line, f"{name} returned shape {got.shape}; the next layer "
                        f"needs {expected.shape}")
    if got.dtype != expected.dtype:
        raise CodeError(cell, line, f"{name} returned {got.dtype} values; the engine computes "
                        f"in {expected.dtype} (add .astype(x.dtype))")
    if np.issubdtype(got.dtype, np.floating) and not np.isfinite(got).all() \
            and np.isfinite(expected).all():
        raise CodeError(cell, line, f"{name} returned inf or NaN values")


def _with_function(spec: OpSpec, learner: Callable[..., np.ndarray]) -> OpSpec:
    """``spec`` whose forward (and older forms) call ``learner`` in place of its core."""
    assert spec.core is not None
    name = spec.core.__name__

    def rebound(function: Callable) -> Callable:
        made = types.FunctionType(function.__code__, {**function.__globals__, name: learner},
                                  function.__name__, function.__defaults__,
                                  function.__closure__)
        made.__kwdefaults__ = function.__kwdefaults__
        return made

    return replace(spec, forward=rebound(spec.forward), core=learner,
                   earlier=tuple((below, rebound(f)) for below, f in spec.earlier))


def with_code(edits: Edits, texts: dict[str, str]) -> Edits:
    """``edits`` with the cells' texts in effect: a cell whose text is the engine's source
    (whitespace at the ends aside) is not an edit."""
    code, overrides = [], {}
    for cell, op in CELLS.items():
        text = texts.get(cell, dict(edits.code).get(cell))
        if text is None or text.strip() == original_source(cell).strip():
            continue
        overrides[op] = _with_function(SPECS[op], compile_cell(cell, text))
        code.append((cell, text))
    return replace(edits, code=tuple(code), overrides=types.MappingProxyType(overrides))


# --- the requests (page.App hands over its session) ---


def code_view(session: Session | None) -> dict[str, Any]:
    """``code()``: the cells and what is modified."""
    edits = NO_EDITS if session is None else session.edits
    kernels = [{"layer": k.layer, "channel": k.channel,
                "input_channel": -1 if k.input_channel is None else k.input_channel,
                "values": [list(row) for row in k.values]} for k in edits.kernels]
    return {"cells": cells(edits), "modified": edits.labels, "kernels": kernels,
            "budget_s": BUDGET_S}


def run_code(session: Session, texts: str) -> Session:
    """``code_run(texts)``: the session recomputed with the cells' texts (a JSON object,
    cell → text; a cell left out keeps its text)."""
    try:
        parsed = json.loads(texts)
    except json.JSONDecodeError as error:
        raise CnnlensError(f"the code cells did not arrive as JSON ({error})") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise CnnlensError("the code cells must be a JSON object of cell → text")
    for cell in parsed:
        _core(cell)
    return session.with_edits(with_code(session.edits, parsed))


def reset(session: Session) -> Session:
    """``code_reset()``: the engine's functions and the model's own kernels again."""
    loaded = session.loaded
    if session.edits.base is not None:
        loaded = replace(loaded, model=session.edits.base)
    return replace(session, loaded=loaded).with_edits(NO_EDITS)


def kernel_view(session: Session, layer: str, channel: int) -> dict[str, Any]:
    """``kernel(layer, channel)``: neuron ``channel``'s kernels ``(C, kH, kW)`` now and in
    the model as loaded."""
    _node, name, weight = conv_weight(session.loaded.model, layer)
    if not 0 <= channel < weight.shape[0]:
        raise CnnlensError(f"{layer} has neurons 0 to {weight.shape[0] - 1}, not {channel}")
    base = session.edits.base or session.loaded.model
    return {"layer": layer, "channel": channel, "weight": name,
            "values": weight[channel].tolist(),
            "original": base.graph.initializers[name][channel].tolist()}


def set_kernel(session: Session, layer: str, channel: int, input_channel: int,
               values: str) -> Session:
    """``kernel_set(...)``: neuron ``channel`` of ``layer`` with a ``kH × kW`` kernel (JSON
    rows) on ``input_channel`` (-1: on every input channel); every view follows."""
    try:
        rows = json.loads(values)
        kernel = tuple(tuple(float(v) for v in row) for row in rows)
    except (json.JSONDecodeError, TypeError, ValueError):
        raise CnnlensError("a kernel is a JSON list of rows of numbers") from None
    single = conv_weight(session.loaded.model, layer)[2].shape[1] == 1  # nothing to name
    edit = KernelEdit(layer, channel, None if input_channel < 0 or single else input_channel,
                      kernel)
    edits = session.edits
    base = edits.base or session.loaded.model
    model = with_kernel(session.loaded.model, edit)
    kept = tuple(k for k in edits.kernels if (k.layer, k.channel) != (layer, channel)
                 or (edit.input_channel is not None and k.input_channel != edit.input_channel))
    made = replace(edits, kernels=(*kept, edit), base=base)
    return replace(session, loaded=replace(session.loaded, model=model)).with_edits(made)
