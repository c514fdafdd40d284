"""`python -m cnnlens attribute | maximize` as subprocesses, against PyTorch autograd and
onnxruntime (see tests/test_methods.py for why the pictures carry a little noise)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.methods.attribution import METHODS
from cnnlens.methods.targets import Target
from cnnlens.preprocess import preprocess
from tests.onnx_builders import onnxruntime_outputs
from tests.paths import BUNDLED_MODEL
from tests.test_cli import assert_clean_error, cnnlens
from tests.test_methods import CLASSES, noisy_example, torch_grad_cam
from tests.torch_reference import torch_values

RTOL = 1e-4


@pytest.fixture(scope="module")
def proto() -> onnx.ModelProto:
    return onnx.load(str(BUNDLED_MODEL))


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A noisy coat on disk, and the model input preprocessing makes of it."""
    path = tmp_path_factory.mktemp("pictures") / "coat.png"
    path.write_bytes(noisy_example("coat_2.png", seed=3))
    prep = load_model(BUNDLED_MODEL.read_bytes(), "bundled").card.preprocessing
    return path, preprocess(path.read_bytes(), prep)


def attribute(tmp_path: Path, picture: Path, method: str, *options: str) -> np.ndarray:
    out = tmp_path / f"{method}.npy"
    result = cnnlens("attribute", BUNDLED_MODEL, picture, "--method", method, *options,
                     "--out", out)
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    values = np.load(out)
    assert values.dtype == np.float32
    return values


def torch_logit_gradient(proto: onnx.ModelProto, x: np.ndarray, scalar) -> np.ndarray:
    values = torch_values(proto, x)
    (gradient,) = torch.autograd.grad(scalar(values), values["image"])
    return gradient.numpy()


@pytest.mark.parametrize(("options", "scalar"), [
    ((), lambda v: v["logits"][0].max()),  # the predicted class
    (("--class", "Trouser"), lambda v: v["logits"][0, 1]),
    (("--class", "Ankle boot"), lambda v: v["logits"][0, 9]),
    (("--neuron", "conv_2_2:4"), lambda v: v["conv_2_2"][0, 4].mean()),
    (("--neuron", "relu_2_2:1:1:10"), lambda v: v["relu_2_2"][0, 1, 1, 10]),
])
def test_saliency_is_torch_autograd_of_the_target(tmp_path, proto, picture, options, scalar):
    path, x = picture
    ours = attribute(tmp_path, path, "saliency", *options)
    reference = torch_logit_gradient(proto, x, scalar)
    assert ours.shape == x.shape == (1, 1, 28, 28)
    scale = np.abs(reference).max()
    assert scale > 0 and np.abs(ours - reference).max() <= RTOL * scale


def test_gradient_times_input_is_saliency_times_the_preprocessed_input(tmp_path, picture):
    path, x = picture
    saliency = attribute(tmp_path, path, "saliency", "--class", "Coat")
    product = attribute(tmp_path, path, "gradient-x-input", "--class", "Coat")
    np.testing.assert_array_equal(product, saliency * x)


@pytest.mark.parametrize(("options", "layer", "shape"), [((), "conv_2_2", (14, 14)),
                                                         (("--layer", "conv_1_2"), "conv_1_2",
                                                          (28, 28))])
def test_grad_cam_is_the_papers_formula(tmp_path, proto, picture, options, layer, shape):
    path, x = picture
    ours = attribute(tmp_path, path, "gradcam", "--class", "Shirt", *options)
    loaded = load_model(BUNDLED_MODEL.read_bytes(), "bundled")
    reference = torch_grad_cam(proto, x, run(loaded.model, x),
                               Target("logits", CLASSES.index("Shirt"), is_class=True), layer)
    assert ours.shape == shape
    scale = float(reference.abs().max())
    assert scale > 0 and np.abs(ours - reference.numpy()).max() <= RTOL * scale


def test_every_method_writes_the_shape_its_help_gives(tmp_path, picture):
    path, x = picture
    help_text = cnnlens("attribute", "--help").stdout
    for method in METHODS:
        assert f"{method}:" in help_text
        shape = attribute(tmp_path, path, method, "--neuron", "max_pool_2:3").shape
        assert shape == ((14, 14) if method == "gradcam" else x.shape), method


# ---------------------------------------------------------------- maximize


def maximize(tmp_path: Path, name: str, *options: str) -> tuple[dict, np.ndarray]:
    out = tmp_path / f"{name}.npy"
    result = cnnlens("maximize", BUNDLED_MODEL, *options, "--out", out)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), np.load(out)


