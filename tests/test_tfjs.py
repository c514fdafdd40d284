"""The TF.js layers importer (`cnnlens.tfjs`) and the ONNX writer (`cnnlens.onnx_writer`).

Expected values come from a NumPy float64 forward pass of the Keras layers written here
from TensorFlow's documentation (channels last, TensorFlow's `same` padding rule as its
docs state it, Flatten channel fastest), from onnxruntime on the converted bytes, and from
the `onnx` package reading what our writer wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from cnnlens import tfjs, tfjs_layers
from cnnlens.errors import ModelError
from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.onnx_reader import read_model
from cnnlens.onnx_writer import varint, write_model
from cnnlens.protobuf import read_varint
from tests.onnx_builders import onnxruntime_outputs
from tests.page_app import app_showing_first_example
from tests.paths import BUNDLED_MODEL, ROOT

ATOL = 2e-5

# ---------------------------------------------------------------- the Keras reference


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's documented `same` rule (tf.nn, "padding algorithms"), in its own form."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def windows(x: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int],
            dilation: tuple[int, int], padding: str, fill: float
            ) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Keras's sliding windows over `(N, H, W, C)`: per kernel tap (i, j) the strided slice
    `(N, OH, OW, C)` of the input padded with `fill`, and the same slice of a 0/1 mask of
    real (unpadded) pixels."""
    _, h, w, _ = x.shape
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation, strict=True)]
    if padding == "same":
        pads = [tf_same_pads(size, s_, st_) for size, s_, st_ in zip((h, w), span, strides,
                                                                        strict=True)]
    else:
        pads = [(0, 0), (0, 0)]
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
    mask = np.pad(np.ones((1, h, w, 1)), ((0, 0), pads[0], pads[1], (0, 0)))
    oh = (xp.shape[1] - span[0]) // strides[0] + 1
    ow = (xp.shape[2] - span[1]) // strides[1] + 1
    taps = []
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows = slice(i * dilation[0], i * dilation[0] + (oh - 1) * strides[0] + 1, strides[0])
            cols = slice(j * dilation[1], j * dilation[1] + (ow - 1) * strides[1] + 1, strides[1])
            taps.append((i, j, xp[:, rows, cols, :], mask[:, rows, cols, :]))
    return taps


def keras_conv(x, kernel, bias, strides, dilation, padding):
    taps = windows(x, kernel.shape[:2], strides, dilation, padding, 0.0)
    out = sum(patch @ kernel[i, j] for i, j, patch, _ in taps)
    return out + (0 if bias is None else bias)


def keras_max_pool(x, size, strides, padding):
    taps = windows(x, size, strides, (1, 1), padding, -np.inf)
    return np.max([patch for *_, patch, _ in taps], axis=0)


def keras_average_pool(x, size, strides, padding):
    # TensorFlow divides by the number of real (unpadded) pixels in each window.
    taps = windows(x, size, strides, (1, 1), padding, 0.0)
    total = sum(patch for *_, patch, _ in taps)
    count = sum(m for *_, m in taps)
    return total / count


def keras_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


KERAS_ACTIVATIONS = {
    "linear": lambda x: x, "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "tanh": np.tanh, "softmax": keras_softmax,
}


