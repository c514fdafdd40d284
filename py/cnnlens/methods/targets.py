"""What a visualisation method explains or excites: a class, a channel, or one neuron.

A :class:`Target` names a scalar computed by the forward pass:

- a **class**: its logit, before any softmax (``layer`` is the logits tensor);
- a **channel**: the mean of one channel of a layer's output over its positions
  (a layer without positions, such as a Gemm's ``(N, K)``, has one value per channel);
- a **neuron**: one position ``(y, x)`` of one channel of an ``(N, C, H, W)`` layer.

``layer`` is always a tensor name of the forward pass (the node output the overview shows).
:func:`seeds` gives the gradient of that scalar with respect to its tensor, the start of
:func:`cnnlens.backward.backward`; :func:`value` reads the scalar itself. In a batch each
sample is scored on its own: one target applies to every sample, and a sequence of
targets gives sample ``i`` the target ``i`` (the "whole layer" mode of the maximiser).
Bad choices raise :class:`~cnnlens.errors.CnnlensError` with a message for the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import CnnlensError
from ..forward import ForwardResult
from ..graph import Model

CLASS_PREFIX = "class:"
"""How a class target is written on the command line: ``class:NAME``."""

TargetKind = Literal["class", "channel", "neuron"]


@dataclass(frozen=True)
class Target:
    """One scalar of the forward pass; build it with :func:`target_for` or the parsers,
    which check it against the model."""

    layer: str
    channel: int
    position: tuple[int, int] | None = None
    is_class: bool = False

    @property
    def kind(self) -> TargetKind:
        if self.is_class:
            return "class"
        return "channel" if self.position is None else "neuron"

    def label(self, classes: Sequence[str]) -> str:
        """The command-line spelling: ``class:NAME``, ``LAYER:CHANNEL`` or
        ``LAYER:CHANNEL:Y:X``."""
        if self.is_class:
            return CLASS_PREFIX + classes[self.channel]
        where = "" if self.position is None else f":{self.position[0]}:{self.position[1]}"
        return f"{self.layer}:{self.channel}{where}"


# ---------------------------------------------------------------- building targets


def _class_layers(result: ForwardResult) -> tuple[str, str]:
    return result.logits_name, result.output_name


def layers(model: Model, result: ForwardResult) -> tuple[str, ...]:
    """The tensors a channel or neuron target may name: every node output with a batch
    axis and channels ``(N, C, ...)``, in execution order (the model input excluded)."""
    return tuple(name for node in model.topological_order() for name in node.outputs
                 if name in result.tensors and result.tensors[name].ndim >= 2)


def _unknown_layer(model: Model, result: ForwardResult, layer: str) -> CnnlensError:
    names = layers(model, result)
    return CnnlensError(f"there is no layer {layer!r}; the layers are {', '.join(names)}")


def class_target(result: ForwardResult, index: int) -> Target:
    """Class number ``index``'s logit; raises when there is no such class."""
    count = result.logits.shape[-1]
    if not 0 <= index < count:
        raise CnnlensError(f"there is no class {index}: the model has {count} classes "
                           f"(0 to {count - 1})")
    return Target(result.logits_name, index, is_class=True)


def predicted_class(result: ForwardResult) -> Target:
    """The logit of the class the model predicts for the first sample."""
    return Target(result.logits_name, int(np.argmax(result.probabilities[0])), is_class=True)


def target_for(model: Model, result: ForwardResult, layer: str, channel: int,
               position: tuple[int, int] | None = None) -> Target:
    """The target for ``channel`` of ``layer`` (at ``position`` ``(y, x)`` when given).

    ``layer`` is a tensor name; the logits or the softmax output after them mean a class
    (its logit), as the overview's last column does. Raises for an unknown layer, a
    channel out of range, a position outside the map or on a layer without positions.
    """
    if layer in _class_layers(result):
        if position is not None:
            raise CnnlensError("a class has no position; leave out :Y:X")
        return class_target(result, channel)
    if layer not in layers(model, result):
        raise _unknown_layer(model, result, layer)
    shape = result.tensors[layer].shape
    if not 0 <= channel < shape[1]:
        raise CnnlensError(f"layer {layer!r} has {shape[1]} channels (0 to {shape[1] - 1}), "
                           f"so there is no channel {channel}")
    if position is not None:
        if len(shape) != 4:
            raise CnnlensError(f"layer {layer!r} is shaped {shape}, not (N, C, H, W): its "
                               "channels have no positions")
        y, x = position
        if not (0 <= y < shape[2] and 0 <= x < shape[3]):
            raise CnnlensError(f"position {y}:{x} is outside layer {layer!r}, whose maps are "
                               f"{shape[2]} × {shape[3]} (Y 0 to {shape[2] - 1}, "
                               f"X 0 to {shape[3] - 1})")
    return Target(layer, channel, position)


def class_named(result: ForwardResult, classes: Sequence[str], name: str) -> Target:
    """The class called ``name`` (exactly), or numbered ``name`` when no class has that name."""
    if name in classes:
        return class_target(result, list(classes).index(name))
    if name.strip().isdigit():
        return class_target(result, int(name))
    raise CnnlensError(f"there is no class {name!r}; the classes are {', '.join(classes)}")


def _integers(parts: Sequence[str]) -> list[int] | None:
    try:
        return [int(part) for part in parts]
    except ValueError:
        return None


