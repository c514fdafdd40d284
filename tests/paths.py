"""Where the tests find the repository's own files, and how they load a build script."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_MODEL = ROOT / "assets" / "models" / "tinyvgg-fashion-mnist.onnx"
EXAMPLES = ROOT / "assets" / "images" / "fashion-mnist"


def load_build_script(name: str) -> ModuleType:
    """build/<name>.py as the module `cnnlens_<name>`: build/ is a folder of scripts, not a
    package, and its `site` would clash with the stdlib's."""
    spec = importlib.util.spec_from_file_location(f"cnnlens_{name}", ROOT / "build" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
