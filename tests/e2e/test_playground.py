"""The hyperparameter playground of the article, driven through its controls."""

from __future__ import annotations

import itertools

import pytest

from .conftest import ARTIFACTS, BOOT_TIMEOUT_MS, screenshot

ROOT = "#playground"


@pytest.fixture(scope="module")
def page(browser, site):
    page = browser.context.new_page()
    page.goto(site + "index.html", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid=pg-loading]")
    page.loading_text = page.locator(ROOT).inner_text()  # before Python is up
    page.wait_for_selector(f"{ROOT}[data-setting]", timeout=BOOT_TIMEOUT_MS)
    return page


def set_controls(page, n: int, p: int, k: int, s: int) -> None:
    for key, value in zip("npks", (n, p, k, s), strict=True):
        page.fill(f"[data-testid=pg-{key}]", str(value))
    page.wait_for_function("want => document.querySelector('#playground').dataset.setting === want",
                           arg=f"{n},{p},{k},{s}")


def attr(page, name: str) -> str | None:
    return page.get_attribute(ROOT, f"data-{name}")


def test_shows_loading_until_python_runs_then_labelled_controls(page):
    assert "Loading…" in page.loading_text
    for label in ["Input size n", "Padding p", "Kernel size k", "Stride s"]:
        assert page.get_by_label(label).count() == 1


GRID = list(itertools.product((1, 3, 5, 8), (0, 1, 2), (1, 2, 3, 5), (1, 2, 3)))


# Sets the four controls and fires one `input` event per setting (as typing the last digit
# would), waits for the playground to show that setting, and reads back what it shows.
SHOW_EACH = """async (grid) => {
    const root = document.querySelector('#playground');
    const $ = (id) => root.querySelector(`[data-testid=${id}]`);
    const shown = [];
    for (const setting of grid) {
        'npks'.split('').forEach((key, i) => { $(`pg-${key}`).value = String(setting[i]); });
        $('pg-s').dispatchEvent(new Event('input', { bubbles: true }));
        const want = setting.join(',');
        while (root.dataset.setting !== want) await new Promise((r) => setTimeout(r, 5));
        shown.push({
            valid: root.dataset.valid, steps: root.dataset.steps,
            output: $('pg-output').textContent, formula: $('pg-formula').textContent,
            reason: $('pg-reason').hidden ? null : $('pg-reason').textContent,
            reasonVisible: $('pg-reason').checkVisibility(),
            outputCells: root.querySelectorAll('rect.out').length,
            playDisabled: $('pg-play').disabled,
        });
    }
    return shown;
}"""


def test_output_size_matches_the_formula_and_asymmetric_settings_are_refused(page):
    set_controls(page, 5, 1, 3, 1)  # through Playwright's typing once, then in bulk
    shown = page.evaluate(SHOW_EACH, [list(g) for g in GRID])
    refused = 0
    for (n, p, k, s), view in zip(GRID, shown, strict=True):
        span = n + 2 * p - k
        if span >= 0 and span % s == 0:
            out = span // s + 1
            assert view["valid"] == "true", (n, p, k, s)
            assert view["output"] == f"{out} × {out}"
            assert view["formula"].endswith(f"= {out}")
            assert f"({n} + 2·{p} − {k}) / {s}" in view["formula"]
            assert view["steps"] == str(out * out) and view["outputCells"] == out * out
            assert view["reason"] is None and not view["reasonVisible"]
        else:
            refused += 1
            assert view["valid"] == "false", (n, p, k, s)
            assert view["reasonVisible"]
            assert f"n + 2p − k = {span}" in view["reason"]
            if span >= 0:
                assert f"With stride {s} the window would stop {span % s} pixel" in view["reason"]
            else:
                assert "does not fit" in view["reason"]
            assert view["playDisabled"] and view["output"] == "refused"
    assert 0 < refused < len(GRID)