class Sequential:
    """Builds a TF.js layers model.json and its weight shard while computing, layer by
    layer, what Keras computes on a fixed input (float64, channels last)."""

    def __init__(self, shape: tuple[int, int, int] = (9, 7, 3), seed: int = 0,
                 input_layer: bool = False, batch: int = 2) -> None:
        self.rng = np.random.default_rng(seed)
        self.shape = shape
        self.x = self.rng.uniform(0, 1, (batch, *shape)).astype(np.float32)
        self.value = self.x.astype(np.float64)
        self.outputs: dict[str, np.ndarray] = {}
        # After a Flatten of (H, W, C), until a Dense: at each position of the ONNX graph's
        # (C, H, W) vector, the index of that value in Keras's vector.
        self.order: np.ndarray | None = None
        self.orders: dict[str, np.ndarray | None] = {}
        self.layers: list[dict[str, Any]] = []
        self.weights: list[tuple[str, np.ndarray]] = []
        if input_layer:
            self.layers.append({"class_name": "InputLayer", "config": {
                "name": "pixels", "batch_input_shape": [None, *shape], "dtype": "float32"}})

    def _add(self, kind: str, name: str, config: dict[str, Any], value: np.ndarray) -> None:
        config = {"name": name, "trainable": True, "dtype": "float32", **config}
        if not self.layers:
            config["batch_input_shape"] = [None, *self.shape]
        self.layers.append({"class_name": kind, "config": config})
        self.value = value
        self.outputs[name] = value
        self.orders[name] = self.order

    def _weight(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        array = self.rng.normal(0, 0.5, shape).astype(np.float32)
        self.weights.append((name, array))
        return array.astype(np.float64)

    def conv(self, name: str, filters: int, kernel: int | tuple[int, int] = 3,
             strides: int | tuple[int, int] = 1, padding: str = "valid", dilation: int = 1,
             activation: str = "linear", use_bias: bool = True) -> Sequential:
        k = (kernel, kernel) if isinstance(kernel, int) else kernel
        s = (strides, strides) if isinstance(strides, int) else strides
        w = self._weight(f"{name}/kernel", (*k, self.value.shape[-1], filters))
        b = self._weight(f"{name}/bias", (filters,)) if use_bias else None
        y = KERAS_ACTIVATIONS[activation](keras_conv(self.value, w, b, s, (dilation,) * 2,
                                                     padding))
        self._add("Conv2D", name, {
            "filters": filters, "kernel_size": list(k), "strides": list(s), "padding": padding,
            "data_format": "channels_last", "dilation_rate": [dilation, dilation],
            "activation": activation, "use_bias": use_bias}, y)
        return self

    def pool(self, name: str, kind: str, size: int = 2, strides: int | None = None,
             padding: str = "valid") -> Sequential:
        s = size if strides is None else strides
        reference = keras_max_pool if kind == "MaxPooling2D" else keras_average_pool
        y = reference(self.value, (size, size), (s, s), padding)
        self._add(kind, name, {"pool_size": [size, size], "padding": padding,
                               "strides": None if strides is None else [s, s],
                               "data_format": "channels_last"}, y)
        return self

    def flatten(self, name: str = "flatten") -> Sequential:
        _, h, w, c = self.value.shape
        self.order = np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
        self._add("Flatten", name, {"data_format": "channels_last"},
                  self.value.reshape(len(self.value), -1))
        return self

    def dense(self, name: str, units: int, activation: str = "linear",
              use_bias: bool = True) -> Sequential:
        w = self._weight(f"{name}/kernel", (self.value.shape[-1], units))
        self.order = None
        y = self.value @ w
        if use_bias:
            y = y + self._weight(f"{name}/bias", (units,))
        self._add("Dense", name, {"units": units, "activation": activation,
                                  "use_bias": use_bias}, KERAS_ACTIVATIONS[activation](y))
        return self

    def activation(self, name: str, function: str) -> Sequential:
        self._add("Activation", name, {"activation": function},
                  KERAS_ACTIVATIONS[function](self.value))
        return self

    def relu(self, name: str) -> Sequential:
        self._add("ReLU", name, {"max_value": None, "negative_slope": 0.0, "threshold": 0.0},
                  np.maximum(self.value, 0))
        return self

    def softmax(self, name: str, axis: int = -1) -> Sequential:
        self._add("Softmax", name, {"axis": axis}, keras_softmax(self.value, axis))
        return self

    def dropout(self, name: str) -> Sequential:
        self._add("Dropout", name, {"rate": 0.5}, self.value)
        return self

    def document(self) -> dict[str, Any]:
        return {
            "format": "layers-model", "generatedBy": "keras v2.2.4-tf",
            "convertedBy": "TensorFlow.js Converter v1.3.1.1",
            "modelTopology": {"keras_version": "2.2.4-tf", "backend": "tensorflow",
                              "model_config": {"class_name": "Sequential", "config": {
                                  "name": "sequential", "layers": self.layers}}},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [
                {"name": name, "shape": list(a.shape), "dtype": "float32"}
                for name, a in self.weights]}],
        }

    def files(self) -> tuple[str, bytes]:
        """model.json's text and the shard's bytes."""
        shard = b"".join(a.astype("<f4").tobytes() for _, a in self.weights)
        return json.dumps(self.document()), shard


def nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def check_against_keras(model: Sequential) -> dict[str, np.ndarray]:
    """Converts; our engine's and onnxruntime's every layer must equal the Keras reference
    (feature maps compared channels first; flat vectors from a Flatten up to the next
    Dense in the graph's (C, H, W) order, others as they are). Returns our tensors."""
    text, shard = model.files()
    data = tfjs.convert(text, shard)
    loaded = load_model(data, "model.json")
    x = nchw(model.x)
    ours = run(loaded.model, x).tensors
    theirs = onnxruntime_outputs(onnx.load_from_string(data), {loaded.model.input.name: x})
    for name, expected in model.outputs.items():
        kind = next(layer["class_name"] for layer in model.layers
                    if layer["config"]["name"] == name)
        if kind == "Dropout":
            continue
        want = nchw(expected) if expected.ndim == 4 else expected
        if model.orders[name] is not None:
            want = want[:, model.orders[name]]
        # A fused activation is the layer's second node, named after the layer.
        names = [n for n in (f"{name}_relu", f"{name}_sigmoid", f"{name}_tanh",
                             f"{name}_softmax", name) if n in ours]
        got = ours[names[0]]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(theirs[names[0]], want, rtol=1e-5, atol=ATOL, err_msg=name)
    return ours


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize(("size", "kernel", "stride", "pads"), [
    (5, 3, 1, (1, 1)), (5, 3, 2, (1, 1)), (4, 3, 2, (0, 1)), (6, 2, 1, (0, 1)),
    (7, 5, 3, (2, 2)), (3, 1, 2, (0, 0)), (2, 4, 1, (1, 2)),
])
def test_same_pads_follow_tensorflow(size, kernel, stride, pads):
    assert tfjs_layers.same_pads(size, kernel, stride) == pads == tf_same_pads(size, kernel, stride)
    # TensorFlow's `same` keeps ceil(size / stride) outputs.
    assert tfjs_layers.window_output(size, kernel, stride, 1, pads) == math.ceil(size / stride)


def test_flatten_order_lists_keras_indices_in_chw_order():
    h, w, c = 2, 3, 4
    hwc = np.arange(h * w * c).reshape(h, w, c)  # the value at (y, x, k) is its Keras index
    expected = hwc.transpose(2, 0, 1).reshape(-1)
    np.testing.assert_array_equal(tfjs_layers.flatten_order((c, h, w)), expected)


# ---------------------------------------------------------------- conversions vs Keras


def test_valid_convolutions_pools_flatten_and_dense_match_keras():
    model = (Sequential((12, 10, 3))
             .conv("conv_1", 5, activation="relu").conv("conv_2", 4).relu("relu_2")
             .pool("pool", "MaxPooling2D").flatten().dense("logits", 6, activation="softmax"))
    ours = check_against_keras(model)
    assert list(ours) == ["input", "conv_1", "conv_1_relu", "conv_2", "relu_2", "pool",
                          "flatten", "logits", "logits_softmax"]


@pytest.mark.parametrize("strides", [1, 2, 3, (2, 1)])
@pytest.mark.parametrize("kernel", [1, 2, 3, (4, 3)])
def test_same_padding_and_strides_match_keras(kernel, strides):
    model = (Sequential((9, 8, 3), seed=1).conv("conv", 4, kernel, strides, "same")
             .flatten().dense("out", 3))
    check_against_keras(model)


