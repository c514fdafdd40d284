"""How each Keras layer of a TF.js layers model becomes ONNX nodes (:mod:`cnnlens.tfjs`
reads the files and calls :data:`LAYERS` in order).

Supported: a Keras ``Sequential`` model of ``InputLayer``, ``Conv2D`` (``valid``/``same``
padding, strides, dilations, bias optional), ``Activation`` and fused activations
(``linear``, ``relu``, ``sigmoid``, ``tanh``, ``softmax``), ``ReLU`` (plain),
``MaxPooling2D``, ``AveragePooling2D`` (``valid``/``same``), ``Flatten``, ``Dense``,
``Softmax`` and ``Dropout`` (nothing at inference), channels last, float32 weights.

Keras computes channels last (N, H, W, C); the ONNX graph is channels first (N, C, H, W), as
cnnlens feeds images. What changes:

- conv kernels ``(kh, kw, in, out)`` become ``(out, in, kh, kw)``;
- ``same`` padding becomes explicit ``pads``: TensorFlow pads ``total = max((ceil(n / s) -
  1) * s + (k - 1) * d + 1 - n, 0)``, the odd pixel at the end; max-pools ignore padding and
  average-pools leave it out of the count, as ONNX's ``MaxPool`` and ``AveragePool``
  (``count_include_pad = 0``) do;
- ``Flatten`` of (H, W, C) lists the values channel fastest; ONNX's ``Flatten`` of
  (C, H, W) lists them width fastest. Rather than transposing activations, the rows of the
  next ``Dense`` kernel are permuted, so the graph keeps a plain ``Flatten`` and computes
  the same logits. Layers between the two must act on each value alone (activations,
  dropout) or on the whole vector alike (softmax).

Names: each layer's op is a node named after the layer, whose output value has the same
name; a fused activation is a second node ``<layer>_<activation>``; weights are
``<layer>.weight`` and ``<layer>.bias``. Errors are :class:`ModelError` naming the layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import graph as g
from .errors import ModelError

Json = dict[str, Any]

# Keras activation name → ONNX op (None: no node).
ACTIVATIONS: dict[str, str | None] = {
    "linear": None, "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
}


def is_size(value: Any, least: int = 1) -> bool:
    """A whole number of at least `least` (JSON's `true` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


# ---------------------------------------------------------------- geometry


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``same`` padding of one axis: (before, after), the odd pixel after."""
    span = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def window_output(size: int, kernel: int, stride: int, dilation: int,
                  pads: tuple[int, int]) -> int:
    """Output length of a sliding window over ``size`` padded by ``pads``."""
    span = (kernel - 1) * dilation + 1
    return (size + sum(pads) - span) // stride + 1


def flatten_order(shape_chw: tuple[int, int, int]) -> np.ndarray:
    """``(C*H*W,)``: at each position of ONNX's CHW flatten, the index of that value in
    Keras's HWC flatten (channel fastest)."""
    c, h, w = shape_chw
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()


def _onnx_axis(axis: Any, rank: int, layer: str) -> int:
    """A Keras axis of a ``(N, H, W, C)`` or ``(N, K)`` tensor → the ONNX graph's axis."""
    if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
        raise ModelError(f"layer {layer!r}: softmax axis {axis!r} is not an axis of a "
                         f"rank-{rank} tensor")
    axis %= rank
    if axis == 0:
        raise ModelError(f"layer {layer!r}: softmax over the batch axis is not supported")
    return axis if rank == 2 else {1: 2, 2: 3, 3: 1}[axis]


# ---------------------------------------------------------------- building the graph


@dataclass
class GraphBuilder:
    """The ONNX graph being built, layer by layer.

    ``shape`` is the current value's per-sample shape in the ONNX graph: ``(C, H, W)`` or
    ``(K,)``. ``order`` is set after a Flatten of (C, H, W) until a Dense takes it into its
    kernel: the Keras index of each value of the ONNX vector (see `flatten_order`).
    """

    weights: dict[str, np.ndarray]
    source: str
    value: str = ""
    shape: tuple[int, ...] = ()
    order: np.ndarray | None = None
    nodes: list[g.Node] = field(default_factory=list)
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def add(self, op_type: str, name: str, extra_inputs: Sequence[str] = (),
            **attributes: Any) -> None:
        """Appends one node reading the current value; its output becomes the current one."""
        taken = {self.source, *self.initializers, *(n.outputs[0] for n in self.nodes)}
        if name in taken:
            raise ModelError(f"two layers make a value named {name!r}")
        self.nodes.append(g.Node(op_type, name, (self.value, *extra_inputs), (name,),
                                 attributes))
        self.value = name

    def weight(self, layer: str, param: str, shape: tuple[int, ...]) -> np.ndarray:
        key = f"{layer}/{param}"
        array = self.weights.get(key)
        if array is None:
            raise ModelError(f"layer {layer!r}: model.json's manifest has no weight {key!r}")
        if array.shape != shape:
            raise ModelError(f"layer {layer!r}: weight {key!r} has shape {list(array.shape)}, "
                             f"the layer needs {list(shape)}")
        self.used.add(key)
        return array

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers[name] = np.ascontiguousarray(array, dtype=np.float32)
        return name

    def activation(self, layer: str, name: Any, axis: Any = -1) -> None:
        """A fused or standalone activation; ``linear`` adds nothing."""
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise ModelError(f"layer {layer!r}: activation {name!r} is not supported "
                             f"(supported: {', '.join(ACTIVATIONS)})")
        op = ACTIVATIONS[name]
        if op is None:
            return
        # After the layer's own op (Conv, Gemm) the activation is a second node.
        node = f"{layer}_{name}" if self.value == layer else layer
        if op == "Softmax":
            self.add(op, node, axis=_onnx_axis(axis, len(self.shape) + 1, layer))
        else:
            self.add(op, node)

    def spatial(self, layer: str, kind: str) -> tuple[int, int, int]:
        """The current ``(C, H, W)``; `ModelError` when the value is already flat."""
        if len(self.shape) != 3:
            raise ModelError(f"layer {layer!r}: {kind} needs an image-shaped input "
                             f"(H, W, C), but its input is flat ({self.shape[0]} values)")
        return self.shape  # type: ignore[return-value]


def _pair(config: Json, key: str, layer: str, default: Any = None) -> tuple[int, int]:
    value = config.get(key, default)
    if is_size(value):
        return value, value
    if isinstance(value, list) and len(value) == 2 and all(is_size(v) for v in value):
        return value[0], value[1]
    raise ModelError(f"layer {layer!r}: {key} must be a positive size or two, got {value!r}")


def _check_channels_last(config: Json, layer: str) -> None:
    data_format = config.get("data_format", "channels_last")
    if data_format != "channels_last":
        raise ModelError(f"layer {layer!r}: data_format {data_format!r} is not supported "
                         "(cnnlens imports channels_last models)")


def _window(graph: GraphBuilder, config: Json, layer: str, kernel: tuple[int, int],
            strides: tuple[int, int], dilations: tuple[int, int], kind: str
            ) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """ONNX ``pads`` (begins, ends) and the output (H, W) of a conv or pool layer."""
    _check_channels_last(config, layer)
    _, h, w = graph.spatial(layer, kind)
    padding = config.get("padding", "valid")
    if padding == "same":
        (top, bottom), (left, right) = (same_pads(n, k, s, d) for n, k, s, d in
                                        zip((h, w), kernel, strides, dilations, strict=True))
    elif padding == "valid":
        top = bottom = left = right = 0
    else:
        raise ModelError(f"layer {layer!r}: padding {padding!r} is not supported "
                         "(only 'valid' and 'same')")
    out = tuple(window_output(n, k, s, d, p) for n, k, s, d, p in
                zip((h, w), kernel, strides, dilations, ((top, bottom), (left, right)),
                    strict=True))
    if min(out) < 1:
        raise ModelError(f"layer {layer!r}: its {kernel[0]}×{kernel[1]} window does not fit "
                         f"its {h}×{w} input")
    return (top, left, bottom, right), out  # type: ignore[return-value]


def _input_layer(graph: GraphBuilder, layer: str, config: Json) -> None:
    if graph.nodes:
        raise ModelError(f"layer {layer!r}: an InputLayer can only come first")


def _conv2d(graph: GraphBuilder, layer: str, config: Json) -> None:
    channels = graph.spatial(layer, "Conv2D")[0]
    filters = config.get("filters")
    if not is_size(filters):
        raise ModelError(f"layer {layer!r}: filters must be a positive integer, got {filters!r}")
    if config.get("groups", 1) != 1:
        raise ModelError(f"layer {layer!r}: grouped convolutions are not supported")
    kernel = _pair(config, "kernel_size", layer)
    strides = _pair(config, "strides", layer, 1)
    dilations = _pair(config, "dilation_rate", layer, 1)
    pads, (h, w) = _window(graph, config, layer, kernel, strides, dilations, "Conv2D")
    hwio = graph.weight(layer, "kernel", (*kernel, channels, filters))
    inputs = [graph.constant(f"{layer}.weight", hwio.transpose(3, 2, 0, 1))]
    if config.get("use_bias", True):
        inputs.append(graph.constant(f"{layer}.bias", graph.weight(layer, "bias", (filters,))))
    graph.add("Conv", layer, inputs, kernel_shape=kernel, strides=strides, dilations=dilations,
              pads=pads, group=1)
    graph.shape = (filters, h, w)
    graph.activation(layer, config.get("activation", "linear"))


def _pool(op_type: str) -> Callable[[GraphBuilder, str, Json], None]:
    def convert(graph: GraphBuilder, layer: str, config: Json) -> None:
        kernel = _pair(config, "pool_size", layer, 2)
        strides = kernel if config.get("strides") is None else _pair(config, "strides", layer)
        pads, (h, w) = _window(graph, config, layer, kernel, strides, (1, 1), op_type)
        # TensorFlow's average pool divides by the number of real pixels in the window,
        # which is ONNX's count_include_pad = 0 (written out, though it is the default).
        extra = {"count_include_pad": 0} if op_type == "AveragePool" else {}
        graph.add(op_type, layer, kernel_shape=kernel, strides=strides, pads=pads, **extra)
        graph.shape = (graph.shape[0], h, w)
    return convert


def _activation_layer(graph: GraphBuilder, layer: str, config: Json) -> None:
    name = config.get("activation")
    if name == "linear":  # keep the layer visible: Keras lists it, so does the graph
        graph.add("Identity", layer)
        return
    graph.activation(layer, name)


def _relu(graph: GraphBuilder, layer: str, config: Json) -> None:
    plain = {"max_value": None, "negative_slope": 0, "threshold": 0}
    changed = {k: config[k] for k, v in plain.items() if config.get(k, v) != v}
    if changed:
        raise ModelError(f"layer {layer!r}: ReLU with {changed} is not supported "
                         "(only the plain max(x, 0))")
    graph.add("Relu", layer)


def _softmax(graph: GraphBuilder, layer: str, config: Json) -> None:
    graph.activation(layer, "softmax", config.get("axis", -1))


def _flatten(graph: GraphBuilder, layer: str, config: Json) -> None:
    _check_channels_last(config, layer)
    if len(graph.shape) == 3:
        order = flatten_order(graph.shape)  # type: ignore[arg-type]
        # C = 1 or H = W = 1: both orders agree, nothing to carry.
        graph.order = None if np.array_equal(order, np.arange(order.size)) else order
        graph.shape = (order.size,)
    graph.add("Flatten", layer, axis=1)


def _dense(graph: GraphBuilder, layer: str, config: Json) -> None:
    if len(graph.shape) != 1:
        raise ModelError(f"layer {layer!r}: Dense needs a flat input; its input has shape "
                         f"(H, W, C) = {graph.shape[1:] + graph.shape[:1]}: add a Flatten "
                         "layer before it")
    units = config.get("units")
    if not is_size(units):
        raise ModelError(f"layer {layer!r}: units must be a positive integer, got {units!r}")
    kernel = graph.weight(layer, "kernel", (graph.shape[0], units))
    if graph.order is not None:
        # Row i of the kernel multiplies Keras's flat value i; ONNX's value j is Keras's
        # value order[j], so ONNX's row j must be Keras's row order[j].
        kernel = kernel[graph.order]
        graph.order = None
    inputs = [graph.constant(f"{layer}.weight", kernel)]
    if config.get("use_bias", True):
        inputs.append(graph.constant(f"{layer}.bias", graph.weight(layer, "bias", (units,))))
    graph.add("Gemm", layer, inputs)
    graph.shape = (units,)
    graph.activation(layer, config.get("activation", "linear"))


def _dropout(graph: GraphBuilder, layer: str, config: Json) -> None:
    """Dropout does nothing at inference: no node."""


LAYERS: dict[str, Callable[[GraphBuilder, str, Json], None]] = {
    "InputLayer": _input_layer,
    "Conv2D": _conv2d,
    "Activation": _activation_layer,
    "ReLU": _relu,
    "MaxPooling2D": _pool("MaxPool"),
    "AveragePooling2D": _pool("AveragePool"),
    "Flatten": _flatten,
    "Dense": _dense,
    "Softmax": _softmax,
    "Dropout": _dropout,
}
"""Keras layer class → what it adds to the graph (TF.js also writes the short aliases)."""
LAYERS.update({"Convolution2D": LAYERS["Conv2D"], "MaxPool2D": LAYERS["MaxPooling2D"],
               "AvgPool2D": LAYERS["AveragePooling2D"],
               "AveragePool2D": LAYERS["AveragePooling2D"]})
