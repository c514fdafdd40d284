"""Network inversion: an input whose activations at one layer match a given image's.

After Mahendran and Vedaldi (2015): start from seeded noise and descend the regularised
loss

    E(x) = ||A(x) - A0||² / ||A0||²  +  λ_TV R_TV(x)  +  λ_alpha R_alpha(x)

where ``A`` is the layer's activation, ``A0`` the target activation (the image's, or a
perturbed copy of it), ``R_TV`` the total-variation prior (the mean over pixels of
``((Δx² + Δy²) / V²)^(β/2)``, neighbouring differences in units of ``V``, a typical
neighbour difference: the input range / 6.5 as in the paper) and ``R_alpha`` the alpha-norm prior
(the mean of ``|(x - centre) / half-range|^alpha``: about 0 inside the range preprocessing can
make from pixels, growing fast outside it). Their weights are :class:`Settings`. The data
term's gradient is one backward pass (`backward.backward`, seeded at the layer with
``2 (A - A0) / ||A0||²``); the priors' are closed forms. Each step is one Adam step
downhill, then (optionally) clipping to the range.

:class:`Inverter` does bounded work per call like `methods.maximize.Maximizer`: the same
settings and seed give the same reconstruction after the same number of steps, however
the steps were split. :func:`binarised` and :func:`dropped_out` are the literature's two
perturbation experiments on the target activation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from ..backward import backward
from ..errors import CnnlensError
from ..forward import ForwardResult, run
from ..loader import LoadedModel
from .maximize import Seed, adam_step, check_settings, input_range

TV_SCALE: Final = 6.5
"""``V`` = input range / this: Mahendran and Vedaldi's typical neighbour difference."""


@dataclass(frozen=True)
class Settings:
    """How to descend. A prior is off at weight 0.

    step_size: Adam's step, in preprocessed input units; tv_weight, tv_beta: the
    total-variation prior's weight and exponent β (2: smooth, near 1: sharp edges kept);
    norm_weight, alpha: the alpha-norm (range) prior's weight and exponent alpha; clip: keep every
    value inside what preprocessing makes from pixels 0 to 255; noise: the standard
    deviation of the starting noise, as a fraction of that range.
    """

    step_size: float = 0.05
    tv_weight: float = 0.05
    tv_beta: float = 2.0
    norm_weight: float = 0.01
    alpha: float = 6.0
    clip: bool = True
    noise: float = 0.1

    def __post_init__(self) -> None:
        rules = (("step_size", self.step_size > 0, "more than 0"),
                 ("tv_weight", self.tv_weight >= 0, "0 or more"),
                 ("tv_beta", self.tv_beta >= 1, "1 or more"),
                 ("norm_weight", self.norm_weight >= 0, "0 or more"),
                 ("alpha", self.alpha >= 1, "1 or more"),
                 ("noise", self.noise >= 0, "0 or more"))
        check_settings(self, rules)


# ---------------------------------------------------------------- pure parts of the loss


def data_loss(activation: np.ndarray, goal: np.ndarray) -> tuple[float, np.ndarray]:
    """``||A - A0||² / ||A0||²`` and its gradient with respect to ``A`` (same shape)."""
    scale = float(np.sum(np.square(goal, dtype=np.float64)))
    if scale == 0:
        raise CnnlensError("the layer's activation is all zeros for this image, so there is "
                           "nothing to reconstruct from: pick another layer or image")
    difference = activation.astype(np.float64) - goal
    return float(np.sum(difference**2)) / scale, 2 * difference / scale


def total_variation(x: np.ndarray, scale: np.ndarray, beta: float
                    ) -> tuple[float, np.ndarray]:
    """R_TV of ``x`` `(N, C, H, W)` and its gradient: the mean over the `(H-1, W-1)`
    positions and the channels of ``((Δx² + Δy²) / V²)^(β/2)``, ``V`` = ``scale``
    `(1, C, 1, 1)` per channel (forward differences; the last row and column have none)."""
    dy = (x[:, :, 1:, :-1] - x[:, :, :-1, :-1]) / scale
    dx = (x[:, :, :-1, 1:] - x[:, :, :-1, :-1]) / scale
    squared = dx**2 + dy**2
    count = squared.size
    value = float(np.sum(squared ** (beta / 2))) / count
    # d/d(Δ) of (Δx² + Δy²)^(β/2) is β (…)^(β/2 - 1) Δ; at 0 that is 0 for β ≥ 2 and the
    # subgradient 0 for 1 ≤ β < 2.
    safe = np.where(squared > 0, squared, 1.0)
    factor = np.where(squared > 0, beta * safe ** (beta / 2 - 1), 0.0) / count
    gdx, gdy = factor * dx / scale, factor * dy / scale
    grad = np.zeros(x.shape, np.result_type(x, np.float64))
    grad[:, :, :-1, 1:] += gdx
    grad[:, :, 1:, :-1] += gdy
    grad[:, :, :-1, :-1] -= gdx + gdy
    return value, grad


