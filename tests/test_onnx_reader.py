"""The ONNX reader against models written by onnx.helper: what onnx says is in the file is
what cnnlens reads, and broken files fail with OnnxFormatError or ModelError only."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from onnx import TensorProto, helper, numpy_helper

from cnnlens.errors import CnnlensError, ModelError, OnnxFormatError
from cnnlens.graph import Graph, Model, Node, OpaqueAttribute, ValueInfo
from cnnlens.onnx_reader import read_model
from tests.onnx_builders import ModelBuilder, make_model, tensor_info


def read(proto: onnx.ModelProto) -> Model:
    return read_model(proto.SerializeToString())


def relu_model(**make_model_fields) -> onnx.ModelProto:
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    return make_model(
        [node], [tensor_info("x", (1, 3))], [tensor_info("y", (1, 3))], **make_model_fields
    )


def onnx_attribute_value(attribute: onnx.AttributeProto):
    """onnx's own decoding, normalised to the types cnnlens promises."""
    value = helper.get_attribute_value(attribute)
    if attribute.type == onnx.AttributeProto.STRING:
        return value.decode()
    if attribute.type == onnx.AttributeProto.STRINGS:
        return tuple(v.decode() for v in value)
    if attribute.type == onnx.AttributeProto.TENSOR:
        return numpy_helper.to_array(value)
    if attribute.type == onnx.AttributeProto.TENSORS:
        return tuple(numpy_helper.to_array(t) for t in value)
    if attribute.type in (onnx.AttributeProto.INTS, onnx.AttributeProto.FLOATS):
        return tuple(value)
    return value


def assert_same_value(ours, theirs):
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    elif isinstance(theirs, tuple) and theirs and isinstance(theirs[0], np.ndarray):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_same_value(a, b)
    else:
        assert type(ours) is type(theirs) and ours == theirs


def assert_reads_like_onnx(proto: onnx.ModelProto, model: Model):
    """Every node, attribute, initializer and declared value as onnx itself decodes them."""
    graph = proto.graph
    assert model.graph.name == graph.name
    assert len(model.graph.nodes) == len(graph.node)
    for index, (ours, theirs) in enumerate(zip(model.graph.nodes, graph.node, strict=True)):
        assert ours.op_type == theirs.op_type
        assert ours.name == (theirs.name or f"{theirs.op_type}_{index}")
        assert ours.inputs == tuple(theirs.input) and ours.outputs == tuple(theirs.output)
        assert ours.domain == theirs.domain
        assert set(ours.attributes) == {a.name for a in theirs.attribute}
        for attribute in theirs.attribute:
            assert_same_value(ours.attributes[attribute.name], onnx_attribute_value(attribute))
    assert list(model.graph.initializers) == [t.name for t in graph.initializer]
    for tensor in graph.initializer:
        assert_same_value(model.graph.initializers[tensor.name], numpy_helper.to_array(tensor))
    initializer_names = {t.name for t in graph.initializer}
    real_inputs = [v for v in graph.input if v.name not in initializer_names]
    for ours, theirs in zip(model.graph.inputs, real_inputs, strict=True):
        assert_same_value_info(ours, theirs)
    for ours, theirs in zip(model.graph.outputs, graph.output, strict=True):
        assert_same_value_info(ours, theirs)
    assert model.metadata == {p.key: p.value for p in proto.metadata_props}
    assert model.ir_version == proto.ir_version
    assert model.opset == next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    assert model.doc_string == proto.doc_string


def assert_same_value_info(ours, theirs: onnx.ValueInfoProto):
    tensor_type = theirs.type.tensor_type
    assert ours.name == theirs.name
    assert ours.elem_type == tensor_type.elem_type
    if not tensor_type.HasField("shape"):
        assert ours.shape is None
        return
    expected = tuple(
        d.dim_value if d.HasField("dim_value") else d.dim_param if d.HasField("dim_param") else None
        for d in tensor_type.shape.dim
    )
    assert ours.shape == expected


