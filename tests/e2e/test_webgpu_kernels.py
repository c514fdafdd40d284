"""The WebGPU kernels of assets/js/gpu/ against the CPython engine's own ops.

Headless Chromium with `--enable-unsafe-webgpu` (SwiftShader) runs the kernels directly,
through tests/e2e/webgpu-harness.html, on random tensors made here; every result must equal
what `cnnlens.ops` computes (itself checked against onnxruntime in tests/test_ops.py) within
1e-4 of the reference's largest magnitude (values scaled to unit range).

CI runs a seeded sample of the convolution grid (kernel 1-7, stride 1-3, padding 0-3,
dilation 1-2, groups 1 / 2 / depthwise) at modest sizes, SwiftShader being a CPU; with
`-m slow` (or CNNLENS_SLOW=1) every point of the grid runs, channels up to 64 and sizes up
to 224. One page serves the whole module.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from cnnlens.ops import op_function
from tests.e2e.conftest import Browser

OPSET = 17
TOLERANCE = 1e-4
GRID = list(itertools.product(range(1, 8), range(1, 4), range(4), (1, 2), ("1", "2", "depthwise")))


def encode(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.float32).tobytes()).decode()


def decode(text: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32).reshape(shape)


def engine(op: str, inputs: list[np.ndarray | None], attrs: dict, opset: int = OPSET
           ) -> np.ndarray:
    """The engine's own op on the float32 of `inputs`."""
    function = op_function(op, opset)
    assert function is not None
    return function([None if a is None else np.asarray(a, np.float32) for a in inputs], attrs)[0]


