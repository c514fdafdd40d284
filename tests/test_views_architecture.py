"""The architecture view's layout (py/cnnlens/views/architecture.py) on every gallery net.

References are independent of the code under test: the edges, the node count and the
activation memory come from the ONNX file itself (its node lists and onnx's own shape
inference), the parameter counts from the published figures test_gallery.py quotes.
"""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import shape_inference

from cnnlens.loader import load_model
from cnnlens.onnx_reader import read_model
from cnnlens.page import App
from cnnlens.summary import summarize
from cnnlens.views.architecture import (
    DUMMY_WIDTH,
    INPUT,
    NODE_GAP,
    architecture,
    longest_path_layers,
)
from tests.paths import BUNDLED_MODEL
from tests.test_gallery import GALLERY, HAND_DERIVED, NAMES, PUBLISHED


@cache
def view(name: str) -> dict[str, Any]:
    return architecture(read_model((GALLERY / f"{name}.onnx").read_bytes(), weights="shapes"))


@cache
def proto(name: str) -> onnx.ModelProto:
    return onnx.load(str(GALLERY / f"{name}.onnx"))


def onnx_edges(model: onnx.ModelProto) -> set[tuple[str, str]]:
    """(producer, consumer) node names for every value between nodes, "input" for the
    graph's first input, read from the file's node lists."""
    producer = {out: node.name for node in model.graph.node for out in node.output}
    producer[model.graph.input[0].name] = "<input>"
    return {(producer[name], node.name) for node in model.graph.node for name in node.input
            if name in producer}


@pytest.mark.parametrize("name", NAMES)
def test_one_node_per_layer_and_the_files_edges(name):
    made, model = view(name), proto(name)
    nodes = made["nodes"]
    assert nodes[0]["kind"] == "input"
    assert [n["name"] for n in nodes[1:]] == [node.name for node in model.graph.node]
    label = {n["id"]: n["name"] for n in nodes}
    label[INPUT] = "<input>"
    drawn = [(label[e["source"]], label[e["target"]]) for e in made["edges"]]
    assert len(drawn) == len(set(drawn))
    assert set(drawn) == onnx_edges(model)


@pytest.mark.parametrize("name", NAMES)
def test_layers_increase_along_edges_and_boxes_do_not_overlap(name):
    made = view(name)
    by_id = {n["id"]: n for n in made["nodes"]}
    for edge in made["edges"]:
        source, target = by_id[edge["source"]], by_id[edge["target"]]
        assert source["layer"] < target["layer"]
        points = np.array(edge["points"])
        # From the source's bottom side to the target's top side.
        assert points[0, 1] == source["y"] + source["height"] / 2
        assert points[-1, 1] == target["y"] - target["height"] / 2
        assert abs(points[0, 0] - source["x"]) < source["width"] / 2
        assert abs(points[-1, 0] - target["x"]) < target["width"] / 2
        assert (np.diff(points[:, 1]) > 0).all()  # every bend lies one layer further down
    boxes = np.array([[n["x"] - n["width"] / 2, n["y"] - n["height"] / 2,
                       n["x"] + n["width"] / 2, n["y"] + n["height"] / 2]
                      for n in made["nodes"]])
    apart_x = (boxes[:, None, 2] <= boxes[None, :, 0]) | (boxes[None, :, 2] <= boxes[:, None, 0])
    apart_y = (boxes[:, None, 3] <= boxes[None, :, 1]) | (boxes[None, :, 3] <= boxes[:, None, 1])
    overlapping = ~(apart_x | apart_y) & ~np.eye(len(boxes), dtype=bool)
    assert not overlapping.any()
    assert boxes[:, :2].min() >= 0
    assert boxes[:, 2].max() <= made["width"] + 1e-6
    assert boxes[:, 3].max() <= made["height"] + 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_an_edge_never_passes_through_a_box(name):
    """Where an edge crosses a layer, it keeps clear of that layer's boxes."""
    made = view(name)
    boxes = {}
    for n in made["nodes"]:
        boxes.setdefault(n["y"], []).append((n["x"] - n["width"] / 2, n["x"] + n["width"] / 2))
    clearance = DUMMY_WIDTH / 2 + NODE_GAP / 2
    for edge in made["edges"]:
        for x, y in edge["points"][1:-1]:
            assert all(x + clearance <= left or x - clearance >= right
                       for left, right in boxes[y]), (edge, x, y)


