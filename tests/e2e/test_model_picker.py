"""The model picker (assets/models/index.json through the worker's `open_model`), `#model=`
in links and embeds, "Open a model…" with a TF.js model.json and its shards, and the
article's numbers following the model on screen."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from tests.paths import ROOT
from tests.test_tfjs import Sequential

from .conftest import ARTIFACTS, engine_reference, screenshot, wait_ready

CATALOGUE = json.loads((ROOT / "assets" / "models" / "index.json").read_text())
CNN_EXPLAINER = ROOT / "assets" / "images" / "cnn-explainer"
TOLERANCE = 1e-4

REFERENCE = """
import sys
import numpy as np
from cnnlens.loader import load_model
from cnnlens.session import Session
from tests.paths import ROOT

model = ROOT / "assets/models/cnn-explainer/tinyvgg-cnn-explainer.onnx"
image = ROOT / "assets/images/cnn-explainer/boat_1.png"
session = Session.start(load_model(model.read_bytes(), model.name), image.read_bytes(), image.name)
np.savez(sys.argv[1], probabilities=session.result.probabilities[0])
"""


def ready(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def facts(page) -> dict[str, str]:
    return dict(page.eval_on_selector_all(
        "#article [data-model-fact]",
        "spans => spans.map(s => [s.dataset.modelFact, s.textContent])"))


def static_facts() -> dict[str, str]:
    """The article's numbers as index.html writes them (what readers without JS see)."""
    html = (ROOT / "index.html").read_text()
    return dict(re.findall(r'<span data-model-fact="([\w-]+)">([^<]*)</span>', html))


def pick(page, model_id: str) -> None:
    before = ready(page)
    page.select_option("#model-select", model_id)
    wait_ready(page, before + 1)


def probabilities(page) -> dict[str, float]:
    return dict(page.eval_on_selector_all(
        "section.kind-output li.class",
        "items => items.map(li => [li.querySelector('.name').textContent,"
        " Number(li.dataset.probability)])"))


def crop(path, name: str, box: tuple[int, int, int, int]) -> None:
    with Image.open(path) as image:
        image.crop(box).save(ARTIFACTS / f"{name}.png")


@pytest.fixture(scope="module")
def tfjs_files(tmp_path_factory) -> dict[str, bytes]:
    """A small TF.js layers model whose weights lie in two shards (split mid-tensor)."""
    model = (Sequential((16, 16, 3), seed=3).conv("conv", 4, activation="relu")
             .pool("pool", "MaxPooling2D").flatten().dense("dense", 5).softmax("probs"))
    text, shard = model.files()
    document = json.loads(text)
    document["weightsManifest"][0]["paths"] = ["group1-shard1of2.bin", "group1-shard2of2.bin"]
    half = len(shard) // 2 + 2  # not on a float's boundary: the bytes are joined, not the floats
    return {"model.json": json.dumps(document).encode(), "group1-shard1of2.bin": shard[:half],
            "group1-shard2of2.bin": shard[half:]}


def as_files(files: dict[str, bytes]) -> list[dict]:
    return [{"name": name, "mimeType": "application/octet-stream", "buffer": data}
            for name, data in files.items()]


def test_the_picker_lists_the_catalogue_and_the_article_starts_with_the_bundled_numbers(page):
    options = page.eval_on_selector_all("#model-select option:not([hidden])",
                                        "os => os.map(o => o.value)")
    assert options == [entry["id"] for entry in CATALOGUE if not entry["untrained"]] + [
        entry["id"] for entry in CATALOGUE if entry["untrained"]]
    assert page.input_value("#model-select") == CATALOGUE[0]["id"]
    assert page.locator("#model-badge").is_hidden()
    # The page's own numbers for the bundled model are the static text, word for word.
    assert facts(page) == static_facts()
    assert static_facts()["input-shape"] == "1 × 28 × 28"


def test_cnn_explainer_opens_with_its_examples_and_the_engines_probabilities(
        page, tmp_path_factory):
    pick(page, "cnn-explainer")
    assert page.locator("#message").is_hidden()
    assert page.locator("section.kind-input canvas.tile").count() == 3
    assert page.locator("#image-name").text_content() == "boat_1.png"
    own = json.loads((CNN_EXPLAINER / "index.json").read_text())
    sources = page.eval_on_selector_all("#examples img", "imgs => imgs.map(i => i.src)")
    assert [s.rsplit("/", 2)[-2:] for s in sources] == [["cnn-explainer", e["file"]] for e in own]
    assert page.locator("#model-badge").is_hidden()
    assert "model=cnn-explainer" in page.url
    reference = engine_reference(tmp_path_factory.mktemp("reference"), REFERENCE, [])
    shown = probabilities(page)
    assert len(shown) == 10
    np.testing.assert_allclose(list(shown.values()), reference["probabilities"], rtol=0,
                               atol=TOLERANCE)
    numbers = facts(page)
    assert numbers["input-shape"] == "3 × 64 × 64"
    assert numbers["input-size"] == "64 × 64"
    assert numbers["input-channels"] == "three channels (red, green, blue)"
    assert numbers["conv-shape"] == "10 × 62 × 62"  # CNN Explainer's convolutions are unpadded
    assert numbers["model-name"] != static_facts()["model-name"]
    page.set_viewport_size({"width": 1280, "height": 800})
    path = screenshot(page, "model-picker-cnn-explainer-1280")
    crop(path, "model-picker-cnn-explainer-1280-top", (0, 0, 1280, 800))
    page.set_viewport_size({"width": 390, "height": 844})
    path = screenshot(page, "model-picker-cnn-explainer-390")
    crop(path, "model-picker-cnn-explainer-390-top", (0, 0, 390, 844))
    page.set_viewport_size({"width": 1280, "height": 800})


