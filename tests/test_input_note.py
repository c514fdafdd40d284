"""The note for pictures far from the training data: colour photos on the greyscale
Fashion-MNIST model get it, every bundled example does not, RGB models never do."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from cnnlens.loader import load_model
from cnnlens.model_card import Preprocessing
from cnnlens.session import Session
from cnnlens.views.input_note import COLOUR, SCENE, background_fraction, colourfulness
from tests.paths import BUNDLED_MODEL, EXAMPLES, ROOT

PHOTOS = ROOT / "assets" / "images" / "cnn-explainer"
RGB_MODEL = ROOT / "assets" / "models" / "cnn-explainer" / "tinyvgg-cnn-explainer.onnx"


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def files(folder) -> list[str]:
    return [e["file"] for e in json.loads((folder / "index.json").read_text())]


@pytest.fixture(scope="module")
def fashion():
    return load_model(BUNDLED_MODEL.read_bytes(), BUNDLED_MODEL.name)


def photo_like(seed: int = 0) -> np.ndarray:
    """A smooth colour scene `(64, 64, 3)` uint8: a sky-to-grass gradient with a red blob."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, 64)[:, None, None]
    sky, grass = np.array([90, 150, 230]), np.array([60, 140, 50])
    scene = (1 - rows) * sky + rows * grass + rng.normal(0, 8, (64, 64, 3))
    yy, xx = np.mgrid[:64, :64]
    scene[(yy - 30) ** 2 + (xx - 34) ** 2 < 120] = [220, 40, 30]
    return np.clip(scene, 0, 255).astype(np.uint8)


def test_colourfulness_against_hand_computed_values():
    grey = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, axis=2)
    assert colourfulness(grey) == 0.0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    # red - green = 255, (red + green) / 2 - blue = 127.5 everywhere: no spread, 0.3 x centre.
    assert colourfulness(red) == pytest.approx(0.3 * np.hypot(255.0, 127.5))


def test_background_fraction_counts_dark_pixels_of_what_the_network_sees():
    prep = Preprocessing(mode="L", size=(4, 4), mean=(0.5,), std=(0.25,))
    pixels = np.full((4, 4), 200.0)
    pixels[:, :3] = [0.0, 13.0, 14.0]  # columns: background, background (at the level), not
    x = ((pixels / 255.0 - 0.5) / 0.25)[None, None].astype(np.float32)
    assert background_fraction(x, prep) == pytest.approx(8 / 16)


def test_every_bundled_example_gets_no_note(fashion):
    for file in files(EXAMPLES):
        session = Session.start(fashion, (EXAMPLES / file).read_bytes(), file)
        assert session.note is None, file
        assert session.overview()[0]["note"] is None


def test_a_colour_photo_on_the_greyscale_model_gets_the_note(fashion):
    session = Session.start(fashion, png(photo_like()), "scene.png")
    assert COLOUR in session.note and SCENE in session.note
    assert session.overview()[0]["note"] == session.note
    # A colour range change keeps the note; a bundled example clears it.
    assert session.with_mode("network").note == session.note
    example = files(EXAMPLES)[0]
    assert session.with_image((EXAMPLES / example).read_bytes(), example).note is None


def test_every_photo_of_the_other_example_set_gets_the_note_on_the_greyscale_model(fashion):
    for file in files(PHOTOS):
        assert Session.start(fashion, (PHOTOS / file).read_bytes(), file).note, file


def test_a_grey_photo_gets_only_the_background_part(fashion):
    grey = Image.fromarray(photo_like()).convert("L")
    note = Session.start(fashion, png(np.asarray(grey)), "grey.png").note
    assert SCENE in note and COLOUR not in note


def test_a_light_drawing_on_white_is_inverted_and_gets_no_note(fashion):
    drawing = np.full((56, 56, 3), 255, np.uint8)
    drawing[14:42, 20:36] = [40, 40, 40]  # a dark item on white: inverted to light on dark
    assert Session.start(fashion, png(drawing), "drawing.png").note is None


def test_an_rgb_model_never_gets_the_note():
    rgb = load_model(RGB_MODEL.read_bytes(), RGB_MODEL.name)
    for picture in (png(photo_like()), (PHOTOS / files(PHOTOS)[0]).read_bytes()):
        assert Session.start(rgb, picture, "p.png").note is None
