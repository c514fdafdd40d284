"""Probe sets: the images a dissection runs a layer over, as model inputs with labels.

Three sources, one :class:`ProbeSet`: a packed array shipped with the site
(:func:`packed`: a JSON description beside one zlib-compressed uint8 array
``(N, H, W, C)``, written by ``build/probe_sets.py``), a model's example images with the
labels of their ``index.json`` (:func:`from_examples`), and the reader's own folder or zip
of images (:func:`from_files`, :func:`from_zip`), labelled by their folders when they lie
in more than one. Pictures go through the model's own preprocessing; a file that is not a
usable image is skipped and named (``skipped``), and a set with no usable image at all is
refused with every reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from .errors import CnnlensError
from .model_card import Preprocessing
from .preprocess import normalise, preprocess, resize

INDEX_PATH: Final = "assets/probes/index.json"
"""The bundled probe sets: ``[{"name", "model", "title", "packed" | "examples"}]``, paths
relative to the site; ``model`` is the catalogue id the set was made for."""

MAX_IMAGES: Final = 2000
"""Most images one probe set may hold (a dissection keeps a layer's activations for all)."""

MAX_ZIP_BYTES: Final = 200 * 2**20
"""Most bytes a zip's images may unpack to."""

IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class ProbeSet:
    """``inputs`` ``(N, C, H, W)`` float32 (the model's preprocessed input); ``names`` one
    per image (its path in a folder or zip, or its index in a packed set); ``labels``
    ``(N,)`` int64 indices into ``classes`` (``None``: unlabelled); ``skipped`` says which
    files were left out and why."""

    name: str
    inputs: np.ndarray
    names: tuple[str | int, ...]
    labels: np.ndarray | None
    classes: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def bundled_entry(index: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    """The entry of the bundled probe set ``name``, or an error naming the known ones."""
    for entry in index:
        if entry["name"] == name:
            return entry
    known = ", ".join(e["name"] for e in index)
    raise CnnlensError(f"there is no bundled probe set called {name!r} (there are {known})")


def for_model(index: Sequence[dict[str, Any]], model_id: str | None) -> dict[str, Any] | None:
    """The bundled probe set made for catalogue model ``model_id``, if any."""
    return next((e for e in index if e["model"] == model_id), None)


def _check_count(count: int, what: str) -> None:
    if count > MAX_IMAGES:
        raise CnnlensError(f"{what} holds {count} images; a probe set takes at most "
                           f"{MAX_IMAGES}")


def packed(description: dict[str, Any], data: bytes, prep: Preprocessing) -> ProbeSet:
    """A packed probe set: ``description`` (its JSON: ``name``, ``shape`` ``[N, H, W, C]``,
    ``classes``, ``labels``, ``sha256`` of the uncompressed pixels) and ``data`` (the
    zlib-compressed uint8 pixels), preprocessed for a model taking ``prep``'s input."""
    name = description["name"]
    shape = tuple(int(d) for d in description["shape"])
    try:
        raw = zlib.decompress(data)
    except zlib.error as error:
        raise CnnlensError(f"the probe set {name} is damaged: {error}") from error
    if len(raw) != int(np.prod(shape)) or hashlib.sha256(raw).hexdigest() != description[
            "sha256"]:
        raise CnnlensError(f"the probe set {name} is damaged: its pixels do not match its "
                           "description")
    _check_count(shape[0], f"the probe set {name}")
    pixels = np.frombuffer(raw, np.uint8).reshape(shape)
    if shape[3] != prep.channels:
        kinds = {1: "greyscale", 3: "colour"}
        raise CnnlensError(f"the probe set {name} holds {kinds.get(shape[3], shape[3])} "
                           f"images; this model takes {kinds.get(prep.channels, '')} ones")
    inputs = np.stack([normalise(resize(p, prep.size, prep.resize), prep) for p in pixels])
    labels = np.asarray(description["labels"], np.int64)
    return ProbeSet(name, inputs, tuple(range(shape[0])), labels,
                    tuple(description["classes"]))


def _labels(names: Sequence[str]) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Labels from each file's folder, when the files lie in two folders or more."""
    folders = [n.rsplit("/", 2)[-2] if "/" in n else "" for n in names]
    classes = tuple(sorted(set(folders)))
    if len(classes) < 2:
        return None, ()
    return np.array([classes.index(f) for f in folders], np.int64), classes


def _decode(files: Sequence[tuple[str, bytes]], prep: Preprocessing
            ) -> tuple[list[str], list[np.ndarray], list[str]]:
    """The files that are usable images, their model inputs ``(C, H, W)``, and a reason for
    each other one."""
    names, inputs, skipped = [], [], []
    for name, data in files:
        if not name.lower().endswith(IMAGE_SUFFIXES):
            skipped.append(f"{name}: not an image file (by its name)")
            continue
        try:
            inputs.append(preprocess(data, prep)[0])
            names.append(name)
        except CnnlensError as error:
            skipped.append(f"{name}: {error}")
    return names, inputs, skipped


def _made(name: str, names: list[str], inputs: list[np.ndarray], skipped: list[str],
          labels: np.ndarray | None, classes: tuple[str, ...]) -> ProbeSet:
    if not inputs:
        reasons = "; ".join(skipped[:5]) + (" …" if len(skipped) > 5 else "")
        raise CnnlensError(f"{name} holds no image this model can read"
                           + (f" ({reasons})" if reasons else ""))
    return ProbeSet(name, np.stack(inputs), tuple(names), labels, classes, tuple(skipped))


def from_files(name: str, files: Sequence[tuple[str, bytes]], prep: Preprocessing
               ) -> ProbeSet:
    """A folder's files ``(path, bytes)``, paths relative to the folder with ``/``; hidden
    files (``.DS_Store``) and macOS's ``__MACOSX`` copies are passed over silently."""
    files = [(n, d) for n, d in files
             if not any(part.startswith(".") or part == "__MACOSX" for part in n.split("/"))]
    _check_count(len(files), name)
    names, inputs, skipped = _decode(sorted(files), prep)
    labels, classes = _labels(names)
    return _made(name, names, inputs, skipped, labels, classes)


def from_zip(name: str, data: bytes, prep: Preprocessing) -> ProbeSet:
    """A zip of images (folders inside label them, as :func:`from_files`)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        _check_count(len(members), name)
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise CnnlensError(f"{name} unpacks to more than {MAX_ZIP_BYTES // 2**20} MiB")
        files = [(m.filename, archive.read(m)) for m in members]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise CnnlensError(f"{name} is not a zip file that can be read: {error}") from error
    return from_files(name, files, prep)


def from_examples(name: str, index: Sequence[dict[str, Any]],
                  files: Sequence[tuple[str, bytes]], prep: Preprocessing,
                  classes: Sequence[str]) -> ProbeSet:
    """A model's example images (``files`` in the order of ``index``, its ``index.json``)
    labelled by their ``label``, which index into the model's ``classes``."""
    names, inputs, skipped = _decode(files, prep)
    label_of = {e["file"]: e.get("label") for e in index}
    known = [label_of.get(n) for n in names]
    if all(label in classes for label in known):
        labels: np.ndarray | None = np.array([list(classes).index(k) for k in known], np.int64)
        return _made(name, names, inputs, skipped, labels, tuple(classes))
    return _made(name, names, inputs, skipped, None, ())


Read = Callable[[str], Awaitable[bytes]]
"""Reads a site path (the page: a fetch; the command line: a file under the site's root)."""


async def load_bundled(entry: dict[str, Any], read: Read, prep: Preprocessing,
                       classes: Sequence[str]) -> ProbeSet:
    """The bundled probe set of index ``entry``: its packed array, or its example images
    labelled with the model's ``classes``."""
    if "packed" in entry:
        description = json.loads(await read(entry["packed"]))
        folder = entry["packed"].rsplit("/", 1)[0] + "/"
        return packed(description, await read(folder + description["data"]), prep)
    folder = entry["examples"]
    examples = json.loads(await read(folder + "index.json"))
    files = [(e["file"], await read(folder + e["file"])) for e in examples]
    return from_examples(entry["name"], examples, files, prep, classes)


def read_index(text: bytes | str) -> list[dict[str, Any]]:
    """The bundled probe sets' index (:data:`INDEX_PATH`)."""
    return list(json.loads(text))
