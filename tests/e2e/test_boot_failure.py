"""A model that cannot be read stops the boot with a clear message, not a blank page."""

from __future__ import annotations

from tests.paths import BUNDLED_MODEL as MODEL

from .conftest import BOOT_TIMEOUT_MS, screenshot


def test_a_corrupt_bundled_model_is_reported_on_the_boot_screen(browser, site):
    truncated = MODEL.read_bytes()[:1000]
    browser.context.route("**/tinyvgg-fashion-mnist.onnx",
                          lambda route: route.fulfill(status=200, body=truncated))
    page = browser.context.new_page()
    page.goto(site + "index.html")
    page.wait_for_function("document.documentElement.dataset.cnnlensFailed",
                           timeout=BOOT_TIMEOUT_MS)
    label = page.locator("#boot-label").text_content()
    assert label.startswith("cnnlens could not start: the model tinyvgg-fashion-mnist.onnx")
    assert "bytes but only" in label, label
    assert "Traceback" not in label
    assert page.locator("#app").is_hidden()
    screenshot(page, "foundation-boot-failure")
    page.close()
