"""The first page end to end: boot, overview, CLI agreement, uploads, bad input, no leaks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.paths import BUNDLED_MODEL as MODEL
from tests.paths import EXAMPLES

from .conftest import ROOT, screenshot, wait_ready


def cli_predict(*images: Path) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "cnnlens", "predict", str(MODEL), *map(str, images), "--json"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def shown_classes(page) -> list[dict]:
    return page.eval_on_selector_all(
        "section.kind-output li.class",
        "items => items.map(li => ({name: li.querySelector('.name').textContent,"
        " probability: Number(li.dataset.probability), top: li.classList.contains('top')}))",
    )


def tile_pixels(page, layer: str) -> list[list[int]]:
    """RGBA bytes read back from every tile canvas of one column."""
    return page.eval_on_selector_all(
        f"section.column[data-layer='{layer}'] canvas.tile",
        "cs => cs.map(c => Array.from(c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data))",
    )




def ready_count(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def first_example() -> Path:
    return EXAMPLES / json.loads((EXAMPLES / "index.json").read_text())[0]["file"]


def test_boot_draws_every_layer_with_one_tile_per_channel(page):
    from cnnlens.forward import run
    from cnnlens.model_card import model_card
    from cnnlens.onnx_reader import read_model
    from cnnlens.preprocess import preprocess

    model = read_model(MODEL.read_bytes())
    x = preprocess(first_example().read_bytes(), model_card(model).preprocessing)
    result = run(model, x)
    expected = {
        name: t.shape[1] for name, t in result.tensors.items()
        if t.ndim == 4 and name != result.input_name
    }
    shown = page.eval_on_selector_all(
        "section.column[data-kind]:not([data-kind=output]):not([data-kind=input])",
        "cs => cs.map(c => [c.dataset.layer, c.querySelectorAll('canvas.tile').length])",
    )
    assert dict(shown) == expected
    assert [name for name, _ in shown] == list(expected)
    assert page.locator("section.kind-input canvas.tile").count() == x.shape[1]
    assert page.locator("section.kind-output li.class").count() == 10
    screenshot(page, "foundation-overview")


def by_name(prediction: dict) -> dict[str, float]:
    return dict(zip(prediction["classes"], prediction["probabilities"], strict=True))


def assert_same_probabilities(page, prediction: dict) -> None:
    shown = {c["name"]: c["probability"] for c in shown_classes(page)}
    expected = by_name(prediction)
    assert shown.keys() == expected.keys()
    names = sorted(shown)
    np.testing.assert_allclose([shown[n] for n in names], [expected[n] for n in names],
                               rtol=1e-5, atol=1e-7)


def test_prediction_matches_the_cli(page):
    expected = cli_predict(first_example())[0]
    shown = shown_classes(page)
    assert_same_probabilities(page, expected)
    assert page.get_by_test_id("top1").text_content() == expected["top1"]
    assert [c["name"] for c in shown if c["top"]] == [expected["top1"]]


def test_every_example_matches_the_cli(page):
    files = [e["file"] for e in json.loads((EXAMPLES / "index.json").read_text())]
    expected = {Path(r["image"]).name: r for r in cli_predict(*(EXAMPLES / f for f in files[:6]))}
    for file in files[:6]:
        before = ready_count(page)
        page.click(f"button.example[data-file='{file}']")
        wait_ready(page, before + 1)
        assert page.get_by_test_id("top1").text_content() == expected[file]["top1"]
        assert_same_probabilities(page, expected[file])


def _light_background_png(tmp: Path) -> Path:
    """A dark trouser-like shape on white, bigger than 28×28 and not square (RGBA)."""
    canvas = np.full((90, 60, 4), 255, np.uint8)
    canvas[10:85, 18:28, :3] = 30
    canvas[10:85, 32:42, :3] = 30
    canvas[10:20, 18:42, :3] = 30
    path = tmp / "drawn trousers.png"
    Image.fromarray(canvas, "RGBA").save(path)
    return path


def pillow_fetched(browser) -> bool:
    """Whether the worker has fetched Pillow's wheel (`loadPackage`) in this browser."""
    return any("/build/vendor/pyodide/pillow-" in url for url in browser.requests)


def test_boot_and_the_examples_need_no_pillow(page, browser):
    """Runs after the examples above: their pixels come from the folder's pack, once."""
    assert any("/build/vendor/pyodide/numpy-" in url for url in browser.requests)
    assert not pillow_fetched(browser)
    assert sum(url.endswith("/fashion-mnist/examples.bin") for url in browser.requests) == 1


