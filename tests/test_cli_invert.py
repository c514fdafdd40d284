"""`python -m cnnlens invert` as a subprocess: the file it writes and the errors it prints,
recomputed independently (onnxruntime for the activations, NumPy for the norms)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from cnnlens.loader import load_model
from cnnlens.preprocess import preprocess
from tests.onnx_builders import onnxruntime_outputs
from tests.paths import BUNDLED_MODEL, EXAMPLES
from tests.test_cli import assert_clean_error, cnnlens

IMAGE = EXAMPLES / "ankle-boot_1.png"


def invert(tmp_path: Path, name: str, *options: str) -> tuple[dict, np.ndarray]:
    out = tmp_path / f"{name}.npy"
    result = cnnlens("invert", BUNDLED_MODEL, IMAGE, *options, "--out", out)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), np.load(out)


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b.astype(np.float64)))


@pytest.mark.parametrize("layer", ["conv_1_1", "max_pool_2"])
def test_it_writes_the_reconstruction_and_prints_its_errors(tmp_path, layer):
    record, found = invert(tmp_path, layer, "--layer", layer, "--steps", "15", "--seed", "2")
    x = preprocess(IMAGE.read_bytes(),
                   load_model(BUNDLED_MODEL.read_bytes(), "bundled").card.preprocessing)
    assert found.shape == x.shape == (1, 1, 28, 28) and found.dtype == np.float32
    proto = onnx.load(str(BUNDLED_MODEL))
    original = onnxruntime_outputs(proto, {"image": x})[layer]
    reconstructed = onnxruntime_outputs(proto, {"image": found})[layer]
    assert record["layer"] == layer
    assert record["input_error"] == pytest.approx(relative(found, x), rel=1e-5)
    assert record["activation_error"] == pytest.approx(relative(reconstructed, original),
                                                       rel=1e-3)
    assert 0 < record["activation_error"] < 1  # it got closer than the noise it began at


def test_same_seed_same_file_other_seed_other_file(tmp_path):
    common = ("--layer", "relu_1_2", "--steps", "5")
    _, a = invert(tmp_path, "a", *common, "--seed", "4")
    _, b = invert(tmp_path, "b", *common, "--seed", "4")
    _, c = invert(tmp_path, "c", *common, "--seed", "5", "--tv", "0.2", "--beta", "1.5")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_layers_and_settings_are_clean_errors(tmp_path):
    out = tmp_path / "x.npy"
    assert_clean_error(cnnlens("invert", BUNDLED_MODEL, IMAGE, "--layer", "nope", "--out", out),
                       "no layer 'nope'", "conv_1_1")
    assert_clean_error(cnnlens("invert", BUNDLED_MODEL, IMAGE, "--layer", "conv_1_1",
                               "--alpha", "0", "--out", out), "alpha must be 1 or more")
    assert not out.exists()
