"""Generators of odd and bad image files for the decode and import tests.

Every function writes into the folder it is given and returns the path(s) it
wrote. Images are small so that the whole corpus takes a fraction of a second.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ORIENTATION_TAG = 0x0112

# Where the stored image's top-left pixel must appear once the EXIF orientation
# is applied, from the EXIF specification's description of each value
# ("the 0th row is the visual ..., the 0th column is the visual ..."):
# (top?, left?) of the displayed image.
ORIENTATION_CORNER = {
    1: ("top", "left"),
    2: ("top", "right"),
    3: ("bottom", "right"),
    4: ("bottom", "left"),
    5: ("top", "left"),
    6: ("top", "right"),
    7: ("bottom", "right"),
    8: ("bottom", "left"),
}

MARKER = (255, 0, 0)
BACKGROUND = (40, 90, 200)


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def save(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def plain(
    width: int = 64, height: int = 48, colour: tuple[int, int, int] = (10, 120, 30)
) -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def distinct(seed: int, width: int = 32, height: int = 24) -> Image.Image:
    """An RGB image whose content differs for every seed (so that hashes differ)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def distinct_jpeg(seed: int, width: int = 32, height: int = 24) -> bytes:
    return encode(distinct(seed, width, height), "JPEG", quality=90)


def marker_image(width: int = 60, height: int = 40, block: int = 10) -> Image.Image:
    """A flat image with a red block in its top-left corner."""
    im = Image.new("RGB", (width, height), BACKGROUND)
    im.paste(MARKER, (0, 0, block, block))
    return im


def oriented_jpeg(orientation: int, width: int = 60, height: int = 40) -> bytes:
    """A JPEG stored ``width``×``height`` with the marker top-left and an EXIF orientation."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return encode(marker_image(width, height), "JPEG", quality=95, exif=exif.tobytes())


def grey16_gradient(width: int = 256, height: int = 8) -> Image.Image:
    """A 16-bit grey image (I;16) whose values run from 0 to 65535, left to right."""
    row = np.linspace(0, 65535, width).round().astype(np.uint16)
    return Image.fromarray(np.tile(row, (height, 1)))


def png_with_size(width: int, height: int, colour_type: int = 0) -> bytes:
    """A PNG whose header claims ``width``×``height``, with a few bytes of pixel data.

    Tiny on disk: a decompression bomb as far as its header goes.
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def palette_with_transparency() -> Image.Image:
    """P mode, index 0 fully transparent (left half), index 1 opaque blue (right half)."""
    im = Image.new("P", (20, 10), 0)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    im.paste(1, (10, 0, 20, 10))
    im.info["transparency"] = 0
    return im


def rgba_half_transparent() -> Image.Image:
    """Left half fully transparent black, right half opaque green."""
    im = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    im.paste((0, 200, 0, 255), (10, 0, 20, 10))
    return im


def la_half_transparent() -> Image.Image:
    """LA: left half transparent black, right half opaque grey 100."""
    im = Image.new("LA", (20, 10), (0, 0))
    im.paste((100, 255), (10, 0, 20, 10))
    return im


def one_bit() -> Image.Image:
    """Mode 1: left half black, right half white."""
    im = Image.new("1", (16, 8), 0)
    im.paste(1, (8, 0, 16, 8))
    return im


def cmyk_patches() -> Image.Image:
    """CMYK: cyan | magenta | yellow | black patches, 16 pixels each."""
    im = Image.new("CMYK", (64, 16), (0, 0, 0, 0))
    for i, colour in enumerate([(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255)]):
        im.paste(colour, (16 * i, 0, 16 * i + 16, 16))
    return im


def animated_gif() -> bytes:
    """Three frames: red, green, blue."""
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def multipage_tiff() -> bytes:
    """Two pages: a red 20×10 page, then a green 30×30 page."""
    first = Image.new("RGB", (20, 10), (255, 0, 0))
    second = Image.new("RGB", (30, 30), (0, 255, 0))
    return encode(first, "TIFF", save_all=True, append_images=[second])


