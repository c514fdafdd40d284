"""The ops of issue 14 against independent references, and load-time constant folding.

Forward: one-node models through the whole engine (reader included) against onnxruntime
and, where it follows the spec, ``onnx.reference``. Gradients: each vjp against float64
PyTorch autograd of the same op written with ``torch.nn.functional``. Folding: models
with exporters' shape patterns, loaded (and folded) by ``load_model``, against
onnxruntime on the unfolded file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, numpy_helper

from cnnlens.errors import ModelError
from cnnlens.forward import run
from cnnlens.loader import load_model
from cnnlens.onnx_reader import read_model
from cnnlens.ops import SPECS
from tests.onnx_builders import (
    ModelBuilder,
    assert_matches_references,
    onnxruntime_outputs,
    single_op_model,
    value_names,
)
from tests.test_gradients import FLOAT32_FLOOR, SETTINGS, as_torch, assert_close, our_vjp

RNG = np.random.default_rng(20261202)


def normal(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.normal(size=shape) * scale).astype(np.float32)


def ints(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def check(op_type: str, x: np.ndarray, constants: Sequence[np.ndarray | None] = (), *,
          opset: int = 17, reference: bool = True, runtime: bool = True, **attrs: Any) -> Any:
    """One ``op_type`` node on ``x`` against both references (or the one named)."""
    model = single_op_model(op_type, x.shape, constants=constants, opset=opset, **attrs)
    return assert_matches_references(model, x, reference=reference, runtime=runtime)


def check_vjp(op_type: str, x: np.ndarray, constants: Sequence[np.ndarray | None],
              attrs: dict[str, Any], reference: Callable[[torch.Tensor], torch.Tensor], *,
              opset: int = 17, seed: int = 0) -> None:
    """The op's forward output and ``x``'s gradient against ``reference`` under float64
    autograd, for a random output gradient; the other inputs get no gradient."""
    t = as_torch(x)
    expected = reference(t)
    grad = np.random.default_rng(seed).normal(size=tuple(expected.shape)).astype(np.float32)
    outputs, ours = our_vjp(op_type, [x, *constants], attrs, grad, opset=opset)
    assert_close(outputs[0], expected, f"{op_type} forward")
    (theirs,) = torch.autograd.grad(expected, [t], torch.from_numpy(grad.astype(float)))
    assert_close(ours[0], theirs, f"{op_type} gradient", FLOAT32_FLOOR * np.abs(grad).max())
    assert len(ours) == 1 + len(constants) and all(g is None for g in ours[1:])


# --------------------------------------------------------------------------- Pad
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("pads", [[0, 0, 1, 2, 0, 0, 2, 1], [0, 1, 0, 3, 1, 0, 2, 0],
                                  [0, 0, 2, -1, 0, 0, -2, 3]], ids=["spatial", "any", "crop"])
def test_pad_modes(mode, pads):
    x = normal(2, 3, 5, 6)
    # onnx.reference pads with np.pad, which cannot crop; wrap arrived in opset 19.
    check("Pad", x, [ints(*pads), np.array(0.5, np.float32)], opset=19, mode=mode,
          reference=min(pads) >= 0)


def test_pad_attribute_form_before_opset_11_and_axes_since_18():
    x = normal(1, 2, 4, 5)
    check("Pad", x, opset=10, pads=[0, 0, 1, 0, 0, 0, 2, 3], mode="edge", value=0.0)
    check("Pad", x, opset=2, pads=[0, 0, 1, 1, 0, 0, 1, 1], value=-2.0)
    check("Pad", x, [ints(1, 2, 3, 1), None, ints(2, -1)], opset=18, mode="reflect")


def test_pad_reflects_again_past_the_far_end():
    x = normal(1, 1, 3, 2)
    check("Pad", x, [ints(0, 0, 5, 4, 0, 0, 4, 5)], mode="reflect", runtime=False)


PAD_TORCH = {"constant": "constant", "reflect": "reflect", "edge": "replicate",
             "wrap": "circular"}


@SETTINGS
@given(st.sampled_from(list(PAD_TORCH)), st.lists(st.integers(0, 2), min_size=4, max_size=4),
       st.integers(0, 2**31))
def test_pad_gradient(mode, widths, seed):
    x = np.random.default_rng(seed).normal(size=(2, 2, 3, 4)).astype(np.float32)
    top, left, bottom, right = widths
    pads = ints(0, 0, top, left, 0, 0, bottom, right)
    value = 0.3 if mode == "constant" else None
    check_vjp("Pad", x, [pads, np.array(0.3, np.float32)], {"mode": mode},
              lambda t: F.pad(t, [left, right, top, bottom], mode=PAD_TORCH[mode], value=value),
              seed=seed)


def test_pad_gradient_of_a_crop():
    x = normal(1, 2, 5, 5)
    check_vjp("Pad", x, [ints(0, 0, -1, 2, 0, 0, 1, -2)], {},
              lambda t: F.pad(t, [2, -2, -1, 1]))


# --------------------------------------------------------------------------- layout
@pytest.mark.parametrize("perm", [None, [0, 2, 3, 1], [1, 0, 3, 2]])
def test_transpose(perm):
    x = normal(2, 3, 4, 5)
    attrs = {} if perm is None else {"perm": perm}
    check("Transpose", x, **attrs)
    check_vjp("Transpose", x, [], attrs,
              lambda t: t.permute(*(perm or reversed(range(4)))))


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_and_unsqueeze_axes_as_attribute_or_input(opset):
    x = normal(2, 1, 4, 1)
    as_input = opset >= 13
    axes = [ints(1, -1)] if as_input else []
    attrs = {} if as_input else {"axes": [1, -1]}
    check("Squeeze", x, axes, opset=opset, **attrs)
    check("Squeeze", x, opset=opset)  # every size-1 axis
    check("Unsqueeze", x, axes, opset=opset, **attrs)
    check_vjp("Squeeze", x, axes, attrs, lambda t: t.squeeze((1, 3)), opset=opset)
    check_vjp("Unsqueeze", x, axes, attrs, lambda t: t.unsqueeze(1).unsqueeze(-1), opset=opset)


def test_layout_errors_are_model_errors():
    x = normal(2, 3, 1)
    with pytest.raises(ModelError, match="size 1"):
        run_single("Squeeze", x, [ints(1)])
    with pytest.raises(ModelError, match="permutation"):
        run_single("Transpose", x, perm=[0, 0, 1])


def run_single(op_type: str, x: np.ndarray, constants: Sequence[np.ndarray | None] = (), *,
               opset: int = 17, **attrs: Any) -> Any:
    model = single_op_model(op_type, x.shape, constants=constants, opset=opset, **attrs)
    return run(read_model(model.SerializeToString()), x)


# --------------------------------------------------------------------------- Resize
TRANSFORMS = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
              "asymmetric"]


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("mode,rounding", [("nearest", "round_prefer_floor"),
                                           ("nearest", "round_prefer_ceil"),
                                           ("nearest", "floor"), ("nearest", "ceil"),
                                           ("linear", "round_prefer_floor")])
@pytest.mark.parametrize("scales", [[1, 1, 2, 1.5], [1, 1, 0.6, 0.5], None],
                         ids=["up", "down", "sizes"])
def test_resize_against_onnxruntime(transform, mode, rounding, scales):
    if transform == "half_pixel_symmetric" and scales == [1, 1, 0.6, 0.5]:
        # One coordinate lands a float32 rounding from an integer, on different sides
        # in onnxruntime and here (their float32 steps, our float32 steps, another order).
        scales = [1, 1, 0.7, 0.5]
    x = normal(2, 3, 5, 6)
    constants = ([None, np.array(scales, np.float32)] if scales
                 else [None, None, ints(2, 3, 7, 13)])
    # onnx.reference 1.23 rounds some of these coordinates differently; onnxruntime is the
    # reference the issue names.
    check("Resize", x, constants, opset=19, reference=False, mode=mode,
          coordinate_transformation_mode=transform, nearest_mode=rounding)


def test_resize_opset_10_and_axes_of_opset_18():
    x = normal(1, 2, 4, 5)
    for mode in ("nearest", "linear"):
        for scales in ([1, 1, 2, 3], [1, 1, 0.5, 0.7]):
            check("Resize", x, [np.array(scales, np.float32)], opset=10, reference=False,
                  mode=mode)
    check("Resize", x, [None, None, ints(7, 3)], opset=18, reference=False, axes=[3, 2],
          mode="linear")


@pytest.mark.parametrize("attrs", [{"mode": "cubic"},
                                   {"coordinate_transformation_mode": "tf_crop_and_resize"},
                                   {"antialias": 1}])
def test_resize_forms_cnnlens_does_not_know_are_refused_by_name(attrs):
    x = normal(1, 1, 4, 4)
    with pytest.raises(ModelError, match="Resize"):
        run_single("Resize", x, [None, np.array([1, 1, 2, 2], np.float32)], opset=18,
                   **attrs)


RESIZE_TORCH = [
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
      "nearest_mode": "floor"}, {"mode": "nearest"}),
    ({"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
      "nearest_mode": "round_prefer_ceil"}, {"mode": "nearest-exact"}),
    ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
     {"mode": "bilinear", "align_corners": False}),
    ({"mode": "linear", "coordinate_transformation_mode": "align_corners"},
     {"mode": "bilinear", "align_corners": True}),
]


@pytest.mark.parametrize("attrs,torch_attrs", RESIZE_TORCH,
                         ids=["nearest", "nearest-exact", "bilinear", "align-corners"])
@pytest.mark.parametrize("extent", [{"scale_factor": (2.0, 3.0)}, {"size": (3, 7)},
                                    {"size": (11, 2)}], ids=["scales", "sizes", "mixed"])
def test_resize_gradient(attrs, torch_attrs, extent):
    x = normal(2, 3, 5, 4)
    if "size" in extent:
        constants = [None, None, ints(2, 3, *extent["size"])]
    else:
        constants = [None, np.array([1, 1, *extent["scale_factor"]], np.float32)]
    check_vjp("Resize", x, constants, attrs,
              lambda t: F.interpolate(t, **extent, **torch_attrs))


# --------------------------------------------------------------------------- activations
def test_hard_sigmoid_and_hard_swish_forward():
    x = normal(2, 3, 4, 5, scale=4)
    check("HardSigmoid", x)
    check("HardSigmoid", x, alpha=0.3, beta=0.4)
    check("HardSwish", x, opset=14)


@SETTINGS
@given(st.sampled_from([(0.2, 0.5), (1 / 6, 0.5), (0.3, 0.4), (-0.5, 0.1)]),
       st.integers(0, 2**31))
def test_hard_sigmoid_gradient(params, seed):
    alpha, beta = params
    x = np.random.default_rng(seed).normal(size=(3, 17)).astype(np.float32) * 4
    check_vjp("HardSigmoid", x, [], {"alpha": alpha, "beta": beta},
              lambda t: F.hardsigmoid(6 * (alpha * t + beta - 0.5)), seed=seed)


def test_hard_swish_gradient_at_its_corners_is_torchs():
    x = np.concatenate([normal(40, scale=4), np.array([-3, 3, 0, -3.5, 3.5], np.float32)])
    check_vjp("HardSwish", x, [], {}, F.hardswish)


def test_hard_sigmoid_gradient_at_its_corners_is_zero():
    x = np.array([-2.5, 2.5, 0.0], np.float32)  # 0.2 x + 0.5 is 0, 1 and 0.5
    _, (grad,) = our_vjp("HardSigmoid", [x], {}, np.ones(3, np.float32))
    np.testing.assert_array_equal(grad, [0, 0, np.float32(0.2)])


# --------------------------------------------------------------------------- LRN
@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn_against_onnxruntime_and_torch(size):
    x = normal(2, 6, 4, 5, scale=2)
    attrs = {"size": size, "alpha": 0.5, "beta": 0.75, "bias": 1.5}
    # onnx.reference 1.23's LRN loops over the batch axis where it means the channels.
    check("LRN", x, reference=False, **attrs)
    check_vjp("LRN", x, [], attrs, lambda t: F.local_response_norm(t, size, 0.5, 0.75, 1.5))


def test_lrn_even_size_windows_lean_forward():
    """ONNX Runtime refuses even sizes and torch centres them the other way; onnx.reference
    is right when N equals C (see above), and its window is the spec's."""
    x = normal(4, 4, 3, 3)
    check("LRN", x, runtime=False, size=4, alpha=0.3)


