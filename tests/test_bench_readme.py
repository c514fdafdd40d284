"""bench/README.md documents every figure `make bench` writes: each figure of the committed
results files, and each name the bench modules declare in one place (side-by-side figures,
boot stages, boot-split parts)."""

from __future__ import annotations

import json
import re

import pytest
from bench import boot, boot_split, side_by_side

from tests.paths import ROOT

README = (ROOT / "bench" / "README.md").read_text()
RESULTS = sorted((ROOT / "bench" / "results").glob("*.json"))


def _documented(name: str) -> bool:
    """`name` is a backticked token of the README, or matches one with a `<placeholder>`
    (`open_<net>_overview_draw_ms`)."""
    for token in re.findall(r"`([^`\n]+)`", README):
        pattern = re.sub(r"<[a-z]+>", "[a-z0-9]+", re.escape(token).replace(r"\<", "<")
                         .replace(r"\>", ">"))
        if re.fullmatch(pattern, name):
            return True
    return False


def test_the_placeholder_matching_is_strict():
    assert _documented("open_resnet50_overview_draw_ms")
    assert not _documented("open_resnet50_overview_drawn_ms")
    assert not _documented("cold_boot")


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_every_figure_of_a_committed_results_file_is_documented(path):
    results = json.loads(path.read_text())
    names = set(results["figures"]) | set(results.get("side_by_side", {}).get("ratios", {}))
    names |= {k for k in results if k.endswith(("_ms", "_bytes"))}
    assert sorted(n for n in names if not _documented(n)) == []


def test_every_declared_name_is_documented():
    names = [*side_by_side.FIGURES, side_by_side.CROSS[0], *boot.STAGES,
             *(part for part, _ in boot_split.PARTS)]
    assert [n for n in names if not _documented(n)] == []
