"""ONNX ``ModelProto`` bytes → :class:`cnnlens.graph.Model`, without the ``onnx`` package.

Field numbers come from ``onnx/onnx.proto`` (IR version 10+ keeps them stable). Only what
inference needs is read; unknown fields are skipped, as protobuf intends, so newer files
still load. Errors: :class:`OnnxFormatError` when the bytes are not a valid encoding (or a
tensor's data disagrees with its dims), :class:`ModelError` when a valid encoding describes
something cnnlens cannot use (external data, string tensors, no graph, ...).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from cnnlens import graph as g
from cnnlens import untrained
from cnnlens.errors import ModelError, OnnxFormatError
from cnnlens.limits import check_file_size, check_tensor_size
from cnnlens.protobuf import Buffer, Message


class _ModelProto:
    IR_VERSION = 1
    PRODUCER_NAME = 2
    PRODUCER_VERSION = 3
    DOC_STRING = 6
    GRAPH = 7
    OPSET_IMPORT = 8
    METADATA_PROPS = 14


class _OperatorSetId:
    DOMAIN = 1
    VERSION = 2


class _StringStringEntry:
    KEY = 1
    VALUE = 2


class _GraphProto:
    NODE = 1
    NAME = 2
    INITIALIZER = 5
    INPUT = 11
    OUTPUT = 12


class _NodeProto:
    INPUT = 1
    OUTPUT = 2
    NAME = 3
    OP_TYPE = 4
    ATTRIBUTE = 5
    DOMAIN = 7


class _AttributeProto:
    NAME = 1
    F = 2
    I = 3  # noqa: E741 - the field is called "i" in onnx.proto
    S = 4
    T = 5
    G = 6
    FLOATS = 7
    INTS = 8
    STRINGS = 9
    TENSORS = 10
    GRAPHS = 11
    TYPE = 20


class _TensorProto:
    DIMS = 1
    DATA_TYPE = 2
    SEGMENT = 3
    FLOAT_DATA = 4
    INT32_DATA = 5
    INT64_DATA = 7
    NAME = 8
    RAW_DATA = 9
    DOUBLE_DATA = 10
    UINT64_DATA = 11
    DATA_LOCATION = 14


class _ValueInfoProto:
    NAME = 1
    TYPE = 2


class _TypeProto:
    TENSOR_TYPE = 1
    # TypeProto.Tensor
    ELEM_TYPE = 1
    SHAPE = 2
    # TensorShapeProto
    DIM = 1
    # TensorShapeProto.Dimension
    DIM_VALUE = 1
    DIM_PARAM = 2


# AttributeProto.AttributeType codes.
FLOAT, INT, STRING, TENSOR, GRAPH = 1, 2, 3, 4, 5
FLOATS, INTS, STRINGS, TENSORS, GRAPHS = 6, 7, 8, 9, 10
SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTO, TYPE_PROTOS = 11, 12, 13, 14

_ATTRIBUTE_TYPE_NAMES = {
    FLOAT: "FLOAT",
    INT: "INT",
    STRING: "STRING",
    TENSOR: "TENSOR",
    GRAPH: "GRAPH",
    FLOATS: "FLOATS",
    INTS: "INTS",
    STRINGS: "STRINGS",
    TENSORS: "TENSORS",
    GRAPHS: "GRAPHS",
    SPARSE_TENSOR: "SPARSE_TENSOR",
    SPARSE_TENSORS: "SPARSE_TENSORS",
    TYPE_PROTO: "TYPE_PROTO",
    TYPE_PROTOS: "TYPE_PROTOS",
}

# Which field holds the value when an old writer left AttributeProto.type unset.
_ATTRIBUTE_TYPE_BY_FIELD = (
    (_AttributeProto.F, FLOAT),
    (_AttributeProto.I, INT),
    (_AttributeProto.S, STRING),
    (_AttributeProto.T, TENSOR),
    (_AttributeProto.G, GRAPH),
    (_AttributeProto.FLOATS, FLOATS),
    (_AttributeProto.INTS, INTS),
    (_AttributeProto.STRINGS, STRINGS),
    (_AttributeProto.TENSORS, TENSORS),
    (_AttributeProto.GRAPHS, GRAPHS),
)

# Element type → (NumPy dtype, typed repeated field, how that field stores values).
# "bits16" means 16-bit values widened to int32 on the wire (float16 keeps its bit pattern).
_TENSOR_LAYOUT: dict[int, tuple[np.dtype, int, str]] = {
    g.FLOAT: (np.dtype(np.float32), _TensorProto.FLOAT_DATA, "<f4"),
    g.DOUBLE: (np.dtype(np.float64), _TensorProto.DOUBLE_DATA, "<f8"),
    g.FLOAT16: (np.dtype(np.float16), _TensorProto.INT32_DATA, "bits16"),
    g.INT64: (np.dtype(np.int64), _TensorProto.INT64_DATA, "varint"),
    g.INT32: (np.dtype(np.int32), _TensorProto.INT32_DATA, "varint"),
    g.INT16: (np.dtype(np.int16), _TensorProto.INT32_DATA, "varint"),
    g.INT8: (np.dtype(np.int8), _TensorProto.INT32_DATA, "varint"),
    g.UINT16: (np.dtype(np.uint16), _TensorProto.INT32_DATA, "varint"),
    g.UINT8: (np.dtype(np.uint8), _TensorProto.INT32_DATA, "varint"),
    g.BOOL: (np.dtype(np.bool_), _TensorProto.INT32_DATA, "varint"),
    g.UINT32: (np.dtype(np.uint32), _TensorProto.UINT64_DATA, "uvarint"),
    g.UINT64: (np.dtype(np.uint64), _TensorProto.UINT64_DATA, "uvarint"),
}

_DEFAULT_DOMAINS = ("", "ai.onnx")


def read_model(data: Buffer, weights: Literal["initial", "shapes"] = "initial") -> g.Model:
    """Decode and validate a serialized ONNX model.

    A model whose weights are declared by shape only (:mod:`cnnlens.untrained`) gets their
    seeded initial values (``weights="initial"``, the default: what runs) or read-only
    zero-stride placeholders that report only their shapes (``"shapes"``: enough for
    parameter counts, shape inference and budgets, and for any size; never run those).
    Raises :class:`OnnxFormatError` for malformed bytes and
    :class:`ModelError` for a well-formed model cnnlens cannot run (see
    :meth:`cnnlens.graph.Model.validate`).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"read_model expects bytes, got {type(data).__name__}")
    size = len(data) if not isinstance(data, memoryview) else data.nbytes
    if size == 0:
        raise ModelError("the file is empty (0 bytes), so it holds no graph")
    check_file_size(size)
    try:
        model = _read_model(data)
    except OnnxFormatError as exc:
        # The wire-format details (field, byte offset) help a developer; the prefix tells
        # everyone else what happened.
        raise OnnxFormatError(f"not a readable ONNX file (truncated or corrupt?): {exc}") from exc
    return model if weights == "shapes" else untrained.materialise(model)


