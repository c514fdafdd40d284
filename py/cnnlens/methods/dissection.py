"""Network dissection, lite (after Bau, Zhou, Khosla, Oliva and Torralba 2017): what each
channel of a layer responds to, seen through the probe images that excite it most.

A :class:`Dissector` runs the model over a probe set (:mod:`cnnlens.probe`) a batch at a
time (``step(n)`` runs ``n`` batches; the page's job spends a chunk of time on them) and
keeps the layer's activations ``(N, C, H, W)``. :func:`dissect` then reads
them, all channels at once:

- each image's peak per channel (its maximal activation and where, first in row-major
  order) and, per channel, the ``top`` images by that peak (ties: the earlier image), with
  the receptive-field box of the peak's neuron (:mod:`cnnlens.receptive_field`);
- the channel's threshold, the top 0.5% quantile of all its activations over the probe set
  (NumPy's linear quantile), and over each top image the activation map upsampled to the
  input (bilinear between the neurons' receptive-field centres) and thresholded there;
- per class the mean over its images of the channel's mean activation, and the channel's
  class selectivity (Morcos et al. 2018): ``(mu_max - mu_rest) / (mu_max + mu_rest)``,
  ``mu_max`` the highest class mean and ``mu_rest`` the mean of the others, of what a ReLU
  would pass on (the positive part: the index needs activity that is never negative; after
  a ReLU that is the activation itself); 0 for a channel never active;
- dead channels: never above 0 on the probe set (a ReLU after them would pass nothing).

The layer summary ranks live channels by selectivity (by peak when the set has no labels),
dead ones last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from ..errors import CnnlensError
from ..forward import run
from ..limits import describe_bytes
from ..loader import LoadedModel
from ..probe import ProbeSet
from ..receptive_field import Field, boxes, centres, receptive_fields
from .attribution import linear_weights
from .maximize import accepts_batch

QUANTILE: Final = 0.995
"""A channel's threshold: this quantile of its activations over the probe set (Bau et al.)."""

DEFAULT_TOP: Final = 8
MAX_TOP: Final = 32
BATCH: Final = 8
"""Probe images per forward pass by default (one for a model whose batch is fixed at 1)."""

MAX_ACTIVATION_BYTES: Final = 256 * 2**20
"""Most bytes the layer's activations over the probe set may take (all are kept to find
each channel's quantile exactly)."""


@dataclass(frozen=True)
class Dissection:
    """One layer over one probe set. ``C`` channels, ``k`` top images, ``K`` classes.

    top: ``(C, k)`` probe image indices; values ``(C, k)``; positions ``(C, k, 2)`` (y, x
    in the layer); boxes ``(C, k, 4)`` ``[y0, x0, y1, x1]`` in input pixels, end-exclusive;
    thresholds ``(C,)``; masks ``(C, k, H_in, W_in)`` bool; class_means ``(C, K)`` (``K``
    = 0 without labels); classes the ``K`` class names; selectivity ``(C,)`` (NaN without
    labels); peak ``(C,)`` the highest activation; dead ``(C,)`` bool; ranking ``(C,)``
    channel indices, the summary's order.
    """

    layer: str
    top: np.ndarray
    values: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    thresholds: np.ndarray
    masks: np.ndarray
    class_means: np.ndarray
    classes: tuple[str, ...]
    selectivity: np.ndarray
    peak: np.ndarray
    dead: np.ndarray
    ranking: np.ndarray


# ---------------------------------------------------------------- pure steps


