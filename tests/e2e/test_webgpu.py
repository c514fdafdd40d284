"""The WebGPU backend in real headless Chromium: with `--enable-unsafe-webgpu` (SwiftShader's
adapter, on the CPU) every intermediate tensor of the bundled model, CNN Explainer's TinyVGG
and the gallery's networks (seeded weights) equals the NumPy path's within 1e-4 on values
scaled to unit range; the label, the per-layer table, the switch and `#backend=` in the
link; a device destroyed mid-session falls back to NumPy with the view kept; without the
flag NumPy runs and the page says so.

The NumPy path is the reference here: it is checked against onnxruntime, onnx.reference
and PyTorch elsewhere (tests/test_ops.py, tests/test_gallery.py, …). The gallery at
224×224 is slow on SwiftShader, so CI runs a bounded sample; the rest are `slow`.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests.e2e.conftest import Browser, wait_ready

TOLERANCE = 1e-4
GALLERY_TIMEOUT_MS = 600_000
SAMPLE = ["lenet5"]
SLOW = ["squeezenet1_1", "alexnet", "nin", "googlenet", "inception_v3", "mobilenet_v2",
        "resnet18", "resnet50", "resnet152", "densenet121", "vgg16", "vgg19"]


@pytest.fixture(scope="module")
def gpu_browser(playwright_instance, tmp_path_factory, request):
    b = Browser(playwright_instance, tmp_path_factory.mktemp("webgpu"), webgpu=True)
    yield b
    b.close()
    b.check(request.module)


def boot(browser: Browser, url: str):
    page = browser.context.new_page()
    page.goto(url)
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    return page


@pytest.fixture(scope="module")
def gpu_page(gpu_browser, site):
    page = boot(gpu_browser, site + "index.html")
    if page.text_content("[data-testid=backend]") != "WebGPU":
        pytest.fail("Chromium with --enable-unsafe-webgpu gave the page no WebGPU device: "
                    + (page.text_content("[data-testid=backend-note]") or ""))
    return page


def tensors(page, backend: str) -> tuple[dict[str, np.ndarray], dict]:
    """Every float tensor of one forward pass of the page's current input on `backend`."""
    raw = page.evaluate("""async (backend) => {
        const answer = await window.cnnlens.python.tensors(backend);
        if (answer.error) return {error: answer.error};
        return {index: answer.index, numbers: Array.from(new Float32Array(
            answer.numbers.buffer, answer.numbers.byteOffset, answer.numbers.byteLength / 4))};
    }""", backend)
    assert "error" not in raw, raw
    index = json.loads(raw["index"])
    numbers = np.asarray(raw["numbers"], dtype=np.float32)
    arrays = {t["name"]: numbers[t["offset"]:t["offset"] + int(np.prod(t["shape"]))]
              .reshape(t["shape"]) for t in index["tensors"]}
    return arrays, index["ran"]


def assert_same_on_both(page) -> dict:
    """The page's current pass on WebGPU equals NumPy's, tensor by tensor, within
    TOLERANCE of each tensor's largest magnitude; answers the WebGPU pass's `ran`."""
    gpu, ran = tensors(page, "webgpu")
    cpu, cpu_ran = tensors(page, "numpy")
    assert {layer["backend"] for layer in cpu_ran["layers"]} == {"NumPy"}
    assert ran["backend"] == "WebGPU"
    on_gpu = [layer for layer in ran["layers"] if layer["backend"] == "WebGPU"]
    assert any(layer["op"] == "Conv" for layer in on_gpu), ran["layers"]
    assert list(gpu) == list(cpu)
    for name, expected in cpu.items():
        scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
        error = float(np.abs(gpu[name] - expected).max(initial=0.0)) / scale
        assert error <= TOLERANCE, f"{name}: {error:.2e} of its range apart"
    return ran


def open_model(page, model_id: str) -> None:
    ready = int(page.evaluate("document.documentElement.dataset.cnnlensReady"))
    page.select_option("#model-select", model_id)
    page.wait_for_function(  # a 224×224 network takes a while on SwiftShader
        "n => Number(document.documentElement.dataset.cnnlensReady) >= n", arg=ready + 1,
        timeout=GALLERY_TIMEOUT_MS)


