#!/usr/bin/env python3
"""Writes each example folder's pack of decoded pixels (`cnnlens.examples`), so the page shows
its examples without loading Pillow.

    python3 build/example_packs.py [--root DIR]

For every `assets/images/<folder>/index.json` it decodes each listed file with
`decode.decode_pixels`, the page's own decode, and writes `<folder>/examples.bin`
(committed; a folder's examples share one size, their model's). `make serve` and
`make site` run it first; it rewrites nothing while a pack already holds those pixels.
Without NumPy and Pillow (`make site` with a bare python3) it says so and leaves the
committed packs as they are; tests/test_example_packs.py fails when one is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def folders(root: Path) -> list[Path]:
    """The example folders: those under assets/images/ with an index.json."""
    return sorted(index.parent for index in (root / "assets" / "images").glob("*/index.json"))


def write(root: Path) -> int:
    """Writes the packs that are missing or stale; the number written."""
    import numpy as np

    sys.path.insert(0, str(root / "py"))
    from cnnlens.decode import decode_pixels
    from cnnlens.errors import CnnlensError
    from cnnlens.examples import PACK, pack_bytes, read_pack

    written = 0
    for folder in folders(root):
        files = [entry["file"] for entry in json.loads((folder / "index.json").read_text())]
        decoded = [decode_pixels((folder / file).read_bytes()) for file in files]
        sizes = {picture.shape for picture in decoded}
        if len(sizes) != 1:
            raise SystemExit(f"example_packs: the examples in {folder} differ in size "
                             f"({', '.join(map(str, sorted(sizes)))}); a pack holds one size")
        pixels = np.stack(decoded)
        target = folder / PACK
        try:
            held = read_pack(target.read_bytes()) if target.is_file() else {}
        except CnnlensError:
            held = {}
        same = list(held) == files and np.array_equal(np.stack(list(held.values())), pixels)
        if not same:
            target.write_bytes(pack_bytes(files, pixels))
            print(f"example_packs: wrote {target.relative_to(root)} ({len(files)} pictures)")
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pack the example folders' decoded pixels.")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    try:
        import numpy  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as error:
        print(f"example_packs: {error.name} is not installed here, so the committed example "
              "packs were not checked or rebuilt", file=sys.stderr)
        return 0
    if not write(args.root.resolve()):
        print("example_packs: every pack is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
