"""Decoding: every accepted format and odd mode gives correct 8-bit RGB; bad files a reason."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from core.images import decode
from core.images.decode import MAX_PIXELS, UnreadableImage, load_rgb, probe
from tests.core.images import corpus


def pixels(im: Image.Image) -> np.ndarray:
    assert im.mode == "RGB"
    return np.asarray(im).astype(int)


def close_to(actual: np.ndarray, expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    return bool(np.all(np.abs(actual - np.array(expected)) <= tolerance))


# -- formats ------------------------------------------------------------------------


def test_every_accepted_format_is_probed_and_loaded(tmp_path: Path) -> None:
    files = corpus.every_format(tmp_path)
    expected_format = {
        "jpeg.jpg": "JPEG",
        "png.png": "PNG",
        "bmp.bmp": "BMP",
        "gif.gif": "GIF",
        "tiff.tif": "TIFF",
        "webp.webp": "WEBP",
        "upper.JPEG": "JPEG",
    }
    for name, path in files.items():
        facts = probe(path.read_bytes())
        assert facts.format == expected_format[name], name
        assert (facts.width, facts.height) == (40, 30), name
        assert facts.n_frames == 1
        im = load_rgb(path)
        assert im.mode == "RGB" and im.size == (40, 30), name


def test_lossless_formats_keep_the_pixels(tmp_path: Path) -> None:
    files = corpus.every_format(tmp_path)
    for seed, name in [(2, "png.png"), (3, "bmp.bmp"), (5, "tiff.tif"), (6, "webp.webp")]:
        original = np.asarray(corpus.distinct(seed, 40, 30))
        assert np.array_equal(np.asarray(load_rgb(files[name])), original), name


def test_other_formats_pillow_reads_are_refused_by_name() -> None:
    with pytest.raises(UnreadableImage, match="unsupported format PPM"):
        probe(corpus.encode(corpus.plain(8, 8), "PPM"))
    with pytest.raises(UnreadableImage, match="unsupported format JPEG2000"):
        load_rgb(corpus.encode(corpus.plain(8, 8), "JPEG2000"))


# -- EXIF orientation ---------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("max_side", [None, 30])
def test_exif_orientation_is_applied(orientation: int, max_side: int | None) -> None:
    data = corpus.oriented_jpeg(orientation, 60, 40)
    swapped = orientation >= 5
    facts = probe(data)
    assert facts.orientation == orientation
    assert (facts.width, facts.height) == ((40, 60) if swapped else (60, 40))

    im = load_rgb(data, max_side=max_side)
    full = (40, 60) if swapped else (60, 40)
    expected_size = full if max_side is None else tuple(v // 2 for v in full)
    assert im.size == expected_size
    px = pixels(im)
    h, w = px.shape[:2]
    vertical, horizontal = corpus.ORIENTATION_CORNER[orientation]
    m = 2  # a few pixels in from the corner, clear of JPEG ringing at the block edge
    row = m if vertical == "top" else h - 1 - m
    col = m if horizontal == "left" else w - 1 - m
    assert close_to(px[row, col], corpus.MARKER, 40), (orientation, px[row, col])
    # The opposite corner is background.
    assert close_to(px[h - 1 - row, w - 1 - col], corpus.BACKGROUND, 40)


def test_broken_exif_is_ignored_not_refused() -> None:
    jpeg = corpus.encode(corpus.plain(20, 10), "JPEG", exif=b"Exif\x00\x00garbage-not-tiff")
    assert (probe(jpeg).width, probe(jpeg).height) == (20, 10)
    assert load_rgb(jpeg).size == (20, 10)


# -- modes --------------------------------------------------------------------------


def test_16_bit_grey_is_scaled_over_the_full_range() -> None:
    data = corpus.encode(corpus.grey16_gradient(256, 4), "PNG")
    assert probe(data).mode == "I;16"
    row = pixels(load_rgb(data))[0]
    assert row[0].tolist() == [0, 0, 0]
    assert row[-1].tolist() == [255, 255, 255]
    assert np.all(np.diff(row[:, 0]) >= 0)  # a gradient, not clipped to white at 255
    assert abs(row[128, 0] - 128) <= 1
    assert len(np.unique(row[:, 0])) > 200


def test_16_bit_big_endian_tiff() -> None:
    values = np.array([[0, 257 * 10, 32896, 65535]], dtype=">u2")
    im = Image.frombytes("I;16B", (4, 1), values.tobytes())
    data = corpus.encode(im, "TIFF")
    assert probe(data).mode == "I;16B"
    assert pixels(load_rgb(data))[0, :, 0].tolist() == [0, 10, 128, 255]


def test_32_bit_integer_and_float_images() -> None:
    as_int = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32))
    assert pixels(load_rgb(corpus.encode(as_int, "TIFF")))[0, :, 0].tolist() == [0, 128, 255]
    wide = Image.fromarray(np.array([[-1000, 0, 1000]], dtype=np.int32))
    assert pixels(load_rgb(corpus.encode(wide, "TIFF")))[0, :, 0].tolist() == [0, 128, 255]
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert pixels(load_rgb(corpus.encode(unit, "TIFF")))[0, :, 0].tolist() == [0, 128, 255]
    bytes_range = Image.fromarray(np.array([[0.0, 100.0, 255.0]], dtype=np.float32))
    assert pixels(load_rgb(corpus.encode(bytes_range, "TIFF")))[0, :, 0].tolist() == [0, 100, 255]
    with_nan = Image.fromarray(np.array([[np.nan, 0.5, 1.0]], dtype=np.float32))
    assert pixels(load_rgb(corpus.encode(with_nan, "TIFF")))[0, :, 0].tolist() == [0, 128, 255]


def test_cmyk_jpeg_and_tiff_give_the_right_colours() -> None:
    for fmt in ("JPEG", "TIFF"):
        data = corpus.encode(
            corpus.cmyk_patches(), fmt, **({"quality": 95} if fmt == "JPEG" else {})
        )
        assert probe(data).mode == "CMYK"
        px = pixels(load_rgb(data))
        assert close_to(px[8, 8], (0, 255, 255)), fmt  # cyan
        assert close_to(px[8, 24], (255, 0, 255)), fmt  # magenta
        assert close_to(px[8, 40], (255, 255, 0)), fmt  # yellow
        assert close_to(px[8, 56], (0, 0, 0)), fmt  # black


def test_transparency_is_composited_on_white() -> None:
    cases = {
        "P + transparency": (corpus.palette_with_transparency(), (0, 0, 255)),
        "RGBA": (corpus.rgba_half_transparent(), (0, 200, 0)),
        "LA": (corpus.la_half_transparent(), (100, 100, 100)),
    }
    for label, (im, right) in cases.items():
        px = pixels(load_rgb(corpus.encode(im, "PNG")))
        assert px[5, 2].tolist() == [255, 255, 255], label  # transparent: white, not black
        assert px[5, 15].tolist() == list(right), label


def test_half_transparent_pixels_blend_with_white() -> None:
    im = Image.new("RGBA", (4, 4), (0, 0, 0, 128))
    px = pixels(load_rgb(corpus.encode(im, "PNG")))
    assert abs(px[0, 0, 0] - 127) <= 1


def test_grey_with_a_transparent_value() -> None:
    im = Image.new("L", (4, 2), 0)
    im.paste(200, (2, 0, 4, 2))
    px = pixels(load_rgb(corpus.encode(im, "PNG", transparency=0)))
    assert px[0, 0].tolist() == [255, 255, 255]
    assert px[0, 3].tolist() == [200, 200, 200]


def test_one_bit_images() -> None:
    px = pixels(load_rgb(corpus.encode(corpus.one_bit(), "PNG")))
    assert px[0, 0].tolist() == [0, 0, 0]
    assert px[0, 15].tolist() == [255, 255, 255]
    px = pixels(load_rgb(corpus.encode(corpus.one_bit(), "BMP")))
    assert px[0, 15].tolist() == [255, 255, 255]


def test_gif_gives_its_first_frame() -> None:
    data = corpus.animated_gif()
    facts = probe(data)
    assert facts.format == "GIF" and facts.n_frames == 3
    px = pixels(load_rgb(data))
    assert px[8, 8].tolist() == [255, 0, 0]


def test_multipage_tiff_gives_its_first_page() -> None:
    data = corpus.multipage_tiff()
    facts = probe(data)
    assert facts.n_frames == 2 and (facts.width, facts.height) == (20, 10)
    im = load_rgb(data)
    assert im.size == (20, 10) and pixels(im)[5, 5].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("PA", (1, 0), (255, 255, 255)),
        ("PA", (1, 255), (0, 0, 255)),
        ("La", (0, 0), (255, 255, 255)),
        ("RGBa", (0, 0, 0, 0), (255, 255, 255)),
        ("YCbCr", (255, 128, 128), (255, 255, 255)),
        ("HSV", (0, 255, 255), (255, 0, 0)),
        ("LAB", (255, 128, 128), (255, 255, 255)),
        ("LAB", (0, 128, 128), (0, 0, 0)),
        ("LAB", (128, 128, 128), (119, 119, 119)),  # L* = 50: sRGB mid grey 119
        ("RGBX", (1, 2, 3, 0), (1, 2, 3)),
    ],
)
def test_every_mode_converts(
    mode: str, value: tuple[int, ...], expected: tuple[int, int, int]
) -> None:
    im = Image.new(mode, (4, 4), value)
    if mode == "PA":
        im.putpalette([0, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    rgb = decode._to_rgb(im)
    assert rgb.mode == "RGB"
    assert close_to(pixels(rgb)[0, 0], expected, 3), pixels(rgb)[0, 0]


def test_lab_tiff_is_loaded() -> None:
    data = corpus.encode(Image.new("LAB", (4, 4), (255, 128, 128)), "TIFF")
    assert close_to(pixels(load_rgb(data))[0, 0], (255, 255, 255), 3)


# -- downscaling ----------------------------------------------------------------------


def test_max_side_downscales_keeping_the_aspect_ratio() -> None:
    jpeg = corpus.encode(corpus.plain(640, 480, (200, 30, 30)), "JPEG")
    im = load_rgb(jpeg, max_side=100)
    assert im.size == (100, 75)
    assert close_to(pixels(im)[37, 50], (200, 30, 30), 6)
    png = corpus.encode(corpus.plain(300, 1000), "PNG")
    assert load_rgb(png, max_side=250).size == (75, 250)
    assert load_rgb(png, max_side=5000).size == (300, 1000)  # never upscaled
    assert load_rgb(png, max_side=1).size == (1, 1)
    with pytest.raises(ValueError):
        load_rgb(png, max_side=0)


def test_jpeg_draft_mode_is_used_when_shrinking(monkeypatch: pytest.MonkeyPatch) -> None:
    jpeg = corpus.encode(corpus.plain(1600, 1200), "JPEG")
    original = JpegImagePlugin.JpegImageFile.draft
    sizes: list[tuple[int, int]] = []

    def spy(
        self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None
    ) -> object:
        result = original(self, mode, size)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    assert load_rgb(jpeg, max_side=200).size == (200, 150)
    assert sizes == [(200, 150)]  # decoded at 1/8 scale directly
    sizes.clear()
    assert probe(jpeg).width == 1600  # the probe decodes at 1/8 scale too
    assert sizes == [(200, 150)]


def test_load_rgb_reads_paths_and_reports_missing_files(tmp_path: Path) -> None:
    path = corpus.save(tmp_path, "x.png", corpus.encode(corpus.plain(10, 8), "PNG"))
    assert load_rgb(path).size == (10, 8)
    assert load_rgb(str(path)).size == (10, 8)
    with pytest.raises(FileNotFoundError):
        load_rgb(tmp_path / "nope.png")


# -- bad files ----------------------------------------------------------------------


def test_bad_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    files = corpus.bad_files(tmp_path)
    expected = {
        "empty.jpg": "empty file",
        "text.jpg": "not an image file",
        "truncated.jpg": "truncated or corrupt JPEG data",
        "truncated.png": "truncated or corrupt PNG data",
        "random.png": "not an image file",
        "bomb.png": f"over the {MAX_PIXELS // 1_000_000} MP limit",
        "big.png": "image has 110 MP (11000×10000 pixels), over the 100 MP limit",
        "unsupported.png": "unsupported format PPM",
    }
    assert set(files) == set(expected)
    for name, path in files.items():
        for call in (lambda d: probe(d), lambda d: load_rgb(d)):
            with pytest.raises(UnreadableImage) as info:
                call(path.read_bytes())
            assert expected[name] in str(info.value), (name, str(info.value))


def test_corrupt_data_in_a_png_is_caught() -> None:
    data = bytearray(corpus.encode(corpus.distinct(5, 64, 64), "PNG"))
    data[len(data) // 2] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    with pytest.raises(UnreadableImage, match="corrupt PNG"):
        probe(bytes(data))


def test_corrupt_header_names_the_claimed_format() -> None:
    data = bytearray(corpus.encode(corpus.plain(8, 8), "PNG"))
    data[16:24] = b"\xff" * 8  # IHDR width and height garbage, CRC wrong
    with pytest.raises(UnreadableImage, match="PNG"):
        probe(bytes(data))


def test_a_size_just_over_the_limit_is_refused_before_decoding() -> None:
    side = int(MAX_PIXELS**0.5) + 1
    with pytest.raises(
        UnreadableImage, match=r"image has 100.02 MP \(10001×10001 pixels\), over the"
    ):
        probe(corpus.png_with_size(side, side))


def test_no_global_state_is_changed() -> None:
    filters = list(warnings.filters)
    before = Image.MAX_IMAGE_PIXELS
    for data in (corpus.png_with_size(50_000, 50_000), corpus.png_with_size(10_000, 9_000)):
        with pytest.raises(UnreadableImage):
            probe(data)
    assert warnings.filters == filters
    assert before == Image.MAX_IMAGE_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_probe_is_safe_from_many_threads() -> None:
    filters = list(warnings.filters)
    good = corpus.encode(corpus.distinct(3, 64, 48), "JPEG")
    bad = corpus.png_with_size(11_000, 10_000)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(30):
                assert probe(good).width == 64
                with pytest.raises(UnreadableImage):
                    probe(bad)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert warnings.filters == filters
