"""Caffe prototxt → cnnlens (py/cnnlens/caffe.py, the loader, the CLI), against Netscope.

Where Netscope's figures come from: Netscope CNN Analyzer (github.com/dgschwend/netscope at
8ae36d8), whose ``src/analyzer.coffee`` counts per layer

- Convolution: ``macc = kw·kh·wOut·hOut·chIn·chOut·batch / group`` and
  ``param = kw·kh·chIn·chOut / group + chOut`` (with a bias);
- InnerProduct: ``macc = wIn·hIn·chIn·chOut·batch``, ``param = wIn·hIn·chIn·chOut + chOut``;
- LRN: ``macc = inputs·local_size`` and ``param = 2`` (alpha and beta); BatchNorm
  ``param = 2·C``; Scale and Eltwise PROD ``macc`` = elements; every other layer 0.

The figures below are what that code computes for the presets in ``tests/data/caffe/``: its
compiled ``assets/js/netscope.js`` (CaffeParser + Analyzer, phase "train") was run in Node
on each file and the per-layer ``comp.macc`` and ``mem.param`` read out. Two conventions
differ from ours, so the comparison is of the Convolution and InnerProduct part, exactly:

- Netscope multiplies by the prototxt's batch (10 for GoogLeNet); cnnlens counts one image.
  For AlexNet's ``Data`` layer (``crop_size``) Netscope leaves the batch undefined and its
  own totals read NaN; the AlexNet figures are its formulas at batch 1.
- Netscope also counts LRN (AlexNet: 1,452,000 + 933,120 MACs and 2 + 2 "parameters";
  GoogLeNet at 224: 4,014,080 MACs per image and 2 + 2); cnnlens counts MACs of Conv and
  Gemm only (fvcore's convention, :mod:`cnnlens.macs`) and no LRN parameters (alpha and
  beta are hyper-parameters, nothing is learned). Netscope's totals: AlexNet 726,791,936
  MACs and 60,965,228 parameters; GoogLeNet (224) 15,866,859,520 MACs at batch 10 and
  6,998,556 parameters; GoogLeNet (227, the CNN Analyzer preset) 16,040,427,520 MACs.
"""

from __future__ import annotations

import asyncio
import json
import math
from io import StringIO
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlens import caffe, cli, untrained
from cnnlens.errors import ModelError
from cnnlens.forward import run
from cnnlens.loader import is_prototxt, load_model, read_any, read_shapes
from cnnlens.prototxt import PrototxtError
from cnnlens.summary import summarize, total_params
from tests.fuzz_onnx import load_and_run
from tests.page_app import app_showing_first_example

DATA = Path(__file__).parent / "data" / "caffe"

# Netscope CNN Analyzer's figures per Convolution / InnerProduct layer of alexnet.prototxt
# (module docstring): (name, MACs at batch 1, parameters).
NETSCOPE_ALEXNET = [
    ("conv1", 105_415_200, 34_944), ("conv2", 223_948_800, 307_456),
    ("conv3", 149_520_384, 885_120), ("conv4", 112_140_288, 663_936),
    ("conv5", 74_760_192, 442_624), ("fc6", 37_748_736, 37_752_832),
    ("fc7", 16_777_216, 16_781_312), ("fc8", 4_096_000, 4_097_000),
]
# Caffe's blob shapes for BVLC AlexNet at crop 227 (its pooling rounds up; as Caffe's
# training log and Netscope's analysis both list them), batch 1.
CAFFE_ALEXNET_SHAPES = {
    "conv1": (1, 96, 55, 55), "pool1": (1, 96, 27, 27), "conv2": (1, 256, 27, 27),
    "pool2": (1, 256, 13, 13), "conv3": (1, 384, 13, 13), "conv4": (1, 384, 13, 13),
    "conv5": (1, 256, 13, 13), "pool5": (1, 256, 6, 6), "fc6": (1, 4096),
    "fc7": (1, 4096), "fc8": (1, 1000),
}


def text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def conv_fc(model) -> list[tuple[str, int, int]]:
    return [(layer.name, layer.macs, layer.params) for layer in summarize(model)
            if layer.op_type in ("Conv", "Gemm")]


# ---------------------------------------------------------------- Netscope's presets


