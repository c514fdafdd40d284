"""Class names and preprocessing read from ONNX `metadata_props` (`cnnlens.model_card`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import helper

from cnnlens.errors import ModelError
from cnnlens.model_card import (
    ModelCard,
    Preprocessing,
    class_names,
    model_card,
)
from cnnlens.onnx_reader import read_model
from tests.onnx_builders import make_model, tensor_info
from tests.paths import BUNDLED_MODEL


def card_for(metadata: dict[str, str] | None = None, *, input_shape=(1, 1, 28, 28),
             output_shape=(1, 10)) -> ModelCard:
    """The card of a one-node model (Flatten) with the given shapes and metadata."""
    node = helper.make_node("Flatten", ["image"], ["scores"], name="flatten")
    proto = make_model([node], [tensor_info("image", input_shape)],
                       [tensor_info("scores", output_shape)], metadata=metadata)
    return model_card(read_model(proto.SerializeToString()))


def prep_json(**fields) -> dict[str, str]:
    return {"cnnlens.preprocessing": json.dumps(fields)}


# ---------------------------------------------------------------- defaults


def test_defaults_follow_a_greyscale_input():
    card = card_for()
    assert card.classes == tuple(f"class {k}" for k in range(10))
    assert card.preprocessing == Preprocessing(mode="L", size=(28, 28), resize="stretch",
                                               scale=1 / 255, mean=(0.0,), std=(1.0,))
    assert not card.preprocessing.invert_light_background
    assert (card.name, card.description, card.dataset, card.test_accuracy) == ("", "", "", None)


def test_defaults_follow_an_rgb_input_with_symbolic_dims():
    card = card_for(input_shape=("batch", 3, "height", "width"), output_shape=("batch", 5))
    prep = card.preprocessing
    assert (prep.mode, prep.size, prep.mean, prep.std) == ("RGB", (224, 224), (0.0,) * 3,
                                                            (1.0,) * 3)
    assert len(card.classes) == 5


def test_unknown_output_size_leaves_classes_to_the_caller():
    card = card_for(output_shape=None)
    assert card.classes == ()
    assert class_names(card, 3) == ("class 0", "class 1", "class 2")


@pytest.mark.parametrize("shape, message", [
    ((1, 4, 28, 28), r"4 channels; cnnlens feeds images as 1 \(greyscale\) or 3 \(RGB\)"),
    ((1, 784), r"cnnlens feeds images as \(N, C, H, W\)"),
])
def test_inputs_that_are_not_images_are_refused(shape, message):
    with pytest.raises(ModelError, match=message):
        card_for(input_shape=shape)


# ---------------------------------------------------------------- cnnlens.* keys


def test_full_metadata_is_read():
    metadata = {
        "cnnlens.name": " TinyVGG ",
        "cnnlens.description": "A small CNN.",
        "cnnlens.dataset": "Fashion-MNIST",
        "cnnlens.test_accuracy": "0.9123",
        "cnnlens.classes": json.dumps([f"c{k}" for k in range(10)]),
        **prep_json(mode="L", size=[28, 28], resize="fit", scale=1 / 255, mean=[0.286],
                    std=[0.353], invert_light_background=True, layout="NCHW"),
    }
    card = card_for(metadata)
    assert card.name == "TinyVGG" and card.description == "A small CNN."
    assert card.dataset == "Fashion-MNIST" and card.test_accuracy == pytest.approx(0.9123)
    assert card.classes == tuple(f"c{k}" for k in range(10))
    assert card.preprocessing == Preprocessing(mode="L", size=(28, 28), resize="fit",
                                               scale=1 / 255, mean=(0.286,), std=(0.353,),
                                               invert_light_background=True)


def test_partial_preprocessing_keeps_the_other_defaults():
    prep = card_for(prep_json(resize="center-crop")).preprocessing
    assert (prep.mode, prep.size, prep.resize, prep.mean) == ("L", (28, 28), "center-crop",
                                                             (0.0,))


def test_mean_and_std_default_per_channel_of_the_declared_mode():
    prep = card_for(prep_json(mode="RGB"), input_shape=(1, "c", 28, 28)).preprocessing
    assert prep.mean == (0.0, 0.0, 0.0) and prep.std == (1.0, 1.0, 1.0)


def test_preprocessing_round_trips_through_its_json_form():
    prep = Preprocessing(mode="L", size=(28, 28), resize="fit", mean=(0.5,), std=(0.25,),
                         invert_light_background=True)
    assert card_for(prep_json(**prep.to_json())).preprocessing == prep
    assert json.loads(json.dumps(prep.to_json()))["size"] == [28, 28]


@pytest.mark.parametrize("fields, message", [
    ({"mode": "CMYK"}, r"mode must be one of \['L', 'RGB'\], got 'CMYK'"),
    ({"mode": {"L": 1}}, r"mode must be one of"),
    ({"size": [28]}, r"size must be \[height, width\]"),
    ({"size": [28, 0]}, r"size must be \[height, width\] with positive integers"),
    ({"size": [28.0, 28]}, r"size must be"),
    ({"size": 28}, r"size must be a list"),
    ({"resize": "crop"}, r"resize must be one of"),
    ({"scale": 0}, r"scale must be a positive number"),
    ({"scale": "1/255"}, r"scale must be a positive number"),
    ({"mean": [0.1, 0.2, 0.3]}, r"mean must list 1 number\(s\), one per L channel"),
    ({"std": [0.0]}, r"std must be positive"),
    ({"std": [-1.0]}, r"std must be positive"),
    ({"std": ["a"]}, r"std must list 1 number"),
    ({"invert_light_background": "yes"}, r"invert_light_background must be true or false"),
    ({"layout": "NHWC"}, r"layout must be one of \['NCHW'\]"),
    ({"colour": "L"}, r"unknown field\(s\) \['colour'\]"),
    ({"mode": "RGB"}, r"mode 'RGB' gives 3 channel\(s\) but graph input 'image' takes 1"),
    ({"size": [32, 32]}, r"size \[32, 32\] has height 32 but graph input 'image' has height 28"),
])
def test_bad_preprocessing_is_refused_naming_the_key(fields, message):
    with pytest.raises(ModelError, match=r"metadata 'cnnlens.preprocessing': " + message):
        card_for(prep_json(**fields))


@pytest.mark.parametrize("text, message", [
    ("{mode: L}", r"'cnnlens.preprocessing' is not valid JSON"),
    ('["L"]', r"'cnnlens.preprocessing' must be a JSON object"),
])
def test_malformed_preprocessing_json_is_refused(text, message):
    with pytest.raises(ModelError, match=message):
        card_for({"cnnlens.preprocessing": text})


@pytest.mark.parametrize("text, message", [
    ("[cat, dog]", r"'cnnlens.classes' is not valid JSON"),
    ('{"0": "cat"}', r"'cnnlens.classes' must be a non-empty JSON list"),
    ("[]", r"must be a non-empty JSON list"),
    ('["cat", null]', r"must list class names as strings"),
])
def test_malformed_classes_are_refused(text, message):
    with pytest.raises(ModelError, match=message):
        card_for({"cnnlens.classes": text})


def test_numeric_class_names_become_strings():
    assert card_for({"cnnlens.classes": json.dumps(list(range(10)))}).classes[3] == "3"


@pytest.mark.parametrize("text", ["high", "1.5", "-0.1", "nan"])
def test_bad_accuracy_is_refused(text):
    with pytest.raises(ModelError, match=r"'cnnlens.test_accuracy' must be a number in \[0, 1\]"):
        card_for({"cnnlens.test_accuracy": text})


# ---------------------------------------------------------------- other tools' keys


@pytest.mark.parametrize("key", ["labels", "classes"])
def test_foreign_comma_separated_labels_are_read(key):
    names = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    card = card_for({key: " , ".join(names)})
    assert card.classes == names


def test_foreign_json_list_is_read():
    assert card_for({"labels": json.dumps(["a b", "c,d"])}, output_shape=(1, 2)).classes == (
        "a b", "c,d")


def test_cnnlens_classes_win_over_foreign_keys():
    card = card_for({"labels": "x,y", "cnnlens.classes": '["p", "q"]'}, output_shape=(1, 2))
    assert card.classes == ("p", "q")


# ---------------------------------------------------------------- class count


def test_class_count_mismatch_is_reported():
    card = card_for({"cnnlens.classes": '["a", "b", "c"]'})
    assert class_names(card, 3) == ("a", "b", "c")
    with pytest.raises(ModelError, match=r"names 3 classes but the model outputs 10 scores"):
        class_names(card, 10)


# ---------------------------------------------------------------- Preprocessing itself


def test_preprocessing_checks_values_built_in_code_too():
    with pytest.raises(ModelError, match=r"std must be positive"):
        Preprocessing(mode="L", size=(8, 8), std=(0.0,))
    assert Preprocessing(mode="L").channels == 1 and Preprocessing().channels == 3
    # NumPy scalars are numbers too (code may build a Preprocessing from array statistics).
    assert Preprocessing(mode="L", mean=(np.float32(0.5),)).mean == (0.5,)


@pytest.mark.skipif(not BUNDLED_MODEL.exists(), reason="bundled model not trained yet")
def test_bundled_model_has_a_complete_card():
    card = model_card(read_model(BUNDLED_MODEL.read_bytes()))
    assert card.name and card.description and card.dataset
    assert len(card.classes) == 10 and card.test_accuracy is not None
    prep = card.preprocessing
    assert (prep.mode, prep.size, prep.resize, prep.invert_light_background) == (
        "L", (28, 28), "fit", True)
