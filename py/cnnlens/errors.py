"""The errors cnnlens raises on purpose.

Everything a user can cause (bad bytes, an unusable graph, an op we do not implement, an
unreadable image) is a :class:`CnnlensError`, so the page and the CLI can show the message
instead of a traceback. The concrete classes also derive from ``ValueError`` because each one
describes a bad *value* handed to us.
"""

from __future__ import annotations


class CnnlensError(Exception):
    """Base of every error cnnlens raises on purpose."""


class OnnxFormatError(CnnlensError, ValueError):
    """The bytes are not a well-formed ONNX protobuf; the message says what and where."""


class ModelError(CnnlensError, ValueError):
    """The model is well-formed but cannot be run: missing initializer, dangling input,
    cycle, empty graph, wrong input rank or shape, non-float input, bad attribute, ..."""


class UnsupportedOpError(ModelError):
    """The graph uses op types the engine does not implement.

    ``ops`` maps each unsupported op type (prefixed with ``domain::`` outside the default
    ONNX domain) to the names of the nodes that use it, in graph order.
    """

    def __init__(self, ops: dict[str, tuple[str, ...]]) -> None:
        self.ops = dict(ops)
        listing = "; ".join(
            f"{op_type} (node{'s' if len(nodes) > 1 else ''} {', '.join(map(repr, nodes))})"
            for op_type, nodes in self.ops.items()
        )
        super().__init__(f"unsupported op{'s' if len(self.ops) > 1 else ''}: {listing}")

    def __reduce__(self):  # keeps the error picklable despite the custom __init__
        return (type(self), (self.ops,))


class ImageError(CnnlensError, ValueError):
    """An image could not be decoded or turned into a model input."""