# --------------------------------------------------------------------------- round trips
def test_every_attribute_type():
    node = helper.make_node(
        "Custom",
        ["x"],
        ["y"],
        name="",  # defaults to "<op_type>_<index>"
        domain="com.example",
        f=0.25,
        i=-7,
        big=2**62,
        s="SAME_UPPER",
        unicode="größe",
        t=numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3)),
        floats=[1.5, -2.0],
        ints=[-1, 0, 2**40],
        strings=["a", "bc"],
        tensors=[numpy_helper.from_array(np.array([1, 2], np.int64))],
    )
    node.attribute.append(helper.make_attribute("empty", [], attr_type=onnx.AttributeProto.INTS))
    proto = make_model(
        [node], [tensor_info("x", (1,))], [tensor_info("y", None)], opset=17, graph_name="g"
    )
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    model = read(proto)
    assert_reads_like_onnx(proto, model)
    assert model.graph.nodes[0].name == "Custom_0"
    assert model.graph.nodes[0].attributes["ints"] == (-1, 0, 2**40)


def test_subgraph_attributes_are_kept_as_opaque_markers():
    branch = helper.make_graph([], "branch", [], [tensor_info("x", (1,))])
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    identity = helper.make_node("Identity", ["x"], ["c"])
    proto = make_model(
        [identity, node], [tensor_info("x", (1,))], [tensor_info("y", None)], opset=17
    )
    attributes = read(proto).graph.nodes[1].attributes
    assert attributes == {
        "then_branch": OpaqueAttribute("GRAPH"),
        "else_branch": OpaqueAttribute("GRAPH"),
    }


def test_attribute_type_is_inferred_when_an_old_writer_left_it_unset():
    proto = relu_model()
    attribute = proto.graph.node[0].attribute.add()
    attribute.name, attribute.i = "legacy", 5  # no .type
    floats = proto.graph.node[0].attribute.add()
    floats.name = "legacy_floats"
    floats.floats.extend([0.5, 1.5])
    node = read(proto).graph.nodes[0]
    assert node.attributes == {"legacy": 5, "legacy_floats": (0.5, 1.5)}


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.5,
        np.array([3, -1, 0, 2**40], dtype=np.int64),
        np.array([[1.0, -2.5]], dtype=np.float64),
        np.array([1.0, 65504.0, -0.5], dtype=np.float16),
        np.array([[-3, 4]], dtype=np.int32),
        np.array([-128, 127], dtype=np.int8),
        np.array([0, 255], dtype=np.uint8),
        np.array([0, 65535], dtype=np.uint16),
        np.array([-32768, 7], dtype=np.int16),
        np.array([True, False, True]),
        np.array([0, 2**32 - 1], dtype=np.uint32),
        np.array([0, 2**64 - 1], dtype=np.uint64),
        np.array(2.5, dtype=np.float32),  # a scalar: dims ()
        np.zeros((0, 3), dtype=np.float32),  # empty
    ],
    ids=lambda a: f"{a.dtype}{list(a.shape)}",
)
@pytest.mark.parametrize("raw", [True, False], ids=["raw_data", "typed_field"])
def test_initializers_of_every_supported_dtype(array, raw):
    tensor = helper.make_tensor(
        "t",
        helper.np_dtype_to_tensor_dtype(array.dtype),
        array.shape,
        array.tobytes() if raw else array.flatten().tolist(),
        raw=raw,
    )
    if array.dtype == np.float16 and not raw:  # onnx stores float16 bits in int32_data
        del tensor.int32_data[:]
        tensor.int32_data.extend(array.view(np.uint16).tolist())
    proto = relu_model()
    proto.graph.initializer.append(tensor)
    model = read(proto)
    assert_reads_like_onnx(proto, model)
    ours = model.graph.initializers["t"]
    assert ours.shape == array.shape and ours.dtype == array.dtype
    np.testing.assert_array_equal(ours, array)
    assert ours.flags.writeable and ours.flags.c_contiguous  # a copy, not a view of the bytes