def test_alexnet_layers_equal_netscope_and_caffe() -> None:
    model = caffe.to_model(text("alexnet.prototxt"))
    assert conv_fc(model) == NETSCOPE_ALEXNET
    shapes = {layer.name: layer.output_shape for layer in summarize(model)}
    assert {name: shapes[name] for name in CAFFE_ALEXNET_SHAPES} == CAFFE_ALEXNET_SHAPES
    assert total_params(model) == 60_965_224 == 60_965_228 - 2 * 2
    assert sum(layer.macs for layer in summarize(model)) == 724_406_816 == (
        726_791_936 - 1_452_000 - 933_120)


@pytest.mark.parametrize(("file", "size", "netscope_macs_batch10"), [
    ("googlenet.prototxt", 224, 15_826_718_720),
    ("googlenet_cnn_analyzer.prototxt", 227, 15_998_840_320),
])
def test_googlenet_equals_netscope(file: str, size: int, netscope_macs_batch10: int) -> None:
    model = caffe.to_model(text(file))
    assert model.input.shape == (1, 3, size, size)
    layers = conv_fc(model)
    assert len(layers) == 58  # 57 convolutions and the classifier, as Netscope lists
    assert sum(macs for _, macs, _ in layers) * 10 == netscope_macs_batch10
    assert total_params(model) == 6_998_552 == 6_998_556 - 2 * 2
    shapes = {layer.name: layer.output_shape for layer in summarize(model)}
    pooled = (size + 2 * 3 - 7) // 2 + 1  # conv1/7x7_s2
    pooled = math.ceil((pooled - 3) / 2) + 1  # pool1/3x3_s2, Caffe's ceil
    assert shapes["pool1/3x3_s2"] == (1, 64, pooled, pooled)
    assert shapes["inception_5b/output"] == (1, 1024, 7, 7)
    assert shapes["prob"] == (1, 1000)


def test_translated_alexnet_runs_and_matches_onnxruntime() -> None:
    loaded = load_model((DATA / "alexnet.prototxt").read_bytes(), "alexnet.prototxt")
    assert untrained.declares_weights(loaded.model.metadata)
    assert "untrained" in (loaded.card.name or "")
    x = np.random.default_rng(0).standard_normal((1, 3, 227, 227)).astype(np.float32)
    result = run(loaded.model, x)
    assert np.isfinite(result.probabilities).all()
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    for name, shape in CAFFE_ALEXNET_SHAPES.items():
        assert result.tensors[name].shape == shape
    # onnxruntime runs the converted file, given the same He-initialised weights as feeds.
    data = caffe.convert(text("alexnet.prototxt"))
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feeds = {info.name: x if info.name == loaded.model.input.name
             else loaded.model.graph.initializers[info.name] for info in session.get_inputs()}
    theirs = session.run(None, feeds)[0]
    np.testing.assert_allclose(result.tensors["loss"], theirs, rtol=1e-4, atol=1e-7)


# ---------------------------------------------------------------- layers, by hand


def net(body: str, shape: tuple[int, ...] = (1, 1, 4, 4)) -> str:
    dims = " ".join(f"dim: {d}" for d in shape)
    return f'name: "t"\ninput: "data"\ninput_shape {{ {dims} }}\n{body}'


def outputs(prototxt: str, x: np.ndarray) -> dict[str, np.ndarray]:
    model = read_any(prototxt.encode(), "t.prototxt")
    return run(model, x, finite=False).tensors


def test_max_pooling_rounds_up_and_clips_as_caffe() -> None:
    # Caffe: out = ceil((in + 2 pad - k) / s) + 1, minus 1 if (out - 1) s >= in + pad.
    body = ('layer { name: "p" type: "Pooling" bottom: "data" top: "p" '
            'pooling_param { pool: MAX kernel_size: %d stride: %d pad: %d } }')
    cases = [((6, 3, 2, 0), 3),   # ceil(1.5) + 1 = 3; floor would give 2
             ((5, 2, 2, 1), 3),   # ceil(2.5) + 1 = 4, clipped: 3 * 2 >= 5 + 1
             ((7, 3, 2, 1), 4)]   # ceil(3) + 1 = 4, no clip
    for (size, k, s, p), expected in cases:
        model = caffe.to_model(net(body % (k, s, p), (1, 1, size, size)))
        assert summarize(model)[-1].output_shape == (1, 1, expected, expected)