@pytest.mark.parametrize("kind", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize(("size", "strides", "padding"), [
    (2, None, "valid"), (3, 2, "valid"), (2, None, "same"), (3, 2, "same"), (3, 1, "same"),
])
def test_pools_match_keras(kind, size, strides, padding):
    # 7 × 5 input: odd sides, so `same` pads the end and average pools see partial windows.
    model = (Sequential((7, 5, 3), seed=2).conv("conv", 3, 1)
             .pool("pool", kind, size, strides, padding).flatten().dense("out", 4))
    check_against_keras(model)


@given(h=st.integers(3, 11), w=st.integers(3, 11), kernel=st.integers(1, 4),
       stride=st.integers(1, 3), dilation=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same"]), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_any_conv_geometry_matches_keras(h, w, kernel, stride, dilation, padding, seed):
    if padding == "valid" and (kernel - 1) * dilation + 1 > min(h, w):
        return  # the window does not fit: refused, see test_a_window_larger_than_its_input
    if stride > 1 and dilation > 1:
        return  # Keras refuses both at once
    model = (Sequential((h, w, 3), seed=seed, batch=1)
             .conv("conv", 3, kernel, stride, padding, dilation).flatten().dense("out", 2))
    check_against_keras(model)


def test_hwc_flatten_order_reaches_the_dense_layer_unchanged():
    """Keras's Dense row i weighs Keras's flat value i; with C, H, W all different and the
    rows permuted wrongly, logits would differ."""
    model = Sequential((4, 3, 3), seed=3).conv("c", 5, 1).flatten().dense("logits", 7)
    text, shard = model.files()
    converted = tfjs.to_model(text, shard)
    ours = run(converted, nchw(model.x)).tensors
    # The flat vector is in ONNX's C, H, W order...
    np.testing.assert_array_equal(ours["flatten"], ours["c"].reshape(2, -1))
    # ...and the Dense kernel's rows were moved to match, so the logits are Keras's.
    np.testing.assert_allclose(ours["logits"], model.outputs["logits"], rtol=1e-5, atol=ATOL)
    keras_kernel = model.weights[2][1]
    gemm_kernel = converted.graph.initializers["logits.weight"]
    row = (1 * 4 + 2) * 3 + 0  # ONNX flat index of (c=1, y=2, x=0)
    np.testing.assert_array_equal(gemm_kernel[row], keras_kernel[(2 * 3 + 0) * 5 + 1])


def test_activations_dropout_and_softmax_between_flatten_and_dense():
    model = (Sequential((3, 4, 3), seed=4, input_layer=True).conv("conv", 3, 2, padding="same")
             .flatten().activation("act", "tanh").dropout("drop").softmax("soft")
             .activation("sig", "sigmoid").dense("out", 5, use_bias=False)
             .activation("prob", "softmax"))
    ours = check_against_keras(model)
    assert "drop" not in ours
    assert next(iter(ours)) == "pixels"  # the InputLayer's name


def test_conv_without_bias_and_softmax_over_channels():
    model = (Sequential((5, 5, 3), seed=5).conv("conv", 4, 3, use_bias=False, padding="same")
             .softmax("soft").pool("pool", "AveragePooling2D").flatten().dense("out", 2))
    check_against_keras(model)


def test_layers_become_named_nodes_and_weights():
    model = Sequential((6, 6, 1)).conv("c", 2, activation="relu").flatten().dense("d", 3)
    text, shard = model.files()
    converted = tfjs.to_model(text, shard)
    graph = converted.graph
    assert [(n.name, n.op_type, n.outputs) for n in graph.nodes] == [
        ("c", "Conv", ("c",)), ("c_relu", "Relu", ("c_relu",)),
        ("flatten", "Flatten", ("flatten",)), ("d", "Gemm", ("d",))]
    assert graph.initializers["c.weight"].shape == (2, 1, 3, 3)  # (out, in, kh, kw)
    np.testing.assert_array_equal(graph.initializers["c.weight"],
                                  model.weights[0][1].transpose(3, 2, 0, 1))
    assert graph.inputs[0].shape == ("N", 1, 6, 6) and graph.outputs[0].shape == ("N", 3)
    prep = json.loads(converted.metadata["cnnlens.preprocessing"])
    assert (prep["mode"], prep["size"], prep["scale"]) == ("L", [6, 6], 1 / 255)


def test_weight_names_may_carry_a_scope_and_a_suffix():
    model = Sequential((5, 5, 3)).conv("c", 2).flatten().dense("d", 2)
    document = model.document()
    for entry in document["weightsManifest"][0]["weights"]:
        entry["name"] = f"sequential/{entry['name']}:0"
    shard = model.files()[1]
    np.testing.assert_allclose(run(tfjs.to_model(document, shard), nchw(model.x)).tensors["d"],
                               model.outputs["d"], rtol=1e-5, atol=ATOL)


def test_weights_may_span_several_groups_and_shards():
    model = Sequential((5, 5, 3)).conv("c", 2).flatten().dense("d", 2)
    document = model.document()
    weights = document["weightsManifest"][0]["weights"]
    document["weightsManifest"] = [{"paths": ["a.bin"], "weights": weights[:3]},
                                   {"paths": ["b.bin", "c.bin"], "weights": weights[3:]}]
    assert tfjs.shard_paths(document) == ["a.bin", "b.bin", "c.bin"]
    out = run(tfjs.to_model(document, model.files()[1]), nchw(model.x)).tensors["d"]
    np.testing.assert_allclose(out, model.outputs["d"], rtol=1e-5, atol=ATOL)


def test_a_topology_saved_by_tfjs_itself_and_keras_before_2_2_3():
    model = Sequential((5, 5, 3)).conv("c", 2).flatten().dense("d", 2)
    text, shard = model.files()
    document = json.loads(text)
    config = document["modelTopology"]["model_config"]
    saved_by_tfjs = {**document, "modelTopology": config}
    old_keras = {**document, "modelTopology": {"model_config": {
        "class_name": "Sequential", "config": config["config"]["layers"]}}}
    for variant in (saved_by_tfjs, old_keras):
        out = run(tfjs.to_model(variant, shard), nchw(model.x)).tensors["d"]
        np.testing.assert_allclose(out, model.outputs["d"], rtol=1e-5, atol=ATOL)


# ---------------------------------------------------------------- bad model.json


def small() -> Sequential:
    return Sequential((6, 6, 3)).conv("c", 2).flatten().dense("d", 2)


def refused(document: dict[str, Any] | str, shard: bytes | None = None) -> str:
    with pytest.raises(ModelError) as info:
        tfjs.convert(document, small().files()[1] if shard is None else shard)
    return str(info.value)


def edited(change) -> dict[str, Any]:
    document = small().document()
    change(document, document["modelTopology"]["model_config"]["config"]["layers"])
    return document


def test_bad_model_json_is_refused_with_a_clear_reason():
    assert "not valid JSON" in refused("{")
    assert "JSON object" in refused("[]")
    assert "graph model" in refused(json.dumps({"format": "graph-model"}))
    assert "'weightsManifest'" in refused(json.dumps({"modelTopology": {}}))
    assert "Sequential models only" in refused(edited(
        lambda d, _: d["modelTopology"]["model_config"].update(class_name="Functional")))
    assert "lists no layers" in refused(edited(lambda _, layers: layers.clear()))


@pytest.mark.parametrize(("change", "words"), [
    (lambda _, ls: ls.insert(2, {"class_name": "BatchNormalization", "config": {"name": "bn"}}),
     ["'bn'", "BatchNormalization", "supported: "]),
    (lambda _, ls: ls[0]["config"].update(data_format="channels_first"), ["channels_first"]),
    (lambda _, ls: ls[0]["config"].update(padding="causal"), ["'c'", "padding 'causal'"]),
    (lambda _, ls: ls[0]["config"].update(activation="elu"), ["activation 'elu'"]),
    (lambda _, ls: ls[0]["config"].update(groups=2), ["grouped"]),
    (lambda _, ls: ls[0]["config"].update(kernel_size=[7, 7]), ["window does not fit"]),
    (lambda _, ls: ls[0]["config"].pop("batch_input_shape"), ["no batch_input_shape"]),
    (lambda _, ls: ls[0]["config"].update(batch_input_shape=[None, 6, None, 3]),
     ["fixed size"]),
    (lambda _, ls: ls[0]["config"].update(batch_input_shape=[None, 36]), ["image"]),
    (lambda _, ls: ls.pop(1), ["'d'", "add a Flatten"]),
    (lambda _, ls: ls.pop(2), ["without a Dense layer"]),
    (lambda _, ls: ls.append({"class_name": "ReLU", "config": {"name": "r", "max_value": 6}}),
     ["'r'", "max_value"]),
    (lambda _, ls: ls[1]["config"].update(name="c"), ["two layers", "'c'"]),
    (lambda d, _: d["weightsManifest"][0]["weights"][0].update(name="other/kernel"),
     ["'c'", "no weight 'c/kernel'", ]),
    (lambda d, _: d["weightsManifest"][0]["weights"][0].update(shape=[3, 3, 3, 2, 2]),
     ["shards hold"]),
    (lambda d, _: d["weightsManifest"][0]["weights"][0].update(dtype="int32"),
     ["float32 weights only"]),
    (lambda d, _: d["weightsManifest"][0]["weights"][0].update(
        quantization={"dtype": "uint8"}), ["quantized"]),
    (lambda d, _: d["weightsManifest"][0]["weights"][0].update(shape="3x3"), ["shape"]),
])
def test_unsupported_layers_and_settings_are_named(change, words):
    message = refused(edited(change))
    for word in words:
        assert word in message, message


def test_a_weight_of_the_wrong_shape_or_left_over_is_refused():
    document = small().document()
    weights = document["weightsManifest"][0]["weights"]
    weights[0]["shape"] = [3, 3, 2, 3]  # same size, wrong layout
    assert "has shape [3, 3, 2, 3], the layer needs [3, 3, 3, 2]" in refused(document)
    document = small().document()
    document["weightsManifest"][0]["weights"].append(
        {"name": "extra/kernel", "shape": [1], "dtype": "float32"})
    assert "no layer uses: extra/kernel" in refused(document, small().files()[1] + b"\0" * 4)


def test_missing_or_extra_shard_bytes_are_refused():
    text, shard = small().files()
    for wrong in (shard[:-4], shard + b"\0" * 4, b""):
        assert f"hold {len(wrong):,} bytes but model.json's manifest describes " \
               f"{len(shard):,}" in refused(text, wrong)


def test_two_input_channels_are_refused():
    model = Sequential((4, 4, 2)).conv("c", 1).flatten().dense("d", 2)
    assert "2 channels" in refused(*model.files())


# ---------------------------------------------------------------- the ONNX writer


@given(st.integers(-(1 << 63), (1 << 64) - 1))
@settings(max_examples=200)
def test_varints_read_back(value):
    decoded, end = read_varint(varint(value), 0)
    assert decoded == value % (1 << 64)
    assert end == len(varint(value))


def test_the_bundled_model_written_back_is_the_same_model():
    original = read_model(BUNDLED_MODEL.read_bytes())
    data = write_model(original)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    again = read_model(data)
    assert again.graph.nodes == original.graph.nodes
    assert again.metadata == original.metadata
    assert (again.opset, again.ir_version, again.producer) == (
        original.opset, original.ir_version, original.producer)
    assert again.graph.inputs == original.graph.inputs
    assert again.graph.outputs == original.graph.outputs
    reference = onnx.load(str(BUNDLED_MODEL))
    for tensor in reference.graph.initializer:
        np.testing.assert_array_equal(numpy_helper.to_array(tensor),
                                      again.graph.initializers[tensor.name])
    x = np.random.default_rng(0).uniform(0, 1, (2, 1, 28, 28)).astype(np.float32)
    ours = onnxruntime_outputs(proto, {"image": x})
    theirs = onnxruntime_outputs(reference, {"image": x})
    for name, value in theirs.items():
        np.testing.assert_array_equal(ours[name], value)


def test_attributes_of_every_kind_as_onnx_reads_them():
    from cnnlens import graph as g

    values = {"i": -3, "f": 0.25, "s": "same_upper", "ints": (1, -2, 3), "floats": (0.5, -1.5),
              "t": np.arange(6, dtype=np.float32).reshape(2, 3)}
    model = g.Model(
        graph=g.Graph("g", (g.Node("Identity", "n", ("x",), ("y",), values),), {},
                      (g.ValueInfo("x", g.FLOAT, ("N", 3, None)),),
                      (g.ValueInfo("y", g.FLOAT, None),)),
        metadata={"k": "välue"}, ir_version=8, opset=17, producer="p", doc_string="d")
    proto = onnx.load_from_string(write_model(model))
    read = {a.name: helper.get_attribute_value(a) for a in proto.graph.node[0].attribute}
    assert read["i"] == -3 and read["f"] == 0.25 and read["s"] == b"same_upper"
    assert list(read["ints"]) == [1, -2, 3] and list(read["floats"]) == [0.5, -1.5]
    np.testing.assert_array_equal(numpy_helper.to_array(read["t"]), values["t"])
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims[:2]] == ["N", 3]
    assert not dims[2].HasField("dim_value") and not dims[2].HasField("dim_param")
    assert not proto.graph.output[0].type.tensor_type.HasField("shape")
    assert {p.key: p.value for p in proto.metadata_props} == {"k": "välue"}
    assert (proto.doc_string, proto.producer_name, proto.opset_import[0].version) == ("d", "p", 17)


def test_unwritable_attributes_are_refused():
    from cnnlens.onnx_writer import attribute

    for value in (True, (1, 0.5), None, [1]):
        with pytest.raises(ModelError):
            attribute("a", value)


def test_a_converted_model_passes_the_onnx_checker():
    data = tfjs.convert(*Sequential((8, 8, 3)).conv("c", 2, padding="same")
                        .pool("p", "AveragePooling2D", padding="same").flatten()
                        .dense("d", 3, "softmax").files())
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)


