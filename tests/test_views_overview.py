"""The overview view-model: columns, tiles, raster offsets and the colour encodings."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from cnnlens.errors import CnnlensError
from cnnlens.forward import run
from cnnlens.onnx_reader import read_model
from cnnlens.views import colormap
from cnnlens.views.overview import column_page, overview
from tests.onnx_builders import ModelBuilder

FIRST, MIDDLE, LAST = (np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)])
                       for h in ("#67001f", "#f7f7f7", "#053061"))


def small_cnn(channels_in: int = 3, softmax: bool = False):
    b = ModelBuilder((1, channels_in, 9, 9), seed=3)
    conv = b.add("Conv", [b.input, b.weight((4, channels_in, 3, 3)), b.weight((4,), "b", 1)],
                 pads=(1, 1, 1, 1))
    relu = b.add("Relu", [conv])
    pool = b.add("MaxPool", [relu], kernel_shape=(3, 3), strides=(3, 3))
    flat = b.add("Flatten", [pool])
    scores = b.add("Gemm", [flat, b.weight((5, 36)), b.weight((5,), "b", 1)], transB=1)
    if softmax:
        b.add("Softmax", [scores], axis=1)
    model = read_model(b.build().SerializeToString())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, channels_in, 9, 9)).astype(np.float32)
    preview = rng.integers(0, 256, size=(9, 9, channels_in), dtype=np.uint8)
    return model, run(model, x), preview, (conv, relu, pool)


def tile(view, rasters, layer: str, channel: int) -> np.ndarray:
    """RGBA pixels `(H, W, 4)` of one tile, located the way the JS renderer locates it."""
    column = next(c for c in view["columns"] if c["name"] == layer)
    start = column["tiles"][channel]["offset"]
    size = column["width"] * column["height"] * 4
    return rasters[start:start + size].reshape(column["height"], column["width"], 4)


def test_columns_follow_the_network_with_one_tile_per_channel():
    model, result, preview, (conv, relu, pool) = small_cnn()
    view, rasters = overview(model, result, [f"c{i}" for i in range(5)], preview)
    assert [c["name"] for c in view["columns"]] == [result.input_name, conv, relu, pool]
    assert [c["kind"] for c in view["columns"]] == ["input", "conv", "relu", "pool"]
    assert [len(c["tiles"]) for c in view["columns"]] == [3, 4, 4, 4]
    # Readers see node names (the tensors stay the keys); a node without one shows its tensor.
    conv_node = model.graph.producers[conv].name
    assert conv_node and conv_node != conv
    assert view["columns"][1]["title"] == conv_node
    assert view["columns"][1]["label"] == f"{conv_node} · 4 × 9 × 9"
    assert view["columns"][0]["title"] == result.input_name
    assert [c["shape"] for c in view["columns"]] == [[3, 9, 9], [4, 9, 9], [4, 9, 9], [4, 3, 3]]
    last = view["columns"][-1]
    assert last["tiles"][-1]["offset"] + last["width"] * last["height"] * 4 == rasters.size
    assert rasters.dtype == np.uint8
    json.dumps(view)  # plain data only: it crosses to JavaScript as JSON


@pytest.mark.parametrize(("softmax", "label"), [(False, "logits"), (True, "Softmax")])
def test_the_output_says_what_the_model_ends_in_and_reads_every_last_channel(softmax, label):
    model, result, preview, (_, _, pool) = small_cnn(softmax=softmax)
    assert (model.graph.producers[model.output.name].op_type == "Softmax") == softmax
    view, _ = overview(model, result, [f"c{i}" for i in range(5)], preview)
    assert view["output"]["op"] == label
    # Five classes in one group: each reads every channel of the pool column.
    assert view["output"]["sources"] == {
        "column": pool, "parts": [{"column": pool, "start": 0, "stop": 5, "groups": 1}]}


def test_output_lists_every_class_with_the_top_one_marked():
    model, result, preview, _ = small_cnn()
    names = ["a", "b", "c", "d", "e"]
    view, _ = overview(model, result, names, preview)
    output = view["output"]
    assert [c["name"] for c in output["classes"]] == names
    probabilities = [c["probability"] for c in output["classes"]]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
    assert output["top1"] == int(np.argmax(probabilities))


def test_layer_range_maps_extremes_to_the_ends_and_zero_to_white():
    model, result, preview, (conv, relu, _) = small_cnn()
    view, rasters = overview(model, result, list("abcde"), preview, mode="layer")
    values = result.tensors[conv][0]
    c, y, x = np.unravel_index(np.argmax(np.abs(values)), values.shape)
    extreme = LAST if values[c, y, x] > 0 else FIRST
    np.testing.assert_array_equal(tile(view, rasters, conv, c)[y, x, :3], extreme)
    relu_values = result.tensors[relu][0]
    zero = np.argwhere(relu_values == 0)[0]
    np.testing.assert_array_equal(tile(view, rasters, relu, zero[0])[zero[1], zero[2], :3], MIDDLE)
    positive = np.argwhere(relu_values > 0.3 * relu_values.max())[0]
    r, _, b = tile(view, rasters, relu, positive[0])[positive[1], positive[2], :3].astype(int)
    assert b > r  # positive activations are blue


def test_range_modes_change_which_tiles_reach_the_extremes():
    model, result, preview, (conv, _, _) = small_cnn()
    values = result.tensors[conv][0]

    def extreme_channels(mode):
        view, rasters = overview(model, result, list("abcde"), preview, mode=mode)
        hits = []
        for k in range(values.shape[0]):
            rgb = tile(view, rasters, conv, k)[..., :3].reshape(-1, 3)
            if (rgb == FIRST).all(axis=1).any() or (rgb == LAST).all(axis=1).any():
                hits.append(k)
        return hits

    assert extreme_channels("neuron") == list(range(values.shape[0]))
    layer_max_channel = int(np.argmax(np.abs(values).max(axis=(1, 2))))
    assert extreme_channels("layer") == [layer_max_channel]
    network_max = max(np.abs(result.tensors[n][0]).max() for n in list(result.tensors)[1:4])
    assert (extreme_channels("network") != []) == bool(np.abs(values).max() == network_max)


def test_rgb_input_is_shown_one_colour_per_channel_and_grey_as_grey():
    model, result, preview, _ = small_cnn()
    view, rasters = overview(model, result, list("abcde"), preview)
    for k in range(3):
        pixels = tile(view, rasters, result.input_name, k)
        np.testing.assert_array_equal(pixels[..., k], preview[..., k])
        assert not np.delete(pixels[..., :3], k, axis=-1).any()
    assert view["columns"][0]["op"] == "rgb"

    model, result, preview, _ = small_cnn(channels_in=1)
    view, rasters = overview(model, result, list("abcde"), preview)
    pixels = tile(view, rasters, result.input_name, 0)
    for k in range(3):
        np.testing.assert_array_equal(pixels[..., k], preview[..., 0])
    assert view["columns"][0]["op"] == "grey"


def test_diverging_scale_is_red_below_zero_white_at_zero_blue_above():
    t = np.linspace(-1, 1, 101, dtype=np.float32)
    rgba = colormap.diverging(t, 1.0).astype(int)
    red_minus_blue = rgba[:, 0] - rgba[:, 2]
    assert (red_minus_blue[t < -0.1] > 0).all()
    assert (red_minus_blue[t > 0.1] < 0).all()
    brightness = rgba[:, :3].sum(axis=1)
    assert brightness[50] == brightness.max()
    assert brightness[0] < brightness[25] < brightness[50] > brightness[75] > brightness[100]
    assert (rgba[:, 3] == 255).all()
    # A layer of zeros has no range: everything is the middle colour, no division by zero.
    np.testing.assert_array_equal(colormap.diverging(np.zeros(3), 0.0)[:, :3], [MIDDLE] * 3)


# --- wide and deep models: pages of channels, sources as parts ---


def wide_cnn():
    """A 2-channel input, a 40-channel convolution and its ReLU, 20 classes."""
    b = ModelBuilder((1, 2, 5, 5), seed=4)
    conv = b.add("Conv", [b.input, b.weight((40, 2, 3, 3))], pads=(1, 1, 1, 1))
    relu = b.add("Relu", [conv])
    flat = b.add("Flatten", [relu])
    b.add("Gemm", [flat, b.weight((20, 40 * 25)), b.weight((20,), "b", 1)], transB=1)
    model = read_model(b.build().SerializeToString())
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 2, 5, 5)).astype(np.float32)
    preview = rng.integers(0, 256, size=(5, 5, 2), dtype=np.uint8)
    return model, run(model, x), preview, (conv, relu)


def test_a_wide_column_shows_its_first_16_channels_and_the_raster_holds_only_those():
    model, result, preview, (conv, _) = wide_cnn()
    view, rasters = overview(model, result, [f"c{i}" for i in range(20)], preview)
    column = next(c for c in view["columns"] if c["name"] == conv)
    assert column["shape"] == [40, 5, 5]
    assert [t["channel"] for t in column["tiles"]] == list(range(16))
    # input: 2 tiles; conv and relu: 16 each; 5 × 5 RGBA pixels per tile.
    assert rasters.size == (2 + 16 + 16) * 5 * 5 * 4
    half = float(np.abs(result.tensors[conv][0]).max())  # "layer": one range for the layer
    np.testing.assert_array_equal(tile_by_channel(view, rasters, conv, 15),
                                  colormap.diverging(result.tensors[conv][0, 15], half))


def tile_by_channel(view, rasters, layer: str, channel: int) -> np.ndarray:
    column = next(c for c in view["columns"] if c["name"] == layer)
    start = next(t for t in column["tiles"] if t["channel"] == channel)["offset"]
    size = column["width"] * column["height"] * 4
    return rasters[start:start + size].reshape(column["height"], column["width"], 4)


@pytest.mark.parametrize(("asked", "shown"), [(0, range(0, 16)), (17, range(16, 32)),
                                              (39, range(32, 40)), (99, range(32, 40))])
def test_pages_show_the_16_channels_around_the_one_asked_for(asked, shown):
    model, result, preview, (conv, relu) = wide_cnn()
    view, rasters = overview(model, result, list("abcdefghijklmnopqrst"), preview, "neuron",
                             pages={relu: asked})
    column = next(c for c in view["columns"] if c["name"] == relu)
    assert [t["channel"] for t in column["tiles"]] == list(shown)
    conv_column = next(c for c in view["columns"] if c["name"] == conv)
    assert [t["channel"] for t in conv_column["tiles"]] == list(range(16))
    values = result.tensors[relu][0]
    for k in (shown[0], shown[-1]):  # "neuron": each channel its own range
        expected = colormap.diverging(values[k], float(np.abs(values[k]).max()))
        np.testing.assert_array_equal(tile_by_channel(view, rasters, relu, k), expected)


def test_column_page_is_the_overview_column_of_that_page_with_its_own_rasters():
    model, result, preview, (conv, _) = wide_cnn()
    view, rasters = overview(model, result, list("abcdefghijklmnopqrst"), preview,
                             pages={conv: 20})
    column, own = column_page(model, result, "layer", conv, 20)
    expected = next(c for c in view["columns"] if c["name"] == conv)
    assert [t["channel"] for t in column["tiles"]] == list(range(16, 32))
    assert column["tiles"][0]["offset"] == 0
    assert own.size == 16 * 5 * 5 * 4
    for mine, theirs in zip(column["tiles"], expected["tiles"], strict=True):
        assert {**mine, "offset": 0} == {**theirs, "offset": 0}
        np.testing.assert_array_equal(own[mine["offset"]:mine["offset"] + 100],
                                      rasters[theirs["offset"]:theirs["offset"] + 100])
    assert {k: v for k, v in column.items() if k != "tiles"} == {
        k: v for k, v in expected.items() if k != "tiles"}
    with pytest.raises(CnnlensError, match="channels 0 to 39, not 40"):
        column_page(model, result, "layer", conv, 40)
    with pytest.raises(CnnlensError, match="no column 'nowhere'"):
        column_page(model, result, "layer", "nowhere", 0)


def test_many_classes_are_listed_most_probable_first_and_few_in_index_order():
    model, result, preview, _ = wide_cnn()
    view, _ = overview(model, result, [f"c{i}" for i in range(20)], preview)
    p = result.probabilities[0]
    order = view["output"]["order"]
    assert sorted(order) == list(range(20))
    assert all(p[a] >= p[b] for a, b in itertools.pairwise(order))
    assert order[0] == view["output"]["top1"]
    model, result, preview, _ = small_cnn()
    view, _ = overview(model, result, list("abcde"), preview)
    assert view["output"]["order"] == [0, 1, 2, 3, 4]


def sources_of(view, layer: str):
    return next(c for c in view["columns"] if c["name"] == layer)["sources"]


def parts_model():
    """Every way channels feed channels: conv (groups 1, 2, 4 = depthwise, depthwise × 2),
    ReLU, a residual Add, a Concat over channels, a broadcast Mul by one channel."""
    b = ModelBuilder((1, 4, 6, 6), input_name="x", seed=2)
    full = b.add("Conv", [b.input, b.weight((8, 4, 1, 1))], outputs=["full"])
    pair = b.add("Conv", [full, b.weight((6, 4, 1, 1))], outputs=["pair"], group=2)
    relu = b.add("Relu", [full], outputs=["relu"])
    depth = b.add("Conv", [relu, b.weight((8, 1, 3, 3))], outputs=["depth"], group=8,
                  pads=(1, 1, 1, 1))
    double = b.add("Conv", [depth, b.weight((16, 1, 1, 1))], outputs=["double"], group=8)
    added = b.add("Add", [depth, relu], outputs=["added"])
    joined = b.add("Concat", [pair, added], outputs=["joined"], axis=1)
    gate = b.add("Conv", [joined, b.weight((1, 14, 1, 1))], outputs=["gate"])
    gated = b.add("Mul", [double, gate], outputs=["gated"])
    pooled = b.add("GlobalAveragePool", [gated], outputs=["pooled"])
    flat = b.add("Flatten", [pooled])
    b.add("Gemm", [flat, b.weight((3, 16)), b.weight((3,), "b", 1)], transB=1)
    model = read_model(b.build().SerializeToString())
    x = np.random.default_rng(0).normal(size=(1, 4, 6, 6)).astype(np.float32)
    preview = np.zeros((6, 6, 4), np.uint8)
    return model, run(model, x), preview


def test_sources_are_parts_that_say_which_channels_feed_which_in_groups():
    model, result, preview = parts_model()
    view, _ = overview(model, result, ["a", "b", "c"], preview)

    def one(column, stop, groups):
        return {"column": column, "parts": [
            {"column": column, "start": 0, "stop": stop, "groups": groups}]}

    assert sources_of(view, "x") is None
    assert sources_of(view, "full") == one("x", 8, 1)         # every channel reads all 4
    assert sources_of(view, "pair") == one("full", 6, 2)      # 0–2 read 0–3, 3–5 read 4–7
    assert sources_of(view, "relu") == one("full", 8, 8)      # each its own channel
    assert sources_of(view, "depth") == one("relu", 8, 8)     # depthwise: its own channel
    assert sources_of(view, "double") == one("depth", 16, 8)  # 2k and 2k+1 read k
    assert sources_of(view, "added") == {"column": "depth", "parts": [
        {"column": "depth", "start": 0, "stop": 8, "groups": 8},
        {"column": "relu", "start": 0, "stop": 8, "groups": 8}]}  # both sides of the sum
    assert sources_of(view, "joined") == {"column": "pair", "parts": [
        {"column": "pair", "start": 0, "stop": 6, "groups": 6},
        {"column": "added", "start": 6, "stop": 14, "groups": 8}]}  # each input its range
    assert sources_of(view, "gated") == {"column": "double", "parts": [
        {"column": "double", "start": 0, "stop": 16, "groups": 16},
        {"column": "gate", "start": 0, "stop": 16, "groups": 1}]}  # the gate's one channel
    assert sources_of(view, "pooled") == one("gated", 16, 16)


def feeding(part: dict, count: int, k: int) -> list[int]:
    """The rule the page applies to a part (assets/js/edges.js `feeders`), restated."""
    if not part["start"] <= k < part["stop"]:
        return []
    per_out = (part["stop"] - part["start"]) // part["groups"]
    per_in = count // part["groups"]
    group = (k - part["start"]) // per_out
    return list(range(group * per_in, (group + 1) * per_in))


@pytest.mark.parametrize(("layer", "channel", "expected"), [
    ("pair", 4, {("full", c) for c in range(4, 8)}),
    ("double", 5, {("depth", 2)}),
    ("joined", 2, {("pair", 2)}),
    ("joined", 9, {("added", 3)}),
    ("added", 7, {("depth", 7), ("relu", 7)}),
])
def test_the_parts_give_the_edges_written_out_by_hand(layer, channel, expected):
    model, result, preview = parts_model()
    view, _ = overview(model, result, ["a", "b", "c"], preview)
    shapes = {c["name"]: c["shape"][0] for c in view["columns"]}
    edges = {(p["column"], s) for p in sources_of(view, layer)["parts"]
             for s in feeding(p, shapes[p["column"]], channel)}
    assert edges == expected
