"""Whole-model forward passes against onnx.reference and onnxruntime, plus forward's contract:
intermediate tensors, logits / probabilities, input validation, unsupported ops, summaries."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field, replace

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import numpy_helper

from cnnlens.errors import ModelError, UnsupportedOpError
from cnnlens.forward import check_supported, run
from cnnlens.onnx_reader import read_model
from cnnlens.ops import SPECS
from cnnlens.summary import summarize
from tests.onnx_builders import (
    ModelBuilder,
    assert_matches_references,
    make_model,
    onnx_reference_pool_deviates,
    onnxruntime_outputs,
    tensor_info,
    value_names,
)
from tests.paths import ROOT

BUNDLED_MODELS = sorted((ROOT / "assets" / "models").glob("*.onnx"))


def load(proto: onnx.ModelProto):
    return read_model(proto.SerializeToString())


def float64_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- random CNNs
@dataclass
class RandomCnn:
    """A random CNN under construction: the builder, the value at the top of the stack and
    its channels / spatial size (tracked with the spec's formulas, independently of
    cnnlens), the input to feed, and which references can judge the result."""

    builder: ModelBuilder
    x: np.ndarray
    value: str
    channels: int
    size: list[int]
    reference: bool = True  # onnx.reference has a few known pooling bugs
    runtime: bool = True  # onnxruntime refuses dilated SAME convolutions
    notes: list[str] = field(default_factory=list)


def _out_size(size, kernel, dilation, stride, pad_begin, pad_end, ceil_mode=False):
    """ONNX output length, written out independently of cnnlens.ops.windows."""
    span = (kernel - 1) * dilation + 1
    steps = size + pad_begin + pad_end - span
    out = (-(-steps // stride) if ceil_mode else steps // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def _every_window_sees_input(size, kernel, dilation, stride, pad_begin, pad_end, ceil_mode):
    """Whether each pooling window has a tap on a real input position (the references
    disagree on windows that only see padding; test_ops covers those separately)."""
    out = _out_size(size, kernel, dilation, stride, pad_begin, pad_end, ceil_mode)
    return all(
        any(pad_begin <= o * stride + j * dilation < pad_begin + size for j in range(kernel))
        for o in range(out)
    )


def _draw_axes(draw, sizes, *, max_kernel, max_pad, pads_below_kernel):
    """Per axis: kernel, dilation, stride, pad_begin, pad_end such that a window fits.

    Returned transposed: ``(kernels, dilations, strides, begins, ends)`` as lists.
    """
    axes = []
    for size in sizes:
        dilation = draw(st.integers(1, 2))
        begin, end = draw(st.integers(0, max_pad)), draw(st.integers(0, max_pad))
        kernel = draw(st.integers(1, min(max_kernel, (size + begin + end - 1) // dilation + 1)))
        if pads_below_kernel:  # onnxruntime insists pooling pads stay below the kernel
            begin, end = min(begin, kernel - 1), min(end, kernel - 1)
            if (kernel - 1) * dilation + 1 > size + begin + end:
                dilation = 1
        axes.append((kernel, dilation, draw(st.integers(1, 3)), begin, end))
    return [list(values) for values in zip(*axes, strict=True)]


def _add_conv(draw, cnn: RandomCnn) -> None:
    b, channels = cnn.builder, cnn.channels
    kind = draw(st.sampled_from(["dense", "grouped", "depthwise"]))
    if kind == "dense":
        group, filters = 1, draw(st.integers(1, 16))
    elif kind == "depthwise":
        group, filters = channels, channels * draw(st.integers(1, max(1, 16 // channels)))
    else:
        group = draw(st.sampled_from([d for d in range(1, channels + 1) if channels % d == 0]))
        filters = group * draw(st.integers(1, 16 // group))
    kernel, dilations, strides, begins, ends = _draw_axes(
        draw, cnn.size, max_kernel=5, max_pad=2, pads_below_kernel=False
    )
    geometry = list(zip(cnn.size, kernel, dilations, strides, strict=True))
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations, "group": group}
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto_pad == "VALID" and any((k - 1) * d + 1 > n for n, k, d, _ in geometry):
        auto_pad = "NOTSET"  # the window only fits with the drawn padding
    if auto_pad == "NOTSET":
        attrs["pads"] = begins + ends
        cnn.size = [_out_size(*g, p, q) for g, p, q in zip(geometry, begins, ends, strict=True)]
    elif auto_pad == "VALID":
        attrs["auto_pad"] = auto_pad
        cnn.size = [_out_size(*g, 0, 0) for g in geometry]
    else:
        attrs["auto_pad"] = auto_pad
        cnn.size = [-(-n // stride) for n, _, _, stride in geometry]
        if draw(st.booleans()):  # keep onnxruntime in play: it refuses dilated SAME convs
            attrs["dilations"] = [1] * len(dilations)
        cnn.runtime &= set(attrs["dilations"]) == {1}
    inputs = [cnn.value, b.weight((filters, channels // group, *kernel))]
    if draw(st.booleans()):
        inputs.append(b.initializer(b.rng.normal(size=filters).astype(np.float32), "bias"))
    cnn.value, cnn.channels = b.add("Conv", inputs, **attrs), filters


def _add_batch_norm(draw, cnn: RandomCnn) -> None:
    b, c = cnn.builder, cnn.channels
    stats = [
        b.rng.uniform(0.5, 1.5, c),  # scale
        b.rng.normal(0, 0.2, c),  # bias
        b.rng.normal(0, 0.2, c),  # running mean
        b.rng.uniform(0.5, 2.0, c),  # running variance
    ]
    names = [b.initializer(np.asarray(s, np.float32), "bn") for s in stats]
    epsilon = draw(st.sampled_from([1e-5, 1e-3]))
    cnn.value = b.add("BatchNormalization", [cnn.value, *names], epsilon=epsilon)


def _add_activation(draw, cnn: RandomCnn) -> None:
    b = cnn.builder
    activation = draw(st.sampled_from(["Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", None]))
    if activation == "Clip":
        low, high = (b.initializer(np.float32(v), "clip") for v in (-0.5, 1.0))
        cnn.value = b.add("Clip", [cnn.value, low, high])
    elif activation == "LeakyRelu":
        cnn.value = b.add("LeakyRelu", [cnn.value], alpha=0.1)
    elif activation is not None:
        cnn.value = b.add(activation, [cnn.value])


def _add_pool(draw, cnn: RandomCnn) -> None:
    pool = draw(st.sampled_from(["MaxPool", "AveragePool"]))
    kernel, dilations, strides, begins, ends = _draw_axes(
        draw, cnn.size, max_kernel=3, max_pad=1, pads_below_kernel=True
    )
    ceil_mode = draw(st.booleans())
    geometry = list(zip(cnn.size, kernel, dilations, strides, begins, ends, strict=True))
    if not all(_every_window_sees_input(*g, ceil_mode) for g in geometry):
        return
    attrs = {
        "kernel_shape": kernel,
        "strides": strides,
        "pads": begins + ends,
        "dilations": dilations,
        "ceil_mode": int(ceil_mode),
    }
    if pool == "AveragePool":
        attrs["count_include_pad"] = int(draw(st.booleans()))
    pads = begins + ends
    if onnx_reference_pool_deviates(pool, cnn.size, kernel, strides, pads, dilations, ceil_mode):
        cnn.reference = False
        cnn.notes.append(f"onnx.reference skipped for {pool} {attrs}")
    cnn.value = cnn.builder.add(pool, [cnn.value], **attrs)
    cnn.size = [_out_size(*g, ceil_mode) for g in geometry]


def _add_head(draw, cnn: RandomCnn) -> None:
    b = cnn.builder
    classes = draw(st.integers(2, 10))
    head = draw(st.sampled_from(["flatten-gemm", "gap-gemm", "reshape-matmul"]))
    if head == "gap-gemm":
        cnn.value, cnn.size = b.add("GlobalAveragePool", [cnn.value]), [1, 1]
    features = cnn.channels * cnn.size[0] * cnn.size[1]
    bias = b.initializer(b.rng.normal(size=classes).astype(np.float32), "bias")
    if head == "reshape-matmul":
        flat = b.add("Reshape", [cnn.value, b.initializer(np.array([0, -1], np.int64), "shape")])
        product = b.add("MatMul", [flat, b.weight((features, classes), fan_in=features)])
        cnn.value = b.add("Add", [product, bias])
    else:
        flat = b.add("Flatten", [cnn.value])
        weights = b.weight((classes, features), fan_in=features)
        cnn.value = b.add("Gemm", [flat, weights, bias], transB=1)
    if draw(st.booleans()):
        cnn.value = b.add("Softmax", [cnn.value], axis=-1)


@st.composite
def random_cnns(draw) -> RandomCnn:
    """1-3 blocks of conv [batchnorm] [activation] [pool], then a classifier head."""
    channels = draw(st.integers(1, 4))
    height, width, batch = (
        draw(st.integers(3, 14)),
        draw(st.integers(3, 14)),
        draw(st.integers(1, 2)),
    )
    # Symbolic spatial dims: ONNX shape inference (which onnxruntime runs when loading) omits
    # the ceil-mode "last window starts inside" rule that its kernels and cnnlens apply.
    b = ModelBuilder(("N", channels, "H", "W"), opset=19, seed=draw(st.integers(0, 2**32 - 1)))
    x = b.rng.normal(size=(batch, channels, height, width)).astype(np.float32)
    cnn = RandomCnn(b, x, b.input, channels, [height, width])
    for _ in range(draw(st.integers(1, 3))):
        _add_conv(draw, cnn)
        if draw(st.booleans()):
            _add_batch_norm(draw, cnn)
        _add_activation(draw, cnn)
        if draw(st.booleans()):
            _add_pool(draw, cnn)
    _add_head(draw, cnn)
    return cnn


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_cnns())
def test_random_cnns_match_both_references_at_every_layer(cnn: RandomCnn):
    model = cnn.builder.build()
    ours = assert_matches_references(model, cnn.x, reference=cnn.reference, runtime=cnn.runtime)
    np.testing.assert_allclose(ours.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert ours.logits.shape == ours.probabilities.shape == (cnn.x.shape[0], ours.logits.shape[1])


# --------------------------------------------------------------------------- a TinyVGG
def tiny_vgg(*, softmax: bool = True, opset: int = 17) -> ModelBuilder:
    """The bundled model's architecture at a smaller width: 2 x (conv-relu-conv-relu-pool)."""
    b = ModelBuilder(("batch", 1, 28, 28), input_name="image", opset=opset, seed=7)
    value, channels = b.input, 1
    for _ in range(2):
        for _ in range(2):
            w, bias = b.weight((6, channels, 3, 3)), b.initializer(np.zeros(6, np.float32) + 0.01)
            value = b.add("Relu", [b.add("Conv", [value, w, bias], pads=[1, 1, 1, 1])])
            channels = 6
        value = b.add("MaxPool", [value], kernel_shape=[2, 2], strides=[2, 2])
    value = b.add("Flatten", [value])
    w = b.weight((10, 6 * 7 * 7))
    value = b.add("Gemm", [value, w, b.initializer(np.zeros(10, np.float32))], transB=1)
    if softmax:
        b.add("Softmax", [value], axis=1 if opset < 13 else -1)
    return b