# ---------------------------------------------------------------- CLI and page


def write_files(folder: Path, model: Sequential) -> Path:
    text, shard = model.files()
    (folder / "model.json").write_text(text)
    (folder / "group1-shard1of1.bin").write_bytes(shard)
    return folder / "model.json"


def cnnlens(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnnlens", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_convert_tfjs_writes_a_model_that_predicts_like_keras(tmp_path):
    model = Sequential((8, 8, 3), batch=1).conv("c", 2, activation="relu").flatten() \
        .dense("d", 3, activation="softmax")
    source = write_files(tmp_path, model)
    (tmp_path / "classes.txt").write_text("cat\n\ndog\nbird, singing\n")
    out = tmp_path / "out.onnx"
    result = cnnlens("convert-tfjs", source, out, "--classes", tmp_path / "classes.txt",
                     "--name", "Tiny")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "(N, 3, 8, 8)" in result.stdout
    loaded = load_model(out.read_bytes(), "out.onnx")
    assert loaded.card.classes == ("cat", "dog", "bird, singing")
    assert loaded.card.name == "Tiny"
    probabilities = run(loaded.model, nchw(model.x)).probabilities
    np.testing.assert_allclose(probabilities, model.outputs["d"], rtol=1e-5, atol=ATOL)


def test_cli_convert_tfjs_errors(tmp_path):
    source = write_files(tmp_path, small())
    (tmp_path / "group1-shard1of1.bin").unlink()
    result = cnnlens("convert-tfjs", source, tmp_path / "out.onnx")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot read" in result.stderr and "group1-shard1of1.bin" in result.stderr
    write_files(tmp_path, small())
    (tmp_path / "two.txt").write_text("one\ntwo\nthree\n")
    result = cnnlens("convert-tfjs", source, tmp_path / "out.onnx", "--classes",
                     tmp_path / "two.txt")
    assert result.returncode == 2 and "3 classes" in result.stderr, result.stderr
    assert not (tmp_path / "out.onnx").exists()


def test_the_page_opens_model_json_with_its_shard():

    app, _ = app_showing_first_example()
    model = Sequential((28, 28, 1)).conv("c", 2, 5, 2).pool("p", "MaxPooling2D").flatten() \
        .dense("d", 4, "softmax")
    text, shard = model.files()
    session = app.session
    bad = asyncio.run(app.model_tfjs(text, shard[:-1], "model.json"))
    assert set(bad) == {"error"} and bad["error"].startswith("the model model.json could not")
    assert app.session is session
    answer = asyncio.run(app.model_tfjs(text, shard, "model.json"))
    assert "error" not in answer
    assert app.session.loaded.name == "model.json"
    assert [n.name for n in app.session.loaded.model.graph.nodes] == [
        "c", "p", "flatten", "d", "d_softmax"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70) | st.floats(allow_nan=False)
    | st.sampled_from(["same", "valid", "relu", "softmax", "channels_last", "Dense", "c"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=8)


@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_any_edit_of_model_json_converts_or_is_refused_as_a_model_error(data):
    """Whatever a field holds, the importer answers with a model or our documented error
    (never a TypeError or KeyError, which the page would report as a bug)."""
    model = Sequential((6, 6, 3)).conv("c", 2, padding="same").pool("p", "MaxPooling2D") \
        .flatten().dense("d", 2, "softmax")
    document = model.document()
    shard = model.files()[1]
    layers = document["modelTopology"]["model_config"]["config"]["layers"]
    targets = [("layer", i, key) for i, layer in enumerate(layers) for key in layer["config"]]
    targets += [("layer", i, "class_name") for i in range(len(layers))]
    targets += [("weight", 0, key) for key in ("name", "shape", "dtype")]
    targets += [("top", 0, key) for key in ("modelTopology", "weightsManifest", "format")]
    where, index, key = data.draw(st.sampled_from(targets))
    value = data.draw(JSON_VALUES)
    if where == "layer" and key == "class_name":
        layers[index]["class_name"] = value
    elif where == "layer":
        layers[index]["config"][key] = value
    elif where == "weight":
        document["weightsManifest"][0]["weights"][index][key] = value
    else:
        document[key] = value
    with contextlib.suppress(ModelError):
        tfjs.convert(json.dumps(document), shard)