def test_upload_changes_the_view_and_matches_the_cli(page, browser, tmp_path):
    """The first upload loads Pillow (py/worker.py) and is then answered."""
    assert not pillow_fetched(browser)
    image = _light_background_png(tmp_path)
    expected = cli_predict(image)[0]
    before = ready_count(page)
    pixels_before = tile_pixels(page, "conv_1_1")
    page.set_input_files("#upload", str(image))
    wait_ready(page, before + 1)
    assert page.get_by_test_id("top1").text_content() == expected["top1"]
    assert_same_probabilities(page, expected)
    assert tile_pixels(page, "conv_1_1") != pixels_before
    assert page.locator("#image-name").text_content() == image.name
    assert pillow_fetched(browser)
    screenshot(page, "foundation-after-upload")


def test_drag_and_drop_an_image(page):
    png = io.BytesIO()
    Image.fromarray(np.tile(np.arange(28, dtype=np.uint8) * 9, (28, 1)), "L").save(png, "PNG")
    before = ready_count(page)
    page.evaluate(
        """bytes => {
            const file = new File([new Uint8Array(bytes)], 'gradient.png', {type: 'image/png'});
            const dt = new DataTransfer();
            dt.items.add(file);
            const init = {dataTransfer: dt, bubbles: true, cancelable: true};
            document.body.dispatchEvent(new DragEvent('drop', init));
        }""",
        list(png.getvalue()),
    )
    wait_ready(page, before + 1)
    assert page.locator("#message").is_hidden()


def test_a_text_file_is_refused_and_the_view_stays(page, tmp_path):
    before = ready_count(page)
    top1 = page.get_by_test_id("top1").text_content()
    probabilities = shown_classes(page)
    pixels = tile_pixels(page, "relu_1_1")
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not an image, just some text\n")
    page.set_input_files("#upload", str(bogus))
    message = page.locator("#message")
    message.wait_for(state="visible", timeout=10_000)
    assert "not an image" in message.text_content().lower()
    assert ready_count(page) == before
    assert page.get_by_test_id("top1").text_content() == top1
    assert shown_classes(page) == probabilities
    assert tile_pixels(page, "relu_1_1") == pixels
    screenshot(page, "foundation-bad-upload")


def test_colour_range_switch_repaints(page):
    before = ready_count(page)
    pixels = tile_pixels(page, "conv_2_1")
    page.select_option("#range-mode", "neuron")
    wait_ready(page, before + 1)
    assert tile_pixels(page, "conv_2_1") != pixels


def test_boot_goes_through_its_stages_in_order(page):
    marks = page.evaluate(
        "performance.getEntriesByType('mark').filter(m => m.name.startsWith('cnnlens:stage:'))"
        ".map(m => m.name.slice('cnnlens:stage:'.length))")
    assert marks == ["runtime", "packages", "model", "forward", "draw"]
    assert page.locator("#boot").is_hidden()
    assert page.locator("#app").is_visible()


def _awkward_images(tmp: Path) -> list[tuple[Path, bool]]:
    """Image files in modes a camera, a scanner or an editor produce: (path, lossless)."""
    rng = np.random.default_rng(7)
    shape = np.zeros((40, 30), np.uint8)
    shape[5:35, 8:22] = 200
    files = []
    palette = Image.fromarray(shape // 100).convert("P")
    palette.putpalette([0, 0, 0, 255, 255, 255, 120, 120, 120] + [0] * 759)
    palette.info["transparency"] = 0
    files.append((tmp / "palette-transparent.png", palette, True))
    wide = (shape.astype(np.uint16) * 257 + rng.integers(0, 200, shape.shape)).astype(np.uint16)
    files.append((tmp / "grey-16-bit.png", Image.fromarray(wide), True))
    files.append((tmp / "grey-alpha.png",
                  Image.fromarray(np.dstack([shape, np.full_like(shape, 255)])), True))
    files.append((tmp / "cmyk.jpg", Image.fromarray(shape).convert("CMYK"), False))
    rotated = Image.fromarray(shape.T.copy())
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: viewers rotate 90° clockwise
    files.append((tmp / "exif-rotated.jpg", rotated, False))
    for path, image, _ in files:
        image.save(path, exif=exif) if path.name.startswith("exif") else image.save(path)
    return [(path, lossless) for path, _, lossless in files]


def test_uploads_in_awkward_modes_match_the_cli(page, tmp_path):
    images = _awkward_images(tmp_path)
    expected = {Path(r["image"]).name: r for r in cli_predict(*(p for p, _ in images))}
    for path, lossless in images:
        before = ready_count(page)
        page.set_input_files("#upload", str(path))
        wait_ready(page, before + 1)
        assert page.locator("#image-name").text_content() == path.name
        assert page.get_by_test_id("top1").text_content() == expected[path.name]["top1"]
        if lossless:
            assert_same_probabilities(page, expected[path.name])


def test_no_request_left_127_0_0_1(page, browser):
    """Runs last in this module: everything above (boot, examples, uploads) stayed local."""
    assert browser.requests, "the recorder saw no requests at all"
    assert browser.outside_requests() == []