def test_tiny_vgg_matches_references_with_a_batch():
    x = np.random.default_rng(1).normal(size=(3, 1, 28, 28)).astype(np.float32)
    result = assert_matches_references(tiny_vgg().build(), x)
    assert next(iter(result.tensors)) == "image" == result.input_name


@pytest.mark.parametrize("opset", [11, 17])
def test_logits_are_the_input_of_a_final_softmax(opset):
    b = tiny_vgg(opset=opset)
    model = b.build()
    x = np.random.default_rng(2).normal(size=(2, 1, 28, 28)).astype(np.float32)
    result = run(load(model), x)
    softmax_node = model.graph.node[-1]
    assert result.output_name == softmax_node.output[0]
    assert result.logits_name == softmax_node.input[0]
    runtime = onnxruntime_outputs(model, {"image": x})
    np.testing.assert_allclose(result.logits, runtime[softmax_node.input[0]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        result.probabilities, runtime[softmax_node.output[0]], rtol=1e-5, atol=1e-6
    )


def test_probabilities_are_a_softmax_of_the_output_when_the_graph_has_none():
    model = tiny_vgg(softmax=False).build()
    x = np.random.default_rng(3).normal(size=(2, 1, 28, 28)).astype(np.float32)
    result = run(load(model), x)
    logits = onnxruntime_outputs(model, {"image": x})[model.graph.output[0].name]
    assert result.logits_name == result.output_name == model.graph.output[0].name
    np.testing.assert_allclose(result.logits, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.probabilities, float64_softmax(logits), rtol=1e-5, atol=1e-7)


def test_a_softmax_over_the_batch_axis_is_not_taken_for_probabilities():
    b = ModelBuilder((3, 4))
    b.add("Softmax", [b.input], axis=0)
    x = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    result = run(load(b.build()), x)
    assert result.logits_name == result.output_name
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_a_softmax_over_several_rows_per_sample_is_not_taken_for_probabilities():
    b = ModelBuilder((2, 3, 4))
    b.add("Softmax", [b.input], axis=-1)  # three distributions per sample
    x = np.random.default_rng(4).normal(size=(2, 3, 4)).astype(np.float32)
    result = run(load(b.build()), x)
    assert result.logits_name == result.output_name
    assert result.probabilities.shape == (2, 12)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_huge_logits_give_finite_probabilities():
    b = ModelBuilder((1, 3))
    b.add("Identity", [b.input])
    result = run(load(b.build()), np.array([[1e4, -1e4, 1e4 - 1]], np.float32))
    np.testing.assert_allclose(result.probabilities, float64_softmax(result.logits), rtol=1e-6)


def conv_head(opset: int, axis: int | None, spatial: int = 1) -> onnx.ModelProto:
    """(N, 3, s, s) → 1x1 Conv to 5 classes → Softmax(axis): an (N, 5, s, s) class head."""
    b = ModelBuilder(("batch", 3, spatial, spatial), input_name="image", opset=opset)
    y = b.add("Conv", [b.input, b.weight((5, 3, 1, 1)), b.weight((5,))])
    attrs = {} if axis is None else {"axis": axis}
    b.add("Softmax", [y], **attrs)
    return b.build()


@pytest.mark.parametrize("opset, axis", [(13, 1), (13, -3), (17, 1), (11, 1), (11, None)])
def test_a_softmax_head_shaped_n_k_1_1_gives_the_models_own_probabilities(opset, axis):
    """A (N, K, 1, 1) head with Softmax on the class axis: at opset >= 13 it used to be taken
    for logits and softmaxed again (38% instead of 93% for a new user's model)."""
    model = conv_head(opset, axis)
    x = np.random.default_rng(5).normal(size=(2, 3, 1, 1)).astype(np.float32) * 3
    result = run(load(model), x)
    runtime = onnxruntime_outputs(model, {"image": x})
    softmax = model.graph.node[-1]
    assert result.logits_name == softmax.input[0]
    np.testing.assert_allclose(result.probabilities, runtime[softmax.output[0]].reshape(2, 5),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.logits, runtime[softmax.input[0]].reshape(2, 5),
                               rtol=1e-5, atol=1e-6)


def test_a_softmax_on_the_last_axis_of_a_n_k_1_1_head_is_not_the_class_distribution():
    """Softmax(axis=-1) over a size-1 axis makes every value 1: the model's output is then
    taken as scores, as for a graph without Softmax (its rows are not distributions)."""
    model = conv_head(13, -1)
    x = np.random.default_rng(6).normal(size=(1, 3, 1, 1)).astype(np.float32)
    result = run(load(model), x)
    assert result.logits_name == result.output_name
    np.testing.assert_allclose(result.probabilities, np.full((1, 5), 0.2), rtol=1e-6)


def test_a_class_axis_softmax_over_a_spatial_map_is_not_taken_for_probabilities():
    model = conv_head(13, 1, spatial=2)  # one distribution per pixel, four per sample
    x = np.random.default_rng(7).normal(size=(1, 3, 2, 2)).astype(np.float32)
    result = run(load(model), x)
    assert result.logits_name == result.output_name
    assert result.probabilities.shape == (1, 20)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf, on purpose
def test_non_finite_logits_are_an_error_naming_where_they_began():
    b = ModelBuilder((1, 4))
    y = b.add("Mul", [b.input, b.initializer(np.array([1, np.inf, 1, 1], np.float32))],
              outputs=["scaled"])
    b.add("Add", [y, b.initializer(np.zeros(4, np.float32))], outputs=["logits"])
    with pytest.raises(ModelError, match=r"not finite.*first non-finite value is in 'scaled'"):
        run(load(b.build()), np.ones((1, 4), np.float32))
    finite = run(load(b.build()), np.ones((1, 4), np.float32), finite=False)
    assert np.isinf(finite.logits).any()  # shapes-only callers may still look


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf, on purpose
def test_nan_probabilities_from_a_softmax_are_an_error():
    b = ModelBuilder((1, 3))
    b.add("Softmax", [b.input], axis=1)
    with pytest.raises(ModelError, match="not finite"):
        run(load(b.build()), np.array([[np.inf, 0, 0]], np.float32))


@pytest.mark.parametrize("attribute, value, words", [
    ("strides", "ab", "a list of integers (INTS), got 'ab'"),
    ("group", 1.5, "an integer (INT), got 1.5"),
    ("pads", [0.5, 0.5, 0.5, 0.5], "a list of integers (INTS)"),
    ("auto_pad", 3, "a string (STRING), got 3"),
])
def test_an_attribute_of_the_wrong_type_is_named(attribute, value, words):
    b = ModelBuilder((1, 1, 4, 4))
    b.add("Conv", [b.input, b.weight((1, 1, 3, 3))], name="c1", **{attribute: value})
    with pytest.raises(ModelError) as caught:
        check_supported(load(b.build()))
    message = str(caught.value)
    assert f"node 'c1' (Conv): attribute {attribute!r} must be {words}" in message
    assert "invalid literal" not in message


# --------------------------------------------------------------------------- tensors dict
def test_tensors_follow_execution_order_even_when_the_file_is_unsorted():
    b = ModelBuilder((1, 2, 5, 5))
    a = b.add("Relu", [b.input])
    c = b.add("Conv", [a, b.weight((3, 2, 3, 3))])
    d = b.add("Sigmoid", [c])
    model = b.build(d)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))  # ONNX wants sorted nodes; be lenient
    x = np.random.default_rng(5).normal(size=(1, 2, 5, 5)).astype(np.float32)
    result = run(load(model), x)
    assert list(result.tensors) == [b.input, a, c, d]
    expected = onnxruntime_outputs(model, {b.input: x})  # onnx.reference needs sorted nodes
    for name in (a, c, d):
        np.testing.assert_allclose(result.tensors[name], expected[name], rtol=1e-5, atol=1e-6)


