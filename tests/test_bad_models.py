"""The broken-model corpus (tests/bad_models.py) through `loader.load_model` and the CLI,
plus the memory budget's shape inference checked against real forward passes."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from cnnlens.cli import main
from cnnlens.errors import CnnlensError, ModelError
from cnnlens.forward import run
from cnnlens.limits import check_budget
from cnnlens.loader import load_model
from cnnlens.onnx_reader import read_model
from tests.bad_models import ModelCase, bad_model_files
from tests.paths import BUNDLED_MODEL, EXAMPLES
from tests.test_forward import random_cnns

CASES = list(bad_model_files().values())
IMAGE = sorted(EXAMPLES.glob("*.png"))[0]


def _message(error: BaseException) -> str:
    return str(error).lower()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_load_model_raises_our_documented_error(case: ModelCase):
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(CnnlensError) as caught:
        load_model(case.data, case.name)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(caught.value, case.error), repr(caught.value)
    for word in case.words:
        assert word in _message(caught.value), caught.value
    assert str(caught.value).strip()
    assert elapsed < 1.0
    assert peak < 64 * 2**20, f"{case.name} allocated {peak:,} bytes before refusing"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_predict_refuses_the_model(case: ModelCase, tmp_path: Path, capsys):
    path = tmp_path / case.name
    path.write_bytes(case.data)
    out = io.StringIO()
    status = main(["predict", str(path), str(IMAGE), "--json"], out=out)
    err = capsys.readouterr().err
    assert status == 2 and out.getvalue() == ""
    assert err.startswith(f"cnnlens: error: {path}: ")
    assert "Traceback" not in err
    for word in case.words:
        assert word in err.lower(), err


def test_the_corpus_is_deterministic():
    assert {c.name: c.data for c in CASES} == {
        c.name: c.data for c in bad_model_files().values()}


def _inferred_shapes(model, shape) -> dict[str, tuple[int, ...]]:
    """Every shape `check_budget` infers, captured by giving it limits it never reaches."""
    from cnnlens import limits

    shapes: dict[str, tuple[int, ...]] = {n: a.shape for n, a in
                                          model.graph.initializers.items()}
    shapes[model.input.name] = tuple(shape)
    names = list(limits._inferred(model, shapes))
    return {name: shapes[name] for name in names}


def test_inferred_shapes_match_the_bundled_models_forward_pass():
    model = read_model(BUNDLED_MODEL.read_bytes())
    x = np.zeros((1, 1, 28, 28), np.float32)
    actual = {name: t.shape for name, t in run(model, x).tensors.items()}
    inferred = _inferred_shapes(model, x.shape)
    assert len(inferred) == len(actual)
    assert inferred == actual


@settings(max_examples=40, deadline=None)
@given(random_cnns())
def test_inferred_shapes_match_random_cnns(cnn):
    """Every shape the budget infers is the shape the forward pass really makes."""
    model = read_model(cnn.builder.build().SerializeToString())
    actual = {n: t.shape for n, t in run(model, cnn.x).tensors.items()}
    inferred = _inferred_shapes(model, cnn.x.shape)
    assert {n: actual[n] for n in inferred} == inferred
    assert len(inferred) >= len(actual) - 3  # only what follows a computed Reshape is unknown


def test_budget_limits_are_enforced_at_the_boundary():
    model = read_model(BUNDLED_MODEL.read_bytes())
    x_bytes = 28 * 28 * 4
    with pytest.raises(ModelError, match=r"'image'.*limit"):
        check_budget(model, (1, 1, 28, 28), tensor_limit=x_bytes - 1)
    check_budget(model, (1, 1, 28, 28), tensor_limit=10 * 28 * 28 * 4)
    total = sum(int(np.prod(t.shape)) * 4 for t in
                run(model, np.zeros((1, 1, 28, 28), np.float32)).tensors.values())
    check_budget(model, (1, 1, 28, 28), total_limit=total)
    with pytest.raises(ModelError, match="forward pass"):
        check_budget(model, (1, 1, 28, 28), total_limit=total - 1)


# Inputs the fuzzer (make fuzz, docs/FUZZING.md) found raising something other than our errors.
FUZZ_FINDINGS = {
    # an empty initializer of 57 dims (2, 1, 3, 3, 0, 0, 8064, ...): NumPy could not reshape
    "empty-tensor-with-giant-dims": (
        "CAg6uQEKMAoBeAoBxBIBeRoEY29udjEEQ29OdioZCgRwYWRzQODUA0Dg1ANA4NQDQODUA6ABBxIEdGVz"
        "dCpXCAIIAQgDCAMQAUIBdwpIAACAPwAAgD8AAIA/AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/AACAPwAA"
        "gD8AAIA/AACAPwAAgD8AAIA/AACAPwAAgD8AAIA/WhsKAXgSFgoUCAESEAoCCAEKAggBCgIIHAoCCBxi"
        "CQoBeRIECgIIAUIECgAQEQ=="
    ),
}


@pytest.mark.parametrize("name", list(FUZZ_FINDINGS))
def test_fuzz_findings_raise_our_errors(name: str):
    import base64

    with pytest.raises(CnnlensError):
        load_model(base64.b64decode(FUZZ_FINDINGS[name]), name)


def test_a_model_file_over_the_limit_is_refused_before_parsing(monkeypatch):
    from cnnlens import limits

    data = BUNDLED_MODEL.read_bytes()
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", len(data) - 1)
    with pytest.raises(ModelError, match=r"model file is .* over the limit"):
        read_model(data)
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", len(data))
    read_model(data)
