"""Packs a detail view's arrays for the trip to JavaScript: one JSON index, two buffers.

Numbers travel as one float32 buffer and colour images as one RGBA byte buffer; the JSON
says where each named array or image starts and what shape it has, so the page crosses the
worker boundary once per view however many maps it shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Bundle:
    """Collects named float arrays and RGBA images, then `pack()`s them."""

    def __init__(self) -> None:
        self._numbers: list[np.ndarray] = []
        self._rasters: list[np.ndarray] = []
        self._number_at = 0
        self._raster_at = 0
        self.arrays: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}

    def array(self, name: str, values: np.ndarray) -> None:
        flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        self.arrays[name] = {"offset": self._number_at, "shape": list(values.shape)}
        self._numbers.append(flat)
        self._number_at += flat.size

    def image(self, name: str, rgba: np.ndarray) -> None:
        """rgba: `(..., H, W, 4)` uint8; leading axes are separate images of one size."""
        flat = np.ascontiguousarray(rgba, dtype=np.uint8).reshape(-1)
        self.images[name] = {"offset": self._raster_at, "shape": list(rgba.shape[:-1])}
        self._rasters.append(flat)
        self._raster_at += flat.size

    def pack(self, view: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        view = {**view, "arrays": self.arrays, "images": self.images}
        numbers = np.concatenate(self._numbers) if self._numbers else np.zeros(0, np.float32)
        rasters = np.concatenate(self._rasters) if self._rasters else np.zeros(0, np.uint8)
        return view, numbers, rasters