@settings(max_examples=30, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.int64]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
    )
)
def test_random_initializers_round_trip(array):
    proto = relu_model()
    proto.graph.initializer.append(numpy_helper.from_array(array, "w"))
    np.testing.assert_array_equal(read(proto).graph.initializers["w"], array)


def test_model_header_and_metadata():
    proto = relu_model(
        metadata={"cnnlens.classes": '["cat", "dog"]', "empty": ""},
        producer_name="pytorch",
        producer_version="2.13.0",
        doc_string="a test model",
    )
    model = read(proto)
    assert_reads_like_onnx(proto, model)
    assert model.producer == "pytorch 2.13.0"
    assert model.metadata == {"cnnlens.classes": '["cat", "dog"]', "empty": ""}


def test_value_info_dims_and_initializers_listed_as_inputs():
    weights = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    proto = make_model(
        [node],
        # IR < 4 style: the initializer is also declared as a graph input.
        [tensor_info("x", ("batch", None, 2)), tensor_info("w", (2, 3))],
        [tensor_info("y", ("batch", None, 3))],
        [weights],
    )
    model = read(proto)
    assert_reads_like_onnx(proto, model)
    assert [v.name for v in model.graph.inputs] == ["x"]
    assert model.input.shape == ("batch", None, 2)
    assert model.output.shape == ("batch", None, 3)


def test_ai_onnx_domain_is_the_default_domain():
    proto = relu_model()
    proto.opset_import[0].domain = "ai.onnx"
    proto.graph.node[0].domain = "ai.onnx"
    model = read(proto)
    assert model.opset == 17 and model.graph.nodes[0].domain == ""


def test_reads_the_builders_cnn():
    b = ModelBuilder((1, 3, 8, 8))
    y = b.add("Conv", [b.input, b.weight((4, 3, 3, 3))], pads=[1, 1, 1, 1], strides=[2, 2])
    y = b.add("Reshape", [y, b.initializer(np.array([0, -1], np.int64))])
    proto = b.build(y, metadata={"k": "v"})
    assert_reads_like_onnx(proto, read(proto))


def test_accepts_bytearray_and_memoryview():
    data = relu_model().SerializeToString()
    for buffer in (bytearray(data), memoryview(data)):
        assert read_model(buffer).graph.nodes[0].op_type == "Relu"


def test_rejects_non_bytes():
    with pytest.raises(TypeError):
        read_model("model.onnx")


# --------------------------------------------------------------------------- topology
def test_topological_order_sorts_an_unsorted_file():
    nodes = [
        helper.make_node("Relu", ["b"], ["c"], name="second"),
        helper.make_node("Relu", ["x"], ["a"], name="first_a"),
        helper.make_node("Add", ["a", "x"], ["b"], name="first_b"),
    ]
    proto = make_model(nodes, [tensor_info("x", (1,))], [tensor_info("c", None)])
    order = [node.name for node in read(proto).topological_order()]
    assert order == ["first_a", "first_b", "second"]


def test_sorted_file_order_is_kept():
    b = ModelBuilder((1, 2))
    left = b.add("Relu", [b.input])
    right = b.add("Sigmoid", [b.input])
    b.add("Add", [left, right])
    proto = b.build()
    assert [n.name for n in read(proto).topological_order()] == [n.name for n in proto.graph.node]


@st.composite
def random_dags(draw) -> list[Node]:
    """Nodes in a valid execution order, each reading 1-2 earlier values (or the input)."""
    nodes = []
    for i in range(draw(st.integers(1, 12))):
        available = ["x", *(f"v{j}" for j in range(i))]
        inputs = draw(st.lists(st.sampled_from(available), min_size=1, max_size=2))
        nodes.append(Node("Add", f"n{i}", tuple(inputs), (f"v{i}",)))
    return nodes


def dag_graph(nodes: list[Node]) -> Graph:
    x = ValueInfo("x", 1, (1,))
    return Graph("dag", tuple(nodes), {}, (x,), (ValueInfo(nodes[-1].outputs[0], 1, None),))


