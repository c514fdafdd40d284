"""Activation maximisation as the page runs it: a job advanced in short chunks through
`page.App` (maximize_start, job_step, job_cancel), in CPython as in the worker.

The reference is `cnnlens.methods.maximize.Maximizer` run directly for the same target,
settings, seed and number of steps: chunking must not change a single bit.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from cnnlens.methods.maximize import Maximizer, Settings
from cnnlens.methods.targets import target_for
from cnnlens.page import App
from cnnlens.preprocess import input_preview
from cnnlens.views import maximize
from tests.page_app import app_showing_first_example, local_app

REGULARISED = {"l2_decay": 0.02, "jitter": 2, "blur_every": 3, "blur_sigma": 0.7,
               "clip": True, "step_size": 0.05}


@pytest.fixture
def app() -> App:
    app, examples = app_showing_first_example()
    app.example_files = [e["file"] for e in examples]
    return app


def decoded(answer: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    """The view-model, float32 numbers and RGBA bytes of a JobAnswer."""
    assert "error" not in answer, answer.get("error")
    view = json.loads(answer["view"])
    return view, np.frombuffer(answer["numbers"], np.float32), np.frombuffer(answer["rasters"],
                                                                             np.uint8)


def array(view: dict, numbers: np.ndarray, name: str) -> np.ndarray:
    where = view["arrays"][name]
    size = int(np.prod(where["shape"]))
    return numbers[where["offset"]:where["offset"] + size].reshape(where["shape"])


def run_in_chunks(app: App, max_ms: float) -> tuple[dict, np.ndarray, np.ndarray, int]:
    """Steps the running job to its goal; returns the last answer and the chunks taken."""
    chunks = 0
    while True:
        view, numbers, rasters = decoded(app.job_step(max_ms))
        chunks += 1
        if view["done"]:
            return view, numbers, rasters, chunks


def direct(app: App, layer: str, channel: int, settings: dict, seed, steps: int,
           position: tuple[int, int] | None = None) -> Maximizer:
    session = app.session
    target = target_for(session.loaded.model, session.result, layer, channel, position)
    climber = Maximizer(session.loaded, target, Settings(**settings), seed)
    climber.step(steps)
    return climber


@pytest.mark.parametrize(("target", "layer", "channel", "position"), [
    ("conv_1_2:4", "conv_1_2", 4, None),
    ("relu_2_1:3:5:6", "relu_2_1", 3, (5, 6)),
    ("logits:7", "logits", 7, None),
])
@pytest.mark.parametrize("max_ms", [0.0, 25.0, 100.0])
def test_the_chunked_job_equals_the_maximiser_run_directly(app, target, layer, channel,
                                                           position, max_ms):
    steps = 9
    view, numbers, rasters = decoded(app.maximize_start(target, json.dumps(REGULARISED), 11,
                                                        steps))
    assert (view["step"], view["done"]) == (0, False)
    view, numbers, rasters, chunks = run_in_chunks(app, max_ms)
    if max_ms == 0.0:
        assert chunks == steps  # no budget: one step per chunk
    expected = direct(app, layer, channel, REGULARISED, 11, steps, position)
    assert view["step"] == view["goal"] == steps
    np.testing.assert_array_equal(array(view, numbers, "pictures"), expected.image)
    np.testing.assert_array_equal(array(view, numbers, "values"),
                                  expected.values.astype(np.float32))
    assert view["value"] == [float(expected.values[-1, 0])]
    # The displayed pixels are what preprocessing would turn into the picture.
    pixels = input_preview(expected.image, app.session.loaded.card.preprocessing)
    shown = rasters.reshape(28, 28, 4)
    np.testing.assert_array_equal(shown[..., 0], pixels[..., 0])
    np.testing.assert_array_equal(shown[..., 3], 255)


def test_a_chunk_after_the_goal_does_nothing(app):
    decoded(app.maximize_start("conv_1_1:0", "{}", 0, 2))
    first, *_ = run_in_chunks(app, 100.0)
    again, *_ = decoded(app.job_step(100.0))
    assert again["step"] == first["step"] == 2 and again["chunk"]["steps"] == 0


def test_whole_layer_gives_each_channel_its_own_seeded_maximiser(app):
    steps = 4
    view, *_ = decoded(app.maximize_start("conv_2_2:*", json.dumps(REGULARISED), 5, steps))
    assert view["whole_layer"] and len(view["targets"]) == 10
    # A tiny budget: one channel's step per chunk, so the channels advance in turn.
    view, numbers, rasters, chunks = run_in_chunks(app, 0.0)
    assert chunks == 10 * steps
    pictures = array(view, numbers, "pictures")
    values = array(view, numbers, "values")
    assert pictures.shape == (10, 1, 28, 28) and values.shape == (steps + 1, 10)
    for channel in (0, 3, 9):
        expected = direct(app, "conv_2_2", channel, REGULARISED, (5, channel), steps)
        np.testing.assert_array_equal(pictures[channel:channel + 1], expected.image)
        np.testing.assert_array_equal(values[:, channel], expected.values[:, 0].astype(np.float32))
    assert rasters.size == 10 * 28 * 28 * 4


def test_whole_layer_midway_shows_only_the_steps_every_channel_has(app):
    decoded(app.maximize_start("relu_1_1:*", "{}", 0, 5))
    for _ in range(13):  # one channel-step each: channel 0-2 are at step 2, the rest at 1
        view, numbers, _ = decoded(app.job_step(0.0))
    assert view["step"] == 1 and view["steps_run"] == 13 and view["steps_total"] == 50
    assert array(view, numbers, "values").shape == (2, 10)


def test_the_classes_of_the_output_column_are_a_whole_layer_too(app):
    view, *_ = decoded(app.maximize_start("logits:*", "{}", 0, 1))
    assert [t["kind"] for t in view["targets"]] == ["class"] * 10
    assert view["targets"][1]["name"] == app.session.classes[1]


def test_cancel_stops_the_job(app):
    decoded(app.maximize_start("conv_1_1:2", "{}", 3, 50))
    view, *_ = decoded(app.job_step(0.0))
    assert view["step"] == 1
    assert app.job_cancel() == {"cancelled": True, "step": 1}
    assert "error" in app.job_step(50.0)
    assert app.job_cancel() == {"cancelled": False, "step": 0}


@pytest.mark.parametrize(("target", "settings", "seed", "steps", "says"), [
    ("nowhere:1", "{}", 0, 10, "there is no layer 'nowhere'"),
    ("image:0", "{}", 0, 10, "the input is what maximisation changes"),
    ("image:*", "{}", 0, 10, "the input is what maximisation changes"),
    ("conv_1_1:99", "{}", 0, 10, "has 10 channels"),
    ("conv_1_1:0:40:1", "{}", 0, 10, "outside layer"),
    ("flatten:*", "{}", 0, 10, "at most 64"),
    ("conv_1_1:0", '{"jitter": -1}', 0, 10, "jitter"),
    ("conv_1_1:0", '{"jitter": 1.5}', 0, 10, "whole number"),
    ("conv_1_1:0", '{"clip": 1}', 0, 10, "true or false"),
    ("conv_1_1:0", '{"step_size": "fast"}', 0, 10, "must be a number"),
    ("conv_1_1:0", '{"momentum": 0.9}', 0, 10, "there is no setting 'momentum'"),
    ("conv_1_1:0", "[1, 2]", 0, 10, "JSON object"),
    ("conv_1_1:0", "{jitter: 1}", 0, 10, "not JSON"),
    ("conv_1_1:0", "{}", -1, 10, "seed"),
    ("conv_1_1:0", "{}", 0, maximize.MAX_STEPS + 1, "number of steps"),
])
def test_a_bad_request_says_why_and_the_running_job_stays(app, target, settings, seed, steps,
                                                          says):
    decoded(app.maximize_start("conv_1_1:1", "{}", 0, 6))
    decoded(app.job_step(0.0))
    answer = app.maximize_start(target, settings, seed, steps)
    assert set(answer) == {"error"} and says in answer["error"], answer
    view, *_ = decoded(app.job_step(0.0))
    assert (view["label"], view["step"]) == ("conv_1_1:1", 2)


@pytest.mark.parametrize("max_ms", [-1.0, 100.5, 1000.0])
def test_a_chunk_longer_than_the_page_allows_is_refused(app, max_ms):
    decoded(app.maximize_start("conv_1_1:1", "{}", 0, 6))
    assert "100" in app.job_step(max_ms)["error"]
    view, *_ = decoded(app.job_step(100.0))
    assert view["step"] >= 1


def test_starting_another_job_replaces_the_running_one(app):
    decoded(app.maximize_start("conv_1_1:1", "{}", 0, 6))
    decoded(app.job_step(0.0))
    view, *_ = decoded(app.maximize_start("conv_1_2:2", "{}", 0, 6))
    assert (view["label"], view["step"]) == ("conv_1_2:2", 0)


def test_a_new_image_ends_the_job_and_a_colour_range_does_not(app):
    decoded(app.maximize_start("conv_1_1:1", "{}", 0, 6))
    assert "view" in app.mode("network")
    assert decoded(app.job_step(0.0))[0]["step"] == 1
    assert "view" in asyncio.run(app.example(app.example_files[1]))
    assert "error" in app.job_step(0.0)


def test_no_job_before_an_image():
    app = local_app()
    asyncio.run(app.start())
    assert "error" in app.maximize_start("conv_1_1:0", "{}", 0, 1)