def test_lrn_gradient_against_finite_differences_for_an_even_size():
    x = normal(1, 5, 2, 2).astype(np.float64)
    attrs = {"size": 2, "alpha": 0.4, "beta": 0.6, "bias": 1.2}
    g = np.random.default_rng(1).normal(size=x.shape)
    _, (ours,) = our_vjp("LRN", [x], attrs, g)

    def forward(v: np.ndarray) -> np.ndarray:
        return our_vjp("LRN", [v], attrs, g)[0][0]

    expected = np.zeros_like(x)
    step = 1e-6
    for i in range(x.size):  # every one of the 20 entries, centrally
        e = np.zeros(x.size)
        e[i] = step
        e = e.reshape(x.shape)
        expected.flat[i] = ((forward(x + e) - forward(x - e)) * g).sum() / (2 * step)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- shape values
def test_shape_with_start_and_end():
    x = normal(2, 3, 4, 5)
    check("Shape", x)
    check("Shape", x, opset=15, start=1, end=-1)
    check("Shape", x, opset=15, start=-9, end=99)


@pytest.mark.parametrize("axis,indices", [(0, ints(1, 0, 1)), (2, ints(-1, 0)),
                                          (3, np.array([[0, 4], [-2, 1]], np.int64)),
                                          (1, np.array(2, np.int64))])
