"""The hostile and awkward image corpus, made by our own code (nothing is downloaded).

`write_bad_images(folder)` writes every case deterministically (fixed seeds, fixed bytes)
and returns one `ImageCase` per file, saying what cnnlens must do with it: predict (and,
for some, predict exactly what a reference file predicts) or refuse with a message
containing given words. The CLI tests and the browser tests share this table, so both
sides are held to the same expectations.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

HUGE_SIZE = (8000, 6000)
BOMB_SIZE = (50_000, 50_000)


@dataclass(frozen=True)
class ImageCase:
    """One file of the corpus and what cnnlens must make of it.

    `refused` is None for files that must be predicted; otherwise words the error message
    must contain (lower case). `same_as` names a reference file in the same folder that
    must give exactly the same probabilities (e.g. the upright version of a rotated photo).
    """

    name: str
    refused: str | None = None
    same_as: str | None = None


def _shape(height: int = 40, width: int = 30) -> np.ndarray:
    """A light, asymmetric blob on black: rotations and frames give different pictures."""
    grey = np.zeros((height, width), np.uint8)
    grey[height // 8: height * 7 // 8, width // 4: width * 3 // 4] = 200
    grey[height // 8: height // 4, : width // 2] = 255  # an arm on the top-left only
    return grey


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose (valid, CRC-checked) header declares `width` x `height` 8-bit grey
    pixels, followed by a few bytes of compressed zeros: decoding it would need gigabytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _huge_jpeg() -> bytes:
    """A smooth 8000 x 6000 photo-like JPEG (gradients compress well: a few MB)."""
    width, height = HUGE_SIZE
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[..., 0] = (x + 0 * y).astype(np.uint8)
    rgb[..., 1] = (0 * x + y).astype(np.uint8)
    rgb[..., 2] = 128
    rgb[height // 4: height * 3 // 4, width // 3: width * 2 // 3] = 20
    return _encode(Image.fromarray(rgb), "JPEG", quality=80)


def _noisy_jpeg(rng: np.random.Generator) -> bytes:
    """A 64 x 64 noise JPEG (about 4 KB): cutting it at 2800 bytes lands in the scan data,
    after every header table, so the decoder starts and then runs out of data."""
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return _encode(Image.fromarray(noise), "JPEG", quality=90)


def _animated_gif() -> tuple[bytes, bytes]:
    """(a 3-frame GIF, a still GIF of its first frame): the first frame is the one shown."""
    frames = [Image.fromarray(np.roll(_shape(), shift * 7, axis=1)).convert("P")
              for shift in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue(), _encode(frames[0], "GIF")


def _exif_rotated_jpeg() -> tuple[bytes, bytes]:
    """(a sideways JPEG with EXIF orientation 6, the same picture stored upright).

    Orientation 6 means "rotate 90° clockwise to display"; the upright reference is made
    with NumPy, not by Pillow's `exif_transpose`, so the test does not trust the code it
    checks. Both are lossless-equivalent: the reference is a PNG of the decoded pixels.
    """
    upright = _shape()
    sideways = np.rot90(upright, k=1)  # counter-clockwise: the camera was turned
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(Image.fromarray(np.ascontiguousarray(sideways)), "JPEG", exif=exif,
                   quality=100, subsampling=0)
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    reference = np.ascontiguousarray(np.rot90(decoded, k=-1))  # what a viewer displays
    return data, _encode(Image.fromarray(reference), "PNG")


def _palette_with_transparency() -> bytes:
    palette = Image.fromarray(_shape() // 100).convert("P")
    palette.putpalette([0, 0, 0, 255, 255, 255, 120, 120, 120] + [0] * 759)
    return _encode(palette, "PNG", transparency=0)


def _svg() -> bytes:
    return (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="28" '
            b'height="28"><script>alert(1)</script><rect width="28" height="28"/></svg>\n')


def bad_image_files() -> dict[str, tuple[bytes, ImageCase]]:
    """Every file of the corpus: name → (bytes, expectation). Deterministic."""
    rng = np.random.default_rng(8)
    png = _encode(Image.fromarray(_shape()), "PNG")
    jpeg = _encode(Image.fromarray(_shape()).convert("RGB"), "JPEG", quality=90)
    gif, gif_first = _animated_gif()
    rotated, upright = _exif_rotated_jpeg()
    wide = (_shape().astype(np.uint16) * 257 + rng.integers(0, 200, (40, 30))).astype(np.uint16)
    files: list[tuple[bytes, ImageCase]] = [
        (b"", ImageCase("zero-byte.png", refused="empty")),
        (jpeg[: len(jpeg) // 2], ImageCase("truncated.jpg", refused="truncated")),
        (png[: len(png) - 30], ImageCase("truncated.png", refused="truncated")),
        (png[:20], ImageCase("truncated-header.png", refused="truncated")),
        (_noisy_jpeg(rng)[:2800], ImageCase("truncated-scan.jpg", refused="truncated")),
        (bomb_png(*BOMB_SIZE), ImageCase("bomb-50000x50000.png", refused="too large")),
        (_huge_jpeg(), ImageCase("huge-8000x6000.jpg")),
        (_encode(Image.fromarray(_shape()).convert("CMYK"), "JPEG"), ImageCase("cmyk.jpg")),
        (_encode(Image.fromarray(wide), "PNG"), ImageCase("grey-16-bit.png")),
        (_palette_with_transparency(), ImageCase("palette-transparent.png")),
        (gif_first, ImageCase("animated-first-frame.gif")),
        (gif, ImageCase("animated.gif", same_as="animated-first-frame.gif")),
        (upright, ImageCase("exif-upright-reference.png")),
        (rotated, ImageCase("exif-rotated.jpg", same_as="exif-upright-reference.png")),
        (_encode(Image.fromarray(_shape()), "WEBP", lossless=True), ImageCase("image.webp")),
        (_encode(Image.fromarray(_shape()).convert("RGB"), "BMP"), ImageCase("image.bmp")),
        (_svg(), ImageCase("drawing.svg", refused="svg")),
        (b"Dear diary, today I renamed a text file.\n", ImageCase("text.png", refused="text")),
        (rng.bytes(4096), ImageCase("random.bin", refused="not an image")),
    ]
    return {case.name: (data, case) for data, case in files}


def write_bad_images(folder: Path) -> list[ImageCase]:
    """Writes the corpus into `folder` (created if needed); returns the cases in order."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, (data, case) in bad_image_files().items():
        (folder / name).write_bytes(data)
        cases.append(case)
    return cases