@given(random_dags(), st.randoms())
def test_topological_order_is_file_order_when_valid_and_valid_otherwise(nodes, random):
    assert dag_graph(nodes).topological_order() == tuple(nodes)
    shuffled = nodes[:]
    random.shuffle(shuffled)
    order = dag_graph(shuffled).topological_order()
    assert sorted(n.name for n in order) == sorted(n.name for n in nodes)
    defined = {"x"}
    for node in order:
        assert set(node.inputs) <= defined
        defined.update(node.outputs)


# --------------------------------------------------------------------------- model errors
def graph_with(nodes, inputs=None, outputs=None, initializers=()):
    return make_model(
        nodes,
        inputs if inputs is not None else [tensor_info("x", (1, 2))],
        outputs if outputs is not None else [tensor_info("y", None)],
        initializers,
    )


@pytest.mark.parametrize(
    ("proto", "message"),
    [
        (graph_with([helper.make_node("Add", ["x", "w"], ["y"])]), "'w'"),
        (
            graph_with(
                [
                    helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
                    helper.make_node("Relu", ["a"], ["b"], name="n2"),
                    helper.make_node("Relu", ["a"], ["y"], name="n3"),
                ]
            ),
            "cycle through node\\(s\\) 'n1', 'n2'",
        ),
        (graph_with([], outputs=[tensor_info("x", None)]), "no nodes"),
        (graph_with([helper.make_node("Relu", ["x"], ["y"])], outputs=[]), "no outputs"),
        (
            graph_with(
                [helper.make_node("Add", ["x", "z"], ["y"])],
                inputs=[tensor_info("x", (1,)), tensor_info("z", (1,))],
            ),
            "exactly one graph input, found 2",
        ),
        (graph_with([helper.make_node("Relu", ["x"], ["y"])], inputs=[]), "found 0"),
        (
            graph_with(
                [helper.make_node("Relu", ["x"], ["y"])],
                inputs=[tensor_info("x", (1, 2), TensorProto.INT64)],
            ),
            "int64; cnnlens needs a floating-point input",
        ),
        (
            graph_with([helper.make_node("Relu", ["x"], ["y"])], inputs=[tensor_info("x", None)]),
            "declares no shape",
        ),
        (graph_with([helper.make_node("Relu", ["x"], ["z"])]), "output 'y' is not produced"),
        (
            graph_with(
                [
                    helper.make_node("Relu", ["x"], ["y"], name="a"),
                    helper.make_node("Relu", ["x"], ["y"], name="b"),
                ]
            ),
            "produced by both node 'a' and node 'b'",
        ),
        (
            graph_with(
                [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Relu", ["y"], ["x"])]
            ),
            "overwrites graph input",
        ),
        (
            graph_with(
                [helper.make_node("Relu", ["x"], ["y"])],
                initializers=[
                    numpy_helper.from_array(np.zeros(1, np.float32), "w"),
                    numpy_helper.from_array(np.zeros(1, np.float32), "w"),
                ],
            ),
            "two initializers are named 'w'",
        ),
    ],
    ids=[
        "dangling-input",
        "cycle",
        "empty-graph",
        "no-outputs",
        "two-inputs",
        "no-inputs",
        "int-input",
        "shapeless-input",
        "output-not-produced",
        "two-producers",
        "overwrites-input",
        "duplicate-initializer",
    ],
)
def test_unusable_models_raise_model_error(proto, message):
    with pytest.raises(ModelError, match=message):
        read(proto)


def test_missing_graph_and_missing_opset():
    with pytest.raises(ModelError, match="no graph"):
        read_model(b"")
    proto = relu_model()
    del proto.opset_import[:]
    with pytest.raises(ModelError, match="no opset"):
        read(proto)


def test_tensors_cnnlens_cannot_hold():
    external = relu_model()
    tensor = external.graph.initializer.add()
    tensor.name, tensor.data_type = "w", TensorProto.FLOAT
    tensor.dims.append(2)
    tensor.data_location = TensorProto.EXTERNAL
    with pytest.raises(ModelError, match="external file"):
        read(external)

    strings = relu_model()
    strings.graph.initializer.append(helper.make_tensor("s", TensorProto.STRING, [1], [b"a"]))
    with pytest.raises(ModelError, match="string"):
        read(strings)


def bare_tensor(data_type: int, dims: list[int], **data) -> TensorProto:
    """A TensorProto with exactly the given fields (helper.make_tensor would validate them)."""
    tensor = TensorProto(name="w", data_type=data_type, dims=dims)
    for field, value in data.items():
        if field == "raw_data":
            tensor.raw_data = value
        else:
            getattr(tensor, field).extend(value)
    return tensor


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (bare_tensor(TensorProto.FLOAT, [2, 3], raw_data=b"\x00" * 22), "multiple of the 4"),
        (bare_tensor(TensorProto.FLOAT, [2, 3], raw_data=b"\x00" * 16), "4 element.*need 6"),
        (bare_tensor(TensorProto.FLOAT, [4], float_data=[1.0, 2.0]), "2 element"),
        (bare_tensor(TensorProto.INT64, [3], int64_data=[1, 2, 3, 4]), "4 element"),
        (bare_tensor(TensorProto.FLOAT, [2]), "0 element"),
        (bare_tensor(TensorProto.INT8, [1], int32_data=[300]), "out of range"),
    ],
)
def test_tensor_data_must_match_its_dims(tensor, message):
    proto = relu_model()
    proto.graph.initializer.append(tensor)
    with pytest.raises(OnnxFormatError, match=message):
        read(proto)


