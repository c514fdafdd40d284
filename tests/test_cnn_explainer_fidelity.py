"""CNN Explainer's TinyVGG, converted by our TF.js importer: the shipped model, in CPython.

Against the reference outputs in ../shared/reference/cnn-explainer/ (TensorFlow.js 1.0.0,
`cpu` backend; see its README): every image's probabilities within 1e-4 with the same top
class, and every layer of boat_1 within 1e-4. Those tests skip, saying why, when the folder
is absent (a fresh clone). The shipped file is also checked against onnxruntime and against
the weights in the TF.js shard, which need nothing beside the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from cnnlens.forward import run
from cnnlens.loader import LoadedModel, load_model
from cnnlens.preprocess import preprocess
from tests.paths import ROOT, load_build_script

SHARED = ROOT.parent / "shared" / "reference" / "cnn-explainer"
MODEL = ROOT / "assets" / "models" / "cnn-explainer" / "tinyvgg-cnn-explainer.onnx"
IMAGES = ROOT / "assets" / "images" / "cnn-explainer"
TOLERANCE = 1e-4
CLASSES = ("lifeboat", "ladybug", "pizza", "bell pepper", "school bus", "koala", "espresso",
           "red panda", "orange", "sport car")

needs_shared = pytest.mark.skipif(
    not (SHARED / "reference_predictions.json").is_file(),
    reason=f"the CNN Explainer reference material is not here ({SHARED} is absent; it lives "
           "beside the repository, not in it)")


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model(MODEL.read_bytes(), MODEL.name)


@pytest.fixture(scope="module")
def references() -> dict:
    return json.loads((SHARED / "reference_predictions.json").read_text())


def pillow_input(path: Path) -> np.ndarray:
    """The README's preprocessing, written here: Pillow RGB / 255, (1, 3, H, W)."""
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return pixels.transpose(2, 0, 1)[None]


# ---------------------------------------------------------------- against TF.js


@needs_shared
def test_every_image_gives_tfjs_probabilities_and_top_class(loaded, references):
    assert loaded.card.classes == tuple(references["classes"]) == CLASSES
    files = sorted(p.name for p in (SHARED / "images").iterdir())
    assert sorted(references["images"]) == files and len(files) == 13
    worst = 0.0
    for file in files:
        reference = references["images"][file]
        x = preprocess((SHARED / "images" / file).read_bytes(), loaded.card.preprocessing)
        np.testing.assert_array_equal(x, pillow_input(SHARED / "images" / file))
        result = run(loaded.model, x)
        probabilities = result.probabilities[0]
        np.testing.assert_allclose(probabilities, reference["probabilities"], rtol=0,
                                   atol=TOLERANCE, err_msg=file)
        np.testing.assert_allclose(result.logits[0], reference["logits"], rtol=0,
                                   atol=TOLERANCE, err_msg=file)
        assert int(probabilities.argmax()) == reference["top1"], file
        assert loaded.card.classes[reference["top1"]] == reference["top1_class"]
        worst = max(worst, float(np.abs(probabilities - reference["probabilities"]).max()))
    print(f"largest probability difference over {len(files)} images: {worst:.2e}")


# The reference's names → ours: Keras's `output` layer is our Gemm (`output`, the logits)
# followed by its softmax (`output_softmax`).
OURS = {"output": "output_softmax", "logits": "output"}


@needs_shared
def test_every_layer_of_boat_1_matches_tfjs(loaded):
    x = preprocess((SHARED / "images" / "boat_1.jpeg").read_bytes(), loaded.card.preprocessing)
    tensors = run(loaded.model, x).tensors
    with np.load(SHARED / "reference_activations_boat_1.npz") as reference:
        keys = list(reference.files)
        assert len(keys) == 14
        for key in keys:
            theirs = reference[key]
            # The README: images and feature maps are (H, W, C); flatten is HWC order,
            # channel fastest. Ours are (C, H, W) and CHW order.
            if key == "flatten":
                theirs = theirs.reshape(13, 13, 10).transpose(2, 0, 1).reshape(-1)
            elif theirs.ndim == 3:
                theirs = theirs.transpose(2, 0, 1)
            ours = tensors[OURS.get(key, key)][0]
            assert ours.shape == theirs.shape, key
            difference = float(np.abs(ours - theirs).max())
            assert difference <= TOLERANCE, f"{key}: {difference:.2e}"
            print(f"{key}: {difference:.2e}")


