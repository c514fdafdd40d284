"""`python -m cnnlens ...` run as a subprocess, checked against onnxruntime and onnx.reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from cnnlens.model_card import Preprocessing
from cnnlens.preprocess import preprocess
from tests.onnx_builders import (
    ATOL,
    RTOL,
    ModelBuilder,
    onnxruntime_outputs,
    reference_outputs,
    value_names,
)
from tests.paths import BUNDLED_MODEL, EXAMPLES, ROOT

CLASSES = ["cat", "dog", "bird"]
GREY_PREP = Preprocessing(mode="L", size=(28, 28), resize="fit", mean=(0.5,), std=(0.25,),
                          invert_light_background=True)
RGB_PREP = Preprocessing(mode="RGB", size=(16, 16), resize="center-crop",
                         mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def cnnlens(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnnlens", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def assert_clean_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit status 2, `cnnlens: error:` on stderr mentioning `fragments`, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "cnnlens: error:" in result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def metadata(prep: Preprocessing, classes: list[str] = CLASSES) -> dict[str, str]:
    return {"cnnlens.name": "Tiny test CNN", "cnnlens.classes": json.dumps(classes),
            "cnnlens.preprocessing": json.dumps(prep.to_json())}


def grey_cnn(softmax: bool = True, **meta: str) -> onnx.ModelProto:
    """Conv-ReLU-MaxPool-Flatten-Gemm(-Softmax) on (N, 1, 28, 28), three classes."""
    b = ModelBuilder(("batch", 1, 28, 28), input_name="image")
    y = b.add("Conv", [b.input, b.weight((4, 1, 3, 3)), b.weight((4,))], pads=[1, 1, 1, 1])
    y = b.add("Relu", [y])
    y = b.add("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.add("Flatten", [y])
    y = b.add("Gemm", [y, b.weight((3, 4 * 14 * 14)), b.weight((3,))], transB=1)
    if softmax:
        y = b.add("Softmax", [y], axis=1)
    return b.build(y, metadata={**metadata(GREY_PREP), **meta})


def rgb_cnn() -> onnx.ModelProto:
    """An RGB model whose value names would trip np.savez ("file", a "/" path)."""
    b = ModelBuilder((1, 3, 16, 16), input_name="pixels")
    y = b.add("Conv", [b.input, b.weight((2, 3, 3, 3))], outputs=["/features/conv"],
              strides=[2, 2])
    y = b.add("Relu", [y], outputs=["file"])
    y = b.add("GlobalAveragePool", [y])
    y = b.add("Flatten", [y])
    y = b.add("Gemm", [y, b.weight((3, 2))], transB=1, outputs=["logits"])
    return b.build(y, metadata=metadata(RGB_PREP))


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    """A few pictures of different kinds: exact size, light background, wide RGBA, JPEG."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(7)
    pictures = {
        "exact.png": Image.fromarray(rng.integers(0, 120, (28, 28), dtype=np.uint8)),
        "light.png": Image.fromarray(np.pad(rng.integers(0, 80, (20, 12), dtype=np.uint8),
                                            ((5, 5), (9, 9)), constant_values=250)),
        "wide.png": Image.fromarray(rng.integers(0, 256, (30, 50, 4), dtype=np.uint8)),
        "photo.jpg": Image.fromarray(rng.integers(0, 256, (40, 24, 3), dtype=np.uint8)),
    }
    paths = {}
    for name, picture in pictures.items():
        picture.save(folder / name)
        paths[name] = folder / name
    return paths


@pytest.fixture(scope="module")
def grey_model(tmp_path_factory) -> tuple[onnx.ModelProto, Path]:
    model = grey_cnn()
    return model, save(model, tmp_path_factory.mktemp("models") / "grey.onnx")


# ---------------------------------------------------------------- predict


