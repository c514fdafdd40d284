"""Caffe network definitions (``.prototxt``, Netscope's input) → a model cnnlens runs.

A prototxt describes layers but holds no weights, so the translation is a
:class:`~cnnlens.graph.Model` whose learned tensors are **declared by shape** exactly as
the architecture gallery's are (:mod:`cnnlens.untrained`): :func:`convert` writes ONNX
whose graph inputs after the image are the weights, with metadata ``cnnlens.weights`` =
``declared``; read back, they are placeholders for shapes and seeded He-initialised values
for running, and the card says *untrained*.

What is translated, and how (both the ``layer { type: "Convolution" }`` syntax and the V1
``layers { type: CONVOLUTION }`` one):

- The image input: ``input:`` with ``input_shape { dim }`` or four ``input_dim``; an
  ``Input`` layer's ``input_param { shape }``; a ``Data``/``ImageData`` layer with an
  ``input_param`` shape or, as Netscope does, 3 channels of ``transform_param { crop_size }``
  (``ImageData`` also ``new_height``/``new_width`` and ``is_color``). The batch is 1:
  cnnlens explains one image (Netscope multiplies its counts by the prototxt's batch).
  A data layer's other tops (labels) are dropped.
- Phases: layers are kept as Caffe keeps them for ``TEST`` (inference), by their
  ``include``/``exclude { phase }`` rules; Netscope shows the ``TRAIN`` net, which differs
  only in such duplicated data layers and in ``Accuracy``, dropped here anyway.
- Convolution → Conv (weight ``(M, C/group, kH, kW)``, bias ``(M,)``); Pooling → MaxPool
  or AveragePool with ``ceil_mode`` = 1, whose rule (a window must start inside the input
  or its left padding) is Caffe's, and for AVE ``count_include_pad`` = 1, which like Caffe
  counts the padding but not the ceil overhang; ``global_pooling`` → GlobalMax/AveragePool.
  InnerProduct → Flatten (for an input of rank > 2) and Gemm (weight ``(N, K)``).
- ReLU (LeakyRelu for a ``negative_slope``), Sigmoid, TanH, LRN (ACROSS_CHANNELS), Dropout,
  Softmax, Concat, Flatten; Eltwise SUM (with ``coeff``: a Mul by each constant), PROD and
  MAX (``a + relu(b - a)``, cnnlens having no Max op); BatchNorm → BatchNormalization, whose
  scale and bias are the next layer's when it is a Scale on its output, else declared (2 C
  parameters, as Netscope counts a BatchNorm); a Scale alone → Mul (+ Add) by ``(C, 1, 1)``.
- ``SoftmaxWithLoss`` → Softmax of its first bottom (as Netscope draws it); ``Accuracy``
  and ``Silence`` are dropped; ``Split`` makes no node (a value may feed many).
- In-place layers (top = bottom) get an output of their own, named after the layer, so
  every value has one producer.

Anything else raises :class:`UnsupportedLayerError` naming every unsupported type with its
layers; text that is not protobuf text format raises
:class:`~cnnlens.prototxt.PrototxtError` with the line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cnnlens import graph as g
from cnnlens import untrained
from cnnlens.errors import CnnlensError, ModelError
from cnnlens.model_card import DESCRIPTION_KEY, NAME_KEY
from cnnlens.onnx_writer import IR_VERSION, write_model
from cnnlens.ops import op_spec
from cnnlens.prototxt import Identifier, Message, parse

OPSET = 17
PHASE = "TEST"
Shape = tuple[int, ...]

V1_TYPES = {
    "CONVOLUTION": "Convolution", "POOLING": "Pooling", "RELU": "ReLU", "LRN": "LRN",
    "INNER_PRODUCT": "InnerProduct", "DROPOUT": "Dropout", "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss", "CONCAT": "Concat", "ELTWISE": "Eltwise",
    "FLATTEN": "Flatten", "SIGMOID": "Sigmoid", "TANH": "TanH", "SPLIT": "Split",
    "ACCURACY": "Accuracy", "DATA": "Data", "IMAGE_DATA": "ImageData", "SILENCE": "Silence",
    "DECONVOLUTION": "Deconvolution", "POWER": "Power", "BNLL": "BNLL", "ABSVAL": "AbsVal",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "HINGE_LOSS": "HingeLoss", "ARGMAX": "ArgMax",
    "MEMORY_DATA": "MemoryData", "HDF5_DATA": "HDF5Data", "WINDOW_DATA": "WindowData",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SLICE": "Slice",
    "INFOGAIN_LOSS": "InfogainLoss", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "CONTRASTIVE_LOSS": "ContrastiveLoss", "IM2COL": "Im2col", "MVN": "MVN",
    "DUMMY_DATA": "DummyData", "HDF5_OUTPUT": "HDF5Output", "THRESHOLD": "Threshold",
}
"""V1 ``LayerParameter.LayerType`` enum names → today's type strings."""

