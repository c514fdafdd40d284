"""The page ↔ worker protocol: one list of requests on each side, and answers the page can read.

`py/cnnlens/protocol.py` and `assets/js/protocol.js` must name the same requests with the
same arguments, answer types and JSON fields; `py/worker.py` must export exactly those, each
reaching a handler that takes those arguments. Every JSON text must parse under JavaScript's
rules (no ``Infinity`` or ``NaN``): a non-finite number is an error answer instead.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import io
import json
import math
import re
import sys
import types
from dataclasses import replace
from typing import get_type_hints

import numpy as np
import pytest
from PIL import Image

from cnnlens import protocol
from cnnlens.loader import load_model
from cnnlens.page import App
from cnnlens.protocol import (
    REQUESTS,
    NonFiniteError,
    ProtocolError,
    check_arguments,
    encode,
)
from tests.onnx_builders import ModelBuilder, onnxruntime_outputs
from tests.paths import ROOT

PROTOCOL_JS = ROOT / "assets" / "js" / "protocol.js"


def strict_json(text: str):
    """Parses like JavaScript's JSON.parse: ``Infinity``, ``-Infinity`` and ``NaN`` fail."""
    def refuse(constant: str):
        raise ValueError(f"JSON.parse cannot read {constant}")

    return json.loads(text, parse_constant=refuse)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


# --- both sides list the same requests ---


def js_requests() -> dict[str, tuple[list[str], str | None]]:
    """REQUESTS of protocol.js: name → (argument names, answer typedef or None)."""
    text = PROTOCOL_JS.read_text()
    block = re.search(r"export const REQUESTS = \{\n(.*?)\n\};", text, re.S)
    assert block, "protocol.js has no REQUESTS"
    entries = {}
    for line in block.group(1).splitlines():
        match = re.fullmatch(r'  (\w+): \{ args: \[(.*)\], answer: (null|"\w+") \},', line)
        assert match, f"unexpected line in protocol.js REQUESTS: {line!r}"
        name, args, answer = match.groups()
        entries[name] = (re.findall(r'"(\w+)"', args), None if answer == "null" else answer[1:-1])
    return entries


def js_json_fields() -> dict[str, list[str]]:
    text = PROTOCOL_JS.read_text()
    block = re.search(r"export const JSON_FIELDS = \{\n(.*?)\n\};", text, re.S)
    assert block, "protocol.js has no JSON_FIELDS"
    return {m[0]: re.findall(r'"(\w+)"', m[1])
            for m in re.findall(r"  (\w+): \[(.*)\],", block.group(1))}


def type_name(answer) -> str | None:
    """The name protocol.py gives an answer type (aliases like ForwardTimes included)."""
    if answer is None:
        return None
    names = [name for name, value in vars(protocol).items() if value is answer]
    assert len(names) == 1, f"{answer} is not one named answer type of protocol.py"
    return names[0]


def json_fields(answer) -> list[str]:
    if not (isinstance(answer, type) and issubclass(answer, dict)):
        return []
    hints = get_type_hints(answer, include_extras=True)
    return [field for field, hint in hints.items() if hint == protocol.Json]


def test_python_and_javascript_define_the_same_requests():
    python = {r.name: (list(r.arguments), type_name(r.answer)) for r in REQUESTS}
    assert js_requests() == python
    # Same order too, so the two files read side by side.
    assert list(js_requests()) == [r.name for r in REQUESTS]


def test_python_and_javascript_agree_on_which_fields_are_json():
    python = {type_name(r.answer): json_fields(r.answer) for r in REQUESTS if json_fields(r.answer)}
    assert js_json_fields() == python
    assert python["OverviewAnswer"] == ["view", "backend"]  # the check itself can see Json fields