def every_format(folder: Path) -> dict[str, Path]:
    """One small image in each accepted format (distinct content each); name → path."""
    im = plain(40, 30)
    files = {
        "jpeg.jpg": encode(distinct(1, 40, 30), "JPEG"),
        "png.png": encode(distinct(2, 40, 30), "PNG"),
        "bmp.bmp": encode(distinct(3, 40, 30), "BMP"),
        "gif.gif": encode(distinct(4, 40, 30).convert("P"), "GIF"),
        "tiff.tif": encode(distinct(5, 40, 30), "TIFF", compression="tiff_lzw"),
        "webp.webp": encode(distinct(6, 40, 30), "WEBP", lossless=True),
        "upper.JPEG": encode(im, "JPEG"),
    }
    return {name: save(folder, name, data) for name, data in files.items()}


def odd_modes(folder: Path) -> dict[str, Path]:
    """Readable images in unusual modes; name → path."""
    files = {
        "grey16.png": encode(grey16_gradient(), "PNG"),
        "cmyk.jpg": encode(cmyk_patches(), "JPEG", quality=95),
        "palette_alpha.png": encode(palette_with_transparency(), "PNG"),
        "la.png": encode(la_half_transparent(), "PNG"),
        "rgba.png": encode(rgba_half_transparent(), "PNG"),
        "one_bit.png": encode(one_bit(), "PNG"),
        "grey.jpg": encode(Image.new("L", (30, 20), 77), "JPEG"),
        "animated.gif": animated_gif(),
        "pages.tiff": multipage_tiff(),
    }
    return {name: save(folder, name, data) for name, data in files.items()}