def test_average_pooling_counts_padding_but_not_the_overhang_as_caffe() -> None:
    # Caffe's AVE window [start, min(start + k, in + pad)) is divided by its full size,
    # padding included, then clipped to the input: 1 x 4 input, kernel 3, stride 2, pad 1:
    # windows [-1, 2) -> (1 + 2) / 3, [1, 4) -> (2 + 3 + 4) / 3, [3, 5) -> 4 / 2.
    body = ('layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { '
            'pool: AVE kernel_h: 1 kernel_w: 3 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 1 } }')
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 1, 4)
    y = outputs(net(body, (1, 1, 1, 4)), x)["p"]
    np.testing.assert_allclose(y.ravel(), [1.0, 3.0, 2.0], rtol=1e-6)


def test_eltwise_and_activations_compute_what_caffe_defines() -> None:
    body = """
    layer { name: "r" type: "ReLU" bottom: "data" top: "r" relu_param { negative_slope: 0.1 } }
    layer { name: "t" type: "TanH" bottom: "data" top: "t" }
    layer { name: "s" type: "Sigmoid" bottom: "data" top: "s" }
    layer { name: "max" type: "Eltwise" bottom: "r" bottom: "t" top: "max"
            eltwise_param { operation: MAX } }
    layer { name: "sum" type: "Eltwise" bottom: "r" bottom: "t" bottom: "s" top: "sum"
            eltwise_param { operation: SUM coeff: 1 coeff: -2 coeff: 0.5 } }
    layer { name: "prod" type: "Eltwise" bottom: "t" bottom: "s" top: "prod"
            eltwise_param { operation: PROD } }
    layer { name: "cat" type: "Concat" bottom: "max" bottom: "sum" bottom: "prod" top: "cat" }
    """
    x = np.linspace(-3, 3, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    got = outputs(net(body), x)
    r, t, s = np.where(x > 0, x, 0.1 * x), np.tanh(x), 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(got["max"], np.maximum(r, t), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got["sum"], r - 2 * t + 0.5 * s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["prod"], t * s, rtol=1e-6)
    assert got["cat"].shape == (1, 3, 4, 4)


def test_convolution_parameters_and_shapes_by_hand() -> None:
    body = """
    layer { name: "c" type: "Convolution" bottom: "data" top: "c"
      convolution_param { num_output: 8 kernel_h: 3 kernel_w: 5 stride_h: 2 stride_w: 1
                          pad_h: 1 pad_w: 2 group: 2 bias_term: false } }
    layer { name: "d" type: "Convolution" bottom: "c" top: "d"
      convolution_param { num_output: 6 kernel_size: 3 dilation: 2 } }
    layer { name: "fc" type: "InnerProduct" bottom: "d" top: "fc"
      inner_product_param { num_output: 10 } }
    """
    model = caffe.to_model(net(body, (1, 4, 16, 16)))
    rows = {layer.name: layer for layer in summarize(model)}
    # c: 16 -> (16 + 2 - 3) // 2 + 1 = 8 high, (16 + 4 - 5) + 1 = 16 wide; 8 * (4/2) * 3 * 5
    assert rows["c"].output_shape == (1, 8, 8, 16) and rows["c"].params == 240
    # d: dilated kernel 5: 8 -> 4, 16 -> 12; 6 * 8 * 9 + 6
    assert rows["d"].output_shape == (1, 6, 4, 12) and rows["d"].params == 438
    assert rows["fc"].params == 6 * 4 * 12 * 10 + 10 and rows["fc"].macs == 2880


def test_batchnorm_with_scale_is_one_node_with_two_c_parameters() -> None:
    body = """
    layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data" }
    layer { name: "sc" type: "Scale" bottom: "data" top: "data" scale_param { bias_term: true } }
    layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }
    layer { name: "bn2" type: "BatchNorm" bottom: "data" top: "bn2" }
    """
    model = caffe.to_model(net(body, (1, 3, 4, 4)))
    rows = summarize(model)
    assert [(r.name, r.op_type, r.params) for r in rows] == [
        ("bn", "BatchNormalization", 6), ("relu", "Relu", 0), ("bn2", "BatchNormalization", 6)]
    # In-place layers get outputs of their own: every value has one producer.
    assert [r.outputs[0] for r in rows] == ["bn", "relu", "bn2"]
    x = np.arange(48, dtype=np.float32).reshape(1, 3, 4, 4)
    loaded = load_model(net(body, (1, 3, 4, 4)).encode(), "t.prototxt")
    y = run(loaded.model, x, finite=False).tensors["relu"]  # BN's initial values: identity
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-5), rtol=1e-6)


