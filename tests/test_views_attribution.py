"""The attribution view-model in CPython: its numbers are the engine's attribution maps, its
rasters are those numbers on the named colour scales, and bad choices are refused clearly."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cnnlens.errors import CnnlensError
from cnnlens.forward import run
from cnnlens.methods.attribution import METHODS, attribute, upsample
from cnnlens.methods.targets import target_for
from cnnlens.model_card import model_card
from cnnlens.onnx_reader import read_model
from cnnlens.preprocess import input_preview, preprocess
from cnnlens.views import colormap
from cnnlens.views.attribution import attribution_view
from tests.onnx_builders import ModelBuilder
from tests.page_app import app_showing_first_example
from tests.paths import BUNDLED_MODEL, EXAMPLES, ROOT

CLASSES = [f"c{i}" for i in range(10)]
# The diverging scale's ends and middle, from ColorBrewer's RdBu as colormap.py lists it.
DARK_RED, WHITE, DARK_BLUE = (0x67, 0x00, 0x1F), (0xF7, 0xF7, 0xF7), (0x05, 0x30, 0x61)


def unpack(view, numbers, name):
    spec = view["arrays"][name]
    size = int(np.prod(spec["shape"]))
    return numbers[spec["offset"]:spec["offset"] + size].reshape(spec["shape"])


def image(view, rasters, name):
    spec = view["images"][name]
    size = int(np.prod(spec["shape"])) * 4
    return rasters[spec["offset"]:spec["offset"] + size].reshape(*spec["shape"], 4)


@pytest.fixture(scope="module")
def bundled():
    model = read_model(BUNDLED_MODEL.read_bytes())
    card = model_card(model)
    file = json.loads((EXAMPLES / "index.json").read_text())[2]["file"]
    x = preprocess((EXAMPLES / file).read_bytes(), card.preprocessing)
    return model, run(model, x), input_preview(x, card.preprocessing)


@pytest.fixture(scope="module")
def rgb():
    """A colour model: Conv 3→4 (pad 1), ReLU, Flatten, Gemm to 3 classes."""
    b = ModelBuilder((1, 3, 6, 5), seed=4)
    y = b.add("Conv", [b.input, b.weight((4, 3, 3, 3)), b.weight((4,), "b", 1)],
              outputs=["conv"], pads=[1, 1, 1, 1])
    y = b.add("Relu", [y], outputs=["relu"])
    y = b.add("Flatten", [y], outputs=["flat"])
    b.add("Gemm", [y, b.weight((3, 120)), b.weight((3,), "c", 1)], outputs=["logits"],
          transB=1)
    model = read_model(b.build("logits").SerializeToString())
    x = np.random.default_rng(8).normal(size=(1, 3, 6, 5)).astype(np.float32)
    preview = np.random.default_rng(9).integers(0, 256, (6, 5, 3)).astype(np.uint8)
    return model, run(model, x), preview


@pytest.mark.parametrize(("layer", "channel"), [("logits", 4), ("relu_2_1", 7),
                                                ("max_pool_1", 2)])
def test_every_map_is_the_engines_attribution(bundled, layer, channel):
    model, result, preview = bundled
    view, numbers, _ = attribution_view(model, result, preview, CLASSES, layer, channel)
    target = target_for(model, result, layer, channel)
    assert [m["name"] for m in view["methods"]] == list(METHODS)
    cam = view["cam_layer"]
    for entry in view["methods"]:
        name = entry["name"]
        layer_arg = cam if name in ("gradcam", "guided-gradcam") else None
        expected = attribute(model, result, name, target, layer=layer_arg)
        expected = expected if name == "gradcam" else expected[0]
        np.testing.assert_array_equal(unpack(view, numbers, name), expected)
        assert entry["min"] == pytest.approx(float(expected.min()))
        assert entry["max"] == pytest.approx(float(expected.max()))
    shown = unpack(view, numbers, "gradcam/shown")
    np.testing.assert_allclose(shown, upsample(unpack(view, numbers, "gradcam"), (28, 28)))
    np.testing.assert_array_equal(unpack(view, numbers, "saliency/shown"),
                                  unpack(view, numbers, "saliency")[0])


def test_grad_cam_layers_are_the_convolutions_before_the_target(bundled):
    model, result, preview = bundled
    layers = {layer: attribution_view(model, result, preview, CLASSES, layer, 0, "gradcam")[0]
              for layer in ("logits", "relu_2_1", "max_pool_1", "conv_1_1")}
    assert layers["logits"]["cam_layers"] == ["conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2"]
    assert layers["logits"]["cam_layer"] == "conv_2_2"  # the last one by default
    assert layers["relu_2_1"]["cam_layer"] == "conv_2_1"
    assert layers["max_pool_1"]["cam_layers"] == ["conv_1_1", "conv_1_2"]
    assert layers["conv_1_1"]["cam_layers"] == ["conv_1_1"]
    view, numbers, _ = attribution_view(model, result, preview, CLASSES, "logits", 4,
                                        "gradcam", "conv_1_2")
    assert view["cam_layer"] == "conv_1_2"
    assert unpack(view, numbers, "gradcam").shape == (28, 28)
    assert [m["name"] for m in view["methods"]] == ["gradcam"]


def lut_colour(scale: str, t: np.ndarray) -> np.ndarray:
    """The colour at positions t in [0, 1] of a scale, by nearest table entry."""
    table = colormap.SCALES[scale]
    return table[np.rint(t * (len(table) - 1)).astype(int)]


def test_rasters_are_the_numbers_on_the_diverging_scale(bundled):
    model, result, preview = bundled
    view, numbers, rasters = attribution_view(model, result, preview, CLASSES, "logits", 1)
    for entry in view["methods"]:
        name = entry["name"]
        shown = unpack(view, numbers, f"{name}/shown")
        reach = max(float(np.abs(shown).max()), float(np.abs(unpack(view, numbers, name)).max()))
        assert entry["reach"] == pytest.approx(reach)
        colours = image(view, rasters, name)
        overlay = image(view, rasters, f"{name}/overlay")
        if entry["signed"]:
            expected = lut_colour("activation", 0.5 + 0.5 * shown / reach)
            top = np.unravel_index(np.argmax(np.abs(shown)), shown.shape)
            assert tuple(colours[top][:3]) == (DARK_BLUE if shown[top] > 0 else DARK_RED)
            assert entry["legend"]["min"] == -reach
        else:
            expected = lut_colour("logit", shown / reach)
            assert entry["legend"]["min"] == 0
            # Grad-CAM's scale reaches the layer's own largest value, above the stretched map's.
            assert reach == pytest.approx(float(unpack(view, numbers, name).max()))
            assert reach > float(shown.max())
        np.testing.assert_array_equal(colours, expected)
        np.testing.assert_array_equal(overlay[..., :3], expected[..., :3])
        # The overlay is transparent where the map is zero and opaque at its extreme.
        np.testing.assert_array_equal(overlay[..., 3], np.rint(np.abs(shown) / reach * 255))
        assert entry["legend"]["max"] == reach
    saliency = unpack(view, numbers, "saliency/shown")
    zero = saliency == 0
    if zero.any():
        assert tuple(image(view, rasters, "saliency")[zero][0][:3]) == WHITE
    np.testing.assert_array_equal(image(view, rasters, "input")[..., 0], preview[..., 0])
    assert view["target"]["label"] == "class 1 “c1” (its logit)"


def test_a_colour_input_gets_a_per_pixel_sum_and_each_channel(rgb):
    model, result, preview = rgb
    view, numbers, rasters = attribution_view(model, result, preview, ["a", "b", "c"],
                                              "logits", 0)
    for entry in view["methods"]:
        name = entry["name"]
        if not entry["signed"]:
            continue
        values = unpack(view, numbers, name)
        assert values.shape == (3, 6, 5)
        # The sum over R, G, B, written out (no NumPy reduction to share a bug with).
        np.testing.assert_allclose(unpack(view, numbers, f"{name}/shown"),
                                   values[0] + values[1] + values[2], rtol=1e-6, atol=1e-7)
        channels = image(view, rasters, f"{name}/channels")
        assert channels.shape == (3, 6, 5, 4)
        reach = float(np.abs(values).max())
        np.testing.assert_array_equal(channels,
                                      lut_colour("activation", 0.5 + 0.5 * values / reach))
    np.testing.assert_array_equal(image(view, rasters, "input")[..., :3], preview)
    assert view["cam_layers"] == ["conv"]


def test_a_map_that_is_zero_everywhere_is_white_and_its_overlay_transparent(rgb):
    model, result, preview = rgb
    # For class 2 the weighted sum of the ReLU'd maps is negative everywhere: Grad-CAM is 0.
    view, numbers, rasters = attribution_view(model, result, preview, ["a", "b", "c"],
                                              "logits", 2, "gradcam")
    assert not unpack(view, numbers, "gradcam").any()
    assert view["methods"][0]["reach"] == 0
    colours = image(view, rasters, "gradcam")
    assert (colours[..., :3] == colormap.SCALES["logit"][0][:3]).all()
    assert not image(view, rasters, "gradcam/overlay")[..., 3].any()


@pytest.mark.parametrize(("layer", "channel", "method", "cam", "message"), [
    ("nowhere", 0, "all", "", "there is no layer 'nowhere'"),
    ("relu_1_1", 10, "all", "", "has 10 channels"),
    ("logits", 10, "all", "", "there is no class 10"),
    ("logits", 0, "smoothgrad", "", "no attribution method 'smoothgrad'"),
    ("relu_1_2", 0, "all", "conv_2_1", "'conv_2_1' is not one of them"),
    ("logits", 0, "all", "relu_2_2", "'relu_2_2' is not one of them"),
    ("image", 0, "all", "", "the input itself depends on nothing"),
])
def test_bad_choices_are_refused_with_a_clear_message(bundled, layer, channel, method, cam,
                                                       message):
    model, result, preview = bundled
    with pytest.raises(CnnlensError, match=re.escape(message)):
        attribution_view(model, result, preview, CLASSES, layer, channel, method, cam)


def test_the_page_answers_through_the_protocol_and_keeps_its_state():
    app, _ = app_showing_first_example()
    session = app.session
    answer = app.attribution("logits", 3, "guided", "")
    assert set(answer) == {"view", "numbers", "rasters"}
    view = json.loads(answer["view"])
    assert [m["name"] for m in view["methods"]] == ["guided"]
    numbers = np.frombuffer(answer["numbers"], np.float32)
    target = target_for(session.loaded.model, session.result, "logits", 3)
    np.testing.assert_array_equal(
        unpack(view, numbers, "guided"),
        attribute(session.loaded.model, session.result, "guided", target)[0])
    assert app.attribution("logits", 3, "all", "conv_9") == {
        "error": "Grad-CAM needs a convolutional layer that logits is computed from; 'conv_9' "
                 "is not one of them (conv_1_1, conv_1_2, conv_2_1, conv_2_2)"}
    assert app.session is session


def test_the_page_knows_the_same_methods_in_the_same_order():
    source = (ROOT / "assets" / "js" / "views" / "attribution.js").read_text()
    listed = re.search(r"export const METHODS = \[([^\]]*)\]", source)
    assert listed is not None
    assert re.findall(r'"([^"]+)"', listed.group(1)) == list(METHODS)
