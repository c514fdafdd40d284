"""Image bytes → model input `(1, C, H, W)` float32, shared by the page and the CLI.

Both sides call `preprocess`, so a picture gives the same numbers in the browser (Pyodide's
Pillow 10.2) and on the command line (a newer Pillow). To keep that true, the steps whose
result could differ between Pillow versions are done in NumPy (greyscale conversion,
inversion, normalisation) and the one resampling step uses plain BILINEAR without
Pillow's version-dependent shortcuts (`reducing_gap`, `thumbnail`'s rounding).

Pillow is imported only by the functions that decode or resample: the page boots without it
(its examples come decoded, from `examples.py`'s packs, already at the model's size) and
loads it on the first request that needs it (see py/worker.py).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from .errors import ImageError
from .model_card import Preprocessing

if TYPE_CHECKING:
    from PIL import Image

Picture = bytes | np.ndarray
"""A picture as a session holds it: image file bytes, or its pixels already decoded as
`decode_pixels` decodes them (uint8 `(H, W, C)`, C = 1 or 3; an example from its pack)."""

DEFAULT_MAX_PIXELS = 40_000_000
"""Most pixels we decode (declared width x height, or for a large JPEG the reduced size it
decodes at); bigger images are refused before any pixel is decoded."""

MAX_SIDE = 1024
"""Decoded images are shrunk so their longer side is at most this (or the model's size),
so a phone photo costs a 1-megapixel image downstream, not 12."""

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)

# ITU-R 601-2 luma weights in 16-bit fixed point, exactly as Pillow's RGB→L conversion,
# but computed here so the result does not depend on the Pillow build.
_LUMA_WEIGHTS = np.array([19595, 38470, 7471], dtype=np.uint32)


# ---------------------------------------------------------------- decoding


def _sniff_format(data: bytes) -> str | None:
    """The image format the leading bytes announce, if any (used for error messages)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)


def _looks_like_svg(data: bytes) -> bool:
    # Markup whose first element (after any XML prolog, doctype or comment) is <svg>.
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and b"<svg" in head


def _looks_like_text(data: bytes) -> bool:
    try:
        head = data[:512].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in head)


def _not_an_image(data: bytes) -> ImageError:
    """The error for bytes Pillow does not recognise, saying what they look like instead."""
    fmt = _sniff_format(data)
    if fmt is not None:
        return ImageError(f"image is truncated or corrupt: the {fmt} header cannot be read")
    if _looks_like_text(data):
        start = data[:40].decode("utf-8").splitlines()[0] if data.strip() else ""
        return ImageError(f"not an image: the file is text (it starts with {start!r})")
    return ImageError(f"not an image: unrecognised format (first bytes {data[:8].hex(' ')})")


def _decode_failure(fmt: str, exc: Exception) -> ImageError:
    """The error for a recognised `fmt` image whose pixel data could not be decoded."""
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
        return ImageError(f"image is truncated: the {fmt} data ends early ({exc})")
    return ImageError(f"image is corrupt: the {fmt} data cannot be decoded ({exc})")


@contextmanager
def _pillow_pixel_limit(limit: int | None) -> Iterator[None]:
    """Sets Pillow's own decompression-bomb limit for the duration of one decode.

    Pillow checks `Image.MAX_IMAGE_PIXELS` again while loading frames and tiles (GIF, ICO,
    TIFF); setting it to our limit makes those checks agree with ours, and restoring it
    leaves other users of Pillow in this process undisturbed.
    """
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            # Over the limit we refuse ourselves with a better message; Pillow's warning
            # (issued between 1x and 2x its limit) would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _open(data: bytes, max_pixels: int, max_side: int) -> Image.Image:
    """Reads only the header and refuses images that would decode to more than `max_pixels`.

    JPEG decodes at 1/2, 1/4 or 1/8 scale directly, so a large photo is asked for at the
    smallest scale that still covers `max_side` (`draft`), and the budget applies to the
    pixels that will actually be decoded: an 8000 x 6000 phone photo decodes as 2000 x
    1500. Other formats decode at full size, so their declared size is what counts.
    """
    from PIL import Image

    # Our explicit check below reports the declared size, which Pillow's error would not.
    with _pillow_pixel_limit(None):
        try:
            image = Image.open(io.BytesIO(data))
            declared = image.size
            if max(declared) > max_side:
                image.draft(None, _fit_within(declared, max_side))
        except Exception as exc:  # Pillow raises many types for bad bytes; all mean "not an image"
            raise _not_an_image(data) from exc
    width, height = declared
    decoded = image.size[0] * image.size[1]
    if decoded > max_pixels:
        raise ImageError(
            f"image is too large: {width}x{height} pixels ({width * height:,}) exceeds the "
            f"limit of {max_pixels:,} pixels"
        )
    return image


