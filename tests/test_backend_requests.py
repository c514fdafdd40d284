"""cnnlens.backend_requests in CPython (no GPU: the engine runs NumPy and says why): the
switch, the label, `time_backend`'s shape and `tensors`' index over the very pass the page
shows."""

from __future__ import annotations

import asyncio
import json

import numpy as np

from tests.page_app import app_showing_first_example


def test_tensors_index_lays_out_every_tensor_of_the_pass() -> None:
    app, _examples = app_showing_first_example()
    answer = asyncio.run(app.tensors("numpy"))
    index = json.loads(answer["index"])
    numbers = np.frombuffer(answer["numbers"], dtype=np.float32)
    expected = app.session.result.tensors
    assert [t["name"] for t in index["tensors"]] == list(expected)
    for t in index["tensors"]:
        size = int(np.prod(t["shape"]))
        np.testing.assert_array_equal(
            numbers[t["offset"]:t["offset"] + size].reshape(t["shape"]), expected[t["name"]])
    assert index["ran"]["backend"] == "NumPy"


def test_time_backend_has_every_node_and_each_pass() -> None:
    app, _examples = app_showing_first_example()
    times = asyncio.run(app.time_backend("webgpu", 2))
    nodes = [n.name for n in app.session.loaded.model.topological_order()]
    assert [layer["node"] for layer in times["layers"]] == nodes
    assert all(len(layer["ms"]) == 2 and layer["backend"] == "NumPy" for layer in times["layers"])
    assert len(times["total_ms"]) == 2 and times["backend"] == "NumPy"
    assert times["note"] == "No WebGPU in this browser: NumPy runs every layer."
    assert "error" in asyncio.run(app.time_backend("cuda", 1))
    assert "error" in asyncio.run(app.time_backend("numpy", 0))


def test_the_switch_reruns_and_the_label_follows() -> None:
    app, _examples = app_showing_first_example()
    before = app.session
    answer = asyncio.run(app.backend("numpy"))
    label = json.loads(answer["backend"])
    assert label["choice"] == "numpy" and label["backend"] == "NumPy" and label["note"] is None
    assert label["available"] is False
    assert [layer["node"] for layer in label["layers"]] == [
        n.name for n in before.loaded.model.topological_order()]
    assert app.session is not before and app.session.image is before.image
    assert answer["view"] == app.mode(before.mode)["view"]  # the same picture, the same view
    bad = asyncio.run(app.backend("cuda"))
    assert "unknown backend 'cuda'" in bad["error"] and app.engine.choice == "numpy"