def test_the_label_says_webgpu_with_the_time_and_each_layers_backend(gpu_page):
    assert gpu_page.get_attribute("#backend-bar", "data-backend") == "WebGPU"
    # The boot's pass is the model's first on the GPU: weights sent, kernels compiled.
    assert re.fullmatch(r"[\d.]+ ms \(its first pass: weights sent, kernels compiled\)",
                        gpu_page.text_content("[data-testid=forward-time]"))
    assert gpu_page.is_hidden("[data-testid=backend-note]")
    rows = gpu_page.eval_on_selector_all(
        "[data-testid=backend-layers] tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    ops = {op: backend for _node, op, backend in rows}
    assert ops["Conv"] == "WebGPU" and ops["MaxPool"] == "WebGPU"
    # Gradients stay on NumPy, and the gradient tabs say so.
    gpu_page.click("#overview canvas.tile >> nth=0")
    gpu_page.wait_for_selector("#detail:not([hidden])")
    assert gpu_page.is_hidden("[data-testid=gradients-note]")  # "How it is computed"
    gpu_page.click("#tab-attribution")
    assert gpu_page.is_visible("[data-testid=gradients-note]")
    gpu_page.click("#tab-detail")
    gpu_page.keyboard.press("Escape")


def test_bundled_model_every_tensor_equals_numpy(gpu_page):
    assert_same_on_both(gpu_page)


@pytest.mark.slow  # the bundled TinyVGG and LeNet-5 run the same kernels in CI
def test_cnn_explainer_tinyvgg_every_tensor_equals_numpy(gpu_page):
    open_model(gpu_page, "cnn-explainer")
    assert_same_on_both(gpu_page)


@pytest.mark.parametrize("model_id", SAMPLE + [pytest.param(m, marks=pytest.mark.slow)
                                               for m in SLOW])
def test_gallery_network_every_tensor_equals_numpy(gpu_page, model_id):
    open_model(gpu_page, model_id)
    assert_same_on_both(gpu_page)


def test_the_link_and_the_switch_force_a_backend(gpu_page):
    ready = int(gpu_page.evaluate("document.documentElement.dataset.cnnlensReady"))
    gpu_page.evaluate("location.hash += '&backend=numpy'")  # a link followed in the page
    wait_ready(gpu_page, ready + 1)
    assert gpu_page.text_content("[data-testid=backend]") == "NumPy"
    assert gpu_page.input_value("#backend-choice") == "numpy"
    assert gpu_page.is_hidden("[data-testid=backend-note]")  # chosen: nothing to explain
    assert gpu_page.eval_on_selector_all("[data-testid=backend-layers] tbody tr",
                                         "rows => rows.every(r => r.dataset.backend === 'NumPy')")
    assert "backend=numpy" in gpu_page.evaluate("location.hash")
    gpu_page.select_option("#backend-choice", "webgpu")
    wait_ready(gpu_page, ready + 2)
    assert gpu_page.text_content("[data-testid=backend]") == "WebGPU"
    assert re.fullmatch(r"[\d.]+ ms", gpu_page.text_content("[data-testid=forward-time]"))
    assert "backend=webgpu" in gpu_page.evaluate("location.hash")
    gpu_page.select_option("#backend-choice", "auto")
    wait_ready(gpu_page, ready + 3)
    assert gpu_page.text_content("[data-testid=backend]") == "WebGPU"
    assert "backend=" not in gpu_page.evaluate("location.hash")


def test_a_lost_device_falls_back_to_numpy_and_the_view_stays(gpu_page):
    ready = int(gpu_page.evaluate("document.documentElement.dataset.cnnlensReady"))
    top1 = gpu_page.text_content("[data-testid=top1]")
    worker = next(w for w in gpu_page.workers
                  if w.evaluate("typeof globalThis.cnnlensGpu !== 'undefined'"))
    worker.evaluate("globalThis.cnnlensGpu.device.destroy()")
    # The view on screen stays; the next pass runs on NumPy and says why.
    assert gpu_page.text_content("[data-testid=top1]") == top1
    gpu_page.select_option("#range-mode", "network")
    wait_ready(gpu_page, ready + 1)
    gpu_page.click("#examples button >> nth=1")
    wait_ready(gpu_page, ready + 2)
    assert gpu_page.text_content("[data-testid=backend]") == "NumPy"
    note = gpu_page.text_content("[data-testid=backend-note]")
    assert note.startswith("The GPU was lost") and note.endswith("NumPy runs every layer.")
    assert gpu_page.locator("#overview canvas.tile").count() > 0


def test_without_webgpu_numpy_runs_and_the_page_says_so(page):
    assert page.text_content("[data-testid=backend]") == "NumPy"
    assert page.text_content("[data-testid=backend-note]") == (
        "No WebGPU in this browser: NumPy runs every layer.")
    assert page.is_visible("[data-testid=backend-note]")
