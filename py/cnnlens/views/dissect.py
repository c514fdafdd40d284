"""The dissection view: one layer over a probe set, as a page job in short chunks.

The page asks for a layer's dissection (:mod:`cnnlens.methods.dissection`) over the
current model's bundled probe set or the reader's own images; the job runs the probe set
through the model a batch per step, then summarises in one last step. While it runs each
answer says how far it is; the last one carries everything the panel draws: the layer
summary (channels by class selectivity, dead ones flagged), per channel its top images
with the peak's receptive-field box, the thresholded mask over each, and its mean
activation per class. Finished dissections are kept for the session
(:class:`DissectionCache`): asking again answers at once, already done.
"""

from __future__ import annotations

import json
from typing import Any, Final

import numpy as np

from ..errors import CnnlensError
from ..jobs import Chunk, run_chunk
from ..loader import LoadedModel
from ..methods.dissection import Dissection, Dissector
from ..model_card import Preprocessing
from ..preprocess import input_preview
from ..probe import (
    INDEX_PATH,
    ProbeSet,
    Read,
    for_model,
    from_files,
    from_zip,
    load_bundled,
    read_index,
)
from . import colormap
from .bundle import Bundle

BATCH: Final = 2
"""Probe images per step in the page: a step of the bundled model stays well inside a
chunk, so chunks end close to the time the page asks for."""

MASK_RGBA: Final = (255, 196, 0, 150)
"""The mask's colour over a top image: translucent amber, clear of the grey pictures' and
the colour pictures' usual tones."""

OWN: Final = "own"
"""The probe set name of the reader's own images."""

ABOUT: Final[dict[str, Any]] = {
    "title": "Network dissection",
    "text": (
        "A channel responds to something; which thing? Dissection runs many labelled "
        "images through the network and, for each channel of a layer, looks at the images "
        "where it fires hardest. The box on each is the neuron's receptive field, the part "
        "of the input it can see at all, computed from the kernel sizes, strides, paddings "
        "and dilations of the layers before it. The highlighted region is where the "
        "channel's activation, upsampled to the input, is above its top 0.5% over all the "
        "images: where it really fires. The bars show its mean activation for each class; "
        "a channel whose bars stand out for one class is class-selective. A dead channel "
        "never fires on these images."),
    "papers": [
        {"authors": "Bau, Zhou, Khosla, Oliva and Torralba", "year": 2017,
         "title": "Network Dissection: Quantifying Interpretability of Deep Visual "
                  "Representations",
         "url": "https://arxiv.org/abs/1704.05796"},
        {"authors": "Zhou, Khosla, Lapedriza, Oliva and Torralba", "year": 2015,
         "title": "Object Detectors Emerge in Deep Scene CNNs",
         "url": "https://arxiv.org/abs/1412.6856"},
        {"authors": "Morcos, Barrett, Rabinowitz and Botvinick", "year": 2018,
         "title": "On the importance of single directions for generalization",
         "url": "https://arxiv.org/abs/1803.06959"},
    ],
}


Key = tuple[int, str, int]
"""A probe set's identity (the :class:`ProbeShelf` hands out one object per set and
preprocessing; the kept dissector holds it, so the id is not reused), layer, top images."""


class DissectionCache:
    """Finished dissections of one model, by probe set, layer and number of top images."""

    def __init__(self) -> None:
        self.model: LoadedModel | None = None
        self.found: dict[Key, Dissector] = {}

    def get(self, loaded: LoadedModel, key: Key) -> Dissector | None:
        if loaded is not self.model:
            self.model, self.found = loaded, {}
        return self.found.get(key)

    def keep(self, loaded: LoadedModel, key: Key, dissector: Dissector
             ) -> None:
        if loaded is self.model:
            self.found[key] = dissector