def _read_model(data: Buffer) -> g.Model:
    proto = Message(data, 0, "ModelProto")
    graph_proto = proto.message(_ModelProto.GRAPH, "graph")
    if graph_proto is None:
        raise ModelError("the model contains no graph")
    producer = " ".join(
        part
        for part in (
            proto.string(_ModelProto.PRODUCER_NAME),
            proto.string(_ModelProto.PRODUCER_VERSION),
        )
        if part
    )
    metadata = _read_metadata(proto)
    model = g.Model(
        graph=_read_graph(graph_proto, untrained.declares_weights(metadata)),
        metadata=metadata,
        ir_version=proto.int64(_ModelProto.IR_VERSION),
        opset=_read_default_opset(proto),
        producer=producer,
        doc_string=proto.string(_ModelProto.DOC_STRING),
    )
    model.validate()
    return model


def _read_default_opset(proto: Message) -> int:
    versions = {
        entry.string(_OperatorSetId.DOMAIN): entry.int64(_OperatorSetId.VERSION)
        for entry in proto.messages(_ModelProto.OPSET_IMPORT, "opset_import")
    }
    for domain in _DEFAULT_DOMAINS:
        if domain in versions:
            return versions[domain]
    raise ModelError("the model imports no opset for the default ONNX domain")


