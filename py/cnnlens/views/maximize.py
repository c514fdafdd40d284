"""The activation-maximisation view: a long job the page advances in short chunks.

The page asks for a picture that excites one target (a channel's mean, one neuron or a
class's logit), or one picture per channel of a layer ("whole layer"), and then asks again
and again for the next chunk of at most ``max_ms`` milliseconds of gradient ascent
(:mod:`cnnlens.methods.maximize` does the climbing). Every answer is the complete current
state: the pictures as the network sees them and as display pixels, the target's value
after every step, the step count and whether the goal is reached. Between chunks the
worker answers any other request, and the page draws, so nothing freezes.

A :class:`MaximizeJob` gives the same pictures however its steps are split into chunks:
each picture's maximiser is seeded, and chunks only decide when steps run, never what
they compute. In whole-layer mode every channel has its own maximiser (seeded
``(seed, channel)``) and the chunks step them in turn, so one chunk stays short even
when one step of all channels together would not.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any, Final

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..jobs import Chunk, PartsInTurn
from ..loader import LoadedModel
from ..methods.maximize import (
    SUGGESTED,
    Maximizer,
    Settings,
    channel_maximizers,
    layer_targets,
)
from ..methods.targets import Target, parse_target
from ..preprocess import input_preview
from . import colormap
from .bundle import Bundle

MAX_STEPS: Final = 5000
"""Most steps one job may be asked for (a typo of 100000 would keep the page busy)."""

MAX_SEED: Final = 2**32 - 1
"""Seeds run from 0 to this (what fits a link and ``numpy.random.default_rng``)."""

WHOLE_LAYER: Final = "*"
"""The channel part of a whole-layer target: ``LAYER:*``."""

MAX_PICTURES: Final = 64
"""Most channels whole-layer mode draws (one picture each); wider layers are refused."""

ABOUT: Final[dict[str, Any]] = {
    "title": "Activation maximisation",
    "text": (
        "Instead of asking what in this image the neuron responds to, ask what image it "
        "responds to most. Start from faint random noise (the seed fixes which), run the "
        "network forward, take the gradient of the target with respect to the input pixels, "
        "and move every pixel a small step uphill. Repeat, and the picture turns into the "
        "pattern the neuron is looking for. Left alone, gradient ascent finds high-frequency "
        "noise that no camera would produce, so the regularisers keep the picture "
        "image-like: L2 decay pulls every pixel back towards the average colour, jitter "
        "shifts the picture by a pixel or so before each step so that the pattern must work "
        "wherever it lands, blurring every few steps removes the finest speckle, and "
        "clipping keeps every value one that a real photograph could give after "
        "preprocessing."),
    "papers": [
        {"authors": "Erhan, Bengio, Courville and Vincent", "year": 2009,
         "title": "Visualizing Higher-Layer Features of a Deep Network (technical report "
                  "1341, Université de Montréal)",
         "url": "https://www.researchgate.net/publication/"
                "265022827_Visualizing_Higher-Layer_Features_of_a_Deep_Network"},
        {"authors": "Simonyan, Vedaldi and Zisserman", "year": 2014,
         "title": "Deep Inside Convolutional Networks: Visualising Image Classification "
                  "Models and Saliency Maps",
         "url": "https://arxiv.org/abs/1312.6034"},
        {"authors": "Yosinski, Clune, Nguyen, Fuchs and Lipson", "year": 2015,
         "title": "Understanding Neural Networks Through Deep Visualization",
         "url": "https://arxiv.org/abs/1506.06579"},
    ],
}

# ---------------------------------------------------------------- reading a request


def _setting(name: str, kind: str, value: Any) -> Any:
    """One setting's value as its field's type, or an error naming it."""
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise CnnlensError(f"the setting {name} must be true or false, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CnnlensError(f"the setting {name} must be a number, not {value!r}")
    if kind == "int":
        if not (math.isfinite(value) and float(value).is_integer()):
            raise CnnlensError(f"the setting {name} must be a whole number, not {value!r}")
        return int(value)
    return float(value)


def parse_settings(text: str, kind: type[Any] = Settings) -> Any:
    """A JSON object of the fields of ``kind``, a settings dataclass (by default
    :class:`~cnnlens.methods.maximize.Settings`) → a ``kind``.

    Fields left out keep their defaults; an unknown field, a value of the wrong type or
    one that ``kind`` refuses raises :class:`CnnlensError` with a message for the user.
    """
    types = {f.name: f.type for f in fields(kind)}
    try:
        given = json.loads(text)
    except ValueError as error:
        raise CnnlensError(f"the settings are not JSON: {error}") from error
    if not isinstance(given, dict):
        raise CnnlensError("the settings must be a JSON object of named values")
    unknown = sorted(set(given) - set(types))
    if unknown:
        raise CnnlensError(f"there is no setting {', '.join(map(repr, unknown))}; the "
                           f"settings are {', '.join(types)}")
    return kind(**{name: _setting(name, str(types[name]), value)
                   for name, value in given.items()})


def check_count(name: str, value: int, high: int) -> int:
    if not 0 <= value <= high:
        raise CnnlensError(f"the {name} must be a whole number from 0 to {high}, not {value}")
    return value


def job_targets(loaded: LoadedModel, result: ForwardResult, classes: list[str], text: str
                ) -> tuple[Target, ...]:
    """The targets a job climbs: one for ``class:NAME``, ``LAYER:CHANNEL`` or
    ``LAYER:CHANNEL:Y:X`` (:func:`~cnnlens.methods.targets.parse_target`), one per channel
    (or class) of the layer for ``LAYER:*``."""
    layer, _, last = text.rpartition(":")
    if text.split(":", 1)[0] == result.input_name:
        raise CnnlensError("the input is what maximisation changes, so it has nothing to "
                           "maximise: pick a channel of a later layer, or a class")
    if last == WHOLE_LAYER and layer:
        if layer == result.output_name:  # the softmax column shows the classes, too
            layer = result.logits_name
        parse_target(loaded.model, result, classes, f"{layer}:0")  # the layer's own errors
        targets = layer_targets(loaded, result, layer)
        if len(targets) > MAX_PICTURES:
            raise CnnlensError(f"layer {layer!r} has {len(targets)} channels; the whole-layer "
                               f"mode draws at most {MAX_PICTURES}, so pick one channel")
        return targets
    return (parse_target(loaded.model, result, classes, text),)


def _map_size(result: ForwardResult, layer: str) -> tuple[int, int] | None:
    """(H, W) of each channel's map for an `(N, C, H, W)` layer, else None."""
    shape = result.tensors[layer].shape
    return (int(shape[2]), int(shape[3])) if len(shape) == 4 else None