def test_the_link_restores_the_model_after_a_reload(page):
    page.reload()
    wait_ready(page, 2)  # the bundled model's first example, then the linked model
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    assert page.input_value("#model-select") == "cnn-explainer"
    assert page.locator("section.kind-input canvas.tile").count() == 3
    assert page.locator("#image-name").text_content() == "boat_1.png"
    # An example of its own, chosen in the link, is restored too.
    before = ready(page)
    page.evaluate("location.hash = 'model=cnn-explainer&image=koala_1.png'")
    wait_ready(page, before + 1)
    assert page.locator("#image-name").text_content() == "koala_1.png"


def test_an_unknown_id_in_a_link_is_said_and_the_model_stays(page):
    before = ready(page)
    page.evaluate("location.hash = 'model=no-such-net'")
    page.locator("#message").wait_for(state="visible")
    message = page.locator("#message").text_content()
    assert "no-such-net" in message and "not in this site's catalogue" in message
    assert ready(page) == before
    assert page.input_value("#model-select") == "cnn-explainer"


def test_a_model_json_and_its_shards_picked_together_open(page, tfjs_files):
    before = ready(page)
    page.set_input_files("#open-model", files=as_files(tfjs_files))
    wait_ready(page, before + 1)
    assert page.locator("#message").is_hidden()
    assert sorted(probabilities(page)) == [f"class {k}" for k in range(5)]
    assert page.input_value("#model-select") == ""  # "Your model"
    assert "model.json" in page.locator("#model-own").text_content()
    assert facts(page)["input-shape"] == "3 × 16 × 16"


def test_a_missing_shard_is_named_and_nothing_changes(page, tfjs_files):
    before = ready(page)
    partial = {k: v for k, v in tfjs_files.items() if k != "group1-shard2of2.bin"}
    page.set_input_files("#open-model", files=as_files(partial))
    page.locator("#message").wait_for(state="visible")
    message = page.locator("#message").text_content()
    assert "group1-shard2of2.bin" in message and "group1-shard1of2.bin" not in message
    assert ready(page) == before


def test_a_model_json_and_its_shards_dropped_together_open(page, tfjs_files):
    pick(page, "fashion-mnist")
    before = ready(page)
    page.evaluate("""files => {
      const transfer = new DataTransfer();
      for (const [name, bytes] of files) {
        transfer.items.add(new File([new Uint8Array(bytes)], name));
      }
      document.body.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
    }""", [[name, list(data)] for name, data in reversed(tfjs_files.items())])
    wait_ready(page, before + 1)
    assert page.locator("#message").is_hidden()
    assert sorted(probabilities(page)) == [f"class {k}" for k in range(5)]


def test_a_gallery_net_opens_labelled_untrained_on_the_current_image(page):
    pick(page, "cnn-explainer")
    image = page.locator("#image-name").text_content()
    pick(page, "lenet5")
    assert page.locator("#message").is_hidden()
    assert page.locator("#model-badge").is_visible()
    assert "untrained" in page.locator("#model-badge").text_content()
    note = page.locator("#model-note").text_content()
    assert "random" in note and "no examples of its own" in note and "1 × 32 × 32" in note
    assert page.locator("#image-name").text_content() == image  # the current image, resized
    assert facts(page)["input-shape"] == "1 × 32 × 32"
    assert "model=lenet5" in page.url
    path = screenshot(page, "model-picker-lenet5-1280")
    crop(path, "model-picker-lenet5-1280-top", (0, 0, 1280, 800))


def test_a_net_over_the_budget_is_refused_and_the_model_stays(page):
    before = ready(page)
    page.select_option("#model-select", "vgg16")
    page.locator("#message").wait_for(state="visible")
    assert "over the limit" in page.locator("#message").text_content()
    page.wait_for_function("!document.querySelector('#model-select').disabled")
    assert ready(page) == before
    assert page.input_value("#model-select") == "lenet5"
    assert page.locator("#model-badge").is_visible()


def test_no_content_security_policy_violation(page):
    assert not [m for m in page.console if "Content Security Policy" in m]


def test_an_embed_shows_the_linked_model(browser, site):
    frame = browser.context.new_page()
    frame.goto(site + "embed.html#view=overview&model=cnn-explainer&image=koala_1.png")
    wait_ready(frame, 1)
    assert frame.locator("section.kind-input canvas.tile").count() == 3
    assert frame.locator("#embed-status").is_hidden()
    frame.close()


def test_an_embed_with_an_unknown_model_says_so_and_shows_the_bundled_one(browser, site):
    frame = browser.context.new_page()
    frame.goto(site + "embed.html#view=overview&model=no-such-net")
    wait_ready(frame, 1)
    assert frame.locator("section.kind-input canvas.tile").count() == 1
    status = frame.locator("#embed-status").text_content()
    assert "no-such-net" in status and "bundled model" in status
    frame.close()
