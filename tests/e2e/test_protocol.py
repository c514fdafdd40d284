"""The page ↔ worker protocol in the browser: one ordered queue, readable errors, no Infinity."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from cnnlens.forward import run
from cnnlens.model_card import model_card
from cnnlens.onnx_reader import read_model
from cnnlens.preprocess import preprocess
from tests.onnx_builders import ModelBuilder, onnxruntime_outputs
from tests.paths import BUNDLED_MODEL, EXAMPLES

from .conftest import screenshot, wait_ready

INDEX = json.loads((EXAMPLES / "index.json").read_text())
HOT_BIAS = np.array([800.0, 799.0, 0, 0, 0, 0, 0, 0, 0, -800.0], np.float32)


def hot_model() -> onnx.ModelProto:
    """28×28 grey → Flatten → Gemm with zero weights and a logit of 800 → Softmax."""
    b = ModelBuilder((1, 1, 28, 28))
    flat = b.add("Flatten", [b.input])
    logits = b.add("Gemm", [flat, b.initializer(np.zeros((10, 784), np.float32)),
                            b.initializer(HOT_BIAS)], transB=1, outputs=["logits"])
    b.add("Softmax", [logits], axis=1, outputs=["probabilities"])
    return b.build()


def ready(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def test_requests_are_answered_in_the_order_sent(page):
    # The example fetches its image inside the worker; without one queue the detail and the
    # playground, sent right after it, would be answered first (and the detail for the old
    # image).
    file = INDEX[2]["file"]
    before = ready(page)
    got = page.evaluate(
        """async (file) => {
            const order = [];
            const drawn = cnnlens.ask("example", file).then(() => order.push("example"));
            const detail = cnnlens.client.ask("detail", "logits", 3)
                .then((answer) => { order.push("detail"); return answer.view.logit; });
            const playground = cnnlens.client.ask("playground", 5, 1, 3, 1)
                .then(() => order.push("playground"));
            const [, logit] = await Promise.all([drawn, detail, playground]);
            return { order, logit };
        }""", file)
    wait_ready(page, before + 1)
    assert got["order"] == ["example", "detail", "playground"]
    model = read_model(BUNDLED_MODEL.read_bytes())
    x = preprocess((EXAMPLES / file).read_bytes(), model_card(model).preprocessing)
    assert got["logit"] == pytest.approx(float(run(model, x).logits[0, 3]), rel=1e-5, abs=1e-5)


def test_an_error_answer_is_a_readable_rejection_and_the_queue_goes_on(page):
    got = page.evaluate(
        """async () => {
            let failure = null;
            try {
                await cnnlens.client.ask("detail", "no-such-layer", 0);
            } catch (error) {
                failure = [error.name, error.message];
            }
            const raw = await cnnlens.python.detail("logits", "three");
            const after = await cnnlens.client.ask("detail", "logits", 1);
            const times = Array.from(await cnnlens.python.time_forward(2));  // bench/ uses it
            return { failure, raw, kind: after.view.kind, times: times.length };
        }""")
    assert got["failure"] == ["AnswerError",
                              "there is no layer 'no-such-layer' with activation maps"]
    assert got["raw"] == {"error": "the channel of detail must be a whole number, not 'three'"}
    assert got["kind"] == "flatten" and got["times"] == 2


def test_a_logit_of_800_opens_a_finite_softmax_that_divides_to_the_probabilities(page, tmp_path):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    model = hot_model()
    path = tmp_path / "hot.onnx"
    path.write_bytes(model.SerializeToString())
    before = ready(page)
    page.set_input_files("#open-model", str(path))
    wait_ready(page, before + 1)

    opened = int(page.evaluate("Number(document.querySelector('#detail').dataset.opened || 0)"))
    page.click("#overview [data-layer='logits'][data-channel='0']")
    page.wait_for_function(
        "n => Number(document.querySelector('#detail').dataset.opened || 0) > n"
        " && document.querySelector('#detail').dataset.kind === 'flatten'", arg=opened)

    def values(selector: str) -> np.ndarray:
        return np.array(page.eval_on_selector_all(
            f"#detail {selector}", "es => es.map(e => Number(e.dataset.value))"))

    x = np.zeros((1, 1, 28, 28), np.float32)  # zero weights: the logits are the bias
    reference = onnxruntime_outputs(model, {"input": x})
    probabilities = values(".softmax .probability")
    exps = values(".softmax td:nth-child(3) .num")
    total = values(".softmax-view .sums .num")[0]
    assert np.all(np.isfinite(exps)) and exps.max() == 1.0
    np.testing.assert_allclose(values(".softmax td:nth-child(2) .num"), reference["logits"][0])
    np.testing.assert_allclose(values(".softmax-view .shift .num"), [800.0])
    np.testing.assert_allclose(exps / total, reference["probabilities"][0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(probabilities, reference["probabilities"][0], rtol=1e-5, atol=1e-7)
    assert page.locator("#message").is_hidden()
    screenshot(page, "detail-softmax-logit-800")
    assert errors == []