def start(loaded: LoadedModel, result: ForwardResult, classes: list[str], target: str,
          settings: str, seed: int, steps: int) -> MaximizeJob:
    """A new job from the page's request: ``target`` as :func:`job_targets` reads it,
    ``settings`` as :func:`parse_settings`, ``seed`` 0 to :data:`MAX_SEED`, ``steps`` 0 to
    :data:`MAX_STEPS`. Raises :class:`CnnlensError` for any of them that cannot be used;
    ``result`` is a forward pass of the same model (it gives the layers' shapes)."""
    chosen = parse_settings(settings)
    targets = job_targets(loaded, result, classes, target)
    return MaximizeJob(loaded, targets, target, chosen, seed, steps,
                       _map_size(result, targets[0].layer), classes)


# ---------------------------------------------------------------- the job


class MaximizeJob(PartsInTurn):
    """Gradient ascent towards one target, or towards each channel of a layer, in chunks
    (a :class:`~cnnlens.jobs.Job`; in whole-layer mode the channels' pictures are stepped in
    turn, :class:`~cnnlens.jobs.PartsInTurn`).

    ``targets`` come from :func:`job_targets`; several mean whole-layer mode. ``goal`` is
    the number of steps each picture gets. The pictures equal those of
    :class:`~cnnlens.methods.maximize.Maximizer` run directly for ``goal`` steps with
    the same settings and seed (``(seed, channel)`` per channel in whole-layer mode),
    however the work is chunked.
    """

    def __init__(self, loaded: LoadedModel, targets: tuple[Target, ...], label: str,
                 settings: Settings, seed: int, goal: int,
                 map_size: tuple[int, int] | None = None, classes: list[str] | None = None
                 ) -> None:
        self.loaded = loaded
        self.targets = targets
        self.label = label
        self.what = f"the maximisation of {label}"
        self.map_size = map_size
        self.classes = classes or []
        self.settings = settings
        self.seed = check_count("seed", seed, MAX_SEED)
        self.goal = check_count("number of steps", goal, MAX_STEPS)
        self.whole_layer = len(targets) > 1 or label.endswith(":" + WHOLE_LAYER)
        # One maximiser per channel rather than one batch (PartsInTurn says why).
        self.parts: list[Maximizer] = (channel_maximizers(loaded, targets, settings, seed)
                                       if self.whole_layer
                                       else [Maximizer(loaded, targets[0], settings, seed)])

    def view(self, chunk: Chunk | None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        return view(self, chunk)

    def pictures(self) -> np.ndarray:
        """The current pictures `(N, C, H, W)` float32 in the model's input units."""
        return np.concatenate([part.image for part in self.parts])

    def values(self) -> np.ndarray:
        """Each picture's target value after each step `(step + 1, N)` float64 (row 0:
        the starting noise). In whole-layer mode, channels ahead of the others by a step
        show only the steps all have had."""
        return np.concatenate([part.values[:self.step + 1] for part in self.parts], axis=1)


def display_pixels(pictures: np.ndarray, loaded: LoadedModel) -> np.ndarray:
    """Pictures `(N, C, H, W)` in input units → opaque RGBA `(N, H, W, 4)` uint8: the
    pixels that preprocessing would turn into them (values outside its range are shown
    at the nearest end)."""
    n, c, h, w = pictures.shape
    # input_preview takes one (C, H, W) picture; the N pictures stacked along H are one.
    stacked = pictures.transpose(1, 0, 2, 3).reshape(c, n * h, w)
    pixels = input_preview(stacked, loaded.card.preprocessing).reshape(n, h, w, c)
    if c == 1:
        return colormap.grey(pixels[..., 0])
    return np.concatenate([pixels, np.full((n, h, w, 1), 255, np.uint8)], axis=-1)


def _target_view(target: Target, classes: list[str]) -> dict[str, Any]:
    return {"layer": target.layer, "channel": target.channel, "kind": target.kind,
            "position": None if target.position is None else list(target.position),
            "name": classes[target.channel] if target.is_class else None}


def view(job: MaximizeJob, chunk: Chunk | None = None
         ) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The job's complete current state: view-model, float32 numbers, RGBA rasters.

    Numbers: ``pictures`` `(N, C, H, W)` (the inputs found so far, in the model's input
    units) and ``values`` `(step + 1, N)` (each picture's target value per step). Rasters:
    ``pictures`` `(N, H, W)` RGBA, as the network's input would look as an image.
    """
    pictures = job.pictures()
    values = job.values()
    bundle = Bundle()
    bundle.array("pictures", pictures)
    bundle.array("values", values)
    bundle.image("pictures", display_pixels(pictures, job.loaded))
    first = job.targets[0]
    return bundle.pack({
        "kind": "maximize",
        "label": job.label,
        "whole_layer": job.whole_layer,
        "layer": first.layer,
        "targets": [_target_view(t, job.classes) for t in job.targets],
        "map": None if job.map_size is None else list(job.map_size),
        "seed": job.seed,
        "settings": asdict(job.settings),
        **job.progress(chunk),
        "value": [float(v) for v in values[-1]],
        "value_range": [float(values.min()), float(values.max())],
        "suggested": SUGGESTED,
        "about": ABOUT,
    })