class DissectJob:
    """A :class:`Dissector` as a page job: a step is one batch of probe images, then one
    for the summary (``done`` after it)."""

    def __init__(self, dissector: Dissector, title: str,
                 on_done: Any = None) -> None:
        self.dissector = dissector
        self.title = title
        self.what = f"the dissection of {dissector.layer}"
        self.on_done = on_done
        self.found: Dissection | None = None
        if dissector.finished:
            self.found = dissector.result()

    @property
    def done(self) -> bool:
        return self.found is not None

    @property
    def step(self) -> int:
        return self.dissector.done + int(self.done)

    def _step(self) -> None:
        if not self.dissector.finished:
            self.dissector.step(1)
            return
        self.found = self.dissector.result()
        if self.on_done is not None:
            self.on_done(self.dissector)

    def advance(self, max_ms: float) -> Chunk:
        return run_chunk(self._step, lambda: self.done, max_ms)

    def view(self, chunk: Chunk | None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        return view(self, chunk)


def start(loaded: LoadedModel, probe: ProbeSet, title: str, layer: str, top: int,
          cache: DissectionCache) -> DissectJob:
    """A job dissecting ``layer`` over ``probe`` (answered at once, done, when ``cache``
    holds it); raises :class:`CnnlensError` for a layer or count that cannot be used."""
    key = (id(probe), layer, top)
    kept = cache.get(loaded, key)
    if kept is not None:
        return DissectJob(kept, title)
    return DissectJob(Dissector(loaded, probe, layer, top, BATCH), title,
                      lambda d: cache.keep(loaded, key, d))


def _pictures(inputs: np.ndarray, loaded: LoadedModel) -> np.ndarray:
    """Model inputs ``(M, C, H, W)`` → what the network sees as opaque RGBA
    ``(M, H, W, 4)``."""
    pixels = np.stack([input_preview(x, loaded.card.preprocessing) for x in inputs])
    if pixels.shape[-1] == 1:
        return colormap.grey(pixels[..., 0])
    return np.concatenate([pixels, np.full((*pixels.shape[:3], 1), 255, np.uint8)], axis=-1)


def _masks(masks: np.ndarray) -> np.ndarray:
    """``(C, k, H, W)`` bool → RGBA overlays, :data:`MASK_RGBA` where true, clear elsewhere."""
    return np.where(masks[..., None], np.array(MASK_RGBA, np.uint8), np.uint8(0))


def _summary(found: Dissection) -> list[dict[str, Any]]:
    best = (np.argmax(found.class_means, axis=1) if found.classes
            else np.zeros(len(found.peak), np.int64))
    return [{"channel": int(c),
             "selectivity": None if np.isnan(found.selectivity[c])
             else float(found.selectivity[c]),
             "top_class": found.classes[best[c]] if found.classes else None,
             "peak": float(found.peak[c]), "dead": bool(found.dead[c])}
            for c in found.ranking]


def view(job: DissectJob, chunk: Chunk | None
         ) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The job's state. Until done: how many probe images have run. Done, also: numbers
    ``values`` ``(C, k)``, ``class_means`` ``(C, K)``, ``thresholds`` ``(C,)``; rasters
    ``pictures`` ``(M, H, W)`` (the distinct top images, as the network sees them) and
    ``masks`` ``(C, k, H, W)`` (RGBA overlays); per channel its top entries index
    ``pictures``."""
    d = job.dissector
    probe = d.probe
    state: dict[str, Any] = {
        "kind": "dissect", "layer": d.layer, "top": d.top, "done": job.done,
        "step": job.step, "steps_total": len(probe) + 1,
        "probe": {"name": probe.name, "title": job.title, "count": len(probe),
                  "labelled": probe.labels is not None, "skipped": list(probe.skipped)},
        "input": list(probe.inputs.shape[2:]),
        "chunk": None if chunk is None else {"steps": chunk.steps, "ms": chunk.ms},
        "about": ABOUT,
    }
    bundle = Bundle()
    found = job.found
    if found is None:
        return bundle.pack(state)
    present = np.zeros(len(probe), bool)
    present[found.top] = True
    shown = np.flatnonzero(present)  # each top image once, in probe order
    where = (np.cumsum(present) - 1)[found.top]
    bundle.array("values", found.values)
    bundle.array("class_means", found.class_means)
    bundle.array("thresholds", found.thresholds)
    bundle.image("pictures", _pictures(probe.inputs[shown], d.loaded))
    bundle.image("masks", _masks(found.masks))
    labels = probe.labels
    channels = [{
        "channel": c,
        "top": [{"picture": int(where[c, r]), "image": probe.names[int(i)],
                 "label": None if labels is None else probe.classes[int(labels[i])],
                 "value": float(found.values[c, r]),
                 "position": [int(v) for v in found.positions[c, r]],
                 "box": [int(v) for v in found.boxes[c, r]]}
                for r, i in enumerate(found.top[c])],
        "threshold": float(found.thresholds[c]),
    } for c in range(found.top.shape[0])]
    return bundle.pack({**state, "classes": list(found.classes), "summary": _summary(found),
                        "channels": channels})


# ---------------------------------------------------------------- the probe sets


class ProbeShelf:
    """The probe sets the page dissects over: each bundled one, made once per model
    preprocessing, and the reader's own files, remade for each model's preprocessing."""

    def __init__(self) -> None:
        self.index: list[dict[str, Any]] | None = None
        self.made: dict[tuple[str, Preprocessing], ProbeSet] = {}
        self.own: tuple[str, list[tuple[str, bytes]]] | None = None

    def keep_own(self, data: bytes, files: str, prep: Preprocessing) -> dict[str, Any]:
        """The reader's folder (``files`` a JSON list of ``{name, size}``, the files'
        bytes joined in ``data``) or zip (one ``.zip`` entry): read once now for
        ``prep``, so a bad set is refused before it is kept; answers what it holds."""
        entries = json.loads(files)
        sizes = [int(e["size"]) for e in entries]
        if sum(sizes) != len(data):
            raise CnnlensError("the files' sizes do not add up to the bytes sent")
        ends = np.cumsum([0, *sizes])
        parts = [(str(e["name"]), data[a:b])
                 for e, a, b in zip(entries, ends[:-1], ends[1:], strict=True)]
        name = parts[0][0] if len(parts) == 1 else "your images"
        probe = self._own(name, parts, prep)
        self.own = (name, parts)
        self.made = {k: v for k, v in self.made.items() if k[0] != OWN}
        self.made[(OWN, prep)] = probe
        return {"name": name, "count": len(probe), "classes": list(probe.classes),
                "labelled": probe.labels is not None, "skipped": list(probe.skipped)}

    @staticmethod
    def _own(name: str, parts: list[tuple[str, bytes]], prep: Preprocessing) -> ProbeSet:
        if len(parts) == 1 and name.lower().endswith(".zip"):
            return from_zip(name, parts[0][1], prep)
        return from_files(name, parts, prep)

    async def get(self, which: str, loaded: LoadedModel, model_id: str | None,
                  classes: list[str], read: Read) -> tuple[ProbeSet, str]:
        """The probe set ``which`` (``""``: the model's bundled one, ``own``: the
        reader's) for ``loaded``, and its title."""
        prep = loaded.card.preprocessing
        if which == OWN:
            if self.own is None:
                raise CnnlensError("no images of your own are loaded yet: choose a folder "
                                   "or a zip of images")
            name, parts = self.own
            if (OWN, prep) not in self.made:
                self.made[(OWN, prep)] = self._own(name, parts, prep)
            probe = self.made[(OWN, prep)]
            return probe, f"{name} ({len(probe)} images)"
        if which:
            raise CnnlensError(f"unknown probe set {which!r}: \"\" or {OWN!r}")
        if self.index is None:
            self.index = read_index(await read(INDEX_PATH))
        entry = for_model(self.index, model_id)
        if entry is None:
            raise CnnlensError("this model has no probe set of its own: choose a folder or a "
                               "zip of images to dissect it over")
        if (entry["name"], prep) not in self.made:
            self.made[(entry["name"], prep)] = await load_bundled(entry, read, prep, classes)
        return self.made[(entry["name"], prep)], entry["title"]