def test_computes_in_float32_whatever_the_initializer_and_input_types():
    b = ModelBuilder((2, 3))
    w = b.initializer(np.random.default_rng(6).normal(size=(3, 4)))  # float64 on purpose
    b.add("MatMul", [b.input, w])
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    result = run(load(b.build()), x)
    assert all(t.dtype == np.float32 for t in result.tensors.values())
    assert result.logits.dtype == result.probabilities.dtype == np.float32


# --------------------------------------------------------------------------- input checks
@pytest.mark.parametrize(
    "shape",
    [(1, 28, 28), (1, 1, 28, 28, 1), (1, 3, 28, 28), (1, 1, 28, 27), ()],
    ids=["rank3", "rank5", "channels", "width", "scalar"],
)
def test_rejects_inputs_that_do_not_fit_the_declared_shape(shape):
    model = load(tiny_vgg().build())
    with pytest.raises(ModelError, match="image"):
        run(model, np.zeros(shape, np.float32))


def test_symbolic_and_unknown_dims_accept_any_size():
    b = ModelBuilder(("batch", None, 4))
    b.add("Relu", [b.input])
    model = load(b.build())
    for shape in [(1, 1, 4), (5, 7, 4)]:
        assert run(model, np.ones(shape, np.float32)).tensors[b.input].shape == shape


