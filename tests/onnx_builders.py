"""Build small ONNX models with ``onnx.helper`` and evaluate them with independent references.

For tests only: the ``cnnlens`` package never imports ``onnx``. Typical use::

    b = ModelBuilder((1, 3, 8, 8))
    y = b.add("Conv", [b.input, b.weight((4, 3, 3, 3))], pads=[1, 1, 1, 1])
    y = b.add("Relu", [y])
    proto = b.build(y)                       # onnx.ModelProto
    refs = reference_outputs(proto, {b.input_name: x})   # every value, by name
    ort = onnxruntime_outputs(proto, {b.input_name: x})

:func:`assert_matches_references` runs cnnlens too and compares every intermediate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# onnxruntime 1.32 runs these; onnx.helper would otherwise stamp its newest IR version.
OPSET = 17
IR_VERSION = 8

# Tolerances for comparing float32 results computed in different summation orders.
RTOL = 1e-5
ATOL = 1e-6


def tensor_info(
    name: str, shape: Sequence[int | str | None] | None, elem_type: int = TensorProto.FLOAT
) -> onnx.ValueInfoProto:
    """A tensor ValueInfo; ``shape=None`` declares no shape at all."""
    return helper.make_tensor_value_info(name, elem_type, shape)


def make_model(
    nodes: Iterable[onnx.NodeProto],
    inputs: Iterable[onnx.ValueInfoProto],
    outputs: Iterable[onnx.ValueInfoProto],
    initializers: Iterable[TensorProto] = (),
    *,
    opset: int = OPSET,
    metadata: Mapping[str, str] | None = None,
    graph_name: str = "test",
    ir_version: int = IR_VERSION,
    **model_fields: Any,
) -> onnx.ModelProto:
    """A ModelProto around one graph; ``model_fields`` go to ``helper.make_model``
    (``producer_name``, ``doc_string``, ...)."""
    graph = helper.make_graph(
        list(nodes), graph_name, list(inputs), list(outputs), list(initializers)
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version, **model_fields
    )
    if metadata:
        helper.set_model_props(model, dict(metadata))
    return model


class ModelBuilder:
    """Grows a single-input graph node by node, inventing value and initializer names.

    ``weight`` makes a random float32 initializer scaled like He initialisation, so
    activations stay O(1) and float32 comparisons stay meaningful through deep stacks.
    """

    def __init__(
        self,
        input_shape: Sequence[int | str | None],
        *,
        input_name: str = "input",
        opset: int = OPSET,
        seed: int = 0,
    ) -> None:
        self.input_name = input_name
        self.input_shape = tuple(input_shape)
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._count = 0

    @property
    def input(self) -> str:
        return self.input_name

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def initializer(self, array: np.ndarray, hint: str = "const") -> str:
        """Add ``array`` (any dtype) as an initializer; return its name."""
        name = self._fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, shape: Sequence[int], hint: str = "w", fan_in: int | None = None) -> str:
        """A random float32 initializer with standard deviation ``sqrt(2 / fan_in)``."""
        fan = fan_in if fan_in is not None else int(np.prod(shape[1:])) or 1
        array = self.rng.normal(0.0, np.sqrt(2.0 / fan), size=tuple(shape)).astype(np.float32)
        return self.initializer(array, hint)

    def add(
        self,
        op_type: str,
        inputs: Sequence[str],
        *,
        outputs: int | Sequence[str] = 1,
        name: str | None = None,
        domain: str = "",
        **attrs: Any,
    ) -> str:
        """Append a node; return its first output's name (see :meth:`add_multi` for all)."""
        return self.add_multi(op_type, inputs, outputs=outputs, name=name, domain=domain, **attrs)[
            0
        ]

    def add_multi(
        self,
        op_type: str,
        inputs: Sequence[str],
        *,
        outputs: int | Sequence[str] = 1,
        name: str | None = None,
        domain: str = "",
        **attrs: Any,
    ) -> list[str]:
        """Append a node; ``outputs`` is a count (names invented) or explicit names."""
        hint = op_type.lower()
        names = (
            [self._fresh(hint) for _ in range(outputs)]
            if isinstance(outputs, int)
            else list(outputs)
        )
        node_name = name if name is not None else self._fresh(f"{op_type}_node")
        self.nodes.append(
            helper.make_node(op_type, list(inputs), names, name=node_name, domain=domain, **attrs)
        )
        return names

    def build(
        self,
        outputs: str | Sequence[str] | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        input_elem_type: int = TensorProto.FLOAT,
    ) -> onnx.ModelProto:
        """The model; ``outputs`` defaults to the last node's first output (shapes undeclared)."""
        if outputs is None:
            outputs = [self.nodes[-1].output[0]]
        elif isinstance(outputs, str):
            outputs = [outputs]
        return make_model(
            self.nodes,
            [tensor_info(self.input_name, self.input_shape, input_elem_type)],
            [tensor_info(name, None) for name in outputs],
            self.initializers,
            opset=self.opset,
            metadata=metadata,
        )