def test_negative_dims_are_malformed():
    proto = relu_model()
    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    tensor.dims[0] = -1
    proto.graph.initializer.append(tensor)
    with pytest.raises(OnnxFormatError, match="negative dims"):
        read(proto)


# --------------------------------------------------------------------------- corrupted bytes
def small_cnn_bytes() -> bytes:
    b = ModelBuilder(("N", 2, 6, 6))
    y = b.add("Conv", [b.input, b.weight((3, 2, 3, 3))], pads=[1, 1, 1, 1], name="conv")
    y = b.add("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.add("Reshape", [y, b.initializer(np.array([0, -1], np.int64))])
    y = b.add("Gemm", [y, b.weight((4, 27)), b.initializer(np.zeros(4, np.float32))], transB=1)
    return b.build(y, metadata={"cnnlens.classes": '["a", "b", "c", "d"]'}).SerializeToString()


def test_every_truncation_raises_a_cnnlens_error_or_reads():
    data = small_cnn_bytes()
    outcomes = {"format": 0, "model": 0, "read": 0}
    for end in range(len(data)):
        try:
            read_model(data[:end])
        except OnnxFormatError:
            outcomes["format"] += 1
        except ModelError:
            outcomes["model"] += 1
        else:
            # Cutting exactly between top-level fields after the graph leaves a valid model.
            outcomes["read"] += 1
    assert outcomes["format"] > len(data) // 2, outcomes
    assert outcomes["model"] > 0, outcomes
    assert outcomes["read"] <= 3, outcomes


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def test_every_truncation_inside_the_graph_raises_a_cnnlens_error():
    # Re-wrap each truncated GraphProto with a correct length, so the cut lands inside nested
    # messages (nodes, attributes, tensors, value infos) instead of failing at the top level.
    proto = onnx.load_from_string(small_cnn_bytes())
    graph = proto.graph.SerializeToString()
    proto.ClearField("graph")
    rest = proto.SerializeToString()
    errors = 0
    for end in range(len(graph)):
        try:
            read_model(rest + b"\x3a" + varint(end) + graph[:end])  # field 7, length-delimited
        except (OnnxFormatError, ModelError):
            errors += 1
    assert errors == len(graph)  # every cut loses at least an output, a node or a tensor


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupted_bytes_raise_only_cnnlens_errors(data):
    original = bytearray(small_cnn_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    try:
        read_model(bytes(original))
    except CnnlensError as error:
        assert isinstance(error, OnnxFormatError | ModelError)
