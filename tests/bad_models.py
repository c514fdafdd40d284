"""The broken-model corpus, made by our own code with `onnx.helper` (nothing is downloaded).

`bad_model_files()` returns name → (bytes, expected error type, words the message must
contain). Each is small and deterministic; the gigabyte-claiming ones claim it in a
header, never in data. The CLI tests and `session.load_model` tests share the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from cnnlens.errors import CnnlensError, ModelError, OnnxFormatError, UnsupportedOpError
from tests.onnx_builders import make_model, tensor_info
from tests.paths import BUNDLED_MODEL

# Byte offsets to cut the bundled model at; negative ones count from its end.
TRUNCATION_POINTS = (1, 2, 7, 64, 500, 4_000, 17_000, -100, -1)


@dataclass(frozen=True)
class ModelCase:
    name: str
    data: bytes
    error: type[CnnlensError]
    words: tuple[str, ...]  # lower-case words the message must contain


def _serialize(nodes, inputs=None, outputs=None, initializers=(), **kwargs) -> bytes:
    inputs = [tensor_info("x", (1, 1, 28, 28))] if inputs is None else inputs
    outputs = [tensor_info("y", None)] if outputs is None else outputs
    return make_model(nodes, inputs, outputs, initializers, **kwargs).SerializeToString()


def _relu(**kwargs) -> list:
    return [helper.make_node("Relu", ["x"], ["y"], name="relu", **kwargs)]


def _giant_tensor() -> bytes:
    """An initializer whose dims claim 100 000 x 100 000 floats (37 GiB) and hold none."""
    tensor = TensorProto(name="giant", data_type=TensorProto.FLOAT, dims=[100_000, 100_000])
    return _serialize(_relu(), initializers=[tensor])


def _cases() -> list[ModelCase]:
    bundled = BUNDLED_MODEL.read_bytes()
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    cases = [
        ModelCase(f"truncated-at-{end % len(bundled)}.onnx", bundled[:end], CnnlensError, ())
        for end in TRUNCATION_POINTS
    ]
    cases += [
        ModelCase("empty-file.onnx", b"", ModelError, ("no graph",)),
        ModelCase("graph-as-varint.onnx", b"\x38\x05", OnnxFormatError, ("wire type",)),
        ModelCase("ir-version-as-bytes.onnx", b"\x0a\x02hi" + bundled, OnnxFormatError,
                  ("wire type",)),
        ModelCase("giant-tensor.onnx", _giant_tensor(), ModelError,
                  ("'giant'", "(100000, 100000)", "gib", "limit")),
        ModelCase("giant-padding.onnx",
                  _serialize([helper.make_node("Conv", ["x", "w"], ["y"], name="conv",
                                               pads=[60_000] * 4)], initializers=[w]),
                  ModelError, ("'y'", "gib", "limit")),
        ModelCase("giant-input.onnx",
                  _serialize(_relu(), inputs=[tensor_info("x", (1, 3, 50_000, 50_000))]),
                  ModelError, ("'x'", "(1, 3, 50000, 50000)", "limit")),
        ModelCase("missing-initializer.onnx",
                  _serialize([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]),
                  ModelError, ("'w'",)),
        ModelCase("dangling-input.onnx",
                  _serialize([helper.make_node("Add", ["x", "nowhere"], ["y"], name="add")]),
                  ModelError, ("'nowhere'",)),
        ModelCase("cycle.onnx", _serialize([
            helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
            helper.make_node("Relu", ["a"], ["b"], name="n2"),
            helper.make_node("Relu", ["a"], ["y"], name="n3"),
        ]), ModelError, ("cycle", "'n1'", "'n2'")),
        ModelCase("unsupported-ops.onnx", _serialize([
            helper.make_node("RoiAlign", ["x"], ["r"], name="up"),
            helper.make_node("Foo", ["r"], ["y"], name="magic", domain="custom"),
        ]), UnsupportedOpError, ("roialign", "custom::foo", "'up'", "'magic'")),
        ModelCase("wrong-input-rank.onnx",
                  _serialize(_relu(), inputs=[tensor_info("x", (28, 28))]),
                  ModelError, ("'x'",)),
        ModelCase("int-input.onnx",
                  _serialize(_relu(), inputs=[tensor_info("x", (1, 1, 28, 28),
                                                          TensorProto.INT64)]),
                  ModelError, ("int64", "floating-point")),
        ModelCase("string-initializer.onnx",
                  _serialize(_relu(), initializers=[
                      helper.make_tensor("s", TensorProto.STRING, [1], [b"a"])]),
                  ModelError, ("string",)),
        ModelCase("empty-graph.onnx",
                  _serialize([], outputs=[tensor_info("x", None)]), ModelError, ("no nodes",)),
    ]
    return cases


def bad_model_files() -> dict[str, ModelCase]:
    """Every broken model by file name. Deterministic."""
    return {case.name: case for case in _cases()}
