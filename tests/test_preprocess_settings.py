"""The reader's preprocessing (page.App.preprocess, preprocess_settings): the values reach
the model's input exactly as a hand-written NumPy normalisation of the same pixels says,
bad values are refused with a reason and change nothing."""

from __future__ import annotations

import asyncio
import io
import json

import numpy as np
import pytest
from PIL import Image

from cnnlens.errors import ModelError
from cnnlens.loader import load_model
from cnnlens.model_card import PREPROCESSING_KEY
from cnnlens.page import App
from tests.onnx_builders import ModelBuilder
from tests.page_app import app_showing_first_example

RNG = np.random.default_rng(14)
PIXELS = RNG.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)  # (H, W, RGB)


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def model_bytes(shape=(1, 3, 8, 8), metadata=None) -> bytes:
    """Conv → Relu → GlobalAveragePool → Flatten: two classes, no metadata unless given."""
    b = ModelBuilder(shape)
    y = b.add("Conv", [b.input, b.weight((2, shape[1], 3, 3))], pads=[1, 1, 1, 1])
    y = b.add("Relu", [y])
    y = b.add("GlobalAveragePool", [y])
    b.add("Flatten", [y])
    return b.build(metadata=metadata).SerializeToString()


@pytest.fixture
def app() -> App:
    app, _ = app_showing_first_example()
    assert "view" in asyncio.run(app.model(model_bytes(), "plain.onnx"))
    assert "view" in asyncio.run(app.image(png(PIXELS), "noise.png"))
    return app


def form(app: App) -> dict:
    return json.loads(app.preprocessing()["preprocessing"])


def apply(app: App, **fields: str) -> dict:
    return asyncio.run(app.preprocess(json.dumps(fields)))


def by_hand(pixels: np.ndarray, mean, std, divide: float = 255.0) -> np.ndarray:
    """(H, W, C) uint8 → (1, C, H, W): (pixels / divide - mean) / std, in float64."""
    chw = pixels.astype(np.float64).transpose(2, 0, 1)
    mean = np.asarray(mean, np.float64).reshape(-1, 1, 1)
    std = np.asarray(std, np.float64).reshape(-1, 1, 1)
    return ((chw / divide - mean) / std)[None]


def test_a_model_without_metadata_says_so_and_runs_on_plain_pixels(app: App):
    state = form(app)
    assert state["source"] == "defaults"
    assert state["size_fixed"] is True and state["channels"] == 3
    assert state["fields"] == {"size": "8x8", "mean": "0,0,0", "std": "1,1,1", "order": "RGB",
                               "pixels": "0-1"}
    np.testing.assert_allclose(app.session.x, by_hand(PIXELS, 0, 1), rtol=1e-6)


