"""Image bytes → model input `(1, C, H, W)` float32, shared by the page and the CLI.

Both sides call `preprocess`, so a picture gives the same numbers in the browser (Pyodide's
Pillow 10.2) and on the command line (a newer Pillow). To keep that true, the steps whose
result could differ between Pillow versions are done in NumPy (greyscale conversion,
inversion, normalisation) and the one resampling step uses plain BILINEAR without
Pillow's version-dependent shortcuts (`reducing_gap`, `thumbnail`'s rounding).

Decoding is `decode.py`'s. Pillow is imported only by the functions that decode or resample:
the page boots without it (its examples come decoded, from `examples.py`'s packs, already at
the model's size) and loads it on the first request that needs it (see py/worker.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .decode import DEFAULT_MAX_PIXELS, MAX_SIDE, Picture, bilinear, decode_image, to_l_or_rgb
from .model_card import Preprocessing

if TYPE_CHECKING:
    from PIL import Image

# ITU-R 601-2 luma weights in 16-bit fixed point, exactly as Pillow's RGB→L conversion,
# but computed here so the result does not depend on the Pillow build.
_LUMA_WEIGHTS = np.array([19595, 38470, 7471], dtype=np.uint32)



def _luma(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 `(H, W, 3)` → greyscale uint8 `(H, W)`, bit-identical to Pillow's "L"."""
    weighted = rgb.astype(np.uint32) @ _LUMA_WEIGHTS
    return ((weighted + 0x8000) >> 16).astype(np.uint8)


def _pixels(image: Image.Image | np.ndarray, mode: str, order: str = "RGB") -> np.ndarray:
    """Pillow image, or decoded pixels `(H, W, C)` (`decode_pixels`) → uint8 `(H, W, C)`
    with C = 1 for "L" and 3 for "RGB" (in `order`: "BGR" reverses the channels, as OpenCV
    reads pictures)."""
    if isinstance(image, np.ndarray):
        array = image[..., 0] if image.shape[2] == 1 else image
    else:
        array = np.asarray(to_l_or_rgb(image))
    if mode == "L":
        return (_luma(array) if array.ndim == 3 else array)[..., None]
    rgb = array if array.ndim == 3 else np.repeat(array[..., None], 3, axis=2)
    return rgb[..., ::-1] if order == "BGR" else rgb


def border_mean(pixels: np.ndarray) -> float:
    """Mean greyscale value (0-255) of the 1-pixel frame of `(H, W, C)` uint8 pixels."""
    grey = _luma(pixels) if pixels.shape[2] == 3 else pixels[..., 0]
    frame = np.ones(grey.shape, dtype=bool)
    frame[1:-1, 1:-1] = False
    return float(grey[frame].mean())


def _invert_if_light(pixels: np.ndarray) -> np.ndarray:
    """Dark-on-light pictures → light-on-dark, for models trained on that (e.g. MNIST)."""
    return 255 - pixels if border_mean(pixels) > 127 else pixels