def test_gather(axis, indices):
    x = normal(2, 3, 4, 5)
    check("Gather", x, [indices], axis=axis)
    flat = torch.from_numpy(np.where(indices < 0, indices + x.shape[axis], indices)).reshape(-1)
    shape = (*x.shape[:axis], *indices.shape, *x.shape[axis + 1:])
    check_vjp("Gather", x, [indices], {"axis": axis},
              lambda t: t.index_select(axis, flat).reshape(shape))


def test_gather_out_of_range_is_a_model_error():
    with pytest.raises(ModelError, match="out of range"):
        run_single("Gather", normal(2, 3), [ints(3)], axis=1)


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([1, 0], [3, -1], [2, 3], [1, 2]),
    ([-1], [-100], [2], [-1]),           # backwards past the start
    ([10, 1], [0, 99], [3, 1], [-2, 1]),  # clamped both ways
    ([0], [2], None, None),
])
def test_slice(starts, ends, axes, steps):
    x = normal(2, 3, 4, 5)
    constants = [ints(*starts), ints(*ends)]
    if axes is not None:
        constants += [ints(*axes), ints(*steps)]
    check("Slice", x, constants)
    _, (grad, *_) = our_vjp("Slice", [x, *constants], {})
    # The gradient of a sum over the window: 1 where it reads, 0 elsewhere.
    marked = np.arange(x.size, dtype=np.float32).reshape(x.shape)
    read = set(our_vjp("Slice", [marked, *constants], {})[0][0].ravel().tolist())
    np.testing.assert_array_equal(grad, np.isin(marked, list(read)).astype(np.float32))


