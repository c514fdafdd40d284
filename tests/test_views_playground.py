"""The hyperparameter playground's view-model against brute force: slide a k-wide window
over the padded input one pixel at a time and keep the positions the stride lands on."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from cnnlens.page import App
from cnnlens.views.playground import LIMITS, PlaygroundError, playground

GRID = list(itertools.product(
    range(LIMITS["n"][0], LIMITS["n"][1] + 1), range(LIMITS["p"][0], LIMITS["p"][1] + 1),
    range(LIMITS["k"][0], LIMITS["k"][1] + 1), range(LIMITS["s"][0], LIMITS["s"][1] + 1)))


def brute_force(n: int, p: int, k: int, s: int) -> tuple[list[int], bool]:
    """Window starts along one axis, and whether the last window ends at the padded edge."""
    width = n + 2 * p
    starts = [x for x in range(width) if x % s == 0 and x + k <= width]
    return starts, bool(starts) and starts[-1] + k == width


def test_the_grid_covers_every_setting_the_controls_offer():
    assert len(GRID) == 16 * 5 * 9 * 5


def check_against_brute_force(n, p, k, s):
    view = playground(n, p, k, s)
    starts, symmetric = brute_force(n, p, k, s)
    assert view["valid"] is symmetric
    if starts:
        assert view["output"] == len(starts) == math.floor((n + 2 * p - k) / s) + 1
        assert view["formula"].endswith(f"= {len(starts)}")
        assert view["last"] == starts[-1]
        assert view["uncovered"] == (n + 2 * p) - (starts[-1] + k)
    else:
        assert view["output"] is None and view["last"] is None
    if symmetric:
        assert view["reason"] is None
        assert len(view["steps"]) == len(starts) ** 2
        assert view["steps"] == [[r, c] for r in starts for c in starts]
        assert len({tuple(step) for step in view["steps"]}) == view["output"] ** 2
    else:
        assert view["reason"] and view["steps"] == []


@pytest.mark.parametrize("n", range(LIMITS["n"][0], LIMITS["n"][1] + 1))
def test_output_size_and_validity_match_brute_force(n):
    for setting in GRID:
        if setting[0] == n:
            check_against_brute_force(*setting)


def test_every_refused_setting_says_why_with_its_numbers():
    refused = [g for g in GRID if not brute_force(*g)[1]]
    assert len(refused) > 100
    for n, p, k, s in refused:
        reason = playground(n, p, k, s)["reason"]
        span = n + 2 * p - k
        assert f"n + 2p − k = {span}" in reason
        if span < 0:
            assert "does not fit" in reason
        else:
            assert f"stride {s}" in reason and f"not a multiple of {s}" in reason
            assert f"{span % s} pixel" in reason


def test_the_example_sentence():
    view = playground(7, 1, 2, 2)
    assert view["reason"] == ("With stride 2 the window would stop 1 pixel short of the right "
                              "edge: n + 2p − k = 7 is not a multiple of 2.")
    assert view["formula"] == "⌊(7 + 2·1 − 2) / 2⌋ + 1 = ⌊7 / 2⌋ + 1 = 4"
    assert playground(5, 1, 3, 2)["formula"] == "⌊(5 + 2·1 − 3) / 2⌋ + 1 = ⌊4 / 2⌋ + 1 = 3"


@pytest.mark.parametrize("args", [(0, 0, 1, 1), (17, 0, 1, 1), (5, -1, 3, 1), (5, 5, 3, 1),
                                  (5, 0, 0, 1), (5, 0, 10, 1), (5, 0, 3, 0), (5, 0, 3, 6),
                                  (5.0, 0, 3, 1), ("5", 0, 3, 1), (True, 0, 1, 1)])
def test_settings_outside_the_controls_are_errors(args):
    with pytest.raises(PlaygroundError):
        playground(*args)


def test_app_answers_plain_data_or_an_error():
    app = App(None, "")
    answer = json.loads(app.playground(5, 1, 3, 1)["playground"])
    assert answer["output"] == 5 and len(answer["steps"]) == 25
    assert "between 1 and 16" in app.playground(40, 0, 3, 1)["error"]