@pytest.fixture
def worker(monkeypatch):
    """py/worker.py imported in CPython, with stand-ins for the Pyodide modules it uses."""
    class JsProxy:
        pass

    js = types.ModuleType("js")
    js.Object = types.SimpleNamespace(fromEntries=dict)
    js.performance = types.SimpleNamespace(mark=lambda name: None)
    pyodide_js = types.ModuleType("pyodide_js")
    pyodide = types.ModuleType("pyodide")
    ffi = types.ModuleType("pyodide.ffi")
    ffi.JsProxy = JsProxy
    ffi.to_js = lambda value, dict_converter=None: value
    http = types.ModuleType("pyodide.http")
    http.pyfetch = None
    for name, module in {"js": js, "pyodide_js": pyodide_js, "pyodide": pyodide,
                         "pyodide.ffi": ffi, "pyodide.http": http}.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("cnnlens_test_worker", ROOT / "py" / "worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_worker_exports_exactly_the_requests(worker):
    assert worker.__export__ == [r.name for r in REQUESTS]
    for request in REQUESTS:
        assert callable(getattr(worker, request.name)), request.name


def test_every_handler_takes_the_arguments_its_request_declares(worker):
    for request in REQUESTS:
        handler = worker._HERE.get(request.name) or getattr(App, request.name)
        parameters = list(inspect.signature(handler).parameters)
        if request.name not in worker._HERE:
            parameters = parameters[1:]  # self
        assert parameters == list(request.arguments), request.name


def test_the_worker_answers_bad_arguments_with_an_error(worker):
    answer = asyncio.run(worker.detail("logits", "three"))
    assert answer == {"error": "the channel of detail must be a whole number, not 'three'"}
    assert "takes 4 argument(s)" in asyncio.run(worker.playground(1, 2))["error"]
    # The playground needs no model; the rest wait for `start`.
    assert asyncio.run(worker.playground(5, 1, 3, 1))["playground"]
    assert asyncio.run(worker.mode("layer")) == {"error": "the model is not loaded yet"}


# --- arguments ---


def test_arguments_are_checked_by_number_and_type():
    assert check_arguments("detail", ["logits", 3]) == ["logits", 3]
    assert check_arguments("detail", ["logits", 3.0]) == ["logits", 3]  # a whole JS number
    assert check_arguments("image", [b"\x89PNG", "a.png"]) == [b"\x89PNG", "a.png"]
    for bad in (["logits"], ["logits", 3, 4], ["logits", 2.5], ["logits", True], [3, 3],
                ["logits", None]):
        with pytest.raises(ProtocolError):
            check_arguments("detail", bad)
    with pytest.raises(ProtocolError, match="no request called 'explode'"):
        check_arguments("explode", [])


# --- encoding ---


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_encode_refuses_what_json_parse_cannot_read(bad):
    view = {"kind": "softmax", "classes": [{"exp": 1.0}, {"exp": np.float64(bad)}]}
    with pytest.raises(NonFiniteError, match=r"the softmax produced a non-finite number "
                       r"\(inf or NaN\) \(at classes\[1\]\.exp\)"):
        encode(view, "the softmax")
    with pytest.raises(ValueError):  # what the page would have met before
        strict_json(json.dumps(view))


def test_encode_writes_json_the_page_can_parse():
    view = {"a": [1.5, -2.0, 0.0], "b": {"c": "text", "d": None, "e": True}}
    assert strict_json(encode(view, "a view")) == view


# --- the softmax view with a huge logit, through the page's handlers ---


def head(bias: list[float], seed: int = 0) -> tuple[bytes, ModelBuilder, str, str]:
    """(model bytes, builder, logits name, probabilities name): 4×4 grey → Flatten → Gemm
    (small random weights plus ``bias``) → Softmax."""
    b = ModelBuilder((1, 1, 4, 4), seed=seed)
    flat = b.add("Flatten", [b.input])
    weights = b.initializer(np.random.default_rng(seed).normal(0, 0.1, (len(bias), 16))
                            .astype(np.float32))
    logits = b.add("Gemm", [flat, weights, b.initializer(np.array(bias, np.float32))], transB=1)
    probabilities = b.add("Softmax", [logits], axis=1)
    return b.build().SerializeToString(), b, logits, probabilities


def app_with(model: bytes) -> App:
    app = App(None, "")
    app.loaded = load_model(model, "hot.onnx")
    image = np.random.default_rng(1).integers(0, 256, (4, 4), dtype=np.uint8)
    assert "view" in asyncio.run(app.image(png(image), "noise.png"))
    return app


def test_a_logit_of_800_gives_a_finite_softmax_whose_division_is_the_probability():
    model, builder, logits, probabilities = head([800.0, 799.0, 0.0, -800.0])
    app = app_with(model)
    answer = app.detail(logits, 0)
    assert "error" not in answer, answer
    soft = strict_json(answer["view"])["softmax"]

    import onnx  # the reference: onnxruntime on the same input

    reference = onnxruntime_outputs(onnx.load_from_string(model),
                                    {builder.input_name: app.session.x})
    z = reference[logits][0]
    assert soft["max"] == pytest.approx(float(z.max()), rel=1e-6)
    np.testing.assert_allclose([c["logit"] for c in soft["classes"]], z, rtol=1e-6)
    exps = np.array([c["exp"] for c in soft["classes"]])
    assert np.all(np.isfinite(exps)) and exps.max() == 1.0 and np.all(exps >= 0)
    # What the page shows divides to the probabilities: exp(z − m) / Σ exp(z − m).
    assert soft["total"] == pytest.approx(exps.sum())
    np.testing.assert_allclose(exps / soft["total"], reference[probabilities][0],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose([c["probability"] for c in soft["classes"]],
                               reference[probabilities][0], rtol=1e-5, atol=1e-7)


# --- a non-finite number becomes an error answer; the state stays ---


def test_an_answer_holding_inf_or_nan_is_an_error_answer_and_nothing_changes():
    model, _, logits, _ = head([1.0, 2.0, 3.0])
    app = app_with(model)
    session = app.session
    # A crafted forward pass whose probabilities overflowed (no real graph gets this far:
    # see the report on the overview's colour scales).
    broken = session.result.probabilities.copy()
    broken[0, 1] = np.nan
    app.session = replace(session, result=replace(session.result, probabilities=broken))
    crafted = app.session

    answer = app.detail(logits, 0)
    assert set(answer) == {"error"}
    assert answer["error"] == (
        f"the detail view of {logits} (channel 0) produced a non-finite number (inf or NaN) "
        "(at softmax.classes[1].probability), which the page cannot show")

    answer = app.mode("network")
    assert set(answer) == {"error"}
    assert "the overview produced a non-finite number (inf or NaN)" in answer["error"]
    assert app.session is crafted and app.session.mode == "layer"