@needs_shared
def test_the_committed_conversion_is_what_the_build_script_makes():
    script = load_build_script("convert_cnn_explainer")
    assert script.convert(SHARED) == MODEL.read_bytes()
    assert tuple(script.CLASSES) == CLASSES


@needs_shared
def test_first_layer_kernels_are_the_shards_own(loaded):
    """The 3 × 10 = 30 first-layer kernels, read straight from the TF.js shard (HWIO,
    little-endian float32, first in the manifest)."""
    hwio = np.frombuffer((SHARED / "group1-shard1of1.bin").read_bytes(), "<f4", 3 * 3 * 3 * 10)
    hwio = hwio.reshape(3, 3, 3, 10)
    ours = loaded.model.graph.initializers["conv_1_1.weight"]
    assert ours.shape == (10, 3, 3, 3)
    for out in range(10):
        for channel in range(3):
            np.testing.assert_array_equal(ours[out, channel], hwio[:, :, channel, out])


@needs_shared
def test_the_shipped_examples_are_the_references_pixels(loaded, references):
    """Each shipped PNG holds the pixels the reference outputs start from, so the page and
    the CLI give TF.js's probabilities on every example."""
    for entry in json.loads((IMAGES / "index.json").read_text()):
        jpeg = SHARED / "images" / Path(entry["file"]).with_suffix(".jpeg").name
        x = preprocess((IMAGES / entry["file"]).read_bytes(), loaded.card.preprocessing)
        np.testing.assert_array_equal(x, pillow_input(jpeg))
        reference = references["images"][jpeg.name]
        probabilities = run(loaded.model, x).probabilities[0]
        np.testing.assert_allclose(probabilities, reference["probabilities"], rtol=0,
                                   atol=TOLERANCE, err_msg=entry["file"])


# ---------------------------------------------------------------- the shipped files alone


def test_the_shipped_model_is_a_three_channel_64_pixel_tinyvgg(loaded):
    model = loaded.model
    assert model.input.shape == ("N", 3, 64, 64)
    prep = loaded.card.preprocessing
    assert (prep.mode, prep.size, prep.resize) == ("RGB", (64, 64), "stretch")
    assert prep.scale == pytest.approx(1 / 255) and prep.mean == (0, 0, 0)
    assert prep.std == (1, 1, 1) and not prep.invert_light_background
    assert loaded.card.classes == CLASSES
    assert [node.name for node in model.graph.nodes] == [
        "conv_1_1", "relu_1_1", "conv_1_2", "relu_1_2", "max_pool_1", "conv_2_1", "relu_2_1",
        "conv_2_2", "relu_2_2", "max_pool_2", "flatten", "output", "output_softmax"]
    assert "MIT License" in model.doc_string and "Polo Club of Data Science" in model.doc_string
    proto = onnx.load(str(MODEL))
    onnx.checker.check_model(proto, full_check=True)


def test_the_examples_are_listed_with_their_class_and_licence():
    index = json.loads((IMAGES / "index.json").read_text())
    assert len(index) == 12
    for entry in index:
        assert set(entry) == {"file", "label"} and entry["label"] in CLASSES
        assert (IMAGES / entry["file"]).is_file()
    for folder in (IMAGES, MODEL.parent):
        assert "Polo Club of Data Science" in (folder / "LICENSE").read_text()
    card = (MODEL.parent / "MODEL_CARD.md").read_text()
    for words in ("MIT", "github.com/poloclub/cnn-explainer", "3 × 10 = 30"):
        assert words in card


def test_the_shipped_model_agrees_with_onnxruntime_on_every_example(loaded):
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    for entry in json.loads((IMAGES / "index.json").read_text()):
        x = preprocess((IMAGES / entry["file"]).read_bytes(), loaded.card.preprocessing)
        ours = run(loaded.model, x)
        (theirs,) = session.run(None, {"input": x})
        np.testing.assert_allclose(ours.probabilities, theirs, rtol=0, atol=1e-5,
                                   err_msg=entry["file"])