def test_rejects_complex_and_string_inputs():
    model = load(tiny_vgg().build())
    for x in (np.zeros((1, 1, 28, 28), np.complex64), np.full((1, 1, 28, 28), "a")):
        with pytest.raises(ModelError, match="real numbers"):
            run(model, x)


def test_a_node_that_cannot_run_is_named():
    b = ModelBuilder((1, 3, 6, 6))
    b.add("Conv", [b.input, b.weight((2, 4, 3, 3))], name="bad_conv")
    with pytest.raises(ModelError, match="bad_conv"):
        run(load(b.build()), np.zeros((1, 3, 6, 6), np.float32))


# --------------------------------------------------------------------------- unsupported ops
def unsupported_model() -> onnx.ModelProto:
    b = ModelBuilder((1, 3, 8, 8))
    value = b.add("Conv", [b.input, b.weight((4, 3, 3, 3))], name="conv")
    value = b.add("LpNormalization", [value], name="lp_1")
    value = b.add("FusedThing", [value], domain="com.example", name="fused")
    value = b.add("LpNormalization", [value], name="lp_2")
    value = b.add("Relu", [value], name="relu")
    return make_model(
        b.nodes,
        [tensor_info(b.input, (1, 3, 8, 8))],
        [tensor_info(value, None)],
        b.initializers,
        opset=17,
    )