def test_predict_json_matches_onnxruntime(grey_model, images):
    model, path = grey_model
    result = cnnlens("predict", path, *images.values(), "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(images)
    for line, image in zip(lines, images.values(), strict=True):
        record = json.loads(line)
        assert set(record) == {"image", "classes", "probabilities", "top1"}
        assert record["image"] == str(image)
        x = preprocess(image.read_bytes(), GREY_PREP)
        expected = onnxruntime_outputs(model, {"image": x})[model.graph.output[0].name][0]
        got = dict(zip(record["classes"], record["probabilities"], strict=True))
        assert sorted(got) == sorted(CLASSES)
        np.testing.assert_allclose([got[c] for c in CLASSES], expected, rtol=RTOL, atol=ATOL)
        assert record["probabilities"] == sorted(record["probabilities"], reverse=True)
        assert record["top1"] == CLASSES[int(np.argmax(expected))] == record["classes"][0]


def test_predict_of_a_logits_model_applies_softmax(tmp_path, images):
    model = grey_cnn(softmax=False)
    result = cnnlens("predict", save(model, tmp_path / "logits.onnx"), images["light.png"],
                     "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    x = preprocess(images["light.png"].read_bytes(), GREY_PREP)
    logits = onnxruntime_outputs(model, {"image": x})[model.graph.output[0].name]
    got = dict(zip(record["classes"], record["probabilities"], strict=True))
    np.testing.assert_allclose([got[c] for c in CLASSES], softmax(logits)[0], rtol=RTOL,
                               atol=ATOL)


def test_predict_json_keeps_full_float32_precision(grey_model, images):
    record = json.loads(cnnlens("predict", grey_model[1], images["exact.png"], "--json").stdout)
    for p in record["probabilities"]:
        assert float(np.float32(p)) == p  # a float32 value, printed with every digit


def test_predict_top_k_and_human_form(grey_model, images):
    top2 = json.loads(cnnlens("predict", grey_model[1], images["exact.png"], "--json",
                              "--top", "2").stdout)
    assert len(top2["classes"]) == len(top2["probabilities"]) == 2
    human = cnnlens("predict", grey_model[1], images["exact.png"], "--top", "2")
    assert human.returncode == 0
    lines = human.stdout.splitlines()
    assert lines[0] == str(images["exact.png"])
    assert [line.split()[0] for line in lines[1:]] == top2["classes"]
    assert all(line.rstrip().endswith("%") for line in lines[1:])


def test_predict_reports_a_bad_image_and_goes_on(grey_model, images, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture\n")
    result = cnnlens("predict", grey_model[1], images["exact.png"], text,
                     tmp_path / "missing.png", images["photo.jpg"], "--json")
    assert_clean_error(result, f"{text}: not an image", "missing.png",
                       "2 of 4 image(s) could not be predicted")
    assert [json.loads(line)["image"] for line in result.stdout.splitlines()] == [
        str(images["exact.png"]), str(images["photo.jpg"])]


# ---------------------------------------------------------------- activations


def test_activations_hold_the_input_and_every_node_output(grey_model, images, tmp_path):
    model, path = grey_model
    out = tmp_path / "acts.npz"
    result = cnnlens("activations", path, images["wide.png"], "--out", out)
    assert result.returncode == 0, result.stderr
    saved = np.load(out)
    assert saved.files == ["image", *value_names(model)]
    x = preprocess(images["wide.png"].read_bytes(), GREY_PREP)
    np.testing.assert_array_equal(saved["image"], x)
    expected = reference_outputs(model, {"image": x})
    for name in value_names(model):
        assert saved[name].dtype == np.float32 and saved[name].shape == expected[name].shape
        np.testing.assert_allclose(saved[name], expected[name], rtol=RTOL, atol=ATOL,
                                   err_msg=name)


def test_activations_keep_awkward_value_names_and_the_exact_path(tmp_path, images):
    model = rgb_cnn()
    out = tmp_path / "activations.bin"  # np.savez would have appended ".npz"
    result = cnnlens("activations", save(model, tmp_path / "rgb.onnx"), images["photo.jpg"],
                     "--out", out)
    assert result.returncode == 0, result.stderr
    saved = np.load(out)
    assert saved.files == ["pixels", "/features/conv", "file", *value_names(model)[2:]]
    x = preprocess(images["photo.jpg"].read_bytes(), RGB_PREP)
    expected = reference_outputs(model, {"pixels": x})
    for name in value_names(model):
        np.testing.assert_allclose(saved[name], expected[name], rtol=RTOL, atol=ATOL,
                                   err_msg=name)


# ---------------------------------------------------------------- inspect


def test_inspect_shows_the_card_and_every_layer(grey_model):
    model, path = grey_model
    result = cnnlens("inspect", path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for fragment in ("Tiny test CNN", "image float32 (batch, 1, 28, 28)", "3: cat, dog, bird",
                     '"resize": "fit"', "1 x 4 x 28 x 28", "1 x 3"):
        assert fragment in text
    for node in model.graph.node:
        assert any(line.split()[:2] == [node.name, node.op_type] for line in text.splitlines())
    total = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    assert f"Total parameters: {total:,}" in text


def test_inspect_without_metadata_uses_defaults(tmp_path):
    b = ModelBuilder((1, 3, 8, 8))
    y = b.add("GlobalAveragePool", [b.input])
    y = b.add("Flatten", [y])
    result = cnnlens("inspect", save(b.build(y), tmp_path / "bare.onnx"))
    assert result.returncode == 0, result.stderr
    assert "3: class 0, class 1, class 2" in result.stdout
    assert '"mode": "RGB", "size": [8, 8]' in result.stdout


# ---------------------------------------------------------------- errors


def test_missing_model_file(tmp_path, images):
    assert_clean_error(cnnlens("predict", tmp_path / "none.onnx", images["exact.png"]),
                       "cannot read", "none.onnx")


def test_missing_image_file(grey_model, tmp_path):
    assert_clean_error(cnnlens("activations", grey_model[1], tmp_path / "gone.png", "--out",
                               tmp_path / "a.npz"), "gone.png")


def test_not_an_onnx_model(images):
    assert_clean_error(cnnlens("inspect", images["exact.png"]), str(images["exact.png"]))


def test_unsupported_op(tmp_path, images):
    b = ModelBuilder((1, 1, 28, 28), input_name="image")
    y = b.add("Frobnicate", [b.input], name="frob", domain="example.com")
    path = save(b.build(y, metadata=metadata(GREY_PREP)), tmp_path / "frob.onnx")
    for args in (("inspect", path), ("predict", path, images["exact.png"])):
        assert_clean_error(cnnlens(*args), "unsupported op", "Frobnicate", "frob")


def test_class_count_mismatch(tmp_path, images):
    path = save(grey_cnn(**{"cnnlens.classes": '["only", "two"]'}), tmp_path / "two.onnx")
    for args in (("inspect", path), ("predict", path, images["exact.png"]),
                 ("activations", path, images["exact.png"], "--out", tmp_path / "x.npz")):
        assert_clean_error(cnnlens(*args), "names 2 classes but the model outputs 3 scores")


def test_bad_metadata_names_the_key(tmp_path):
    path = save(grey_cnn(**{"cnnlens.preprocessing": '{"mode": "CMYK"}'}), tmp_path / "m.onnx")
    assert_clean_error(cnnlens("inspect", path), "'cnnlens.preprocessing'", "CMYK")


@pytest.mark.parametrize("args", [(), ("predict",), ("predict", "m.onnx", "x.png", "--top", "0"),
                                  ("activations", "m.onnx", "x.png"), ("explain", "m.onnx")])
def test_usage_errors(args):
    assert_clean_error(cnnlens(*args))


# ---------------------------------------------------------------- the bundled model


@pytest.mark.skipif(not BUNDLED_MODEL.exists() or not list(EXAMPLES.glob("*.png")),
                    reason="bundled model or example images not present yet")
def test_bundled_model_predicts_like_onnxruntime(tmp_path):
    from cnnlens.model_card import model_card
    from cnnlens.onnx_reader import read_model

    proto = onnx.load(BUNDLED_MODEL)
    card = model_card(read_model(BUNDLED_MODEL.read_bytes()))
    examples = sorted(EXAMPLES.glob("*.png"))
    assert cnnlens("inspect", BUNDLED_MODEL).returncode == 0
    result = cnnlens("predict", BUNDLED_MODEL, *examples, "--json")
    assert result.returncode == 0, result.stderr
    for line, image in zip(result.stdout.splitlines(), examples, strict=True):
        record = json.loads(line)
        x = preprocess(image.read_bytes(), card.preprocessing)
        scores = onnxruntime_outputs(proto, {proto.graph.input[0].name: x})[
            proto.graph.output[0].name]
        ends_in_softmax = proto.graph.node[-1].op_type == "Softmax"
        probabilities = scores[0] if ends_in_softmax else softmax(scores)[0]
        got = dict(zip(record["classes"], record["probabilities"], strict=True))
        np.testing.assert_allclose([got[c] for c in card.classes], probabilities, rtol=RTOL,
                                   atol=ATOL, err_msg=image.name)
    out = tmp_path / "bundled.npz"
    assert cnnlens("activations", BUNDLED_MODEL, examples[0], "--out", out).returncode == 0
    assert np.load(out).files == [proto.graph.input[0].name, *value_names(proto)]
