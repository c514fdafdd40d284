"""TF.js *layers* model (``model.json`` + weight shards) → ONNX bytes cnnlens can open.

One converter for the page (``page.App.model_tfjs``) and the CLI (``cnnlens convert-tfjs``):
:func:`to_model` builds a :class:`cnnlens.graph.Model` and :func:`convert` serialises it
with :mod:`cnnlens.onnx_writer`, so both open the result through the same loader as any
``.onnx`` file.

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

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import __version__
from . import graph as g
from .errors import ModelError
from .model_card import DESCRIPTION_KEY, PREPROCESSING_KEY, Preprocessing
from .onnx_writer import IR_VERSION, write_model

OPSET = 17
PRODUCER = f"cnnlens convert-tfjs {__version__}"
BATCH = "N"

Json = dict[str, Any]

# Keras activation name → ONNX op (None: no node).
ACTIVATIONS: dict[str, str | None] = {
    "linear": None, "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
}


# ---------------------------------------------------------------- model.json


def parse_model_json(text: str | bytes) -> Json:
    """``model.json`` text → its object; raises `ModelError` unless it is a layers model."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"model.json is not valid JSON: {exc}") from exc
    return check_document(document)


def check_document(document: Any) -> Json:
    """``document`` if it looks like a TF.js layers model's model.json, else `ModelError`."""
    if not isinstance(document, dict):
        raise ModelError("model.json must hold a JSON object")
    if document.get("format") == "graph-model":
        raise ModelError("model.json is a TF.js graph model; cnnlens imports layers models "
                         "(Keras Sequential, saved with format 'layers-model')")
    for key in ("modelTopology", "weightsManifest"):
        if key not in document:
            raise ModelError(f"model.json has no {key!r}: not a TF.js layers model")
    return document


def shard_paths(document: Json) -> list[str]:
    """The weight files the manifest names, in order (their bytes joined are the weights)."""
    return [path for group in _manifest(document) for path in _list(group, "paths", "manifest")]


@dataclass(frozen=True)
class WeightSpec:
    """One entry of ``weightsManifest``: its name, shape and where its bytes start."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def nbytes(self) -> int:
        return 4 * int(np.prod(self.shape, dtype=np.int64))


def weight_specs(document: Json) -> list[WeightSpec]:
    """Every weight of the manifest in order, with byte offsets into the joined shards."""
    specs: list[WeightSpec] = []
    offset = 0
    for group in _manifest(document):
        for entry in _list(group, "weights", "manifest"):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str):
                raise ModelError(f"weightsManifest: an entry has no name: {entry!r}")
            if entry.get("dtype", "float32") != "float32" or "quantization" in entry:
                raise ModelError(f"weight {name!r} is {entry.get('dtype')}"
                                 f"{' quantized' if 'quantization' in entry else ''}; "
                                 "cnnlens imports float32 weights only")
            shape = entry.get("shape")
            if not isinstance(shape, list) or not all(_is_size(d, 0) for d in shape):
                raise ModelError(f"weight {name!r} has shape {shape!r}, not a list of sizes")
            spec = WeightSpec(name, tuple(shape), offset)
            specs.append(spec)
            offset += spec.nbytes
    return specs


def read_weights(document: Json, data: bytes) -> dict[str, np.ndarray]:
    """The joined shard bytes → ``{"<layer>/<param>": float32 array}`` in manifest order.

    Keys drop any scope before the layer name and a ``:0`` suffix (``sequential/conv/
    kernel:0`` → ``conv/kernel``). Raises `ModelError` when the bytes are not exactly
    the manifest's size or two weights share a key.
    """
    specs = weight_specs(document)
    needed = sum(spec.nbytes for spec in specs)
    if len(data) != needed:
        raise ModelError(f"the weight shards hold {len(data):,} bytes but model.json's manifest "
                         f"describes {needed:,} (give every shard, in the manifest's order)")
    weights: dict[str, np.ndarray] = {}
    for spec in specs:
        key = "/".join(spec.name.removesuffix(":0").split("/")[-2:])
        if key in weights:
            raise ModelError(f"two weights in model.json are named {key!r}")
        count = spec.nbytes // 4
        flat = np.frombuffer(data, dtype="<f4", count=count, offset=spec.offset)
        weights[key] = flat.astype(np.float32).reshape(spec.shape)
    return weights


def _manifest(document: Json) -> list[Json]:
    manifest = document.get("weightsManifest")
    if not isinstance(manifest, list) or not all(isinstance(m, dict) for m in manifest):
        raise ModelError("model.json's weightsManifest must be a list of weight groups")
    return manifest


def _list(obj: Json, key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise ModelError(f"{where}: {key!r} must be a list, got {value!r}")
    return value


def _is_size(value: Any, least: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def layers(document: Json) -> tuple[str, list[Json]]:
    """The Sequential model's name and its layer objects ``{class_name, config}``."""
    topology = document["modelTopology"]
    if not isinstance(topology, dict):
        raise ModelError("model.json's modelTopology must be an object")
    # Converted from Keras: {keras_version, backend, model_config}; saved by TF.js: the
    # model config itself.
    config = topology.get("model_config", topology)
    kind = config.get("class_name") if isinstance(config, dict) else None
    if kind != "Sequential":
        raise ModelError(f"the model is a {kind or 'model of unknown kind'}; cnnlens imports "
                         "Keras Sequential models only")
    body = config.get("config")
    if not isinstance(body, dict | list):
        raise ModelError("the Sequential model's config must be an object")
    # Keras before 2.2.3 wrote the layers list itself as the config.
    name, items = ("sequential", body) if isinstance(body, list) else (
        body.get("name", "sequential"), body.get("layers"))
    if not isinstance(items, list) or not items:
        raise ModelError("the Sequential model lists no layers")
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("class_name"), str)
                and isinstance(item.get("config"), dict)):
            raise ModelError(f"a layer must be {{class_name, config}}, got {item!r}")
    return str(name), items


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
class _Graph:
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
    if _is_size(value):
        return value, value
    if isinstance(value, list) and len(value) == 2 and all(_is_size(v) for v in value):
        return value[0], value[1]
    raise ModelError(f"layer {layer!r}: {key} must be a positive size or two, got {value!r}")


