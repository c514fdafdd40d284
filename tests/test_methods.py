"""Visualisation methods (`cnnlens.methods`) against independent references.

Gradients come from PyTorch autograd over the ONNX graph translated node by node with
``onnx`` (``tests.test_gradients``), bilinear stretching from ``torch.nn.functional``,
forward values from onnxruntime. Gradients of the bundled model are compared on example
pictures with a little pixel noise: on a flat background many max-pool windows tie
exactly, the gradient there is not unique, and two correct implementations may route it
to different pixels.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cnnlens.backward import backward
from cnnlens.errors import CnnlensError
from cnnlens.forward import ForwardResult, run
from cnnlens.loader import LoadedModel, load_model
from cnnlens.methods.attribution import (
    CAM_METHODS,
    METHODS,
    attribute,
    cam_layers,
    grad_cam,
    upsample,
)
from cnnlens.methods.maximize import (
    LayerMaximizer,
    Maximizer,
    Settings,
    gaussian_blur,
    input_range,
)
from cnnlens.methods.targets import (
    Target,
    parse_neuron,
    parse_target,
    predicted_class,
    seeds,
    target_for,
    value,
    values,
)
from cnnlens.preprocess import preprocess
from tests.onnx_builders import ModelBuilder, onnxruntime_outputs
from tests.paths import BUNDLED_MODEL, EXAMPLES
from tests.torch_reference import torch_values

RTOL = 1e-4  # gradients: largest difference over the reference's largest magnitude
CONV_LAYERS = ("conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot")


def example_files() -> list[str]:
    return [entry["file"] for entry in json.loads((EXAMPLES / "index.json").read_text())]


def noisy_example(name: str, seed: int = 0) -> bytes:
    """An example picture with 0 to 11 grey levels of noise added, as PNG bytes."""
    pixels = np.asarray(Image.open(EXAMPLES / name).convert("L"), dtype=np.int64)
    noise = np.random.default_rng(seed).integers(0, 12, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def assert_close(ours: np.ndarray, reference: np.ndarray, what: str = "") -> None:
    ours, reference = np.asarray(ours), np.asarray(reference, dtype=np.float64)
    assert ours.shape == reference.shape, what
    scale = np.abs(reference).max()
    error = np.abs(ours - reference).max()
    assert scale > 0 and error <= RTOL * scale, f"{what}: {error:.3g} off, scale {scale:.3g}"


def torch_scalar(tensors: dict[str, torch.Tensor], seeds: dict[str, np.ndarray]
                 ) -> torch.Tensor:
    """Σ seed · tensor: the scalar whose gradient ``seeds`` start (a target's value)."""
    return sum((tensors[name] * torch.from_numpy(seed.astype(np.float64))).sum()
               for name, seed in seeds.items())


def torch_input_gradient(proto: onnx.ModelProto, x: np.ndarray, seeds: dict[str, np.ndarray],
                         rule: str = "plain") -> np.ndarray:
    """d (Σ seed · tensor) / d input by float64 autograd, ReLUs under ``rule``."""
    tensors = torch_values(proto, x, rule)
    (gradient,) = torch.autograd.grad(torch_scalar(tensors, seeds), tensors["image"])
    return gradient.numpy()


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max()))


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model(BUNDLED_MODEL.read_bytes(), BUNDLED_MODEL.name)


@pytest.fixture(scope="module")
def proto() -> onnx.ModelProto:
    return onnx.load(str(BUNDLED_MODEL))


def forward_of(loaded: LoadedModel, data: bytes) -> tuple[np.ndarray, ForwardResult]:
    x = preprocess(data, loaded.card.preprocessing)
    return x, run(loaded.model, x)


@pytest.fixture(scope="module")
def bag(loaded) -> tuple[np.ndarray, ForwardResult]:
    return forward_of(loaded, noisy_example("bag_1.png"))


# ---------------------------------------------------------------- targets