def alpha_norm(x: np.ndarray, centre: np.ndarray, half: np.ndarray, alpha: float
               ) -> tuple[float, np.ndarray]:
    """R_alpha of ``x`` `(N, C, H, W)` and its gradient: the mean of
    ``|(x - centre) / half|^alpha``, ``centre`` and ``half`` the middle and half-width of the
    input range `(1, C, 1, 1)`."""
    u = (x - centre) / half
    value = float(np.mean(np.abs(u) ** alpha))
    grad = alpha * np.abs(u) ** (alpha - 1) * np.sign(u) / half / u.size
    return value, grad


# ---------------------------------------------------------------- perturbations


def binarised(goal: np.ndarray) -> np.ndarray:
    """The activation with its signs kept and every non-zero magnitude equal, with the
    same Euclidean norm (zeros stay zeros)."""
    signs = np.sign(goal)
    count = int(np.count_nonzero(signs))
    if count == 0:
        return goal.copy()
    return (signs * (np.linalg.norm(goal) / math.sqrt(count))).astype(goal.dtype)


def dropped_out(goal: np.ndarray, seed: Seed, rate: float = 0.5) -> np.ndarray:
    """The activation with a seeded ``rate`` of its values set to 0, the rest rescaled so
    that the Euclidean norm stays the same."""
    keep = np.random.default_rng(seed).random(goal.shape) >= rate
    kept = goal * keep
    norm = np.linalg.norm(kept)
    if norm == 0:
        return kept.astype(goal.dtype)
    return (kept * (np.linalg.norm(goal) / norm)).astype(goal.dtype)


def relative_error(found: np.ndarray, original: np.ndarray) -> float:
    """``||found - original|| / ||original||`` (in float64)."""
    scale = np.linalg.norm(original.astype(np.float64))
    if scale == 0:
        return float("inf") if np.any(found) else 0.0
    return float(np.linalg.norm(found.astype(np.float64) - original) / scale)


# ---------------------------------------------------------------- the inverter


