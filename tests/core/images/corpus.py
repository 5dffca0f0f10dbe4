"""Generators of odd and bad image files for the decode and import tests.

Every function writes into the folder it is given and returns the path(s) it
wrote. Images are small so that the whole corpus takes a fraction of a second.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

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
