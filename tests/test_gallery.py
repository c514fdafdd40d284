"""The architecture gallery (assets/models/gallery/): parameter counts against the published
figures, multiply-adds against torchvision's fvcore-style table, every shape against ONNX's
own shape inference, and the seeded He-initialised weights against onnxruntime.

Shapes only, except one small net run forward: no big network runs here.

Figures (assets/models/gallery/README.md gives the sources): parameter counts are
torchvision's ``num_params`` (its model tables), exact; MACs are torchvision's "GFLOPS"
column, computed by fvcore's convention (one multiply-add = 1, conv and linear layers only,
which is ours, see cnnlens.macs) and published rounded, so ours must round to the quoted
figure (e.g. ResNet-50 4.0892 G → 4.09). Inception v3's parameter count is torchvision's
27,161,264 less its auxiliary head (3,326,696, torchvision's InceptionAux(768, 1000)), which
the gallery leaves out as torchvision does at inference; its MACs are at 299 x 299.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import shape_inference

from cnnlens.errors import ModelError
from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.onnx_reader import read_model
from cnnlens.summary import summarize, total_params
from cnnlens.untrained import SEED, is_placeholder
from tests.onnx_builders import onnxruntime_outputs
from tests.paths import ROOT, load_build_script

GALLERY = ROOT / "assets" / "models" / "gallery"
INCEPTION_AUX = 98_560 + 2_459_136 + 769_000  # conv0 (+BN), conv1 (+BN), fc of InceptionAux

# name: (parameters, published GMACs as quoted, its decimals)
PUBLISHED: dict[str, tuple[int, float, int]] = {
    "alexnet": (61_100_840, 0.71, 2),
    "vgg16": (138_357_544, 15.47, 2),
    "vgg19": (143_667_240, 19.63, 2),
    "googlenet": (6_624_904, 1.50, 2),
    "inception_v3": (27_161_264 - INCEPTION_AUX, 5.71, 2),
    "resnet18": (11_689_512, 1.81, 2),
    "resnet50": (25_557_032, 4.09, 2),
    "resnet152": (60_192_808, 11.51, 2),
    "squeezenet1_1": (1_235_496, 0.35, 2),
    "mobilenet_v2": (3_504_872, 0.30, 2),
    "densenet121": (7_978_856, 2.83, 2),
}
# No authoritative published table: these are derived by hand in the README (layer by layer)
# and re-derived below by PyTorch from an nn.Module of the same layers.
HAND_DERIVED = {"lenet5": (61_706, 416_520), "nin": (7_595_176, None)}
NAMES = sorted(path.stem for path in GALLERY.glob("*.onnx"))


def data(name: str) -> bytes:
    return (GALLERY / f"{name}.onnx").read_bytes()


def test_the_gallery_has_every_architecture_the_issue_names():
    assert set(NAMES) == set(PUBLISHED) | set(HAND_DERIVED)
    assert len(NAMES) >= 13


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_file_is_what_make_gallery_writes(name):
    module = load_build_script("make_gallery")
    assert module.build(name).SerializeToString() == data(name)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameters_and_macs_match_the_published_figures(name):
    model = read_model(data(name), weights="shapes")
    params, gmacs, decimals = PUBLISHED[name]
    assert total_params(model) == params
    macs = sum(layer.macs for layer in summarize(model))
    assert round(macs / 1e9, decimals) == gmacs, macs


@pytest.mark.parametrize("name", NAMES)
def test_every_shape_matches_onnx_shape_inference(name):
    proto = shape_inference.infer_shapes(onnx.load_from_string(data(name)), strict_mode=True)
    expected = {info.name: tuple(d.dim_value for d in info.type.tensor_type.shape.dim)
                for info in (*proto.graph.value_info, *proto.graph.output)}
    layers = summarize(read_model(data(name), weights="shapes"))
    assert len(layers) == len(proto.graph.node)
    for layer in layers:
        assert layer.output_shape == expected[layer.outputs[0]], layer.name


@pytest.mark.parametrize("name", NAMES)
def test_weights_are_declared_not_stored(name):
    proto = onnx.load_from_string(data(name))
    assert len(data(name)) < 200_000
    assert proto.metadata_props and {p.key: p.value for p in proto.metadata_props}[
        "cnnlens.weights"] == "declared"
    assert all(t.name.startswith("relu6.") for t in proto.graph.initializer)  # Clip's bounds
    model = read_model(data(name), weights="shapes")
    declared = {i.name for i in proto.graph.input[1:]}
    assert declared == {n for n, a in model.graph.initializers.items() if is_placeholder(a)}
    assert model.input.name == "input"
    assert "untrained" in model.metadata["cnnlens.name"]


# ---------------------------------------------------------------- hand-derived nets, by torch


def torch_lenet5():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
        nn.AvgPool2d(2), nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(), nn.Linear(120, 84),
        nn.Tanh(), nn.Linear(84, 10)), (1, 1, 32, 32)


def torch_nin():
    from torch import nn

    layers: list[nn.Module] = []
    c = 3
    for b, (width, k, s, p) in enumerate(((96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1),
                                          (1024, 3, 1, 1))):
        last = 1000 if b == 3 else width
        layers += [nn.Conv2d(c, width, k, s, p), nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(),
                   nn.Conv2d(width, last, 1), nn.ReLU()]
        if b < 3:
            layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
        c = last
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), (1, 3, 224, 224)


@pytest.mark.parametrize("name, make", [("lenet5", torch_lenet5), ("nin", torch_nin)])
def test_hand_derived_nets_match_pytorch(name, make):
    import torch

    net, shape = make()
    macs = []

    def count(module, inputs, output):  # fvcore's rule for conv and linear
        if isinstance(module, torch.nn.Conv2d):
            macs.append(output.numel() * module.in_channels // module.groups
                        * math.prod(module.kernel_size))
        elif isinstance(module, torch.nn.Linear):
            macs.append(output.numel() * module.in_features)

    for module in net.modules():
        module.register_forward_hook(count)
    with torch.no_grad():
        out = net(torch.zeros(shape))
    model = read_model(data(name), weights="shapes")
    layers = summarize(model)
    expected_params, expected_macs = HAND_DERIVED[name]
    assert total_params(model) == sum(p.numel() for p in net.parameters()) == expected_params
    assert sum(layer.macs for layer in layers) == sum(macs)
    assert expected_macs is None or sum(macs) == expected_macs
    assert layers[-1].output_shape == tuple(out.shape)


# ---------------------------------------------------------------- untrained weights


def test_lenet5_runs_with_seeded_he_weights_like_onnxruntime():
    loaded = load_model(data("lenet5"), "lenet5.onnx")
    weights = loaded.model.graph.initializers
    assert not any(is_placeholder(a) for a in weights.values())
    x = np.random.default_rng(1).normal(size=(1, 1, 32, 32)).astype(np.float32)
    ours = run(loaded.model, x)
    proto = onnx.load_from_string(data("lenet5"))
    feeds = {"input": x, **{i.name: weights[i.name] for i in proto.graph.input[1:]}}
    expected = onnxruntime_outputs(proto, feeds)
    for name, value in expected.items():
        np.testing.assert_allclose(ours.tensors[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours.probabilities.sum(), 1.0, rtol=1e-6)


def test_he_weights_are_seeded_and_scaled_by_fan_in():
    first = read_model(data("resnet18")).graph.initializers
    second = read_model(data("resnet18")).graph.initializers
    for name, array in first.items():
        np.testing.assert_array_equal(array, second[name])
    conv = first["layer4.0.2.conv.weight"]  # (512, 512, 3, 3): fan_in 4608
    assert conv.shape == (512, 512, 3, 3) and conv.dtype == np.float32
    assert abs(conv.std() / math.sqrt(2 / 4608) - 1) < 0.01
    assert abs(conv.mean()) < 0.01 * conv.std()
    fc = first["fc.weight"]  # Gemm (N, K) with transB: fan_in K = 512
    assert abs(fc.std() / math.sqrt(2 / 512) - 1) < 0.01
    assert np.all(first["conv1.bn.weight"] == 1) and np.all(first["conv1.bn.running_var"] == 1)
    assert np.all(first["conv1.bn.bias"] == 0) and np.all(first["conv1.bn.running_mean"] == 0)
    assert np.all(first["fc.bias"] == 0)
    assert SEED == 0
    # A different tensor draws different numbers (each has its own stream).
    assert not np.array_equal(first["layer1.0.1.conv.weight"], first["layer1.0.2.conv.weight"])


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_vgg_is_refused_for_the_page_before_its_weights_are_made(name):
    with pytest.raises(ModelError, match=r"weights take 5\d\d\.\d MiB, over the limit of 512"):
        load_model(data(name), f"{name}.onnx")
    assert total_params(read_model(data(name), weights="shapes")) == PUBLISHED[name][0]


def test_placeholders_take_no_memory():
    weights = read_model(data("resnet152"), weights="shapes").graph.initializers
    assert sum(a.nbytes for a in weights.values()) > 200 * 2**20  # what they stand for
    assert all(a.base is not None and a.base.nbytes <= 4 for a in weights.values()
               if is_placeholder(a))
