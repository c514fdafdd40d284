""":class:`cnnlens.graph.Model` → ONNX ``ModelProto`` bytes, without the ``onnx`` package.

The inverse of :mod:`cnnlens.onnx_reader`, writing with the same field numbers
(:mod:`cnnlens.onnx_schema`), for what cnnlens makes itself: the TF.js importer
(:mod:`cnnlens.tfjs`) builds a ``Model`` and this module serialises it, in the page (Pyodide
has no ``onnx``) and in the CLI alike. Only the protobuf wire format is needed: varints and
length-delimited fields (see :mod:`cnnlens.protobuf`, the decoder), plus fixed32 for
float attributes. Repeated scalars are written unpacked, as the proto2 schema of
``onnx.proto`` declares them (every reader accepts that form).

What it writes: tensors as ``raw_data`` (little-endian), attributes of type INT, FLOAT,
STRING, INTS, FLOATS and TENSOR, tensor value infos with fixed or symbolic dims, the
default-domain opset and ``metadata_props``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import graph as g
from .errors import ModelError
from .onnx_schema import (
    FLOAT,
    FLOATS,
    INT,
    INTS,
    STRING,
    TENSOR,
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
from .protobuf import FIXED32, LENGTH_DELIMITED, VARINT

IR_VERSION = 8
"""ONNX IR version written (opsets up to 17 need at most IR 8; onnxruntime reads it)."""

_UINT64 = 1 << 64

# NumPy dtype → ONNX TensorProto.DataType, for the element types cnnlens computes with.
_ELEM_TYPES = {
    np.dtype(np.float32): g.FLOAT,
    np.dtype(np.float64): g.DOUBLE,
    np.dtype(np.int64): g.INT64,
    np.dtype(np.int32): g.INT32,
}


# ---------------------------------------------------------------- wire format


def varint(value: int) -> bytes:
    """``value`` as a protobuf varint; negative int64s travel as their uint64 twin."""
    if not -(1 << 63) <= value < _UINT64:
        raise ValueError(f"{value} does not fit in 64 bits")
    value %= _UINT64
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def int_field(number: int, value: int) -> bytes:
    """A varint field (int32, int64, enum, bool)."""
    return _tag(number, VARINT) + varint(value)


def bytes_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: bytes, a UTF-8 string's bytes or an embedded message."""
    return _tag(number, LENGTH_DELIMITED) + varint(len(payload)) + payload


def string_field(number: int, text: str) -> bytes:
    return bytes_field(number, text.encode("utf-8"))


def float_field(number: int, value: float) -> bytes:
    """A fixed32 (float) field."""
    return _tag(number, FIXED32) + struct.pack("<f", value)


def _optional_string(number: int, text: str) -> bytes:
    # proto3-style: an empty string is the default, so it is left out.
    return string_field(number, text) if text else b""


# ---------------------------------------------------------------- ONNX messages


def tensor(name: str, array: np.ndarray) -> bytes:
    """A ``TensorProto``: dims, data type, name and little-endian ``raw_data``."""
    array = np.asarray(array)
    elem_type = _ELEM_TYPES.get(array.dtype)
    if elem_type is None:
        raise ModelError(f"tensor {name!r}: cannot write element type {array.dtype}")
    T = TensorProto
    dims = b"".join(int_field(T.DIMS, d) for d in array.shape)
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return (dims + int_field(T.DATA_TYPE, elem_type) + string_field(T.NAME, name)
            + bytes_field(T.RAW_DATA, raw))


