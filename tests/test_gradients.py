"""Vector-Jacobian products and the whole backward pass against independent references.

Every op's vjp is compared with PyTorch autograd (float64) on random data, and a few with
float64 central finite differences. Whole models go through ``cnnlens.backward.backward``
and are compared with the same ONNX graph translated node by node into ``torch.nn.functional``
calls: the bundled TinyVGG, and small random graphs covering every op the engine supports.
The translator below reads the ONNX protobuf with ``onnx`` itself, never cnnlens's reader.
Gradients agree when their largest difference is within ``RTOL`` of the reference's largest
magnitude (plus ``FLOAT32_FLOOR`` of the seed's, what float32 can resolve at all).

Max pooling has no unique gradient where a window's largest values tie. Exact ties (ReLU's
zeros, Clip's bounds) go to the first position in cnnlens and in torch alike; values that
are equal in exact arithmetic but come out one rounding apart may be ordered differently in
float32 and float64, so such inputs are avoided (a little noise on the bundled model's
picture) or rejected (the random graphs).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from onnx import numpy_helper

import cnnlens.ops
from cnnlens.backward import backward
from cnnlens.errors import ModelError
from cnnlens.forward import ForwardResult, run
from cnnlens.graph import Model
from cnnlens.loader import load_model
from cnnlens.onnx_reader import read_model
from cnnlens.ops import SPECS
from cnnlens.ops.spec import RELU_RULES
from cnnlens.preprocess import preprocess
from tests.onnx_builders import ModelBuilder
from tests.paths import BUNDLED_MODEL, EXAMPLES
from tests.torch_reference import (
    BINARY,
    TORCH_OPS,
    TORCH_RELU,
    as_torch,
    attributes,
    spatial_padding,
    torch_gradients,
    torch_values,
)

RTOL = 1e-4
FLOAT32_FLOOR = 1e-6
"""Differences below this fraction of the largest output gradient (the seed) always pass:
float32 resolves no better (a Sigmoid, Tanh or Softmax output near 1 is stored to 6e-8, so
the small gradient it passes back is that coarse in PyTorch's float32 autograd too)."""
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
rng_seeds = st.integers(0, 2**32 - 1)
small_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def assert_close(ours: np.ndarray | None, reference: Any, what: str = "",
                 floor: float = 0.0) -> None:
    """``ours`` within ``RTOL`` of ``reference``, relative to the reference's largest value,
    plus an absolute ``floor``."""
    assert ours is not None, f"{what}: no gradient"
    ref = reference.detach().numpy() if isinstance(reference, torch.Tensor) else reference
    ref = np.asarray(ref, dtype=np.float64)
    assert np.shape(ours) == ref.shape, f"{what}: shape {np.shape(ours)}, expected {ref.shape}"
    scale = np.abs(ref).max(initial=0.0)
    error = np.abs(np.asarray(ours, dtype=np.float64) - ref).max(initial=0.0)
    assert error <= RTOL * scale + floor, (
        f"{what}: largest difference {error:.3g}, reference up to {scale:.3g}")


# ----------------------------------------------------------------- one op at a time
def our_vjp(op_type: str, inputs: Sequence[np.ndarray | None], attrs: dict[str, Any],
            grad: np.ndarray | None = None, *, opset: int = 17, rule: str = "plain"
            ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """cnnlens's forward outputs and input gradients of one op for the first output's
    gradient ``grad`` (ones when not given; the other outputs unused)."""
    spec = SPECS[op_type]
    outputs = [np.asarray(y) for y in spec.function(opset)(list(inputs), attrs)]
    vjp = spec.gradient(opset)
    assert vjp is not None
    if grad is None:
        grad = np.ones(outputs[0].shape, np.float32)
    grads = [grad] + [None] * (len(outputs) - 1)
    return outputs, vjp(list(inputs), attrs, outputs, grads, rule, [True] * len(inputs))


def check_op(op_type: str, inputs: Sequence[np.ndarray], attrs: dict[str, Any],
             reference: Callable[..., torch.Tensor], seed: int, *, opset: int = 17,
             rule: str = "plain") -> list[np.ndarray | None]:
    """Compare the op's forward output and every input gradient with ``reference`` (the same
    function in torch) under autograd, for a random output gradient."""
    rng = np.random.default_rng(seed)
    tensors = [as_torch(x) for x in inputs]
    expected = reference(*tensors)
    grad = rng.normal(size=tuple(expected.shape)).astype(np.float32)
    outputs, ours = our_vjp(op_type, [x.astype(np.float32) for x in inputs], attrs, grad,
                            opset=opset, rule=rule)
    assert_close(outputs[0], expected, f"{op_type} forward")
    references = torch.autograd.grad(expected, tensors, torch.from_numpy(grad.astype(float)))
    assert len(ours) == len(inputs)
    floor = FLOAT32_FLOOR * np.abs(grad).max(initial=0.0)
    for i, (mine, theirs) in enumerate(zip(ours, references, strict=True)):
        assert_close(mine, theirs, f"{op_type} input #{i}", floor)
    return ours


def normal_data(seed: int, *shapes: Sequence[int], zeros: bool = False) -> list[np.ndarray]:
    """float32 standard normal arrays; ``zeros`` sets a quarter of the entries to exactly 0,
    where the activations' derivatives jump."""
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        x = rng.normal(size=tuple(shape)).astype(np.float32)
        if zeros:
            x[rng.random(size=x.shape) < 0.25] = 0
        arrays.append(x)
    return arrays


@SETTINGS
@given(small_shapes, rng_seeds)
def test_relu_plain_is_autograd(shape, seed):
    (x,) = normal_data(seed, shape, zeros=True)  # torch passes nothing back at x = 0 either
    check_op("Relu", [x], {}, F.relu, seed)


@SETTINGS
@given(small_shapes, rng_seeds, st.sampled_from([0.01, 0.2, 1.5, -0.3]))
def test_leaky_relu(shape, seed, alpha):
    (x,) = normal_data(seed, shape, zeros=True)  # at 0 torch passes alpha; so do we
    check_op("LeakyRelu", [x], {"alpha": alpha}, lambda t: F.leaky_relu(t, alpha), seed)


@SETTINGS
@given(small_shapes, rng_seeds, st.sampled_from(["Sigmoid", "Tanh"]))
def test_sigmoid_and_tanh(shape, seed, op_type):
    (x,) = normal_data(seed, shape)
    x = x * 4  # into the saturating tails too
    check_op(op_type, [x], {}, torch.sigmoid if op_type == "Sigmoid" else torch.tanh, seed)


@SETTINGS
@given(small_shapes, rng_seeds, st.sampled_from(["inputs", "attributes"]),
       st.sampled_from(["both", "low", "high", "crossed"]))
def test_clip_passes_gradient_inside_and_on_its_bounds(shape, seed, form, sides):
    """The bounds themselves pass the gradient, as torch.clamp's do; crossed bounds
    (low > high) make the output the constant high, which passes nothing."""
    (x,) = normal_data(seed, shape)
    low, high = np.float32(-0.5), np.float32(0.75)
    if sides == "crossed":
        low, high = high, low
    x.flat[::3] = low  # exactly on the bounds, where the convention shows
    x.flat[1::3] = high
    bounds = {"both": (low, high), "low": (low, None), "high": (None, high),
              "crossed": (low, high)}[sides]
    if form == "inputs":  # opset >= 11; an omitted bound is an empty input, None here
        inputs = [x, *(None if v is None else np.array(v, np.float32) for v in bounds)]
        attrs: dict[str, Any] = {}
        opset = 13
    else:
        inputs, opset = [x], 6
        attrs = {name: float(v) for name, v in zip(("min", "max"), bounds, strict=True)
                 if v is not None}
    lo, hi = (None if v is None else float(v) for v in bounds)
    t = as_torch(x)
    expected = torch.clamp(t, min=lo, max=hi)
    grad = np.random.default_rng(seed).normal(size=x.shape).astype(np.float32)
    outputs, ours = our_vjp("Clip", inputs, attrs, grad, opset=opset)
    assert_close(outputs[0], expected, "Clip forward")
    (theirs,) = torch.autograd.grad(expected, [t], torch.from_numpy(grad.astype(float)))
    assert_close(ours[0], theirs, "Clip")
    assert len(ours) == len(inputs) and all(g is None for g in ours[1:])


gemm_cases = st.fixed_dictionaries({
    "m": st.integers(1, 4), "k": st.integers(1, 4), "n": st.integers(1, 4),
    "trans_a": st.booleans(), "trans_b": st.booleans(),
    "alpha": st.sampled_from([1.0, 0.5, -2.0]), "beta": st.sampled_from([1.0, 0.0, 3.0]),
    "c": st.sampled_from([None, "scalar", "row", "vector", "column", "full"]),
})


@SETTINGS
@given(gemm_cases, rng_seeds)
def test_gemm_every_flag_and_bias_shape(case, seed):
    m, k, n = case["m"], case["k"], case["n"]
    a_shape = (k, m) if case["trans_a"] else (m, k)
    b_shape = (n, k) if case["trans_b"] else (k, n)
    c_shape = {None: None, "scalar": (), "row": (1, n), "vector": (n,), "column": (m, 1),
               "full": (m, n)}[case["c"]]
    shapes = [a_shape, b_shape] + ([] if c_shape is None else [c_shape])
    inputs = normal_data(seed, *shapes)
    attrs = {"alpha": case["alpha"], "beta": case["beta"],
             "transA": int(case["trans_a"]), "transB": int(case["trans_b"])}

    def reference(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor | None = None
                  ) -> torch.Tensor:
        y = case["alpha"] * ((a.T if case["trans_a"] else a) @ (b.T if case["trans_b"] else b))
        return y if c is None else y + case["beta"] * c

    check_op("Gemm", inputs, attrs, reference, seed)


@st.composite
def matmul_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Operand shapes for ``matmul``: 1-D vectors or stacks of matrices whose batch axes
    broadcast."""
    batch_a, batch_b = draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                          max_side=3)).input_shapes
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    a = (k,) if draw(st.booleans()) else (*batch_a, m, k)
    b = (k,) if draw(st.booleans()) else (*batch_b, k, n)
    return a, b


@SETTINGS
@given(matmul_shapes(), rng_seeds)
def test_matmul_batched_and_vectors(shapes, seed):
    check_op("MatMul", normal_data(seed, *shapes), {}, torch.matmul, seed)




def away_from_zero(b: np.ndarray) -> np.ndarray:
    """Divisors in ±[0.5, 1.5]: the quotient's gradient stays of moderate size."""
    return (np.sign(b) + (b == 0)) * (0.5 + np.abs(b) % 1)


@SETTINGS
@given(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       rng_seeds, st.sampled_from(sorted(BINARY)))
def test_binary_ops_unbroadcast_to_each_input(shapes, seed, op_type):
    a, b = normal_data(seed, *shapes.input_shapes)
    if op_type == "Div":
        b = away_from_zero(b).astype(np.float32)
    grads = check_op(op_type, [a, b], {}, BINARY[op_type], seed)
    assert [g.shape for g in grads] == [a.shape, b.shape]


@pytest.mark.parametrize("op_type", sorted(BINARY))
@pytest.mark.parametrize(("a_shape", "b_shape", "at"), [
    ((2, 3, 4, 5), (3, 4), 1),
    ((2, 3, 4, 5), (3,), 1),
    ((2, 3, 4, 5), (4, 5), 2),
    ((2, 3, 4, 5), (2,), 0),
    ((2, 3, 4, 5), (3, 4), -3),
])
def test_binary_ops_legacy_broadcast_axis(op_type, a_shape, b_shape, at):
    """Opset < 7: ``broadcast=1`` lines B up with A's dimensions from ``axis`` on."""
    a, b = normal_data(len(b_shape) * 10 + at, a_shape, b_shape)
    if op_type == "Div":
        b = away_from_zero(b).astype(np.float32)
    start = at % len(a_shape)
    lined_up = b_shape + (1,) * (len(a_shape) - start - len(b_shape))

    def reference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return BINARY[op_type](x, y.reshape(lined_up))

    check_op(op_type, [a, b], {"broadcast": 1, "axis": at}, reference, 7, opset=6)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.lists(st.integers(1, 4), max_size=2),
       rng_seeds, st.sampled_from([1e-5, 1e-3, 0.1]))
def test_batch_normalization_input_and_parameters(n, c, spatial, seed, epsilon):
    x, scale, bias, mean = normal_data(seed, (n, c, *spatial), (c,), (c,), (c,))
    var = np.random.default_rng(seed).uniform(0.2, 2.0, size=c).astype(np.float32)
    attrs = {"epsilon": epsilon}
    per_channel = (1, c) + (1,) * len(spatial)

    def by_formula(t, s, b, m, v):  # the ONNX definition: (x - mean) / sqrt(var + eps) s + b
        return ((t - m.reshape(per_channel)) / torch.sqrt(v.reshape(per_channel) + epsilon)
                * s.reshape(per_channel) + b.reshape(per_channel))

    grads = check_op("BatchNormalization", [x, scale, bias, mean, var], attrs, by_formula,
                     seed)
    # torch's own inference-mode batch norm agrees on X, scale and B (it refuses to
    # differentiate the running statistics).
    t, s, b = as_torch(x), as_torch(scale), as_torch(bias)
    y = F.batch_norm(t, as_torch(mean, False), as_torch(var, False), s, b, training=False,
                     eps=epsilon)
    g = np.random.default_rng(seed + 1).normal(size=x.shape)
    references = torch.autograd.grad(y, [t, s, b], torch.from_numpy(g))
    _, ours = our_vjp("BatchNormalization", [x, scale, bias, mean, var], attrs,
                      g.astype(np.float32))
    for mine, theirs, name in zip(ours, references, ("X", "scale", "B"), strict=False):
        assert_close(mine, theirs, f"BatchNormalization {name} vs F.batch_norm")
    assert [v.shape for v in grads] == [x.shape] + [(c,)] * 4


@SETTINGS
@given(small_shapes, rng_seeds, st.data())
def test_flatten(shape, seed, data):
    at = data.draw(st.integers(-len(shape), len(shape)))
    (x,) = normal_data(seed, shape)
    rows = math.prod(shape[:at + len(shape) if at < 0 else at])
    check_op("Flatten", [x], {"axis": at}, lambda t: t.reshape(rows, -1), seed)


@SETTINGS
@given(small_shapes, rng_seeds, st.sampled_from(["flat", "keep first", "reversed"]))
def test_reshape_shape_input_gets_none(shape, seed, target_kind):
    (x,) = normal_data(seed, shape)
    target = {"flat": [-1], "keep first": [0, -1], "reversed": list(reversed(shape))}[
        target_kind]
    torch_target = [shape[0] if d == 0 else d for d in target]
    spec = np.array(target, dtype=np.int64)
    rng = np.random.default_rng(seed)
    t = as_torch(x)
    expected = t.reshape(torch_target)
    grad = rng.normal(size=tuple(expected.shape)).astype(np.float32)
    outputs, ours = our_vjp("Reshape", [x, spec], {}, grad)
    assert_close(outputs[0], expected, "Reshape forward")
    (theirs,) = torch.autograd.grad(expected, [t], torch.from_numpy(grad.astype(float)))
    assert_close(ours[0], theirs, "Reshape data")
    assert ours[1] is None


@SETTINGS
@given(small_shapes, st.lists(st.integers(1, 3), min_size=1, max_size=3), rng_seeds, st.data())
def test_concat_splits_the_gradient(shape, sizes, seed, data):
    at = data.draw(st.integers(-len(shape), len(shape) - 1))
    shapes = [tuple(s if i != at % len(shape) else size for i, s in enumerate(shape))
              for size in sizes]
    inputs = normal_data(seed, *shapes)
    check_op("Concat", inputs, {"axis": at}, lambda *ts: torch.cat(ts, dim=at), seed)


@SETTINGS
@given(small_shapes, rng_seeds, st.data(), st.sampled_from([12, 13]))
def test_softmax_both_opset_forms(shape, seed, data, opset):
    """Opset 13 normalises along ``axis``; before, along everything from ``axis`` on."""
    at = data.draw(st.integers(-len(shape), len(shape) - 1))
    (x,) = normal_data(seed, shape)
    x = x * 3

    def reference(t: torch.Tensor) -> torch.Tensor:
        if opset >= 13:
            return F.softmax(t, dim=at)
        start = at % len(shape)
        return F.softmax(t.reshape(math.prod(shape[:start]), -1), dim=1).reshape(shape)

    check_op("Softmax", [x], {"axis": at}, reference, seed, opset=opset)


def test_softmax_forms_differ_where_the_axis_is_not_last():
    """The two opset forms really are different functions there (so both are tested)."""
    (x,) = normal_data(3, (2, 3, 4))
    g = normal_data(4, (2, 3, 4))[0]
    _, new = our_vjp("Softmax", [x], {"axis": 1}, g, opset=13)
    _, old = our_vjp("Softmax", [x], {"axis": 1}, g, opset=12)
    assert np.abs(new[0] - old[0]).max() > 1e-2


@pytest.mark.parametrize("opset", [7, 10, 13])
def test_identity_dropout_constant(opset):
    (x,) = normal_data(5, (2, 3))
    g = normal_data(6, (2, 3))[0]
    _, grads = our_vjp("Identity", [x], {}, g, opset=opset)
    np.testing.assert_array_equal(grads[0], g)
    # Dropout's mask output takes no gradient; ratio / training_mode inputs get none.
    dropout_inputs = [x] if opset < 12 else [x, np.array(0.3, np.float32), np.array(False)]
    _, grads = our_vjp("Dropout", dropout_inputs, {"ratio": 0.3} if opset < 12 else {}, g,
                       opset=opset)
    np.testing.assert_array_equal(grads[0], g)
    assert len(grads) == len(dropout_inputs) and all(v is None for v in grads[1:])
    _, grads = our_vjp("Constant", [], {"value": np.ones((2, 2), np.float32)}, opset=opset)
    assert grads == []


@pytest.mark.parametrize(("op_type", "inputs", "attrs"), [
    ("Relu", [np.array([-2, 0, 3])], {}),
    ("Add", [np.array([1, 2]), np.array([3, 4])], {}),
    ("Div", [np.array([7, -7]), np.array([2, 2])], {}),
    ("Concat", [np.array([1, 2]), np.array([3])], {"axis": 0}),
    ("Identity", [np.array([1, 2])], {}),
    ("Flatten", [np.arange(6).reshape(2, 3)], {}),
    ("MatMul", [np.ones((2, 2), np.int64), np.ones((2, 2), np.int64)], {}),
])
def test_integer_tensors_get_no_gradient(op_type, inputs, attrs):
    _, grads = our_vjp(op_type, inputs, attrs)
    assert len(grads) == len(inputs) and all(g is None for g in grads)


# ----------------------------------------------------------------- ReLU rules
@SETTINGS
@given(small_shapes, rng_seeds, st.sampled_from(RELU_RULES))
def test_relu_rules_match_their_definitions(shape, seed, rule):
    (x,) = normal_data(seed, shape, zeros=True)
    check_op("Relu", [x], {}, TORCH_RELU[rule], seed, rule=rule)


def test_relu_rules_differ_on_mixed_signs():
    """Input and gradient of either sign, every combination: the three rules disagree."""
    x = np.array([-1.0, 1.0, -1.0, 1.0], np.float32)
    g = np.array([-2.0, -2.0, 3.0, 3.0], np.float32)
    results = {rule: our_vjp("Relu", [x], {}, g, rule=rule)[1][0] for rule in RELU_RULES}
    np.testing.assert_array_equal(results["plain"], [0, -2, 0, 3])
    np.testing.assert_array_equal(results["deconvnet"], [0, 0, 3, 3])
    np.testing.assert_array_equal(results["guided"], [0, 0, 0, 3])
    for first, second in ((a, b) for i, a in enumerate(RELU_RULES) for b in RELU_RULES[i + 1:]):
        assert not np.array_equal(results[first], results[second]), (first, second)


# ----------------------------------------------------------------- finite differences
def finite_difference_vjp(function: Callable[[list[np.ndarray]], np.ndarray],
                          inputs: list[np.ndarray], g: np.ndarray, index: int,
                          step: float = 1e-6) -> np.ndarray:
    """``d Σ g f(inputs) / d inputs[index]`` by float64 central differences, entry by entry
    (the test tensors hold a few dozen entries)."""
    result = np.zeros_like(inputs[index])
    for position in np.ndindex(inputs[index].shape):
        values = []
        for sign in (1, -1):
            shifted = [x.copy() for x in inputs]
            shifted[index][position] += sign * step
            values.append(float((g * function(shifted)).sum()))
        result[position] = (values[0] - values[1]) / (2 * step)
    return result


FD_CASES = {
    "Softmax": lambda rng: ([rng.normal(size=(2, 3, 4))], {"axis": 1}),
    "Div": lambda rng: ([rng.normal(size=(2, 3)), away_from_zero(rng.normal(size=(3,)))], {}),
    "BatchNormalization": lambda rng: (
        [rng.normal(size=(2, 3, 2, 2)), *rng.normal(size=(3, 3)),
         rng.uniform(0.3, 2.0, size=3)], {"epsilon": 1e-3}),
    "Gemm": lambda rng: ([rng.normal(size=(3, 2)), rng.normal(size=(4, 3)),
                          rng.normal(size=(1, 4))],
                         {"transA": 1, "transB": 1, "alpha": 0.7, "beta": -1.5}),
}


@pytest.mark.parametrize("op_type", sorted(FD_CASES))
@pytest.mark.parametrize("opset", [12, 17])
def test_float64_finite_differences(op_type, opset):
    rng = np.random.default_rng(11)
    inputs, attrs = FD_CASES[op_type](rng)
    function = SPECS[op_type].function(opset)

    def forward(xs: list[np.ndarray]) -> np.ndarray:
        return function(xs, attrs)[0]

    g = rng.normal(size=forward(inputs).shape)
    outputs, ours = our_vjp(op_type, inputs, attrs, g, opset=opset)
    assert outputs[0].dtype == np.float64
    for index, mine in enumerate(ours):
        expected = finite_difference_vjp(forward, inputs, g, index)
        assert mine is not None and mine.dtype == np.float64
        scale = np.abs(expected).max()
        assert np.abs(mine - expected).max() <= 1e-6 * scale, (op_type, index)


def compare_with_torch(proto: onnx.ModelProto, model: Model, result: ForwardResult,
                       x: np.ndarray, seeds: dict[str, np.ndarray], names: Sequence[str],
                       rule: str = "plain", values: dict[str, torch.Tensor] | None = None
                       ) -> dict[str, np.ndarray]:
    """Gradients of ``Σ seed · tensor`` by cnnlens and by float64 torch autograd (through
    ``values`` when given, so several seeds share one torch forward pass), for each of
    ``names``; returns cnnlens's."""
    values = torch_values(proto, x, rule) if values is None else values
    for name in seeds:
        assert_close(result.tensors[name], values[name], f"forward {name}")
    ours = backward(model, result, seeds, rule)
    references = torch_gradients(values, seeds, names)
    floor = FLOAT32_FLOOR * max(np.abs(seed).max(initial=0.0) for seed in seeds.values())
    for name, reference in zip(names, references, strict=True):
        assert name in ours, f"no gradient for {name!r}"
        assert ours[name].dtype == np.float32
        assert_close(ours[name], reference, f"d/d {name}", floor)
    return ours


# ----------------------------------------------------------------- the bundled model
@pytest.fixture(scope="module")
def bundled() -> tuple[onnx.ModelProto, Model, ForwardResult, np.ndarray]:
    """The bundled model on an example picture with a little noise added.

    The picture's flat background makes hundreds of max-pool windows tie (or nearly tie,
    one float32 rounding apart); there the gradient is not unique, and float32 and float64
    rounding pick different winners. The noise breaks those ties.
    """
    loaded = load_model(BUNDLED_MODEL.read_bytes(), BUNDLED_MODEL.name)
    x = preprocess((EXAMPLES / "bag_1.png").read_bytes(), loaded.card.preprocessing)
    x = x + np.random.default_rng(0).normal(scale=0.05, size=x.shape).astype(np.float32)
    return onnx.load(str(BUNDLED_MODEL)), loaded.model, run(loaded.model, x), x


def one_hot_logit(result: ForwardResult, k: int) -> dict[str, np.ndarray]:
    seed = np.zeros(result.tensors[result.logits_name].shape, np.float32)
    seed[0, k] = 1
    return {result.logits_name: seed}


def test_bundled_model_class_logits(bundled):
    proto, model, result, x = bundled
    assert result.logits_name == "logits"
    values = torch_values(proto, x)
    for k in range(result.logits.shape[1]):
        ours = compare_with_torch(proto, model, result, x, one_hot_logit(result, k),
                                  [result.input_name, "relu_1_2"], values=values)
        assert np.abs(ours[result.input_name]).max() > 0
        assert set(ours) == set(result.tensors)  # everything leads to the logits


@pytest.mark.parametrize("channel", [0, 3, 9])
def test_bundled_model_channel_mean(bundled, channel):
    proto, model, result, x = bundled
    conv = result.tensors["conv_2_2"]
    seed = np.zeros(conv.shape, np.float32)
    seed[0, channel] = 1 / math.prod(conv.shape[2:])
    ours = compare_with_torch(proto, model, result, x, {"conv_2_2": seed},
                              [result.input_name, "relu_1_2"])
    # Nothing after conv_2_2 takes part.
    assert not {"relu_2_2", "max_pool_2", "flatten", "logits"} & set(ours)


@pytest.mark.parametrize("rule", ["guided", "deconvnet"])
def test_bundled_model_relu_rules(bundled, rule):
    proto, model, result, x = bundled
    k = int(result.logits[0].argmax())
    ours = compare_with_torch(proto, model, result, x, one_hot_logit(result, k),
                              [result.input_name, "relu_1_2", "conv_1_1"], rule=rule)
    plain = backward(model, result, one_hot_logit(result, k))
    assert not np.allclose(ours[result.input_name], plain[result.input_name])


def test_bundled_model_batch_of_two():
    proto = onnx.load(str(BUNDLED_MODEL))
    model = read_model(BUNDLED_MODEL.read_bytes())
    x = np.random.default_rng(2).normal(size=(2, 1, 28, 28)).astype(np.float32)
    result = run(model, x)
    seed = np.random.default_rng(3).normal(size=result.logits.shape).astype(np.float32)
    compare_with_torch(proto, model, result, x, {"logits": seed},
                       [result.input_name, "relu_1_2", "max_pool_2"])


# ----------------------------------------------------------------- random small graphs
ACTIVATIONS = ("Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh")
POOLS = (None, "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool")
BRANCHES = (None, "Add", "Sub", "Mul", "Div", "Concat", "Gate")
HEADS = ("Gemm", "Gemm transposed", "MatMul")
TAILS = (None, "Identity", "Dropout")
# The ops each choice adds to the graph, besides the Conv and the final Softmax.
BRANCH_OPS: dict[str | None, set[str]] = {
    None: set(), "Add": {"Add"}, "Sub": {"Sub"}, "Mul": {"Mul", "Tanh"},
    "Div": {"Div", "Add", "Sigmoid", "Constant"}, "Concat": {"Concat", "Relu"},
    "Gate": {"Mul", "Sigmoid", "GlobalAveragePool"},
}
HEAD_OPS = {"Gemm": {"Gemm"}, "Gemm transposed": {"Gemm"}, "MatMul": {"MatMul", "Add"}}
# Shape-keeping stages after the activation (Pad only grows the map). "Hard" is third so
# its covering plan has opset 17: HardSwish needs 14.
EXTRAS = (None, "Pad", "Hard", "Resize", "Layout", "LRN", "Shapes")
EXTRA_OPS: dict[str | None, set[str]] = {
    None: set(), "Pad": {"Pad"}, "Layout": {"Transpose", "Unsqueeze", "Squeeze"},
    "Resize": {"Resize"}, "Hard": {"HardSwish", "HardSigmoid", "Add"}, "LRN": {"LRN"},
    "Shapes": {"Shape", "Gather", "Slice", "Unsqueeze", "Concat", "Reshape", "Cast",
               "ConstantOfShape", "Add"},
}


@dataclasses.dataclass(frozen=True)
class GraphPlan:
    """The structure of one random graph (see :func:`small_graphs`)."""

    opset: int
    activation: str
    batch_norm: bool
    branch: str | None
    channel_softmax: bool
    pool: str | None
    flatten: bool
    head: str
    tail: str | None
    extra: str | None = None

    def ops(self) -> set[str]:
        """Every op type the graph will hold."""
        optional = {"BatchNormalization": self.batch_norm, "Flatten": self.flatten,
                    "Reshape": not self.flatten}
        extra = EXTRA_OPS[self.extra] - ({"HardSwish"} if self.opset < 14 else set())
        return ({"Conv", "Softmax", self.activation, *BRANCH_OPS[self.branch],
                 *HEAD_OPS[self.head], *extra} | {op for op, used in optional.items() if used}
                | {op for op in (self.pool, self.tail) if op})


random_plans = st.builds(
    GraphPlan, opset=st.sampled_from([11, 13, 17]), activation=st.sampled_from(ACTIVATIONS),
    batch_norm=st.booleans(), branch=st.sampled_from(BRANCHES), channel_softmax=st.booleans(),
    pool=st.sampled_from(POOLS), flatten=st.booleans(), head=st.sampled_from(HEADS),
    tail=st.sampled_from(TAILS), extra=st.sampled_from(EXTRAS))
# Seven plans that between them take every choice at least once.
COVERING_PLANS = [
    GraphPlan(opset=(11, 13, 17)[i % 3], activation=ACTIVATIONS[i % 5], batch_norm=i % 2 == 0,
              branch=BRANCHES[i], channel_softmax=i % 2 == 1, pool=POOLS[i % 5],
              flatten=i % 2 == 0, head=HEADS[i % 3], tail=TAILS[i % 3], extra=EXTRAS[i])
    for i in range(len(BRANCHES))
]


def add_extra(b: ModelBuilder, draw: st.DrawFn, extra: str | None, h: str,
              shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """The plan's extra stage on ``h`` of ``shape`` ``(N, F, H, W)``: the new value and
    its shape. Axes arrive as inputs from opset 13 on (Squeeze, Unsqueeze) and as
    attributes before, so both forms run."""
    def axes(values: list[int]) -> dict[str, Any]:
        return {} if b.opset >= 13 else {"axes": values}

    def axes_input(values: list[int]) -> list[str]:
        return [b.initializer(np.array(values, np.int64))] if b.opset >= 13 else []

    n, f, height, width = shape
    if extra == "Pad":
        # (wrap needs opset 19; tests/test_ops_new.py checks it against onnxruntime)
        mode = draw(st.sampled_from(["constant", "reflect", "edge"]))
        widest = min(height, width) - 1  # torch reflects by less than the size
        if mode == "reflect" and widest < 1:
            mode = "edge"  # too small a map to reflect
        top, left = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        if mode == "reflect":
            top, left = min(top, widest), min(left, widest)
        pads = [0, 0, top, left, 0, 0, 1, 0]
        inputs = [h, b.initializer(np.array(pads, np.int64))]
        if mode == "constant":
            inputs.append(b.initializer(np.array(0.25, np.float32)))
        return b.add("Pad", inputs, mode=mode), (n, f, height + top + 1, width + left)
    if extra == "Layout":  # NCHW → NHWC(1) → NHWC → NCHW
        h = b.add("Transpose", [h], perm=[0, 2, 3, 1])
        h = b.add("Unsqueeze", [h, *axes_input([-1])], **axes([-1]))
        h = b.add("Squeeze", [h, *axes_input([4])], **axes([4]))
        return b.add("Transpose", [h], perm=[0, 3, 1, 2]), shape
    if extra == "Resize":  # nearest × 2 (torch's "nearest"), then bilinear back to the size
        empty = b.initializer(np.zeros(0, np.float32))
        up = b.add("Resize", [h, empty, b.initializer(np.array([1, 1, 2, 2], np.float32))],
                   mode="nearest", coordinate_transformation_mode="asymmetric",
                   nearest_mode="floor")
        sizes = b.initializer(np.array(shape, np.int64))
        transform = draw(st.sampled_from(["half_pixel", "align_corners"]))
        return b.add("Resize", [up, "", "", sizes] if b.opset >= 13 else [up, empty, empty,
                                                                          sizes],
                     mode="linear", coordinate_transformation_mode=transform), shape
    if extra == "Hard":
        return b.add("Add", [b.add("HardSwish", [h]) if b.opset >= 14 else h,
                             b.add("HardSigmoid", [h], alpha=0.3, beta=0.4)]), shape
    if extra == "LRN":
        size = draw(st.sampled_from([1, 3, 5]))
        return b.add("LRN", [h], size=size, alpha=0.5, beta=0.75, bias=1.5), shape
    if extra == "Shapes":  # Reshape(h, Concat(Unsqueeze(Gather(Shape(h), 0)), Slice(…)))
        dims = b.add("Shape", [h])
        batch = b.add("Gather", [dims, b.initializer(np.array(0, np.int64))], axis=0)
        rest = b.add("Slice", [dims, *(b.initializer(np.array([v], np.int64)) for v in (1, 4))])
        target = b.add("Concat", [b.add("Unsqueeze", [batch, *axes_input([0])], **axes([0])),
                                  rest], axis=0)
        h = b.add("Reshape", [b.add("Cast", [h], to=onnx.TensorProto.FLOAT), target])
        # The channels reversed by a Gather, plus a ConstantOfShape's halves.
        h = b.add("Gather", [h, b.initializer(np.arange(f - 1, -1, -1, dtype=np.int64))],
                  axis=1)
        halves = b.add("ConstantOfShape", [dims],
                       value=numpy_helper.from_array(np.array([0.5], np.float32)))
        return b.add("Add", [h, halves]), shape
    return h, shape


@st.composite
def small_graphs(draw: st.DrawFn, plans: st.SearchStrategy[GraphPlan] = random_plans
                 ) -> tuple[GraphPlan, onnx.ModelProto, np.ndarray]:
    """A random CNN following a plan: Conv → [BatchNormalization] → activation → [a second
    branch joined by Add/Sub/Mul/Div/Concat or a broadcast gate] → [Softmax over channels]
    → [pool] → Flatten/Reshape → Gemm or MatMul + Add → [Identity/Dropout] → Softmax.
    Sizes, convolution geometry and weights are drawn; returns the plan, model and input."""
    plan = draw(plans)
    n, c, size = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(5, 8))
    b = ModelBuilder((n, c, size, size), opset=plan.opset, seed=draw(rng_seeds))
    rng = b.rng

    # Convolution, depthwise sometimes; undilated before a windowed pool, so the map stays
    # at least 2 × 2 for it.
    group = draw(st.sampled_from([1, c]))
    filters = group * draw(st.integers(1, 3)) if group > 1 else draw(st.integers(2, 4))
    kernel, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    windowed_pool = plan.pool in ("MaxPool", "AveragePool")
    dilation = draw(st.integers(1, 2)) if kernel > 1 and not windowed_pool else 1
    # No padding around a 1 × 1 kernel: its border would be the bias alone, equal values
    # that tie in a max pool, where the gradient is not unique.
    pads = draw(st.lists(st.integers(0, 1), min_size=4, max_size=4)) if kernel > 1 else [0] * 4
    h = b.add("Conv", [b.input, b.weight((filters, c // group, kernel, kernel)),
                       b.initializer(rng.normal(size=filters).astype(np.float32) * 0.1)],
              kernel_shape=[kernel, kernel], strides=[stride, stride],
              dilations=[dilation, dilation], pads=pads, group=group)
    spatial = [(size + pads[i] + pads[i + 2] - dilation * (kernel - 1) - 1) // stride + 1
               for i in range(2)]
    if plan.batch_norm:
        params = [rng.uniform(0.5, 1.5, filters), rng.normal(size=filters) * 0.1,
                  rng.normal(size=filters) * 0.1, rng.uniform(0.5, 2.0, filters)]
        h = b.add("BatchNormalization", [h, *(b.initializer(p.astype(np.float32))
                                              for p in params)], epsilon=1e-3)
    if plan.activation == "Clip":
        h = b.add("Clip", [h, b.initializer(np.array(-0.5, np.float32)),
                           b.initializer(np.array(0.6, np.float32))])
    elif plan.activation == "LeakyRelu":
        h = b.add("LeakyRelu", [h], alpha=0.1)
    else:
        h = b.add(plan.activation, [h])
    h, (_, _, *spatial) = add_extra(b, draw, plan.extra, h, (n, filters, *spatial))

    if plan.branch is not None:
        z = b.add("Conv", [h, b.weight((filters, filters, 1, 1))], kernel_shape=[1, 1])
        if plan.branch in ("Add", "Sub"):
            h = b.add(plan.branch, [h, z])
        elif plan.branch == "Mul":
            h = b.add("Mul", [h, b.add("Tanh", [z])])
        elif plan.branch == "Div":  # by sigmoid(z) + 0.5, in [0.5, 1.5]
            # The constant is shaped like one sample, so its gradient sums over the batch
            # only: a scalar's would sum hundreds of terms of either sign, cancelling below
            # what float32 resolves.
            half = b.add("Constant", [], value=numpy_helper.from_array(
                np.full((1, filters, *spatial), 0.5, np.float32)))
            h = b.add("Div", [h, b.add("Add", [b.add("Sigmoid", [z]), half])])
        elif plan.branch == "Concat":
            h = b.add("Concat", [h, b.add("Relu", [z])], axis=1)
            filters *= 2
        else:  # a squeeze-and-excitation gate, (N, F, 1, 1) broadcast over (N, F, H, W)
            h = b.add("Mul", [h, b.add("Sigmoid", [b.add("GlobalAveragePool", [z])])])
    if plan.channel_softmax:
        h = b.add("Softmax", [h], axis=1)  # channels (opset 13+) or everything (before)

    if windowed_pool:
        pool_stride, pool_pad = draw(st.integers(1, 2)), draw(st.integers(0, 1))
        extra = ({"count_include_pad": draw(st.integers(0, 1))}
                 if plan.pool == "AveragePool" else {})
        h = b.add(plan.pool, [h], kernel_shape=[2, 2], strides=[pool_stride] * 2,
                  pads=[pool_pad] * 4, **extra)
        spatial = [(d + 2 * pool_pad - 2) // pool_stride + 1 for d in spatial]
    elif plan.pool is not None:
        h = b.add(plan.pool, [h])
        spatial = [1, 1]

    width = filters * math.prod(spatial)
    if plan.flatten:
        h = b.add("Flatten", [h], axis=1)
    else:
        h = b.add("Reshape", [h, b.initializer(np.array([0, -1], np.int64))])
    classes = draw(st.integers(2, 5))
    bias = b.initializer(rng.normal(size=classes).astype(np.float32) * 0.1)
    if plan.head == "Gemm":
        h = b.add("Gemm", [h, b.weight((width, classes), fan_in=width), bias], alpha=0.9)
    elif plan.head == "Gemm transposed":
        h = b.add("Gemm", [h, b.weight((classes, width)), bias], transB=1)
    else:
        h = b.add("Add", [b.add("MatMul", [h, b.weight((width, classes), fan_in=width)]), bias])
    if plan.tail == "Dropout":  # its mask output too, where the opset has one to ask for
        h = b.add_multi("Dropout", [h], outputs=2 if plan.opset >= 12 else 1)[0]
    elif plan.tail == "Identity":
        h = b.add("Identity", [h])
    h = b.add("Softmax", [h], axis=1 if plan.opset < 13 else -1)
    x = rng.normal(size=(n, c, size, size)).astype(np.float32)
    return plan, b.build(h), x


def near_tie(proto: onnx.ModelProto, values: dict[str, Any]) -> bool:
    """Whether a max pool's window has two largest values that differ, but by less than
    float32 resolves, in ``values`` (tensors or arrays by name). Mathematically equal
    values computed at different positions can come out one rounding apart (vectorised
    loops and their scalar tails round differently), so float32 and float64 may pick
    different winners where the gradient is not unique anyway. Exact ties, such as
    ReLU's zeros, go to the first in both."""
    for node in proto.graph.node:
        if node.op_type not in ("MaxPool", "GlobalMaxPool"):
            continue
        t = torch.as_tensor(values[node.input[0]]).detach().double()
        if node.op_type == "MaxPool":
            attrs = attributes(node)
            t, padding = spatial_padding(t, attrs.get("pads", [0] * 4), -math.inf)
            t = F.pad(t, [p for p in reversed(padding) for _ in (0, 1)], value=-math.inf)
            t = F.unfold(t, attrs["kernel_shape"], stride=attrs.get("strides", 1))
            t = t.reshape(t.shape[0], -1, math.prod(attrs["kernel_shape"]), t.shape[-1])
            t = t.transpose(2, 3)  # (N, C, windows, taps)
        else:
            t = t.flatten(2)[:, :, None]
        if t.shape[-1] < 2:
            continue
        # Any value a rounding below its window's largest, not only the runner-up: with
        # the largest repeated (a Pad's constant region), the runner-up ties it exactly.
        top = t.max(dim=-1, keepdim=True).values
        gap = top - t
        if bool(((gap > 0) & (gap < 1e-5 * top.abs())).any()):
            return True
    return False


def check_graph(graph: tuple[GraphPlan, onnx.ModelProto, np.ndarray], seed: int) -> None:
    """Every floating tensor's gradient of a random combination of the output's entries."""
    plan, proto, x = graph
    assert {node.op_type for node in proto.graph.node} == plan.ops()
    model = read_model(proto.SerializeToString())
    result = run(model, x)
    assume(not near_tie(proto, result.tensors) and not near_tie(proto, torch_values(proto, x)))
    output = result.tensors[result.output_name]
    g = np.random.default_rng(seed).normal(size=output.shape).astype(np.float32)
    float_values = [name for name, value in result.tensors.items()
                    if np.issubdtype(value.dtype, np.floating) and name != result.output_name]
    ours = compare_with_torch(proto, model, result, x, {result.output_name: g}, float_values)
    assert result.input_name in ours


@pytest.mark.parametrize("plan", COVERING_PLANS, ids=lambda plan: f"{plan.branch}-{plan.pool}")
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=rng_seeds)
def test_covering_graphs_match_torch(plan, data, seed):
    check_graph(data.draw(small_graphs(st.just(plan))), seed)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_graphs(), rng_seeds)
def test_random_graphs_match_torch(graph, seed):
    check_graph(graph, seed)


def test_graphs_cover_every_supported_op():
    """The covering plans hold every op cnnlens supports (each graph is checked to hold
    what its plan says), and the translator knows them all."""
    assert set().union(*(plan.ops() for plan in COVERING_PLANS)) == set(SPECS)
    assert set(TORCH_OPS) | {"Relu"} == set(SPECS)


# ----------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def tiny() -> tuple[Model, ForwardResult]:
    b = ModelBuilder((1, 2, 4, 4))
    h = b.add("Relu", [b.add("Conv", [b.input, b.weight((3, 2, 3, 3))], kernel_shape=[3, 3],
                             name="the_conv")], name="the_relu")
    model = read_model(b.build(b.add("Flatten", [h])).SerializeToString())
    x = np.random.default_rng(0).normal(size=(1, 2, 4, 4)).astype(np.float32)
    return model, run(model, x)


def test_op_without_vjp_names_the_node(tiny, monkeypatch):
    model, result = tiny
    monkeypatch.setitem(cnnlens.ops.SPECS, "Relu",
                        dataclasses.replace(SPECS["Relu"], vjp=None))
    seed = np.ones(result.tensors[result.output_name].shape, np.float32)
    with pytest.raises(ModelError, match="the_relu"):
        backward(model, result, {result.output_name: seed})


def test_unknown_rule_is_refused(tiny):
    model, result = tiny
    seed = np.ones(result.tensors[result.output_name].shape, np.float32)
    with pytest.raises(ModelError, match="rule"):
        backward(model, result, {result.output_name: seed}, rule="smooth")  # type: ignore


def test_seed_of_the_wrong_shape_or_name_is_refused(tiny):
    model, result = tiny
    shape = result.tensors[result.output_name].shape
    with pytest.raises(ModelError, match="shaped"):
        backward(model, result, {result.output_name: np.ones((*shape, 1), np.float32)})
    with pytest.raises(ModelError, match="no tensor"):
        backward(model, result, {"nothing": np.ones(shape, np.float32)})