def test_targets_parse_check_and_label(loaded, bag):
    _, result = bag
    model = loaded.model
    assert parse_target(model, result, CLASSES, "class:Bag") == Target("logits", 8,
                                                                       is_class=True)
    assert parse_target(model, result, CLASSES, "class:3").channel == 3
    assert parse_neuron(model, result, "conv_2_2:3") == Target("conv_2_2", 3)
    neuron = parse_neuron(model, result, "conv_2_2:3:4:13")
    assert neuron == Target("conv_2_2", 3, (4, 13)) and neuron.kind == "neuron"
    assert parse_neuron(model, result, "logits:2").kind == "class"
    assert target_for(model, result, "flatten", 7).kind == "channel"
    for text in ("class:Ankle boot", "relu_1_1:9", "max_pool_2:0:6:6"):
        assert parse_target(model, result, CLASSES, text).label(CLASSES) == text
    assert predicted_class(result) == Target("logits", int(np.argmax(result.logits[0])),
                                             is_class=True)


@pytest.mark.parametrize(("text", "fragment"), [
    ("class:Hat", "there is no class 'Hat'"),
    ("class:10", "there is no class 10"),
    ("conv_9:1", "there is no layer 'conv_9'"),
    ("conv_2_2:10", "has 10 channels (0 to 9), so there is no channel 10"),
    ("conv_2_2:-1", "no channel -1"),
    ("conv_2_2:1:14:0", "outside layer 'conv_2_2', whose maps are 14 × 14"),
    ("conv_2_2:1:0:-1", "outside layer"),
    ("flatten:1:0:0", "not (N, C, H, W)"),
    ("logits:1:0:0", "a class has no position"),
    ("conv_2_2", "after the layer give CHANNEL"),
    ("conv_2_2:1:2", "after the layer give CHANNEL"),
    ("image:0", "there is no layer 'image'"),
    ("conv_2_2:one", "after the layer give CHANNEL"),
    ("nonsense", "cannot read 'nonsense'"),
])
def test_bad_targets_are_refused_clearly(loaded, bag, text, fragment):
    with pytest.raises(CnnlensError) as info:
        parse_target(loaded.model, bag[1], CLASSES, text)
    assert fragment in str(info.value)


def test_layer_names_may_contain_colons():
    b = ModelBuilder((1, 1, 6, 6), input_name="x")
    y = b.add("Conv", [b.input, b.weight((3, 1, 3, 3))], outputs=["block:1"], pads=[1] * 4)
    y = b.add("Relu", [y], outputs=["block:1:2"])
    y = b.add("Flatten", [y])
    model = load_model(b.build(y).SerializeToString(), "colons").model
    result = run(model, np.ones((1, 1, 6, 6), np.float32))
    assert parse_neuron(model, result, "block:1:2") == Target("block:1", 2)
    assert parse_neuron(model, result, "block:1:2:0") == Target("block:1:2", 0)
    assert parse_neuron(model, result, "block:1:2:0:5:5") == Target("block:1:2", 0, (5, 5))


def test_values_are_onnxruntime_numbers(loaded, proto, bag):
    x, result = bag
    reference = onnxruntime_outputs(proto, {"image": x})
    conv = reference["conv_2_2"][0].astype(np.float64)
    cases = {
        Target("conv_2_2", 4): conv[4].mean(),
        Target("conv_2_2", 4, (3, 11)): conv[4, 3, 11],
        Target("logits", 6, is_class=True): reference["logits"][0, 6],
        Target("flatten", 100): reference["flatten"][0, 100],
    }
    for target, expected in cases.items():
        assert value(result, target) == pytest.approx(expected, rel=1e-5, abs=1e-6), target


