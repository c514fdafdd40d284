"""The bundled model `assets/models/tinyvgg-fashion-mnist.onnx` and what ships with it.

Checked against independent references (onnx's checker and shape inference, onnxruntime),
not against cnnlens's own reader. `preprocess_image` below is the reference implementation
of the preprocessing the model's metadata describes (see assets/models/MODEL_CARD.md); it
deliberately shares no code with `cnnlens.preprocess`, which it is the yardstick for.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, shape_inference
from PIL import Image, ImageOps

from tests.paths import BUNDLED_MODEL as MODEL_PATH
from tests.paths import EXAMPLES as IMAGES_DIR
from tests.paths import ROOT

CARD_PATH = ROOT / "assets/models/MODEL_CARD.md"
DATA_DIR = Path("/usr/share/datasets/fashion-mnist")

CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
PREPROCESSING = {
    "mode": "L",
    "size": [28, 28],
    "resize": "fit",
    "scale": 1 / 255,
    "mean": [0.286],
    "std": [0.353],
    "invert_light_background": True,
    "layout": "NCHW",
}
METADATA_KEYS = {
    "cnnlens.name",
    "cnnlens.description",
    "cnnlens.classes",
    "cnnlens.preprocessing",
    "cnnlens.dataset",
    "cnnlens.test_accuracy",
    "cnnlens.training",
}
# (node / output value name, op type, output shape after the batch axis)
LAYERS = [
    ("conv_1_1", "Conv", [10, 28, 28]),
    ("relu_1_1", "Relu", [10, 28, 28]),
    ("conv_1_2", "Conv", [10, 28, 28]),
    ("relu_1_2", "Relu", [10, 28, 28]),
    ("max_pool_1", "MaxPool", [10, 14, 14]),
    ("conv_2_1", "Conv", [10, 14, 14]),
    ("relu_2_1", "Relu", [10, 14, 14]),
    ("conv_2_2", "Conv", [10, 14, 14]),
    ("relu_2_2", "Relu", [10, 14, 14]),
    ("max_pool_2", "MaxPool", [10, 7, 7]),
    ("flatten", "Flatten", [490]),
    ("logits", "Gemm", [10]),
]
PARAMS = {
    "conv_1_1.weight": [10, 1, 3, 3],
    "conv_1_1.bias": [10],
    "conv_1_2.weight": [10, 10, 3, 3],
    "conv_1_2.bias": [10],
    "conv_2_1.weight": [10, 10, 3, 3],
    "conv_2_1.bias": [10],
    "conv_2_2.weight": [10, 10, 3, 3],
    "conv_2_2.bias": [10],
    "logits.weight": [10, 490],
    "logits.bias": [10],
}


# ---------------------------------------------------------------- reference preprocessing


def preprocess_image(data: bytes, prep: dict[str, Any]) -> np.ndarray:
    """Image file bytes → float32 (1, 1, H, W), following `cnnlens.preprocessing` (mode "L").

    1. decode, apply the EXIF orientation, composite any transparency onto white;
    2. greyscale (Pillow "L", ITU-R 601-2 luma);
    3. invert (255 - x) if the mean of the outermost one-pixel ring is above 127;
    4. fit inside (H, W) keeping the aspect ratio: sides round(side * r), r = min(H/h, W/w),
       Pillow bilinear, pasted at ((W - w')//2, (H - h')//2) on a black canvas;
    5. x / 255 (scale 1/255), then (x - mean) / std;
    6. NCHW.
    """
    assert prep["mode"] == "L" and prep["resize"] == "fit" and prep["layout"] == "NCHW"
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    grey = np.asarray(image.convert("L"), dtype=np.uint8)

    ring = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    if prep["invert_light_background"] and ring.mean() > 127:
        grey = 255 - grey

    out_h, out_w = prep["size"]
    h, w = grey.shape
    r = min(out_h / h, out_w / w)
    new_w, new_h = min(out_w, max(1, round(w * r))), min(out_h, max(1, round(h * r)))
    fitted = Image.fromarray(grey)
    if (new_w, new_h) != (w, h):
        fitted = fitted.resize((new_w, new_h), Image.Resampling.BILINEAR)
    canvas = Image.new("L", (out_w, out_h), 0)
    canvas.paste(fitted, ((out_w - new_w) // 2, (out_h - new_h) // 2))

    x = np.asarray(canvas, dtype=np.float32)
    # Scale 1/255 is applied as x / 255, the float32 result the training used; x * (1/255)
    # can differ from it in the last bit.
    assert prep["scale"] == 1 / 255
    x = x / np.float32(255)
    x = (x - np.float32(prep["mean"][0])) / np.float32(prep["std"][0])
    return x[None, None].astype(np.float32)


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 (H, W) → greyscale PNG, (H, W, 3) → RGB, (H, W, 4) → RGBA."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model() -> onnx.ModelProto:
    return onnx.load(str(MODEL_PATH))


@pytest.fixture(scope="module")
def meta(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        str(MODEL_PATH), sess_options=options, providers=["CPUExecutionProvider"]
    )


@pytest.fixture(scope="module")
def examples() -> list[dict[str, Any]]:
    return json.loads((IMAGES_DIR / "index.json").read_text(encoding="utf-8"))


def predict(session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    (logits,) = session.run(["logits"], {"image": x})
    return logits


def shape_of(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


# ---------------------------------------------------------------- the file and its metadata


def test_model_passes_the_onnx_checker(model: onnx.ModelProto) -> None:
    onnx.checker.check_model(model, full_check=True)


def test_model_header(model: onnx.ModelProto) -> None:
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert model.producer_name == "cnnlens train_tinyvgg.py"
    assert "TinyVGG" in model.doc_string


def test_metadata_keys_parse(meta: dict[str, str]) -> None:
    assert set(meta) == METADATA_KEYS
    assert json.loads(meta["cnnlens.classes"]) == CLASSES
    prep = json.loads(meta["cnnlens.preprocessing"])
    assert prep == PREPROCESSING
    assert prep["scale"] == 0.00392156862745098
    assert meta["cnnlens.dataset"] == "Fashion-MNIST (Debian dataset-fashion-mnist)"
    assert meta["cnnlens.name"] == "TinyVGG (Fashion-MNIST)"
    assert re.fullmatch(r"0\.\d{4}", meta["cnnlens.test_accuracy"])
    assert float(meta["cnnlens.test_accuracy"]) >= 0.90
    description = meta["cnnlens.description"]
    assert description.endswith(".") and description.count(". ") == 0
    assert re.search(r"seed=\d+", meta["cnnlens.training"])
    assert re.search(r"epochs=\d+", meta["cnnlens.training"])
    assert "Adam" in meta["cnnlens.training"]


# ---------------------------------------------------------------- the architecture


def test_graph_inputs_and_outputs(model: onnx.ModelProto) -> None:
    graph = model.graph
    assert [i.name for i in graph.input] == ["image"]
    assert [o.name for o in graph.output] == ["logits"]
    (image,), (logits,) = graph.input, graph.output
    assert image.type.tensor_type.elem_type == TensorProto.FLOAT
    assert logits.type.tensor_type.elem_type == TensorProto.FLOAT
    assert shape_of(image)[1:] == [1, 28, 28]
    assert shape_of(logits)[1:] == [10]
    # The batch axis is symbolic and the same symbol on both ends.
    assert isinstance(shape_of(image)[0], str) and shape_of(image)[0] == shape_of(logits)[0]


def test_ops_form_the_tinyvgg_chain(model: onnx.ModelProto) -> None:
    nodes = list(model.graph.node)
    assert [(n.name, n.op_type) for n in nodes] == [(name, op) for name, op, _ in LAYERS]
    previous = "image"
    for node in nodes:
        assert list(node.output) == [node.name]
        assert node.input[0] == previous
        expected_params = [f"{node.name}.weight", f"{node.name}.bias"]
        assert list(node.input[1:]) == (expected_params if node.op_type in ("Conv", "Gemm") else [])
        previous = node.name
    assert previous == "logits"


def test_op_attributes(model: onnx.ModelProto) -> None:
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            assert attrs["kernel_shape"] == [3, 3]
            assert attrs["pads"] == [1, 1, 1, 1]
            assert attrs.get("strides", [1, 1]) == [1, 1]
            assert attrs.get("dilations", [1, 1]) == [1, 1]
            assert attrs.get("group", 1) == 1
        elif node.op_type == "MaxPool":
            assert attrs["kernel_shape"] == [2, 2]
            assert attrs["strides"] == [2, 2]
            assert attrs.get("pads", [0, 0, 0, 0]) == [0, 0, 0, 0]
            assert attrs.get("ceil_mode", 0) == 0
        elif node.op_type == "Flatten":
            assert attrs.get("axis", 1) == 1
        elif node.op_type == "Gemm":
            assert attrs.get("transA", 0) == 0 and attrs.get("transB", 0) == 1
            assert attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
        else:
            assert attrs == {}, node.name


def test_parameters_are_float32_raw_data(model: onnx.ModelProto) -> None:
    inits = {i.name: i for i in model.graph.initializer}
    assert {name: list(i.dims) for name, i in inits.items()} == PARAMS
    for init in inits.values():
        assert init.data_type == TensorProto.FLOAT
        assert len(init.raw_data) == 4 * int(np.prod(init.dims))
        assert not init.float_data and init.data_location == TensorProto.DEFAULT
        assert np.isfinite(onnx.numpy_helper.to_array(init)).all()
    # The graph input list holds only the image, not the parameters (IR >= 4 style).
    assert not set(inits) & {i.name for i in model.graph.input}


def test_shapes_by_onnx_shape_inference(model: onnx.ModelProto) -> None:
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.graph.value_info[:]  # infer from scratch, not from what the exporter stored
    inferred = shape_inference.infer_shapes(bare, check_type=True, strict_mode=True)
    shapes = {v.name: shape_of(v) for v in [*inferred.graph.value_info, *inferred.graph.output]}
    batch = shape_of(model.graph.input[0])[0]
    for name, _, shape in LAYERS:
        assert shapes[name] == [batch, *shape], name
    # What the file stores agrees with the inference.
    stored = {v.name: shape_of(v) for v in model.graph.value_info}
    assert stored == {k: v for k, v in shapes.items() if k != "logits"}


# ---------------------------------------------------------------- the example images


def test_examples_index(examples: list[dict[str, Any]]) -> None:
    assert len(examples) == 3 * len(CLASSES)
    assert sorted(p.name for p in IMAGES_DIR.glob("*.png")) == sorted(e["file"] for e in examples)
    for label in CLASSES:
        rows = [e for e in examples if e["label"] == label]
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        assert [e["file"] for e in rows] == [f"{slug}_{k}.png" for k in (1, 2, 3)]
        indices = [e["test_index"] for e in rows]
        assert indices == sorted(indices) and all(0 <= i < 10_000 for i in indices)
    for entry in examples:
        assert set(entry) == {"file", "label", "test_index"}
        assert re.fullmatch(r"[a-z0-9-]+_[1-3]\.png", entry["file"])


def test_examples_are_raw_28x28_greyscale(examples: list[dict[str, Any]]) -> None:
    for entry in examples:
        with Image.open(IMAGES_DIR / entry["file"]) as image:
            assert image.format == "PNG" and image.mode == "L" and image.size == (28, 28)
            pixels = np.asarray(image)
        # Raw dataset pixels: a dark background and the full 0-255 range, not normalised.
        assert pixels.max() > 200 and np.median(pixels[0]) < 30


def test_onnxruntime_predicts_every_example(
    session: ort.InferenceSession, meta: dict[str, str], examples: list[dict[str, Any]]
) -> None:
    prep = json.loads(meta["cnnlens.preprocessing"])
    classes = json.loads(meta["cnnlens.classes"])
    for entry in examples:
        x = preprocess_image((IMAGES_DIR / entry["file"]).read_bytes(), prep)
        assert x.shape == (1, 1, 28, 28) and x.dtype == np.float32
        predicted = classes[int(predict(session, x).argmax())]
        assert predicted == entry["label"], entry["file"]


def test_examples_on_a_light_background_are_inverted_back(
    session: ort.InferenceSession, meta: dict[str, str], examples: list[dict[str, Any]]
) -> None:
    """Dark garment on white, as an RGB picture, enlarged to 56x58 (width x height).

    Exercises every step of the preprocessing: greyscale, inversion, a bilinear fit that is
    not the identity (to 27x28) and centring, while keeping the garment about the size it
    had in training. The model must still recognise every example.
    """
    prep = json.loads(meta["cnnlens.preprocessing"])
    classes = json.loads(meta["cnnlens.classes"])
    for entry in examples:
        with Image.open(IMAGES_DIR / entry["file"]) as image:
            raw = np.asarray(image)
        big = np.asarray(Image.fromarray(raw).resize((56, 56), Image.Resampling.NEAREST))
        canvas = np.zeros((58, 56), np.uint8)  # taller than wide: the fit is not square
        canvas[1:57] = big
        rgb = np.repeat((255 - canvas)[..., None], 3, axis=2)
        x = preprocess_image(png_bytes(rgb), prep)
        # The inversion restored a black background: the corners are exactly -mean/std.
        assert x[0, 0, 0, 0] == pytest.approx(-0.286 / 0.353, abs=1e-6)
        predicted = classes[int(predict(session, x).argmax())]
        assert predicted == entry["label"], entry["file"]


# ---------------------------------------------------------------- the reference preprocessing


def test_reference_preprocessing_is_plain_normalisation_for_dataset_images() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    pixels[0, :] = pixels[-1, :] = pixels[:, 0] = pixels[:, -1] = 0
    x = preprocess_image(png_bytes(pixels), PREPROCESSING)
    expected = (pixels.astype(np.float32) / np.float32(255) - np.float32(0.286)) / np.float32(0.353)
    np.testing.assert_array_equal(x[0, 0], expected)


def test_reference_preprocessing_inverts_only_light_borders() -> None:
    dark = np.full((28, 28), 127, np.uint8)  # border mean 127: not above 127, kept
    light = np.full((28, 28), 128, np.uint8)
    assert preprocess_image(png_bytes(dark), PREPROCESSING)[0, 0, 5, 5] == pytest.approx(
        (127 / 255 - 0.286) / 0.353, abs=1e-6
    )
    assert preprocess_image(png_bytes(light), PREPROCESSING)[0, 0, 5, 5] == pytest.approx(
        (127 / 255 - 0.286) / 0.353, abs=1e-6
    )


def test_reference_preprocessing_fits_and_centres() -> None:
    wide = np.full((28, 56), 255, np.uint8)  # white everywhere: inverted to black…
    wide[1:-1, 1:-1] = 0  # …except that the inside is black, so it becomes white
    x = preprocess_image(png_bytes(wide), PREPROCESSING)[0, 0]
    # Fitted to 28x14 at rows 7..20; the bars above and below are black.
    rows_with_ink = np.flatnonzero((x > 0).any(axis=1))
    assert rows_with_ink.min() == 7 and rows_with_ink.max() == 20
    assert (x[:7] == x[0, 0]).all() and (x[21:] == x[0, 0]).all()


def test_reference_preprocessing_puts_transparency_on_white() -> None:
    rgba = np.zeros((28, 28, 4), np.uint8)  # fully transparent black → white → inverted
    rgba[10:18, 10:18] = (0, 0, 0, 255)  # an opaque black square → stays, inverted to white
    x = preprocess_image(png_bytes(rgba), PREPROCESSING)[0, 0]
    assert x[0, 0] == pytest.approx(-0.286 / 0.353, abs=1e-6)
    assert x[14, 14] == pytest.approx((1 - 0.286) / 0.353, abs=1e-6)


# ---------------------------------------------------------------- the model card


def test_model_card_states_the_recorded_accuracy(meta: dict[str, str]) -> None:
    card = CARD_PATH.read_text(encoding="utf-8")
    accuracy = meta["cnnlens.test_accuracy"]
    assert f"**Test accuracy: {accuracy}**" in card
    assert f"Accuracy on all 10,000 test images: **{accuracy}**" in card
    assert meta["cnnlens.preprocessing"] in card
    assert meta["cnnlens.training"] in card
    for name, op, _ in LAYERS:
        assert f"| `{name}` | {op} |" in card
    for label in CLASSES:
        assert re.search(rf"\| \d \| {re.escape(label)} \| 0\.\d{{4}} \|", card), label


# ---------------------------------------------------------------- against the data set itself


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(tuple(dims))


needs_dataset = pytest.mark.skipif(
    not (DATA_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST test set not installed (apt-get install dataset-fashion-mnist)",
)


@needs_dataset
def test_test_set_accuracy_matches_metadata(
    session: ort.InferenceSession, meta: dict[str, str], examples: list[dict[str, Any]]
) -> None:
    images = _read_idx(DATA_DIR / "t10k-images-idx3-ubyte.gz")
    labels = _read_idx(DATA_DIR / "t10k-labels-idx1-ubyte.gz")
    prep = json.loads(meta["cnnlens.preprocessing"])
    x = (images.astype(np.float32) / np.float32(255) - np.float32(prep["mean"][0])) / np.float32(
        prep["std"][0]
    )
    predicted = predict(session, x[:, None]).argmax(axis=1)
    accuracy = float((predicted == labels).mean())
    # onnxruntime and PyTorch may order float sums differently; allow a couple of flips.
    assert accuracy == pytest.approx(float(meta["cnnlens.test_accuracy"]), abs=3e-4)
    for entry in examples:
        with Image.open(IMAGES_DIR / entry["file"]) as image:
            np.testing.assert_array_equal(np.asarray(image), images[entry["test_index"]])
        assert CLASSES[labels[entry["test_index"]]] == entry["label"]