def test_unsupported_ops_are_all_named_before_anything_runs(monkeypatch):
    def explode(inputs, attrs):
        raise AssertionError("an op ran before the support check")

    monkeypatch.setitem(SPECS, "Conv", replace(SPECS["Conv"], forward=explode))
    model = load(unsupported_model())
    with pytest.raises(UnsupportedOpError) as caught:
        run(model, np.zeros((2, 2), np.float32))  # a wrong input must not be reported first
    error = caught.value
    assert error.ops == {"LpNormalization": ("lp_1", "lp_2"),
                         "com.example::FusedThing": ("fused",)}
    assert all(word in str(error)
               for word in ("LpNormalization", "lp_1", "lp_2", "FusedThing", "fused"))
    with pytest.raises(UnsupportedOpError):
        check_supported(model)


def test_supported_model_passes_the_check():
    check_supported(load(tiny_vgg().build()))


# --------------------------------------------------------------------------- summary
def test_summary_shapes_and_parameter_counts_match_onnx():
    model = tiny_vgg().build()
    layers = summarize(load(model))
    runtime = onnxruntime_outputs(model, {"image": np.zeros((1, 1, 28, 28), np.float32)})
    sizes = {t.name: numpy_helper.to_array(t).size for t in model.graph.initializer}
    assert [layer.name for layer in layers] == [n.name for n in model.graph.node]
    for layer, node in zip(layers, model.graph.node, strict=True):
        assert layer.op_type == node.op_type
        assert layer.inputs == tuple(node.input) and layer.outputs == tuple(node.output)
        assert layer.output_shape == runtime[node.output[0]].shape
        assert layer.params == sum(sizes.get(name, 0) for name in set(node.input))
    assert sum(layer.params for layer in layers) == sum(sizes.values())