def test_each_sample_gets_its_own_targets_gradient(loaded, proto):
    x = np.stack([preprocess(noisy_example(name), loaded.card.preprocessing)[0]
                  for name in ("coat_1.png", "sneaker_2.png")])
    result = run(loaded.model, x)
    targets = (Target("logits", 3, is_class=True), Target("conv_2_2", 1, (2, 3)))
    ours = backward(loaded.model, result, seeds(result, targets))["image"]
    for i, target in enumerate(targets):
        alone = run(loaded.model, x[i:i + 1])
        reference = torch_input_gradient(proto, x[i:i + 1], seeds(alone, target))
        assert_close(ours[i:i + 1], reference, f"sample {i}")
    assert np.allclose(values(result, targets),
                       [value(run(loaded.model, x[i:i + 1]), t) for i, t in enumerate(targets)])


# ---------------------------------------------------------------- attribution


@pytest.mark.parametrize("text", ["class:Bag", "class:Trouser", "conv_2_2:3", "relu_2_1:0:9:2"])
@pytest.mark.parametrize(("method", "rule"), [("saliency", "plain"),
                                              ("deconvnet", "deconvnet"),
                                              ("guided", "guided")])
def test_gradient_methods_are_torch_autograd_under_their_relu_rule(loaded, proto, bag, text,
                                                                   method, rule):
    x, result = bag
    target = parse_target(loaded.model, result, CLASSES, text)
    ours = attribute(loaded.model, result, method, target)
    reference = torch_input_gradient(proto, x, seeds(result, target), rule)
    assert ours.dtype == np.float32
    assert_close(ours, reference, f"{method} of {text}")


def test_gradient_times_input_is_saliency_times_input_exactly(loaded, bag):
    x, result = bag
    target = predicted_class(result)
    saliency = attribute(loaded.model, result, "saliency", target)
    product = attribute(loaded.model, result, "gradient-x-input", target)
    assert product.dtype == np.float32
    np.testing.assert_array_equal(product, saliency * x)


@pytest.mark.parametrize("name", ["bag_1.png", "trouser_2.png", "sandal_3.png"])
def test_the_relu_rules_really_apply(loaded, name):
    _, result = forward_of(loaded, noisy_example(name))
    target = predicted_class(result)
    maps = {m: attribute(loaded.model, result, m, target)
            for m in ("saliency", "deconvnet", "guided")}
    assert relative_difference(maps["guided"], maps["saliency"]) > 0.1
    assert relative_difference(maps["deconvnet"], maps["saliency"]) > 0.1
    assert relative_difference(maps["deconvnet"], maps["guided"]) > 0.1


def torch_grad_cam(proto: onnx.ModelProto, x: np.ndarray, result: ForwardResult,
                   target: Target, layer: str) -> torch.Tensor:
    """The paper's formula in torch: ReLU(Σ_k mean(d y / d A^k) A^k), ``(h, w)``."""
    tensors = torch_values(proto, x)
    activations = tensors[layer]
    (gradient,) = torch.autograd.grad(torch_scalar(tensors, seeds(result, target)),
                                      activations)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * activations).sum(dim=1))[0].detach()


@pytest.mark.parametrize("name", example_files())
def test_grad_cam_is_the_papers_formula(loaded, proto, name):
    x, result = forward_of(loaded, noisy_example(name))
    target = predicted_class(result)
    ours = attribute(loaded.model, result, "gradcam", target)
    assert ours.shape == (14, 14) and ours.dtype == np.float32
    assert_close(ours, torch_grad_cam(proto, x, result, target, "conv_2_2").numpy(), name)


def test_grad_cam_of_a_chosen_layer_and_a_neuron(loaded, proto, bag):
    x, result = bag
    target = Target("conv_2_2", 7, (5, 6))
    ours = attribute(loaded.model, result, "gradcam", target, layer="conv_1_2")
    assert ours.shape == (28, 28)
    assert_close(ours, torch_grad_cam(proto, x, result, target, "conv_1_2").numpy())


@pytest.mark.parametrize(("small", "size"), [((14, 14), (28, 28)), ((7, 5), (28, 28)),
                                             ((3, 4), (10, 7)), ((1, 1), (4, 4)),
                                             ((6, 6), (6, 6))])