INPUT_TYPES = ("Input", "Data", "ImageData")
DROPPED_TYPES = ("Accuracy", "Silence")


class UnsupportedLayerError(ModelError):
    """The prototxt uses Caffe layer types cnnlens cannot translate; ``layers`` maps each
    type to the names of its layers, in file order."""

    def __init__(self, layers: dict[str, tuple[str, ...]]) -> None:
        self.layers = dict(layers)
        listing = "; ".join(
            f"{kind} (layer{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))})"
            for kind, names in self.layers.items())
        plural = "s" if len(self.layers) > 1 else ""
        super().__init__(f"unsupported Caffe layer type{plural}: {listing}")

    def __reduce__(self):  # picklable despite the custom __init__
        return (type(self), (self.layers,))


# ---------------------------------------------------------------- reading fields


def _layer_type(layer: Message) -> str:
    kind = layer.get("type", "")
    return V1_TYPES.get(kind, str(kind)) if isinstance(kind, Identifier) else str(kind)


def _names(layer: Message, field: str) -> list[str]:
    return [str(value) for value in layer.all(field)]


def _int(params: Message | None, field: str, default: int | None, where: str) -> int:
    value = default if params is None else params.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ModelError(f"{where}: {field} must be a whole number, got {value!r}")
    return value


def _float(params: Message | None, field: str, default: float, where: str) -> float:
    value = default if params is None else params.get(field, default)
    if not isinstance(value, int | float):
        raise ModelError(f"{where}: {field} must be a number, got {value!r}")
    return float(value)


def _flag(params: Message | None, field: str, default: bool) -> bool:
    value = None if params is None else params.get(field)
    return default if value is None else str(value).lower() in ("true", "t", "1")


def _enum(params: Message | None, field: str, names: Sequence[str], where: str) -> str:
    """An enum field written by name (``MAX``) or by number (``0``); default ``names[0]``."""
    value = names[0] if params is None else params.get(field, names[0])
    if isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    if str(value).upper() in names:
        return str(value).upper()
    raise ModelError(f"{where}: {field} must be one of {', '.join(names)}, got {value!r}")


def _pair(params: Message, field: str, default: int | None, where: str) -> tuple[int, int]:
    """(h, w) of ``field``_h/_w, else of ``field`` (one value for both, or two, repeated)."""
    if f"{field}_h" in params or f"{field}_w" in params:
        return (_int(params, f"{field}_h", default, where),
                _int(params, f"{field}_w", default, where))
    values = params.all(field) or ([] if default is None else [default])
    if not values or len(values) > 2 or not all(isinstance(v, int) for v in values):
        raise ModelError(f"{where}: {field} must be one or two whole numbers, got "
                         f"{values or 'none'}")
    return (values[0], values[-1])


def _kept(layer: Message) -> bool:
    """Whether Caffe keeps ``layer`` in the :data:`PHASE` net (its include/exclude rules)."""
    def phase(rule: Message) -> str:
        return str(rule.get("phase", "")).upper()
    includes, excludes = layer.messages("include"), layer.messages("exclude")
    if includes:
        return any(phase(rule) in ("", PHASE) for rule in includes)
    return not any(phase(rule) == PHASE for rule in excludes)