@pytest.mark.parametrize("name", NAMES)
def test_totals_match_summary_published_counts_and_onnx_shapes(name):
    made, model = view(name), proto(name)
    totals = made["totals"]
    params = PUBLISHED[name][0] if name in PUBLISHED else HAND_DERIVED[name][0]
    assert totals["params"] == params
    layers = summarize(read_model((GALLERY / f"{name}.onnx").read_bytes(), weights="shapes"))
    assert totals["macs"] == sum(layer.macs for layer in layers)
    assert [n["macs"] for n in made["nodes"][1:]] == [layer.macs for layer in layers]
    assert [n["params"] for n in made["nodes"][1:]] == [layer.params for layer in layers]
    inferred = shape_inference.infer_shapes(model).graph
    dims = {v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]  # batch 1
            for v in [*inferred.value_info, *inferred.output, *inferred.input]}
    outputs = [out for node in model.graph.node for out in node.output[:1]]
    assert [n["shape"] for n in made["nodes"][1:]] == [dims[out] for out in outputs]
    elements = math.prod(dims[model.graph.input[0].name]) + sum(math.prod(dims[o]) for o in outputs)
    assert totals["activation_bytes"] == 4 * elements
    assert totals["layers"] == len(model.graph.node)


def test_residual_adds_merge_two_edges_and_inception_concats_four():
    resnet = view("resnet50")
    incoming: dict[int, int] = {}
    for edge in resnet["edges"]:
        incoming[edge["target"]] = incoming.get(edge["target"], 0) + 1
    adds = [n for n in resnet["nodes"] if n["op"] == "Add"]
    assert len(adds) == 16  # 3 + 4 + 6 + 3 bottleneck blocks
    assert all(incoming[n["id"]] == 2 for n in adds)
    arrivals = {}
    for edge in resnet["edges"]:
        arrivals.setdefault(edge["target"], set()).add(tuple(edge["points"][-1]))
    assert all(len(arrivals[n["id"]]) == 2 for n in adds)  # two arrowheads, side by side
    googlenet = view("googlenet")
    incoming = {}
    for edge in googlenet["edges"]:
        incoming[edge["target"]] = incoming.get(edge["target"], 0) + 1
    concats = [n for n in googlenet["nodes"] if n["op"] == "Concat"]
    assert len(concats) == 9  # inception 3a, 3b, 4a-4e, 5a, 5b
    assert all(incoming[n["id"]] == 4 for n in concats)
    # The four branches sit side by side: the widest layer holds four boxes.
    rows: dict[int, int] = {}
    for n in googlenet["nodes"]:
        rows[n["layer"]] = rows.get(n["layer"], 0) + 1
    assert max(rows.values()) >= 4


def test_depthwise_convolutions_are_marked():
    made = view("mobilenet_v2")
    depthwise = [n for n in made["nodes"] if n["kind"] == "depthwise"]
    assert len(depthwise) == 17  # one per inverted-residual block
    assert all(n["op"] == "Conv" and "g" in n["detail"] for n in depthwise)


def test_longest_path_layers_of_a_diamond_with_a_shortcut():
    #   0 → 1 → 2 → 3, 0 → 3: the shortcut does not pull 3 up.
    layers = longest_path_layers(4, [(0, 1), (1, 2), (2, 3), (0, 3)])
    assert layers.tolist() == [0, 1, 2, 3]


def test_bundled_model_is_a_chain():
    made = architecture(read_model(BUNDLED_MODEL.read_bytes()))
    xs = {n["x"] for n in made["nodes"]}
    assert len(xs) == 1  # a chain stands in one column
    assert [n["op"] for n in made["nodes"]][:3] == ["Input", "Conv", "Relu"]
    assert made["totals"]["layers"] == len(made["nodes"]) - 1


def test_the_page_answers_the_architecture_request_as_json():
    app = App(fetch=None, base_url="")
    assert "error" in app.architecture()  # no model yet
    app.loaded = load_model(BUNDLED_MODEL.read_bytes(), BUNDLED_MODEL.name)
    answer = json.loads(app.architecture()["architecture"])
    assert answer["input_shape"] == [1, 1, 28, 28]
    assert answer["totals"]["layers"] == len(answer["nodes"]) - 1