def test_summary_takes_an_explicit_input_shape_for_symbolic_spatial_dims():
    b = ModelBuilder(("batch", 2, "height", "width"))
    b.add("Conv", [b.input, b.weight((3, 2, 3, 3))], strides=[2, 2])
    model = load(b.build())
    with pytest.raises(ModelError, match="input_shape"):
        summarize(model)
    assert summarize(model, (4, 2, 9, 7))[0].output_shape == (4, 3, 4, 3)


# --------------------------------------------------------------------------- packaging
def test_the_engine_imports_no_onnx_torch_or_onnxruntime():
    code = (
        "import sys, cnnlens, cnnlens.onnx_reader, cnnlens.forward, cnnlens.summary\n"
        "banned = ('onnx', 'torch', 'onnxruntime', 'google.protobuf')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned or m.startswith(banned)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


@pytest.mark.parametrize("path", BUNDLED_MODELS or [None], ids=lambda p: p.name if p else "absent")
def test_bundled_model_matches_both_references_at_every_layer(path):
    if path is None:
        pytest.skip("no assets/models/*.onnx yet: the bundled model is trained separately")
    proto = onnx.load(path)
    model = read_model(path.read_bytes())
    shape = tuple(d if isinstance(d, int) else 2 for d in model.input.shape)
    x = np.random.default_rng(8).normal(size=shape).astype(np.float32)
    result = assert_matches_references(proto, x)
    assert list(result.tensors) == [model.input.name, *value_names(proto)]
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-5)
