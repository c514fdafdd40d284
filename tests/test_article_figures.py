"""The article's figures (`cnnlens.views.figures`): the static SVGs the article shows without
JavaScript are what the generator makes now, their numbers are the bundled model's (checked
against onnxruntime, not our engine), and the SVG is safe to put in the page."""

from __future__ import annotations

import asyncio
import html
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from cnnlens.loader import load_model
from cnnlens.preprocess import preprocess
from cnnlens.session import Session
from cnnlens.views.figure_numbers import fmt
from cnnlens.views.figures import FIGURES, figures
from tests.onnx_builders import ModelBuilder, onnxruntime_outputs
from tests.page_app import local_app
from tests.paths import BUNDLED_MODEL, EXAMPLES, ROOT, load_build_script

SVG = "{http://www.w3.org/2000/svg}"


def generator():
    return load_build_script("article_figures")


@pytest.fixture(scope="module")
def first() -> str:
    return json.loads((EXAMPLES / "index.json").read_text())[0]["file"]


@pytest.fixture(scope="module")
def made() -> dict[str, Any]:
    return generator().made()


@pytest.fixture(scope="module")
def reference(first) -> dict[str, np.ndarray]:
    """onnxruntime's tensors (every node output) for the first example, on the input our
    preprocessing makes, and the first convolution's weights as stored in the file."""
    model = onnx.load(str(BUNDLED_MODEL))
    card = load_model(BUNDLED_MODEL.read_bytes(), "bundled").card
    x = preprocess((EXAMPLES / first).read_bytes(), card.preprocessing)
    tensors = onnxruntime_outputs(model, {"image": x})
    tensors["conv_1_1.weight"] = next(numpy_helper.to_array(t) for t in model.graph.initializer
                                      if t.name == "conv_1_1.weight")
    return tensors


NUMBER = re.compile(r"[-\u2212]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def assert_same_drawing(committed: str, fresh: str, what: str) -> None:
    """The same text but for its numbers, and the numbers equal to a few digits: another
    machine's BLAS may round a float32's last bit differently, which can move the third
    digit a number is shown with."""
    assert NUMBER.sub("#", committed) == NUMBER.sub("#", fresh), (
        f"{what} is stale: run python3 build/article_figures.py")
    numbers = [[float(n.replace("\u2212", "-")) for n in NUMBER.findall(t)]
               for t in (committed, fresh)]
    np.testing.assert_allclose(*numbers, rtol=1e-2, atol=1e-3,
                               err_msg=f"{what} is stale: run python3 build/article_figures.py")


def test_the_static_figures_are_what_the_generator_makes_now(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "build" / "article_figures.py"), str(tmp_path)],
                   check=True, capture_output=True)
    for name in FIGURES:
        committed = ROOT / "assets" / "figures" / f"{name}.svg"
        fresh = tmp_path / f"{name}.svg"
        assert_same_drawing(committed.read_text(encoding="utf-8"),
                            fresh.read_text(encoding="utf-8"), str(committed))


def test_a_changed_figure_is_found_stale(made):
    drawing = made["softmax"]["svg"]
    assert_same_drawing(drawing, drawing.replace("98.6%", "98.5%"), "a rounding")
    for changed in (drawing.replace("98.6%", "90.6%"), drawing.replace("Trouser", "Trousers"),
                    drawing.replace('fill="#0b5cad"', 'fill="#0b5cae"', 1)):
        with pytest.raises(AssertionError):
            assert_same_drawing(drawing, changed, "a change")


