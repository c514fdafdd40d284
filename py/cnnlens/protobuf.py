"""Protobuf wire-format decoding, with no knowledge of any schema.

A message is a sequence of fields, each a varint *tag* ``(number << 3) | wire_type`` followed
by a payload whose size the wire type fixes:

========= ===================== =============================================
wire type name                  payload
========= ===================== =============================================
0         varint                1-10 bytes, 7 bits each, little-endian groups
1         fixed64               8 bytes little-endian
2         length-delimited      varint length, then that many bytes
5         fixed32               4 bytes little-endian
========= ===================== =============================================

Wire types 3 and 4 (groups) are deprecated and never used by ONNX, so they are rejected.

:class:`Message` indexes one message's fields by number and offers typed accessors that check
the wire type. Payloads are ``memoryview`` slices of the original buffer, so a multi-megabyte
``raw_data`` is never copied while walking down the nesting. Every malformed input raises
:class:`~cnnlens.errors.OnnxFormatError` with the byte offset (from the start of the
outermost buffer) and the path of the message being read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from cnnlens.errors import OnnxFormatError

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
START_GROUP = 3
END_GROUP = 4
FIXED32 = 5

WIRE_TYPE_NAMES = {
    VARINT: "varint",
    FIXED64: "fixed64",
    LENGTH_DELIMITED: "length-delimited",
    START_GROUP: "start-group",
    END_GROUP: "end-group",
    FIXED32: "fixed32",
}

_MAX_VARINT_BYTES = 10
_UINT64_LIMIT = 1 << 64
_INT64_SIGN = 1 << 63
_MAX_FIELD_NUMBER = (1 << 29) - 1

Buffer = bytes | bytearray | memoryview


def read_varint(buf: Buffer, pos: int, base: int = 0) -> tuple[int, int]:
    """Decode the unsigned varint starting at ``buf[pos]``; return ``(value, next_pos)``.

    ``base`` is the offset of ``buf`` inside the outermost buffer, used only in messages.
    Rejects truncation, more than 10 bytes and values that do not fit in 64 bits.
    """
    value = 0
    shift = 0
    end = len(buf)
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= end:
            raise OnnxFormatError(f"truncated varint at byte {base + pos}")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value >= _UINT64_LIMIT:
                raise OnnxFormatError(f"varint at byte {base + pos} overflows 64 bits")
            return value, pos + i + 1
        shift += 7
    raise OnnxFormatError(f"varint at byte {base + pos} is longer than 10 bytes")


def to_int64(value: int) -> int:
    """Reinterpret a decoded uint64 as two's-complement int64 (how negative ints travel)."""
    return value - _UINT64_LIMIT if value >= _INT64_SIGN else value


def float32_from_bits(bits: int) -> float:
    """The float32 whose IEEE-754 bit pattern is ``bits`` (a fixed32 payload)."""
    return struct.unpack("<f", bits.to_bytes(4, "little"))[0]


def float64_from_bits(bits: int) -> float:
    """The float64 whose IEEE-754 bit pattern is ``bits`` (a fixed64 payload)."""
    return struct.unpack("<d", bits.to_bytes(8, "little"))[0]


@dataclass(frozen=True, slots=True)
class Field:
    """One decoded field.

    ``value`` is the integer payload for varint/fixed32/fixed64 fields (unsigned, as on the
    wire) and a ``memoryview`` of the payload bytes for length-delimited ones. ``offset`` is
    where the tag starts and ``value_offset`` where the payload starts, both counted from the
    start of the outermost buffer.
    """

    number: int
    wire_type: int
    value: int | memoryview
    offset: int
    value_offset: int


def iter_fields(buf: Buffer, base: int = 0) -> list[Field]:
    """Decode every field of one message in ``buf`` (offsets reported relative to ``base``)."""
    view = memoryview(buf)
    fields: list[Field] = []
    pos = 0
    end = len(view)
    while pos < end:
        start = pos
        tag, pos = read_varint(view, pos, base)
        number, wire_type = tag >> 3, tag & 7
        if number == 0 or number > _MAX_FIELD_NUMBER:
            raise OnnxFormatError(f"invalid field number {number} at byte {base + start}")
        value_offset = pos
        value: int | memoryview
        if wire_type == VARINT:
            value, pos = read_varint(view, pos, base)
        elif wire_type in (FIXED32, FIXED64):
            size = 4 if wire_type == FIXED32 else 8
            if pos + size > end:
                raise OnnxFormatError(
                    f"truncated {WIRE_TYPE_NAMES[wire_type]} field {number} at byte {base + start}"
                )
            value = int.from_bytes(view[pos : pos + size], "little")
            pos += size
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(view, pos, base)
            value_offset = pos
            if length > end - pos:
                raise OnnxFormatError(
                    f"field {number} at byte {base + start} declares {length} bytes "
                    f"but only {end - pos} remain"
                )
            value = view[pos : pos + length]
            pos += length
        else:
            name = WIRE_TYPE_NAMES.get(wire_type, "invalid")
            raise OnnxFormatError(
                f"unsupported wire type {wire_type} ({name}) for field {number} "
                f"at byte {base + start}"
            )
        fields.append(Field(number, wire_type, value, base + start, base + value_offset))
    return fields