def test_a_scale_alone_is_a_mul_and_an_add_by_c_values() -> None:
    body = """
    layer { name: "sc" type: "Scale" bottom: "data" top: "sc" scale_param { bias_term: true } }
    layer { name: "plain" type: "Scale" bottom: "sc" top: "plain" }
    """
    rows = summarize(caffe.to_model(net(body, (1, 3, 4, 4))))
    assert [(r.name, r.op_type, r.output_shape, r.params) for r in rows] == [
        ("sc.mul", "Mul", (1, 3, 4, 4), 3), ("sc", "Add", (1, 3, 4, 4), 3),
        ("plain", "Mul", (1, 3, 4, 4), 3)]


def test_v1_syntax_gives_the_same_network() -> None:
    new = net("""
    layer { name: "c" type: "Convolution" bottom: "data" top: "c"
            convolution_param { num_output: 2 kernel_size: 3 } }
    layer { name: "r" type: "ReLU" bottom: "c" top: "c" }
    layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: AVE
            kernel_size: 2 stride: 2 } }
    layer { name: "f" type: "InnerProduct" bottom: "p" top: "f" inner_product_param {
            num_output: 3 } }
    layer { name: "prob" type: "Softmax" bottom: "f" top: "prob" }""", (1, 1, 8, 8))
    old = new.replace("layer {", "layers {")
    for v1, current in [("CONVOLUTION", "Convolution"), ("RELU", "ReLU"),
                        ("POOLING", "Pooling"), ("INNER_PRODUCT", "InnerProduct"),
                        ("SOFTMAX", "Softmax")]:
        old = old.replace(f'type: "{current}"', f"type: {v1}")
    rows = [(r.name, r.op_type, r.output_shape, r.params) for r in summarize(caffe.to_model(old))]
    assert rows == [(r.name, r.op_type, r.output_shape, r.params)
                    for r in summarize(caffe.to_model(new))]
    assert [r[1] for r in rows] == ["Conv", "Relu", "AveragePool", "Flatten", "Gemm", "Softmax"]


@pytest.mark.parametrize(("head", "shape"), [
    ('input: "data"\ninput_dim: 10\ninput_dim: 3\ninput_dim: 32\ninput_dim: 24', (1, 3, 32, 24)),
    ('layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 '
     'dim: 28 dim: 28 } } }', (1, 1, 28, 28)),
    ('layer { name: "d" type: "Data" top: "data" top: "label" transform_param { crop_size: 40 '
     '} }', (1, 3, 40, 40)),
    ('layer { name: "d" type: "ImageData" top: "data" top: "label" image_data_param { '
     'new_height: 20 new_width: 30 is_color: false } }', (1, 1, 20, 30)),
])
def test_input_forms(head: str, shape: tuple[int, ...]) -> None:
    relu = '\nlayer { name: "r" type: "ReLU" bottom: "data" top: "r" }'
    accuracy = '\nlayer { name: "a" type: "Accuracy" bottom: "r" bottom: "label" top: "a" }'
    body = relu + (accuracy if "label" in head else "")
    model = caffe.to_model(head + body)
    assert model.input.shape == shape
    assert [node.op_type for node in model.graph.nodes] == ["Relu"]


def test_phases_keep_the_test_net() -> None:
    both = ('layer { name: "d" type: "Data" top: "data" include { phase: TRAIN } '
            'transform_param { crop_size: 8 } }\n'
            'layer { name: "d" type: "Data" top: "data" include { phase: TEST } '
            'transform_param { crop_size: 6 } }\n'
            'layer { name: "r" type: "ReLU" bottom: "data" top: "r" '
            'exclude { phase: TEST } }\n'
            'layer { name: "s" type: "Sigmoid" bottom: "data" top: "s" }')
    model = caffe.to_model(both)
    assert model.input.shape == (1, 3, 6, 6)
    assert [node.name for node in model.graph.nodes] == ["s"]