class Figures(HTMLParser):
    """The article's <figure data-figure> elements: their image's src and alt."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str]] = {}
        self._figure: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and "data-figure" in attrs:
            self._figure = attrs["data-figure"]
        if tag == "img" and self._figure:
            self.found[self._figure] = attrs

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None


def test_the_article_shows_each_static_figure_with_its_numbers_as_alt_text(made, first):
    parser = Figures()
    parser.feed((ROOT / "index.html").read_text())
    assert set(parser.found) == set(FIGURES)
    for name, img in parser.found.items():
        assert img["src"] == f"assets/figures/{name}.svg"
        assert (ROOT / img["src"]).is_file()
        assert_same_drawing(html.unescape(img["alt"]), made[name]["description"], name)
    captions = re.findall(r'<span class="figure-image">([^<]*)</span>',
                          (ROOT / "index.html").read_text())
    assert captions == [first] * len(FIGURES)


def close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=1e-5, atol=1e-5)


def test_relu_values_are_the_models_before_and_after_the_relu(made, reference):
    data = made["relu"]["data"]
    assert (data["input"], data["layer"], data["channel"]) == ("conv_1_1", "relu_1_1", 0)
    points = data["points"]
    rows = [p["row"] for p in points]
    cols = [p["col"] for p in points]
    close([p["x"] for p in points], reference["conv_1_1"][0, 0][rows, cols])
    close([p["y"] for p in points], reference["relu_1_1"][0, 0][rows, cols])
    xs = np.array([p["x"] for p in points])
    assert np.all(np.diff(xs) > 0)  # distinct values, in order along the axis
    assert xs.min() < 0 < xs.max()  # both sides of the kink
    assert all(p["text"].startswith(f"x = {fmt(p['x'])} → y = max(0, x) = {fmt(p['y'])} ")
               for p in points)
    close(data["reach"], np.abs(reference["conv_1_1"][0, 0]).max())  # the channel's range


def test_pool_windows_are_a_real_patch_its_max_pool_outputs_and_averages(made, reference):
    data = made["pool"]["data"]
    assert (data["input"], data["layer"], data["kernel"], data["stride"]) == (
        "relu_1_2", "max_pool_1", [2, 2], [2, 2])
    (r, c), (oy, ox) = data["origin"], data["out_origin"]
    assert (r, c) == (2 * oy, 2 * ox)
    patch = reference["relu_1_2"][0, 0, r:r + 4, c:c + 4]
    close(data["patch"], patch)
    close(data["max"], reference["max_pool_1"][0, 0, oy:oy + 2, ox:ox + 2])
    windows = patch.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3)  # (2, 2, kh, kw)
    close(data["average"], windows.mean(axis=(2, 3)))
    for i, j in np.ndindex(2, 2):
        ar, ac = data["argmax"][i][j]
        assert 2 * i <= ar < 2 * i + 2 and 2 * j <= ac < 2 * j + 2
        close(patch[ar, ac], reference["max_pool_1"][0, 0, oy + i, ox + j])
        assert np.ptp(windows[i, j]) > 0  # every step shows a choice
        words = data["steps"][2 * i + j]
        assert words.startswith(f"Window {2 * i + j + 1} of 4")
        assert fmt(data["max"][i][j]) in words and fmt(data["average"][i][j]) in words


def test_softmax_and_colour_scales_are_the_models_numbers(made, reference):
    logits = reference["logits"][0]
    exp = np.exp(logits.astype(np.float64) - logits.max())
    bars = made["softmax"]["data"]["classes"]
    close([b["logit"] for b in bars], logits)
    close([b["probability"] for b in bars], exp / exp.sum())
    assert made["softmax"]["data"]["top1"] == int(np.argmax(logits))
    scales = made["colours"]["data"]
    reach = np.abs(reference["conv_1_1"]).max()
    close([scales["activation"]["min"], scales["activation"]["max"]], [-reach, reach])
    top = np.abs(reference["conv_1_1.weight"]).max()
    close([scales["weight"]["min"], scales["weight"]["max"]], [-top, top])
    close([scales["logit"]["min"], scales["logit"]["max"]], [logits.min(), logits.max()])


def test_each_svg_carries_the_numbers_it_describes(made):
    relu = ET.fromstring(made["relu"]["svg"])
    dots = relu.findall(f"{SVG}circle[@class='fig-point']")
    close([float(d.get("data-x")) for d in dots], [p["x"] for p in made["relu"]["data"]["points"]])
    softmax = ET.fromstring(made["softmax"]["svg"])
    bars = softmax.findall(f"{SVG}rect[@class='fig-probability']")
    close([float(b.get("data-probability")) for b in bars],
          [c["probability"] for c in made["softmax"]["data"]["classes"]])
    pool = ET.fromstring(made["pool"]["svg"])
    steps = pool.findall(f"{SVG}g[@class='fig-step']")
    assert [s.get("visibility") for s in steps] == ["visible", "hidden", "hidden", "hidden"]
    for name in FIGURES:
        root = ET.fromstring(made[name]["svg"])
        assert root.find(f"{SVG}desc").text == made[name]["description"]


def test_the_svg_is_safe_in_the_page_whatever_the_model_names():
    hostile = [f"<script>alert({i})</script>" for i in range(10)]
    loaded = load_model(BUNDLED_MODEL.read_bytes(), "bundled")
    data = (EXAMPLES / "bag_1.png").read_bytes()
    session = Session.start(loaded, data, "bag_1.png")
    made = figures(loaded.model, session.result, hostile, "<b>x</b>.png")
    for name in FIGURES:
        root = ET.fromstring(made[name]["svg"])  # well-formed XML: the names stayed text
        for node in root.iter():
            assert node.tag.removeprefix(SVG) not in {"script", "foreignObject", "style"}
            assert "style" not in node.attrib  # the page's CSP refuses inline styles
            assert not any(key.startswith("on") for key in node.attrib)
    names = [t.text for t in ET.fromstring(made["softmax"]["svg"]).iter(f"{SVG}text")]
    assert set(hostile) <= set(names)


def plain_model() -> onnx.ModelProto:
    """Conv → MaxPool with padding → Flatten → Gemm on the bundled model's input: no ReLU,
    and a pool the figure does not draw."""
    b = ModelBuilder(("batch", 1, 28, 28), input_name="image")
    y = b.add("Conv", [b.input, b.weight((2, 1, 3, 3))], pads=[1, 1, 1, 1])
    y = b.add("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1])
    y = b.add("Flatten", [y])
    y = b.add("Gemm", [y, b.weight((10, 2 * 15 * 15))], transB=1)
    meta = {p.key: p.value for p in onnx.load(str(BUNDLED_MODEL)).metadata_props}
    return b.build(y, metadata=meta)


def test_a_model_without_relu_or_plain_pooling_has_only_the_figures_it_can_draw():
    loaded = load_model(plain_model().SerializeToString(), "plain.onnx")
    session = Session.start(loaded, (EXAMPLES / "bag_1.png").read_bytes(), "bag_1.png")
    made = figures(loaded.model, session.result, list(session.classes), "bag_1.png")
    assert made["relu"] is None and made["pool"] is None
    assert made["softmax"] is not None and set(made["colours"]["data"]) == {
        "activation", "weight", "logit"}
    json.dumps(made, allow_nan=False)


def test_the_page_answers_the_figures_of_the_image_on_screen(made, first):
    app = local_app()
    assert "error" in app.figures()  # no image yet: an answer, not a crash
    asyncio.run(app.start())
    asyncio.run(app.example(first))
    answer = json.loads(app.figures()["figures"])
    assert answer["image"] == first
    for name in FIGURES:
        assert answer[name]["description"] == made[name]["description"]
    asyncio.run(app.example("trouser_1.png"))
    answer = json.loads(app.figures()["figures"])
    assert answer["image"] == "trouser_1.png"
    assert answer["softmax"]["data"]["classes"][answer["softmax"]["data"]["top1"]]["name"] == (
        "Trouser")
