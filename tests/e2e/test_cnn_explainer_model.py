"""CNN Explainer's TinyVGG in the page: the shipped .onnx opened through "Open a model…",
each reference image uploaded, the page's probabilities against TensorFlow.js's
(../shared/reference/cnn-explainer/reference_predictions.json) within 1e-4, same top class;
and the same model opened from its model.json and shard through the `model_tfjs` request,
converted in the worker. Skips, saying why, without ../shared.

The references start from CPython Pillow's decoding of the JPEGs (their README). Pyodide's
Pillow decodes these JPEGs a grey level differently here and there (about 1.5e-3 on
boat_1's probabilities), so what is uploaded is each picture as CPython's Pillow decodes
it, saved losslessly as PNG: the test measures the network in the page, not the decoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_cnn_explainer_fidelity import MODEL, SHARED, needs_shared

from .conftest import screenshot, wait_ready

TOLERANCE = 1e-4

pytestmark = needs_shared


@pytest.fixture(scope="module")
def references() -> dict:
    return json.loads((SHARED / "reference_predictions.json").read_text())


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """Reference image file → the PNG of its Pillow-decoded RGB pixels."""
    folder = tmp_path_factory.mktemp("cnn-explainer")
    made = {}
    for path in sorted((SHARED / "images").iterdir()):
        made[path.name] = folder / f"{path.stem}.png"
        Image.open(path).convert("RGB").save(made[path.name])
    return made


def ready_count(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def shown(page) -> tuple[str, dict[str, float]]:
    """The top class's name and every class's probability, as the page shows them."""
    classes = page.eval_on_selector_all(
        "section.kind-output li.class",
        "items => items.map(li => [li.querySelector('.name').textContent,"
        " Number(li.dataset.probability)])")
    return page.get_by_test_id("top1").text_content(), dict(classes)


def assert_matches_tfjs(page, references: dict, file: str) -> float:
    """The page's probabilities for `file` against TF.js's; returns the largest difference."""
    reference = references["images"][file]
    top1, probabilities = shown(page)
    assert sorted(probabilities) == sorted(references["classes"])
    ours = np.array([probabilities[name] for name in references["classes"]])
    np.testing.assert_allclose(ours, reference["probabilities"], rtol=0, atol=TOLERANCE,
                               err_msg=file)
    assert top1 == reference["top1_class"], file
    return float(np.abs(ours - reference["probabilities"]).max())


def test_the_shipped_model_in_the_page_gives_tfjs_probabilities(page, references, pictures):
    before = ready_count(page)
    page.set_input_files("#open-model", str(MODEL))
    wait_ready(page, before + 1)
    assert page.locator("#message").is_hidden()
    # The three-channel input column and the first layer's ten channels.
    assert page.locator("section.kind-input canvas.tile").count() == 3
    assert page.locator("section.column[data-layer='conv_1_1'] canvas.tile").count() == 10
    worst = 0.0
    files = sorted(references["images"])
    for file in files:
        before = ready_count(page)
        page.set_input_files("#upload", str(pictures[file]))
        wait_ready(page, before + 1)
        assert page.locator("#image-name").text_content() == pictures[file].name
        worst = max(worst, assert_matches_tfjs(page, references, file))
    print(f"page: largest probability difference over {len(files)} images: {worst:.2e}")
    screenshot(page, "cnn-explainer-model")


def test_model_json_and_its_shard_convert_in_the_worker(page, references, pictures):
    text = (SHARED / "model.json").read_text()
    shard = list((SHARED / "group1-shard1of1.bin").read_bytes())
    before = ready_count(page)
    opened = page.evaluate(
        "([text, shard]) => window.cnnlens.ask('model_tfjs', text, new Uint8Array(shard),"
        " 'model.json')", [text, shard])
    assert opened is True
    wait_ready(page, before + 1)
    assert page.locator("#message").is_hidden()
    before = ready_count(page)
    page.set_input_files("#upload", str(pictures["boat_1.jpeg"]))
    wait_ready(page, before + 1)
    # No class names in a TF.js model: the classes are numbered, in the model's order.
    names = [f"class {k}" for k in range(10)]
    top1, probabilities = shown(page)
    assert sorted(probabilities) == sorted(names)
    reference = references["images"]["boat_1.jpeg"]
    np.testing.assert_allclose([probabilities[n] for n in names], reference["probabilities"],
                               rtol=0, atol=TOLERANCE)
    assert top1 == names[reference["top1"]]


def test_a_bad_shard_is_refused_and_the_view_stays(page):
    text = (SHARED / "model.json").read_text()
    state = shown(page)
    opened = page.evaluate(
        "([text]) => window.cnnlens.ask('model_tfjs', text, new Uint8Array(8), 'model.json')",
        [text])
    assert opened is False
    message = page.locator("#message").text_content()
    assert message.startswith("the model model.json could not be opened"), message
    assert "79,680" in message
    assert shown(page) == state
