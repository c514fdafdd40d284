"""The page's dissection job (`App.dissect_start`, `job_step`, `dissect_probe`): chunked,
the same numbers as the Dissector run directly, cached for the session, the reader's own
images, and the refusals that leave the previous state."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

import numpy as np
import pytest

from cnnlens.methods.dissection import Dissector
from cnnlens.views.dissect import BATCH, MASK_RGBA, DissectJob
from cnnlens.views.dissect import view as dissect_view
from tests.page_app import app_showing_first_example
from tests.paths import EXAMPLES


@pytest.fixture(scope="module")
def app():
    return app_showing_first_example()[0]


def run_job(app, layer: str, probe: str = "", top: int = 4) -> tuple[list[dict], dict]:
    """Starts a dissection and steps it to the end: every view, and the last answer."""
    answer = asyncio.run(app.dissect_start(layer, probe, top))
    assert "error" not in answer, answer
    views = [json.loads(answer["view"])]
    while not views[-1]["done"]:
        answer = app.job_step(40.0)
        assert "error" not in answer, answer
        views.append(json.loads(answer["view"]))
    return views, answer


def arrays(answer: dict) -> dict[str, np.ndarray]:
    view = json.loads(answer["view"])
    numbers = np.frombuffer(answer["numbers"], np.float32)
    return {name: numbers[a["offset"]:a["offset"] + int(np.prod(a["shape"]))].reshape(a["shape"])
            for name, a in view["arrays"].items()}


def test_the_job_runs_in_chunks_and_equals_the_dissector(app):
    views, answer = run_job(app, "conv_2_2")
    assert len(views) > 2 and views[0]["step"] == 0
    assert [v["step"] for v in views] == sorted(v["step"] for v in views)
    last = views[-1]
    assert last["step"] == last["steps_total"] == 301 and last["probe"]["count"] == 300
    session = app.session
    probe = app.probes.made[("fashion-mnist-test", session.loaded.card.preprocessing)]
    direct = Dissector(session.loaded, probe, "conv_2_2", 4).run()
    got = arrays(answer)
    np.testing.assert_array_equal(got["values"], direct.values)
    np.testing.assert_array_equal(got["thresholds"], direct.thresholds)
    assert [s["channel"] for s in last["summary"]] == direct.ranking.tolist()
    for c, channel in enumerate(last["channels"]):
        assert [t["image"] for t in channel["top"]] == direct.top[c].tolist()
        assert [t["box"] for t in channel["top"]] == direct.boxes[c].tolist()
    # Masks: the overlay colour exactly where the dissection's mask is set.
    masks = last["images"]["masks"]
    rgba = np.frombuffer(answer["rasters"], np.uint8)[masks["offset"]:].reshape(
        *masks["shape"], 4)[: direct.masks.shape[0]]
    assert np.array_equal(rgba[..., 3] == MASK_RGBA[3], direct.masks)


def test_a_dissection_is_kept_for_the_session(app):
    run_job(app, "relu_1_1")
    answer = asyncio.run(app.dissect_start("relu_1_1", "", 4))
    first = json.loads(answer["view"])
    assert first["done"] and first["step"] == first["steps_total"]
    assert json.loads(app.job_step(10.0)["view"])["done"]


def test_cancel_and_bad_requests(app):
    asyncio.run(app.dissect_start("conv_1_1", "", 3))
    assert app.job_cancel()["cancelled"]
    for layer, probe, top, words in [("nope", "", 3, "no layer called 'nope'"),
                                     ("conv_1_1", "", 99, "top images must be 1 to 32"),
                                     ("conv_1_1", "own", 3, "no images of your own")]:
        assert words in asyncio.run(app.dissect_start(layer, probe, top))["error"]


def test_the_readers_own_images(app):
    coat, bag = (EXAMPLES / "coat_1.png").read_bytes(), (EXAMPLES / "bag_1.png").read_bytes()
    files = [{"name": "set/coat/a.png", "size": len(coat)},
             {"name": "set/bag/b.png", "size": len(bag)},
             {"name": "set/bag/notes.txt", "size": 5}]
    held = json.loads(app.dissect_probe(coat + bag + b"hello", json.dumps(files))["probe"])
    assert held["count"] == 2 and held["classes"] == ["bag", "coat"]
    assert held["skipped"] == ["set/bag/notes.txt: not an image file (by its name)"]
    views, _ = run_job(app, "max_pool_2", "own", 2)
    assert views[-1]["classes"] == ["bag", "coat"]
    # A bad set is refused and the previous one stays.
    refused = app.dissect_probe(b"junk", json.dumps([{"name": "x.zip", "size": 4}]))
    assert "x.zip is not a zip file" in refused["error"]
    assert app.probes.own[0] == "your images"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("coat.png", coat)
    data = buffer.getvalue()
    held = json.loads(app.dissect_probe(data, json.dumps([{"name": "c.zip",
                                                             "size": len(data)}]))["probe"])
    assert held["count"] == 1 and not held["labelled"]
    # Another folder of the same name is not answered from the first one's dissection.
    files = [{"name": "set/a.png", "size": len(coat)}, {"name": "set/b.png", "size": len(bag)}]
    app.dissect_probe(coat + bag, json.dumps(files))
    views, _ = run_job(app, "max_pool_2", "own", 2)
    assert views[0]["step"] == 0 and views[-1]["probe"]["count"] == 2
    assert views[-1]["classes"] == []


def test_the_view_before_the_end_carries_no_pictures(app):
    session = app.session
    probe = app.probes.made[("fashion-mnist-test", session.loaded.card.preprocessing)]
    job = DissectJob(Dissector(session.loaded, probe, "conv_1_1", 2, BATCH), "title")
    job.advance(0.0)
    view, numbers, rasters = dissect_view(job, None)
    assert not view["done"] and view["step"] == BATCH and numbers.size == 0 and rasters.size == 0


def test_cnn_explainers_model_dissects_over_its_examples_and_the_gallery_asks_for_images():
    app = app_showing_first_example()[0]
    assert "error" not in asyncio.run(app.open_model("cnn-explainer"))
    views, _ = run_job(app, "max_pool_2", "", 3)
    last = views[-1]
    assert last["probe"]["count"] == 12 and last["input"] == [64, 64]
    assert "sport car" in last["classes"] and "koala" in last["classes"]
    # Unpadded 3x3 convs and 2x2 pools: a max_pool_2 neuron sees 16 pixels from 4 * y.
    for channel in last["channels"]:
        for top in channel["top"]:
            y, x = top["position"]
            assert top["box"] == [4 * y, 4 * x, min(64, 4 * y + 16), min(64, 4 * x + 16)]
    assert "error" not in asyncio.run(app.open_model("lenet5"))
    refused = asyncio.run(app.dissect_start("conv1", "", 3))["error"]
    assert "no probe set of its own" in refused
