"""cnnlens.engine and cnnlens.backend_plan: which backend runs each node, contiguous GPU
segments in one call, weights sent once, fusion only on request, a learner's own pass on NumPy,
and a lost device falling back to NumPy.

The GPU here is a stand-in that records what it is sent and computes with the ops'
reference functions in float64 (the page's WebGPU kernels are checked against the NumPy
path in tests/e2e/test_webgpu.py); these tests check the plumbing around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pytest

from cnnlens.backend_plan import NUMPY, WEBGPU, gpu_node, plan
from cnnlens.edits import Edits
from cnnlens.edits import forward as edits_forward
from cnnlens.engine import Engine, GpuError
from cnnlens.errors import CnnlensError
from cnnlens.forward import run
from cnnlens.graph import Model, Node
from cnnlens.onnx_reader import read_model
from cnnlens.ops import op_function, op_spec
from tests.onnx_builders import ModelBuilder
from tests.paths import BUNDLED_MODEL


class StandIn:
    """A device supporting ``ops``; it runs each node in float64 and can be lost."""

    label = "stand-in"

    def __init__(self, ops: set[str], fail_after: int | None = None) -> None:
        self.ops = ops
        self.weights: dict[str, dict[str, np.ndarray]] = {}
        self.uploads = 0
        self.calls: list[tuple[list[str], list[str], list[str]]] = []
        self.fail_after = fail_after
        self.lost: str | None = None
        self.fused: list[str] = []

    def supports(self, node: dict) -> bool:
        return node["op"] in self.ops

    async def set_weights(self, key: str, tensors: Mapping[str, np.ndarray]) -> None:
        self.uploads += 1
        self.weights[key] = dict(tensors)

    def drop_weights(self, key: str) -> None:
        del self.weights[key]

    async def run(self, key: str, nodes: list[dict], feeds: Mapping[str, np.ndarray],
                  wanted: list[str]) -> dict[str, np.ndarray]:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            self.lost = "destroyed"
            raise GpuError("device destroyed")
        self.calls.append(([n["op"] for n in nodes], sorted(feeds), list(wanted)))
        values = {**self.weights[key], **feeds}
        for node in nodes:
            function = op_function(node["op"], 13)
            attrs = {k: tuple(v) if isinstance(v, list) else v for k, v in node["attrs"].items()
                     if k != "fuse"}
            args = [values[name].astype(np.float64) if name else None for name in node["inputs"]]
            for name, out in zip(node["outputs"], function(args, attrs), strict=False):
                values[name] = np.maximum(out, 0) if "fuse" in node["attrs"] else np.asarray(out)
            self.fused += [node["name"] for _ in range("fuse" in node["attrs"])]
        return {name: values[name].astype(np.float32) for name in wanted}


def small_model() -> Model:
    b = ModelBuilder((1, 2, 8, 8))
    conv = b.add("Conv", [b.input, b.weight((4, 2, 3, 3)), b.weight((4,), "b")],
                 pads=[1, 1, 1, 1], name="conv")
    relu = b.add("Relu", [conv], name="relu")
    pool = b.add("MaxPool", [relu], kernel_shape=[2, 2], strides=[2, 2], name="pool")
    flat = b.add("Flatten", [pool], name="flatten")
    gemm = b.add("Gemm", [flat, b.weight((3, 64)), b.weight((3,), "c")], transB=1, name="fc")
    return read_model(b.build(gemm).SerializeToString())


def outputs(model: Model) -> dict[str, str]:
    return {node.name: node.outputs[0] for node in model.graph.nodes}


X = np.random.default_rng(3).standard_normal((1, 2, 8, 8)).astype(np.float32)


def forward(engine: Engine, model: Model, **options):
    return asyncio.run(engine.forward(model, X, **options))


def assert_same_tensors(result, expected) -> None:
    assert list(result.tensors) == list(expected.tensors)
    for name, array in expected.tensors.items():
        np.testing.assert_allclose(result.tensors[name], array, atol=1e-5, err_msg=name)


def test_supported_run_is_one_gpu_call_per_contiguous_segment() -> None:
    model = small_model()
    gpu = StandIn({"Conv", "Relu", "MaxPool", "Gemm"})
    result, ran = forward(Engine(gpu), model)
    assert_same_tensors(result, run(model, X))
    # Flatten is not supported: two segments around it, each one call, every output read back.
    out = outputs(model)
    assert gpu.calls == [
        (["Conv", "Relu", "MaxPool"], [model.input.name], [out["conv"], out["relu"], out["pool"]]),
        (["Gemm"], [out["flatten"]], [out["fc"]])]
    assert [(n, b) for n, _op, b in ran.layers] == [
        ("conv", WEBGPU), ("relu", WEBGPU), ("pool", WEBGPU), ("flatten", NUMPY), ("fc", WEBGPU)]
    assert ran.backend == WEBGPU and ran.note is None and ran.gpu == "stand-in"
    assert ran.as_json()["layers"][3] == {"node": "flatten", "op": "Flatten", "backend": NUMPY}


def test_weights_go_to_the_device_once_per_model() -> None:
    model = small_model()
    gpu = StandIn({"Conv", "Relu", "MaxPool", "Gemm"})
    engine = Engine(gpu)
    assert forward(engine, model)[1].first
    assert not forward(engine, model)[1].first
    assert gpu.uploads == 1
    (sent,) = gpu.weights.values()
    assert sorted(sent) == sorted(model.graph.initializers)
    assert all(a.dtype == np.float32 for a in sent.values())
    forward(engine, small_model())
    assert gpu.uploads == 2
    assert len(gpu.weights) == 1  # the previous model's were freed


def test_fusion_only_on_request_reads_back_what_is_read_later() -> None:
    model = small_model()
    gpu = StandIn({"Conv", "Relu", "MaxPool", "Gemm"})
    result, _ran = forward(Engine(gpu), model, fuse=True)
    # The pre-activation and the ReLU stay on the GPU; the pool feeds Flatten on NumPy.
    out = outputs(model)
    assert gpu.calls[0][0] == ["Conv", "MaxPool"] and gpu.fused == ["conv"]
    assert gpu.calls[0][2] == [out["pool"]]
    assert out["conv"] not in result.tensors and out["relu"] not in result.tensors
    np.testing.assert_allclose(result.logits, run(model, X).logits, atol=1e-5)


def test_a_learners_edited_op_runs_on_numpy_and_the_rest_on_the_gpu() -> None:
    model = small_model()
    gpu = StandIn({"Conv", "Relu", "MaxPool", "Gemm"})
    # The learner's "ReLU" keeps magnitudes (abs), so its output shows which function ran.
    mine = replace(op_spec("Relu"), forward=lambda inputs, attrs: [np.abs(inputs[0])],
                   earlier=())
    edits = Edits(overrides=MappingProxyType({"Relu": mine}))
    result, ran = forward(Engine(gpu), model, edits=edits)
    expected = edits_forward(model, X, edits)
    assert_same_tensors(result, expected)
    out = outputs(model)
    np.testing.assert_allclose(result.tensors[out["relu"]], np.abs(result.tensors[out["conv"]]))
    assert [c[0] for c in gpu.calls] == [["Conv"], ["MaxPool"], ["Gemm"]]
    assert {n: b for n, _op, b in ran.layers}["relu"] == NUMPY and ran.backend == WEBGPU
    assert ran.note == "Your edited functions run on NumPy, as you wrote them."
    _result, ran = forward(Engine(None), model, edits=edits)  # no device: all NumPy, edited
    assert_same_tensors(_result, expected)


def test_split_times_each_gpu_node_alone() -> None:
    gpu = StandIn({"Conv", "Relu", "MaxPool", "Gemm"})
    forward(Engine(gpu), small_model(), split=True)
    assert [c[0] for c in gpu.calls] == [["Conv"], ["Relu"], ["MaxPool"], ["Gemm"]]


def test_a_lost_device_falls_back_to_numpy_and_says_so() -> None:
    model = small_model()
    gpu = StandIn({"Conv", "Relu", "MaxPool", "Gemm"}, fail_after=1)
    engine = Engine(gpu)
    result, ran = forward(engine, model)  # the second segment finds the device gone
    assert_same_tensors(result, run(model, X))
    assert ran.backend == NUMPY and "GPU stopped working" in ran.note
    calls = len(gpu.calls)
    _result, ran = forward(engine, model)
    assert len(gpu.calls) == calls and ran.backend == NUMPY and ran.note
    assert engine.gpu is None


def test_a_device_lost_between_passes_is_noticed_before_the_next() -> None:
    gpu = StandIn({"Conv"})
    engine = Engine(gpu)
    gpu.lost = "unknown: device destroyed"
    _result, ran = forward(engine, small_model())
    assert gpu.calls == [] and ran.backend == NUMPY
    assert ran.note == "The GPU was lost (unknown: device destroyed): NumPy runs every layer."


def test_without_a_device_or_when_numpy_is_chosen_numpy_runs() -> None:
    model = small_model()
    _r, ran = forward(Engine(None, "this browser has no WebGPU"), model)
    assert ran.backend == NUMPY
    assert ran.note == "This browser has no WebGPU: NumPy runs every layer."
    gpu = StandIn({"Conv", "Relu", "MaxPool", "Gemm"})
    engine = Engine(gpu)
    engine.choose("numpy")
    result, ran = forward(engine, model)
    assert gpu.calls == [] and ran.backend == NUMPY and ran.note is None
    assert_same_tensors(result, run(model, X))
    with pytest.raises(CnnlensError, match="unknown backend 'cuda'"):
        engine.choose("cuda")


def test_bundled_model_on_the_stand_in_equals_numpy() -> None:
    model = read_model(BUNDLED_MODEL.read_bytes())
    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    gpu = StandIn({"Conv", "Relu", "MaxPool"})
    result, _ran = asyncio.run(Engine(gpu).forward(model, x))
    expected = run(model, x)
    for name, array in expected.tensors.items():
        np.testing.assert_allclose(result.tensors[name], array, atol=1e-4, err_msg=name)
    assert len(gpu.calls) == 1  # the whole convolutional part in one call


def test_gpu_node_is_plain_data_with_every_shape() -> None:
    model = small_model()
    conv = model.graph.nodes[0]
    shapes = {conv.inputs[0]: (1, 2, 8, 8), conv.inputs[1]: (4, 2, 3, 3), conv.inputs[2]: (4,),
              conv.outputs[0]: (1, 4, 8, 8)}
    assert gpu_node(conv, shapes) == {
        "op": "Conv", "name": "conv", "attrs": {"pads": [1, 1, 1, 1]}, "inputs": list(conv.inputs),
        "outputs": list(conv.outputs), "shapes": {n: list(s) for n, s in shapes.items()}}
    assert gpu_node(conv, {conv.inputs[0]: (1, 2, 8, 8)}) is None  # shapes unknown before running
    tensor_attr = Node("Constant", "c", (), ("c",), {"value": np.zeros(2)})
    assert gpu_node(tensor_attr, {"c": (2,)}) is None


def test_plan_without_a_device_is_all_numpy() -> None:
    chosen = plan(small_model(), (1, 2, 8, 8), None)
    assert [s.backend for s in chosen.segments] == [NUMPY]
