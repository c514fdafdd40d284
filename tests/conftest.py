"""Shared by every test module: tests marked `slow` (exhaustive variants) are skipped unless
asked for with `-m slow` or CNNLENS_SLOW=1, so CI runs a bounded sample of them."""

from __future__ import annotations

import os

import pytest

SKIP_SLOW = pytest.mark.skip(reason="the exhaustive variant: run with -m slow or CNNLENS_SLOW=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("-m") or "") or os.environ.get("CNNLENS_SLOW"):
        return
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(SKIP_SLOW)
