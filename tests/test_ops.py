"""Each op and attribute variant against onnx.reference and onnxruntime.

Every case builds a one-node ONNX model, runs it through the whole engine (reader included)
and compares every output with both references. Error cases check the engine refuses what
the spec forbids, with a ModelError naming the node.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import numpy_helper

from cnnlens.errors import ModelError
from cnnlens.forward import run
from cnnlens.onnx_reader import read_model
from cnnlens.ops import SPECS, op_function
from cnnlens.ops.shape import reshape_target
from tests.onnx_builders import (
    ModelBuilder,
    assert_matches_references,
    onnx_reference_pool_deviates,
    single_op_model,
)

RNG = np.random.default_rng(20240611)


def normal(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.normal(size=shape) * scale).astype(np.float32)


def check(op_type, x, constants=(), *, outputs=1, opset=17, reference=True, runtime=True, **attrs):
    """Compare a single ``op_type`` node on input ``x`` with both references (or one)."""
    model = single_op_model(
        op_type, x.shape, constants=constants, outputs=outputs, opset=opset, **attrs
    )
    return assert_matches_references(model, x, reference=reference, runtime=runtime)


def run_single(op_type, x, constants=(), *, opset=17, **attrs):
    model = single_op_model(op_type, x.shape, constants=constants, opset=opset, **attrs)
    return run(read_model(model.SerializeToString()), x)


# --------------------------------------------------------------------------- Conv
@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv_auto_pad_strides_dilations(auto_pad, stride, dilation):
    x = normal(2, 3, 9, 8)
    w = normal(4, 3, 3, 2, scale=0.3)
    attrs = {"strides": [stride, stride], "dilations": [dilation, dilation]}
    if auto_pad == "NOTSET":
        attrs["pads"] = [1, 0, 2, 1]  # asymmetric on purpose
    else:
        attrs["auto_pad"] = auto_pad
    # onnxruntime refuses dilations together with SAME_* padding.
    same_dilated = dilation > 1 and auto_pad.startswith("SAME")
    check("Conv", x, [w, normal(4)], runtime=not same_dilated, **attrs)


@pytest.mark.parametrize(
    ("channels", "filters", "group"),
    [(4, 6, 2), (6, 6, 3), (3, 3, 3), (2, 6, 2), (8, 4, 4), (5, 5, 1)],
    ids=["grouped", "grouped3", "depthwise", "depthwise-x3", "grouped-shrink", "dense"],
)
def test_conv_groups(channels, filters, group):
    x = normal(2, channels, 7, 6)
    w = normal(filters, channels // group, 3, 3, scale=0.4)
    check("Conv", x, [w, normal(filters)], group=group, pads=[1, 1, 1, 1], strides=[2, 1])


def test_conv_without_bias_and_with_explicit_kernel_shape():
    x = normal(1, 2, 6, 6)
    check("Conv", x, [normal(3, 2, 2, 3)], kernel_shape=[2, 3])


@pytest.mark.parametrize("spatial", [(11,), (5, 4, 6)], ids=["1d", "3d"])
def test_conv_other_ranks(spatial):
    rank = len(spatial)
    x = normal(2, 4, *spatial)
    w = normal(6, 2, *(3,) * rank, scale=0.3)
    check("Conv", x, [w, normal(6)], group=2, pads=[1] * (2 * rank), strides=[2] * rank)


def test_conv_1x1_large_stride_and_single_pixel_output():
    check("Conv", normal(1, 3, 5, 5), [normal(2, 3, 5, 5)], strides=[3, 3])


@pytest.mark.parametrize(
    ("w_shape", "attrs"),
    [
        ((4, 2, 3, 3), {}),  # input has 3 channels, weights expect 2
        ((4, 1, 3, 3), {"group": 2}),  # 2 does not divide 3 channels
        ((4, 3, 3, 3), {"kernel_shape": [2, 2]}),
        ((4, 3, 7, 7), {}),  # kernel larger than the input
        ((4, 3, 3, 3), {"auto_pad": "SAME_MIDDLE"}),
        ((4, 3, 3, 3), {"pads": [1, 1]}),
    ],
)
def test_conv_rejects_inconsistent_models(w_shape, attrs):
    with pytest.raises(ModelError, match="conv"):
        run_single("Conv", normal(1, 3, 5, 5), [normal(*w_shape)], **attrs)


# --------------------------------------------------------------------------- pooling
POOL_CASES = [
    # kernel, strides, pads, ceil_mode
    ([2, 2], [2, 2], [0, 0, 0, 0], 0),
    ([3, 3], [2, 2], [1, 1, 1, 1], 0),
    ([3, 2], [2, 3], [1, 0, 0, 1], 1),
    ([3, 3], [2, 2], [0, 0, 0, 0], 1),
    ([2, 2], [3, 3], [1, 1, 0, 0], 1),
    ([3, 3], [1, 1], [1, 1, 1, 1], 1),
    ([3, 3], [3, 3], [0, 0, 0, 0], 1),
    ([1, 1], [2, 2], [0, 0, 0, 0], 0),
]


@pytest.mark.parametrize(("kernel", "strides", "pads", "ceil_mode"), POOL_CASES)
@pytest.mark.parametrize("dilation", [1, 2])
def test_max_pool(kernel, strides, pads, ceil_mode, dilation):
    x = normal(2, 3, 9, 8)
    dilations = [dilation, dilation]
    deviates = onnx_reference_pool_deviates(
        "MaxPool", x.shape[2:], kernel, strides, pads, dilations, ceil_mode
    )
    check(
        "MaxPool",
        x,
        kernel_shape=kernel,
        strides=strides,
        pads=pads,
        ceil_mode=ceil_mode,
        dilations=dilations,
        reference=not deviates,
    )


@pytest.mark.parametrize(("kernel", "strides", "pads", "ceil_mode"), POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(kernel, strides, pads, ceil_mode, count_include_pad):
    x = normal(2, 3, 9, 8)
    deviates = onnx_reference_pool_deviates(
        "AveragePool", x.shape[2:], kernel, strides, pads, None, ceil_mode
    )
    check(
        "AveragePool",
        x,
        kernel_shape=kernel,
        strides=strides,
        pads=pads,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        reference=not deviates,
    )


@pytest.mark.parametrize(
    ("op_type", "extra"),
    [("MaxPool", {}), ("AveragePool", {}), ("AveragePool", {"count_include_pad": 1})],
)
@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("stride", [1, 2])
def test_pool_auto_pad(op_type, extra, auto_pad, stride):
    x, kernel, strides = normal(1, 2, 7, 8), [3, 2], [stride, stride]
    deviates = onnx_reference_pool_deviates(
        op_type, x.shape[2:], kernel, strides, [0] * 4, auto_pad=auto_pad
    )
    attrs = {"kernel_shape": kernel, "strides": strides, "auto_pad": auto_pad, **extra}
    check(op_type, x, reference=not deviates, **attrs)


def test_average_pool_with_dilations_opset_19():
    x = normal(1, 2, 9, 9)
    check("AveragePool", x, opset=19, kernel_shape=[2, 3], dilations=[2, 2], pads=[1, 1, 1, 1])


def test_pool_1d():
    check("MaxPool", normal(2, 3, 10), kernel_shape=[3], strides=[2], pads=[1, 1])


@pytest.mark.parametrize("op_type", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pools(op_type):
    check(op_type, normal(2, 5, 4, 3))


@pytest.mark.parametrize(
    ("op_type", "extra"),
    [
        ("MaxPool", {}),
        ("AveragePool", {"count_include_pad": 0}),
        ("AveragePool", {"count_include_pad": 1}),
    ],
)
def test_pool_windows_that_miss_the_input_follow_onnxruntime(op_type, extra):
    # Height 1 padded by 1 on both sides, taps 2 apart: every window reads only padding.
    # The spec is silent; onnx.reference says 0 / NaN, onnxruntime lowest-float / 0.
    x = normal(1, 2, 1, 3)
    attrs = {"kernel_shape": [2, 1], "dilations": [2, 1], "pads": [1, 0, 1, 0]}
    result = check(op_type, x, opset=19, reference=False, **attrs, **extra)
    assert np.isfinite(result.tensors[result.output_name]).all()


def test_pool_needs_kernel_shape():
    with pytest.raises(ModelError, match="kernel_shape"):
        run_single("MaxPool", normal(1, 1, 4, 4), strides=[1, 1])


# --------------------------------------------------------------------------- BatchNorm
@pytest.mark.parametrize("epsilon", [1e-5, 1e-3, 0.5])
def test_batch_normalization(epsilon):
    channels = 4
    x = normal(2, channels, 3, 5)
    variance = RNG.uniform(0.1, 2.0, size=channels).astype(np.float32)
    params = [normal(channels), normal(channels), normal(channels), variance]
    check("BatchNormalization", x, params, epsilon=epsilon)


def test_batch_normalization_on_2d_input():
    x = normal(3, 6)
    variance = RNG.uniform(0.5, 1.5, size=6).astype(np.float32)
    check("BatchNormalization", x, [normal(6), normal(6), normal(6), variance])


def test_batch_normalization_rejects_training_mode():
    params = [np.ones(2, np.float32)] * 4
    with pytest.raises(ModelError, match="training_mode"):
        run_single("BatchNormalization", normal(1, 2, 2, 2), params, training_mode=1)


# --------------------------------------------------------------------------- activations
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # onnx.reference's sigmoid
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("op_type", ["Relu", "Sigmoid", "Tanh"])
def test_unary_activations(op_type):
    x = normal(2, 3, 4, 4, scale=5.0)
    x[0, 0, 0, :] = [-100.0, 100.0, 0.0, -0.0]  # sigmoid extremes must not overflow
    check(op_type, x)


@pytest.mark.parametrize("alpha", [None, 0.2, 1.5])
def test_leaky_relu(alpha):
    attrs = {} if alpha is None else {"alpha": alpha}
    check("LeakyRelu", normal(2, 3, 4), **attrs)


@pytest.mark.parametrize(
    "bounds",
    [(np.float32(-0.5), np.float32(0.7)), (np.float32(0.0), None), (None, np.float32(0.1)), ()],
)
def test_clip_with_bound_inputs(bounds):
    check("Clip", normal(2, 3, 4), list(bounds))


def test_clip_with_bound_attributes_before_opset_11():
    check("Clip", normal(2, 3, 4), opset=6, min=-0.25, max=0.5)


# --------------------------------------------------------------------------- linear
@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", [None, (5,), (1, 5), (3, 5), (3, 1)])
def test_gemm(trans_a, trans_b, c_shape):
    a = normal(*((4, 3) if trans_a else (3, 4)))
    b = normal(*((5, 4) if trans_b else (4, 5)))
    constants = [b] if c_shape is None else [b, normal(*c_shape)]
    check("Gemm", a, constants, transA=trans_a, transB=trans_b, alpha=0.75, beta=1.5)


def test_gemm_defaults():
    check("Gemm", normal(2, 6), [normal(6, 3), normal(3)])


@pytest.mark.parametrize(
    ("a_shape", "b_shape"), [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((4,), (4, 3))]
)
def test_matmul(a_shape, b_shape):
    check("MatMul", normal(*a_shape), [normal(*b_shape)])


# --------------------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("b_shape", [(2, 3, 4, 5), (5,), (3, 1, 1), (1, 3, 4, 1), ()])
def test_binary_broadcasting(op_type, b_shape):
    b = normal(*b_shape) if b_shape else np.array(1.5, np.float32)
    if op_type == "Div":
        b = np.where(np.abs(b) < 0.1, np.float32(0.5), b).astype(np.float32)
    check(op_type, normal(2, 3, 4, 5), [b])


@pytest.mark.parametrize(("op_type", "ufunc"), [("Add", np.add), ("Mul", np.multiply)])
def test_binary_legacy_axis_broadcast(op_type, ufunc):
    # Opset 6: B (C,) lines up with axis 1 of A (N, C, H, W), as Caffe2-era exporters wrote.
    # Neither reference runs this (onnxruntime has no Add-6, onnx.reference ignores `axis`),
    # so the expectation is the spec's own example written out with NumPy.
    x, b = normal(2, 3, 4, 5), normal(3)
    ours = run_single(op_type, x, [b], opset=6, broadcast=1, axis=1)
    np.testing.assert_array_equal(ours.tensors[ours.output_name], ufunc(x, b.reshape(3, 1, 1)))


# --------------------------------------------------------------------------- shape ops
@pytest.mark.parametrize("axis", [0, 1, 2, 3, 4, -1, -3])
def test_flatten(axis):
    check("Flatten", normal(2, 3, 4, 5), axis=axis)


RESHAPE_TARGETS = [
    [2, -1],
    [0, -1],
    [0, 0, -1],
    [-1, 20],
    [2, 3, 20],
    [0, 3, 4, 5],
    [-1],
    [1, 2, 1, 60],
]


@pytest.mark.parametrize(
    ("target", "allowzero"),
    # With allowzero=1 a 0 is a real size, which a 120-element input cannot take.
    [(t, 0) for t in RESHAPE_TARGETS] + [(t, 1) for t in RESHAPE_TARGETS if 0 not in t],
)
def test_reshape(target, allowzero):
    check("Reshape", normal(2, 3, 4, 5), [np.array(target, np.int64)], allowzero=allowzero)


def test_reshape_allowzero_keeps_a_literal_zero():
    # With allowzero the 0 is a size, so a 0-element input may become (3, 0).
    check("Reshape", np.zeros((0, 3), np.float32), [np.array([3, 0], np.int64)], allowzero=1)
    assert reshape_target((0, 3), [3, 0], allowzero=True) == (3, 0)


@pytest.mark.parametrize(
    ("shape", "target", "allowzero"),
    [
        ((2, 3), [-1, -1], False),
        ((2, 3), [4, -1], False),
        ((2, 3), [5], False),
        ((2, 3), [0, 0, 0], False),
        ((0, 3), [0, -1], True),
        ((2, 3), [-2, 3], False),
    ],
)
def test_reshape_rejects_impossible_targets(shape, target, allowzero):
    with pytest.raises(ModelError, match="Reshape"):
        reshape_target(shape, target, allowzero)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis):
    x = normal(2, 3, 4)
    other_shape = list(x.shape)
    other_shape[axis] = 5
    check("Concat", x, [normal(*other_shape), normal(*other_shape)], axis=axis)


# --------------------------------------------------------------------------- softmax
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -2])
def test_softmax(axis):
    x = normal(2, 3, 4, scale=10.0)
    check("Softmax", x, **({} if axis is None else {"axis": axis}))


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1])
def test_softmax_before_opset_13_flattens_at_axis(axis):
    # onnx.reference 1.23 applies opset-13 semantics at every opset; onnxruntime does not.
    x = normal(2, 3, 4, scale=10.0)
    kwargs = {} if axis is None else {"axis": axis}
    check("Softmax", x, opset=11, reference=False, **kwargs)
    at = 1 if axis is None else axis % 3
    rows = x.reshape(int(np.prod(x.shape[:at])), -1).astype(np.float64)
    expected = np.exp(rows) / np.exp(rows).sum(axis=1, keepdims=True)
    ours = run_single("Softmax", x, opset=11, **kwargs)
    np.testing.assert_allclose(ours.tensors[ours.output_name], expected.reshape(x.shape), rtol=1e-5)


def test_softmax_is_stable_for_huge_logits():
    x = np.array([[1000.0, 1001.0, -1000.0]], np.float32)
    result = check("Softmax", x)
    assert np.isfinite(result.probabilities).all()


def test_op_function_picks_semantics_by_opset():
    assert op_function("Softmax", 12) is SPECS["Softmax"].earlier[0][1]
    assert op_function("Softmax", 13) is SPECS["Softmax"].forward
    assert op_function("Relu", 7, domain="com.microsoft") is None
    assert op_function("RoiAlign", 17) is None


# --------------------------------------------------------------------------- pass-through
def test_identity():
    check("Identity", normal(2, 3))


@pytest.mark.parametrize("opset", [7, 10, 12, 17])
def test_dropout_is_identity_at_inference(opset):
    # The mask's type and value changed over opsets; onnx.reference 1.23 always gives the
    # opset-12 mask, so before opset 12 only onnxruntime counts.
    constants = [np.array(0.5, np.float32)] if opset >= 12 else []
    check("Dropout", normal(2, 3, 4), constants, outputs=2, opset=opset, reference=opset >= 12)


@pytest.mark.parametrize(
    "attrs",
    [
        {"value_float": 2.5},
        {"value_floats": [1.0, -2.0]},
        {"value_int": 7},
        {"value_ints": [2, -1]},
    ],
)
def test_constant_scalar_attributes(attrs):
    # Constant takes no input; the graph keeps a real input through an Identity beside it.
    b = ModelBuilder((2,))
    passed = b.add("Identity", [b.input])
    value = b.add("Constant", [], **attrs)
    assert_matches_references(b.build([passed, value]), normal(2))


def test_constant_tensor_feeds_an_add():
    b = ModelBuilder((2, 3))
    value = b.add("Constant", [], value=numpy_helper.from_array(normal(2, 3)))
    b.add("Add", [b.input, value])
    assert_matches_references(b.build(), normal(2, 3))