class Message:
    """The fields of one message, grouped by field number, with wire-type-checked accessors.

    ``path`` names the message (e.g. ``"ModelProto.graph.node[3]"``) so errors say where they
    happened. Scalar accessors return the last occurrence, as protobuf specifies; repeated
    accessors accept both the packed and the unpacked encodings.
    """

    __slots__ = ("_fields", "base", "path")

    def __init__(self, buf: Buffer, base: int = 0, path: str = "message") -> None:
        self.base = base
        self.path = path
        self._fields: dict[int, list[Field]] = {}
        for field in iter_fields(buf, base):
            self._fields.setdefault(field.number, []).append(field)

    # ----------------------------------------------------------------- inspection
    def has(self, number: int) -> bool:
        """Whether field ``number`` occurs at least once."""
        return number in self._fields

    def fields(self, number: int) -> list[Field]:
        """Every occurrence of field ``number``, in wire order."""
        return self._fields.get(number, [])

    def _error(self, field: Field, problem: str) -> OnnxFormatError:
        where = f"{self.path}: field {field.number} at byte {field.offset}"
        return OnnxFormatError(f"{where}: {problem}")

    def _expect(self, field: Field, *wire_types: int) -> None:
        if field.wire_type not in wire_types:
            wanted = " or ".join(WIRE_TYPE_NAMES[w] for w in wire_types)
            got = WIRE_TYPE_NAMES[field.wire_type]
            raise self._error(field, f"expected wire type {wanted}, got {got}")

    def _last(self, number: int, wire_type: int) -> Field | None:
        occurrences = self._fields.get(number)
        if not occurrences:
            return None
        for field in occurrences:
            self._expect(field, wire_type)
        return occurrences[-1]

    # ----------------------------------------------------------------- scalars
    def uint(self, number: int, default: int = 0) -> int:
        """A varint field as an unsigned integer (uint32/uint64/bool/enum)."""
        field = self._last(number, VARINT)
        return default if field is None else field.value

    def int64(self, number: int, default: int = 0) -> int:
        """A varint field as a signed integer (int32/int64; negatives use 10 bytes)."""
        field = self._last(number, VARINT)
        return default if field is None else to_int64(field.value)

    def float32(self, number: int, default: float = 0.0) -> float:
        """A fixed32 field as a float."""
        field = self._last(number, FIXED32)
        return default if field is None else float32_from_bits(field.value)

    def payload(self, number: int, default: bytes = b"") -> memoryview | bytes:
        """A length-delimited field's payload (a view into the buffer, not a copy)."""
        field = self._last(number, LENGTH_DELIMITED)
        return default if field is None else field.value

    def string(self, number: int, default: str = "") -> str:
        """A length-delimited field decoded as UTF-8."""
        field = self._last(number, LENGTH_DELIMITED)
        return default if field is None else self._decode_utf8(field)

    def message(self, number: int, label: str) -> Message | None:
        """An embedded message field, or ``None`` when absent."""
        field = self._last(number, LENGTH_DELIMITED)
        if field is None:
            return None
        return Message(field.value, field.value_offset, f"{self.path}.{label}")

    # ----------------------------------------------------------------- repeated
    def messages(self, number: int, label: str) -> list[Message]:
        """Every occurrence of a repeated embedded-message field."""
        result = []
        for i, field in enumerate(self.fields(number)):
            self._expect(field, LENGTH_DELIMITED)
            path = f"{self.path}.{label}[{i}]"
            result.append(Message(field.value, field.value_offset, path))
        return result

    def strings(self, number: int) -> list[str]:
        """Every occurrence of a repeated string field, decoded as UTF-8."""
        result = []
        for field in self.fields(number):
            self._expect(field, LENGTH_DELIMITED)
            result.append(self._decode_utf8(field))
        return result

    def uints(self, number: int) -> list[int]:
        """A repeated varint field (packed or not) as unsigned integers."""
        result: list[int] = []
        for field in self.fields(number):
            self._expect(field, VARINT, LENGTH_DELIMITED)
            if field.wire_type == VARINT:
                result.append(field.value)
            else:
                result.extend(_packed_varints(field.value, field.value_offset))
        return result

    def int64s(self, number: int) -> list[int]:
        """A repeated varint field (packed or not) as signed integers."""
        return [to_int64(v) for v in self.uints(number)]

    def fixed_array(self, number: int, dtype: str) -> np.ndarray:
        """A repeated fixed32/fixed64 field (packed or not) as a 1-D array.

        ``dtype`` is a little-endian NumPy type code of 4 or 8 bytes, e.g. ``"<f4"``, ``"<f8"``.
        """
        item = np.dtype(dtype)
        wire_type = FIXED32 if item.itemsize == 4 else FIXED64
        chunks: list[np.ndarray] = []
        for field in self.fields(number):
            self._expect(field, wire_type, LENGTH_DELIMITED)
            if field.wire_type == LENGTH_DELIMITED:
                payload = field.value
                if len(payload) % item.itemsize:
                    raise self._error(
                        field,
                        f"packed {WIRE_TYPE_NAMES[wire_type]} payload of {len(payload)} bytes "
                        f"is not a multiple of {item.itemsize}",
                    )
                chunks.append(np.frombuffer(payload, dtype=item))
            else:
                raw = field.value.to_bytes(item.itemsize, "little")
                chunks.append(np.frombuffer(raw, dtype=item))
        if not chunks:
            return np.empty(0, dtype=item.newbyteorder("="))
        return np.concatenate(chunks).astype(item.newbyteorder("="))

    # ----------------------------------------------------------------- helpers
    def _decode_utf8(self, field: Field) -> str:
        try:
            return bytes(field.value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._error(field, f"string is not valid UTF-8 ({exc.reason})") from None


def _packed_varints(payload: memoryview, base: int) -> list[int]:
    """Decode a packed run of varints filling ``payload`` exactly."""
    values = []
    pos = 0
    while pos < len(payload):
        value, pos = read_varint(payload, pos, base)
        values.append(value)
    return values
