"""TF.js *layers* model (``model.json`` + weight shards) → ONNX bytes cnnlens can open.

One converter for the page (``page.App.model_tfjs``) and the CLI (``cnnlens convert-tfjs``):
:func:`to_model` builds a :class:`cnnlens.graph.Model` and :func:`convert` serialises it
with :mod:`cnnlens.onnx_writer`, so both open the result through the same loader as any
``.onnx`` file.

This module reads the files: ``model.json`` (a Keras ``Sequential`` model), its weights
manifest and the shard bytes (float32), then builds the graph layer by layer; what each
layer becomes in the channels-first graph is :mod:`cnnlens.tfjs_layers`. Errors are
:class:`ModelError`, naming the layer where there is one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import __version__
from . import graph as g
from .errors import ModelError
from .model_card import DESCRIPTION_KEY, PREPROCESSING_KEY, Preprocessing
from .onnx_writer import IR_VERSION, write_model
from .tfjs_layers import LAYERS, GraphBuilder, Json, is_size

OPSET = 17
PRODUCER = f"cnnlens convert-tfjs {__version__}"
BATCH = "N"


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
            if not isinstance(shape, list) or not all(is_size(d, 0) for d in shape):
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


# ---------------------------------------------------------------- the model


def _input_shape(items: list[Json]) -> tuple[str, tuple[int, int, int]]:
    """The input's name and (H, W, C), from the first layer's batch input shape."""
    first = items[0]
    config = first["config"]
    shape = config.get("batch_input_shape", config.get("batch_shape"))
    if shape is None:
        raise ModelError("the first layer declares no batch_input_shape: the input size is "
                         "unknown")
    if (not isinstance(shape, list) or len(shape) != 4 or shape[0] not in (None, 1)
            or not all(is_size(d) for d in shape[1:])):
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
    graph = GraphBuilder(read_weights(document, weights), input_name, input_name, (c, h, w))
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
