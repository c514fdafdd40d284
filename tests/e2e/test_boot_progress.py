"""The boot shows the runtime's download in bytes and percent, downloads it once, marks each
stage once (bench/boot.py reads the marks); and the calm input note comes and goes."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.e2e.conftest import wait_ready
from tests.paths import ROOT

PYODIDE = ROOT / "build" / "vendor" / "pyodide"
RUNTIME = ("pyodide.asm.wasm", "python_stdlib.zip")
PHOTO = ROOT / "assets" / "images" / "cnn-explainer" / "pepper_1.png"
LABEL = re.compile(r"^Downloading the Python runtime… (\d+\.\d) of (\d+\.\d) MB \((\d+)%\)$")
# Every text the boot label shows and every value of the bar, in order.
RECORD = """
window.__boot = [];
new MutationObserver(() => {
  const label = document.getElementById("boot-label");
  const bar = document.getElementById("boot-progress");
  if (label && bar) window.__boot.push([label.textContent, bar.value]);
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true,
                      attributeFilter: ["value"]});
"""


@pytest.fixture(scope="module")
def booted(browser, site):
    page = browser.context.new_page()
    page.add_init_script(RECORD)
    page.goto(site + "index.html")
    wait_ready(page, 1)
    return page


def test_the_sizes_list_matches_the_vendored_files():
    sizes = json.loads((ROOT / "assets" / "runtime-sizes.json").read_text())
    assert sizes == {name: (PYODIDE / name).stat().st_size for name in RUNTIME}


def served_size(site: str, name: str) -> int:
    """The bytes the server answers for a runtime file (the stdlib is served compiled)."""
    with urllib.request.urlopen(f"{site}build/vendor/pyodide/{name}", timeout=30) as response:
        return len(response.read())


def test_the_runtime_download_is_shown_in_megabytes_and_percent(booted, site):
    seen = booted.evaluate("window.__boot")
    downloads = [(LABEL.match(text), value) for text, value in seen if LABEL.match(text)]
    assert downloads, [text for text, _ in seen]
    total = sum(served_size(site, name) for name in RUNTIME) / 1e6
    percents = [int(m.group(3)) for m, _ in downloads]
    for match, value in downloads:
        assert float(match.group(2)) == pytest.approx(total, abs=0.05)
        # The MB are rounded to 0.1 (up to 0.4 % of the total) and the percent floored.
        assert abs(int(match.group(3)) - float(match.group(1)) / total * 100) <= 1.5
        assert 0 <= value < 1  # the runtime is the first of five stages on the bar
    assert percents == sorted(percents)
    # Every byte counted: once the download is over, the label says so while Python starts.
    done = f"Starting the Python runtime… {total:.1f} of {total:.1f} MB (100%)"
    assert done in [text for text, _ in seen]
    values = [value for _, value in seen]
    assert values == sorted(values), "the bar never goes back"


def test_the_runtime_is_downloaded_once_and_each_stage_marked_once(browser, booted):
    for name in RUNTIME:
        assert sum(url.endswith(f"/{name}") for url in browser.requests) == 1, name
    marks = booted.evaluate(
        "performance.getEntriesByType('mark').map(m => m.name)"
        ".filter(n => n.startsWith('cnnlens:stage:'))")
    assert marks == [f"cnnlens:stage:{s}" for s in ("runtime", "packages", "model", "forward",
                                                     "draw")]


def test_a_colour_photo_gets_the_calm_note_and_an_example_clears_it(booted):
    note = booted.locator("[data-testid=input-note]")
    assert note.count() == 0 or note.is_hidden()
    booted.set_input_files("#upload", str(PHOTO))
    wait_ready(booted, 2)
    assert note.is_visible()
    assert "greyscale" in note.text_content()
    assert booted.locator("#message").is_hidden()  # a note, not the error banner
    booted.locator(".example").first.click()
    wait_ready(booted, 3)
    assert note.is_hidden()
