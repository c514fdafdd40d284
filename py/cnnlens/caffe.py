"""Caffe network definitions (``.prototxt``, Netscope's input) → a model cnnlens runs.

A prototxt describes layers but holds no weights, so the translation is a
:class:`~cnnlens.graph.Model` whose learned tensors are **declared by shape** exactly as
the architecture gallery's are (:mod:`cnnlens.untrained`): :func:`convert` writes ONNX
whose graph inputs after the image are the weights, with metadata ``cnnlens.weights`` =
``declared``; read back, they are placeholders for shapes and seeded He-initialised values
for running, and the card says *untrained* (its preprocessing is the gallery's: ImageNet's
normalisation for 3 channels, 0–1 grey for 1).

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

import json
from collections.abc import Sequence

from cnnlens import graph as g
from cnnlens import untrained
from cnnlens.caffe_layers import (
    HANDLERS,
    Net,
    UnsupportedLayerError,
    batch_norm,
    names,
    read_flag,
    read_int,
)
from cnnlens.errors import ModelError
from cnnlens.model_card import DATASET_KEY, DESCRIPTION_KEY, NAME_KEY, PREPROCESSING_KEY
from cnnlens.onnx_writer import IR_VERSION, write_model
from cnnlens.prototxt import Identifier, Message, parse

OPSET = 17
PHASE = "TEST"
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
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

SUPPORTED = frozenset(HANDLERS) | {"BatchNorm", "Split", *INPUT_TYPES, *DROPPED_TYPES}
"""Every Caffe layer type translated (the others raise :class:`UnsupportedLayerError`)."""


# ---------------------------------------------------------------- phases and types


def _layer_type(layer: Message) -> str:
    kind = layer.get("type", "")
    return V1_TYPES.get(kind, str(kind)) if isinstance(kind, Identifier) else str(kind)


def _kept(layer: Message) -> bool:
    """Whether Caffe keeps ``layer`` in the :data:`PHASE` net (its include/exclude rules)."""
    def phase(rule: Message) -> str:
        return str(rule.get("phase", "")).upper()
    includes, excludes = layer.messages("include"), layer.messages("exclude")
    if includes:
        return any(phase(rule) in ("", PHASE) for rule in includes)
    return not any(phase(rule) == PHASE for rule in excludes)


# ---------------------------------------------------------------- the input


def _image_shape(dims: Sequence[object], where: str) -> Shape:
    """``(1, C, H, W)`` from a prototxt's four dims (its batch replaced by 1)."""
    if len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims):
        raise ModelError(f"{where}: the input shape must be four positive whole numbers "
                         f"(N, C, H, W), got {list(dims)}")
    return (1, *dims[1:])  # type: ignore[return-value]


def _header_input(root: Message) -> tuple[str, Shape] | None:
    """The image input declared by ``input:`` with ``input_shape`` or ``input_dim``."""
    inputs = names(root, "input")
    if not inputs:
        return None
    if len(inputs) > 1:
        raise ModelError(f"the network has {len(inputs)} inputs ({', '.join(inputs)}); "
                         "cnnlens takes one image")
    shapes = root.messages("input_shape")
    dims = shapes[0].all("dim") if shapes else root.all("input_dim")
    return inputs[0], _image_shape(dims, f"input {inputs[0]!r}")


def _layer_input(layer: Message, kind: str, name: str) -> Shape:
    """The image shape of an Input, Data or ImageData layer (see the module docstring)."""
    where = f"layer {name!r} ({kind})"
    params = layer.message("input_param")
    shape = params.message("shape") if params else None
    if shape is not None:
        return _image_shape(shape.all("dim"), where)
    transform = layer.message("transform_param")
    crop = read_int(transform, "crop_size", 0, where)
    image = layer.message("image_data_param")
    channels = 3 if kind != "ImageData" or read_flag(image, "is_color", True) else 1
    if crop > 0 and kind != "Input":
        return (1, channels, crop, crop)
    if kind == "ImageData":
        size = (read_int(image, "new_height", 0, where), read_int(image, "new_width", 0, where))
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


def _translate(root: Message) -> tuple[Net, str]:
    """The network built from the kept layers, and the name of its image input."""
    layers = _layers(root)
    _check_supported(layers)
    net = Net({top for layer in layers for top in names(layer, "top")})
    image = _header_input(root)
    if image is not None:
        net.blobs[image[0]], net.shapes[image[0]] = image
    dropped: set[str] = set()
    fused: set[int] = set()
    for i, layer in enumerate(layers):
        kind, name = _layer_type(layer), str(layer.get("name", f"layer{i + 1}"))
        tops = names(layer, "top")
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
        bottoms = names(layer, "bottom")[:1 if kind == "SoftmaxWithLoss" else None]
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
                following) == "Scale" and names(following, "bottom") == tops and len(
                names(following, "top")) == 1 else None
            if scale is not None:
                fused.add(i + 1)
                tops = names(scale, "top")
            net.blobs[tops[0]] = batch_norm(net, layer, name, inputs, scale)
            continue
        net.blobs[tops[0]] = HANDLERS[kind](net, layer, name, inputs)
    if not net.nodes:
        raise ModelError("the network has no layers cnnlens computes")
    return net, image[0]


def to_model(text: str, name: str = "") -> g.Model:
    """A prototxt's text → a validated :class:`~cnnlens.graph.Model` whose weights are
    :func:`~cnnlens.untrained.placeholder` initializers (the declared form, for shapes)."""
    root = parse(text)
    net, image = _translate(root)
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
        DATASET_KEY: "none (untrained)",
        **_preprocessing(net.shapes[image]),
    }, ir_version=IR_VERSION, opset=OPSET, producer="cnnlens caffe", doc_string="")
    model.validate()
    return model


def _preprocessing(shape: Shape) -> dict[str, str]:
    """The gallery's card for an untrained net (``build/make_gallery.py``): ImageNet's
    normalisation for 3 channels, 0–1 grey for 1; other channel counts get none, and the
    card says they cannot be fed."""
    channels, size = shape[1], list(shape[2:])
    if channels == 3:
        prep = {"mode": "RGB", "size": size, "resize": "center-crop", "scale": 1 / 255,
                "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    elif channels == 1:
        prep = {"mode": "L", "size": size, "resize": "fit", "scale": 1 / 255}
    else:
        return {}
    return {PREPROCESSING_KEY: json.dumps(prep)}


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
