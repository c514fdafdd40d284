"""Bounded property-based fuzzing of the whole model path, in the normal suite (a few s).

The same property as `make fuzz` (tests/fuzz_onnx.py, atheris, minutes): whatever bytes
come in, loading, reading the card and one forward pass raise only our documented errors.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_onnx import load_and_run, seeds

SEEDS = seeds()


@st.composite
def mutated_models(draw) -> bytes:
    """A seed model with a few bytes overwritten, inserted or cut out."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "insert", "cut"]))
        if action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at:at + draw(st.integers(1, 16))]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_models() | st.binary(max_size=512))
def test_any_bytes_raise_only_our_errors(data: bytes):
    load_and_run(data)  # anything but CnnlensError propagates and fails the test
