"""Network inversion (`cnnlens.methods.inversion`): the loss gradient against PyTorch
autograd and float64 finite differences, the perturbations' definitions, and the
literature's two findings on the bundled models: the first conv layer keeps more of the
image than the last pooling layer, and a binarised first layer still reconstructs
something close to the plain reconstruction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from cnnlens.errors import CnnlensError
from cnnlens.forward import run
from cnnlens.loader import LoadedModel, load_model
from cnnlens.methods.inversion import (
    TV_SCALE,
    Inverter,
    Settings,
    alpha_norm,
    binarised,
    dropped_out,
    invert,
    relative_error,
    total_variation,
)
from cnnlens.methods.maximize import input_range
from cnnlens.preprocess import preprocess
from tests.paths import BUNDLED_MODEL, EXAMPLES, ROOT
from tests.torch_reference import torch_values

CNN_EXPLAINER = ROOT / "assets" / "models" / "cnn-explainer" / "tinyvgg-cnn-explainer.onnx"
CNN_EXPLAINER_EXAMPLES = ROOT / "assets" / "images" / "cnn-explainer"
STEPS = 12  # fixed steps and seed for the findings below
FIRST, LAST_POOL = "conv_1_1", "max_pool_2"


def example_files(folder: Path) -> list[str]:
    return [e["file"] for e in json.loads((folder / "index.json").read_text())]


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model(BUNDLED_MODEL.read_bytes(), BUNDLED_MODEL.name)


def image(loaded: LoadedModel, folder: Path, name: str) -> np.ndarray:
    return preprocess((folder / name).read_bytes(), loaded.card.preprocessing)


# ---------------------------------------------------------------- the gradient


def torch_loss(proto: onnx.ModelProto, x: np.ndarray, layer: str, goal: np.ndarray,
               s: Settings, low: np.ndarray, high: np.ndarray) -> tuple[float, np.ndarray]:
    """The paper's objective written out in float64 torch, and its autograd gradient."""
    values = torch_values(proto, x)
    xt = values["image"] if "image" in values else values[proto.graph.input[0].name]
    goal_t = torch.from_numpy(goal.astype(np.float64))
    data = ((values[layer] - goal_t) ** 2).sum() / (goal_t**2).sum()
    low_t = torch.from_numpy(low.astype(np.float64)).reshape(1, -1, 1, 1)
    high_t = torch.from_numpy(high.astype(np.float64)).reshape(1, -1, 1, 1)
    v = (high_t - low_t) / TV_SCALE
    dy = (xt[:, :, 1:, :-1] - xt[:, :, :-1, :-1]) / v
    dx = (xt[:, :, :-1, 1:] - xt[:, :, :-1, :-1]) / v
    tv = ((dx**2 + dy**2) ** (s.tv_beta / 2)).mean()
    norm = (((xt - (low_t + high_t) / 2) / ((high_t - low_t) / 2)).abs() ** s.alpha).mean()
    loss = data + s.tv_weight * tv + s.norm_weight * norm
    (grad,) = torch.autograd.grad(loss, xt)
    return float(loss.detach()), grad.numpy()


@pytest.mark.parametrize("layer", ["conv_1_2", "max_pool_2", "logits"])
@pytest.mark.parametrize("beta", [2.0, 1.5])
def test_the_loss_gradient_is_torch_autograds(loaded, layer, beta):
    proto = onnx.load(str(BUNDLED_MODEL))
    x = image(loaded, EXAMPLES, "bag_1.png")
    goal = run(loaded.model, x).tensors[layer]
    settings = Settings(tv_weight=0.3, tv_beta=beta, norm_weight=0.2, alpha=6.0)
    inverter = Inverter(loaded, layer, goal, settings, seed=3)
    inverter.step(2)  # somewhere away from the noise, inside the range
    at = inverter.image
    low, high = input_range(loaded.card.preprocessing)
    loss, reference = torch_loss(proto, at.astype(np.float64), layer, goal, settings, low, high)
    ours = inverter.gradient(run(loaded.model, at))
    assert inverter.losses[-1, 0] == pytest.approx(loss, rel=1e-4)
    scale = np.abs(reference).max()
    assert scale > 0
    np.testing.assert_allclose(ours, reference, atol=1e-4 * scale)


@pytest.mark.parametrize("beta", [2.0, 1.2])
def test_the_priors_gradients_are_float64_finite_differences(beta):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5, 6))
    scale = np.array([0.7, 1.3]).reshape(1, 2, 1, 1)
    centre, half = np.array([0.1, -0.2]).reshape(1, 2, 1, 1), scale
    for f in (lambda z: total_variation(z, scale, beta),
              lambda z: alpha_norm(z, centre, half, 3.0)):
        _, grad = f(x)
        numeric = np.zeros_like(x)
        h = 1e-6
        for i in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] -= h
            numeric[i] = (f(up)[0] - f(down)[0]) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- the perturbations