class Inverter:
    """Gradient descent from seeded noise towards an input whose ``layer`` activation is
    ``goal`` (shaped like the layer's tensor, batch 1).

    Attributes: ``image`` the current reconstruction `(1, C, H, W)` float32 in the model's
    preprocessed units; ``losses`` the total loss and its three terms after each step
    `(steps + 1, 4)` float64 (data, TV, alpha-norm: unweighted; row 0 on the starting noise);
    ``steps`` how many steps ran.
    """

    def __init__(self, loaded: LoadedModel, layer: str, goal: np.ndarray,
                 settings: Settings | None = None, seed: Seed = 0) -> None:
        self.loaded = loaded
        self.layer = layer
        self.goal = goal.astype(np.float64)
        self.settings = settings or Settings()
        prep = loaded.card.preprocessing
        low, high = input_range(prep)
        self._low, self._high = low.reshape(1, -1, 1, 1), high.reshape(1, -1, 1, 1)
        self._centre = ((self._low + self._high) / 2).astype(np.float64)
        self._half = ((self._high - self._low) / 2).astype(np.float64)
        self._tv_scale = (self._high - self._low).astype(np.float64) / TV_SCALE
        shape = (1, prep.channels, *prep.size)
        noise = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        start = self._centre + noise * self.settings.noise * (self._high - self._low)
        self.image = self._clip(start.astype(np.float32))
        self._m = np.zeros(shape, np.float32)
        self._v = np.zeros(shape, np.float32)
        self.steps = 0
        self._result = self._forward(self.image)
        self._now = self._terms(self._result)  # the loss terms at the current image
        self._losses = [self._now[0]]

    def _forward(self, x: np.ndarray) -> ForwardResult:
        result = run(self.loaded.model, x)
        if result.tensors[self.layer].shape != self.goal.shape:
            raise CnnlensError(f"layer {self.layer!r} is shaped "
                               f"{result.tensors[self.layer].shape}, the goal {self.goal.shape}")
        return result

    def _clip(self, x: np.ndarray) -> np.ndarray:
        if self.settings.clip:
            x = np.clip(x, self._low, self._high)
        return x.astype(np.float32, copy=False)

    def _terms(self, result: ForwardResult) -> tuple[list[float], np.ndarray, np.ndarray]:
        """At ``result``'s input: the loss row (total, data, TV, alpha-norm), d loss / d A
        and the weighted priors' gradient with respect to the input (each prior once)."""
        s = self.settings
        data, d_activation = data_loss(result.tensors[self.layer], self.goal)
        x = result.tensors[result.input_name].astype(np.float64)
        tv, d_tv = total_variation(x, self._tv_scale, s.tv_beta)
        norm, d_norm = alpha_norm(x, self._centre, self._half, s.alpha)
        row = [data + s.tv_weight * tv + s.norm_weight * norm, data, tv, norm]
        return row, d_activation, s.tv_weight * d_tv + s.norm_weight * d_norm

    def _input_gradient(self, result: ForwardResult, terms: tuple[list[float], np.ndarray,
                                                                   np.ndarray]) -> np.ndarray:
        _, d_activation, d_priors = terms
        grads = backward(self.loaded.model, result,
                         {self.layer: d_activation.astype(np.float32)})
        data = grads.get(result.input_name, np.zeros(d_priors.shape, np.float32))
        return data.astype(np.float64) + d_priors

    def gradient(self, result: ForwardResult) -> np.ndarray:
        """d E / d input at ``result``'s input `(1, C, H, W)` float64."""
        return self._input_gradient(result, self._terms(result))

    def _step(self) -> None:
        count = self.steps + 1
        gradient = self._input_gradient(self._result, self._now).astype(np.float32)
        self._m, self._v, move = adam_step(self._m, self._v, gradient, count,
                                           self.settings.step_size)
        self.image = self._clip(self.image - move)
        self.steps = count
        self._result = self._forward(self.image)
        self._now = self._terms(self._result)
        self._losses.append(self._now[0])

    def step(self, count: int = 1) -> None:
        """Runs exactly ``count`` more steps."""
        if count < 0:
            raise CnnlensError(f"the number of steps cannot be negative, got {count}")
        for _ in range(count):
            self._step()

    @property
    def losses(self) -> np.ndarray:
        return np.array(self._losses)

    @property
    def activation(self) -> np.ndarray:
        """The reconstruction's activation at the layer (the current step's)."""
        return self._result.tensors[self.layer]


def invertible_layers(result: ForwardResult) -> tuple[str, ...]:
    """The tensors an inversion may start from: every node output after the input, in
    execution order, up to the logits (the probabilities after them add nothing)."""
    names = [n for n in result.tensors if n != result.input_name]
    if result.logits_name in names:
        names = names[:names.index(result.logits_name) + 1]
    return tuple(names)


def check_layer(result: ForwardResult, layer: str) -> None:
    """Raises a clear error unless ``layer`` is one :func:`invertible_layers` lists."""
    if layer == result.input_name:
        raise CnnlensError("the input is what inversion reconstructs, so it has nothing to "
                           "invert: pick a later layer")
    layers = invertible_layers(result)
    if layer not in layers:
        raise CnnlensError(f"there is no layer {layer!r} to invert from; the layers are "
                           f"{', '.join(layers)}")


def invert(loaded: LoadedModel, x: np.ndarray, layer: str, steps: int,
           settings: Settings | None = None, seed: Seed = 0) -> tuple[Inverter, ForwardResult]:
    """Reconstructs ``x`` `(1, C, H, W)` from its ``layer`` activation in ``steps`` steps;
    the inverter (its ``image``, ``losses``) and the original's forward pass."""
    original = run(loaded.model, x)
    check_layer(original, layer)
    inverter = Inverter(loaded, layer, original.tensors[layer], settings, seed)
    inverter.step(steps)
    return inverter, original