def _fit_within(size: tuple[int, int], bound: int) -> tuple[int, int]:
    """(width, height) scaled down so the longer side is at most `bound`, aspect kept."""
    width, height = size
    factor = bound / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def _load(image: Image.Image, max_pixels: int) -> Image.Image:
    """Decodes the first frame upright (a large JPEG at the reduced scale `_open` chose)."""
    from PIL import Image, ImageOps

    with _pillow_pixel_limit(max_pixels):
        try:
            # `_open` has already asked JPEG for a reduced scale (`draft`), which keeps
            # both sides at least as large as the size `_shrink` will resample to.
            image.load()  # the current frame, i.e. the first frame of an animation
            return ImageOps.exif_transpose(image)
        except Image.DecompressionBombError as exc:
            raise ImageError(f"image is too large: {exc}") from exc
        except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, ...
            raise _decode_failure(image.format or "image", exc) from exc


def _grey_to_8bit(values: np.ndarray, mode: str) -> np.ndarray:
    """High-depth greyscale `(H, W)` → uint8 `(H, W)`, rescaled rather than clipped.

    16-bit data spans 0-65535 (Pillow ≤ 10 opens 16-bit PNG as mode "I", later ones as
    "I;16"); float data spans 0-1 or 0-255; anything else is stretched from min to max.
    """
    v = values.astype(np.float64)
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if mode.startswith("I;16") or (mode == "I" and lo >= 0 and hi <= 65535):
        scaled = v / 257.0  # 65535 / 255; no value lands exactly on .5, so rint is exact
    elif mode == "F" and lo >= 0 and hi <= 1:
        scaled = v * 255.0
    elif mode == "F" and lo >= 0 and hi <= 255:
        scaled = v
    else:
        scaled = (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
    return np.rint(np.clip(scaled, 0, 255)).astype(np.uint8)


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or "a" in image.getbands() or "transparency" in image.info


def _flatten_on_white(image: Image.Image) -> Image.Image:
    """Any image with alpha or a transparent colour → RGB, composited over white."""
    from PIL import Image

    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _to_l_or_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → "L" or "RGB" (transparency over white, 16-bit rescaled)."""
    if _has_alpha(image):
        return _flatten_on_white(image)
    if image.mode in ("L", "RGB"):
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        from PIL import Image

        return Image.fromarray(_grey_to_8bit(np.asarray(image), image.mode))
    if image.mode == "1":
        return image.convert("L")
    try:
        return image.convert("RGB")  # P, CMYK, YCbCr, RGBX, HSV, ...
    except ValueError as exc:
        raise ImageError(f"unsupported colour mode {image.mode!r}: {exc}") from exc


def _bilinear(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Pillow BILINEAR resize to (width, height), one axis at a time, width first.

    When both axes change, Pillow 13 (unlike Pyodide's 10.2) may run the vertical pass
    first, and the 8-bit rounding between the passes then changes the result; fixing the
    order here keeps the page and the CLI bit-identical (and equal to Pillow 10.2's
    one-call `resize`).
    """
    from PIL import Image

    bilinear = Image.Resampling.BILINEAR
    width, height = size
    if image.width != width:
        image = image.resize((width, image.height), bilinear, reducing_gap=None)
    if image.height != height:
        image = image.resize((width, height), bilinear, reducing_gap=None)
    return image


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    """Downscales so the longer side is at most `max_side`; small images are untouched."""
    if max(image.size) <= max_side:
        return image
    return _bilinear(image, _fit_within(image.size, max_side))


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_side: int = MAX_SIDE) -> Image.Image:
    """Image file bytes → an upright "L" or "RGB" Pillow image, at most `max_side` px a side.

    Raises `ImageError` for empty, non-image, SVG, truncated, corrupt or oversized input
    (the declared size is checked before any pixel is decoded).
    """
    if not data:
        raise ImageError("not an image: the file is empty")
    if _looks_like_svg(data):
        raise ImageError("SVG images are not supported; export the picture as PNG or JPEG")
    image = _load(_open(data, max_pixels, max_side), max_pixels)
    return _shrink(_to_l_or_rgb(image), max_side)


def decode_pixels(data: bytes, *, max_side: int = MAX_SIDE) -> np.ndarray:
    """Image file bytes → its pixels as `decode_image` decodes them: uint8 `(H, W, C)`, C = 1
    for "L" and 3 for "RGB" (what an example's pack holds, `examples.py`)."""
    array = np.asarray(decode_image(data, max_side=max_side))
    return array[..., None] if array.ndim == 2 else array


def picture_pixels(picture: Picture) -> np.ndarray:
    """A `Picture` → uint8 `(H, W, C)` (`decode_pixels` of file bytes; pixels as they are)."""
    return decode_pixels(picture) if isinstance(picture, bytes) else picture


# ---------------------------------------------------------------- model input


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
        array = np.asarray(_to_l_or_rgb(image))
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
    resized = np.asarray(_bilinear(image, (size[1], size[0])))
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