class Case:
    """Nodes to run on the GPU, their tensors and what the engine says each wanted output is."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.nodes: list[dict] = []
        self.weights: dict[str, np.ndarray] = {}
        self.feeds: dict[str, np.ndarray] = {}
        self.expected: dict[str, np.ndarray] = {}
        self.shapes: dict[str, list[int]] = {}

    def tensor(self, name: str, value: np.ndarray, weight: bool = False) -> str:
        (self.weights if weight else self.feeds)[name] = value
        self.shapes[name] = list(value.shape)
        return name

    def node(self, op: str, inputs: list[str], output: str, attrs: dict, value: np.ndarray,
             wanted: bool = True) -> str:
        self.shapes[output] = list(value.shape)
        self.nodes.append({"op": op, "name": output, "attrs": attrs, "inputs": inputs,
                           "outputs": [output],
                           "shapes": {n: self.shapes[n] for n in [*inputs, output] if n}})
        if wanted:
            self.expected[output] = value
        return output

    def payload(self) -> dict:
        def pack(tensors: dict[str, np.ndarray]) -> dict:
            return {n: {"data": encode(v), "shape": list(v.shape)} for n, v in tensors.items()}
        return {"key": self.label, "weights": pack(self.weights), "nodes": self.nodes,
                "feeds": pack(self.feeds), "wanted": list(self.expected)}


@pytest.fixture(scope="module")
def harness(playwright_instance, tmp_path_factory, site) -> Iterator:
    browser = Browser(playwright_instance, tmp_path_factory.mktemp("profile"), webgpu=True)
    page = browser.context.new_page()
    page.goto(site + "tests/e2e/webgpu-harness.html")
    page.wait_for_function("document.documentElement.dataset.harness === 'ready'")
    page.label = page.evaluate("gpuHarness.open()")
    yield page
    browser.close()
    assert browser.outside_requests() == [], "requests left 127.0.0.1"


def check(harness, cases: list[Case]) -> None:
    """Runs every case in the page (one call) and compares each wanted output."""
    assert harness.label, "no WebGPU adapter, even with --enable-unsafe-webgpu"
    results = harness.evaluate("cases => gpuHarness.run(cases)", [c.payload() for c in cases])
    failures = []
    for case, result in zip(cases, results, strict=True):
        if "error" in result:
            failures.append(f"{case.label}: {result['error']}")
            continue
        for name, expected in case.expected.items():
            got = decode(result[name], expected.shape)
            scale = float(np.abs(expected).max()) or 1.0
            error = float(np.abs(got - expected).max()) / scale
            if not error <= TOLERANCE:
                failures.append(f"{case.label}: {name} off by {error:.3g} of its range {scale:.3g}")
    assert not failures, "\n".join(failures)


def conv_case(rng: np.random.Generator, point: tuple, channels: int, largest: int,
              budget: float) -> Case:
    """One convolution of the grid: channels up to `channels`, sizes up to `largest`, at
    most `budget` multiply-adds; bias, fused activation and auto_pad drawn too."""
    kernel, stride, pad, dilation, groups = point
    span = (kernel - 1) * dilation + 1
    attrs: dict = {"kernel_shape": [kernel, kernel], "strides": [stride, stride],
                   "dilations": [dilation, dilation]}
    auto_pad = str(rng.choice(["NOTSET"] * 5 + ["SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto_pad == "NOTSET":
        # Mostly even padding, sometimes less at the end: ONNX pads are begins, then ends.
        ends = [pad, pad] if rng.random() < 0.7 else [int(v) for v in rng.integers(0, pad + 1, 2)]
        attrs["pads"] = [pad, pad, *ends]
    else:
        attrs["auto_pad"] = auto_pad
        ends = [0, 0] if auto_pad == "VALID" else [span, span]
    begin = 0 if auto_pad == "VALID" else pad
    while True:
        if groups == "depthwise":
            c_in = int(rng.integers(1, channels + 1))
            group, c_out = c_in, c_in * int(rng.integers(1, 3))
        else:
            group = int(groups)
            c_in = group * int(rng.integers(1, channels // group + 1))
            c_out = group * int(rng.integers(1, channels // group + 1))
        h, w = (int(rng.integers(max(1, span - begin - end), largest + 1)) for end in ends)
        out = (h // stride + 1) * (w // stride + 1)
        if out * c_out * (c_in // group) * kernel * kernel <= budget:
            break
    attrs["group"] = group
    case = Case(f"Conv k{kernel} s{stride} p{pad} d{dilation} g{groups} {c_in}→{c_out} "
                f"{h}×{w} {attrs.get('auto_pad', attrs.get('pads'))}")
    x = rng.uniform(-1, 1, (1, c_in, h, w))
    weight = rng.uniform(-1, 1, (c_out, c_in // group, kernel, kernel))
    inputs = [case.tensor("x", x), case.tensor("w", weight, weight=True)]
    arrays = [x, weight]
    if rng.random() < 0.8:
        bias = rng.uniform(-1, 1, (c_out,))
        inputs.append(case.tensor("b", bias, weight=True))
        arrays.append(bias)
    y = engine("Conv", arrays, attrs)
    fuse = rng.choice(["none", "Relu", "Clip"])
    if fuse == "Relu":
        attrs["fuse"] = {"op": "Relu"}
        y = engine("Relu", [y], {})
    elif fuse == "Clip":
        attrs["fuse"] = {"op": "Clip", "min": 0.0, "max": 0.5}
        y = engine("Clip", [y], {"min": 0.0, "max": 0.5}, opset=6)
    case.node("Conv", inputs, "y", attrs, y)
    return case


def test_conv_grid_sample(harness):
    rng = np.random.default_rng(17)
    points = [GRID[i] for i in rng.choice(len(GRID), 14, replace=False)]
    cases = [conv_case(rng, point, 16, 24, 2e6) for point in points]
    check(harness, cases)


def test_conv_shapes_of_the_bundled_and_gallery_nets(harness):
    """Layers of the nets the benchmark runs: a ResNet stem at 224, a wide 3 × 3 layer,
    MobileNet's depthwise stride 2, the bundled model's grey first layer."""
    rng = np.random.default_rng(3)
    cases = []
    for (c_in, c_out, size, kernel, stride, pad, group) in [
        (3, 8, 224, 7, 2, 3, 1), (64, 64, 28, 3, 1, 1, 1), (32, 32, 56, 3, 2, 1, 32),
        (1, 10, 28, 3, 1, 1, 1),
    ]:
        case = Case(f"Conv {c_in}→{c_out} {size}² k{kernel} s{stride} p{pad} g{group}")
        x = rng.uniform(-1, 1, (1, c_in, size, size))
        w = rng.uniform(-1, 1, (c_out, c_in // group, kernel, kernel))
        b = rng.uniform(-1, 1, (c_out,))
        attrs = {"strides": [stride] * 2, "pads": [pad] * 4, "group": group}
        y = engine("Conv", [x, w, b], attrs)
        inputs = [case.tensor("x", x), case.tensor("w", w, True), case.tensor("b", b, True)]
        case.node("Conv", inputs, "y", attrs, y)
        cases.append(case)
    check(harness, cases)


@pytest.mark.slow
@pytest.mark.parametrize("kernel", range(1, 8))
def test_conv_grid_exhaustive(harness, kernel):
    """Every point of the grid with this kernel size, channels up to 64, sizes up to 224."""
    rng = np.random.default_rng(kernel)
    points = [p for p in GRID if p[0] == kernel]
    for start in range(0, len(points), 8):
        check(harness, [conv_case(rng, p, 64, 224, 4e7) for p in points[start:start + 8]])


def pool_case(rng: np.random.Generator, op: str, kernel: int, stride: int, pads: list[int],
              dilation: int, ceil: int, include_pad: int) -> Case:
    size = int(rng.integers(max(1, (kernel - 1) * dilation + 1), 20))
    attrs = {"kernel_shape": [kernel, kernel], "strides": [stride] * 2, "pads": pads,
             "dilations": [dilation] * 2, "ceil_mode": ceil}
    if op == "AveragePool":
        attrs["count_include_pad"] = include_pad
    case = Case(f"{op} {attrs}")
    x = rng.uniform(-1, 1, (2, 3, size, size + 3))
    case.node(op, [case.tensor("x", x)], "y", attrs, engine(op, [x], attrs))
    return case


def test_pools(harness):
    rng = np.random.default_rng(5)
    cases = []
    for op in ("MaxPool", "AveragePool"):
        for kernel, stride, pads, dilation, ceil, include in [
            (2, 2, [0, 0, 0, 0], 1, 0, 0), (3, 2, [1, 1, 1, 1], 1, 0, 0),
            (3, 2, [1, 1, 1, 1], 1, 0, 1), (3, 2, [0, 0, 0, 0], 1, 1, 0),
            (3, 3, [1, 0, 2, 1], 1, 1, 1), (2, 1, [1, 1, 1, 1], 2, 0, 0),
            (3, 2, [2, 2, 2, 2], 1, 1, 1), (1, 3, [0, 0, 0, 0], 1, 1, 0),
            (5, 1, [2, 2, 2, 2], 1, 0, 0),
        ]:
            cases.append(pool_case(rng, op, kernel, stride, pads, dilation, ceil, include))
    same = Case("MaxPool SAME_UPPER")
    x = rng.uniform(-1, 1, (1, 4, 13, 9))
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}
    same.node("MaxPool", [same.tensor("x", x)], "y", attrs,
              engine("MaxPool", [x], attrs))
    cases.append(same)
    for op, shape in (("GlobalAveragePool", (2, 5, 7, 7)), ("GlobalMaxPool", (1, 3, 30, 17)),
                      ("GlobalAveragePool", (1, 8, 1, 1))):
        case = Case(f"{op} {shape}")
        x = rng.uniform(-1, 1, shape)
        case.node(op, [case.tensor("x", x)], "y", {}, engine(op, [x], {}))
        cases.append(case)
    check(harness, cases)


def test_gemm_and_matmul(harness):
    rng = np.random.default_rng(7)
    cases = []
    for rows, depth, cols, trans_a, trans_b, alpha, beta, c_shape in [
        (1, 300, 130, 0, 1, 1.0, 1.0, (130,)), (3, 33, 10, 1, 0, 0.5, 2.0, (3, 10)),
        (70, 1, 1, 0, 0, 1.0, 1.0, ()), (5, 64, 7, 1, 1, 1.0, 0.5, (5, 1)),
        (2, 40, 9, 0, 1, 2.0, 1.0, (1, 9)), (1, 512, 10, 0, 1, 1.0, 1.0, None),
    ]:
        a = rng.uniform(-1, 1, (depth, rows) if trans_a else (rows, depth))
        b = rng.uniform(-1, 1, (cols, depth) if trans_b else (depth, cols))
        attrs = {"transA": trans_a, "transB": trans_b, "alpha": alpha, "beta": beta}
        case = Case(f"Gemm {rows}×{depth}×{cols} {attrs} C {c_shape}")
        inputs = [case.tensor("a", a), case.tensor("b", b, True)]
        arrays = [a, b]
        if c_shape is not None:
            c = rng.uniform(-1, 1, c_shape)
            inputs.append(case.tensor("c", c, True))
            arrays.append(c)
        case.node("Gemm", inputs, "y", attrs, engine("Gemm", arrays, attrs))
        cases.append(case)
    for a_shape in ((2, 3, 17), (17,), (4, 17)):
        a = rng.uniform(-1, 1, a_shape)
        b = rng.uniform(-1, 1, (17, 6))
        case = Case(f"MatMul {a_shape} @ (17, 6)")
        case.node("MatMul", [case.tensor("a", a), case.tensor("b", b, True)], "y", {},
                  engine("MatMul", [a, b], {}))
        cases.append(case)
    check(harness, cases)


def test_elementwise_ops(harness):
    rng = np.random.default_rng(11)
    cases = []
    x = rng.uniform(-1, 1, (1, 6, 9, 11))
    for op, attrs, opset in (("Relu", {}, OPSET), ("Clip", {"min": -0.25, "max": 0.5}, 6),
                             ("Clip", {"max": 0.1}, 6)):
        case = Case(f"{op} {attrs}")
        case.node(op, [case.tensor("x", x)], "y", attrs, engine(op, [x], attrs, opset))
        cases.append(case)
    case = Case("Sigmoid, large magnitudes too")
    big = x * 60
    case.node("Sigmoid", [case.tensor("x", big)], "y", {}, engine("Sigmoid", [big], {}))
    cases.append(case)
    case = Case("Clip with bounds as inputs, the upper one absent")
    low = np.array(-0.3)
    case.node("Clip", [case.tensor("x", x), case.tensor("low", low, True), ""], "y", {},
              engine("Clip", [x, low, None], {}))
    cases.append(case)
    case = Case("BatchNormalization")
    params = [rng.uniform(-1, 1, 6) for _ in range(3)] + [rng.uniform(0.1, 2, 6)]
    names = [case.tensor(n, p, True)
             for n, p in zip(("scale", "bias", "mean", "var"), params, strict=True)]
    attrs = {"epsilon": 1e-3}
    case.node("BatchNormalization", [case.tensor("x", x), *names], "y", attrs,
              engine("BatchNormalization", [x, *params], attrs))
    cases.append(case)
    for op, b_shape in (("Add", (1, 6, 9, 11)), ("Mul", (6, 1, 1)), ("Sub", ()), ("Div", (11,)),
                        ("Add", (1, 1, 9, 1))):
        b = rng.uniform(0.5, 1.5, b_shape) * rng.choice([-1, 1], b_shape)
        case = Case(f"{op} (1, 6, 9, 11) with {b_shape}")
        case.node(op, [case.tensor("x", x), case.tensor("b", b, True)], "y", {},
                  engine(op, [x, b], {}))
        cases.append(case)
    case = Case("Concat of three along channels, then along the last axis")
    parts = [rng.uniform(-1, 1, (1, c, 4, 5)) for c in (2, 7, 3)]
    names = [case.tensor(f"p{i}", p) for i, p in enumerate(parts)]
    joined = engine("Concat", parts, {"axis": 1})
    case.node("Concat", names, "y", {"axis": 1}, joined)
    twice = engine("Concat", [joined, joined], {"axis": -1})
    case.node("Concat", ["y", "y"], "z", {"axis": -1}, twice)
    cases.append(case)
    check(harness, cases)


def test_a_chain_in_one_run_reads_back_only_what_is_wanted(harness):
    """A TinyVGG head and a ResNet basic block as one run each: outputs feed the next node
    on the GPU, the views share their input's buffer, and only the wanted tensors return."""
    rng = np.random.default_rng(13)
    vgg = Case("TinyVGG-like chain")
    x = rng.uniform(-1, 1, (1, 3, 16, 16))
    w1, b1 = rng.uniform(-0.5, 0.5, (8, 3, 3, 3)), rng.uniform(-1, 1, 8)
    w2 = rng.uniform(-0.2, 0.2, (10, 8 * 8 * 8))
    conv = engine("Conv", [x, w1, b1], {"pads": [1] * 4})
    relu = engine("Relu", [conv], {})
    pooled = engine("MaxPool", [relu], {"kernel_shape": [2, 2], "strides": [2, 2]})
    flat = engine("Flatten", [pooled], {"axis": 1})
    logits = engine("Gemm", [flat, w2], {"transB": 1})
    vgg.node("Conv", [vgg.tensor("x", x), vgg.tensor("w1", w1, True), vgg.tensor("b1", b1, True)],
             "conv", {"pads": [1] * 4}, conv, wanted=False)
    vgg.node("Relu", ["conv"], "relu", {}, relu)
    vgg.node("MaxPool", ["relu"], "pool", {"kernel_shape": [2, 2], "strides": [2, 2]}, pooled,
             wanted=False)
    vgg.node("Flatten", ["pool"], "flat", {"axis": 1}, flat)
    vgg.node("Gemm", ["flat", vgg.tensor("w2", w2, True)], "logits", {"transB": 1}, logits)

    block = Case("ResNet basic block")
    x = rng.uniform(0, 1, (1, 16, 14, 14))
    tensors = {"x": x}
    block.tensor("x", x)
    for i in (1, 2):
        w = rng.uniform(-0.1, 0.1, (16, 16, 3, 3))
        bn = [rng.uniform(0.5, 1.5, 16), rng.uniform(-0.2, 0.2, 16), rng.uniform(-0.2, 0.2, 16),
              rng.uniform(0.5, 2, 16)]
        source = "x" if i == 1 else "relu1"
        conv = engine("Conv", [tensors[source], w], {"pads": [1] * 4})
        block.node("Conv", [source, block.tensor(f"w{i}", w, True)], f"conv{i}",
                   {"pads": [1] * 4}, conv)
        names = [block.tensor(f"bn{i}_{j}", p, True) for j, p in enumerate(bn)]
        normal = engine("BatchNormalization", [conv, *bn], {})
        block.node("BatchNormalization", [f"conv{i}", *names], f"bn{i}", {}, normal)
        if i == 1:
            tensors["relu1"] = engine("Relu", [normal], {})
            block.node("Relu", ["bn1"], "relu1", {}, tensors["relu1"])
        else:
            added = engine("Add", [normal, tensors["x"]], {})
            block.node("Add", ["bn2", "x"], "out", {"fuse": {"op": "Relu"}},
                       engine("Relu", [added], {}))
    check(harness, [vgg, block])


