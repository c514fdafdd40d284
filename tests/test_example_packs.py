"""The example folders' packs of decoded pixels (`cnnlens.examples`, build/example_packs.py):
equal to Pillow's decode of every example file, and the page's example through its pack
gives the model input of the file itself, bit for bit; without Pillow the page still starts
and shows its examples."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlens.decode import decode_pixels
from cnnlens.errors import CnnlensError
from cnnlens.examples import PACK, ExamplePacks, pack_bytes, read_pack
from cnnlens.preprocess import preprocess
from tests.page_app import BASE, fetch_local, local_app
from tests.paths import ROOT

CATALOGUE = json.loads((ROOT / "assets" / "models" / "index.json").read_text())
# catalogue id → its example folder, for the models with examples of their own
FOLDERS = {entry["id"]: entry["examples"] for entry in CATALOGUE if entry["examples"]}


def files(folder: str) -> list[str]:
    return [entry["file"] for entry in json.loads((ROOT / folder / "index.json").read_text())]


def test_both_example_folders_have_a_pack():
    assert set(FOLDERS) >= {"fashion-mnist", "cnn-explainer"}
    assert all((ROOT / folder / PACK).is_file() for folder in FOLDERS.values())


@pytest.mark.parametrize("folder", sorted(set(FOLDERS.values())))
def test_the_pack_holds_pillows_decode_of_every_example_file(folder: str):
    pack = read_pack((ROOT / folder / PACK).read_bytes())
    assert list(pack) == files(folder)  # the index's files, in its order
    for file, pixels in pack.items():
        with Image.open(ROOT / folder / file) as image:  # Pillow itself, not our decode
            assert image.mode in ("L", "RGB") and "transparency" not in image.info, file
            direct = np.asarray(image)
        direct = direct[..., None] if direct.ndim == 2 else direct
        assert pixels.dtype == np.uint8 and pixels.shape == direct.shape, file
        np.testing.assert_array_equal(pixels, direct, err_msg=file)
        np.testing.assert_array_equal(
            pixels, decode_pixels((ROOT / folder / file).read_bytes()), err_msg=file)


@pytest.mark.parametrize("model_id", ["fashion-mnist", "cnn-explainer"])
def test_an_example_through_its_pack_is_the_model_input_of_its_file(model_id: str):
    app = local_app()
    asyncio.run(app.start())
    if model_id != CATALOGUE[0]["id"]:
        assert "view" in asyncio.run(app.open_model(model_id))
    folder = FOLDERS[model_id]
    prep = app.loaded.card.preprocessing
    for file in files(folder):
        assert "view" in asyncio.run(app.example(file))
        assert isinstance(app.session.image, np.ndarray), "not read from the pack"
        expected = preprocess((ROOT / folder / file).read_bytes(), prep)
        assert app.session.x.dtype == expected.dtype == np.float32
        np.testing.assert_array_equal(app.session.x, expected, err_msg=file)


def test_each_pack_is_fetched_once_and_a_file_not_in_it_is_fetched_itself():
    asked: list[str] = []

    async def fetch(url: str) -> bytes:
        asked.append(url.removeprefix(BASE))
        return await fetch_local(url)

    async def pictures() -> list[object]:
        packs = ExamplePacks(fetch)
        folder = BASE + FOLDERS["fashion-mnist"]
        return [await packs.picture(folder, "bag_1.png"),
                await packs.picture(folder, "coat_2.png"),
                await packs.picture(folder, "not-in-the-pack.png")]

    with pytest.raises(CnnlensError, match="404"):
        asyncio.run(pictures())
    folder = FOLDERS["fashion-mnist"]
    assert asked == [folder + PACK, folder + "not-in-the-pack.png"]


def test_a_folder_without_a_pack_falls_back_to_its_files(tmp_path: Path):
    folder = tmp_path / "examples"
    folder.mkdir()
    data = (ROOT / FOLDERS["fashion-mnist"] / "bag_1.png").read_bytes()
    (folder / "bag_1.png").write_bytes(data)

    async def fetch(url: str) -> bytes:
        path = tmp_path / url
        if not path.is_file():
            raise CnnlensError(f"could not load {url} (HTTP 404)")
        return path.read_bytes()

    assert asyncio.run(ExamplePacks(fetch).picture("examples/", "bag_1.png")) == data


def test_a_pack_round_trips_and_bad_bytes_are_refused():
    pixels = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    data = pack_bytes(["a.png", "b.png"], pixels)
    assert data == pack_bytes(["a.png", "b.png"], pixels.copy())  # deterministic
    read = read_pack(data)
    assert list(read) == ["a.png", "b.png"]
    np.testing.assert_array_equal(read["b.png"], pixels[1])
    assert not read["a.png"].flags.writeable  # shared by the sessions showing it
    for bad in (b"", b"not zlib", data[:-10]):
        with pytest.raises(CnnlensError, match="cannot be read"):
            read_pack(bad)
    with pytest.raises(CnnlensError, match="uint8"):
        pack_bytes(["a.png"], pixels.astype(np.float32)[:1])


# Run in a fresh interpreter where importing PIL fails, as in the page before Pillow is loaded.
_WITHOUT_PILLOW = """
import asyncio, sys

class NoPillow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "PIL":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoPillow())
from tests.page_app import local_app

async def main():
    app = local_app()
    assert "examples" in await app.start()
    assert "view" in await app.example("coat_1.png")
    assert "view" in await app.open_model("cnn-explainer")
    assert "view" in await app.example("pizza_1.png")
    assert "PIL" not in sys.modules
    before = app.session
    try:
        await app.image(open("assets/images/fashion-mnist/bag_1.png", "rb").read(), "up.png")
    except ModuleNotFoundError as error:
        assert error.name == "PIL" and app.session is before
        print("asks for Pillow")

asyncio.run(main())
"""


def test_the_page_starts_and_shows_examples_without_pillow_and_an_upload_asks_for_it():
    done = subprocess.run([sys.executable, "-c", _WITHOUT_PILLOW], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "asks for Pillow"