def test_upsample_is_torch_bilinear(small, size):
    values = np.random.default_rng(1).normal(size=small).astype(np.float32)
    reference = F.interpolate(torch.from_numpy(values)[None, None].double(), size=size,
                              mode="bilinear", align_corners=False)[0, 0].numpy()
    ours = upsample(values, size)
    assert ours.shape == size and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)


def test_guided_grad_cam_is_guided_backprop_times_the_stretched_cam(loaded, proto, bag):
    x, result = bag
    target = parse_target(loaded.model, result, CLASSES, "class:Bag")
    ours = attribute(loaded.model, result, "guided-gradcam", target)
    guided = torch_input_gradient(proto, x, seeds(result, target), "guided")
    cam = torch_grad_cam(proto, x, result, target, "conv_2_2")
    stretched = F.interpolate(cam[None, None], size=x.shape[2:], mode="bilinear",
                              align_corners=False)[0, 0].numpy()
    assert ours.shape == x.shape
    assert_close(ours, guided * stretched)


def test_every_method_has_its_documented_shape(loaded, bag):
    x, result = bag
    target = predicted_class(result)
    for method in METHODS:
        expected = (14, 14) if method == "gradcam" else x.shape
        assert attribute(loaded.model, result, method, target).shape == expected, method


def test_grad_cam_peaks_inside_the_garment_for_most_examples(loaded):
    """The issue's figure: Grad-CAM of the predicted class is not uniform and peaks on the
    garment (the non-zero pixels) for most examples, read at the layer's own 14 × 14
    resolution, where a cell is garment if any of its input pixels is.

    Measured: 29 of 30 maps are not uniform (trouser_1's is all zero: no conv_2_2 channel
    pulls the logit up there) and 23 of 30 peak on the garment; the misses peak on the image
    border, where the convolutions' zero padding meets the normalised background (-0.81).
    Stretched to 28 × 28 the peaks land on the garment for only 15 of 30, so the coarse
    reading is the one that holds.
    """
    uniform, hits = [], []
    for name in example_files():
        x, result = forward_of(loaded, (EXAMPLES / name).read_bytes())
        cam = attribute(loaded.model, result, "gradcam", predicted_class(result))
        uniform.append(bool(cam.max() == cam.min()))
        garment = x[0, 0] > x.min()  # the non-zero pixels
        h, w = cam.shape
        coarse = garment.reshape(h, garment.shape[0] // h, w, -1).any(axis=(1, 3))
        hits.append(not uniform[-1] and bool(coarse.flat[np.argmax(cam)]))
    assert sum(uniform) < len(uniform) / 2, f"{sum(uniform)} of {len(uniform)} uniform"
    assert sum(hits) > len(hits) / 2, f"{sum(hits)} of {len(hits)} on the garment"
    assert sum(hits) >= 20, f"{sum(hits)} of {len(hits)}: fewer than measured (23)"


def test_grad_cam_layers_and_refusals(loaded, bag):
    _, result = bag
    model = loaded.model
    target = predicted_class(result)
    assert cam_layers(model, result) == CONV_LAYERS
    np.testing.assert_array_equal(grad_cam(model, result, target),
                                  grad_cam(model, result, target, "conv_2_2"))
    refusals = {
        ("gradcam", target, "relu_2_2"): "'relu_2_2' is not a convolutional layer",
        ("guided-gradcam", target, "conv_9"): "'conv_9' does not exist",
        ("gradcam", Target("conv_1_1", 0), "conv_2_2"): "does not depend on layer 'conv_2_2'",
        ("saliency", target, "conv_2_2"): "applies only to gradcam and guided-gradcam",
        ("lime", target, None): "there is no attribution method 'lime'",
    }
    for (method, chosen, layer), fragment in refusals.items():
        with pytest.raises(CnnlensError) as info:
            attribute(model, result, method, chosen, layer)
        assert fragment in str(info.value)
    assert set(CAM_METHODS) < set(METHODS)


def test_grad_cam_without_convolutions_is_refused():
    b = ModelBuilder((1, 1, 2, 2))
    y = b.add("Flatten", [b.input])
    y = b.add("Gemm", [y, b.weight((3, 4))], transB=1)
    model = load_model(b.build(y).SerializeToString(), "dense").model
    result = run(model, np.ones((1, 1, 2, 2), np.float32))
    with pytest.raises(CnnlensError, match="this model has none"):
        attribute(model, result, "gradcam", predicted_class(result))


# ---------------------------------------------------------------- activation maximisation


def test_am_every_channel_of_conv_2_2_rises_as_the_issue_asks(loaded):
    """The issue's figure, 100 steps, one picture per channel in one batch (seconds in
    CPython). It needs the input unclipped: within the input range some channels of
    conv_2_2 cannot reach a mean of 1 at all (channel 7's best is about 0)."""
    result = run(loaded.model, np.zeros((1, 1, 28, 28), np.float32))
    climber = LayerMaximizer(loaded, result, "conv_2_2", Settings(clip=False, step_size=1.0),
                             seed=0)
    climber.step(100)
    start, end = climber.values[0], climber.values[-1]
    assert climber.values.shape == (101, 10)
    for channel, (before, after) in enumerate(zip(start, end, strict=True)):
        assert after - before >= 1.0, (channel, before, after)
        assert after >= 5 * max(before, 0.2), (channel, before, after)
    # The recorded values are the model's: onnxruntime on the final pictures.
    reference = onnxruntime_outputs(onnx.load(str(BUNDLED_MODEL)), {"image": climber.image})
    means = reference["conv_2_2"].astype(np.float64).mean(axis=(2, 3))
    np.testing.assert_allclose(end, np.diagonal(means), rtol=1e-4, atol=1e-4)


def test_am_default_settings_climb_inside_the_input_range(loaded):
    prep = loaded.card.preprocessing
    low = (0 - prep.mean[0]) / prep.std[0]
    high = (255 * prep.scale - prep.mean[0]) / prep.std[0]
    result = run(loaded.model, np.zeros((1, 1, 28, 28), np.float32))
    climber = LayerMaximizer(loaded, result, "conv_2_2", seed=3)
    climber.step(100)
    image = climber.image
    assert image.dtype == np.float32 and image.shape == (10, 1, 28, 28)
    assert image.min() >= np.float32(low) - 1e-6 and image.max() <= np.float32(high) + 1e-6
    assert np.all(climber.values[-1] - climber.values[0] >= 0.5)
    np.testing.assert_allclose(input_range(prep), ([low], [high]), rtol=1e-6)


def test_am_records_each_steps_value(loaded, proto):
    target = Target("logits", 8, is_class=True)
    climber = Maximizer(loaded, target, Settings(jitter=1, blur_every=2, l2_decay=0.01),
                        seed=5)
    pictures = [climber.image]
    for _ in range(4):
        climber.step(1)
        pictures.append(climber.image)
    reference = [onnxruntime_outputs(proto, {"image": p})["logits"][0, 8] for p in pictures]
    assert climber.steps == 4 and climber.values.shape == (5, 1)
    np.testing.assert_allclose(climber.values[:, 0], reference, rtol=1e-5, atol=1e-5)
    assert climber.value == climber.values[-1, 0]


SETTINGS_ON = Settings(step_size=0.2, l2_decay=0.02, jitter=2, blur_every=3, blur_sigma=0.7)


def test_am_same_seed_same_picture_other_seed_other_picture(loaded):
    target = Target("conv_2_1", 5)
    runs = []
    for seed in (11, 11, 12):
        climber = Maximizer(loaded, target, SETTINGS_ON, seed)
        climber.step(15)
        runs.append((climber.image, climber.values))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[2][0])


