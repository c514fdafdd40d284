"""The engine alone in CPython: forward and backward passes of the bundled model and a
forward pass of a VGG-style net at 224×224 with random weights (plain timeit, medians), so
engine regressions show without a browser.

    .venv/bin/python -m bench.engine [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit

import numpy as np

from bench.browser import ROOT, summary

sys.path.insert(0, str(ROOT / "py"))  # this checkout's engine, whatever the venv points at

from cnnlens.backward import backward
from cnnlens.forward import run
from cnnlens.graph import Model
from cnnlens.onnx_reader import read_model

BUNDLED = ROOT / "assets" / "models" / "tinyvgg-fashion-mnist.onnx"
# VGG-11's convolutions (channels per block, convs per block), then a 10-class head; the
# 4096-wide dense layers are left out (400 MB of random weights measure only matmul).
VGG_BLOCKS = ((64, 1), (128, 1), (256, 2), (512, 2), (512, 2))


def vgg_style(size: int = 224, classes: int = 10) -> Model:
    from tests.onnx_builders import ModelBuilder  # needs onnx, a dev dependency

    b = ModelBuilder((1, 3, size, size), seed=0)
    y, channels = b.input, 3
    for width, convs in VGG_BLOCKS:
        for _ in range(convs):
            y = b.add("Conv", [y, b.weight((width, channels, 3, 3)), b.initializer(
                np.zeros(width, np.float32), "b")], pads=[1, 1, 1, 1])
            y = b.add("Relu", [y])
            channels = width
        y = b.add("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.add("Flatten", [y])
    side = size // 2 ** len(VGG_BLOCKS)
    y = b.add("Gemm", [y, b.weight((classes, channels * side * side)),
                       b.initializer(np.zeros(classes, np.float32), "b")], transB=1)
    y = b.add("Softmax", [y], axis=-1)
    return read_model(b.build(y).SerializeToString())


def time_forward(model: Model, x: np.ndarray, runs: int) -> dict[str, float]:
    """Milliseconds per pass: each run times enough passes to last about 0.2 s."""
    return time_call(lambda: run(model, x), runs)


def time_backward(model: Model, x: np.ndarray, runs: int) -> dict[str, float]:
    """Milliseconds per backward pass of the top class's logit down to the input, reusing
    one forward pass (what a saliency map costs after the overview's own pass)."""
    result = run(model, x)
    seed = np.zeros_like(result.tensors[result.logits_name])
    seed.reshape(-1)[int(np.argmax(result.logits[0]))] = 1.0
    return time_call(lambda: backward(model, result, {result.logits_name: seed}), runs)


def time_call(call, runs: int) -> dict[str, float]:
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    times = timer.repeat(repeat=runs, number=number)
    return summary([t / number * 1000.0 for t in times])


def measure(runs: int) -> dict:
    rng = np.random.default_rng(0)
    bundled = read_model(BUNDLED.read_bytes())
    x_small = rng.random((1, 1, 28, 28), dtype=np.float32)
    x_vgg = rng.random((1, 3, 224, 224), dtype=np.float32)
    return {"figures": {
        "cpython_forward_bundled_ms": time_forward(bundled, x_small, runs),
        "cpython_backward_bundled_ms": time_backward(bundled, x_small, runs),
        "cpython_forward_vgg224_ms": time_forward(vgg_style(), x_vgg, runs),
    }}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(measure(args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
