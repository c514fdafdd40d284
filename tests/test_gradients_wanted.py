"""A vjp asked for some of its input gradients (`wanted`): those asked for still match
PyTorch autograd (float64), whatever else was skipped, and the others are not computed
(None). The backward pass asks for none of an initializer's.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from cnnlens.backward import backward
from cnnlens.forward import run
from cnnlens.onnx_reader import read_model
from cnnlens.ops import SPECS
from cnnlens.ops.spec import OpSpec
from tests.onnx_builders import ModelBuilder
from tests.test_gradients import FLOAT32_FLOOR, as_torch, assert_close

Case = tuple[list[np.ndarray], dict, Callable[..., torch.Tensor]]


def conv(rng: np.random.Generator) -> Case:
    """Grouped, strided, dilated, asymmetrically padded, with a bias."""
    x, w, b = rng.normal(size=(2, 4, 7, 6)), rng.normal(size=(6, 2, 3, 2)), rng.normal(size=6)
    attrs = {"group": 2, "strides": [2, 1], "dilations": [1, 2], "pads": [1, 2, 2, 0]}

    def reference(tx, tw, tb):
        padded = F.pad(tx, (2, 0, 1, 2))  # (left, right, top, bottom)
        return F.conv2d(padded, tw, tb, stride=(2, 1), dilation=(1, 2), groups=2)

    return [x, w, b], attrs, reference


def gemm(rng: np.random.Generator) -> Case:
    a, b, c = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5,))
    attrs = {"alpha": 0.7, "beta": 1.3, "transB": 1}
    return [a, b, c], attrs, lambda ta, tb, tc: 0.7 * (ta @ tb.T) + 1.3 * tc


def matmul(rng: np.random.Generator) -> Case:
    return [rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))], {}, torch.matmul


def batch_norm(rng: np.random.Generator) -> Case:
    x, scale, bias, mean = (rng.normal(size=s) for s in [(2, 3, 4, 4), (3,), (3,), (3,)])
    var = rng.uniform(0.2, 2.0, size=3)
    shape = (1, 3, 1, 1)

    def reference(t, s, b, m, v):  # the ONNX definition: (x - mean) / sqrt(var + eps) s + b
        return (t - m.reshape(shape)) / torch.sqrt(v.reshape(shape) + 1e-3) * s.reshape(
            shape) + b.reshape(shape)

    return [x, scale, bias, mean, var], {"epsilon": 1e-3}, reference


CASES = {"Conv": conv, "Gemm": gemm, "MatMul": matmul, "BatchNormalization": batch_norm}
ARITY = {"Conv": 3, "Gemm": 3, "MatMul": 2, "BatchNormalization": 5}


@pytest.mark.parametrize(("op_type", "wanted"), [
    (op_type, wanted) for op_type, n in ARITY.items()
    for wanted in itertools.product([False, True], repeat=n)
], ids=lambda v: "".join("yn"[not w] for w in v) if isinstance(v, tuple) else v)
def test_the_gradients_asked_for_match_torch_and_no_other_is_computed(op_type, wanted):
    rng = np.random.default_rng(len(op_type))
    inputs, attrs, reference = CASES[op_type](rng)
    tensors = [as_torch(x) for x in inputs]
    expected = reference(*tensors)
    g = rng.normal(size=tuple(expected.shape))
    theirs = torch.autograd.grad(expected, tensors, torch.from_numpy(g))
    spec = SPECS[op_type]
    ours_in = [x.astype(np.float32) for x in inputs]
    outputs = spec.forward(ours_in, attrs)
    assert_close(outputs[0], expected, f"{op_type} forward")
    ours = spec.vjp(ours_in, attrs, outputs, [g.astype(np.float32)], "plain", wanted)
    assert len(ours) == len(inputs)
    for i, (mine, reference_grad, want) in enumerate(zip(ours, theirs, wanted, strict=True)):
        if want:  # the weights' gradients too, when asked for
            assert_close(mine, reference_grad, f"{op_type} input #{i}",
                         FLOAT32_FLOOR * np.abs(g).max())
        else:
            assert mine is None, f"{op_type} input #{i} was not asked for"


def test_every_vjp_takes_the_wanted_flags():
    """One convention: each vjp (and each older opset's) is called with six arguments."""
    def vjps(spec: OpSpec):
        return [spec.vjp, *(vjp for _, vjp in spec.earlier_vjp)]

    for op_type, spec in SPECS.items():
        for vjp in vjps(spec):
            names = list(inspect.signature(vjp).parameters)
            assert names == ["inputs", "attrs", "outputs", "grads", "rule", "wanted"], op_type


def test_the_backward_pass_asks_for_no_initializer_gradient(monkeypatch):
    """Conv → Relu → Flatten → Gemm: Conv and Gemm are asked for their data input's
    gradient only, and the input's gradient is still torch's."""
    b = ModelBuilder((1, 2, 6, 6), seed=1)
    w, bias = b.weight((3, 2, 3, 3)), b.weight((3,), "b", 1)
    h = b.add("Conv", [b.input, w, bias], pads=(1, 1, 1, 1))
    h = b.add("Flatten", [b.add("Relu", [h])])
    weights = b.weight((4, 108))
    b.add("Gemm", [h, weights, b.weight((4,), "c", 1)], outputs=["logits"], transB=1)
    proto = b.build()
    model = read_model(proto.SerializeToString())
    x = np.random.default_rng(2).normal(size=(1, 2, 6, 6)).astype(np.float32)
    result = run(model, x)
    asked: dict[str, tuple[bool, ...]] = {}
    for op_type in ["Conv", "Gemm"]:
        spec = SPECS[op_type]

        def spy(inputs, attrs, outputs, grads, rule, wanted, vjp=spec.vjp, op_type=op_type):
            asked[op_type] = tuple(wanted)
            return vjp(inputs, attrs, outputs, grads, rule, wanted)

        monkeypatch.setitem(SPECS, op_type, dataclasses.replace(spec, vjp=spy))
    seed = np.zeros((1, 4), np.float32)
    seed[0, 2] = 1
    grads = backward(model, result, {"logits": seed})
    assert asked == {"Conv": (True, False, False), "Gemm": (True, False, False)}

    init = {i.name: torch.tensor(numpy_helper.to_array(i), dtype=torch.float64)
            for i in proto.graph.initializer}
    tx = as_torch(x)
    names = [n.input for n in proto.graph.node]
    y = F.conv2d(tx, init[names[0][1]], init[names[0][2]], padding=1).relu().flatten(1)
    logits = y @ init[names[3][1]].T + init[names[3][2]]
    (expected,) = torch.autograd.grad(logits[0, 2], [tx])
    assert_close(grads[b.input], expected, "input gradient")