def test_am_chunks_give_the_same_result_as_one_run(loaded):
    target = Target("relu_2_2", 2, (7, 7))
    whole = Maximizer(loaded, target, SETTINGS_ON, 4)
    whole.step(25)
    chunked = Maximizer(loaded, target, SETTINGS_ON, 4)
    chunked.step(3)
    calls = 0
    while chunked.steps < 20:
        assert chunked.advance(max_ms=2.0, until=20) >= 1
        calls += 1
    assert chunked.advance(max_ms=1e6, until=20) == 0  # nothing left before `until`
    chunked.advance(max_ms=0.0, until=25)  # at least one step, even with no time
    chunked.step(25 - chunked.steps)
    assert chunked.steps == 25 and calls >= 1
    np.testing.assert_array_equal(chunked.image, whole.image)
    np.testing.assert_array_equal(chunked.values, whole.values)


def test_am_refuses_bad_settings_and_negative_steps(loaded):
    for bad in ({"step_size": 0}, {"l2_decay": 1.0}, {"jitter": -1}, {"blur_every": -2},
                {"blur_sigma": 0.0}, {"noise": math.nan}):
        with pytest.raises(CnnlensError, match=next(iter(bad)).replace("_", " ")):
            Settings(**bad)
    climber = Maximizer(loaded, Target("conv_1_1", 0))
    with pytest.raises(CnnlensError, match="cannot be negative"):
        climber.step(-1)


