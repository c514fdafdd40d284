"""A calm note when the current picture is far from what the model learnt from.

The model card says what the training pictures were like: `mode == "L"` means greyscale
pictures, and `invert_light_background` means single items, light on a plain dark
background (Fashion-MNIST, MNIST). Two statistics of the picture are compared with that:

- colourfulness of the original picture (Hasler and Süsstrunk 2003, 0 for grey; about 15
  reads "slightly colourful", 33 "moderately") for a greyscale model, which sees it in grey;
- the fraction of plain-background pixels of the model's input (after inversion, resizing
  and undoing the normalisation), for a model trained on items on a plain background. The
  bundled Fashion-MNIST examples have 17-88% (tests/test_input_note.py checks every one
  stays clear of the threshold); photographs have almost none.

RGB models get no note: their cards state nothing these statistics could be held against.
"""

from __future__ import annotations

import numpy as np

from ..decode import Picture, picture_pixels
from ..model_card import Preprocessing
from ..preprocess import input_preview

COLOURFUL = 20.0  # Hasler-Süsstrunk colourfulness above which a picture is "in colour"
BACKGROUND_LEVEL = 13  # 0-255: a model-input pixel this dark or darker is plain background
MIN_BACKGROUND = 0.10  # fraction of plain background below which a picture is "a scene"

LEAD = "This picture is unlike the ones the model learnt from, so read its answer with care:"
COLOUR = "the model was trained on greyscale pictures and sees this one without its colours"
SCENE = ("it was trained on single items on a plain background, and this picture has little "
         "plain background")


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler-Süsstrunk colourfulness of RGB pixels `(H, W, 3)` (0-255): 0 for any grey."""
    rgb = rgb.astype(np.float64)
    red_green = rgb[..., 0] - rgb[..., 1]
    yellow_blue = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = np.hypot(red_green.std(), yellow_blue.std())
    centre = np.hypot(red_green.mean(), yellow_blue.mean())
    return float(spread + 0.3 * centre)


def background_fraction(x: np.ndarray, prep: Preprocessing) -> float:
    """Fraction of the pixels of model input `(1, C, H, W)` at most `BACKGROUND_LEVEL` in every
    channel once the normalisation is undone (what the network sees, see `input_preview`)."""
    pixels = input_preview(x, prep)  # (H, W, C) uint8
    return float(np.mean(np.all(pixels <= BACKGROUND_LEVEL, axis=-1)))


def input_note(image: Picture, x: np.ndarray, prep: Preprocessing) -> str | None:
    """The note for picture `image` (file bytes or decoded pixels) whose model input is `x`
    `(1, C, H, W)`, or None when nothing stands out against what `prep` states."""
    if prep.mode != "L":
        return None
    reasons = []
    original = picture_pixels(image)  # decoded again: `x` has lost the colours
    if original.shape[2] == 3 and colourfulness(original) > COLOURFUL:
        reasons.append(COLOUR)
    if prep.invert_light_background and background_fraction(x, prep) < MIN_BACKGROUND:
        reasons.append(SCENE)
    return f"{LEAD} {'; '.join(reasons)}." if reasons else None