def test_padding_is_drawn_as_zeros_around_the_input(page):
    set_controls(page, 5, 2, 3, 1)
    assert page.locator(f"{ROOT} rect.cell").count() == 25
    assert page.locator(f"{ROOT} rect.pad").count() == 9 * 9 - 25
    assert set(page.locator(f"{ROOT} text.zero").all_text_contents()) == {"0"}


def test_a_refused_setting_shows_where_the_window_stops_and_what_it_misses(page):
    set_controls(page, 7, 1, 2, 2)  # padded 9, windows start at 0, 2, 4, 6: column 8 is missed
    assert page.locator(f"{ROOT} rect.uncovered").count() == 9 * 9 - 8 * 8
    cell = float(page.get_attribute(f"{ROOT} rect.pg-window", "width")) / 2
    assert float(page.get_attribute(f"{ROOT} rect.pg-window", "x")) == 6 * cell
    assert "never fully covered" in page.text_content("[data-testid=pg-status]")
    page.fill("[data-testid=pg-k]", "")
    page.wait_for_function("document.querySelector('#playground').dataset.setting === ''")
    assert page.text_content("[data-testid=pg-reason]") == "Type a whole number in each box."


def test_next_steps_through_every_output_position_once_per_cycle(page):
    n, p, k, s = 6, 1, 2, 2  # span 6, out 4
    set_controls(page, n, p, k, s)
    cell = float(page.get_attribute(f"{ROOT} rect.pg-window", "width")) / k
    seen = []
    for _ in range(16):
        page.click("[data-testid=pg-next]")
        step = int(attr(page, "step"))
        x = float(page.get_attribute(f"{ROOT} rect.pg-window", "x"))
        y = float(page.get_attribute(f"{ROOT} rect.pg-window", "y"))
        seen.append((step, round(y / cell), round(x / cell)))
        current = page.locator(f"{ROOT} rect.out.current")
        assert current.count() == 1
    assert seen[-1][0] == 0  # the 16th step wraps round to the first position
    assert sorted(s_ for s_, _, _ in seen) == list(range(16))
    assert {(r, c) for _, r, c in seen} == {(r, c) for r in (0, 2, 4, 6) for c in (0, 2, 4, 6)}


def test_play_animates_exactly_out_by_out_positions_per_cycle(page):
    set_controls(page, 3, 0, 2, 1)  # out 2: four positions
    page.click("[data-testid=pg-play]")
    assert page.get_attribute("[data-testid=pg-play]", "aria-pressed") == "true"
    steps = page.evaluate("""() => new Promise((resolve) => {
        const root = document.querySelector('#playground');
        const seen = [];
        const observer = new MutationObserver(() => {
            seen.push(Number(root.dataset.step));
            if (seen.length === 5) { observer.disconnect(); resolve(seen); }
        });
        observer.observe(root, { attributes: true, attributeFilter: ['data-step'] });
    })""")
    page.click("[data-testid=pg-play]")
    assert page.get_attribute("[data-testid=pg-play]", "aria-pressed") == "false"
    assert steps == [1, 2, 3, 0, 1]  # from step 0: every position once, then round again


def test_screenshots(page):
    set_controls(page, 5, 1, 3, 2)
    page.click("[data-testid=pg-next]")
    screenshot(page, "playground-page")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(ROOT).screenshot(path=str(ARTIFACTS / "playground.png"))
    set_controls(page, 7, 1, 2, 2)
    page.locator(ROOT).screenshot(path=str(ARTIFACTS / "playground-refused.png"))


def test_says_so_when_python_cannot_start(browser, site):
    page = browser.context.new_page()
    page.route("**/pyodide/pyodide.mjs", lambda route: route.fulfill(status=404, body=""))
    page.goto(site + "index.html")
    page.wait_for_function("document.documentElement.dataset.cnnlensFailed",
                           timeout=BOOT_TIMEOUT_MS)
    page.wait_for_function("!document.querySelector('[data-testid=pg-loading]')")
    assert "The playground cannot run" in page.locator(ROOT).inner_text()
    page.close()
