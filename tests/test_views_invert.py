"""Network inversion as the page runs it: a job started by `invert_start` and advanced in
chunks by the shared `job_step` (`page.App`, `views.invert`), in CPython as in the worker.

The reference is `cnnlens.methods.inversion` run directly with the same layer, settings,
seed and steps: chunking must not change a single bit."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from cnnlens.methods.inversion import Inverter, Settings, binarised, dropped_out
from cnnlens.page import App
from cnnlens.views.invert import DROPOUT_SEED
from tests.page_app import app_showing_first_example
from tests.test_views_maximize import array, decoded

SETTINGS = {"tv_weight": 0.1, "tv_beta": 1.5, "norm_weight": 0.02, "step_size": 0.04}


@pytest.fixture
def app() -> App:
    return app_showing_first_example()[0]


def run_to_the_end(app: App, max_ms: float) -> tuple[dict, np.ndarray, int]:
    chunks = 0
    while True:
        view, numbers, _ = decoded(app.job_step(max_ms))
        chunks += 1
        if view["done"]:
            return view, numbers, chunks


def direct(app: App, layer: str, goal: np.ndarray, seed, steps: int) -> Inverter:
    inverter = Inverter(app.session.loaded, layer, goal, Settings(**SETTINGS), seed)
    inverter.step(steps)
    return inverter


def test_chunks_end_at_the_direct_reconstruction_with_its_errors(app):
    view, numbers, _ = decoded(app.invert_start("relu_1_2", "layer",
                                                      json.dumps(SETTINGS), 9, 7))
    assert (view["kind"], view["step"], view["done"]) == ("invert", 0, False)
    np.testing.assert_array_equal(array(view, numbers, "original"), app.session.x)
    assert view["images"]["original"]["shape"] == [1, 28, 28]
    view, numbers, chunks = run_to_the_end(app, 0.0)  # 0 ms: one step per chunk
    assert chunks == 7
    reference = direct(app, "relu_1_2", app.session.result.tensors["relu_1_2"], 9, 7)
    np.testing.assert_array_equal(array(view, numbers, "pictures"), reference.image)
    np.testing.assert_allclose(array(view, numbers, "losses")[:, 0], reference.losses[:, 0],
                               rtol=1e-6)
    x = app.session.x.astype(np.float64)
    (part,) = view["parts"]
    assert part["input_error"] == pytest.approx(
        np.linalg.norm(reference.image - x) / np.linalg.norm(x))


def test_perturbations_invert_the_binarised_and_dropped_out_activations(app):
    view, *_ = decoded(app.invert_start("conv_1_1", "perturb", json.dumps(SETTINGS), 3, 2))
    assert [p["label"] for p in view["parts"]] == ["plain", "binarised", "dropout 50%"]
    view, numbers, _ = run_to_the_end(app, 100.0)
    goal = app.session.result.tensors["conv_1_1"]
    pictures = array(view, numbers, "pictures")
    np.testing.assert_array_equal(pictures[1:2],
                                  direct(app, "conv_1_1", binarised(goal), 3, 2).image)
    np.testing.assert_array_equal(
        pictures[2:3], direct(app, "conv_1_1", dropped_out(goal, (3, DROPOUT_SEED)), 3, 2).image)


def test_all_layers_mode_makes_one_reconstruction_per_layer(app):
    view, numbers, _ = decoded(app.invert_start("", "all", "{}", 0, 1))
    layers = [p["layer"] for p in view["parts"]]
    assert layers[0] == "conv_1_1" and layers[-1] == "logits" and len(layers) == 12
    assert array(view, numbers, "pictures").shape == (12, 1, 28, 28)
    view, *_ = run_to_the_end(app, 100.0)
    assert view["steps_run"] == 12


@pytest.mark.parametrize(("layer", "mode", "settings", "fragment"), [
    ("conv_1_1", "sideways", "{}", "no inversion mode"),
    ("nope", "layer", "{}", "no layer 'nope'"),
    ("image", "layer", "{}", "the input is what inversion reconstructs"),
    ("conv_1_1", "layer", '{"alpha": 0}', "alpha must be 1 or more"),
    ("conv_1_1", "layer", '{"beta": 2}', "no setting 'beta'"),
])
def test_a_bad_request_says_why_and_the_running_job_stays(app, layer, mode, settings,
                                                          fragment):
    decoded(app.invert_start("conv_1_1", "layer", "{}", 0, 3))
    decoded(app.job_step(0.0))
    answer = app.invert_start(layer, mode, settings, 0, 3)
    assert fragment in answer["error"]
    assert decoded(app.job_step(0.0))[0]["step"] == 2


def test_a_new_image_ends_it_and_cancel_drops_it(app):
    decoded(app.invert_start("conv_1_1", "layer", "{}", 0, 50))
    decoded(app.job_step(0.0))
    assert app.job_cancel() == {"cancelled": True, "step": 1}
    decoded(app.invert_start("conv_1_1", "layer", "{}", 0, 50))
    assert "view" in asyncio.run(app.example("bag_1.png"))
    assert "start it again" in app.job_step(0.0)["error"]