# ---------------------------------------------------------------- the graph being built


class _Net:
    """Nodes, weights declared by shape and every value's shape (by the ops' own rules)."""

    def __init__(self, reserved: set[str]) -> None:
        self.nodes: list[g.Node] = []
        self.weights: dict[str, Shape] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.shapes: dict[str, Shape] = {}
        self.blobs: dict[str, str] = {}  # Caffe blob name → current value name
        self.reserved = set(reserved)
        self.node_names: set[str] = set()

    def fresh(self, base: str, used: set[str]) -> str:
        name, i = base, 1
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        return name

    def output_name(self, top: str, layer: str) -> str:
        """``top`` the first time it is made, else (in-place) a name after the layer."""
        if top not in self.blobs and top not in self.shapes:
            self.reserved.add(top)
            return top
        return self.fresh(layer, self.reserved)

    def weight(self, name: str, shape: Shape) -> str:
        self.weights[name] = shape
        self.shapes[name] = shape
        return name

    def constant(self, name: str, value: float) -> str:
        name = self.fresh(name, self.reserved)
        self.constants[name] = np.array(value, np.float32)
        self.shapes[name] = ()
        return name

    def add(self, op: str, name: str, inputs: Sequence[str], output: str,
            attributes: dict[str, Any] | None = None) -> str:
        attributes = attributes or {}
        node = g.Node(op, self.fresh(name, self.node_names), tuple(inputs), (output,),
                      attributes)
        spec = op_spec(op)
        assert spec is not None, op
        constants = [self.constants.get(value) for value in inputs]
        try:
            shape = spec.shape([self.shapes[value] for value in inputs], attributes, constants)
        except (CnnlensError, ValueError, IndexError, ZeroDivisionError) as exc:
            raise ModelError(f"layer {name!r} ({op}): {exc}") from exc
        if shape is None or any(d < 1 for d in shape):
            raise ModelError(f"layer {name!r} ({op}) has no output for its input of shape "
                             f"{self.shapes[inputs[0]]}")
        self.shapes[output] = tuple(int(d) for d in shape)
        self.nodes.append(node)
        return output

    def values(self, names: Sequence[str], layer: str) -> list[str]:
        """The current values of the Caffe blobs ``names`` that ``layer`` reads."""
        missing = [b for b in names if b not in self.blobs]
        if missing:
            raise ModelError(f"layer {layer!r} reads {', '.join(map(repr, missing))}, which no "
                             "layer before it makes")
        return [self.blobs[b] for b in names]


Handler = Callable[[_Net, Message, str, list[str]], str]


def _one(net: _Net, layer: Message, name: str, op: str, inputs: list[str],
         attributes: dict[str, Any] | None = None) -> str:
    top = _names(layer, "top")[0]
    return net.add(op, name, inputs, net.output_name(top, name), attributes)


