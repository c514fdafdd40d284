"""The preprocessing form in the page: a model without preprocessing metadata opens it with
its defaults; what the reader applies reaches the network's input (the worker's own first
convolution inputs, against NumPy by hand), goes into the link and comes back on reload;
a bad value is said in the form and nothing changes."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image

from tests.onnx_builders import ModelBuilder
from tests.paths import ROOT

from .conftest import ARTIFACTS, wait_ready

FORM = "[data-testid=preprocess-form]"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PIXELS = np.random.default_rng(14).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)

# The padded input channels of a convolution's channel 0, as the worker packs them for its
# detail view (py/cnnlens/views/conv.py `inputs`), asked through the page's own client.
CONV_INPUTS = """async (layer) => {
  const answer = await window.cnnlens.client.ask("detail", layer, 0);
  const { offset, shape } = answer.view.arrays.inputs;
  const raw = answer.numbers;
  const floats = raw instanceof Float32Array ? raw
    : new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const count = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Array.from(floats.slice(offset, offset + count)) };
}"""


def by_hand(pixels: np.ndarray, mean, std, divide: float = 255.0, pad: int = 1) -> np.ndarray:
    """(H, W, C) uint8 → (C, H + 2 pad, W + 2 pad): (pixels / divide - mean) / std, padded
    with zeros as the convolution pads."""
    chw = pixels.astype(np.float64).transpose(2, 0, 1)
    x = (chw / divide - np.reshape(mean, (-1, 1, 1))) / np.reshape(std, (-1, 1, 1))
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad)))


def view_shot(page, name: str, width: int, height: int) -> None:
    """What a reader sees of the form at this window size (tests/artifacts/, to look at)."""
    page.set_viewport_size({"width": width, "height": height})
    page.locator(FORM).scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))


def conv_inputs(page, layer: str) -> np.ndarray:
    got = page.evaluate(CONV_INPUTS, layer)
    return np.asarray(got["values"], np.float64).reshape(got["shape"])


def ready(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def link_keys(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).fragment).items()}


def fields(page) -> dict[str, str]:
    return page.eval_on_selector(
        FORM, "f => Object.fromEntries(['size', 'mean', 'std', 'order', 'pixels']"
              ".map(n => [n, f.elements[n].value]))")


def fill(page, **values: str) -> None:
    for name, value in values.items():
        if name in ("order", "pixels"):
            page.select_option(f"{FORM} [name={name}]", value)
        else:
            page.fill(f"{FORM} [name={name}]", value)


def apply(page) -> None:
    before = ready(page)
    page.click(f"{FORM} button[type=submit]")
    wait_ready(page, before + 1)
    page.wait_for_function("f => !f.dataset.busy", arg=page.query_selector(FORM))


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def plain_model() -> bytes:
    """8×8 RGB in, Conv (named `conv`) → Relu → GlobalAveragePool → Flatten: no metadata."""
    b = ModelBuilder((1, 3, 8, 8))
    y = b.add("Conv", [b.input, b.weight((2, 3, 3, 3))], outputs=["conv"], pads=[1, 1, 1, 1])
    y = b.add("GlobalAveragePool", [b.add("Relu", [y])])
    b.add("Flatten", [y])
    return b.build().SerializeToString()


@pytest.fixture(scope="module")
def opened(page, plain_model):
    """The page showing the plain model on the 8×8 noise picture."""
    before = ready(page)
    page.set_input_files("#upload", files=[{"name": "noise.png", "mimeType": "image/png",
                                            "buffer": png(PIXELS)}])
    wait_ready(page, before + 1)
    page.set_input_files("#open-model", files=[{"name": "plain.onnx", "mimeType":
                                                "application/octet-stream",
                                                "buffer": plain_model}])
    wait_ready(page, before + 2)
    page.locator(FORM).wait_for(state="visible")
    return page


def test_the_bundled_model_says_its_preprocessing_so_no_form_opens(page):
    assert page.locator(FORM).is_hidden()
    assert page.get_attribute("#preprocess-button", "aria-expanded") == "false"


def test_a_model_without_metadata_opens_the_form_with_its_defaults(opened):
    page = opened
    assert page.locator("#message").is_hidden()
    assert fields(page) == {"size": "8 × 8", "mean": "0, 0, 0", "std": "1, 1, 1",
                            "order": "RGB", "pixels": "0-1"}
    assert page.eval_on_selector(f"{FORM} [name=size]", "i => i.readOnly")
    assert "does not say how its pictures were prepared" in page.locator(FORM).text_content()
    np.testing.assert_allclose(conv_inputs(page, "conv"), by_hand(PIXELS, 0, 1), rtol=1e-6)
    assert not any(key.startswith("pre-") for key in link_keys(page))
    view_shot(page, "preprocess-form", 390, 844)
    view_shot(page, "preprocess-form", 1280, 800)


def test_mean_and_std_reach_the_network_input_and_the_link(opened):
    page = opened
    page.click(f"{FORM} [data-preset=imagenet]")
    assert fields(page)["mean"] == "0.485, 0.456, 0.406"
    apply(page)
    assert page.locator(f"{FORM} [data-part=error]").is_hidden()
    expected = by_hand(PIXELS, IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(conv_inputs(page, "conv"), expected, rtol=1e-5, atol=1e-6)
    keys = link_keys(page)
    assert keys["pre-mean"] == "0.485,0.456,0.406" and keys["pre-std"] == "0.229,0.224,0.225"
    assert keys["pre-order"] == "RGB" and keys["pre-pixels"] == "0-1"
    assert keys["pre-size"] == "8x8"
    assert "You set this preprocessing" in page.locator(FORM).text_content()


def test_bgr_and_0_255_pixels(opened):
    page = opened
    fill(page, order="BGR", pixels="0-255", mean="104, 117, 123", std="1")
    apply(page)
    expected = by_hand(PIXELS[..., ::-1], (104, 117, 123), 1, divide=1.0)
    np.testing.assert_allclose(conv_inputs(page, "conv"), expected, rtol=1e-6)
    assert link_keys(page)["pre-order"] == "BGR"


@pytest.mark.parametrize(("field", "text", "message"), [
    ("std", "0", "std must be positive"),
    ("mean", "abc", "'abc' is not a number"),
    ("mean", "1, 2", "mean needs 3 number(s)"),
])
def test_a_bad_value_is_said_and_nothing_changes(opened, field, text, message):
    page = opened
    before_values, before_link, drawn = conv_inputs(page, "conv"), page.url, ready(page)
    fill(page, **{field: text})
    page.click(f"{FORM} button[type=submit]")
    error = page.locator(f"{FORM} [data-part=error]")
    # The form keeps an earlier case's message until this answer arrives: wait for this one.
    page.wait_for_function("([box, text]) => !box.hidden && box.textContent.includes(text)",
                           arg=[error.element_handle(), message])
    assert "The preprocessing was not applied" in error.text_content()
    assert ready(page) == drawn and page.url == before_link
    np.testing.assert_array_equal(conv_inputs(page, "conv"), before_values)


def test_the_models_own_comes_back(opened):
    page = opened
    before = ready(page)
    page.click(f"{FORM} [data-action=reset]")
    wait_ready(page, before + 1)
    page.wait_for_function("f => f.dataset.source === 'defaults'", arg=page.query_selector(FORM))
    assert fields(page)["mean"] == "0, 0, 0"
    np.testing.assert_allclose(conv_inputs(page, "conv"), by_hand(PIXELS, 0, 1), rtol=1e-6)
    assert not any(key.startswith("pre-") for key in link_keys(page))


def test_a_model_of_any_input_size_takes_the_size_typed(opened, plain_model):
    page = opened
    b = ModelBuilder((1, 3, "H", "W"))
    y = b.add("Conv", [b.input, b.weight((2, 3, 3, 3))], outputs=["conv"], pads=[1, 1, 1, 1])
    b.add("Flatten", [b.add("GlobalAveragePool", [y])])
    before = ready(page)
    page.set_input_files("#open-model", files=[{"name": "any-size.onnx", "mimeType":
                                                "application/octet-stream",
                                                "buffer": b.build().SerializeToString()}])
    wait_ready(page, before + 1)
    page.wait_for_function("f => !f.hidden && f.dataset.source === 'defaults'",
                           arg=page.query_selector(FORM))
    assert not page.eval_on_selector(f"{FORM} [name=size]", "i => i.readOnly")
    assert fields(page)["size"] == "224 × 224"
    fill(page, size="16x12")
    apply(page)
    assert conv_inputs(page, "conv").shape == (3, 18, 14)  # 16 × 12, padded by one
    assert page.locator(FORM).is_visible() and fields(page)["size"] == "16 × 12"
    assert link_keys(page)["pre-size"] == "16x12"
    fill(page, size="-5")
    page.click(f"{FORM} button[type=submit]")
    page.locator(f"{FORM} [data-part=error]").wait_for(state="visible")
    assert conv_inputs(page, "conv").shape == (3, 18, 14)
    before = ready(page)
    page.set_input_files("#open-model", files=[{"name": "plain.onnx", "mimeType":
                                                "application/octet-stream",
                                                "buffer": plain_model}])
    wait_ready(page, before + 1)


def test_a_link_to_a_users_own_model_does_not_carry_its_preprocessing_to_another(
        browser, site, opened):
    page = opened
    fill(page, mean="0.5", std="0.25")
    apply(page)
    other = browser.context.new_page()
    other.goto(page.url)
    wait_ready(other, 1)
    other.wait_for_function("document.documentElement.dataset.cnnlensBooted")
    other.locator("#message").wait_for(state="visible")
    assert "plain.onnx" in other.locator("#message").text_content()
    assert other.locator(FORM).is_hidden()
    other.close()


def test_a_catalogue_models_card_shows_and_the_readers_values_survive_a_reload(browser, site):
    page = browser.context.new_page()
    page.goto(site + "index.html#model=cnn-explainer")
    wait_ready(page, 1)
    page.wait_for_function("document.documentElement.dataset.cnnlensBooted")  # link restored
    assert page.input_value("#model-select") == "cnn-explainer"
    page.click("#preprocess-button")
    page.locator(FORM).wait_for(state="visible")
    assert fields(page) == {"size": "64 × 64", "mean": "0, 0, 0", "std": "1, 1, 1",
                            "order": "RGB", "pixels": "0-1"}
    assert "what the model's card says" in page.locator(FORM).text_content()
    layer = "conv_1_1"
    image = page.locator("#image-name").text_content()
    pixels = np.asarray(Image.open(ROOT / "assets/images/cnn-explainer" / image).convert("RGB"))
    fill(page, mean="0.5, 0.4, 0.3", std="0.2, 0.25, 0.5")
    apply(page)
    shown = conv_inputs(page, layer)
    link = page.url
    assert link_keys(page)["pre-mean"] == "0.5,0.4,0.3"
    page.close()

    again = browser.context.new_page()
    again.goto(link)
    wait_ready(again, 1)
    again.wait_for_function("document.documentElement.dataset.cnnlensBooted")  # link restored
    assert again.input_value("#model-select") == "cnn-explainer"
    again.click("#preprocess-button")
    again.locator(FORM).wait_for(state="visible")
    again.wait_for_function("f => f.dataset.source === 'reader'", arg=again.query_selector(FORM))
    assert fields(again)["mean"] == "0.5, 0.4, 0.3" and fields(again)["std"] == "0.2, 0.25, 0.5"
    restored = conv_inputs(again, layer)
    np.testing.assert_array_equal(restored, shown)
    assert pixels.shape == (64, 64, 3)  # the model's size: nothing resampled to mirror
    np.testing.assert_allclose(restored, by_hand(pixels, (0.5, 0.4, 0.3), (0.2, 0.25, 0.5),
                                                 pad=0), rtol=1e-5, atol=1e-6)
    again.close()