# ---------------------------------------------------------------- errors


def test_unsupported_layers_are_all_named_with_their_layers() -> None:
    body = """
    layer { name: "up" type: "Deconvolution" bottom: "data" top: "up" }
    layer { name: "p1" type: "PReLU" bottom: "up" top: "p1" }
    layer { name: "p2" type: "PReLU" bottom: "p1" top: "p2" }
    """
    with pytest.raises(caffe.UnsupportedLayerError) as caught:
        caffe.to_model(net(body))
    assert str(caught.value) == ("unsupported Caffe layer types: Deconvolution (layer 'up'); "
                                 "PReLU (layers 'p1', 'p2')")


@pytest.mark.parametrize(("prototxt", "message"), [
    ('layer { name: "r" type: "ReLU" bottom: "data" top: "r" }',
     "layer 'r' comes before any input"),
    ('layer { name: "d" type: "Data" top: "data" }',
     "layer 'd' (Data) does not say the image size"),
    (net('layer { name: "r" type: "ReLU" bottom: "nothing" top: "r" }'),
     "layer 'r' reads 'nothing', which no layer before it makes"),
    (net('layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
         'convolution_param { num_output: 3 kernel_size: 9 } }'),
     "layer 'c' (Conv)"),
    ('input: "a"\ninput: "b"\ninput_dim: 1', "the network has 2 inputs (a, b)"),
])
def test_networks_that_cannot_be_translated_say_why(prototxt: str, message: str) -> None:
    with pytest.raises(ModelError) as caught:
        caffe.to_model(prototxt)
    assert message in str(caught.value)


def test_a_prototxt_that_is_not_utf8_text_says_so() -> None:
    with pytest.raises(PrototxtError, match=r"must be UTF-8 text; byte 7 is not"):
        read_any(b'name: "\xff\xfe"', "net.prototxt")


def test_bad_text_names_its_line_through_the_loader() -> None:
    broken = text("alexnet.prototxt").replace("num_output: 256", "num_output 256", 1)
    with pytest.raises(PrototxtError, match=r"^line 1\d\d, column \d+: expected ':'"):
        read_any(broken.encode(), "alexnet.prototxt")


# ---------------------------------------------------------------- the loader and the CLI


def test_the_loader_decides_the_format_by_extension_or_content(tmp_path: Path) -> None:
    prototxt = (DATA / "alexnet.prototxt").read_bytes()
    onnx_bytes = caffe.convert(prototxt.decode())
    assert is_prototxt(prototxt, "net") and is_prototxt(b"", "net.prototxt")
    assert not is_prototxt(onnx_bytes, "net") and not is_prototxt(onnx_bytes, "net.onnx")
    assert not is_prototxt(prototxt, "renamed.onnx")  # the extension has the last word
    from_text = read_shapes(prototxt, "no-extension")
    from_onnx = read_shapes(onnx_bytes, "alexnet.onnx")
    assert [n.op_type for n in from_text.graph.nodes] == [n.op_type for n in
                                                          from_onnx.graph.nodes]


def test_no_gallery_onnx_file_reads_as_a_prototxt() -> None:
    files = sorted((DATA.parents[2] / "assets" / "models").rglob("*.onnx"))
    assert len(files) >= 14
    assert not [f.name for f in files if is_prototxt(f.read_bytes(), f.stem)]


def cnnlens(*argv: str) -> tuple[int, str]:
    out = StringIO()
    return cli.main(list(argv), out), out.getvalue()


def test_cli_inspect_check_and_convert_caffe(tmp_path: Path, capsys) -> None:
    path = str(DATA / "alexnet.prototxt")
    status, printed = cnnlens("inspect", path, "--json")
    report = json.loads(printed)
    assert status == 0 and report["input_shape"] == [1, 3, 227, 227]
    assert report["total_params"] == 60_965_224 and report["total_macs"] == 724_406_816
    status, printed = cnnlens("check", path)
    assert status == 0 and printed.startswith(f"{path}: the page runs it")
    out = tmp_path / "alexnet.onnx"
    status, printed = cnnlens("convert-caffe", path, str(out))
    assert status == 0 and "60,965,224 parameters declared by shape" in printed
    assert cnnlens("inspect", str(out), "--json")[1] == cnnlens("inspect", path, "--json")[1]