def attribute(name: str, value: Any) -> bytes:
    """An ``AttributeProto`` for an int, float, str, ndarray, or a tuple of ints or floats.

    The type is told by the value, as :func:`cnnlens.onnx_reader` reads it back: Python
    ``int`` → INT, ``float`` → FLOAT, ``tuple`` of ints → INTS, of floats → FLOATS.
    """
    A = AttributeProto
    head = string_field(A.NAME, name)
    if isinstance(value, bool) or not isinstance(value, int | float | str | np.ndarray | tuple):
        raise ModelError(f"attribute {name!r}: cannot write a {type(value).__name__}")
    if isinstance(value, int):
        return head + int_field(A.TYPE, INT) + int_field(A.I, value)
    if isinstance(value, float):
        return head + int_field(A.TYPE, FLOAT) + float_field(A.F, value)
    if isinstance(value, str):
        return head + int_field(A.TYPE, STRING) + string_field(A.S, value)
    if isinstance(value, np.ndarray):
        return head + int_field(A.TYPE, TENSOR) + bytes_field(A.T, tensor(name, value))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return head + int_field(A.TYPE, INTS) + b"".join(int_field(A.INTS, v) for v in value)
    if all(isinstance(v, float) for v in value):
        return (head + int_field(A.TYPE, FLOATS)
                + b"".join(float_field(A.FLOATS, v) for v in value))
    raise ModelError(f"attribute {name!r}: a tuple must hold only ints or only floats")


def node(op_type: str, name: str, inputs: Sequence[str], outputs: Sequence[str],
         attributes: dict[str, Any] | None = None, domain: str = "") -> bytes:
    """A ``NodeProto``; attributes are written in sorted order, so equal nodes encode equally."""
    N = NodeProto
    return (b"".join(string_field(N.INPUT, v) for v in inputs)
            + b"".join(string_field(N.OUTPUT, v) for v in outputs)
            + string_field(N.NAME, name) + string_field(N.OP_TYPE, op_type)
            + b"".join(bytes_field(N.ATTRIBUTE, attribute(k, v))
                       for k, v in sorted((attributes or {}).items()))
            + _optional_string(N.DOMAIN, domain))


def _dim(dim: g.Dim) -> bytes:
    """A ``TensorShapeProto.Dimension``: a fixed size, a symbol, or nothing (unknown)."""
    if isinstance(dim, int):
        return int_field(TypeProto.DIM_VALUE, dim)
    return _optional_string(TypeProto.DIM_PARAM, dim or "")


def value_info(info: g.ValueInfo) -> bytes:
    """A ``ValueInfoProto`` of a tensor; a ``None`` shape writes no shape (unknown rank)."""
    T = TypeProto
    tensor_type = int_field(T.ELEM_TYPE, info.elem_type)
    if info.shape is not None:
        shape = b"".join(bytes_field(T.DIM, _dim(d)) for d in info.shape)
        tensor_type += bytes_field(T.SHAPE, shape)
    type_proto = bytes_field(T.TENSOR_TYPE, tensor_type)
    return string_field(ValueInfoProto.NAME, info.name) + bytes_field(ValueInfoProto.TYPE,
                                                                        type_proto)


def graph_proto(graph: g.Graph) -> bytes:
    """A ``GraphProto``: nodes in order, name, initializers, inputs, outputs."""
    G = GraphProto
    return (b"".join(bytes_field(G.NODE, node(n.op_type, n.name, n.inputs, n.outputs,
                                              n.attributes, n.domain)) for n in graph.nodes)
            + string_field(G.NAME, graph.name or "graph")
            + b"".join(bytes_field(G.INITIALIZER, tensor(k, v))
                       for k, v in graph.initializers.items())
            + _repeated(G.INPUT, map(value_info, graph.inputs))
            + _repeated(G.OUTPUT, map(value_info, graph.outputs)))


def _repeated(number: int, messages: Iterable[bytes]) -> bytes:
    return b"".join(bytes_field(number, m) for m in messages)


def write_model(model: g.Model) -> bytes:
    """The serialised ``ModelProto`` of ``model``: what :func:`onnx_reader.read_model` reads
    back as an equal model (``producer`` goes whole into ``producer_name``)."""
    M = ModelProto
    opset = (_optional_string(OperatorSetId.DOMAIN, "")
             + int_field(OperatorSetId.VERSION, model.opset))
    metadata = _repeated(M.METADATA_PROPS, (
        string_field(StringStringEntry.KEY, k) + string_field(StringStringEntry.VALUE, v)
        for k, v in model.metadata.items()))
    return (int_field(M.IR_VERSION, model.ir_version)
            + _optional_string(M.PRODUCER_NAME, model.producer)
            + _optional_string(M.DOC_STRING, model.doc_string)
            + bytes_field(M.GRAPH, graph_proto(model.graph))
            + bytes_field(M.OPSET_IMPORT, opset)
            + metadata)