def _check_channels_last(config: Json, layer: str) -> None:
    data_format = config.get("data_format", "channels_last")
    if data_format != "channels_last":
        raise ModelError(f"layer {layer!r}: data_format {data_format!r} is not supported "
                         "(cnnlens imports channels_last models)")


def _window(graph: _Graph, config: Json, layer: str, kernel: tuple[int, int],
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


def _input_layer(graph: _Graph, layer: str, config: Json) -> None:
    if graph.nodes:
        raise ModelError(f"layer {layer!r}: an InputLayer can only come first")


def _conv2d(graph: _Graph, layer: str, config: Json) -> None:
    channels = graph.spatial(layer, "Conv2D")[0]
    filters = config.get("filters")
    if not _is_size(filters):
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


def _pool(op_type: str) -> Callable[[_Graph, str, Json], None]:
    def convert(graph: _Graph, layer: str, config: Json) -> None:
        kernel = _pair(config, "pool_size", layer, 2)
        strides = kernel if config.get("strides") is None else _pair(config, "strides", layer)
        pads, (h, w) = _window(graph, config, layer, kernel, strides, (1, 1), op_type)
        # TensorFlow's average pool divides by the number of real pixels in the window,
        # which is ONNX's count_include_pad = 0 (written out, though it is the default).
        extra = {"count_include_pad": 0} if op_type == "AveragePool" else {}
        graph.add(op_type, layer, kernel_shape=kernel, strides=strides, pads=pads, **extra)
        graph.shape = (graph.shape[0], h, w)
    return convert


def _activation_layer(graph: _Graph, layer: str, config: Json) -> None:
    name = config.get("activation")
    if name == "linear":  # keep the layer visible: Keras lists it, so does the graph
        graph.add("Identity", layer)
        return
    graph.activation(layer, name)


def _relu(graph: _Graph, layer: str, config: Json) -> None:
    plain = {"max_value": None, "negative_slope": 0, "threshold": 0}
    changed = {k: config[k] for k, v in plain.items() if config.get(k, v) != v}
    if changed:
        raise ModelError(f"layer {layer!r}: ReLU with {changed} is not supported "
                         "(only the plain max(x, 0))")
    graph.add("Relu", layer)


def _softmax(graph: _Graph, layer: str, config: Json) -> None:
    graph.activation(layer, "softmax", config.get("axis", -1))


def _flatten(graph: _Graph, layer: str, config: Json) -> None:
    _check_channels_last(config, layer)
    if len(graph.shape) == 3:
        order = flatten_order(graph.shape)  # type: ignore[arg-type]
        # C = 1 or H = W = 1: both orders agree, nothing to carry.
        graph.order = None if np.array_equal(order, np.arange(order.size)) else order
        graph.shape = (order.size,)
    graph.add("Flatten", layer, axis=1)


def _dense(graph: _Graph, layer: str, config: Json) -> None:
    if len(graph.shape) != 1:
        raise ModelError(f"layer {layer!r}: Dense needs a flat input; its input has shape "
                         f"(H, W, C) = {graph.shape[1:] + graph.shape[:1]}: add a Flatten "
                         "layer before it")
    units = config.get("units")
    if not _is_size(units):
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


def _dropout(graph: _Graph, layer: str, config: Json) -> None:
    """Dropout does nothing at inference: no node."""


LAYERS: dict[str, Callable[[_Graph, str, Json], None]] = {
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


def _input_shape(items: list[Json]) -> tuple[str, tuple[int, int, int]]:
    """The input's name and (H, W, C), from the first layer's batch input shape."""
    first = items[0]
    config = first["config"]
    shape = config.get("batch_input_shape", config.get("batch_shape"))
    if shape is None:
        raise ModelError("the first layer declares no batch_input_shape: the input size is "
                         "unknown")
    if (not isinstance(shape, list) or len(shape) != 4 or shape[0] not in (None, 1)
            or not all(_is_size(d) for d in shape[1:])):
        raise ModelError(f"the input shape is {shape!r}; cnnlens imports models whose input "
                         "is an image [null, height, width, channels] of fixed size")
    name = config.get("name") if first["class_name"] == "InputLayer" else None
    return str(name or "input"), tuple(shape[1:])  # type: ignore[return-value]


def to_model(model_json: str | bytes | Json, weights: bytes,
             metadata: Mapping[str, str] | None = None, doc_string: str = "") -> g.Model:
    """A TF.js layers model → a checked ONNX-shaped `Model` (input ``(N, C, H, W)``).

    ``weights`` are the manifest's shard files joined in order (``shard_paths``).
    ``metadata`` adds to (and overrides) the defaults: ``cnnlens.preprocessing`` (the
    input's size and channels, pixels scaled to [0, 1], no normalisation) and
    ``cnnlens.description``.
    """
    document = (check_document(model_json) if isinstance(model_json, dict)
                else parse_model_json(model_json))
    name, items = layers(document)
    input_name, (h, w, c) = _input_shape(items)
    modes = {1: "L", 3: "RGB"}
    if c not in modes:
        raise ModelError(f"the input has {c} channels; cnnlens feeds images as 1 (greyscale) "
                         "or 3 (RGB) channels")
    graph = _Graph(read_weights(document, weights), input_name, input_name, (c, h, w))
    for item in items:
        kind, config = item["class_name"], item["config"]
        layer = config.get("name")
        if not isinstance(layer, str) or not layer:
            raise ModelError(f"a {kind} layer has no name")
        convert = LAYERS.get(kind)
        if convert is None:
            raise ModelError(f"layer {layer!r} is a {kind}, which cnnlens cannot import "
                             f"(supported: {', '.join(sorted(LAYERS))})")
        convert(graph, layer, config)
    if not graph.nodes:
        raise ModelError("the model has no layer that computes anything")
    if graph.order is not None:
        raise ModelError("the flattened features reach the output without a Dense layer; "
                         "cnnlens cannot keep Keras's (H, W, C) order there")
    unused = sorted(set(graph.weights) - graph.used)
    if unused:
        raise ModelError(f"model.json's manifest has weights no layer uses: {', '.join(unused)}")
    defaults = {
        PREPROCESSING_KEY: json.dumps(Preprocessing(mode=modes[c], size=(h, w)).to_json()),
        DESCRIPTION_KEY: (f"Converted from a TF.js layers model ({document.get('generatedBy', '?')}"
                          f", {document.get('convertedBy', '?')}) by {PRODUCER}."),
    }
    model = g.Model(
        graph=g.Graph(
            name=name,
            nodes=tuple(graph.nodes),
            initializers=graph.initializers,
            inputs=(g.ValueInfo(input_name, g.FLOAT, (BATCH, c, h, w)),),
            outputs=(g.ValueInfo(graph.value, g.FLOAT, (BATCH, *graph.shape)),),
        ),
        metadata={**defaults, **(metadata or {})},
        ir_version=IR_VERSION,
        opset=OPSET,
        producer=PRODUCER,
        doc_string=doc_string,
    )
    model.validate()
    return model


def convert(model_json: str | bytes | Json, weights: bytes,
            metadata: Mapping[str, str] | None = None, doc_string: str = "") -> bytes:
    """A TF.js layers model → ONNX ``ModelProto`` bytes (see `to_model`)."""
    return write_model(to_model(model_json, weights, metadata, doc_string))