def _convolution(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    params = layer.message("convolution_param") or Message(())
    where = f"layer {name!r}"
    out = _int(params, "num_output", None, where)
    group = _int(params, "group", 1, where)
    kernel = _pair(params, "kernel", None, where) if "kernel_h" in params else _pair(
        params, "kernel_size", None, where)
    stride = _pair(params, "stride", 1, where)
    pad = _pair(params, "pad", 0, where)
    dilation = _pair(params, "dilation", 1, where)
    channels = net.shapes[inputs[0]][1]
    if channels % group or out % group:
        raise ModelError(f"{where}: group {group} divides neither {channels} input channels "
                         f"nor {out} outputs evenly")
    weights = [net.weight(f"{name}.weight", (out, channels // group, *kernel))]
    if _flag(params, "bias_term", True):
        weights.append(net.weight(f"{name}.bias", (out,)))
    return _one(net, layer, name, "Conv", inputs + weights, {
        "kernel_shape": kernel, "strides": stride, "pads": (*pad, *pad),
        "dilations": dilation, "group": group})


def _pooling(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    params = layer.message("pooling_param") or Message(())
    where = f"layer {name!r}"
    kind = _enum(params, "pool", ("MAX", "AVE", "STOCHASTIC"), where)
    if kind == "STOCHASTIC":
        raise UnsupportedLayerError({"Pooling (pool: STOCHASTIC)": (name,)})
    if _flag(params, "global_pooling", False):
        op = "GlobalMaxPool" if kind == "MAX" else "GlobalAveragePool"
        return _one(net, layer, name, op, inputs)
    kernel = _pair(params, "kernel", None, where) if "kernel_h" in params else _pair(
        params, "kernel_size", None, where)
    pad = _pair(params, "pad", 0, where)
    attributes = {"kernel_shape": kernel, "strides": _pair(params, "stride", 1, where),
                  "pads": (*pad, *pad),
                  "ceil_mode": int(_enum(params, "round_mode", ("CEIL", "FLOOR"), where)
                                   == "CEIL")}
    if kind == "AVE":
        attributes["count_include_pad"] = 1
    return _one(net, layer, name, "MaxPool" if kind == "MAX" else "AveragePool", inputs,
                attributes)


def _relu(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    slope = _float(layer.message("relu_param"), "negative_slope", 0.0, f"layer {name!r}")
    if slope:
        return _one(net, layer, name, "LeakyRelu", inputs, {"alpha": slope})
    return _one(net, layer, name, "Relu", inputs)


def _lrn(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("lrn_param"), f"layer {name!r}"
    if _enum(params, "norm_region", ("ACROSS_CHANNELS", "WITHIN_CHANNEL"), where) != (
            "ACROSS_CHANNELS"):
        raise UnsupportedLayerError({"LRN (norm_region: WITHIN_CHANNEL)": (name,)})
    return _one(net, layer, name, "LRN", inputs, {
        "size": _int(params, "local_size", 5, where),
        "alpha": _float(params, "alpha", 1.0, where),
        "beta": _float(params, "beta", 0.75, where), "bias": _float(params, "k", 1.0, where)})


def _inner_product(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("inner_product_param"), f"layer {name!r}"
    if _int(params, "axis", 1, where) != 1:
        raise ModelError(f"{where}: only axis 1 is supported")
    x = inputs[0]
    if len(net.shapes[x]) > 2:
        x = net.add("Flatten", f"{name}.flatten", [x], net.fresh(f"{name}.flatten",
                                                                  net.reserved), {"axis": 1})
    k, n = net.shapes[x][1], _int(params, "num_output", None, where)
    transpose = _flag(params, "transpose", False)
    weights = [net.weight(f"{name}.weight", (k, n) if transpose else (n, k))]
    if _flag(params, "bias_term", True):
        weights.append(net.weight(f"{name}.bias", (n,)))
    return _one(net, layer, name, "Gemm", [x, *weights], {"transB": int(not transpose)})


def _softmax(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    axis = _int(layer.message("softmax_param"), "axis", 1, f"layer {name!r}")
    return _one(net, layer, name, "Softmax", inputs[:1], {"axis": axis})


def _concat(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("concat_param"), f"layer {name!r}"
    axis = _int(params, "axis", _int(params, "concat_dim", 1, where), where)
    return _one(net, layer, name, "Concat", inputs, {"axis": axis})


def _eltwise(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("eltwise_param"), f"layer {name!r}"
    operation = _enum(params, "operation", ("PROD", "SUM", "MAX"), where) if (
        params and "operation" in params) else "SUM"
    coeffs = [float(c) for c in params.all("coeff")] if params else []
    if coeffs and (operation != "SUM" or len(coeffs) != len(inputs)):
        raise ModelError(f"{where}: coeff needs SUM and one value per bottom")
    values = list(inputs)
    for i, c in enumerate(coeffs):
        if c != 1.0:
            scale = net.constant(f"{name}.coeff{i}", c)
            values[i] = net.add("Mul", f"{name}.coeff{i}", [values[i], scale],
                                net.fresh(f"{name}.coeff{i}", net.reserved))
    top = _names(layer, "top")[0]
    result = values[0]
    for i, value in enumerate(values[1:], 2):
        last = i == len(values)
        step = name if last else f"{name}.{i - 1}"
        out = net.output_name(top, name) if last else net.fresh(step, net.reserved)
        if operation == "MAX":  # max(a, b) = a + relu(b - a)
            gap = net.add("Sub", f"{step}.sub", [value, result], net.fresh(f"{step}.sub",
                                                                          net.reserved))
            gap = net.add("Relu", f"{step}.relu", [gap], net.fresh(f"{step}.relu",
                                                                   net.reserved))
            result = net.add("Add", step, [result, gap], out)
        else:
            result = net.add("Add" if operation == "SUM" else "Mul", step, [result, value], out)
    return result


def _batch_norm(net: _Net, layer: Message, name: str, inputs: list[str],
                scale: Message | None) -> str:
    where = f"layer {name!r}"
    channels = net.shapes[inputs[0]][1]
    affine = name if scale is None else str(scale.get("name", name))
    weights = [net.weight(f"{affine}.{part}", (channels,)) for part in ("weight", "bias")]
    weights += [net.weight(f"{name}.{part}", (channels,)) for part in ("mean", "var")]
    eps = _float(layer.message("batch_norm_param"), "eps", 1e-5, where)
    target = layer if scale is None else scale
    return _one(net, target, name, "BatchNormalization", inputs + weights, {"epsilon": eps})


def _scale(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    params = layer.message("scale_param")
    shape = (net.shapes[inputs[0]][1], *[1] * (len(net.shapes[inputs[0]]) - 2))
    if len(inputs) != 1:
        raise ModelError(f"layer {name!r}: a Scale with a second bottom is not supported")
    top = _names(layer, "top")[0]
    bias = _flag(params, "bias_term", False)
    out = net.output_name(top, name) if not bias else net.fresh(f"{name}.mul", net.reserved)
    y = net.add("Mul", name if not bias else f"{name}.mul",
                [inputs[0], net.weight(f"{name}.weight", shape)], out)
    if bias:
        y = net.add("Add", name, [y, net.weight(f"{name}.bias", shape)],
                    net.output_name(top, name))
    return y


def _flatten(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
    params, where = layer.message("flatten_param"), f"layer {name!r}"
    if _int(params, "end_axis", -1, where) not in (-1, len(net.shapes[inputs[0]]) - 1):
        raise ModelError(f"{where}: only end_axis -1 is supported")
    return _one(net, layer, name, "Flatten", inputs, {"axis": _int(params, "axis", 1, where)})


def _simple(op: str) -> Handler:
    def handler(net: _Net, layer: Message, name: str, inputs: list[str]) -> str:
        return _one(net, layer, name, op, inputs[:1])
    return handler


HANDLERS: dict[str, Handler] = {
    "Convolution": _convolution, "Pooling": _pooling, "ReLU": _relu, "LRN": _lrn,
    "InnerProduct": _inner_product, "Softmax": _softmax, "SoftmaxWithLoss": _softmax,
    "Concat": _concat, "Eltwise": _eltwise, "Scale": _scale, "Flatten": _flatten,
    "Dropout": _simple("Dropout"), "Sigmoid": _simple("Sigmoid"), "TanH": _simple("Tanh"),
}
"""Caffe layer type → its translation (BatchNorm, Split and the inputs are handled apart)."""

SUPPORTED = frozenset(HANDLERS) | {"BatchNorm", "Split", *INPUT_TYPES, *DROPPED_TYPES}


# ---------------------------------------------------------------- the input


def _image_shape(dims: Sequence[object], where: str) -> Shape:
    """``(1, C, H, W)`` from a prototxt's four dims (its batch replaced by 1)."""
    if len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims):
        raise ModelError(f"{where}: the input shape must be four positive whole numbers "
                         f"(N, C, H, W), got {list(dims)}")
    return (1, *dims[1:])  # type: ignore[return-value]


def _header_input(root: Message) -> tuple[str, Shape] | None:
    """The image input declared by ``input:`` with ``input_shape`` or ``input_dim``."""
    names = _names(root, "input")
    if not names:
        return None
    if len(names) > 1:
        raise ModelError(f"the network has {len(names)} inputs ({', '.join(names)}); cnnlens "
                         "takes one image")
    shapes = root.messages("input_shape")
    dims = shapes[0].all("dim") if shapes else root.all("input_dim")
    return names[0], _image_shape(dims, f"input {names[0]!r}")


def _layer_input(layer: Message, kind: str, name: str) -> Shape:
    """The image shape of an Input, Data or ImageData layer (see the module docstring)."""
    where = f"layer {name!r} ({kind})"
    params = layer.message("input_param")
    shape = params.message("shape") if params else None
    if shape is not None:
        return _image_shape(shape.all("dim"), where)
    transform = layer.message("transform_param")
    crop = _int(transform, "crop_size", 0, where)
    image = layer.message("image_data_param")
    channels = 3 if kind != "ImageData" or _flag(image, "is_color", True) else 1
    if crop > 0 and kind != "Input":
        return (1, channels, crop, crop)
    if kind == "ImageData":
        size = (_int(image, "new_height", 0, where), _int(image, "new_width", 0, where))
        if min(size) > 0:
            return (1, channels, *size)
    raise ModelError(f"{where} does not say the image size: give it "
                     "transform_param { crop_size: ... } or input_param { shape { dim: ... } }, "
                     "or declare the input as input: \"data\" input_shape { dim: 1 dim: 3 "
                     "dim: 224 dim: 224 }")


# ---------------------------------------------------------------- translation


def _layers(root: Message) -> list[Message]:
    """The layers Caffe keeps for :data:`PHASE`, in file order, of either syntax."""
    return [value for key, value in root.fields
            if key in ("layer", "layers") and isinstance(value, Message) and _kept(value)]


def _check_supported(layers: Sequence[Message]) -> None:
    unsupported: dict[str, list[str]] = {}
    for i, layer in enumerate(layers):
        kind = _layer_type(layer)
        if kind not in SUPPORTED:
            unsupported.setdefault(kind or "(no type)", []).append(
                str(layer.get("name", f"#{i + 1} (line {layer.line})")))
    if unsupported:
        raise UnsupportedLayerError({k: tuple(v) for k, v in unsupported.items()})


def _translate(root: Message) -> _Net:
    layers = _layers(root)
    _check_supported(layers)
    net = _Net({top for layer in layers for top in _names(layer, "top")})
    image = _header_input(root)
    if image is not None:
        net.blobs[image[0]], net.shapes[image[0]] = image
    dropped: set[str] = set()
    fused: set[int] = set()
    for i, layer in enumerate(layers):
        kind, name = _layer_type(layer), str(layer.get("name", f"layer{i + 1}"))
        tops = _names(layer, "top")
        if i in fused:
            continue
        if kind in INPUT_TYPES:
            if image is not None:
                raise ModelError(f"layer {name!r} is a second input (the first is "
                                 f"{image[0]!r}); cnnlens takes one image")
            if not tops:
                raise ModelError(f"layer {name!r} ({kind}) has no top")
            image = (tops[0], _layer_input(layer, kind, name))
            net.blobs[tops[0]], net.shapes[tops[0]] = image
            dropped.update(tops[1:])
            continue
        if image is None:
            raise ModelError(f"layer {name!r} comes before any input: declare one with "
                             "input: and input_shape, or an Input layer")
        if kind in DROPPED_TYPES:
            dropped.update(tops)
            continue
        bottoms = _names(layer, "bottom")[:1 if kind == "SoftmaxWithLoss" else None]
        used = [b for b in bottoms if b in dropped]
        if used:
            raise ModelError(f"layer {name!r} reads {', '.join(map(repr, used))}, a label or "
                             "accuracy that cnnlens drops")
        inputs = net.values(bottoms, name)
        if not inputs:
            raise ModelError(f"layer {name!r} ({kind}) has no bottom")
        if kind == "Split":
            net.blobs.update({top: inputs[0] for top in tops})
            continue
        if len(tops) != 1:
            raise ModelError(f"layer {name!r} ({kind}) must have one top, has {len(tops)}")
        if kind == "BatchNorm":
            following = layers[i + 1] if i + 1 < len(layers) else None
            scale = following if following is not None and _layer_type(
                following) == "Scale" and _names(following, "bottom") == tops else None
            if scale is not None:
                fused.add(i + 1)
                tops = _names(scale, "top")[:1] or tops
            net.blobs[tops[0]] = _batch_norm(net, layer, name, inputs, scale)
            continue
        net.blobs[tops[0]] = HANDLERS[kind](net, layer, name, inputs)
    if not net.nodes:
        raise ModelError("the network has no layers cnnlens computes")
    net.blobs.setdefault("", image[0])  # the image's name, for to_model
    return net


def to_model(text: str, name: str = "") -> g.Model:
    """A prototxt's text → a validated :class:`~cnnlens.graph.Model` whose weights are
    :func:`~cnnlens.untrained.placeholder` initializers (the declared form, for shapes)."""
    root = parse(text)
    net = _translate(root)
    image = net.blobs[""]
    consumed = {value for node in net.nodes for value in node.inputs}
    outputs = [node.outputs[0] for node in reversed(net.nodes) if node.outputs[0] not in consumed]
    title = str(root.get("name", "")) or name or "Caffe network"
    initializers = {w: untrained.placeholder(shape) for w, shape in net.weights.items()}
    initializers.update(net.constants)
    graph = g.Graph(
        name=title, nodes=tuple(net.nodes), initializers=initializers,
        inputs=(g.ValueInfo(image, g.FLOAT, net.shapes[image]),),
        outputs=tuple(g.ValueInfo(v, g.FLOAT, net.shapes[v]) for v in outputs))
    model = g.Model(graph=graph, metadata={
        untrained.WEIGHTS_KEY: untrained.DECLARED,
        NAME_KEY: f"{title} (untrained)",
        DESCRIPTION_KEY: (
            f"The Caffe network {title!r} translated from its prototxt, with untrained, "
            "seeded He-initialised weights (a prototxt holds none): its predictions mean "
            "nothing; its shapes, parameter counts and multiply-adds are the network's."),
    }, ir_version=IR_VERSION, opset=OPSET, producer="cnnlens caffe", doc_string="")
    model.validate()
    return model


def convert(text: str, name: str = "") -> bytes:
    """A prototxt's text → ONNX bytes with its weights declared by shape (graph inputs after
    the image, as the gallery's), what ``cnnlens convert-caffe`` writes and the page opens."""
    model = to_model(text, name)
    graph = model.graph
    weights = {w: a for w, a in graph.initializers.items() if untrained.is_placeholder(a)}
    declared = g.Graph(
        name=graph.name, nodes=graph.nodes,
        initializers={w: a for w, a in graph.initializers.items() if w not in weights},
        inputs=(*graph.inputs, *(g.ValueInfo(w, g.FLOAT, a.shape) for w, a in weights.items())),
        outputs=graph.outputs)
    return write_model(g.Model(declared, model.metadata, model.ir_version, model.opset,
                               model.producer, model.doc_string))


def looks_like_prototxt(data: bytes) -> bool:
    """Whether ``data`` reads as protobuf text (UTF-8, no control bytes, starting with a
    field name or a comment) rather than binary protobuf (ONNX's tags are control bytes)."""
    try:
        text = bytes(data[:4096]).decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 4090:  # not a multi-byte character cut by the slice
            return False
        text = bytes(data[:exc.start]).decode("utf-8")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        return False
    start = text.lstrip()
    return bool(start) and (start[0] == "#" or start[0].isalpha() or start[0] == "_")


def summary_line(model: g.Model) -> str:
    """One line about a translated model: layers, weights, input (for ``convert-caffe``)."""
    count = sum(math.prod(a.shape) for a in model.graph.initializers.values() if a.ndim)
    return (f"{len(model.graph.nodes)} nodes, {count:,} weights declared by shape, input "
            f"{model.input.name} {model.input.shape}")