def test_slice_gradient_against_torch():
    x = normal(2, 3, 6, 5)
    constants = [ints(1, 0), ints(6, 4), ints(2, 3), ints(2, 3)]
    check_vjp("Slice", x, constants, {}, lambda t: t[:, :, 1:6:2, 0:4:3])


def test_slice_attribute_form_before_opset_10():
    check("Slice", normal(2, 3, 4), opset=9, starts=[1, -3], ends=[3, 100], axes=[1, 2])


def test_cast_and_constant_of_shape():
    x = normal(2, 3, scale=3)
    check("Cast", x, to=TensorProto.INT64)
    check("Cast", x, to=TensorProto.DOUBLE)
    check_vjp("Cast", x, [], {"to": TensorProto.FLOAT}, lambda t: t * 1)
    _, (none,) = our_vjp("Cast", [x], {"to": TensorProto.INT32})
    assert none is None
    b = ModelBuilder((2, 3))
    dims = b.add("Shape", [b.input])
    filled = b.add("ConstantOfShape", [dims],
                   value=numpy_helper.from_array(np.array([7], np.int32)))
    zeros = b.add("ConstantOfShape", [dims])
    model = b.build([filled, zeros])
    assert_matches_references(model, x)


def test_constant_of_shape_refuses_a_giant_before_allocating():
    b = ModelBuilder((2, 3))
    b.add("ConstantOfShape", [b.initializer(ints(10**6, 10**6))])
    with pytest.raises(ModelError, match=r"(?i)constantofshape"):  # the budget, from its rule
        run(read_model(b.build().SerializeToString()), normal(2, 3))
    with pytest.raises(ModelError, match="ConstantOfShape"):  # the op itself
        SPECS["ConstantOfShape"].forward([ints(10**6, 10**6)], {})


