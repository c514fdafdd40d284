"""`inspect --json` and `check`, run as a user would (subprocesses), and the errors a new user
meets: attributes of the wrong type, an empty file, non-finite outputs.

Expected shapes come from onnxruntime or ONNX shape inference, parameter counts from the
initializers as onnx reads them, MACs from the formula written out by hand in each test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tests.onnx_builders import ModelBuilder, onnxruntime_outputs
from tests.paths import ROOT
from tests.test_cli import GREY_PREP, cnnlens, metadata, save

GALLERY = ROOT / "assets" / "models" / "gallery"


def conv_bn_net(strides: object = (1, 1)) -> onnx.ModelProto:
    """(1, 3, 8, 8) → Conv 4@3x3 pad 1 (+bias) → BN → Relu → Flatten → Gemm 256→5."""
    b = ModelBuilder((1, 3, 8, 8), input_name="image")
    y = b.add("Conv", [b.input, b.weight((4, 3, 3, 3)), b.weight((4,))], pads=[1, 1, 1, 1],
              strides=list(strides) if isinstance(strides, tuple) else strides, name="conv")
    stats = [b.initializer(np.ones(4, np.float32)), b.initializer(np.zeros(4, np.float32)),
             b.initializer(np.zeros(4, np.float32)), b.initializer(np.ones(4, np.float32))]
    y = b.add("BatchNormalization", [y, *stats], name="bn")
    y = b.add("Relu", [y], name="relu")
    y = b.add("Flatten", [y], name="flatten")
    y = b.add("Gemm", [y, b.weight((5, 256)), b.weight((5,))], transB=1, name="fc")
    return b.build(y)


# ---------------------------------------------------------------- inspect --json


def test_inspect_json_layers_params_and_macs(tmp_path):
    proto = conv_bn_net()
    result = cnnlens("inspect", save(proto, tmp_path / "m.onnx"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"layers", "total_params", "total_macs", "input_shape"}
    assert report["input_shape"] == [1, 3, 8, 8]
    runtime = onnxruntime_outputs(proto, {"image": np.zeros((1, 3, 8, 8), np.float32)})
    sizes = {t.name: numpy_helper.to_array(t).size for t in proto.graph.initializer}
    layers = report["layers"]
    assert [layer["name"] for layer in layers] == [n.name for n in proto.graph.node]
    for layer, node in zip(layers, proto.graph.node, strict=True):
        assert set(layer) == {"name", "op", "output_shape", "params", "macs"}
        assert layer["op"] == node.op_type
        assert tuple(layer["output_shape"]) == runtime[node.output[0]].shape
    by_name = {layer["name"]: layer for layer in layers}
    conv_node, bn_node = proto.graph.node[0], proto.graph.node[1]
    assert by_name["conv"]["params"] == sizes[conv_node.input[1]] + sizes[conv_node.input[2]]
    # BN: scale and bias are parameters; the running mean and variance are not.
    assert by_name["bn"]["params"] == sizes[bn_node.input[1]] + sizes[bn_node.input[2]] == 8
    # Conv: 4 x 8 x 8 outputs, each a 3 x 3 x 3 dot product; Gemm: 1 x 5 outputs of 256 terms.
    assert by_name["conv"]["macs"] == 4 * 8 * 8 * 27
    assert by_name["fc"]["macs"] == 5 * 256
    assert all(by_name[n]["macs"] == 0 for n in ("bn", "relu", "flatten"))
    assert report["total_macs"] == 4 * 8 * 8 * 27 + 5 * 256
    assert report["total_params"] == (4 * 27 + 4) + 8 + (5 * 256 + 5)


@pytest.mark.parametrize("name, params, macs", [("lenet5", 61_706, 416_520),
                                                ("vgg16", 138_357_544, 15_470_264_320)])
def test_inspect_json_on_gallery_nets_of_any_size(name, params, macs):
    result = cnnlens("inspect", GALLERY / f"{name}.onnx", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["total_params"] == params
    # VGG-16: 13 convs and 3 fc layers, summed by hand from the configuration D table.
    assert report["total_macs"] == macs


def test_vgg16_macs_by_hand():
    """The figure above, from the architecture's table alone."""
    size, c, total = 224, 3, 0
    for block in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for width in block:
            total += size * size * width * c * 9
            c = width
        size //= 2
    total += 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert total == 15_470_264_320


def test_inspect_text_has_macs_and_help_states_the_convention():
    result = cnnlens("inspect", GALLERY / "resnet18.onnx")
    assert result.returncode == 0, result.stderr
    assert "MACs" in result.stdout.splitlines()[12]
    assert "Total parameters: 11,689,512" in result.stdout
    assert "Total MACs: 1,814,073,344 at input (1, 3, 224, 224)" in result.stdout
    assert "untrained" in result.stdout
    help_text = " ".join(cnnlens("inspect", "--help").stdout.split())
    for fragment in ("one multiply-add = 1", "Conv: output elements x (C_in/group) x kernel",
                     "Gemm/MatMul: M x N x K", "BatchNorm", "count 0", "running mean"):
        assert fragment in help_text