def test_mean_and_std_reach_the_model_input(app: App):
    answer = apply(app, mean="0.485, 0.456, 0.406", std="0.229 0.224 0.225")
    assert "view" in answer, answer
    expected = by_hand(PIXELS, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    np.testing.assert_allclose(app.session.x, expected, rtol=1e-5, atol=1e-6)
    state = form(app)
    assert state["source"] == "reader"
    assert state["fields"]["mean"] == "0.485,0.456,0.406"
    assert state["fields"]["std"] == "0.229,0.224,0.225"
    # It stays for the next picture of this model.
    other = PIXELS[::-1].copy()
    assert "view" in asyncio.run(app.image(png(other), "flipped.png"))
    expected = by_hand(other, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    np.testing.assert_allclose(app.session.x, expected, rtol=1e-5, atol=1e-6)


def test_one_number_is_every_channels(app: App):
    assert "view" in apply(app, mean="0.5", std="0.25")
    np.testing.assert_allclose(app.session.x, by_hand(PIXELS, 0.5, 0.25), rtol=1e-5, atol=1e-6)


def test_bgr_and_0_255_pixels(app: App):
    assert "view" in apply(app, order="BGR", pixels="0-255", mean="104,117,123", std="1")
    expected = by_hand(PIXELS[..., ::-1], (104, 117, 123), 1, divide=1.0)
    np.testing.assert_allclose(app.session.x, expected, rtol=1e-6)
    assert form(app)["fields"]["order"] == "BGR"
    assert form(app)["fields"]["pixels"] == "0-255"


def test_the_models_own_preprocessing_comes_back(app: App):
    apply(app, mean="0.5", std="0.5")
    assert "view" in asyncio.run(app.preprocess(""))
    assert form(app)["source"] == "defaults"
    np.testing.assert_allclose(app.session.x, by_hand(PIXELS, 0, 1), rtol=1e-6)


def test_a_size_for_an_input_of_any_size():
    app, _ = app_showing_first_example()
    assert "view" in asyncio.run(app.model(model_bytes((1, 3, "H", "W")), "any-size.onnx"))
    assert form(app)["size_fixed"] is False
    assert form(app)["fields"]["size"] == "224x224"
    assert "view" in apply(app, size="16x12")
    assert app.session.x.shape == (1, 3, 16, 12)
    assert "view" in apply(app, size="20")
    assert app.session.x.shape == (1, 3, 20, 20)


@pytest.mark.parametrize(("fields", "message"), [
    ({"std": "0"}, "std must be positive"),
    ({"std": "1, 0, 1"}, "std must be positive"),
    ({"mean": "abc"}, "mean: 'abc' is not a number"),
    ({"mean": "0.1, 0.2"}, "mean needs 3 number(s)"),
    ({"mean": "nan"}, "not a finite number"),
    ({"size": "-5"}, "size must be one or two positive whole numbers"),
    ({"size": "abc"}, "size must be one or two positive whole numbers"),
    ({"size": "0"}, "between 1 and 4096"),
    ({"size": "16"}, "has height 16 but graph input"),
    ({"order": "GBR"}, "channel_order must be one of ['RGB', 'BGR']"),
    ({"pixels": "0-100"}, "pixels must be one of"),
    ({"gamma": "2"}, "unknown preprocessing field"),
])
def test_a_bad_value_is_refused_and_nothing_changes(app: App, fields, message):
    apply(app, mean="0.5", std="0.5")
    before, state = app.session, form(app)
    answer = apply(app, **fields)
    assert message in answer["error"], answer
    assert answer["error"].startswith("The preprocessing was not applied: ")
    assert app.session is before and form(app) == state


def test_settings_that_are_not_a_json_object_of_text(app: App):
    for settings in ("{", "[]", '{"size": 8}'):
        assert "not applied" in asyncio.run(app.preprocess(settings))["error"]


def test_channel_order_in_the_metadata_and_on_a_grey_model():
    card = load_model(model_bytes(metadata={
        PREPROCESSING_KEY: json.dumps({"channel_order": "BGR", "mean": [1, 2, 3]})}), "m").card
    assert card.preprocessing.channel_order == "BGR"
    assert card.preprocessing_source == "metadata"
    with pytest.raises(ModelError, match="channel_order must be one of"):
        load_model(model_bytes(metadata={PREPROCESSING_KEY: '{"channel_order": "GBR"}'}), "m")
    app, _ = app_showing_first_example()
    assert "view" in asyncio.run(app.model(model_bytes((1, 1, 8, 8)), "grey.onnx"))
    assert form(app)["fields"]["mean"] == "0" and form(app)["channels"] == 1
    assert "3-channel" in apply(app, order="BGR")["error"]


def test_a_model_with_metadata_shows_its_card():
    app, _ = app_showing_first_example()  # the bundled model declares its preprocessing
    state = form(app)
    assert state["source"] == "metadata"
    assert state["fields"] == {"size": "28x28", "mean": "0.286", "std": "0.353", "order": "RGB",
                               "pixels": "0-1"}