def single_op_model(
    op_type: str,
    input_shape: Sequence[int],
    *,
    constants: Sequence[np.ndarray | None] = (),
    outputs: int = 1,
    opset: int = OPSET,
    **attrs: Any,
) -> onnx.ModelProto:
    """One ``op_type`` node fed by the graph input then ``constants`` as initializers
    (``None`` leaves that optional input empty); every output is a graph output."""
    b = ModelBuilder(input_shape, opset=opset)
    names = [b.input] + ["" if c is None else b.initializer(c) for c in constants]
    while names and not names[-1]:
        names.pop()
    produced = b.add_multi(op_type, names, outputs=outputs, name=op_type.lower(), **attrs)
    return b.build(produced)


def value_names(model: onnx.ModelProto) -> list[str]:
    """Every node output name, in node order (empty optional outputs skipped)."""
    return [name for node in model.graph.node for name in node.output if name]


def with_all_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose graph outputs are every node output.

    The outputs are left untyped: both references then use the type each node produces,
    which spares us ONNX shape inference (it cannot type everything, e.g. Dropout masks).
    """
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    del exposed.graph.output[:]
    exposed.graph.output.extend(onnx.ValueInfoProto(name=name) for name in value_names(model))
    return exposed


def reference_outputs(
    model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Every node output, computed by ``onnx.reference.ReferenceEvaluator``."""
    from onnx.reference import ReferenceEvaluator

    exposed = with_all_outputs(model)
    names = [o.name for o in exposed.graph.output]
    results = ReferenceEvaluator(exposed).run(None, dict(feeds))
    return dict(zip(names, (np.asarray(r) for r in results), strict=True))


def onnxruntime_outputs(
    model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Every node output, computed by onnxruntime's CPU provider with graph rewrites off
    (fusions would otherwise change what each intermediate means)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    exposed = with_all_outputs(model)
    session = ort.InferenceSession(
        exposed.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def assert_matches_references(
    model: onnx.ModelProto,
    x: np.ndarray,
    *,
    reference: bool = True,
    runtime: bool = True,
    rtol: float = RTOL,
    atol: float = ATOL,
):
    """Run cnnlens on ``model`` and compare every intermediate tensor with the references.

    Returns the :class:`cnnlens.forward.ForwardResult`. ``reference`` / ``runtime`` switch
    off one reference where it is known to deviate from the ONNX spec.
    """
    from cnnlens.forward import run
    from cnnlens.onnx_reader import read_model

    ours = run(read_model(model.SerializeToString()), x)
    feeds = {model.graph.input[0].name: x}
    expected = list(ours.tensors)[1:]
    assert expected == value_names(model), "cnnlens must keep every node output, in order"
    for label, enabled, compute in (
        ("onnx.reference", reference, reference_outputs),
        ("onnxruntime", runtime, onnxruntime_outputs),
    ):
        if not enabled:
            continue
        theirs = compute(model, feeds)
        for name in expected:
            message = f"value {name!r} differs from {label}"
            if np.issubdtype(np.asarray(theirs[name]).dtype, np.floating):
                np.testing.assert_allclose(
                    ours.tensors[name], theirs[name], rtol=rtol, atol=atol, err_msg=message
                )
            else:
                np.testing.assert_array_equal(ours.tensors[name], theirs[name], err_msg=message)
            assert ours.tensors[name].shape == np.shape(theirs[name]), message
    return ours


def onnx_reference_pool_deviates(
    op_type: str,
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int] | None = None,
    ceil_mode: bool = False,
    auto_pad: str = "NOTSET",
) -> bool:
    """Whether ``onnx.reference`` 1.23 is known to get this pool wrong (onnxruntime does not).

    - MaxPool with unit strides and dilations mis-sizes or mis-places padded windows
      (explicit pads or ceil mode);
    - MaxPool with other strides or dilations treats SAME_LOWER as floor(in / stride) outputs
      padded like SAME_UPPER;
    - both pools shift windows when the ceil-mode overhang exceeds one position (half of it
      is moved to the start).
    """
    rank = len(spatial)
    dilations = tuple(dilations or (1,) * rank)
    unit_steps = set(strides) == {1} and set(dilations) == {1}
    if op_type == "MaxPool" and auto_pad == "SAME_LOWER" and not unit_steps:
        return True
    if auto_pad != "NOTSET":
        return False
    if op_type == "MaxPool" and unit_steps and (ceil_mode or any(pads)):
        return True
    if not ceil_mode:
        return False
    for i in range(rank):
        span = (kernel[i] - 1) * dilations[i] + 1
        padded = spatial[i] + pads[i] + pads[rank + i]
        out = -(-(padded - span) // strides[i]) + 1
        if (out - 1) * strides[i] >= spatial[i] + pads[i]:
            out -= 1
        if (out - 1) * strides[i] + span - padded >= 2:
            return True
    return False
