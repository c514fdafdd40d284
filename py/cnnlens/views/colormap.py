"""Colour scales of the views, as NumPy lookups (CNN Explainer's encodings).

Every function maps an array of values to RGBA bytes in one vectorised step, so a
whole layer goes to the page as one buffer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# ColorBrewer stops: the same palettes CNN Explainer takes from d3-scale-chromatic.
RED_WHITE_BLUE = ("#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7",
                  "#d1e5f0", "#92c5de", "#4393c3", "#2166ac", "#053061")
BROWN_GREEN = ("#543005", "#8c510a", "#bf812d", "#dfc27d", "#f6e8c3", "#f5f5f5",
               "#c7eae5", "#80cdc1", "#35978f", "#01665e", "#003c30")
ORANGES = ("#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913",
           "#d94801", "#a63603", "#7f2704")


def _stops(hex_colours: tuple[str, ...]) -> np.ndarray:
    """Hex strings → float stops `(S, 3)` in 0–255."""
    return np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in hex_colours], np.float32)


# Odd, so that t = 0.5 (a zero activation) has an entry of its own: exactly the middle stop.
_LUT_SIZE = 257


def _lut(hex_colours: tuple[str, ...]) -> np.ndarray:
    """An RGBA table `(_LUT_SIZE, 4)` uint8, piecewise-linear between the stops."""
    stops = _stops(hex_colours)
    positions = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, _LUT_SIZE)
    rgb = np.stack([np.interp(t, positions, stops[:, k]) for k in range(3)], axis=1)
    alpha = np.full((_LUT_SIZE, 1), 255.0)
    return np.rint(np.concatenate([rgb, alpha], axis=1)).astype(np.uint8)


SCALES: dict[str, np.ndarray] = {
    "activation": _lut(RED_WHITE_BLUE),
    "weight": _lut(BROWN_GREEN),
    "logit": _lut(ORANGES),
    "grey": _lut(("#000000", "#ffffff")),
}


def lookup(t: np.ndarray, scale: str) -> np.ndarray:
    """Positions `t` in [0, 1] (any shape `S`) → RGBA bytes `(*S, 4)` of the named scale."""
    index = np.rint(np.clip(t, 0.0, 1.0) * (_LUT_SIZE - 1)).astype(np.intp)
    return SCALES[scale][index]


def diverging(values: np.ndarray, vmax: np.ndarray | float,
              scale: str = "activation") -> np.ndarray:
    """Values `(*S)` → RGBA `(*S, 4)`: −vmax is the first colour, 0 the middle, +vmax the last.

    `vmax` broadcasts against `values` (per-neuron ranges pass shape `(C, 1, 1)`); a zero
    range maps everything to the middle colour instead of dividing by zero.
    """
    safe = np.where(np.asarray(vmax) > 0, vmax, 1.0)
    return lookup(0.5 + 0.5 * values / safe, scale)


def sequential(values: np.ndarray, vmin: float, vmax: float, scale: str = "logit") -> np.ndarray:
    """Values `(*S)` → RGBA `(*S, 4)` from the scale's first colour at vmin to its last at vmax."""
    span = vmax - vmin if vmax > vmin else 1.0
    return lookup((values - vmin) / span, scale)


def grey(values: np.ndarray) -> np.ndarray:
    """Pixel intensities `(*S)` in 0–255 → opaque grey RGBA `(*S, 4)`."""
    v = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return np.stack([v, v, v, np.full_like(v, 255)], axis=-1)


def channel_tint(values: np.ndarray, channel: int) -> np.ndarray:
    """One RGB input channel `(*S)` in 0–255 → RGBA `(*S, 4)` showing it in its own colour."""
    v = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    rgba = np.zeros((*v.shape, 4), np.uint8)
    rgba[..., channel] = v
    rgba[..., 3] = 255
    return rgba


def legend(low: float, high: float, scale: str) -> dict[str, Any]:
    """A colour legend for the page: the ends' values and 11 evenly spaced colours of `scale`."""
    stops = lookup(np.linspace(0.0, 1.0, 11), scale)
    return {"min": low, "max": high, "scale": scale, "colors": [hex_colour(c) for c in stops]}


def hex_colour(rgba: np.ndarray) -> str:
    """One RGBA byte quadruple → `#rrggbb` for the legend and the bars."""
    r, g, b = (int(c) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
