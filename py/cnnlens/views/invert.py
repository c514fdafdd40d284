"""The network-inversion view: what a layer keeps of the image, as a page job.

The page asks for a reconstruction of the current image from one layer's activations
(:mod:`cnnlens.methods.inversion` does the descent), then for chunks of at most ``max_ms``
milliseconds of steps (``job_step``, :mod:`cnnlens.jobs`). Three modes: ``layer`` (the
chosen layer), ``perturb`` (the chosen layer three times: plain, its activations binarised,
half of them dropped out) and ``all`` (one reconstruction per layer, from the first to the
logits). Every answer is the complete current state: the original and the reconstructions
as the network sees them and as display pixels, each one's loss per step, and its relative
input and activation errors.

The parts are separate seeded :class:`~cnnlens.methods.inversion.Inverter` s stepped in
turn, so a chunk can stop after any one step and each reconstruction equals the one the
CLI makes with the same layer, settings, seed and steps (``(seed, part)`` for the
perturbed ones), however the work is chunked.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..jobs import Chunk, PartsInTurn
from ..loader import LoadedModel
from ..methods.inversion import (
    Inverter,
    Settings,
    binarised,
    check_layer,
    dropped_out,
    invertible_layers,
    relative_error,
)
from .bundle import Bundle
from .maximize import MAX_SEED, MAX_STEPS, check_count, display_pixels, parse_settings

MODES: Final = ("layer", "perturb", "all")
"""One layer; one layer plain, binarised and dropped out; every layer."""

MAX_LAYERS: Final = 24
"""Most reconstructions the ``all`` mode makes (a gallery net has hundreds of layers)."""

DROPOUT_SEED: Final = 1
"""The dropout mask's seed is ``(seed, DROPOUT_SEED)``: fixed by the job's seed."""

ABOUT: Final[dict[str, Any]] = {
    "title": "Network inversion",
    "text": (
        "How much of the picture does a layer still hold? Take the layer's activations for "
        "this image and search for an input that produces the same activations: start from "
        "random noise (the seed fixes which) and move every pixel downhill on the "
        "difference between its activations and the image's, measured relative to the "
        "image's. Many inputs give the same activations, so two priors pick a natural-"
        "looking one: total variation penalises differences between neighbouring pixels "
        "(β = 2 blurs, β near 1 keeps edges), and the alpha-norm keeps values inside the "
        "range a real picture can have. Early layers keep nearly everything; deeper ones "
        "keep what matters for the class and let position and detail go. Binarising the "
        "activations (keeping only which are on) or dropping half of them shows how much "
        "the exact values matter."),
    "papers": [
        {"authors": "Mahendran and Vedaldi", "year": 2015,
         "title": "Understanding Deep Image Representations by Inverting Them",
         "url": "https://arxiv.org/abs/1412.0035"},
        {"authors": "Dosovitskiy and Brox", "year": 2016,
         "title": "Inverting Visual Representations with Convolutional Networks",
         "url": "https://arxiv.org/abs/1506.02753"},
    ],
}


class InvertJob(PartsInTurn):
    """Reconstructions of one image from layer activations, stepped in turn (a
    :class:`~cnnlens.jobs.Job`, :class:`~cnnlens.jobs.PartsInTurn`). ``x`` is the image
    `(1, C, H, W)`, ``result`` its forward pass; ``goal`` steps each."""

    def __init__(self, loaded: LoadedModel, x: np.ndarray, result: ForwardResult, layer: str,
                 mode: str, settings: Settings, seed: int, goal: int) -> None:
        if mode not in MODES:
            raise CnnlensError(f"there is no inversion mode {mode!r}; the modes are "
                               f"{', '.join(MODES)}")
        if mode != "all":
            check_layer(result, layer)
        self.loaded, self.x, self.result = loaded, x, result
        self.layer, self.mode, self.settings = layer, mode, settings
        self.seed = check_count("seed", seed, MAX_SEED)
        self.goal = check_count("number of steps", goal, MAX_STEPS)
        self.what = f"the inversion of {layer}" if mode != "all" else "the inversion of every layer"
        plan = self._plan()
        self.labels = [label for label, *_ in plan]
        self.parts: list[Inverter] = [Inverter(loaded, at, target, settings, part_seed)
                                      for _, at, target, part_seed in plan]

    def _plan(self) -> list[tuple[str, str, np.ndarray, Any]]:
        """Per reconstruction: its label, layer, target activation and seed."""
        tensors = self.result.tensors
        if self.mode == "all":
            layers = invertible_layers(self.result)
            if len(layers) > MAX_LAYERS:
                raise CnnlensError(f"this model has {len(layers)} layers; inverting every one "
                                   f"is offered up to {MAX_LAYERS}: pick one layer")
            return [(at, at, tensors[at], self.seed) for at in layers]
        goal = tensors[self.layer]
        plain = [("plain", self.layer, goal, self.seed)]
        if self.mode == "layer":
            return plain
        return [*plain,
                ("binarised", self.layer, binarised(goal), self.seed),
                ("dropout 50%", self.layer, dropped_out(goal, (self.seed, DROPOUT_SEED)),
                 self.seed)]

    def view(self, chunk: Chunk | None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """View-model, float32 numbers and RGBA rasters. Numbers: ``original`` `(1, C, H,
        W)`, ``pictures`` `(N, C, H, W)` (the reconstructions, input units) and ``losses``
        `(step + 1, N)` (each one's total loss per step). Rasters: ``original`` `(1, H, W)`
        and ``pictures`` `(N, H, W)`."""
        pictures = np.concatenate([part.image for part in self.parts])
        losses = np.stack([part.losses[:self.step + 1, 0] for part in self.parts], axis=1)
        bundle = Bundle()
        bundle.array("original", self.x)
        bundle.array("pictures", pictures)
        bundle.array("losses", losses)
        bundle.image("original", display_pixels(self.x, self.loaded))
        bundle.image("pictures", display_pixels(pictures, self.loaded))
        originals = self.result.tensors
        return bundle.pack({
            "kind": "invert",
            "layer": self.layer,
            "mode": self.mode,
            "layers": list(invertible_layers(self.result)),
            "parts": [{"label": label, "layer": part.layer,
                       "loss": float(part.losses[-1, 0]),
                       "input_error": relative_error(part.image, self.x),
                       "activation_error": relative_error(part.activation,
                                                          originals[part.layer])}
                      for label, part in zip(self.labels, self.parts, strict=True)],
            "seed": self.seed,
            "settings": asdict(self.settings),
            **self.progress(chunk),
            "loss_range": [float(losses.min()), float(losses.max())],
            "about": ABOUT,
        })


def start(loaded: LoadedModel, x: np.ndarray, result: ForwardResult, layer: str, mode: str,
          settings: str, seed: int, steps: int) -> InvertJob:
    """A new job from the page's request: ``settings`` a JSON object of
    :class:`~cnnlens.methods.inversion.Settings` fields; raises :class:`CnnlensError` for
    anything that cannot be used."""
    return InvertJob(loaded, x, result, layer, mode, parse_settings(settings, Settings), seed,
                     steps)
