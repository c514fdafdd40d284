"""Image file bytes → the picture's pixels, upright, "L" or "RGB", at most `MAX_SIDE` a side.

The first step of `preprocess` (model input), and what the example packs hold decoded
(`examples.py`). Pillow decodes, checked first against decompression bombs and files that are
not images, each refused with a message that says what the bytes look like instead; the
steps whose result could differ between Pillow versions (16-bit greyscale, transparency over
white, the one resampling) are done so that Pyodide's Pillow 10.2 and the command line's
newer one give the same pixels. Pillow is imported only here, by the functions that need it:
the page boots without it.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from .errors import ImageError

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


def to_l_or_rgb(image: Image.Image) -> Image.Image:
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


def bilinear(image: Image.Image, size: tuple[int, int]) -> Image.Image:
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
    return bilinear(image, _fit_within(image.size, max_side))


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
    return _shrink(to_l_or_rgb(image), max_side)


def decode_pixels(data: bytes, *, max_side: int = MAX_SIDE) -> np.ndarray:
    """Image file bytes → its pixels as `decode_image` decodes them: uint8 `(H, W, C)`, C = 1
    for "L" and 3 for "RGB" (what an example's pack holds, `examples.py`)."""
    array = np.asarray(decode_image(data, max_side=max_side))
    return array[..., None] if array.ndim == 2 else array


def picture_pixels(picture: Picture) -> np.ndarray:
    """A `Picture` → uint8 `(H, W, C)` (`decode_pixels` of file bytes; pixels as they are)."""
    return decode_pixels(picture) if isinstance(picture, bytes) else picture
