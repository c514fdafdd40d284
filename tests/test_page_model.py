"""`page.App.model`: opening a model the user picked, in CPython (the worker runs the same)."""

from __future__ import annotations

import asyncio
import json

import onnx
import pytest

from cnnlens.page import App
from tests.bad_models import bad_model_files
from tests.page_app import app_showing_first_example
from tests.paths import BUNDLED_MODEL

BAD = list(bad_model_files().values())


@pytest.fixture
def app() -> App:
    return app_showing_first_example()[0]


def relabelled(names: list[str]) -> bytes:
    model = onnx.load(str(BUNDLED_MODEL))
    props = {p.key: p.value for p in model.metadata_props}
    props["cnnlens.classes"] = json.dumps(names)
    onnx.helper.set_model_props(model, props)
    return model.SerializeToString()


@pytest.mark.parametrize("case", BAD, ids=[c.name for c in BAD])
def test_a_bad_model_is_refused_and_everything_stays(app: App, case):
    session, loaded = app.session, app.loaded
    answer = asyncio.run(app.model(case.data, case.name))
    assert set(answer) == {"error"}
    assert answer["error"].startswith(f"the model {case.name} could not")
    assert app.session is session and app.loaded is loaded


def test_a_good_model_replaces_the_model_and_keeps_the_image(app: App):
    names = [f"kind {i}" for i in range(10)]
    image = app.session.image
    answer = asyncio.run(app.model(relabelled(names), "relabelled.onnx"))
    assert "error" not in answer
    view = json.loads(answer["view"])
    assert [c["name"] for c in view["output"]["classes"]] == names
    assert app.session.image is image  # the same picture (file bytes or pack pixels)
    assert app.session.loaded.name == "relabelled.onnx" and app.loaded.name == "relabelled.onnx"
    # The next image goes through the new model too.
    assert app.session.with_image(image, "again").classes == tuple(names)
