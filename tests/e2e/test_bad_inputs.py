"""Bad images (tests/bad_inputs.py) uploaded through `#upload` and broken models
(tests/bad_models.py) opened through `#open-model`, in one booted page.

Every file either updates the view (and then agrees with the CLI) or shows a specific
message in `#message` while the previous view stays exactly as it was. The huge photo is
also timed: Python decodes it in the worker, so the main thread must stay responsive.
Opening a model sends no request, good or bad. The relabelled good model opens last.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.bad_inputs import HUGE_SIZE, ImageCase, write_bad_images
from tests.bad_models import bad_model_files
from tests.paths import BUNDLED_MODEL

from .conftest import ROOT, wait_ready

HUGE = f"huge-{HUGE_SIZE[0]}x{HUGE_SIZE[1]}.jpg"
MAX_ANSWER_S = 5.0  # the page's answer for the huge photo, generous for slow CI machines
MAX_LONG_TASK_MS = 1000  # "decoding never blocks the page for more than a second"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[ImageCase]]:
    folder = tmp_path_factory.mktemp("bad_images")
    return folder, write_bad_images(folder)


@pytest.fixture(scope="module")
def cli(corpus) -> dict[str, dict]:
    folder, cases = corpus
    good = [folder / c.name for c in cases if c.refused is None]
    out = subprocess.run(
        [sys.executable, "-m", "cnnlens", "predict", str(BUNDLED_MODEL), *map(str, good),
         "--json"], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return {Path(r["image"]).name: r for r in map(json.loads, out.splitlines())}


@pytest.fixture(scope="module")
def page(browser, site):
    page = browser.context.new_page()
    # Main-thread tasks over 50 ms, recorded from the start (the Long Tasks API).
    page.add_init_script("""
        window.__longTasks = [];
        new PerformanceObserver(list => {
            for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
        }).observe({type: 'longtask', buffered: true});
    """)
    page.goto(site + "index.html")
    wait_ready(page, 1)
    return page


def ready_count(page) -> int:
    return int(page.evaluate("document.documentElement.dataset.cnnlensReady"))


def shown(page) -> dict:
    """Everything a refusal must leave alone: top-1, image name, probabilities, tiles."""
    return page.evaluate("""() => ({
        top1: document.querySelector('[data-testid=top1]').textContent,
        image: document.getElementById('image-name').textContent,
        classes: [...document.querySelectorAll('section.kind-output li.class')].map(li =>
            [li.querySelector('.name').textContent, li.dataset.probability]),
        tiles: [...document.querySelectorAll('section.column canvas.tile')].slice(0, 12).map(c =>
            Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)),
    })""")


def assert_matches_cli(page, expected: dict) -> None:
    """Same top-1 and probabilities. JPEG decoding differs slightly between the libjpeg
    builds of Pyodide's Pillow and the CLI's (most at reduced DCT scale), so JPEG pictures
    get a looser tolerance than lossless ones."""
    state = shown(page)
    lossy = expected["image"].endswith(".jpg")
    assert state["top1"] == expected["top1"]
    got = {name: float(p) for name, p in state["classes"]}
    want = dict(zip(expected["classes"], expected["probabilities"], strict=True))
    assert got.keys() == want.keys()
    names = sorted(want)
    np.testing.assert_allclose([got[n] for n in names], [want[n] for n in names],
                               rtol=1e-5, atol=2e-3 if lossy else 1e-7)


def upload(page, path: Path) -> None:
    page.set_input_files("#upload", str(path))


# CI uploads a sample in the page: the first file Pillow decodes, one of each kind of refusal
# and of picture Pillow must convert (tests/test_bad_images.py runs them all in CPython); the
# rest are a slow variant.
SAMPLE = ("truncated.jpg", "zero-byte.png", "bomb-50000x50000.png", "cmyk.jpg",
          "exif-rotated.jpg", "animated.gif", "drawing.svg", "random.bin")


def test_a_sample_of_bad_images_in_the_page(page, browser, corpus, cli):
    """The first file Pillow decodes here (`truncated.jpg`) also loads it (py/worker.py):
    a broken file's message is the same when Pillow was not loaded yet."""
    folder, cases = corpus
    pillow = "/build/vendor/pyodide/pillow-"
    assert not any(pillow in url for url in browser.requests)
    sample = sorted((c for c in cases if c.name in SAMPLE), key=lambda c: SAMPLE.index(c.name))
    assert [c.name for c in sample] == list(SAMPLE)
    upload_each(page, folder, sample, cli)
    assert any(pillow in url for url in browser.requests)