def parse_neuron(model: Model, result: ForwardResult, text: str) -> Target:
    """``LAYER:CHANNEL`` (a channel's mean) or ``LAYER:CHANNEL:Y:X`` (one neuron).

    Layer names may themselves contain colons, so the numbers are read from the right.
    """
    known = set(layers(model, result)) | set(_class_layers(result))
    parts = text.split(":")
    for count in (3, 1):
        layer, numbers = ":".join(parts[:-count]), _integers(parts[-count:])
        if len(parts) > count and numbers is not None and layer in known:
            position = (numbers[1], numbers[2]) if count == 3 else None
            return target_for(model, result, layer, numbers[0], position)
    if parts[0] in known:
        raise CnnlensError(f"cannot read {text!r}: after the layer give CHANNEL or "
                           "CHANNEL:Y:X (numbers from 0)")
    if len(parts) > 1 and _integers(parts[1:]) is not None:
        raise _unknown_layer(model, result, parts[0])
    raise CnnlensError(f"cannot read {text!r} as LAYER:CHANNEL or LAYER:CHANNEL:Y:X "
                       "(numbers from 0)")


def parse_target(model: Model, result: ForwardResult, classes: Sequence[str],
                 text: str) -> Target:
    """``class:NAME``, ``LAYER:CHANNEL`` or ``LAYER:CHANNEL:Y:X`` (see :func:`parse_neuron`)."""
    if text.startswith(CLASS_PREFIX):
        return class_named(result, classes, text[len(CLASS_PREFIX):])
    return parse_neuron(model, result, text)


# ---------------------------------------------------------------- seeds and values


def _per_sample(result: ForwardResult, targets: Target | Sequence[Target]
                ) -> tuple[Target, ...]:
    """One target per sample of the batch."""
    count = result.tensors[result.input_name].shape[0]
    if isinstance(targets, Target):
        return (targets,) * count
    if len(targets) != count:
        raise CnnlensError(f"{len(targets)} targets for a batch of {count} samples")
    return tuple(targets)


def _rows(tensor: np.ndarray) -> np.ndarray:
    """``(N, C, ...)`` (or a batch-less ``(K,)`` logits vector) as ``(N, C, P)``, P positions."""
    if tensor.ndim == 1:
        return tensor.reshape(1, -1, 1)
    return tensor.reshape(tensor.shape[0], tensor.shape[1], -1)


def _flat_position(tensor: np.ndarray, target: Target) -> int | None:
    """The position's index among the channel's ``H W`` values (None: the whole channel)."""
    if target.position is None:
        return None
    return target.position[0] * tensor.shape[3] + target.position[1]


def seeds(result: ForwardResult, targets: Target | Sequence[Target]
          ) -> dict[str, np.ndarray]:
    """The seeds for :func:`~cnnlens.backward.backward`: d(Σ over samples of each sample's
    target value) / d tensor, for each tensor a target reads, shaped like the tensor.

    A class or a neuron gets a one; a channel's mean ``1 / P`` over its ``P`` positions.
    Samples are independent, so each sample's input gradient is its own target's.
    """
    per_sample = _per_sample(result, targets)
    out: dict[str, np.ndarray] = {}
    for layer in dict.fromkeys(t.layer for t in per_sample):  # a few layers at most
        tensor = result.tensors[layer]
        seed = np.zeros(tensor.shape, np.float32)
        rows = _rows(seed)  # a view: writing it fills `seed`
        samples = np.array([n for n, t in enumerate(per_sample) if t.layer == layer])
        chosen = [per_sample[n] for n in samples]
        channels = np.array([t.channel for t in chosen])
        spots = [_flat_position(tensor, t) for t in chosen]
        whole = np.array([p is None for p in spots])
        rows[samples[whole], channels[whole]] = 1.0 / rows.shape[2]
        at = np.array([p for p in spots if p is not None], dtype=np.intp)
        rows[samples[~whole], channels[~whole], at] = 1.0
        out[layer] = seed
    return out


def values(result: ForwardResult, targets: Target | Sequence[Target]) -> np.ndarray:
    """Each sample's target value ``(N,)`` float64: a class's logit, a channel's mean over
    its positions, or one neuron's value."""
    per_sample = _per_sample(result, targets)
    scores = np.empty(len(per_sample), np.float64)
    for layer in dict.fromkeys(t.layer for t in per_sample):
        tensor = result.tensors[layer]
        rows = _rows(tensor)
        samples = np.array([n for n, t in enumerate(per_sample) if t.layer == layer])
        chosen = [per_sample[n] for n in samples]
        channels = np.array([t.channel for t in chosen])
        spots = [_flat_position(tensor, t) for t in chosen]
        whole = np.array([p is None for p in spots])
        maps = rows[samples, channels].astype(np.float64)  # (n, P)
        at = np.array([0 if p is None else p for p in spots], dtype=np.intp)
        scores[samples] = np.where(whole, maps.mean(axis=1), maps[np.arange(len(at)), at])
    return scores


def value(result: ForwardResult, target: Target) -> float:
    """The target's value on the first sample (see :func:`values`)."""
    return float(values(result, target)[0])


def channel_count(result: ForwardResult, layer: str) -> int:
    """How many channels (or classes) a layer has: the number of images of the whole-layer
    mode."""
    return int(_rows(result.tensors[layer]).shape[1])