def _read_metadata(proto: Message) -> dict[str, str]:
    return {
        entry.string(_StringStringEntry.KEY): entry.string(_StringStringEntry.VALUE)
        for entry in proto.messages(_ModelProto.METADATA_PROPS, "metadata_props")
    }


def _read_graph(proto: Message, declared_weights: bool = False) -> g.Graph:
    """The graph; with ``declared_weights``, graph inputs after the first become placeholder
    initializers (:func:`cnnlens.untrained.declared`)."""
    initializers: dict[str, np.ndarray] = {}
    for tensor_proto in proto.messages(_GraphProto.INITIALIZER, "initializer"):
        name = tensor_proto.string(_TensorProto.NAME)
        if not name:
            raise ModelError(f"{tensor_proto.path} has no name")
        if name in initializers:
            raise ModelError(f"two initializers are named {name!r}")
        initializers[name] = read_tensor(tensor_proto)

    nodes = tuple(
        _read_node(node_proto, index)
        for index, node_proto in enumerate(proto.messages(_GraphProto.NODE, "node"))
    )
    inputs = tuple(
        info
        for info in (_read_value_info(m) for m in proto.messages(_GraphProto.INPUT, "input"))
        if info.name not in initializers
    )
    if declared_weights:
        initializers.update(untrained.declared(inputs))
        inputs = inputs[:1]
    outputs = tuple(_read_value_info(m) for m in proto.messages(_GraphProto.OUTPUT, "output"))
    return g.Graph(
        name=proto.string(_GraphProto.NAME),
        nodes=nodes,
        initializers=initializers,
        inputs=inputs,
        outputs=outputs,
    )


def _read_node(proto: Message, index: int) -> g.Node:
    op_type = proto.string(_NodeProto.OP_TYPE)
    if not op_type:
        raise ModelError(f"{proto.path} has no op_type")
    domain = proto.string(_NodeProto.DOMAIN)
    attributes: dict[str, Any] = {}
    for attribute_proto in proto.messages(_NodeProto.ATTRIBUTE, "attribute"):
        name, value = _read_attribute(attribute_proto)
        attributes[name] = value
    return g.Node(
        op_type=op_type,
        name=proto.string(_NodeProto.NAME) or f"{op_type}_{index}",
        inputs=tuple(proto.strings(_NodeProto.INPUT)),
        outputs=tuple(proto.strings(_NodeProto.OUTPUT)),
        attributes=attributes,
        domain="" if domain in _DEFAULT_DOMAINS else domain,
    )


def _read_attribute(proto: Message) -> tuple[str, Any]:
    """One ``AttributeProto`` → ``(name, value)`` with the value as plain Python / NumPy."""
    A = _AttributeProto
    name = proto.string(A.NAME)
    if not name:
        raise ModelError(f"{proto.path} has no name")
    kind = proto.int64(A.TYPE)
    if kind == 0:
        kind = next((k for number, k in _ATTRIBUTE_TYPE_BY_FIELD if proto.has(number)), 0)
    if kind == FLOAT:
        return name, proto.float32(A.F)
    if kind == INT:
        return name, proto.int64(A.I)
    if kind == STRING:
        return name, proto.string(A.S)
    if kind == TENSOR:
        tensor = proto.message(A.T, "t")
        if tensor is None:
            raise ModelError(f"{proto.path} ({name!r}) is a TENSOR attribute without a tensor")
        return name, read_tensor(tensor)
    if kind == FLOATS:
        return name, tuple(float(v) for v in proto.fixed_array(A.FLOATS, "<f4"))
    if kind == INTS:
        return name, tuple(proto.int64s(A.INTS))
    if kind == STRINGS:
        return name, tuple(proto.strings(A.STRINGS))
    if kind == TENSORS:
        return name, tuple(read_tensor(t) for t in proto.messages(A.TENSORS, "tensors"))
    if kind in _ATTRIBUTE_TYPE_NAMES:
        # Subgraphs, sparse tensors and type protos only matter to ops cnnlens does not run;
        # keep a marker so summaries can still show the attribute exists.
        return name, g.OpaqueAttribute(_ATTRIBUTE_TYPE_NAMES[kind])
    raise ModelError(f"{proto.path} ({name!r}) has unknown attribute type {kind}")