def bad_files(folder: Path) -> dict[str, Path]:
    """Files that must be refused, each for its own reason; name → path."""
    jpeg = encode(distinct(99, 200, 150), "JPEG", quality=95)
    png = encode(distinct(98, 200, 150), "PNG")
    rng = np.random.default_rng(12345)
    files = {
        "empty.jpg": b"",
        "text.jpg": b"this is not an image, just some text\n" * 10,
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "truncated.png": png[: len(png) // 2],
        "random.png": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "bomb.png": png_with_size(50_000, 50_000),
        "big.png": png_with_size(11_000, 10_000),
        "unsupported.png": encode(plain(8, 8), "PPM"),
    }
    return {name: save(folder, name, data) for name, data in files.items()}


def symlink_loops(folder: Path) -> list[Path]:
    """A folder link pointing back up, and two file links pointing at each other."""
    folder.mkdir(parents=True, exist_ok=True)
    inner = folder / "inner"
    inner.mkdir(exist_ok=True)
    save(inner, "real.jpg", distinct_jpeg(4242))
    (inner / "up").symlink_to(folder, target_is_directory=True)
    a, b = folder / "loop_a.jpg", folder / "loop_b.jpg"
    a.symlink_to(b)
    b.symlink_to(a)
    return [inner / "up", a, b]


def many_tiny_images(folder: Path, count: int, start: int = 0, side: int = 8) -> list[Path]:
    """``count`` distinct ``side``×``side`` PNGs (random pixels seeded by their index)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        data = encode(distinct(i, side, side), "PNG")
        path = folder / f"img_{i:06d}.png"
        path.write_bytes(data)
        paths.append(path)
    return paths


def set_mtime(path: Path, ns: int) -> None:
    os.utime(path, ns=(ns, ns))


# -- the bad-input corpus (test_bad_corpus.py) ---------------------------------------

MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16", "I", "F")
"""Every pixel mode a writer is asked for; each format takes the ones it can store."""

BLOCK = 16
"""Side of the flat blocks of a :class:`Truth` image (one 4:2:0 JPEG MCU)."""


class Truth:
    """A small image of flat blocks, defined apart from any mode, and its expected RGB.

    A palette of six colours, each with a 16-bit grey level and a two-level alpha
    (entry 0 is fully transparent, the others opaque), is laid out in 4×3 blocks
    of 16×16 pixels chosen by ``seed``; so P/GIF palettes, JPEG blocks and
    binary GIF transparency can all hold it without loss.
    """

    def __init__(self, seed: int, columns: int = 4, rows: int = 3) -> None:
        rng = np.random.default_rng(seed)
        self.palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
        self.alpha = np.array([0, 255, 255, 255, 255, 255], dtype=np.uint8)
        self.levels = np.array([0, 65535, *rng.integers(1, 65535, 4)], dtype=np.int64)
        blocks = rng.integers(0, 6, (rows, columns))
        blocks.flat[:2] = [0, 1]  # one transparent and one full-scale block, always
        self.index = np.kron(blocks, np.ones((BLOCK, BLOCK), dtype=np.int64)).astype(np.uint8)
        self.size = (columns * BLOCK, rows * BLOCK)

    def rgb(self) -> Image.Image:
        return Image.fromarray(self.palette[self.index], "RGB")

    def grey(self) -> Image.Image:
        return self.rgb().convert("L")

    def _alpha(self) -> Image.Image:
        return Image.fromarray(self.alpha[self.index], "L")

    def _paletted(self) -> Image.Image:
        im = Image.fromarray(self.index, "P")
        im.putpalette(self.palette.flatten().tolist())
        return im

    def image(self, mode: str) -> Image.Image:
        """The image in ``mode``."""
        if mode == "1":
            return self.grey().convert("1", dither=Image.Dither.NONE)
        if mode == "L":
            return self.grey()
        if mode == "LA":
            return Image.merge("LA", (self.grey(), self._alpha()))
        if mode == "P":
            return self._paletted()
        if mode == "PA":
            im = Image.merge("PA", (self._paletted(), self._alpha()))
            im.putpalette(self.palette.flatten().tolist())
            return im
        if mode == "RGB":
            return self.rgb()
        if mode == "RGBA":
            return Image.merge("RGBA", (*self.rgb().split(), self._alpha()))
        if mode == "CMYK":
            return self.rgb().convert("CMYK")
        values = self.levels[self.index]
        if mode == "I;16":
            return Image.fromarray(values.astype(np.uint16))
        if mode == "I":
            return Image.fromarray(values.astype(np.int32))
        if mode == "F":
            return Image.fromarray((values / 65535).astype(np.float32))
        raise ValueError(mode)

    def expected(self, mode: str) -> np.ndarray:
        """The 8-bit RGB a correct decoder shows for the image in ``mode`` (int array)."""
        if mode in ("I;16", "I", "F"):
            grey = np.rint(self.levels[self.index] * 255 / 65535)
            return np.repeat(grey[..., None], 3, axis=2).astype(int)
        if mode in ("1", "L", "LA"):
            grey = np.asarray(self.image(mode).convert("L")).astype(int)
            rgb = np.repeat(grey[..., None], 3, axis=2)
        else:
            rgb = self.palette[self.index].astype(int)
        if mode in ("LA", "PA", "RGBA"):
            rgb = np.where(self.alpha[self.index][..., None] == 0, 255, rgb)
        return rgb


def seed_of(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


FORMAT_PARAMS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": 95},
    "MPO": {"quality": 95},
    "WEBP": {"lossless": True},
}
"""Save options per format: high-quality JPEG, lossless WebP (lossy WebP is a variant)."""


def write_in_mode(fmt: str, mode: str, seed: int) -> bytes | None:
    """The :class:`Truth` of ``seed`` in ``mode``, saved as ``fmt``; None if Pillow refuses.

    MPO files get a second picture (a real multi-picture file; the first is used).
    """
    params = dict(FORMAT_PARAMS.get(fmt, {}))
    if fmt == "MPO":
        params.update(save_all=True, append_images=[Truth(seed + 1).image(mode)])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. the IM writer is deprecated
            return encode(Truth(seed).image(mode), fmt, **params)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reference_rgb(data: bytes) -> np.ndarray:
    """The first frame as 8-bit RGB, worked out here independently of core.images.decode.

    EXIF orientation applied (Pillow's exif_transpose), transparency composited on
    white, 16-bit and 32-bit integers scaled from 0..65535, floats from 0..1.
    """
    with Image.open(io.BytesIO(data)) as opened:
        opened.seek(0)
        opened.load()
        im = ImageOps.exif_transpose(opened)
    if im.mode.startswith("I"):
        values = np.asarray(im).astype(np.int64)
        assert values.min() >= 0 and values.max() <= 65535, "not made by this corpus"
        grey = np.rint(values * 255 / 65535)
        return np.repeat(grey[..., None], 3, axis=2).astype(int)
    if im.mode == "F":
        values = np.asarray(im).astype(np.float64)
        assert values.min() >= 0 and values.max() <= 1, "not made by this corpus"
        return np.repeat(np.rint(values * 255)[..., None], 3, axis=2).astype(int)
    if im.mode in ("LA", "PA", "RGBA") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA")).astype(np.float64)
        alpha = rgba[..., 3:] / 255
        return np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(int)
    return np.asarray(im.convert("RGB")).astype(int)


# -- broken variants -----------------------------------------------------------------


def header_end(data: bytes) -> int:
    """Where the pixel data of a JPEG or PNG starts (64 bytes for other formats)."""
    if data.startswith(b"\xff\xd8"):
        sos = data.index(b"\xff\xda")
        return sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    if data.startswith(b"\x89PNG"):
        return data.index(b"IDAT") - 4
    return 64


def truncations(data: bytes) -> dict[str, bytes]:
    """The file cut short: after its header, at half, and without its last bytes."""
    return {
        "header only": data[: header_end(data)],
        "half": data[: len(data) // 2],
        "last 16 bytes missing": data[:-16],
        "last byte missing": data[:-1],
    }


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_16_bit(values: np.ndarray, colour_type: int) -> bytes:
    """A 16-bit PNG (Pillow writes only 16-bit grey): colour type 2 RGB, 4 LA, 6 RGBA."""
    height, width = values.shape[:2]
    rows = b"".join(b"\x00" + values[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def tiff_raw(
    values: np.ndarray, *, photometric: int, width: int | None = None, height: int | None = None
) -> bytes:
    """An uncompressed little-endian TIFF of 16-bit samples (the header may lie about its size).

    ``values`` is (h, w) or (h, w, samples); a 4th sample is unassociated alpha.
    """
    samples = 1 if values.ndim == 2 else values.shape[2]
    real_height, real_width = values.shape[:2]
    pixels = values.astype("<u2").tobytes()
    tags: list[tuple[int, int, int, int]] = [  # tag, type (3 short, 4 long), count, value
        (256, 4, 1, width or real_width),
        (257, 4, 1, height or real_height),
        (258, 3, samples, 16),
        (259, 3, 1, 1),
        (262, 3, 1, photometric),
        (273, 4, 1, 0),  # strip offset, filled in below
        (277, 3, 1, samples),
        (278, 4, 1, height or real_height),
        (279, 4, 1, len(pixels)),
        (284, 3, 1, 1),
    ]
    if samples == 4:
        tags.append((338, 3, 1, 2))
    bits_at = 8 + 2 + 12 * len(tags) + 4
    pixels_at = bits_at + 2 * samples
    ifd = struct.pack("<H", len(tags))
    for tag, kind, count, value in tags:
        if tag == 258 and samples > 2:
            value = bits_at
        elif tag == 258 and samples == 2:
            value = 16 | 16 << 16
        elif tag == 273:
            value = pixels_at
        short = kind == 3 and count == 1
        packed = struct.pack("<HH", value, 0) if short else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return (
        b"II*\x00"
        + struct.pack("<I", 8)
        + ifd
        + struct.pack("<I", 0)
        + struct.pack(f"<{samples}H", *([16] * samples))
        + pixels
    )


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) claims ``width``×``height``."""
    data = bytearray(encode(plain(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_with_size(width: int, height: int) -> bytes:
    """A real small GIF whose logical screen claims ``width``×``height``."""
    data = bytearray(encode(plain(16, 16).convert("P"), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_with_size(width: int, height: int) -> bytes:
    """A real small BMP whose info header claims ``width``×``height``."""
    data = bytearray(encode(plain(16, 16), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def tiff_with_size(width: int, height: int) -> bytes:
    """A TIFF claiming ``width``×``height`` with 16 pixels of data."""
    return tiff_raw(np.zeros((4, 4), np.uint16), photometric=1, width=width, height=height)


def webp_with_size(width: int, height: int) -> bytes:
    """A real small lossless WebP whose VP8L header claims ``width``×``height`` (≤ 16384)."""
    data = bytearray(encode(plain(16, 16), "WEBP", lossless=True))
    vp8l = data.index(b"VP8L")
    bits = struct.unpack("<I", data[vp8l + 9 : vp8l + 13])[0]
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | (height - 1) << 14
    data[vp8l + 9 : vp8l + 13] = struct.pack("<I", bits)
    return bytes(data)


def without_adobe_marker(data: bytes) -> bytes:
    """A JPEG with its Adobe APP14 segment removed (segments before the scan only)."""
    out, at = bytearray(data[:2]), 2
    while at < len(data):
        marker = data[at + 1]
        if marker == 0xDA:
            return bytes(out + data[at:])
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker != 0xEE:
            out += data[at : at + 2 + length]
        at += 2 + length
    raise ValueError("no scan in this JPEG")


def plain_cmyk_jpeg(im: Image.Image) -> bytes:
    """A CMYK JPEG without Adobe's marker, holding the plain (not inverted) values of ``im``.

    Pillow writes CMYK inverted and marks it with Adobe's APP14 segment; writing
    the inverse and dropping the marker leaves the values of ``im`` as they are.
    """
    inverse = Image.eval(im, lambda v: 255 - v)
    data = without_adobe_marker(encode(inverse, "JPEG", quality=95))
    assert b"Adobe" not in data
    return data


def animated(fmt: str, colours: list[tuple[int, int, int]], **params: object) -> bytes:
    """A 16×16 animation (GIF, APNG, WebP, multi-page TIFF), one flat colour a frame."""
    frames = [Image.new("RGB", (16, 16), c) for c in colours]
    params = {**FORMAT_PARAMS.get(fmt, {}), **params}
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], **params)


def oriented(fmt: str, orientation: int, width: int = 60, height: int = 40) -> bytes:
    """:func:`marker_image` saved as ``fmt`` with an EXIF orientation (Pillow writes EXIF
    into JPEG, MPO, PNG (eXIf), WebP and TIFF)."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    params = {**FORMAT_PARAMS.get(fmt, {}), "exif": exif.tobytes()}
    return encode(marker_image(width, height), fmt, **params)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _icc_xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def wide_gamut_icc() -> bytes:
    """A valid ICC v2 RGB display profile with Adobe RGB (1998) primaries and gamma 2.2.

    Not sRGB: converting (50, 200, 50) through it to sRGB gives about (0, 201, 12).
    """
    description = b"mtlabel test wide gamut\0"
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(description)) + description + bytes(78)),
        (b"cprt", b"text\0\0\0\0none\0"),
        (b"wtpt", _icc_xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _icc_xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", _icc_xyz(0.2053, 0.6257, 0.0609)),
        (b"bXYZ", _icc_xyz(0.1492, 0.0632, 0.7446)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    start = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for kind, content in tags:
        body += bytes(-(start + len(body)) % 4)
        table += kind + struct.pack(">II", start + len(body), len(content))
        body += content
    header = (
        struct.pack(">I", start + len(body))
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(24)  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual intent
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + bytes(48)  # creator, reserved
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", distinct_jpeg(7))
    return buffer.getvalue()


def not_images() -> dict[str, bytes]:
    """Files that are no image at all, as they might be named ``.jpg``; name → bytes."""
    rng = np.random.default_rng(2024)
    return {
        "text": b"Holiday photos, see folder 2019/\n" * 20,
        "html": b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
        b"<body><h1>Not Found</h1></body></html>\n",
        "svg": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
        b'height="10"><rect width="10" height="10" fill="red"/></svg>\n',
        "zip": zip_archive(),
        "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        "json": b'{"image": "a.jpg", "car": 1}\n',
        "random bytes": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "NULs": bytes(4096),
        "one byte": b"\xff",
    }