def test_whole_layer_mode_for_a_model_with_a_fixed_batch_of_one():
    """One maximiser per channel when the model cannot take a batch; still seeded."""
    b = ModelBuilder((1, 1, 8, 8), input_name="x")
    y = b.add("Conv", [b.input, b.weight((3, 1, 3, 3)), b.weight((3,))], outputs=["conv"],
              pads=[1] * 4)
    y = b.add("Relu", [y])
    y = b.add("Flatten", [y])
    y = b.add("Gemm", [y, b.weight((2, 3 * 64))], transB=1)
    meta = {"cnnlens.preprocessing": json.dumps({"mode": "L", "size": [8, 8]})}
    loaded = load_model(b.build(y, metadata=meta).SerializeToString(), "fixed")
    result = run(loaded.model, np.zeros((1, 1, 8, 8), np.float32))
    pictures = []
    for _ in range(2):
        climber = LayerMaximizer(loaded, result, "conv", seed=2)
        climber.step(20)
        pictures.append(climber.image)
        assert len(climber.parts) == 3 and climber.values.shape == (21, 3)
        assert np.all(climber.values[-1] > climber.values[0])
    assert pictures[0].shape == (3, 1, 8, 8)
    np.testing.assert_array_equal(pictures[0], pictures[1])


def test_gaussian_blur_is_torch_conv_with_replicated_edges():
    x = np.random.default_rng(0).normal(size=(2, 3, 9, 7)).astype(np.float32)
    sigma = 0.8
    radius = math.ceil(2 * sigma)
    taps = torch.exp(-torch.arange(-radius, radius + 1, dtype=torch.float64) ** 2
                     / (2 * sigma**2))
    kernel = torch.outer(taps, taps) / taps.sum() ** 2
    padded = F.pad(torch.from_numpy(x).double(), [radius] * 4, mode="replicate")
    reference = F.conv2d(padded.reshape(6, 1, *padded.shape[2:]), kernel[None, None])
    np.testing.assert_allclose(gaussian_blur(x, sigma), reference.reshape(x.shape).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_methods_are_importable_without_torch_onnx_or_onnxruntime():
    root = Path(__file__).resolve().parents[1]
    modules = sorted(p.stem for p in (root / "py" / "cnnlens" / "methods").glob("*.py"))
    assert modules == ["__init__", "attribution", "dissection", "inversion", "maximize", "targets"]
    for module in modules:
        text = (root / "py" / "cnnlens" / "methods" / f"{module}.py").read_text()
        assert "import torch" not in text and "import onnx" not in text
