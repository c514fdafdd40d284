"""Where the tests find the repository's own files."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_MODEL = ROOT / "assets" / "models" / "tinyvgg-fashion-mnist.onnx"
EXAMPLES = ROOT / "assets" / "images" / "fashion-mnist"
