"""Dissection over probe sets: each channel's top images against a brute-force loop over
the probe set on onnxruntime's activations, the thresholds against NumPy's quantile, the
masks against PyTorch's bilinear upsampling, the class means by hand; the probe sets
(packed, examples, folders, zips, bad files) and `python -m cnnlens dissect`."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from cnnlens.errors import CnnlensError
from cnnlens.loader import LoadedModel, load_model
from cnnlens.methods.dissection import Dissection, Dissector, selectivity
from cnnlens.probe import ProbeSet, from_files, from_zip, packed
from tests.onnx_builders import onnxruntime_outputs
from tests.paths import BUNDLED_MODEL, EXAMPLES, ROOT
from tests.test_cli import assert_clean_error, cnnlens

PROBES = ROOT / "assets" / "probes"
FASHION = Path("/usr/share/datasets/fashion-mnist")
COUNT = 120  # of the bundled set's 300: the brute force runs one image at a time


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model(BUNDLED_MODEL.read_bytes(), "bundled")


@pytest.fixture(scope="module")
def bundled(loaded) -> ProbeSet:
    description = json.loads((PROBES / "fashion-mnist-test.json").read_text())
    data = (PROBES / description["data"]).read_bytes()
    return packed(description, data, loaded.card.preprocessing)


@pytest.fixture(scope="module")
def probe(bundled) -> ProbeSet:
    assert bundled.labels is not None
    return ProbeSet("first", bundled.inputs[:COUNT], bundled.names[:COUNT],
                    bundled.labels[:COUNT], bundled.classes)


@pytest.fixture(scope="module")
def brute(probe) -> dict[str, np.ndarray]:
    """Every layer's activations, image by image, from onnxruntime."""
    proto = onnx.load(str(BUNDLED_MODEL))
    per_image = [onnxruntime_outputs(proto, {"image": probe.inputs[i:i + 1]})
                 for i in range(len(probe))]
    return {name: np.concatenate([o[name] for o in per_image]) for name in per_image[0]}


@pytest.fixture(scope="module", params=["conv_2_2", "relu_1_2", "max_pool_2"])
def dissected(request, loaded, probe) -> Dissection:
    return Dissector(loaded, probe, request.param, top=5).run()


def test_top_images_are_the_channels_top_activations(dissected, brute, probe):
    acts = brute[dissected.layer]
    n, c, h, w = acts.shape
    for channel in range(c):
        # Brute force: every image's peak and where, by a plain loop.
        peaks = []
        for i in range(n):
            best, where = -np.inf, None
            for y in range(h):
                for x in range(w):
                    if acts[i, channel, y, x] > best:
                        best, where = acts[i, channel, y, x], (y, x)
            peaks.append((best, i, where))
        ranked = sorted(peaks, key=lambda p: -p[0])[:5]
        np.testing.assert_allclose(dissected.values[channel], [p[0] for p in ranked],
                                   rtol=1e-5, atol=1e-5)
        for image, value, (y, x) in zip(dissected.top[channel], dissected.values[channel],
                                        dissected.positions[channel], strict=True):
            assert acts[image, channel, y, x] == pytest.approx(value, abs=1e-5)
            assert peaks[image][0] == pytest.approx(value, abs=1e-5)


def test_thresholds_masks_and_class_means(dissected, brute, probe):
    acts = brute[dissected.layer]
    c = acts.shape[1]
    expected = np.quantile(acts.transpose(1, 0, 2, 3).reshape(c, -1), 0.995, axis=1)
    np.testing.assert_allclose(dissected.thresholds, expected, rtol=1e-5, atol=1e-5)
    # The bundled model pads every window, so receptive-field centres fall where
    # PyTorch's half-pixel bilinear resize samples.
    maps = torch.from_numpy(acts[dissected.top, np.arange(c)[:, None]])
    upsampled = torch.nn.functional.interpolate(maps, size=(28, 28), mode="bilinear",
                                                align_corners=False).numpy()
    margin = np.abs(upsampled - expected[:, None, None, None])
    sure = margin > 1e-4  # pixels whose side of the threshold float noise cannot change
    assert np.array_equal(dissected.masks[sure],
                          (upsampled > expected[:, None, None, None])[sure])
    means = acts.mean(axis=(2, 3))
    for k, name in enumerate(dissected.classes):
        rows = [i for i in range(len(probe)) if probe.classes[probe.labels[i]] == name]
        np.testing.assert_allclose(dissected.class_means[:, k], means[rows].mean(axis=0),
                                   rtol=1e-5, atol=1e-5)
    assert dissected.classes == probe.classes  # 12 of each class in the first 120