# ---------------------------------------------------------------- check


def test_check_says_a_small_net_runs(tmp_path):
    result = cnnlens("check", save(conv_bn_net(), tmp_path / "m.onnx"))
    assert result.returncode == 0, result.stderr
    assert "the page runs it" in result.stdout


def test_check_a_gallery_net_that_fits_runs_it():
    result = cnnlens("check", GALLERY / "squeezenet1_1.onnx")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "untrained" in result.stdout and "(1, 3, 224, 224)" in result.stdout


def test_check_vgg16_names_both_weight_limits():
    result = cnnlens("check", GALLERY / "vgg16.onnx")
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "will not run" in out
    assert "weights take 527.8 MiB, over the limit of 512.0 MiB" in out
    assert "'fc6.weight'" in out and "392.0 MiB" in out and "256.0 MiB for one tensor" in out
    assert "without its empty dims" not in out


def test_check_lists_every_reason(tmp_path):
    b = ModelBuilder((1, 1, 28, 28), input_name="image")
    y = b.add("Frobnicate", [b.input], name="frob", domain="example.com")
    y = b.add("Conv", [y, b.weight((2, 1, 3, 3))], strides="ab", name="conv")
    result = cnnlens("check", save(b.build(y, metadata=metadata(GREY_PREP)), tmp_path / "m.onnx"))
    assert result.returncode == 1, result.stderr
    assert "Frobnicate" in result.stdout and "frob" in result.stdout
    assert "attribute 'strides' must be a list of integers (INTS), got 'ab'" in result.stdout


def test_check_refuses_activations_over_the_budget(tmp_path):
    b = ModelBuilder((1, 3, 2048, 2048), input_name="image")
    y = b.add("Conv", [b.input, b.weight((64, 3, 3, 3))], pads=[1, 1, 1, 1], outputs=["wide"])
    y = b.add("GlobalAveragePool", [y])
    result = cnnlens("check", save(b.build(b.add("Flatten", [y])), tmp_path / "big.onnx"))
    assert result.returncode == 1, result.stderr
    # 2048 x 2048 x 64 float32 = 1 GiB, over the 256 MiB allowed one activation.
    assert "'wide'" in result.stdout and "(1, 64, 2048, 2048), 1.0 GiB" in result.stdout
    assert "256.0 MiB for one activation" in result.stdout


def test_check_exit_2_for_unreadable_files(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xff\xff\xff not protobuf")
    for path, fragment in ((empty, "empty"), (garbage, "not a readable ONNX file"),
                           (tmp_path / "missing.onnx", "cannot read")):
        result = cnnlens("check", path)
        assert result.returncode == 2, (path, result.stdout, result.stderr)
        assert fragment in result.stderr and "Traceback" not in result.stderr


def test_check_help_states_the_exit_codes():
    text = " ".join(cnnlens("check", "--help").stdout.split())
    assert "0 the page runs it, 1 it does not, 2 the file cannot be read" in text


# ---------------------------------------------------------------- errors a new user meets


def test_wrong_attribute_type_names_the_attribute(tmp_path, images):
    b = ModelBuilder(("batch", 1, 28, 28), input_name="image")
    y = b.add("Conv", [b.input, b.weight((2, 1, 3, 3))], strides="ab", name="conv")
    path = save(b.build(b.add("Flatten", [b.add("GlobalAveragePool", [y])]),
                        metadata=metadata(GREY_PREP, ["a", "b"])), tmp_path / "m.onnx")
    for args in (("inspect", path), ("predict", path, images["exact.png"])):
        result = cnnlens(*args)
        assert result.returncode == 2
        assert "attribute 'strides'" in result.stderr and "'conv'" in result.stderr
        assert "invalid literal" not in result.stderr


def test_an_empty_file_says_it_is_empty(tmp_path, images):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    for args in (("inspect", path), ("predict", path, images["exact.png"])):
        result = cnnlens(*args)
        assert result.returncode == 2 and "empty" in result.stderr


def test_non_finite_output_is_an_error_not_a_nan_in_json(tmp_path, images):
    b = ModelBuilder(("batch", 1, 28, 28), input_name="image")
    y = b.add("Flatten", [b.add("GlobalAveragePool", [b.input])])
    weight = np.array([[np.inf], [1.0], [-np.inf]], np.float32)
    y = b.add("Gemm", [y, b.initializer(weight)], transB=1, name="fc")
    path = save(b.build(y, metadata=metadata(GREY_PREP)), tmp_path / "inf.onnx")
    result = cnnlens("predict", path, images["exact.png"], "--json")
    assert result.returncode != 0
    assert "NaN" not in result.stdout and "not finite" in result.stderr


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    path = folder / "exact.png"
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(path)
    return {"exact.png": path}
