"""The example pictures as packs of decoded pixels, so showing an example needs no Pillow.

Each example folder (an ``index.json`` and its images, e.g. ``assets/images/fashion-mnist/``)
holds ``examples.bin``, written by ``build/example_packs.py``: one uint8 array
``(N, H, W, C)`` of every image file's pixels, equal to `decode.decode_pixels` of that
file, after an array of the N file names; two ``.npy`` arrays in one zlib stream, which NumPy
reads without a zip reader. The page fetches it once per folder (`ExamplePacks`) and runs
its pixels through the same `preprocess.to_input` steps as a decoded file. A folder without
a pack, or a file not in it, is fetched and decoded as before (that loads Pillow).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import numpy as np

from .decode import Picture
from .errors import CnnlensError

PACK: Final = "examples.bin"
"""The pack's file name inside an example folder."""

Fetch = Callable[[str], Awaitable[bytes]]


def pack_bytes(files: Sequence[str], pixels: np.ndarray) -> bytes:
    """File names and their uint8 pixels `(N, H, W, C)` (one size: a model's examples) →
    the pack's bytes; equal inputs give equal bytes."""
    _check(files, pixels)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(files, dtype=str), allow_pickle=False)
    np.lib.format.write_array(buffer, np.ascontiguousarray(pixels), allow_pickle=False)
    return zlib.compress(buffer.getvalue(), 9)


def read_pack(data: bytes) -> dict[str, np.ndarray]:
    """A pack's bytes → file name → read-only uint8 `(H, W, C)` pixels; bytes that are not
    a pack raise `CnnlensError`."""
    try:
        buffer = io.BytesIO(zlib.decompress(data))
        files = np.lib.format.read_array(buffer, allow_pickle=False)
        pixels = np.lib.format.read_array(buffer, allow_pickle=False)
    except (zlib.error, ValueError, EOFError) as error:
        raise CnnlensError(f"the example pack cannot be read: {error}") from error
    if files.dtype.kind != "U" or files.ndim != 1:
        raise CnnlensError("the example pack does not start with its file names")
    _check(files.tolist(), pixels)
    pixels.flags.writeable = False  # shared by every session showing one of them
    return dict(zip(files.tolist(), pixels, strict=True))


def _check(files: Sequence[str], pixels: np.ndarray) -> None:
    if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[3] not in (1, 3) \
            or pixels.shape[0] != len(files) or 0 in pixels.shape[1:]:
        raise CnnlensError(f"an example pack holds uint8 (N, H, W, 1 or 3) pixels of its "
                           f"{len(files)} files, not {pixels.dtype} {pixels.shape}")


class ExamplePacks:
    """The packs of the example folders seen so far, each fetched once."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        self.packs: dict[str, dict[str, np.ndarray]] = {}  # folder URL → its pack

    async def picture(self, folder: str, file: str) -> Picture:
        """Example ``file`` of the folder at URL ``folder`` (ending in ``/``): its pixels
        from the folder's pack, or the file's bytes when the pack lacks it."""
        if folder not in self.packs:
            try:
                self.packs[folder] = read_pack(await self.fetch(folder + PACK))
            except CnnlensError:
                self.packs[folder] = {}  # a site built without packs: its files decode
        pixels = self.packs[folder].get(file)
        return pixels if pixels is not None else await self.fetch(folder + file)