# --------------------------------------------------------------------------- folding
def exporter_pattern(batch: int | str = 1) -> onnx.ModelProto:
    """A Conv, then ``x.view(x.size(0), -1)`` as torch.onnx spells it, a Pad whose pads
    come from ConstantOfShape and Concat, and a Gemm."""
    b = ModelBuilder((batch, 3, 5, 5))
    h = b.add("Conv", [b.input, b.weight((3, 3, 3, 3))], kernel_shape=[3, 3], name="conv")
    spatial = b.add("Constant", [], value=numpy_helper.from_array(ints(4)), name="four")
    zeros = b.add("ConstantOfShape", [spatial], value=numpy_helper.from_array(ints(0)))
    ones = b.add("Constant", [], value=numpy_helper.from_array(ints(0, 0, 1, 1)))
    pads = b.add("Concat", [zeros, ones], axis=0, name="pads")
    h = b.add("Pad", [h, pads], mode="edge", name="pad")
    dims = b.add("Shape", [h], name="shape")
    first = b.add("Gather", [dims, b.initializer(np.array(0, np.int64))], axis=0)
    target = b.add("Concat", [b.add("Unsqueeze", [first, b.initializer(ints(0))]),
                              b.initializer(ints(-1))], axis=0)
    flat = b.add("Reshape", [h, target], name="flat")
    logits = b.add("Gemm", [flat, b.weight((48, 4), fan_in=48)], name="gemm")
    return b.build(logits)


def test_exporters_shape_patterns_fold_at_load_time_and_still_match_onnxruntime():
    proto = exporter_pattern()
    loaded = load_model(proto.SerializeToString(), "pattern.onnx")
    kept = [node.name for node in loaded.model.graph.nodes]
    assert kept == ["conv", "pad", "flat", "gemm"]
    nodes = {node.name: node for node in loaded.model.graph.nodes}
    initializers = loaded.model.graph.initializers
    np.testing.assert_array_equal(initializers[nodes["pad"].inputs[1]], [0, 0, 0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(initializers[nodes["flat"].inputs[1]], [1, -1])
    # Only what the kept nodes read stays: the Gather's index and the like are gone.
    assert set(initializers) == {name for node in nodes.values() for name in node.inputs[1:]}
    x = normal(1, 3, 5, 5)
    result = run(loaded.model, x)
    theirs = onnxruntime_outputs(proto, {"input": x})
    for name in (n.output[0] for n in proto.graph.node
                 if n.name in ("conv", "pad", "flat", "gemm")):
        np.testing.assert_allclose(result.tensors[name], theirs[name], rtol=1e-5, atol=1e-6)
    assert set(result.tensors) < {"input", *value_names(proto)}


def test_a_symbolic_batch_keeps_the_shape_computation_running():
    proto = exporter_pattern(batch="N")
    loaded = load_model(proto.SerializeToString(), "pattern.onnx")
    assert {"Shape", "Gather", "Unsqueeze"} <= {n.op_type for n in loaded.model.graph.nodes}
    assert "ConstantOfShape" not in {n.op_type for n in loaded.model.graph.nodes}
    x = normal(3, 3, 5, 5)
    result = run(loaded.model, x)
    theirs = onnxruntime_outputs(proto, {"input": x})
    name = proto.graph.output[0].name
    np.testing.assert_allclose(result.tensors[name], theirs[name], rtol=1e-5, atol=1e-6)


def test_folding_leaves_graph_outputs_and_broken_nodes_to_the_forward_pass():
    b = ModelBuilder((1, 3, 2, 2))
    reshaped = b.add("Reshape", [b.input, b.initializer(ints(1, 12))], name="reshape")
    shape = b.add("Shape", [b.input], name="the_shape")
    bad = b.add("Gather", [shape, b.initializer(ints(5))], name="bad_gather")
    b.add("Reshape", [b.input, bad], name="bad_reshape")
    loaded = load_model(b.build([reshaped, shape, bad]).SerializeToString(), "bad.onnx")
    assert [n.name for n in loaded.model.graph.nodes] == [
        "reshape", "the_shape", "bad_gather", "bad_reshape"]
    with pytest.raises(ModelError, match="bad_gather"):
        run(loaded.model, normal(1, 3, 2, 2))
