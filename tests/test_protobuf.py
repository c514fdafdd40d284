"""The wire-format decoder on hand-made bytes, and on bytes from Google's protobuf encoder
(reached through onnx's generated message classes, an independent implementation)."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import AttributeProto, TensorProto

from cnnlens.errors import OnnxFormatError
from cnnlens.protobuf import (
    FIXED32,
    FIXED64,
    LENGTH_DELIMITED,
    VARINT,
    Message,
    float32_from_bits,
    iter_fields,
    read_varint,
    to_int64,
)

UINT64_MAX = 2**64 - 1


def tag(number: int, wire_type: int) -> bytes:
    """A one-byte tag (field numbers below 16)."""
    assert number < 16
    return bytes([number << 3 | wire_type])


# --------------------------------------------------------------------------- varints
@pytest.mark.parametrize(
    ("encoded", "value"),
    [
        (b"\x00", 0),
        (b"\x01", 1),
        (b"\x7f", 127),
        (b"\x80\x01", 128),
        (b"\xac\x02", 300),  # the protobuf documentation's example
        (b"\xff\xff\xff\xff\x0f", 2**32 - 1),
        (b"\xff" * 9 + b"\x01", UINT64_MAX),
        (b"\x80\x80\x00", 0),  # non-minimal encodings are still valid
    ],
)
def test_read_varint(encoded, value):
    assert read_varint(encoded + b"tail", 0) == (value, len(encoded))


@pytest.mark.parametrize(
    ("encoded", "value"),
    [
        (b"\xff" * 9 + b"\x01", -1),
        (b"\xfe" + b"\xff" * 8 + b"\x01", -2),
        (b"\x80" * 9 + b"\x01", -(2**63)),
        (b"\xff" * 8 + b"\x7f", 2**63 - 1),
    ],
)
def test_negative_int64_use_ten_bytes(encoded, value):
    raw, end = read_varint(encoded, 0)
    assert end == len(encoded)
    assert to_int64(raw) == value


def test_read_varint_at_an_offset():
    assert read_varint(b"\x00\x00\xac\x02", 2) == (300, 4)


@pytest.mark.parametrize(
    ("encoded", "problem"),
    [
        (b"", "truncated"),
        (b"\x80", "truncated"),
        (b"\xff\xff\xff", "truncated"),
        (b"\xff" * 9 + b"\x02", "overflows"),
        (b"\xff" * 9 + b"\x7f", "overflows"),
        (b"\x80" * 10 + b"\x01", "longer than 10"),
    ],
)
def test_bad_varints(encoded, problem):
    with pytest.raises(OnnxFormatError, match=problem):
        read_varint(encoded, 0)


def test_error_offsets_count_from_the_outer_buffer():
    with pytest.raises(OnnxFormatError, match="byte 105"):
        read_varint(b"\x80", 0, base=105)


@given(st.integers(-(2**63), 2**63 - 1))
def test_int64_matches_googles_encoder(value):
    encoded = AttributeProto(i=value).SerializeToString()  # field 3, varint
    assert Message(encoded).int64(3) == value


@given(st.integers(0, UINT64_MAX))
def test_uint64_matches_googles_encoder(value):
    encoded = TensorProto(uint64_data=[value]).SerializeToString()  # field 11, packed
    assert Message(encoded).uints(11) == [value]


# --------------------------------------------------------------------------- fields
def test_fields_of_every_wire_type_with_offsets():
    data = (
        tag(1, VARINT) + b"\xac\x02"
        + tag(2, FIXED32) + struct.pack("<f", 1.5)
        + tag(3, FIXED64) + struct.pack("<d", -2.25)
        + tag(4, LENGTH_DELIMITED) + b"\x03abc"
    )  # fmt: skip
    fields = iter_fields(data)
    assert [(f.number, f.wire_type, f.offset) for f in fields] == [
        (1, VARINT, 0),
        (2, FIXED32, 3),
        (3, FIXED64, 8),
        (4, LENGTH_DELIMITED, 17),
    ]
    assert fields[0].value == 300
    assert float32_from_bits(fields[1].value) == 1.5
    assert struct.unpack("<d", fields[2].value.to_bytes(8, "little"))[0] == -2.25
    assert bytes(fields[3].value) == b"abc" and fields[3].value_offset == 19


def test_multi_byte_tags():
    data = b"\xa0\x01\x05" + b"\xa2\x01\x00"  # field 20 varint 5, field 20 length-delimited ""
    fields = iter_fields(data)
    assert [(f.number, f.wire_type) for f in fields] == [(20, VARINT), (20, LENGTH_DELIMITED)]


def test_message_accessors():
    nested = tag(1, VARINT) + b"\x07"
    data = (
        tag(1, LENGTH_DELIMITED) + b"\x05hello"
        + tag(2, VARINT) + b"\x01" + tag(2, VARINT) + b"\x02"  # scalar repeated: last wins
        + tag(3, FIXED32) + struct.pack("<f", -0.5)
        + tag(4, LENGTH_DELIMITED) + bytes([len(nested)]) + nested
        + tag(5, LENGTH_DELIMITED) + b"\x01a" + tag(5, LENGTH_DELIMITED) + b"\x02bc"
    )  # fmt: skip
    message = Message(data, path="Test")
    assert message.string(1) == "hello"
    assert message.uint(2) == 2
    assert message.float32(3) == -0.5
    assert message.message(4, "child").uint(1) == 7
    assert message.message(9, "absent") is None
    assert message.strings(5) == ["a", "bc"]
    assert [m.payload(1, b"?") for m in message.messages(9, "none")] == []
    assert message.uint(9, default=42) == 42 and message.string(9) == ""
    assert message.has(1) and not message.has(9)


def test_packed_and_unpacked_repeated_fields_decode_alike():
    values = [1, 300, 0, 2**40]
    unpacked = TensorProto(dims=values).SerializeToString()  # dims: not packed in onnx.proto
    packed = TensorProto(int64_data=values).SerializeToString()  # int64_data: packed
    assert Message(unpacked).int64s(1) == values
    assert Message(packed).int64s(7) == values
    mixed = unpacked + TensorProto(dims=[5]).SerializeToString()
    assert Message(mixed).int64s(1) == [*values, 5]


@given(st.lists(st.floats(width=32, allow_nan=False), max_size=20))
def test_packed_floats_match_googles_encoder(values):
    encoded = TensorProto(float_data=values).SerializeToString()
    np.testing.assert_array_equal(
        Message(encoded).fixed_array(4, "<f4"), np.array(values, np.float32)
    )


@given(st.lists(st.floats(allow_nan=False), max_size=20))
def test_packed_doubles_match_googles_encoder(values):
    encoded = TensorProto(double_data=values).SerializeToString()
    np.testing.assert_array_equal(Message(encoded).fixed_array(10, "<f8"), np.array(values))


def test_unpacked_fixed32_floats():
    data = tag(4, FIXED32) + struct.pack("<f", 1.0) + tag(4, FIXED32) + struct.pack("<f", 2.0)
    np.testing.assert_array_equal(Message(data).fixed_array(4, "<f4"), [1.0, 2.0])


@given(st.text(max_size=30))
def test_strings_match_googles_encoder(text):
    assert Message(AttributeProto(name=text).SerializeToString()).string(1) == text


# --------------------------------------------------------------------------- malformed
@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (tag(1, LENGTH_DELIMITED) + b"\x05abc", "declares 5 bytes but only 3 remain"),
        (tag(1, LENGTH_DELIMITED) + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "declares"),
        (tag(1, LENGTH_DELIMITED), "truncated varint"),
        (tag(1, FIXED32) + b"\x00\x00", "truncated fixed32"),
        (tag(1, FIXED64) + b"\x00" * 7, "truncated fixed64"),
        (tag(1, VARINT), "truncated varint"),
        (tag(1, VARINT) + b"\xff" * 10, "longer than 10"),
        (tag(1, 3), "wire type 3"),
        (tag(1, 4), "wire type 4"),
        (tag(1, 6), "wire type 6"),
        (tag(1, 7), "wire type 7"),
        (b"\x00\x00", "field number 0"),
        (b"\xf8\xff\xff\xff\x7f\x00", "field number"),  # above 2**29 - 1
        (b"\x80", "truncated varint"),
    ],
)
def test_malformed_messages(data, problem):
    with pytest.raises(OnnxFormatError, match=problem):
        Message(data)


def test_nested_errors_report_path_and_absolute_offset():
    inner = tag(2, VARINT) + b"\x80"  # truncated varint at inner offset 1
    data = tag(1, VARINT) + b"\x00" + tag(3, LENGTH_DELIMITED) + bytes([len(inner)]) + inner
    outer = Message(data, path="Outer")
    with pytest.raises(OnnxFormatError, match="byte 5"):
        outer.message(3, "child")


@pytest.mark.parametrize(
    ("accessor", "data"),
    [
        (lambda m: m.string(1), tag(1, VARINT) + b"\x01"),
        (lambda m: m.uint(1), tag(1, LENGTH_DELIMITED) + b"\x00"),
        (lambda m: m.float32(1), tag(1, VARINT) + b"\x01"),
        (lambda m: m.message(1, "x"), tag(1, FIXED32) + b"\x00" * 4),
        (lambda m: m.messages(1, "x"), tag(1, VARINT) + b"\x01"),
        (lambda m: m.strings(1), tag(1, FIXED64) + b"\x00" * 8),
        (lambda m: m.uints(1), tag(1, FIXED32) + b"\x00" * 4),
        (lambda m: m.fixed_array(1, "<f4"), tag(1, VARINT) + b"\x01"),
        (lambda m: m.fixed_array(1, "<f8"), tag(1, FIXED32) + b"\x00" * 4),
    ],
)
def test_wrong_wire_type_for_the_expected_field_type(accessor, data):
    with pytest.raises(OnnxFormatError, match="expected wire type"):
        accessor(Message(data, path="Test"))


def test_invalid_utf8():
    with pytest.raises(OnnxFormatError, match="UTF-8"):
        Message(tag(1, LENGTH_DELIMITED) + b"\x02\xc3\x28").string(1)


def test_packed_fixed_payload_must_be_whole_elements():
    with pytest.raises(OnnxFormatError, match="not a multiple of 4"):
        Message(tag(4, LENGTH_DELIMITED) + b"\x05" + b"\x00" * 5).fixed_array(4, "<f4")


def test_packed_varints_must_not_be_truncated():
    with pytest.raises(OnnxFormatError, match="truncated varint"):
        Message(tag(7, LENGTH_DELIMITED) + b"\x02\x01\x80").int64s(7)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_onnx_format_error(data):
    try:
        message = Message(data)
    except OnnxFormatError:
        return
    for number in range(1, 16):
        for accessor in (
            message.uints,
            message.strings,
            lambda n: message.fixed_array(n, "<f4"),
            lambda n: message.messages(n, "m"),
        ):
            with contextlib.suppress(OnnxFormatError):
                accessor(number)