@pytest.mark.slow
def test_every_other_bad_image_in_the_page(page, corpus, cli):
    folder, cases = corpus
    upload_each(page, folder, [c for c in cases if c.name not in SAMPLE], cli)


def upload_each(page, folder: Path, cases: list[ImageCase], cli: dict[str, dict]) -> None:
    """Each file updates the view and agrees with the CLI, or is refused with its message
    and leaves the view as it was."""
    for case in cases:
        before, state = ready_count(page), shown(page)
        if case.refused is None:
            upload(page, folder / case.name)
            wait_ready(page, before + 1)
            assert page.locator("#message").is_hidden()
            assert shown(page)["image"] == case.name
            assert_matches_cli(page, cli[case.name])
        else:
            # Blank the message text only (not Python's state), so a repeat is noticed.
            page.evaluate("document.getElementById('message').textContent = ''")
            upload(page, folder / case.name)
            page.wait_for_function(
                "document.getElementById('message').textContent.length > 0", timeout=10_000)
            message = page.locator("#message")
            assert message.is_visible()
            assert case.refused in message.text_content().lower(), message.text_content()
            assert ready_count(page) == before
            assert shown(page) == state, f"{case.name} changed the view"


def test_the_huge_photo_never_blocks_the_page(page, corpus, cli):
    folder, _ = corpus
    page.evaluate("window.__longTasks = []")
    before = ready_count(page)
    start = time.perf_counter()
    upload(page, folder / HUGE)
    wait_ready(page, before + 1)
    answer_s = time.perf_counter() - start
    longest = max((d for _, d in page.evaluate("window.__longTasks")), default=0.0)
    print(f"\n{HUGE}: page answered in {answer_s:.2f} s; longest main-thread task "
          f"{longest:.0f} ms")
    assert_matches_cli(page, cli[HUGE])
    assert answer_s < MAX_ANSWER_S
    assert longest < MAX_LONG_TASK_MS


# One of each kind of failure (the whole corpus runs in tests/test_bad_models.py).
BAD = ["truncated-at-500.onnx", "graph-as-varint.onnx", "giant-tensor.onnx",
       "giant-padding.onnx", "cycle.onnx", "unsupported-ops.onnx", "int-input.onnx",
       "empty-graph.onnx"]
NAMES = [f"kind <{i}>" for i in range(10)]


def relabelled(tmp: Path) -> Path:
    model = onnx.load(str(BUNDLED_MODEL))
    props = {p.key: p.value for p in model.metadata_props}
    props["cnnlens.classes"] = json.dumps(NAMES)
    onnx.helper.set_model_props(model, props)
    path = tmp / "relabelled.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_broken_models_are_refused_and_the_view_stays(page, browser, tmp_path):
    cases = bad_model_files()
    seen = len(browser.requests)
    for name in BAD:
        before, state = ready_count(page), shown(page)
        path = tmp_path / name
        path.write_bytes(cases[name].data)
        page.evaluate("document.getElementById('message').textContent = ''")
        page.set_input_files("#open-model", str(path))
        page.wait_for_function(
            "document.getElementById('message').textContent.length > 0", timeout=10_000)
        message = page.locator("#message").text_content()
        assert message.startswith(f"the model {name} could not"), message
        for word in cases[name].words:
            assert word in message.lower(), message
        assert ready_count(page) == before
        assert shown(page) == state, f"{name} changed the view"
    assert browser.requests[seen:] == []


def test_a_good_model_replaces_the_model_and_keeps_the_image(page, browser, tmp_path):
    image = shown(page)["image"]
    seen = len(browser.requests)
    before = ready_count(page)
    page.set_input_files("#open-model", str(relabelled(tmp_path)))
    wait_ready(page, before + 1)
    state = shown(page)
    assert sorted(name for name, _ in state["classes"]) == sorted(NAMES)
    assert state["top1"] in NAMES
    assert state["image"] == image
    assert page.locator("#message").is_hidden()
    page.wait_for_timeout(500)
    assert browser.requests[seen:] == []