def peaks(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, C, H, W)`` → each image's maximum per channel ``(N, C)`` and its position
    ``(N, C, 2)`` (y, x; the first in row-major order)."""
    n, c, h, w = activations.shape
    flat = activations.reshape(n, c, h * w)
    where = flat.argmax(axis=-1)
    return flat.max(axis=-1), np.stack([where // w, where % w], axis=-1)


def top_images(maxima: np.ndarray, k: int) -> np.ndarray:
    """``(N, C)`` peaks → per channel the ``k`` images with the highest, highest first,
    ties to the earlier image: ``(C, k)``."""
    return np.argsort(-maxima.T, axis=1, kind="stable")[:, :k]


def thresholds(activations: np.ndarray, quantile: float = QUANTILE) -> np.ndarray:
    """``(N, C, H, W)`` → per channel the ``quantile`` of all its activations ``(C,)``, as
    ``np.quantile``'s default (linear) method, by partial sorting."""
    c = activations.shape[1]
    per_channel = activations.transpose(1, 0, 2, 3).reshape(c, -1)
    at = quantile * (per_channel.shape[1] - 1)
    low, high = int(np.floor(at)), int(np.ceil(at))
    parted = np.partition(per_channel, (low, high), axis=1)
    below, above = parted[:, low].astype(np.float64), parted[:, high].astype(np.float64)
    return (below + (above - below) * (at - low)).astype(np.float32)


def interpolation(count: int, size: int, first: float, step: float) -> np.ndarray:
    """``(size, count)`` weights of linear interpolation at input pixels ``0 … size - 1``
    between ``count`` samples placed at ``first + u * step``; beyond the first and last
    sample the value is held."""
    return linear_weights(np.clip((np.arange(size) - first) / step, 0, count - 1), count)


def _axis_weights(field: Field | None, axis: int, count: int, size: int) -> np.ndarray:
    if field is None:  # no geometry: spread the map evenly over the input
        step = size / count
        return interpolation(count, size, step / 2 - 0.5, step)
    first, step = centres(field, axis)
    return interpolation(count, size, first, step)


def upsample(maps: np.ndarray, field: Field | None, input_size: tuple[int, int]
             ) -> np.ndarray:
    """Activation maps ``(..., H, W)`` → ``(..., H_in, W_in)`` float32, bilinear between
    the neurons' receptive-field centres."""
    h, w = maps.shape[-2:]
    rows = _axis_weights(field, 0, h, input_size[0])
    cols = _axis_weights(field, 1, w, input_size[1])
    return (rows.astype(np.float32) @ maps @ cols.T.astype(np.float32)).astype(np.float32)