def channel_mean(proto: onnx.ModelProto, x: np.ndarray, layer: str, channel: int) -> float:
    return float(onnxruntime_outputs(proto, {"image": x})[layer][0, channel].mean(
        dtype=np.float64))


def test_maximize_prints_start_and_end_values_of_its_files(tmp_path, proto):
    common = ("--target", "conv_2_1:6", "--seed", "9", "--jitter", "--blur-every", "--l2")
    start, noise = maximize(tmp_path, "start", *common, "--steps", "0")
    record, picture = maximize(tmp_path, "end", *common, "--steps", "30")
    assert record == {"target": "conv_2_1:6", "steps": 30, "start": start["start"],
                      "end": record["end"]}
    assert start["steps"] == 0 and start["end"] == start["start"]
    assert noise.shape == picture.shape == (1, 1, 28, 28) and picture.dtype == np.float32
    assert start["start"] == pytest.approx(channel_mean(proto, noise, "conv_2_1", 6),
                                           rel=1e-5, abs=1e-6)
    assert record["end"] == pytest.approx(channel_mean(proto, picture, "conv_2_1", 6),
                                          rel=1e-5, abs=1e-6)
    assert record["end"] > record["start"] + 0.5


def test_maximize_a_class_logit(tmp_path, proto):
    record, picture = maximize(tmp_path, "sneaker", "--target", "class:Sneaker",
                               "--steps", "20", "--seed", "1")
    logit = onnxruntime_outputs(proto, {"image": picture})["logits"][0, 7]
    assert record["target"] == "class:Sneaker"
    assert record["end"] == pytest.approx(float(logit), rel=1e-5, abs=1e-6)
    assert record["end"] > record["start"]


def test_maximize_same_seed_same_file_other_seed_other_file(tmp_path):
    runs = [maximize(tmp_path, f"run{i}", "--target", "relu_1_2:3", "--steps", "10",
                     "--seed", seed, "--jitter", "2")
            for i, seed in enumerate(("5", "5", "6"))]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0] == runs[1][0]
    assert not np.array_equal(runs[0][1], runs[2][1])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(("options", "fragments"), [
    (("--class", "Hat"), ("there is no class 'Hat'",)),
    (("--neuron", "conv_9:1"), ("there is no layer 'conv_9'",)),
    (("--neuron", "conv_2_2:10"), ("no channel 10",)),
    (("--neuron", "conv_2_2:1:3:14"), ("outside layer 'conv_2_2'",)),
    (("--method", "gradcam", "--layer", "relu_2_2"), ("not a convolutional layer",)),
    (("--method", "gradcam", "--layer", "flatten"), ("not a convolutional layer",)),
    (("--method", "gradcam", "--layer", "conv_9"), ("'conv_9' does not exist",)),
    (("--layer", "conv_2_2"), ("--layer applies only to gradcam and guided-gradcam",)),
    (("--method", "occlusion"), ("invalid choice: 'occlusion'",)),
    (("--class", "Bag", "--neuron", "conv_2_2:1"), ("not allowed with argument",)),
])
def test_attribute_refuses_bad_input_clearly(tmp_path, picture, options, fragments):
    method = () if "--method" in options else ("--method", "saliency")
    result = cnnlens("attribute", BUNDLED_MODEL, picture[0], *method, *options,
                     "--out", tmp_path / "x.npy")
    assert_clean_error(result, *fragments)
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize(("options", "fragments"), [
    (("--target", "class:Hat"), ("there is no class 'Hat'",)),
    (("--target", "conv_9:1"), ("there is no layer 'conv_9'",)),
    (("--target", "conv_2_2:-1"), ("no channel -1",)),
    (("--target", "conv_2_2:0:14:0"), ("outside layer",)),
    (("--target", "conv_2_2:1", "--steps", "-5"), ("--steps", "got '-5'")),
    (("--target", "conv_2_2:1", "--jitter", "-1"), ("jitter must be 0 or more",)),
    (("--target", "conv_2_2:1", "--step-size", "nan"), ("step size must be more than 0",)),
    (("--target", "conv_2_2:1", "--l2", "1.5"), ("l2 decay must be",)),
])
def test_maximize_refuses_bad_input_clearly(tmp_path, options, fragments):
    result = cnnlens("maximize", BUNDLED_MODEL, *options, "--out", tmp_path / "x.npy")
    assert_clean_error(result, *fragments)
    assert not (tmp_path / "x.npy").exists()


def test_unwritable_output_is_a_clean_error(tmp_path, picture):
    out = tmp_path / "missing" / "x.npy"
    result = cnnlens("attribute", BUNDLED_MODEL, picture[0], "--method", "saliency",
                     "--out", out)
    assert_clean_error(result, f"cannot write {out}")
