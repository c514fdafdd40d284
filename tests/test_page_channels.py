"""The worker's `channels` request (`page.App.channels`): another page of one overview column
of a wide net, or a clear error that changes nothing."""

from __future__ import annotations

import asyncio
import json

import numpy as np

from cnnlens.views import colormap
from tests.page_app import app_showing_first_example, local_app


def test_a_page_of_a_wide_column_holds_the_channel_asked_for_with_its_tiles():
    app, _ = app_showing_first_example()
    assert "view" in asyncio.run(app.open_model("resnet18"))
    session = app.session
    answer = app.channels("layer4.1.1.conv", 300)
    column = json.loads(answer["view"])
    assert column["name"] == "layer4.1.1.conv" and column["shape"] == [512, 7, 7]
    assert [t["channel"] for t in column["tiles"]] == list(range(288, 304))
    rasters = np.frombuffer(answer["rasters"], np.uint8)
    assert rasters.size == 16 * 7 * 7 * 4
    values = session.result.tensors["layer4.1.1.conv"][0]
    tile = next(t for t in column["tiles"] if t["channel"] == 300)
    drawn = rasters[tile["offset"]:tile["offset"] + 7 * 7 * 4].reshape(7, 7, 4)
    # The colour range "layer": one half-width, the layer's largest |value|.
    np.testing.assert_array_equal(drawn, colormap.diverging(values[300], np.abs(values).max()))
    assert tile["min"] == float(values[300].min()) and tile["max"] == float(values[300].max())
    assert app.session is session  # a page changes nothing in the worker


def test_a_page_that_is_not_there_is_a_clear_error_and_changes_nothing():
    app, _ = app_showing_first_example()
    session = app.session
    assert app.channels("conv_1_1", 10) == {"error": "conv_1_1 has channels 0 to 9, not 10"}
    assert app.channels("nowhere", 0) == {
        "error": "the overview has no column 'nowhere' with channels to page through"}
    assert app.session is session
    assert local_app().channels("conv_1_1", 0) == {"error": "there is no image yet"}
