"""The side-by-side benchmark's arithmetic: the boot split from marks, the ratios and the
report's table (the browser parts run only in `make bench`)."""

from __future__ import annotations

import pytest
from bench import boot_split, report, side_by_side


def _page(marks: dict[str, float], renders: list[list[float]]) -> dict:
    return {"origin": 1000.0, "marks": marks, "renders": renders}


PAGE_MARKS = {"cnnlens:stage:runtime": 100.0, "cnnlens:stage:packages": 3000.0,
              "cnnlens:stage:model": 4000.0, "cnnlens:stage:forward": 5000.0,
              "cnnlens:ready:1": 5300.0}
# The worker started 150 ms after the page's navigation: its marks are 150 ms later in
# page time.
WORKER = {"origin": 1150.0,
          "marks": {"cnnlens:runtime:module": 50.0, "cnnlens:runtime:wasm-ready": 900.0,
                    "cnnlens:runtime:pyodide-ready": 2400.0, "cnnlens:worker:start": 2600.0,
                    "cnnlens:worker:packages-loaded": 3700.0, "cnnlens:worker:imported": 4300.0,
                    "cnnlens:worker:model-loaded": 4800.0},
          "resources": [["http://h/build/vendor/pyodide/pyodide.asm.wasm", 800.0],
                        ["http://h/build/vendor/pyodide/python_stdlib.zip", 600.0],
                        ["http://h/py/worker.py", 2500.0]]}


def test_the_parts_follow_the_marks_in_page_time_and_add_up_to_the_boot():
    ends = boot_split.boundaries(_page(PAGE_MARKS, [[5200.0, 40.0]]), WORKER)
    parts = boot_split.split(ends)
    assert parts == pytest.approx({
        "page": 100, "worker start": 100, "download": 750, "wasm compile": 100,
        "Python start": 1500, "PyScript start": 200, "worker.py": 250,
        "NumPy": 850, "import cnnlens": 600, "model": 500,
        "first answer": 310, "draw": 40})
    assert sum(parts.values()) == pytest.approx(5300)


def test_a_prerendered_paint_is_not_the_first_answers_drawing():
    # Drawn at 500 ms, before the worker was asked: the live answer drew nothing.
    ends = boot_split.boundaries(_page(PAGE_MARKS, [[500.0, 60.0]]), WORKER)
    assert boot_split.split(ends)["draw"] == 0


def test_a_missing_mark_folds_its_part_into_the_next_and_late_ends_are_held():
    worker = {**WORKER, "marks": {k: v for k, v in WORKER["marks"].items()
                                  if k != "cnnlens:worker:imported"},
              "resources": [["http://h/pyodide.asm.wasm", 1200.0]]}  # after wasm-ready
    parts = boot_split.split(boot_split.boundaries(_page(PAGE_MARKS, []), worker))
    assert "import cnnlens" not in parts
    assert parts["model"] == pytest.approx(4950 - 3850)
    assert parts["download"] == pytest.approx(1350 - 200)
    assert parts["wasm compile"] == 0
    assert sum(parts.values()) == pytest.approx(5300)


def test_without_the_workers_marks_the_runtime_is_one_part():
    parts = boot_split.split(boot_split.boundaries(_page(PAGE_MARKS, []), None))
    assert list(parts) == ["page", "worker.py", "first answer", "draw"]
    assert parts["worker.py"] == pytest.approx(2900)


def _figures(scale: float) -> dict:
    return {key: {"n": 5, "min": 1.0, "median": scale * (i + 1), "max": 99.0}
            for i, key in enumerate(side_by_side.FIGURES)}


def test_ratios_are_ours_over_theirs_with_the_warm_cross_target():
    ours, theirs = _figures(3.0), _figures(2.0)
    ratios = side_by_side.ratios(ours, theirs)
    assert ratios["cold_overview_ms"] == pytest.approx(1.5)
    # ours warm → interactive (4th figure: 12) over theirs warm → overview (3rd: 6)
    assert ratios["warm_interactive_vs_their_warm_overview"] == pytest.approx(2.0)


def test_the_report_table_shows_both_sides_and_the_ratio():
    results = {"side_by_side": {
        "runs": 5, "skipped": None,
        "sides": {"cnnlens": _figures(3.0), "cnn-explainer": _figures(2.0)},
        "ratios": side_by_side.ratios(_figures(3.0), _figures(2.0))}}
    table = report.side_by_side_table(results)
    assert "| cold: navigation → full overview | 2 ms | 3 ms | 1.50× |" in table
    assert "| 2.00× |" in table.splitlines()[-1]
    results["side_by_side"]["live_overview_ms"] = {"cold": {"median": 27_711.2}}
    assert "| cold: → our first live overview (Python's own answer) |  | 27,711 ms |  |" in (
        report.side_by_side_table(results))
    assert "<td>1.50×</td>" in report.render({**results, "git": "x", "date": "d",
                                               "machine": {}, "figures": {}})


def test_without_cnn_explainer_the_report_says_why():
    results = {"side_by_side": {"runs": 5, "skipped": "not there",
                                "sides": {"cnnlens": _figures(3.0)}}}
    table = report.side_by_side_table(results)
    assert "not there" in table
    assert "| cold: navigation → full overview | skipped | 3 ms |  |" in table


def test_the_blog_post_all_drawn_is_a_ratio_to_their_cold_overview():
    blog = {"embed_blog_post_all_drawn_ms": {"n": 3, "min": 1.0, "median": 1_500.0, "max": 9.0},
            "embed_blog_post_all_views_ms": {"n": 3, "min": 1.0, "median": 9_000.0, "max": 9.0}}
    ours, theirs = _figures(3.0), _figures(1_000.0)  # their cold → overview: 1,000 ms
    ratios = side_by_side.ratios(ours, theirs, blog)
    assert ratios["blog_post_drawn_vs_their_cold_overview"] == pytest.approx(1.5)
    assert "blog_post_drawn_vs_their_cold_overview" not in side_by_side.ratios(ours, theirs)
    results = {"side_by_side": {"runs": 3, "skipped": None, "blog_post": blog,
                                "sides": {"cnnlens": ours, "cnn-explainer": theirs},
                                "ratios": ratios}}
    row = report.side_by_side_table(results).splitlines()[-1]
    assert row.startswith("| our blog post, three embeds all drawn") and row.endswith(
        "|  | 1,500 ms | 1.50× |")