def test_cli_refuses_bad_prototxt_with_its_line_and_unsupported_layers(tmp_path: Path,
                                                                       capsys) -> None:
    bad = tmp_path / "bad.prototxt"
    bad.write_text('name: "x"\nlayer {\n  name "c"\n}\n')
    assert cnnlens("check", str(bad))[0] == 2
    assert "bad.prototxt: line 3, column 8: expected ':' or '{'" in capsys.readouterr().err
    assert cnnlens("convert-caffe", str(bad), str(tmp_path / "x.onnx"))[0] == 2
    assert not (tmp_path / "x.onnx").exists()
    odd = tmp_path / "odd.prototxt"
    odd.write_text(net('layer { name: "up" type: "Deconvolution" bottom: "data" top: "up" }'))
    status, printed = cnnlens("check", str(odd))
    assert status == 1 and "unsupported Caffe layer type: Deconvolution (layer 'up')" in printed


# ---------------------------------------------------------------- the page's worker


def test_page_opens_a_pasted_prototxt_and_keeps_the_model_on_bad_text() -> None:
    app, _ = app_showing_first_example()
    before = app.loaded
    broken = text("alexnet.prototxt").replace("top: \"conv2\"", "top \"conv2\"", 1)
    answer = asyncio.run(app.model_caffe(broken, "pasted"))
    line = 1 + text("alexnet.prototxt").split("top: \"conv2\"")[0].count("\n")
    assert answer == {"error": f"the model pasted.prototxt could not be opened: line {line}, "
                               "column 7: expected ':' or '{' after 'top', found '\"conv2\"'"}
    assert app.loaded is before
    assert asyncio.run(app.model_caffe("  \n", "pasted")) == {
        "error": "the pasted text is empty: paste a Caffe .prototxt"}
    answer = asyncio.run(app.model_caffe(text("alexnet.prototxt"), "alexnet.prototxt"))
    view = json.loads(answer["view"])
    assert view["model"]["name"] == "AlexNet (untrained)"
    assert [column["title"] for column in view["columns"]][:3] == ["data", "conv1", "relu1"]
    assert view["columns"][1]["shape"][-2:] == [55, 55]
    assert json.loads(app.architecture()["architecture"])["totals"]["params"] == 60_965_224


# ---------------------------------------------------------------- any text


FUZZ_NET = net("""
layer { name: "c" type: "Convolution" bottom: "data" top: "c"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" }
layer { name: "sc" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }
layer { name: "r" type: "ReLU" bottom: "c" top: "c" }
layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { kernel_size: 2 stride: 2 } }
layer { name: "e" type: "Eltwise" bottom: "p" bottom: "p" top: "e"
        eltwise_param { operation: MAX } }
layer { name: "cat" type: "Concat" bottom: "e" bottom: "p" top: "cat" }
layer { name: "fc" type: "InnerProduct" bottom: "cat" top: "fc"
        inner_product_param { num_output: 3 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
""", (1, 1, 8, 8))
PIECES = [
    *'{}[]:<>,;"\'#\\ \n-.0123456789', "layer", "layers", "top", "bottom", "num_output: 3",
    "kernel_size: 2", "stride: 3",
    "pad: 2", "group: 2", "dilation: 2", "axis: 0", "axis: 2", "pool: AVE",
    "global_pooling: true", "operation: PROD", "coeff: 2", "bias_term: false",
    "end_axis: 2", "round_mode: FLOOR", "transpose: true", "dim: 0", "dim: 5", "\\x", "\\u12"]


@st.composite
def mutated_prototxt(draw) -> bytes:
    """FUZZ_NET with a few pieces of prototxt inserted, overwritten or cut out."""
    text = FUZZ_NET
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(PIECES))
        action = draw(st.sampled_from(["insert", "set", "cut"]))
        cut = draw(st.integers(1, 12)) if action == "cut" else len(piece) * (action == "set")
        text = text[:at] + ("" if action == "cut" else f" {piece} ") + text[at + cut:]
    return text.encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_prototxt())
def test_any_prototxt_text_raises_only_our_errors(data: bytes) -> None:
    load_and_run(data)  # the page's whole path; anything but CnnlensError fails
