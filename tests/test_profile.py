"""cnnlens.profile: per-node timings of the very pass forward.run computes, in its order."""

from __future__ import annotations

import numpy as np

from cnnlens.forward import run
from cnnlens.onnx_reader import read_model
from cnnlens.profile import profile
from tests.onnx_builders import ModelBuilder
from tests.paths import BUNDLED_MODEL


def test_bundled_model_timings_follow_forward_run() -> None:
    model = read_model(BUNDLED_MODEL.read_bytes())
    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    timings, tensors = profile(model, x)
    expected = run(model, x).tensors

    order = model.topological_order()
    assert [t.node for t in timings] == [node.name for node in order]
    assert [t.output for t in timings] == [node.outputs[0] for node in order]
    assert [t.op_type for t in timings] == [node.op_type for node in order]
    assert all(t.ms >= 0.0 for t in timings)
    assert list(tensors) == list(expected)
    for name, array in expected.items():
        np.testing.assert_array_equal(tensors[name], array, err_msg=name)


def test_nodes_listed_out_of_order_are_timed_in_execution_order() -> None:
    b = ModelBuilder((1, 2, 6, 6))
    conv = b.add("Conv", [b.input, b.weight((3, 2, 3, 3))], pads=[1, 1, 1, 1], name="conv")
    relu = b.add("Relu", [conv], name="relu")
    pool = b.add("MaxPool", [relu], kernel_shape=[2, 2], strides=[2, 2], name="pool")
    b.nodes.reverse()  # a valid ONNX graph need not list its nodes topologically
    model = read_model(b.build(pool).SerializeToString())

    x = np.random.default_rng(1).standard_normal((1, 2, 6, 6)).astype(np.float32)
    timings, tensors = profile(model, x)
    assert [t.node for t in timings] == ["conv", "relu", "pool"]
    for name, array in run(model, x).tensors.items():
        np.testing.assert_array_equal(tensors[name], array, err_msg=name)