def class_means(means: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Per-image means ``(N, C)`` and labels ``(N,)`` → per channel the mean over each
    class's images ``(C, K)`` (NaN for a class with none)."""
    onehot = labels[:, None] == np.arange(count)[None, :]
    sizes = onehot.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (means.T.astype(np.float64) @ onehot) / sizes


def selectivity(means: np.ndarray) -> np.ndarray:
    """``(C, K)`` class means of non-negative activity (K ≥ 2) → ``(C,)`` selectivity
    index (see the module)."""
    ordered = np.sort(means, axis=1)
    best = ordered[:, -1]
    rest = ordered[:, :-1].mean(axis=1)
    scale = best + rest
    return np.divide(best - rest, scale, out=np.zeros_like(best), where=scale > 0)


def dissect(layer: str, activations: np.ndarray, probe: ProbeSet, field: Field | None,
            top: int) -> Dissection:
    """The whole dissection of ``layer`` from its activations over ``probe``
    ``(N, C, H, W)`` (see the module)."""
    n, c = activations.shape[:2]
    input_size = probe.inputs.shape[2:]
    maxima, where = peaks(activations)
    chosen = top_images(maxima, min(top, n))
    channels = np.arange(c)[:, None]
    values = maxima[chosen, channels]
    positions = where[chosen, channels]
    limits = thresholds(activations)
    maps = activations[chosen, channels]  # (C, k, H, W)
    masks = upsample(maps, field, input_size) > limits[:, None, None, None]
    peak = maxima.max(axis=0)
    dead = peak <= 0
    if probe.labels is not None and len(probe.classes) >= 2:
        count = len(probe.classes)
        # Not np.bincount: in Pyodide (32-bit) it refuses int64 labels.
        seen = np.zeros(count, bool)
        seen[probe.labels] = True
        present = np.flatnonzero(seen)
        means = class_means(activations.mean(axis=(2, 3)), probe.labels, count)[:, present]
        active = class_means(np.maximum(activations, 0).mean(axis=(2, 3)), probe.labels,
                             count)[:, present]
        names = tuple(probe.classes[i] for i in present)
        index = selectivity(active) if len(present) >= 2 else np.full(c, np.nan)
    else:
        means, names, index = np.zeros((c, 0)), (), np.full(c, np.nan)
    key = np.nan_to_num(index, nan=0.0) if len(names) >= 2 else peak.astype(np.float64)
    ranking = np.lexsort((np.arange(c), -key, dead))
    return Dissection(layer, chosen, values, positions,
                      boxes(field, positions, input_size), limits, masks, means, names, index,
                      peak, dead, ranking)


# ---------------------------------------------------------------- over the probe set


def _layer_shape(loaded: LoadedModel, probe: ProbeSet, layer: str
                 ) -> tuple[tuple[int, ...], Field | None]:
    """The layer's activation shape for one image and its receptive field."""
    result = run(loaded.model, probe.inputs[:1])
    tensors = result.tensors
    if layer not in tensors or layer == result.input_name:
        names = [name for name in tensors if name != result.input_name
                 and tensors[name].ndim == 4]
        raise CnnlensError(f"there is no layer called {layer!r} to dissect (there are "
                           f"{', '.join(names)})")
    shape = tensors[layer].shape
    if len(shape) != 4:
        raise CnnlensError(f"{layer} has no channels of maps to dissect: its output is "
                           f"{tuple(shape)}, not (N, C, H, W)")
    fields = receptive_fields(loaded.model, {k: v.shape for k, v in tensors.items()})
    return tuple(int(d) for d in shape[1:]), fields.get(layer)


class Dissector:
    """The activations of ``layer`` over ``probe``, gathered a batch per step.

    ``done`` images so far of ``len(probe)``; once all are in, :meth:`result` is the
    :class:`Dissection` (computed once). Chunks never change the result.
    """

    def __init__(self, loaded: LoadedModel, probe: ProbeSet, layer: str,
                 top: int = DEFAULT_TOP, batch: int = BATCH) -> None:
        if not 1 <= top <= MAX_TOP:
            raise CnnlensError(f"the number of top images must be 1 to {MAX_TOP}, not {top}")
        self.loaded, self.probe, self.layer, self.top = loaded, probe, layer, top
        shape, self.field = _layer_shape(loaded, probe, layer)
        size = len(probe) * int(np.prod(shape)) * 4
        if size > MAX_ACTIVATION_BYTES:
            raise CnnlensError(
                f"{layer} over {len(probe)} images takes {describe_bytes(size)}, over the "
                f"limit of {describe_bytes(MAX_ACTIVATION_BYTES)}: use fewer images or a "
                "later layer")
        self.activations = np.empty((len(probe), *shape), np.float32)
        # A batch dimension that takes `batch` is symbolic: it takes a shorter last one too.
        self.batch = batch if accepts_batch(loaded, batch) else 1
        self.done = 0
        self._result: Dissection | None = None

    @property
    def finished(self) -> bool:
        return self.done >= len(self.probe)

    def step(self, count: int = 1) -> None:
        """Runs ``count`` more batches (fewer when the probe set ends)."""
        for _ in range(count):
            if self.finished:
                return
            end = min(self.done + self.batch, len(self.probe))
            result = run(self.loaded.model, self.probe.inputs[self.done:end])
            self.activations[self.done:end] = result.tensors[self.layer]
            self.done = end

    def result(self) -> Dissection:
        if not self.finished:
            raise CnnlensError(f"the dissection of {self.layer} has seen {self.done} of "
                               f"{len(self.probe)} images")
        if self._result is None:
            self._result = dissect(self.layer, self.activations, self.probe, self.field,
                                   self.top)
        return self._result

    def run(self) -> Dissection:
        """All at once (the CLI)."""
        while not self.finished:
            self.step(1)
        return self.result()
