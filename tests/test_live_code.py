"""Live code (issue 18) in CPython: the cells are the engine's own source, the learner's code
runs through the one forward loop, its failures name the cell and line and change nothing,
kernel edits touch one neuron, Reset is exact; and the page ships the sources it shows."""

from __future__ import annotations

import inspect
import json
import re
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper

from cnnlens import live_code
from cnnlens.backward import backward
from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.methods.targets import predicted_class, seeds
from cnnlens.ops import SPECS
from cnnlens.session import Session
from tests.paths import BUNDLED_MODEL as MODEL
from tests.paths import EXAMPLES, ROOT, load_build_script

LEAKY = "def relu(x):\n    return np.where(x > 0, x, 0.1 * x)\n"


@pytest.fixture(scope="module")
def session() -> Session:
    first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
    return Session.start(load_model(MODEL.read_bytes(), MODEL.name),
                         (EXAMPLES / first).read_bytes(), first)


def ort_probabilities(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    runner = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    logits = runner.run(None, {runner.get_inputs()[0].name: x})[0]
    return torch.softmax(torch.from_numpy(logits.astype(np.float64)), dim=1).numpy()


def test_every_cell_is_the_core_of_its_op_spec_read_from_its_module():
    for cell, op in live_code.CELLS.items():
        core = SPECS[op].core
        assert core is not None, op
        module_text = (ROOT / "py" / (core.__module__.replace(".", "/") + ".py")).read_text()
        assert live_code.original_source(cell) in module_text
        assert live_code.original_source(cell).startswith(f"def {core.__name__}(")


def test_the_page_ships_the_sources_it_shows(tmp_path, monkeypatch):
    """The cells read the engine's source in the page: the modules whose functions they show
    must stay source files in the dev page's file list and in dist's package zip, which
    also carries bytecode (issue 15); without them `code` could only answer an error."""
    shown = [SPECS[op].core.__module__.replace(".", "/") + ".py"
             for op in live_code.CELLS.values()]
    files = load_build_script("pyscript_config").config()["files"]
    for module in shown:
        assert files.get(f"../py/{module}") == f"./{module}", module
    shipped = json.loads((ROOT / "assets" / "pyscript.json").read_text())["files"]
    assert "../py/cnnlens/live_code.py" in shipped and "../py/cnnlens/edits.py" in shipped
    package = load_build_script("package_zip")
    monkeypatch.setattr(package, "_bytecode", lambda modules, folder: {})  # no Node.js here
    package.write(tmp_path / "cnnlens.zip", package.page_modules())
    with zipfile.ZipFile(tmp_path / "cnnlens.zip") as archive:
        for module in shown:
            assert archive.read(module) == (ROOT / "py" / module).read_bytes(), module


def test_leaky_relu_runs_in_every_relu_layer_and_matches_onnxruntime(session):
    edited = live_code.run_code(session, json.dumps({"relu": LEAKY}))
    tensors = edited.result.tensors
    for conv, relu in (("conv_1_1", "relu_1_1"), ("conv_2_2", "relu_2_2")):
        c = tensors[conv]
        np.testing.assert_array_equal(tensors[relu], np.where(c > 0, c, c * np.float32(0.1)))
    model = onnx.load(MODEL)
    for node in model.graph.node:
        if node.op_type == "Relu":
            node.op_type = "LeakyRelu"
            node.attribute.append(helper.make_attribute("alpha", 0.1))
    np.testing.assert_allclose(edited.result.probabilities, ort_probabilities(model, session.x),
                               rtol=1e-4, atol=1e-6)
    assert edited.edits.labels == ["relu()"]
    view, _ = edited.overview()
    assert view["modified"] == ["relu()"]
    assert "modified" not in session.overview()[0]  # the prerendered overview is unchanged


def test_a_softmax_temperature_also_makes_the_probabilities_of_a_model_ending_in_logits(session):
    hot = live_code.original_source("softmax").replace(
        "shifted = x - x.max(axis=along, keepdims=True)",
        "shifted = (x - x.max(axis=along, keepdims=True)) / 4")
    edited = live_code.run_code(session, json.dumps({"softmax": hot}))
    logits = torch.from_numpy(session.result.logits.astype(np.float64))
    np.testing.assert_allclose(edited.result.probabilities,
                               torch.softmax(logits / 4, dim=1).numpy(), rtol=1e-5)


@pytest.mark.parametrize(("text", "line", "says"), [
    ("def relu(x):\n    return x +\n", 2, "SyntaxError"),
    ("def relu(x):\n    y = 1\n    return z\n", 3, "NameError"),
    ("def relu(x):\n    return x[..., 1:]\n", 2, "shape"),
    ("def relu(x):\n    return x.astype(np.float64)\n", 2, "float64"),
    ("def relu(x):\n    y = np.full_like(x, np.nan)\n    return y\n", 3, "inf or NaN"),
    ("def relu(x):\n    return x.tolist()\n", 2, "not a NumPy array"),
    ("x = 1\n", 1, "must define relu"),
])
def test_the_learners_errors_name_the_line_and_change_nothing(session, text, line, says):
    with pytest.raises(live_code.CodeError) as raised:
        live_code.run_code(session, json.dumps({"relu": text}))
    assert (raised.value.cell, raised.value.line) == ("relu", line)
    assert says in raised.value.message
    assert raised.value.answer() == {"error": str(raised.value), "cell": "relu", "line": line}


def test_an_endless_loop_is_stopped_by_the_budget(session, monkeypatch):
    monkeypatch.setattr(live_code, "BUDGET_S", 0.2)
    loop = "def relu(x):\n    while True:\n        try:\n            x = x + 1\n" \
           "        except Exception:\n            pass\n"
    with pytest.raises(live_code.CodeError) as raised:
        live_code.run_code(session, json.dumps({"relu": loop}))
    assert raised.value.line in {2, 3, 4}
    assert "stopped after 0.2 s" in raised.value.message


def test_gradients_use_the_engines_functions_with_edited_kernels(session):
    edited = live_code.run_code(session, json.dumps({"relu": LEAKY}))
    plain = run(edited.loaded.model, edited.x)
    np.testing.assert_array_equal(edited.gradient_result.probabilities, plain.probabilities)
    top = seeds(edited.gradient_result, predicted_class(edited.gradient_result))
    assert backward(edited.loaded.model, edited.gradient_result, top)  # runs on the original


def test_a_kernel_edit_changes_that_neuron_and_what_follows_and_reset_is_exact(session):
    sobel = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    edited = live_code.set_kernel(session, "conv_1_1", 3, -1, json.dumps(sobel))
    before, after = session.result.tensors["conv_1_1"], edited.result.tensors["conv_1_1"]
    others = [c for c in range(10) if c != 3]
    np.testing.assert_array_equal(after[:, others], before[:, others])
    bias = edited.loaded.model.graph.initializers["conv_1_1.bias"][3:4]
    reference = torch.nn.functional.conv2d(
        torch.from_numpy(session.x), torch.tensor(sobel, dtype=torch.float32)[None, None],
        torch.from_numpy(bias.copy()), padding=1).numpy()
    np.testing.assert_allclose(after[:, 3:4], reference, atol=1e-5)
    assert not np.array_equal(edited.result.tensors["conv_1_2"], session.result.tensors["conv_1_2"])
    assert edited.edits.labels == ["kernel of conv_1_1 #3"]
    # The same kernel again replaces the edit rather than listing it twice.
    again = live_code.set_kernel(edited, "conv_1_1", 3, -1, json.dumps(sobel))
    assert again.edits.labels == ["kernel of conv_1_1 #3"]
    both = live_code.run_code(again, json.dumps({"relu": LEAKY}))
    back = live_code.reset(both)
    np.testing.assert_array_equal(back.result.probabilities, session.result.probabilities)
    assert back.loaded.model is session.loaded.model and back.edits.labels == []
    view = live_code.kernel_view(both, "conv_1_1", 3)
    assert view["values"] == [sobel] and view["original"] != view["values"]


def test_edited_functions_carry_over_to_another_image_and_model_kernels_do_not(session):
    identity = json.dumps([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    edited = live_code.set_kernel(live_code.run_code(session, json.dumps({"relu": LEAKY})),
                                  "conv_1_2", 0, 4, identity)
    edited = live_code.set_kernel(edited, "conv_1_1", 2, 0, identity)  # its only input
    again = edited.with_image(session.image, "again.png")
    assert again.edits.labels == ["relu()", "kernel of conv_1_2 #0, input 4",
                                  "kernel of conv_1_1 #2"]
    weight = again.loaded.model.graph.initializers["conv_1_2.weight"]
    assert weight[0, 4].tolist() == json.loads(identity)
    assert weight[0, 3].tolist() == session.loaded.model.graph.initializers[
        "conv_1_2.weight"][0, 3].tolist()
    other = edited.with_model(load_model(MODEL.read_bytes(), MODEL.name))
    assert other.edits.labels == ["relu()"]


def test_bad_requests_are_refused_clearly(session):
    with pytest.raises(live_code.CnnlensError, match="no code cell called 'gelu'"):
        live_code.run_code(session, json.dumps({"gelu": "def gelu(x): return x"}))
    with pytest.raises(live_code.CnnlensError, match="not the output of a convolution"):
        live_code.set_kernel(session, "relu_1_1", 0, -1, "[[1]]")
    with pytest.raises(live_code.CnnlensError, match="3×3"):
        live_code.set_kernel(session, "conv_1_1", 0, -1, "[[1, 2], [3, 4]]")
    assert inspect.getsource(SPECS["Relu"].core)  # nothing above touched the engine


def test_the_editor_is_pyscripts_pinned_codemirror_and_dist_ships_it():
    """code-cells.js imports PyScript's CodeMirror chunks by their hashed names: each must be
    a file build/manifest.json pins (sha256-checked by build/vendor.py, no CDN) and one
    build/site.py copies into dist/; a PyScript upgrade renames them and fails here."""
    source = (ROOT / "assets" / "js" / "code-cells.js").read_text()
    imported = re.findall(r'"\.\./\.\./build/vendor/pyscript/([\w.-]+\.js)"', source)
    assert len(imported) == 2
    manifest = json.loads((ROOT / "build" / "manifest.json").read_text())
    pyscript = next(p for p in manifest["npm"] if p["dest"] == "pyscript")
    chunks = load_build_script("site").PYSCRIPT_CHUNKS
    for name in imported:
        assert f"{pyscript['strip']}{name}" in pyscript["files"] or name in pyscript["files"]
        assert chunks.fullmatch(name), name
        # and every chunk it imports in turn
        text = (ROOT / "build" / "vendor" / "pyscript" / name).read_text() \
            if (ROOT / "build" / "vendor" / "pyscript" / name).is_file() else ""
        for needed in re.findall(r'from"\./([\w.-]+\.js)"', text):
            assert chunks.fullmatch(needed), needed
