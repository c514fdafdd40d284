"""ONNX's message layout as ``onnx/onnx.proto`` numbers it: the field numbers of each message
cnnlens reads or writes, and the codes of ``AttributeProto.AttributeType``.

Shared by :mod:`cnnlens.onnx_reader` and :mod:`cnnlens.onnx_writer` (one place per fact);
IR version 10+ keeps these numbers stable.
"""

from __future__ import annotations


class ModelProto:
    IR_VERSION = 1
    PRODUCER_NAME = 2
    PRODUCER_VERSION = 3
    DOC_STRING = 6
    GRAPH = 7
    OPSET_IMPORT = 8
    METADATA_PROPS = 14


class OperatorSetId:
    DOMAIN = 1
    VERSION = 2


class StringStringEntry:
    KEY = 1
    VALUE = 2


class GraphProto:
    NODE = 1
    NAME = 2
    INITIALIZER = 5
    INPUT = 11
    OUTPUT = 12


class NodeProto:
    INPUT = 1
    OUTPUT = 2
    NAME = 3
    OP_TYPE = 4
    ATTRIBUTE = 5
    DOMAIN = 7


class AttributeProto:
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


class TensorProto:
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


class ValueInfoProto:
    NAME = 1
    TYPE = 2


class TypeProto:
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

ATTRIBUTE_TYPE_NAMES = {
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
ATTRIBUTE_TYPE_BY_FIELD = (
    (AttributeProto.F, FLOAT),
    (AttributeProto.I, INT),
    (AttributeProto.S, STRING),
    (AttributeProto.T, TENSOR),
    (AttributeProto.G, GRAPH),
    (AttributeProto.FLOATS, FLOATS),
    (AttributeProto.INTS, INTS),
    (AttributeProto.STRINGS, STRINGS),
    (AttributeProto.TENSORS, TENSORS),
    (AttributeProto.GRAPHS, GRAPHS),
)
