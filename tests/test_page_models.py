"""The model catalogue (assets/models/index.json) and `page.App.open_model`, in CPython (the
worker runs the same code)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import onnxruntime as ort
import pytest

from cnnlens.errors import CnnlensError
from cnnlens.loader import load_model
from cnnlens.page import CATALOGUE_PATH, EXAMPLES_PATH, MODEL_PATH, App
from tests.page_app import app_showing_first_example, local_app
from tests.paths import ROOT

CATALOGUE = json.loads((ROOT / CATALOGUE_PATH).read_text())
BY_ID = {entry["id"]: entry for entry in CATALOGUE}
# Over the page's weight budget, as the gallery's README says: refused, never run.
TOO_LARGE = {"vgg16", "vgg19"}
# Small enough to open in a test (the ResNet-sized ones take seconds each).
SMALL = ["fashion-mnist", "cnn-explainer", "lenet5", "squeezenet1_1", "resnet18"]


@pytest.fixture
def app() -> App:
    return app_showing_first_example()[0]


def state(app: App) -> tuple:
    return app.session, app.loaded, app.model_id, app.examples, app.examples_path


def test_the_catalogue_is_whole_and_starts_with_the_bundled_model():
    assert (CATALOGUE[0]["file"], CATALOGUE[0]["examples"]) == (MODEL_PATH, EXAMPLES_PATH)
    assert len(BY_ID) == len(CATALOGUE)  # ids are unique
    for entry in CATALOGUE:
        assert set(entry) == {"id", "name", "file", "examples", "untrained", "note"}
        assert (ROOT / entry["file"]).is_file(), entry["file"]
        # Untrained means the gallery's declared weights: the model card says so too.
        assert entry["untrained"] == entry["file"].startswith("assets/models/gallery/")
        if entry["examples"]:
            index = json.loads((ROOT / entry["examples"] / "index.json").read_text())
            assert index and all((ROOT / entry["examples"] / e["file"]).is_file() for e in index)
    # Every gallery net is offered.
    gallery = {p.relative_to(ROOT).as_posix()
               for p in (ROOT / "assets" / "models" / "gallery").glob("*.onnx")}
    assert gallery <= {entry["file"] for entry in CATALOGUE}


def test_start_answers_the_catalogue_and_the_bundled_id():
    answer = asyncio.run(local_app().start())
    assert json.loads(answer["catalogue"]) == CATALOGUE
    assert answer["model"] == CATALOGUE[0]["id"]


@pytest.mark.parametrize("entry", CATALOGUE, ids=[e["id"] for e in CATALOGUE])
def test_every_entry_loads_or_is_refused_for_its_size(entry):
    data = (ROOT / entry["file"]).read_bytes()
    if entry["id"] in TOO_LARGE:
        with pytest.raises(CnnlensError, match=r"MiB, over the limit"):
            load_model(data, entry["file"])
    else:
        loaded = load_model(data, entry["file"])
        assert ("(untrained)" in loaded.card.name) == entry["untrained"]


@pytest.mark.parametrize("model_id", SMALL)
def test_a_small_entry_opens_and_runs(app: App, model_id: str):
    before = app.session
    answer = asyncio.run(app.open_model(model_id))
    assert "error" not in answer, answer
    entry = json.loads(answer["entry"])
    assert entry == BY_ID[model_id] and app.model_id == model_id
    view = json.loads(answer["view"])
    assert view["columns"][0]["shape"][0] == app.session.x.shape[1]
    if entry["examples"]:
        # Its own examples, and the first of them on screen.
        own = json.loads((ROOT / entry["examples"] / "index.json").read_text())
        assert json.loads(answer["examples"]) == own == app.examples
        assert app.session.image_name == own[0]["file"]
    else:
        # No examples of its own: the current image, resized; the strip stays.
        assert app.session.image_name == before.image_name
        assert app.session.image is before.image


def test_cnn_explainer_matches_onnxruntime(app: App):
    answer = asyncio.run(app.open_model("cnn-explainer"))
    assert "error" not in answer
    x = app.session.x
    assert x.shape == (1, 3, 64, 64) and app.session.image_name == "boat_1.png"
    reference = ort.InferenceSession(str(ROOT / BY_ID["cnn-explainer"]["file"]),
                                     providers=["CPUExecutionProvider"])
    (out,) = reference.run(None, {reference.get_inputs()[0].name: x})
    view = json.loads(answer["view"])
    probabilities = np.array([c["probability"] for c in view["output"]["classes"]])
    np.testing.assert_allclose(probabilities, out[0], atol=1e-5)
    # An example of its own opens from its own folder.
    assert "view" in asyncio.run(app.example("koala_1.png"))


@pytest.mark.parametrize("model_id", ["no-such-model", "vgg16"])
def test_a_failed_switch_keeps_everything(app: App, model_id: str):
    asyncio.run(app.open_model("cnn-explainer"))
    before = state(app)
    answer = asyncio.run(app.open_model(model_id))
    assert set(answer) == {"error"}
    assert ("catalogue" if model_id == "no-such-model" else "over the limit") in answer["error"]
    assert state(app) == before
    assert all(a is b for a, b in zip(state(app), before, strict=True))


def test_a_missing_file_is_named_and_everything_stays(app: App):
    app.catalogue = [*app.catalogue, {**BY_ID["lenet5"], "id": "gone",
                                       "file": "assets/models/gallery/gone.onnx"}]
    before = state(app)
    answer = asyncio.run(app.open_model("gone"))
    assert "gone.onnx" in answer["error"]
    assert all(a is b for a, b in zip(state(app), before, strict=True))


def test_a_users_own_model_has_no_catalogue_id(app: App):
    data = (ROOT / BY_ID["lenet5"]["file"]).read_bytes()
    assert "error" not in asyncio.run(app.model(data, "mine.onnx"))
    assert app.model_id is None
    assert "error" not in asyncio.run(app.open_model("fashion-mnist"))
    assert app.model_id == "fashion-mnist"
