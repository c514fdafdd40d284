"""`inspect` and `check` fold constants as the page's loader does (py/cnnlens/loader.py):
an exporter's `Shape → Gather → Unsqueeze → Concat` around a Reshape is no layer of the table.
Expected values written by hand."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import onnx

from cnnlens import cli
from tests.onnx_builders import ModelBuilder


def exported_like(path: Path) -> Path:
    """(1, 1, 4, 4) → Conv 3x3 pad 1 to 3 channels → Relu → Reshape to (N, -1), the N
    computed as torch.onnx exports `x.view(x.size(0), -1)` → Gemm to 5."""
    b = ModelBuilder((1, 1, 4, 4))
    y = b.add("Conv", [b.input, b.weight((3, 1, 3, 3)), b.weight((3,))], name="conv",
              pads=[1, 1, 1, 1])
    y = b.add("Relu", [y], name="relu")
    shape = b.add("Shape", [y], name="shape")
    batch = b.add("Gather", [shape, b.initializer(np.array(0, np.int64))], name="gather",
                  axis=0)
    batch = b.add("Unsqueeze", [batch, b.initializer(np.array([0], np.int64))],
                  name="unsqueeze")
    target = b.add("Concat", [batch, b.initializer(np.array([-1], np.int64))], name="concat",
                   axis=0)
    y = b.add("Reshape", [y, target], name="reshape")
    y = b.add("Gemm", [y, b.weight((5, 48)), b.weight((5,))], name="fc", transB=1)
    onnx.save(b.build(y), path)
    return path


def test_inspect_lists_real_layers_only(tmp_path: Path) -> None:
    path = exported_like(tmp_path / "exported.onnx")
    out = StringIO()
    assert cli.main(["inspect", str(path), "--json"], out) == 0
    report = json.loads(out.getvalue())
    assert [(layer["name"], layer["op"], layer["output_shape"], layer["params"], layer["macs"])
            for layer in report["layers"]] == [
        ("conv", "Conv", [1, 3, 4, 4], 3 * 9 + 3, 3 * 16 * 9),
        ("relu", "Relu", [1, 3, 4, 4], 0, 0),
        ("reshape", "Reshape", [1, 48], 0, 0),
        ("fc", "Gemm", [1, 5], 5 * 48 + 5, 5 * 48),
    ]
    assert report["total_params"] == 30 + 245 and report["total_macs"] == 432 + 240
    text = StringIO()
    assert cli.main(["inspect", str(path)], text) == 0
    assert "Gather" not in text.getvalue() and "Shape" not in text.getvalue()


def test_check_measures_the_folded_model(tmp_path: Path) -> None:
    path = exported_like(tmp_path / "exported.onnx")
    out = StringIO()
    assert cli.main(["check", str(path)], out) == 0
    # Activations: input 16 + conv 48 + relu 48 + reshape 48 + fc 5 = 165 floats = 660 B;
    # unfolded, the shape tensors would add Shape (4), Gather (1), Unsqueeze (1), Concat (2).
    assert "activations: 660 bytes at input (1, 1, 4, 4)" in out.getvalue()