def test_binarised_keeps_signs_with_equal_magnitudes_and_the_same_norm():
    goal = np.array([[3.0, -1.0, 0.0, 0.5, -2.0]], np.float32)
    found = binarised(goal)
    np.testing.assert_array_equal(np.sign(found), np.sign(goal))
    magnitudes = np.abs(found[found != 0])
    assert np.allclose(magnitudes, magnitudes[0])
    assert np.linalg.norm(found) == pytest.approx(np.linalg.norm(goal), rel=1e-6)


def test_dropout_drops_half_rescaled_to_the_same_norm_and_is_seeded():
    goal = np.random.default_rng(1).standard_normal((1, 8, 10, 10)).astype(np.float32)
    found = dropped_out(goal, (7, 1))
    dropped = found == 0
    assert 0.4 < dropped.mean() < 0.6
    kept = ~dropped
    ratio = found[kept] / goal[kept]
    assert np.allclose(ratio, ratio[0]) and ratio[0] > 1
    assert np.linalg.norm(found) == pytest.approx(np.linalg.norm(goal), rel=1e-5)
    np.testing.assert_array_equal(found, dropped_out(goal, (7, 1)))
    assert not np.array_equal(found, dropped_out(goal, (8, 1)))


def test_relative_error_is_the_norm_ratio():
    original = np.array([3.0, 4.0])
    assert relative_error(np.array([3.0, 0.0]), original) == pytest.approx(0.8)


def test_steps_split_any_way_give_the_same_reconstruction(loaded):
    x = image(loaded, EXAMPLES, "sneaker_1.png")
    goal = run(loaded.model, x).tensors["relu_1_2"]
    whole = Inverter(loaded, "relu_1_2", goal, seed=5)
    whole.step(6)
    parts = Inverter(loaded, "relu_1_2", goal, seed=5)
    for count in (1, 3, 2):
        parts.step(count)
    np.testing.assert_array_equal(whole.image, parts.image)
    assert whole.losses[-1, 0] < whole.losses[0, 0]  # it descends


def test_bad_settings_and_layers_are_refused_clearly(loaded):
    with pytest.raises(CnnlensError, match="alpha must be 1 or more"):
        Settings(alpha=0.5)
    x = image(loaded, EXAMPLES, "bag_1.png")
    with pytest.raises(CnnlensError, match="no layer 'nope' to invert"):
        invert(loaded, x, "nope", 1)


# ---------------------------------------------------------------- the findings


def input_errors(model: LoadedModel, folder: Path, name: str) -> tuple[float, float]:
    x = image(model, folder, name)
    first, _ = invert(model, x, FIRST, STEPS, seed=0)
    last, _ = invert(model, x, LAST_POOL, STEPS, seed=0)
    return relative_error(first.image, x), relative_error(last.image, x)


def test_the_first_conv_keeps_more_than_the_last_pool_on_every_bundled_example(loaded):
    for name in example_files(EXAMPLES):
        first, last = input_errors(loaded, EXAMPLES, name)
        assert first < last, (name, first, last)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[] if i == 0 else pytest.mark.slow)
    for i, n in enumerate(example_files(CNN_EXPLAINER_EXAMPLES))])
def test_the_same_holds_for_cnn_explainers_model(name):
    model = load_model(CNN_EXPLAINER.read_bytes(), CNN_EXPLAINER.name)
    first, last = input_errors(model, CNN_EXPLAINER_EXAMPLES, name)
    assert first < last, (name, first, last)


@pytest.mark.parametrize("name", ["t-shirt-top_1.png", "sneaker_2.png", "bag_3.png"])
def test_a_binarised_first_layer_stays_closer_to_the_plain_inversion_than_noise(loaded, name):
    x = image(loaded, EXAMPLES, name)
    plain, original = invert(loaded, x, FIRST, STEPS, seed=0)
    binary = Inverter(loaded, FIRST, binarised(original.tensors[FIRST]), seed=0)
    binary.step(STEPS)
    low, high = input_range(loaded.card.preprocessing)
    noise = np.random.default_rng(0).uniform(low.reshape(1, -1, 1, 1),
                                             high.reshape(1, -1, 1, 1), x.shape)
    assert (np.linalg.norm(binary.image - plain.image)
            < np.linalg.norm(noise - plain.image))
