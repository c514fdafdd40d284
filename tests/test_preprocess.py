"""Image decoding and model-input preparation (`cnnlens.preprocess`).

Every tricky image is made here with Pillow, so the tests need no fixture files.
"""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from cnnlens.decode import decode_image
from cnnlens.errors import ImageError
from cnnlens.model_card import Preprocessing
from cnnlens.preprocess import (
    input_preview,
    normalise,
    preprocess,
    to_input,
)
from tests.paths import BUNDLED_MODEL, EXAMPLES

GREY = Preprocessing(mode="L", size=(28, 28), mean=(0.0,), std=(1.0,))


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def ramp(height: int = 16, width: int = 24) -> np.ndarray:
    """A deterministic RGB test pattern `(H, W, 3)` uint8 with every channel different."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 10 % 256, y * 15 % 256, (x + y) * 7 % 256], axis=-1).astype(np.uint8)


# ---------------------------------------------------------------- lossless formats


@pytest.mark.parametrize("fmt, options", [
    ("PNG", {}), ("BMP", {}), ("WEBP", {"lossless": True}), ("TIFF", {}),
])
def test_lossless_formats_decode_to_the_exact_pixels(fmt, options):
    original = ramp()
    decoded = decode_image(encode(Image.fromarray(original), fmt, **options))
    assert decoded.mode == "RGB"
    np.testing.assert_array_equal(pixels(decoded), original)


def test_greyscale_stays_greyscale():
    original = ramp()[..., 0]
    decoded = decode_image(encode(Image.fromarray(original), "PNG"))
    assert decoded.mode == "L"
    np.testing.assert_array_equal(pixels(decoded), original)


# ---------------------------------------------------------------- transparency


def test_rgba_is_composited_on_white():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red
    rgba[0, 1] = (255, 0, 0, 0)  # fully transparent becomes white
    rgba[0, 2] = (0, 0, 0, 128)  # half-transparent black becomes mid grey
    rgba[1] = (0, 0, 255, 255)
    decoded = pixels(decode_image(encode(Image.fromarray(rgba), "PNG")))
    np.testing.assert_array_equal(decoded[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(decoded[0, 1], (255, 255, 255))
    assert np.all(np.abs(decoded[0, 2].astype(int) - 127) <= 1)
    np.testing.assert_array_equal(decoded[1], [(0, 0, 255)] * 3)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_is_composited_on_white(fmt):
    image = Image.new("P", (4, 2), 0)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    image.putpixel((1, 0), 1)
    decoded = pixels(decode_image(encode(image, fmt, transparency=0)))
    np.testing.assert_array_equal(decoded[0, 1], (200, 10, 10))
    np.testing.assert_array_equal(decoded[1, 3], (255, 255, 255))


def test_greyscale_with_alpha_is_composited_on_white():
    la = Image.merge("LA", [Image.new("L", (2, 1), 0), Image.frombytes("L", (2, 1), b"\xff\x00")])
    decoded = pixels(decode_image(encode(la, "PNG")))
    assert decoded.reshape(2, -1)[:, 0].tolist() == [0, 255]


# ---------------------------------------------------------------- other modes


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (16, 16), (255, 0, 0, 0))  # pure cyan ink
    decoded = decode_image(encode(cmyk, "JPEG", quality=95))
    assert decoded.mode == "RGB"
    np.testing.assert_allclose(pixels(decoded).reshape(-1, 3).mean(0), (0, 255, 255), atol=4)


def test_16bit_greyscale_is_rescaled_not_clipped():
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    decoded = decode_image(encode(Image.fromarray(values), "PNG"))
    assert decoded.mode == "L"
    assert pixels(decoded).tolist() == [[0, 1, 128, 255]]


@pytest.mark.parametrize("image, expected", [
    (Image.frombytes("I;16B", (3, 1), np.array([0, 32768, 65535], ">u2").tobytes()),
     [0, 128, 255]),  # big-endian 16-bit
    (Image.fromarray(np.array([[0, 70000, 140000]], np.int32)), [0, 128, 255]),  # min-max
    (Image.fromarray(np.array([[-5, 0, 5]], np.float32)), [0, 128, 255]),  # min-max
    (Image.fromarray(np.array([[0, 100, 255]], np.float32)), [0, 100, 255]),  # 0-255 floats
])
def test_high_depth_tiffs_are_rescaled(image, expected):
    assert pixels(decode_image(encode(image, "TIFF"))).tolist() == [expected]


def test_bilevel_becomes_black_and_white():
    image = Image.new("1", (3, 1), 0)
    image.putpixel((1, 0), 1)
    assert pixels(decode_image(encode(image, "PNG"))).tolist() == [[0, 255, 0]]


def test_float_image_in_unit_range_is_scaled_to_bytes():
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    decoded = decode_image(encode(Image.fromarray(values), "TIFF"))
    assert pixels(decoded).tolist() == [[0, 128, 255]]


# ---------------------------------------------------------------- orientation, frames


def test_exif_orientation_is_honoured():
    # Stored landscape 40x20 with a bright top-left corner; orientation 6 means "rotate 90
    # degrees clockwise to display", which puts that corner at the top right.
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:5, :5] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = pixels(decode_image(encode(Image.fromarray(stored), "JPEG", exif=exif, quality=95)))
    assert decoded.shape == (40, 20, 3)
    corners = {"tl": decoded[:5, :5], "tr": decoded[:5, -5:],
               "bl": decoded[-5:, :5], "br": decoded[-5:, -5:]}
    assert max(corners, key=lambda k: corners[k].mean()) == "tr"


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "lime", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    decoded = pixels(decode_image(data))
    np.testing.assert_array_equal(decoded[4, 4], (255, 0, 0))


# ---------------------------------------------------------------- refusals


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose valid IHDR declares width x height RGB pixels but holds almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _png_chunk(b"IEND", b""))


def test_huge_declared_size_is_refused_before_decoding():
    data = png_header_only(50_000, 50_000)
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(ImageError, match=r"too large: 50000x50000"):
        decode_image(data)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 10_000_000  # the 7.5 GB of pixels were never allocated


def test_pixel_limit_is_adjustable_and_pillow_limit_restored():
    before = Image.MAX_IMAGE_PIXELS
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageError, match=r"100x100 .* limit of 9,999 pixels"):
        decode_image(data, max_pixels=9_999)
    assert decode_image(data, max_pixels=10_000).size == (100, 100)
    assert before == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("data, message", [
    (b"", r"not an image: the file is empty"),
    (b"hello, I am plain text renamed to picture.png\n", r"not an image: the file is text"),
    (b"\xfe\xff" * 512, r"not an image: unrecognised format"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
     r"SVG images are not supported"),
    (b"  <svg width='10' height='10'><rect/></svg>", r"SVG images are not supported"),
    (b"<!-- drawn by hand -->\n<svg><circle r='3'/></svg>", r"SVG images are not supported"),
    (b"<html><body>not a picture</body></html>", r"not an image: the file is text"),
])
def test_non_images_are_refused_with_a_specific_message(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_truncated_images_are_refused(fmt):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    with pytest.raises(ImageError, match=r"image is truncated"):
        decode_image(data[: len(data) // 2])


def test_truncated_header_is_reported_as_such():
    data = encode(Image.fromarray(ramp()), "PNG")
    with pytest.raises(ImageError, match=r"truncated or corrupt: the PNG header"):
        decode_image(data[:20])


# ---------------------------------------------------------------- large images


def test_large_images_are_shrunk_early():
    big = Image.fromarray(np.full((2000, 3000, 3), 90, np.uint8))
    start = time.perf_counter()
    decoded = decode_image(encode(big, "JPEG"))
    assert time.perf_counter() - start < 2.0
    assert decoded.size == (1024, 683)
    assert decode_image(encode(big, "PNG"), max_side=300).size == (300, 200)


# ---------------------------------------------------------------- to_input


def test_matching_size_is_not_resampled_and_normalisation_is_exact():
    raw = ramp(28, 28)
    prep = Preprocessing(mode="RGB", size=(28, 28), mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    x = to_input(Image.fromarray(raw), prep)
    assert x.shape == (1, 3, 28, 28) and x.dtype == np.float32
    # Independent: per channel, in float32, raw/255 then (x - mean)/std.
    for c in range(3):
        expected = ((raw[..., c].astype(np.float32) / np.float32(255) - np.float32(prep.mean[c]))
                    / np.float32(prep.std[c]))
        np.testing.assert_array_equal(x[0, c], expected)


def test_non_reciprocal_scale_multiplies():
    prep = Preprocessing(mode="L", size=(2, 2), scale=0.3, mean=(0.0,), std=(1.0,))
    raw = np.array([[0, 1], [2, 3]], np.uint8)
    np.testing.assert_array_equal(to_input(Image.fromarray(raw), prep)[0, 0],
                                  raw.astype(np.float32) * np.float32(0.3))


def test_greyscale_conversion_matches_pillow():
    raw = ramp(30, 30)
    x = to_input(Image.fromarray(raw), Preprocessing(mode="L", size=(30, 30), scale=1.0,
                                                      mean=(0.0,), std=(1.0,)))
    np.testing.assert_array_equal(x[0, 0], np.asarray(Image.fromarray(raw).convert("L")))


def test_grey_image_feeds_rgb_model_as_three_equal_channels():
    raw = ramp(10, 10)[..., 1]
    prep = Preprocessing(mode="RGB", size=(10, 10), scale=1.0)
    x = to_input(Image.fromarray(raw), prep)
    for c in range(3):
        np.testing.assert_array_equal(x[0, c], raw.astype(np.float32))


def _digit(background: int, ink: int) -> Image.Image:
    image = np.full((28, 28), background, np.uint8)
    image[8:20, 12:16] = ink
    return Image.fromarray(image)


def test_light_background_is_inverted_and_dark_is_not():
    prep = Preprocessing(mode="L", size=(28, 28), mean=(0.0,), std=(1.0,),
                         invert_light_background=True)
    light = to_input(_digit(240, 10), prep)[0, 0]
    dark = to_input(_digit(15, 245), prep)[0, 0]
    assert light[0, 0] == pytest.approx(15 / 255) and light[10, 13] == pytest.approx(245 / 255)
    assert dark[0, 0] == pytest.approx(15 / 255) and dark[10, 13] == pytest.approx(245 / 255)
    plain = to_input(_digit(240, 10), GREY)[0, 0]  # without the flag nothing is inverted
    assert plain[0, 0] == pytest.approx(240 / 255)


def test_light_rgb_photo_is_inverted_in_every_channel():
    prep = Preprocessing(mode="RGB", size=(4, 4), scale=1.0, invert_light_background=True)
    x = to_input(Image.new("RGB", (4, 4), (250, 200, 150)), prep)
    assert x[0, :, 0, 0].tolist() == [5, 55, 105]


def test_fit_keeps_aspect_ratio_with_black_bars():
    wide = Image.new("L", (20, 10), 255)
    x = to_input(wide, Preprocessing(mode="L", size=(8, 8), resize="fit", scale=1.0,
                                     mean=(0.0,), std=(1.0,)))[0, 0]
    assert np.all(x[:2] == 0) and np.all(x[6:] == 0)
    assert np.all(x[2:6] == 255)


def test_center_crop_cuts_the_middle():
    wide = np.zeros((10, 30), np.uint8)
    wide[:, 10:20] = 255  # the middle third is white
    x = to_input(Image.fromarray(wide), Preprocessing(mode="L", size=(10, 10),
                                                      resize="center-crop", scale=1.0,
                                                      mean=(0.0,), std=(1.0,)))[0, 0]
    assert np.all(x == 255)


def test_stretch_fills_the_whole_input():
    x = to_input(Image.new("L", (50, 7), 200), Preprocessing(mode="L", size=(12, 9), scale=1.0,
                                                             mean=(0.0,), std=(1.0,)))
    assert x.shape == (1, 1, 12, 9) and np.all(x == 200)


@pytest.mark.parametrize("shape, size", [((40, 60), (20, 25)), ((300, 110), (102, 37))])
def test_resize_is_bilinear_width_pass_then_height_pass(shape, size):
    # The second case is one where newer Pillow (13 here) runs the height pass first and rounds
    # differently; the fixed order keeps Pyodide's Pillow 10 and the CLI bit-identical.
    raw = np.random.default_rng(3).integers(0, 256, (*shape, 3), dtype=np.uint8)
    x = to_input(Image.fromarray(raw), Preprocessing(mode="RGB", size=size, scale=1.0))
    wide = Image.fromarray(raw).resize((size[1], shape[0]), Image.Resampling.BILINEAR)
    expected = np.asarray(wide.resize((size[1], size[0]), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(x[0].transpose(1, 2, 0), expected)


@settings(max_examples=40, deadline=None)
@given(
    raw=arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(3))),
    mode=st.sampled_from(["L", "RGB"]),
    size=st.tuples(st.integers(1, 10), st.integers(1, 10)),
    how=st.sampled_from(["fit", "stretch", "center-crop"]),
    invert=st.booleans(),
    mean=st.floats(-2, 2, width=32),
    std=st.floats(0.0625, 4, width=32),
)
def test_any_picture_gives_an_input_of_the_declared_shape(raw, mode, size, how, invert, mean,
                                                          std):
    channels = len(mode)
    prep = Preprocessing(mode=mode, size=size, resize=how, invert_light_background=invert,
                         mean=(mean,) * channels, std=(std,) * channels)
    x = to_input(Image.fromarray(raw), prep)
    assert x.shape == (1, channels, *size) and x.dtype == np.float32
    assert np.all(np.isfinite(x))
    preview = input_preview(x, prep)
    assert preview.shape == (*size, channels) and preview.dtype == np.uint8
    # The preview undoes the normalisation back to the resized pixels (to within rounding).
    np.testing.assert_array_equal(normalise(preview, prep), x[0])


def test_preview_recovers_the_pixels_exactly():
    raw = ramp(28, 28)
    prep = Preprocessing(mode="RGB", size=(28, 28), mean=(0.485, 0.456, 0.406),
                         std=(0.229, 0.224, 0.225))
    np.testing.assert_array_equal(input_preview(to_input(Image.fromarray(raw), prep), prep), raw)


def test_preprocess_is_decode_then_to_input():
    data = encode(Image.fromarray(ramp(28, 28)), "PNG")
    np.testing.assert_array_equal(preprocess(data, GREY), to_input(decode_image(data), GREY))


def test_preprocess_keeps_detail_for_models_larger_than_the_decode_bound():
    data = encode(Image.new("L", (3000, 3000), 77), "PNG")
    big = Preprocessing(mode="L", size=(1500, 1500), mean=(0.0,), std=(1.0,))
    assert preprocess(data, big).shape == (1, 1, 1500, 1500)


# ---------------------------------------------------------------- the bundled examples


def _bundled_preprocessing() -> Preprocessing:
    from cnnlens.model_card import model_card
    from cnnlens.onnx_reader import read_model

    return model_card(read_model(BUNDLED_MODEL.read_bytes())).preprocessing


@pytest.mark.skipif(not BUNDLED_MODEL.exists() or not list(EXAMPLES.glob("*.png")),
                    reason="bundled model or example images not present yet")
def test_bundled_examples_need_only_normalisation():
    prep = _bundled_preprocessing()
    mean = np.asarray(prep.mean, np.float32).reshape(-1, 1, 1)
    std = np.asarray(prep.std, np.float32).reshape(-1, 1, 1)
    for path in sorted(EXAMPLES.glob("*.png")):
        raw = np.asarray(Image.open(path).convert(prep.mode), dtype=np.float32)
        raw = raw[None] if raw.ndim == 2 else raw.transpose(2, 0, 1)
        x = preprocess(path.read_bytes(), prep)
        assert x.shape == (1, *raw.shape), path.name
        np.testing.assert_array_equal(x[0], (raw / np.float32(255) - mean) / std, err_msg=path.name)

