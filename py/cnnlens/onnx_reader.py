"""ONNX ``ModelProto`` bytes → :class:`cnnlens.graph.Model`, without the ``onnx`` package.

Field numbers come from ``onnx/onnx.proto`` (:mod:`cnnlens.onnx_schema`). Only what
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
from cnnlens.onnx_schema import (
    ATTRIBUTE_TYPE_BY_FIELD,
    ATTRIBUTE_TYPE_NAMES,
    FLOAT,
    FLOATS,
    INT,
    INTS,
    STRING,
    STRINGS,
    TENSOR,
    TENSORS,
    AttributeProto,
    GraphProto,
    ModelProto,
    NodeProto,
    OperatorSetId,
    StringStringEntry,
    TensorProto,
    TypeProto,
    ValueInfoProto,
)
from cnnlens.protobuf import Buffer, Message

# Element type → (NumPy dtype, typed repeated field, how that field stores values).
# "bits16" means 16-bit values widened to int32 on the wire (float16 keeps its bit pattern).
_TENSOR_LAYOUT: dict[int, tuple[np.dtype, int, str]] = {
    g.FLOAT: (np.dtype(np.float32), TensorProto.FLOAT_DATA, "<f4"),
    g.DOUBLE: (np.dtype(np.float64), TensorProto.DOUBLE_DATA, "<f8"),
    g.FLOAT16: (np.dtype(np.float16), TensorProto.INT32_DATA, "bits16"),
    g.INT64: (np.dtype(np.int64), TensorProto.INT64_DATA, "varint"),
    g.INT32: (np.dtype(np.int32), TensorProto.INT32_DATA, "varint"),
    g.INT16: (np.dtype(np.int16), TensorProto.INT32_DATA, "varint"),
    g.INT8: (np.dtype(np.int8), TensorProto.INT32_DATA, "varint"),
    g.UINT16: (np.dtype(np.uint16), TensorProto.INT32_DATA, "varint"),
    g.UINT8: (np.dtype(np.uint8), TensorProto.INT32_DATA, "varint"),
    g.BOOL: (np.dtype(np.bool_), TensorProto.INT32_DATA, "varint"),
    g.UINT32: (np.dtype(np.uint32), TensorProto.UINT64_DATA, "uvarint"),
    g.UINT64: (np.dtype(np.uint64), TensorProto.UINT64_DATA, "uvarint"),
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
    graph_proto = proto.message(ModelProto.GRAPH, "graph")
    if graph_proto is None:
        raise ModelError("the model contains no graph")
    producer = " ".join(
        part
        for part in (
            proto.string(ModelProto.PRODUCER_NAME),
            proto.string(ModelProto.PRODUCER_VERSION),
        )
        if part
    )
    metadata = _read_metadata(proto)
    model = g.Model(
        graph=_read_graph(graph_proto, untrained.declares_weights(metadata)),
        metadata=metadata,
        ir_version=proto.int64(ModelProto.IR_VERSION),
        opset=_read_default_opset(proto),
        producer=producer,
        doc_string=proto.string(ModelProto.DOC_STRING),
    )
    model.validate()
    return model


def _read_default_opset(proto: Message) -> int:
    versions = {
        entry.string(OperatorSetId.DOMAIN): entry.int64(OperatorSetId.VERSION)
        for entry in proto.messages(ModelProto.OPSET_IMPORT, "opset_import")
    }
    for domain in _DEFAULT_DOMAINS:
        if domain in versions:
            return versions[domain]
    raise ModelError("the model imports no opset for the default ONNX domain")


def _read_metadata(proto: Message) -> dict[str, str]:
    return {
        entry.string(StringStringEntry.KEY): entry.string(StringStringEntry.VALUE)
        for entry in proto.messages(ModelProto.METADATA_PROPS, "metadata_props")
    }


def _read_graph(proto: Message, declared_weights: bool = False) -> g.Graph:
    """The graph; with ``declared_weights``, graph inputs after the first become placeholder
    initializers (:func:`cnnlens.untrained.declared`)."""
    initializers: dict[str, np.ndarray] = {}
    for tensor_proto in proto.messages(GraphProto.INITIALIZER, "initializer"):
        name = tensor_proto.string(TensorProto.NAME)
        if not name:
            raise ModelError(f"{tensor_proto.path} has no name")
        if name in initializers:
            raise ModelError(f"two initializers are named {name!r}")
        initializers[name] = read_tensor(tensor_proto)

    nodes = tuple(
        _read_node(node_proto, index)
        for index, node_proto in enumerate(proto.messages(GraphProto.NODE, "node"))
    )
    inputs = tuple(
        info
        for info in (_read_value_info(m) for m in proto.messages(GraphProto.INPUT, "input"))
        if info.name not in initializers
    )
    if declared_weights:
        initializers.update(untrained.declared(inputs))
        inputs = inputs[:1]
    outputs = tuple(_read_value_info(m) for m in proto.messages(GraphProto.OUTPUT, "output"))
    return g.Graph(
        name=proto.string(GraphProto.NAME),
        nodes=nodes,
        initializers=initializers,
        inputs=inputs,
        outputs=outputs,
    )


def _read_node(proto: Message, index: int) -> g.Node:
    op_type = proto.string(NodeProto.OP_TYPE)
    if not op_type:
        raise ModelError(f"{proto.path} has no op_type")
    domain = proto.string(NodeProto.DOMAIN)
    attributes: dict[str, Any] = {}
    for attribute_proto in proto.messages(NodeProto.ATTRIBUTE, "attribute"):
        name, value = _read_attribute(attribute_proto)
        attributes[name] = value
    return g.Node(
        op_type=op_type,
        name=proto.string(NodeProto.NAME) or f"{op_type}_{index}",
        inputs=tuple(proto.strings(NodeProto.INPUT)),
        outputs=tuple(proto.strings(NodeProto.OUTPUT)),
        attributes=attributes,
        domain="" if domain in _DEFAULT_DOMAINS else domain,
    )


def _read_attribute(proto: Message) -> tuple[str, Any]:
    """One ``AttributeProto`` → ``(name, value)`` with the value as plain Python / NumPy."""
    A = AttributeProto
    name = proto.string(A.NAME)
    if not name:
        raise ModelError(f"{proto.path} has no name")
    kind = proto.int64(A.TYPE)
    if kind == 0:
        kind = next((k for number, k in ATTRIBUTE_TYPE_BY_FIELD if proto.has(number)), 0)
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
    if kind in ATTRIBUTE_TYPE_NAMES:
        # Subgraphs, sparse tensors and type protos only matter to ops cnnlens does not run;
        # keep a marker so summaries can still show the attribute exists.
        return name, g.OpaqueAttribute(ATTRIBUTE_TYPE_NAMES[kind])
    raise ModelError(f"{proto.path} ({name!r}) has unknown attribute type {kind}")


def read_tensor(proto: Message) -> np.ndarray:
    """A ``TensorProto`` → a native-endian array shaped by its ``dims``.

    Reads ``raw_data`` (little-endian bytes) or the typed repeated field; the element count
    must equal the product of the dims.
    """
    T = TensorProto
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
    name = proto.string(ValueInfoProto.NAME)
    if not name:
        raise ModelError(f"{proto.path} has no name")
    type_proto = proto.message(ValueInfoProto.TYPE, "type")
    tensor_type = (
        None if type_proto is None else type_proto.message(TypeProto.TENSOR_TYPE, "tensor_type")
    )
    if tensor_type is None:
        return g.ValueInfo(name=name, elem_type=0, shape=None)
    shape_proto = tensor_type.message(TypeProto.SHAPE, "shape")
    shape = None
    if shape_proto is not None:
        shape = tuple(_read_dim(dim) for dim in shape_proto.messages(TypeProto.DIM, "dim"))
    return g.ValueInfo(name=name, elem_type=tensor_type.int64(TypeProto.ELEM_TYPE), shape=shape)


def _read_dim(proto: Message) -> g.Dim:
    if proto.has(TypeProto.DIM_VALUE):
        return proto.int64(TypeProto.DIM_VALUE)
    if proto.has(TypeProto.DIM_PARAM):
        return proto.string(TypeProto.DIM_PARAM)
    return None
