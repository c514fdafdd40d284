"""Activation maximisation: the input that excites a target most, by gradient ascent.

Start from seeded noise and repeat: (optionally) shift the picture by a random jitter,
take d target / d input by one backward pass, undo the shift on the gradient, move the
picture one Adam step uphill, then apply the regularisers the user chose: L2 decay towards
the dataset's mean colour (the preprocessed 0), a Gaussian blur every few steps, clipping
to the values preprocessing can produce from real pixels. :class:`Settings` holds those
choices.

The work is an object, :class:`Maximizer`, whose state is plain NumPy (the picture, Adam's
two moment estimates, one seeded ``numpy.random.Generator`` for the jitter) and which does
bounded work per call: ``step(n)`` runs ``n`` steps, ``advance(max_ms)`` as many as fit in
a time budget (the page calls it in chunks of under 100 ms, so its worker stays
responsive; stopping is not calling it, resuming is calling it again). Chunks do not
change the result: the same settings and seed give the same picture after the same
number of steps, however the steps were split. :class:`LayerMaximizer` makes one picture
per channel of a layer ("whole layer" mode).

The target's value after every step, the start included, is kept in ``values``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from ..backward import backward
from ..errors import CnnlensError
from ..forward import ForwardResult, run
from ..loader import LoadedModel
from ..model_card import Preprocessing
from ..preprocess import normalise
from .targets import Target, channel_count, seeds, target_for, values

Seed = int | tuple[int, ...]
"""What seeds ``numpy.random.default_rng``."""

ADAM_BETAS: Final = (0.9, 0.999)
ADAM_EPSILON: Final = 1e-8


@dataclass(frozen=True)
class Settings:
    """How to climb. A regulariser is off at 0 (``clip``: False).

    step_size: Adam's step, in preprocessed input units (about how far a pixel moves per
    step); l2_decay: the fraction of the picture removed each step (pulls it towards the
    dataset's mean colour); jitter: the largest random shift, in pixels, of the picture
    before each gradient (both axes, wrapping around); blur_every: blur the picture with a
    Gaussian of ``blur_sigma`` pixels every this many steps; clip: keep every value inside
    what preprocessing makes from pixels 0 to 255; noise: the standard deviation of the
    starting noise, as a fraction of that range.
    """

    step_size: float = 0.1
    l2_decay: float = 0.0
    jitter: int = 0
    blur_every: int = 0
    blur_sigma: float = 0.5
    clip: bool = True
    noise: float = 0.05

    def __post_init__(self) -> None:
        rules = (("step_size", self.step_size > 0, "more than 0"),
                 ("l2_decay", 0 <= self.l2_decay < 1, "from 0 up to (not including) 1"),
                 ("jitter", self.jitter >= 0, "0 or more"),
                 ("blur_every", self.blur_every >= 0, "0 or more"),
                 ("blur_sigma", self.blur_sigma > 0, "more than 0"),
                 ("noise", self.noise >= 0, "0 or more"))
        check_settings(self, rules)


def check_settings(settings: object, rules: Sequence[tuple[str, bool, str]]) -> None:
    """Raises :class:`CnnlensError` naming the first of ``settings``' fields that breaks
    its rule ``(name, ok, what is wanted)`` or is not finite (a settings dataclass's
    ``__post_init__``; inversion's settings share it)."""
    for name, ok, wanted in rules:
        value = getattr(settings, name)
        if not (ok and math.isfinite(value)):
            raise CnnlensError(f"{name.replace('_', ' ')} must be {wanted}, got {value!r}")


SUGGESTED: Final = {"l2_decay": 0.01, "jitter": 1, "blur_every": 4}
"""Strengths for regularisers switched on without a value (the page's toggles, the
CLI's bare flags)."""


# ---------------------------------------------------------------- pure steps


def input_range(prep: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest value of each input channel ``(C,)`` float32 that
    preprocessing can produce: pixels 0 and 255, normalised by the model card."""
    pixels = np.zeros((1, 2, prep.channels), np.uint8)
    pixels[:, 1] = 255
    ends = normalise(pixels, prep)[:, 0]  # (C, 2)
    return ends.min(axis=1), ends.max(axis=1)


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """``(N, C, H, W)`` blurred along H and W by a normalised Gaussian of ``sigma`` pixels
    (2 sigma wide each side), edges repeated."""
    radius = max(1, math.ceil(2 * sigma))
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    taps = (taps / taps.sum()).astype(np.float32)
    height, width = x.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (radius, radius), (0, 0)), mode="edge")
    rows = sum(t * padded[:, :, i:i + height] for i, t in enumerate(taps))
    padded = np.pad(rows, ((0, 0), (0, 0), (0, 0), (radius, radius)), mode="edge")
    return sum(t * padded[:, :, :, i:i + width] for i, t in enumerate(taps)).astype(np.float32)


def adam_step(m: np.ndarray, v: np.ndarray, grad: np.ndarray, count: int, step_size: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam's new moment estimates and the ascent ``step`` for gradient ``grad`` at step
    number ``count`` (from 1): each value moves by about ``step_size``."""
    beta1, beta2 = ADAM_BETAS
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**count)
    v_hat = v / (1 - beta2**count)
    return m, v, (step_size * m_hat / (np.sqrt(v_hat) + ADAM_EPSILON)).astype(np.float32)


# ---------------------------------------------------------------- the maximiser


def _input_shape(loaded: LoadedModel, count: int) -> tuple[int, int, int, int]:
    prep = loaded.card.preprocessing
    return (count, prep.channels, *prep.size)


def accepts_batch(loaded: LoadedModel, count: int) -> bool:
    """Whether the model's input takes ``count`` pictures at once."""
    return loaded.model.input.accepts(_input_shape(loaded, count))


class Maximizer:
    """Gradient ascent on a batch of pictures, sample ``i`` towards target ``i``.

    ``targets`` is one :class:`Target` (one picture) or one per picture; they come from a
    forward pass of the same model (:func:`~cnnlens.methods.targets.target_for`,
    :func:`~cnnlens.methods.targets.parse_target`). ``seed`` fixes the starting noise and
    the jitter. Attributes: ``image`` the current pictures ``(N, C, H, W)`` float32 in the
    model's preprocessed units; ``values`` the targets' values after each step
    ``(steps + 1, N)`` float64, row 0 on the starting noise; ``steps`` how many steps ran.
    """

    def __init__(self, loaded: LoadedModel, targets: Target | Sequence[Target],
                 settings: Settings | None = None, seed: Seed = 0) -> None:
        self.loaded = loaded
        self.targets = (targets,) if isinstance(targets, Target) else tuple(targets)
        self.settings = settings or Settings()
        self.seed = seed
        shape = _input_shape(loaded, len(self.targets))
        if not loaded.model.input.accepts(shape):
            raise CnnlensError(f"the model's input does not take {shape[0]} pictures at once")
        low, high = input_range(loaded.card.preprocessing)
        self._low, self._high = low.reshape(1, -1, 1, 1), high.reshape(1, -1, 1, 1)
        self._rng = np.random.default_rng(seed)
        noise = self._rng.standard_normal(shape).astype(np.float32)
        start = (self._low + self._high) / 2 + noise * self.settings.noise * (self._high -
                                                                                self._low)
        self.image = self._regularise(start.astype(np.float32), blur=False)
        self._m = np.zeros(shape, np.float32)
        self._v = np.zeros(shape, np.float32)
        self.steps = 0
        self._result = self._forward(self.image)
        self._values = [values(self._result, self.targets)]

    @property
    def values(self) -> np.ndarray:
        return np.array(self._values)

    @property
    def value(self) -> float:
        """The first picture's current target value."""
        return float(self._values[-1][0])

    def _forward(self, x: np.ndarray) -> ForwardResult:
        return run(self.loaded.model, x)

    def _regularise(self, x: np.ndarray, blur: bool) -> np.ndarray:
        s = self.settings
        if s.l2_decay:
            x = x * np.float32(1 - s.l2_decay)
        if blur:
            x = gaussian_blur(x, s.blur_sigma)
        if s.clip:
            x = np.clip(x, self._low, self._high)
        return x.astype(np.float32, copy=False)

    def _gradient(self) -> np.ndarray:
        """d targets / d picture at the current picture, seen through this step's jitter."""
        s = self.settings
        shift = (0, 0)
        if s.jitter:
            shift = tuple(int(d) for d in self._rng.integers(-s.jitter, s.jitter + 1, 2))
        if shift == (0, 0):
            result = self._result
        else:
            result = self._forward(np.roll(self.image, shift, axis=(2, 3)))
        grads = backward(self.loaded.model, result, seeds(result, self.targets))
        gradient = grads.get(result.input_name, np.zeros(self.image.shape, np.float32))
        return np.roll(gradient, (-shift[0], -shift[1]), axis=(2, 3))

    def _step(self) -> None:
        s = self.settings
        count = self.steps + 1
        self._m, self._v, move = adam_step(self._m, self._v, self._gradient(), count,
                                           s.step_size)
        blur = bool(s.blur_every) and count % s.blur_every == 0
        self.image = self._regularise(self.image + move, blur)
        self.steps = count
        self._result = self._forward(self.image)
        self._values.append(values(self._result, self.targets))

    def step(self, count: int = 1) -> None:
        """Runs exactly ``count`` more steps."""
        if count < 0:
            raise CnnlensError(f"the number of steps cannot be negative, got {count}")
        for _ in range(count):
            self._step()

    def advance(self, max_ms: float, until: int | None = None) -> int:
        """Runs steps for about ``max_ms`` milliseconds; returns how many ran (see
        :func:`run_for`)."""
        return run_for(self.step, lambda: self.steps, max_ms, until)


def run_for(step: Callable[[int], None], steps: Callable[[], int], max_ms: float,
            until: int | None) -> int:
    """Calls ``step(1)`` while the budget lasts: at least once, never past step ``until``
    (counted by ``steps()``) when given, and a step starts only when the previous one's
    duration still fits in ``max_ms`` milliseconds. Returns how many steps ran."""
    done = 0
    begin = time.perf_counter()
    last = 0.0
    while until is None or steps() < until:
        if done and (time.perf_counter() - begin) * 1000 + last > max_ms:
            break
        started = time.perf_counter()
        step(1)
        last = (time.perf_counter() - started) * 1000
        done += 1
    return done


def layer_targets(loaded: LoadedModel, result: ForwardResult, layer: str
                  ) -> tuple[Target, ...]:
    """One target per channel (or class) of ``layer``: the whole-layer mode's targets."""
    first = target_for(loaded.model, result, layer, 0)
    return tuple(Target(first.layer, c, None, first.is_class)
                 for c in range(channel_count(result, layer)))


def channel_maximizers(loaded: LoadedModel, targets: Sequence[Target],
                       settings: Settings | None, seed: int) -> list[Maximizer]:
    """One :class:`Maximizer` per channel target, seeded ``(seed, channel)``, so each
    channel's picture is the same whichever others are climbing beside it."""
    return [Maximizer(loaded, t, settings, (seed, t.channel)) for t in targets]


class LayerMaximizer:
    """One picture per channel of a layer, each towards its channel's mean.

    The pictures climb as one batch when the model takes one (every channel in the same
    passes); a model whose batch size is fixed at 1 gets one :class:`Maximizer` per
    channel, seeded ``[seed, channel]``, stepped together. Same interface as
    :class:`Maximizer`: ``image`` ``(C, C_in, H, W)``, ``values`` ``(steps + 1, C)``.
    """

    def __init__(self, loaded: LoadedModel, result: ForwardResult, layer: str,
                 settings: Settings | None = None, seed: int = 0) -> None:
        targets = layer_targets(loaded, result, layer)
        self.layer = layer
        if accepts_batch(loaded, len(targets)):
            self.parts = [Maximizer(loaded, targets, settings, seed)]
        else:
            # A fixed batch of 1 leaves no choice but one pass per channel.
            self.parts = channel_maximizers(loaded, targets, settings, seed)

    @property
    def steps(self) -> int:
        return self.parts[0].steps

    @property
    def image(self) -> np.ndarray:
        return np.concatenate([part.image for part in self.parts])

    @property
    def values(self) -> np.ndarray:
        return np.concatenate([part.values for part in self.parts], axis=1)

    def step(self, count: int = 1) -> None:
        for part in self.parts:
            part.step(count)

    def advance(self, max_ms: float, until: int | None = None) -> int:
        """As :meth:`Maximizer.advance`; all channels always stay at the same step."""
        return run_for(self.step, lambda: self.steps, max_ms, until)