def test_selectivity_index_by_hand():
    means = np.array([[1.0, 1.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [4.0, 1.0, 3.0]])
    # (best - mean of the rest) / (best + mean of the rest): 0, 1, never active: 0, 2/6
    np.testing.assert_allclose(selectivity(means), [0.0, 1.0, 0.0, 1 / 3])


def test_selectivity_is_of_the_positive_part(dissected, brute, probe):
    acts = np.maximum(brute[dissected.layer], 0).mean(axis=(2, 3))
    labels = probe.labels
    for c in range(acts.shape[1]):
        means = sorted(acts[labels == k, c].mean() for k in range(10))
        best, rest = means[-1], np.mean(means[:-1])
        expected = 0.0 if best + rest == 0 else (best - rest) / (best + rest)
        assert dissected.selectivity[c] == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_dead_channels_are_flagged_and_ranked_last(loaded, probe):
    found = Dissector(loaded, probe, "relu_2_2", top=3).run()
    live = ~found.dead
    assert np.all(found.peak[found.dead] <= 0) and np.all(found.peak[live] > 0)
    order = found.ranking
    assert list(found.dead[order]) == sorted(found.dead[order])
    live_order = [ch for ch in order if not found.dead[ch]]
    assert list(found.selectivity[live_order]) == sorted(found.selectivity[live_order],
                                                         reverse=True)


def test_chunks_do_not_change_the_result(loaded, probe):
    whole = Dissector(loaded, probe, "conv_1_1", top=4).run()
    chunked = Dissector(loaded, probe, "conv_1_1", top=4)
    for count in (1, 3, 2, 100):  # batches of 8, unevenly grouped, past the end
        chunked.step(count)
    again = chunked.result()
    for name in ("top", "values", "boxes", "masks", "class_means", "ranking"):
        assert np.array_equal(getattr(whole, name), getattr(again, name)), name


def test_bad_layers_and_counts_are_refused(loaded, probe):
    with pytest.raises(CnnlensError, match=r"no layer called .nope.*conv_1_1"):
        Dissector(loaded, probe, "nope")
    with pytest.raises(CnnlensError, match=r"logits has no channels of maps"):
        Dissector(loaded, probe, "logits")
    with pytest.raises(CnnlensError, match="top images must be 1 to 32"):
        Dissector(loaded, probe, "conv_1_1", top=0)


# ---------------------------------------------------------------- probe sets


@pytest.mark.skipif(not FASHION.is_dir(), reason="the Fashion-MNIST test set is not "
                    "installed (make system-packages)")
def test_packed_set_is_the_test_sets_own_images(bundled):
    import gzip

    description = json.loads((PROBES / "fashion-mnist-test.json").read_text())
    with gzip.open(FASHION / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(FASHION / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    indices = np.array(description["test_indices"])
    assert np.array_equal(labels[indices], description["labels"])
    assert np.bincount(labels[indices]).tolist() == [30] * 10  # balanced
    pixels = (bundled.inputs[:, 0] * np.float32(0.353) + np.float32(0.286)) * 255
    assert np.abs(pixels - images[indices]).max() < 1e-3


def test_folders_label_and_bad_files_are_named(loaded):
    prep = loaded.card.preprocessing
    coat, bag = (EXAMPLES / "coat_1.png").read_bytes(), (EXAMPLES / "bag_1.png").read_bytes()
    files = [("coats/a.png", coat), ("bags/b.png", bag), ("bags/notes.txt", b"hello"),
             ("bags/broken.png", b"\x89PNG\r\n\x1a\n broken"), (".DS_Store", b"x")]
    found = from_files("mine", files, prep)
    assert found.names == ("bags/b.png", "coats/a.png") and found.classes == ("bags", "coats")
    assert found.labels.tolist() == [0, 1]
    assert [s.split(":")[0] for s in found.skipped] == ["bags/broken.png", "bags/notes.txt"]
    flat = from_files("flat", [("a.png", coat), ("b.png", bag)], prep)
    assert flat.labels is None and flat.classes == ()
    with pytest.raises(CnnlensError, match=r"holds no image.*notes.txt: not an image"):
        from_files("none", [("notes.txt", b"hello")], prep)


def test_zips_are_read_and_bad_ones_refused(loaded):
    prep = loaded.card.preprocessing
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("set/coat.png", (EXAMPLES / "coat_1.png").read_bytes())
        archive.writestr("__MACOSX/set/._coat.png", b"junk")
    found = from_zip("set.zip", buffer.getvalue(), prep)
    assert found.names == ("set/coat.png",) and found.skipped == ()
    with pytest.raises(CnnlensError, match=r"set\.zip is not a zip file"):
        from_zip("set.zip", b"PK\x03\x04 not really", prep)


# ---------------------------------------------------------------- the command line


def test_cli_json_is_the_dissection(tmp_path, loaded):
    folder = tmp_path / "probe"
    for name in ("coat_1.png", "coat_2.png", "bag_1.png", "bag_2.png", "sandal_1.png"):
        kind = name.split("_")[0]
        (folder / kind).mkdir(parents=True, exist_ok=True)
        (folder / kind / name).write_bytes((EXAMPLES / name).read_bytes())
    (folder / "bag" / "readme.txt").write_text("not a picture")
    result = cnnlens("dissect", BUNDLED_MODEL, "--layer", "max_pool_2", "--probe", folder,
                     "--top", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert "skipped bag/readme.txt: not an image" in result.stderr
    answer = json.loads(result.stdout)
    probe = from_files("p", [(p.relative_to(folder).as_posix(), p.read_bytes())
                             for p in sorted(folder.rglob("*.png"))], loaded.card.preprocessing)
    found = Dissector(loaded, probe, "max_pool_2", top=2).run()
    assert answer["layer"] == "max_pool_2" and len(answer["channels"]) == 10
    for c, channel in enumerate(answer["channels"]):
        assert set(channel) == {"channel", "top", "class_means"} and channel["channel"] == c
        assert set(channel["class_means"]) == {"bag", "coat", "sandal"}
        for rank, entry in enumerate(channel["top"]):
            assert set(entry) == {"image", "value", "position", "box"}
            assert entry["image"] == probe.names[found.top[c, rank]]
            assert entry["value"] == pytest.approx(float(found.values[c, rank]))
            y0, x0, y1, x1 = entry["box"]
            y, x = entry["position"]
            assert (y0, x0, y1, x1) == (max(0, 4 * y - 6), max(0, 4 * x - 6),
                                        min(28, 4 * y + 10), min(28, 4 * x + 10))


def test_cli_bundled_sets_and_refusals(tmp_path):
    result = cnnlens("dissect", BUNDLED_MODEL, "--layer", "relu_2_2", "--probe",
                     "fashion-mnist-test", "--top", "1", "--json")
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)["channels"][0]
    assert isinstance(first["top"][0]["image"], int) and len(first["class_means"]) == 10
    assert_clean_error(cnnlens("dissect", BUNDLED_MODEL, "--layer", "relu_2_2", "--probe",
                               "no-such-set"), "no bundled probe set called 'no-such-set'",
                       "fashion-mnist-test")
    (tmp_path / "bad.zip").write_bytes(b"nonsense")
    assert_clean_error(cnnlens("dissect", BUNDLED_MODEL, "--layer", "relu_2_2", "--probe",
                               tmp_path / "bad.zip"), "bad.zip", "not a zip file")