def _resample(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 `(h, w, C)` → uint8 `(H, W, C)` with `size` = (H, W); a no-op when equal."""
    if pixels.shape[:2] == size:
        return pixels
    from PIL import Image

    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    resized = np.asarray(bilinear(image, (size[1], size[0])))
    return resized.reshape(size[0], size[1], pixels.shape[2])


def _scaled_size(shape: tuple[int, int], size: tuple[int, int], cover: bool) -> tuple[int, int]:
    """(h, w) scaled uniformly to fit inside (`cover`=False) or cover (True) (H, W)."""
    (h, w), (big_h, big_w) = shape, size
    ratio = max(big_h / h, big_w / w) if cover else min(big_h / h, big_w / w)
    new_h, new_w = max(1, round(h * ratio)), max(1, round(w * ratio))
    # Rounding may overshoot by a pixel; clamp to the side that must match exactly.
    if cover:
        return max(new_h, big_h), max(new_w, big_w)
    return min(new_h, big_h), min(new_w, big_w)


def _fit(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Aspect kept, whole picture visible, centred on a black `(H, W, C)` canvas."""
    inner = _resample(pixels, _scaled_size(pixels.shape[:2], size, cover=False))
    canvas = np.zeros((*size, pixels.shape[2]), dtype=np.uint8)
    top, left = (size[0] - inner.shape[0]) // 2, (size[1] - inner.shape[1]) // 2
    canvas[top:top + inner.shape[0], left:left + inner.shape[1]] = inner
    return canvas


def _center_crop(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Aspect kept, shortest side scaled to fit, the centre `(H, W)` cut out."""
    outer = _resample(pixels, _scaled_size(pixels.shape[:2], size, cover=True))
    top, left = (outer.shape[0] - size[0]) // 2, (outer.shape[1] - size[1]) // 2
    return outer[top:top + size[0], left:left + size[1]]


def resize(pixels: np.ndarray, size: tuple[int, int], how: str) -> np.ndarray:
    """uint8 `(h, w, C)` → uint8 `(H, W, C)` by "fit", "stretch" or "center-crop"."""
    if how == "fit":
        return _fit(pixels, size)
    if how == "center-crop":
        return _center_crop(pixels, size)
    return _resample(pixels, size)


def _as_float32(values: tuple[float, ...]) -> np.ndarray:
    """Per-channel constants as float32 `(C, 1, 1)`, broadcasting over (C, H, W)."""
    return np.asarray(values, dtype=np.float32).reshape(-1, 1, 1)


def _scale(x: np.ndarray, scale: float) -> np.ndarray:
    """`x * scale` in float32; when scale is 1/n (as 1/255), divides by n instead.

    Training code writes `x / 255` (torchvision's ToTensor), and in float32 `x / 255` and
    `x * float32(1/255)` differ in the last bit for some x; dividing matches them exactly.
    """
    divisor = 1.0 / scale
    if abs(divisor - round(divisor)) < 1e-9 * divisor:
        return x / np.float32(round(divisor))
    return x * np.float32(scale)


def normalise(pixels: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """uint8 `(H, W, C)` → float32 `(C, H, W)`: `(pixels * scale - mean) / std`."""
    x = np.ascontiguousarray(pixels.transpose(2, 0, 1)).astype(np.float32)
    return (_scale(x, prep.scale) - _as_float32(prep.mean)) / _as_float32(prep.std)


def to_input(image: Image.Image | np.ndarray, prep: Preprocessing) -> np.ndarray:
    """Pillow image, or its pixels as `decode_pixels` gives them → model input
    `(1, C, H, W)` float32, following `prep` step by step (Pillow only to resample)."""
    pixels = _pixels(image, prep.mode, prep.channel_order)
    if prep.invert_light_background:
        pixels = _invert_if_light(pixels)
    return normalise(resize(pixels, prep.size, prep.resize), prep)[None]


def preprocess(data: bytes, prep: Preprocessing, *,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Image file bytes → model input `(1, C, H, W)` float32 (`decode_image` + `to_input`)."""
    image = decode_image(data, max_pixels=max_pixels, max_side=max(MAX_SIDE, *prep.size))
    return to_input(image, prep)


def picture_input(picture: Picture, prep: Preprocessing) -> np.ndarray:
    """A `Picture` → model input `(1, C, H, W)` float32: `preprocess` of file bytes, the
    same `to_input` steps for decoded pixels."""
    return preprocess(picture, prep) if isinstance(picture, bytes) else to_input(picture, prep)


def input_preview(x: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """Model input `(1, C, H, W)` or `(C, H, W)` → display pixels `(H, W, C)` uint8.

    Undoes the normalisation, so the page shows what the network sees (after inversion
    and resizing), not the original picture; channels stay in the model's order.
    """
    chw = x[0] if x.ndim == 4 else x
    raw = (chw.astype(np.float32) * _as_float32(prep.std) + _as_float32(prep.mean)) / np.float32(
        prep.scale)
    return np.rint(np.clip(raw, 0, 255)).astype(np.uint8).transpose(1, 2, 0)
