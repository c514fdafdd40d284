"""Session: every change makes a complete new state, or raises and changes nothing."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from cnnlens.errors import CnnlensError, ImageError, ModelError
from cnnlens.loader import load_model
from cnnlens.session import Session
from tests.onnx_builders import ModelBuilder
from tests.paths import BUNDLED_MODEL as MODEL
from tests.paths import EXAMPLES


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bundled():
    return load_model(MODEL.read_bytes(), MODEL.name)


def test_the_bundled_model_classifies_its_examples(bundled):
    index = json.loads((EXAMPLES / "index.json").read_text())
    for example in index:
        session = Session.start(bundled, (EXAMPLES / example["file"]).read_bytes(), example["file"])
        assert session.top1 == example["label"]


def test_a_bad_image_raises_and_leaves_the_session_as_it_was(bundled):
    first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
    session = Session.start(bundled, (EXAMPLES / first).read_bytes(), first)
    before = session.result.probabilities.copy()
    with pytest.raises(ImageError):
        session.with_image(b"plain text, not pixels", "notes.png")
    assert session.image_name == first
    np.testing.assert_array_equal(session.result.probabilities, before)


def test_new_image_and_colour_range_make_new_sessions(bundled):
    first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
    session = Session.start(bundled, (EXAMPLES / first).read_bytes(), first)
    other = session.with_image(png(np.eye(28, dtype=np.uint8) * 255), "diagonal.png")
    assert other.image_name == "diagonal.png"
    assert not np.array_equal(other.result.probabilities, session.result.probabilities)
    assert session.with_mode("network").overview()[0]["mode"] == "network"
    with pytest.raises(CnnlensError, match="colour range"):
        session.with_mode("sideways")


def test_a_card_naming_the_wrong_number_of_classes_is_refused():
    b = ModelBuilder((1, 1, 4, 4))
    flat = b.add("Flatten", [b.input])
    b.add("Gemm", [flat, b.weight((3, 16)), b.weight((3,), "b", 1)], transB=1)
    model = b.build(metadata={"cnnlens.classes": json.dumps(["only", "two"])})
    loaded = load_model(model.SerializeToString(), "three-outputs.onnx")
    with pytest.raises(ModelError, match="2 classes but the model outputs 3"):
        Session.start(loaded, png(np.zeros((4, 4), np.uint8)), "black.png")


def test_activations_that_overflow_are_refused_with_their_name(bundled):
    first = json.loads((EXAMPLES / "index.json").read_text())[0]["file"]
    session = Session.start(bundled, (EXAMPLES / first).read_bytes(), first)
    b = ModelBuilder((1, 1, 28, 28))
    big = b.initializer(np.full((1,), 3e38, np.float32), "big")
    shifted = b.add("Add", [b.input, big], name="shift")
    doubled = b.add("Add", [shifted, shifted], name="double")  # 6e38: over float32's range
    # Clipped back, the output stays finite: only the drawn activations overflow.
    clipped = b.add("Clip", [doubled, b.initializer(np.float32(-1), "low"),
                             b.initializer(np.float32(1), "high")], name="clip")
    flat = b.add("Flatten", [clipped])
    b.add("Gemm", [flat, b.weight((10, 784)), b.weight((10,), "b", 1)], transB=1)
    loaded = load_model(b.build().SerializeToString(), "overflow.onnx")
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(ModelError, match="overflowed") as caught:
        session.with_model(loaded)
    assert repr(doubled) in str(caught.value)
    assert session.loaded is bundled