def read_tensor(proto: Message) -> np.ndarray:
    """A ``TensorProto`` → a native-endian array shaped by its ``dims``.

    Reads ``raw_data`` (little-endian bytes) or the typed repeated field; the element count
    must equal the product of the dims.
    """
    T = _TensorProto
    label = proto.string(T.NAME) or proto.path
    dims = proto.int64s(T.DIMS)
    if any(d < 0 for d in dims):
        raise OnnxFormatError(f"tensor {label!r} has negative dims {dims}")
    if proto.int64(T.DATA_LOCATION) != 0:
        raise ModelError(f"tensor {label!r} keeps its data in an external file; embed it")
    if proto.has(T.SEGMENT):
        raise ModelError(f"tensor {label!r} is segmented, which cnnlens does not support")
    elem_type = proto.int64(T.DATA_TYPE)
    if elem_type not in _TENSOR_LAYOUT:
        raise ModelError(
            f"tensor {label!r} has element type {g.elem_type_name(elem_type)}, "
            "which cnnlens does not support"
        )
    dtype, typed_field, encoding = _TENSOR_LAYOUT[elem_type]
    # Refuse a tensor that claims gigabytes before decoding (and so copying) any of it.
    check_tensor_size(label, dims, dtype.itemsize)

    if proto.has(T.RAW_DATA):
        raw = proto.payload(T.RAW_DATA)
        if len(raw) % dtype.itemsize:
            raise OnnxFormatError(
                f"tensor {label!r}: raw_data has {len(raw)} bytes, "
                f"not a multiple of the {dtype.itemsize}-byte {dtype.name}"
            )
        flat = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)
    elif encoding.startswith("<"):
        flat = proto.fixed_array(typed_field, encoding).astype(dtype)
    elif encoding == "bits16":
        flat = np.array(proto.int64s(typed_field), dtype=np.int64).astype(np.uint16).view(dtype)
    else:
        values = proto.uints(typed_field) if encoding == "uvarint" else proto.int64s(typed_field)
        flat = _integers_as(values, dtype, label)

    expected = math.prod(dims)
    if flat.size != expected:
        raise OnnxFormatError(
            f"tensor {label!r} has {flat.size} element(s) but its dims {tuple(dims)} "
            f"need {expected}"
        )
    return flat.reshape(dims)


def _integers_as(values: list[int], dtype: np.dtype, label: str) -> np.ndarray:
    """Typed-field integers → ``dtype``, rejecting values the dtype cannot hold."""
    if dtype == np.bool_:
        return np.array([v != 0 for v in values], dtype=dtype)
    info = np.iinfo(dtype)
    if any(v < info.min or v > info.max for v in values):
        raise OnnxFormatError(f"tensor {label!r} holds a value out of range for {dtype.name}")
    return np.array(values, dtype=dtype)


def _read_value_info(proto: Message) -> g.ValueInfo:
    """A ``ValueInfoProto``; non-tensor types get element type 0 and an unknown shape."""
    name = proto.string(_ValueInfoProto.NAME)
    if not name:
        raise ModelError(f"{proto.path} has no name")
    type_proto = proto.message(_ValueInfoProto.TYPE, "type")
    tensor_type = (
        None if type_proto is None else type_proto.message(_TypeProto.TENSOR_TYPE, "tensor_type")
    )
    if tensor_type is None:
        return g.ValueInfo(name=name, elem_type=0, shape=None)
    shape_proto = tensor_type.message(_TypeProto.SHAPE, "shape")
    shape = None
    if shape_proto is not None:
        shape = tuple(_read_dim(dim) for dim in shape_proto.messages(_TypeProto.DIM, "dim"))
    return g.ValueInfo(name=name, elem_type=tensor_type.int64(_TypeProto.ELEM_TYPE), shape=shape)


def _read_dim(proto: Message) -> g.Dim:
    if proto.has(_TypeProto.DIM_VALUE):
        return proto.int64(_TypeProto.DIM_VALUE)
    if proto.has(_TypeProto.DIM_PARAM):
        return proto.string(_TypeProto.DIM_PARAM)
    return None