def test_supports_refuses_what_the_kernels_do_not_compute(harness):
    conv3d = {"op": "Conv", "attrs": {}, "inputs": ["x", "w"], "outputs": ["y"],
              "shapes": {"x": [1, 2, 4, 4, 4], "w": [3, 2, 1, 1, 1], "y": [1, 3, 4, 4, 4]}}
    indices = {"op": "MaxPool", "attrs": {"kernel_shape": [2, 2]}, "inputs": ["x"],
               "outputs": ["y", "i"],
               "shapes": {"x": [1, 2, 4, 4], "y": [1, 2, 3, 3], "i": [1, 2, 3, 3]}}
    batched = {"op": "MatMul", "attrs": {}, "inputs": ["a", "b"], "outputs": ["y"],
               "shapes": {"a": [2, 3, 4], "b": [2, 4, 5], "y": [2, 3, 5]}}
    softmax = {"op": "Softmax", "attrs": {}, "inputs": ["x"], "outputs": ["y"],
               "shapes": {"x": [1, 10], "y": [1, 10]}}
    conv2d = {**conv3d, "shapes": {"x": [1, 2, 4, 4], "w": [3, 2, 1, 1], "y": [1, 3, 4, 4]}}
    answers = harness.evaluate("nodes => gpuHarness.supports(nodes)",
                               [conv3d, indices, batched, softmax, conv2d])
    assert answers == [False, False, False, False, True]


def test_a_tensor_found_nowhere_is_named_with_its_node(harness):
    case = Case("missing input")
    x = np.ones((1, 2, 3, 3))
    case.shapes["nowhere"] = [1, 2, 3, 3]  # declared, never fed nor made
    case.node("Add", [case.tensor("x", x), "nowhere"], "sum", {}, x)
    [result] = harness.evaluate("cases => gpuHarness.run(cases)", [case.payload()])
    assert 'node sum needs "nowhere"' in result["error"]


def test_a_lost_device_calls_back_once_and_refuses_to_run(harness):
    """Last in the module: it destroys the page's device."""
    case = Case("after the loss")
    x = np.ones((1, 1, 2, 2))
    case.node("Relu", [case.tensor("x", x)], "y", {}, x)
    harness.evaluate("gpuHarness.destroy()")
    harness.wait_for_function("gpuHarness.lost().length > 0")
    [lost] = harness.evaluate("gpuHarness.lost()")
    assert lost["reason"] == "destroyed"
    [result] = harness.evaluate("cases => gpuHarness.run(cases)", [case.payload()])
    assert "WebGPU device lost (destroyed" in result["error"]
