"""Safe decoding of untrusted image files.

Two entry points:

* :func:`probe` checks that a file's bytes are a usable image (the pixels are
  actually decoded, so truncated and corrupt files are caught) and returns its
  format and its size *as displayed*, i.e. after the EXIF orientation.
* :func:`load_rgb` returns the image as 8-bit RGB, oriented, optionally
  downscaled; it is what the training cache is filled from.

Accepted formats: JPEG (including multi-picture "MPO" JPEGs from cameras),
PNG, BMP, GIF (first frame), TIFF (first page) and WebP. Every other format
Pillow can read (JPEG 2000, AVIF, PSD, ICO, EPS, TGA, PCX …) is refused as
"unsupported format X": fewer parsers decode untrusted input (the others only
look at the header, to name the format), and every accepted file can also be
shown by the window. Anything Pillow cannot identify is "not an image file".

Images over :data:`MAX_PIXELS` pixels are refused as decompression bombs,
checked from the header before any pixel is decoded. Pillow's own bomb check
(a warning above ``Image.MAX_IMAGE_PIXELS``, about 89 MP, an error above twice
that) is replaced by this one while a file is opened here, so that the limit
and the message are the same for every file; no global state is changed.
``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is never set: truncated files fail.

Every failure is an :class:`UnreadableImage` whose message is a short reason
fit to show to a user; no other exception escapes for bad *content* (reading a
path that does not exist still raises ``OSError`` from :func:`load_rgb`).
"""

from __future__ import annotations

import io
import math
import os
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, UnidentifiedImageError

MAX_PIXELS = 100_000_000
"""Images with more pixels than this are refused (decompression bombs)."""

ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "GIF", "TIFF", "WEBP")
"""Pillow format names :func:`probe` and :func:`load_rgb` accept."""

_OPEN_FORMATS = ["JPEG", "PNG", "BMP", "GIF", "TIFF", "WEBP"]
"""Plugins tried on open (the JPEG plugin also yields MPO files)."""

ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = frozenset({5, 6, 7, 8})

# ``warnings.catch_warnings`` swaps the process-wide filter list; two threads
# using it at once can leave the wrong list behind. Opening is header parsing
# only, so serialising it costs nothing that matters; decoding runs in parallel.
_OPEN_LOCK = threading.Lock()

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"),
)


class UnreadableImage(Exception):
    """The content is not a usable image; ``str(exc)`` is a short reason for a user."""

    @property
    def reason(self) -> str:
        return str(self)


@dataclass(frozen=True)
class ImageFacts:
    """What :func:`probe` learnt about a readable image."""

    format: str
    """Pillow's format name: JPEG, MPO, PNG, BMP, GIF, TIFF or WEBP."""
    width: int
    """Pixels, after the EXIF orientation is applied (as the image is shown)."""
    height: int
    mode: str
    """Pillow's pixel mode of the file (first frame), e.g. RGB, L, P, I;16, CMYK."""
    n_frames: int
    """Frames (GIF, WebP) or pages (TIFF); only the first one is used."""
    orientation: int = 1
    """EXIF orientation 1–8 (1: as stored)."""


# -- opening -------------------------------------------------------------------------


def _sniff(data: bytes) -> str | None:
    """The format the first bytes claim, for a clearer message when opening fails."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _megapixels(n: int) -> str:
    return f"{n / 1_000_000:g} MP"


def _too_big(width: int, height: int) -> UnreadableImage:
    """The one wording for an image over MAX_PIXELS (its size known, or not: see below)."""
    return UnreadableImage(
        f"image has {_megapixels(width * height)} ({width}×{height} pixels), over the "
        f"{_megapixels(MAX_PIXELS)} limit"
    )


@contextmanager
def _own_bomb_check() -> Iterator[None]:
    """Silence Pillow's bomb *warning* while opening: :func:`_open` enforces MAX_PIXELS.

    Pillow warns above its own limit (about 89 MP) and raises above twice that;
    the error is caught and reported, the warning is replaced by our own check
    so that the limit and the message are the same for every file.
    """
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _other_format(data: bytes) -> str | None:
    """The name of a format Pillow reads but this module does not accept, if any.

    Every such plugin Pillow has (in Pillow's own order) looks at the header only;
    none of them claims text, HTML, archives, PDFs, NULs or random bytes.
    """
    Image.init()
    formats = [name for name in Image.ID if name in Image.OPEN and name not in _OPEN_FORMATS]
    try:
        with _own_bomb_check():
            warnings.simplefilter("ignore")  # e.g. "IM is deprecated": noise for a refusal
            with Image.open(io.BytesIO(data), formats=formats) as other:
                return other.format or None
    except Exception:
        return None


def _bomb_reason(exc: BaseException) -> UnreadableImage:
    """Pillow refused the file while opening it: its count of pixels, without the sides."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{_megapixels(int(found.group(1)))}" if found else "too many pixels"
    return UnreadableImage(f"image has {size}, over the {_megapixels(MAX_PIXELS)} limit")


def _open(data: bytes) -> Image.Image:
    """Open (headers only) and check the size; the caller loads the pixels."""
    if not data:
        raise UnreadableImage("empty file")
    claimed = _sniff(data)
    try:
        with _own_bomb_check():
            im = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except UnidentifiedImageError:
        if claimed is not None:
            raise UnreadableImage(f"corrupt {claimed} file (its header cannot be read)") from None
        other = _other_format(data)
        if other is not None:
            raise UnreadableImage(
                f"unsupported format {other} (use JPEG, PNG, BMP, GIF, TIFF or WebP)"
            ) from None
        raise UnreadableImage("not an image file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_reason(exc) from None
    except MemoryError:
        raise UnreadableImage("image is too large to open") from None
    except Exception as exc:
        raise _corrupt(claimed or "image", exc) from None
    width, height = im.size
    fmt = im.format or claimed or "image"
    if fmt not in ACCEPTED_FORMATS:
        im.close()
        raise UnreadableImage(f"unsupported format {fmt}")
    if width <= 0 or height <= 0:
        im.close()
        raise UnreadableImage(f"corrupt {fmt} file (it claims a size of {width}×{height})")
    if width * height > MAX_PIXELS:
        im.close()
        raise _too_big(width, height)
    return im


def _corrupt(fmt: str, exc: BaseException) -> UnreadableImage:
    text = str(exc).strip()
    if isinstance(exc, EOFError) or "truncated" in text.lower() or "premature" in text.lower():
        return UnreadableImage(f"truncated or corrupt {fmt} data")
    if isinstance(exc, MemoryError):
        return UnreadableImage(f"{fmt} image is too large to decode")
    if len(text) > 80:
        text = text[:77] + "…"
    return UnreadableImage(
        f"truncated or corrupt {fmt} data ({text})" if text else f"truncated or corrupt {fmt} data"
    )


def _load(im: Image.Image) -> None:
    """Decode the pixels of the current frame, turning every failure into a reason."""
    fmt = im.format or "image"
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_big(*im.size) from None
    except Exception as exc:
        raise _corrupt(fmt, exc) from None
    width, height = im.size
    if width * height > MAX_PIXELS:  # a GIF frame may grow the canvas
        raise _too_big(width, height)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1–8); 1 when absent or unreadable (bad EXIF is common)."""
    try:
        value = im.getexif().get(ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def exif_orientation(path: str | os.PathLike[str]) -> int:
    """The EXIF orientation (1–8) of an image file, reading only what Pillow needs to
    find it; 1 when there is none or the file cannot be read. For viewers whose own
    decoders skip the EXIF of some formats (Qt: PNG and WebP)."""
    try:
        with _own_bomb_check(), Image.open(path) as im:
            return _orientation(im)
    except Exception:
        return 1


def _jpeg_draft(im: Image.Image, size: tuple[int, int]) -> None:
    if im.format in ("JPEG", "MPO"):
        with suppress(Exception):  # draft is an optimisation only
            im.draft("RGB", (max(1, size[0]), max(1, size[1])))


# -- public --------------------------------------------------------------------------


def probe(data: bytes) -> ImageFacts:
    """Check that ``data`` is a usable image by decoding it; return its facts.

    JPEGs are decoded at 1/8 scale (every byte is still read, so truncation is
    caught) to keep this cheap. Raises :class:`UnreadableImage` with a reason.
    """
    im = _open(data)
    try:
        fmt = im.format or "image"
        mode = im.mode
        width, height = im.size
        _jpeg_draft(im, (width // 8, height // 8))
        _load(im)
        orientation = _orientation(im)
        try:
            n_frames = int(getattr(im, "n_frames", 1))
        except Exception:  # a later frame is damaged: the first one is what we use
            n_frames = 1
    finally:
        im.close()
    if orientation in _SWAPS_SIDES:
        width, height = height, width
    return ImageFacts(fmt, width, height, mode, max(1, n_frames), orientation)


def load_rgb(source: bytes | str | os.PathLike[str], max_side: int | None = None) -> Image.Image:
    """The image (first frame) as 8-bit RGB, EXIF orientation applied.

    With ``max_side`` it is downscaled (never upscaled) so that its longer side
    is at most ``max_side``, keeping the aspect ratio; JPEGs are then decoded
    at a reduced scale directly. Conversions:

    * transparency (LA, PA, P or L/RGB with a transparent colour, RGBA, RGBa)
      is composited on white;
    * 16-bit grey (I;16, I;16B, …) is scaled to 8 bits over the full range
      (0..65535 → 0..255), never clipped;
    * I (32-bit integers): values within 0..65535 are taken as 16-bit and
      scaled like I;16; other ranges are stretched from their min to max;
    * F (floats): values within 0..1 are scaled by 255, values within 0..255
      are kept, other ranges are stretched from min to max; NaN becomes 0;
    * CMYK (JPEGs with Adobe's inverted convention, marked by its APP14
      segment, and plain CMYK JPEGs without it), YCbCr, LAB, HSV and 1-bit are
      converted by Pillow (CMYK with an embedded ICC profile through that
      profile when LittleCMS is available);
    * an ICC profile of any other mode is ignored: the values are taken as
      sRGB (a wide-gamut photo then looks slightly duller).

    Raises :class:`UnreadableImage` for bad content and ``OSError`` when a
    path cannot be read.
    """
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    data = source if isinstance(source, bytes) else _read(source)
    im = _open(data)
    try:
        width, height = im.size
        target: tuple[int, int] | None = None
        if max_side is not None and max(width, height) > max_side:
            scale = max_side / max(width, height)
            target = (
                max(1, min(max_side, round(width * scale))),
                max(1, min(max_side, round(height * scale))),
            )
            _jpeg_draft(im, (math.ceil(width * scale), math.ceil(height * scale)))
        _load(im)
        orientation = _orientation(im)
        rgb = _to_rgb(im)
    finally:
        im.close()
    if target is not None and rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    method = _TRANSPOSE.get(orientation)
    if method is not None:
        rgb = rgb.transpose(method)
    return rgb


def _read(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# -- mode conversion -----------------------------------------------------------------


def _to_rgb(im: Image.Image) -> Image.Image:
    """A new 8-bit RGB image from any mode (``im`` is loaded and left untouched)."""
    mode = im.mode
    try:
        if mode.startswith("I;16") or mode == "I":
            return _grey_array_to_rgb(_scale_integers(np.asarray(im)))
        if mode == "F":
            return _grey_array_to_rgb(_scale_floats(np.asarray(im, dtype=np.float64)))
        if mode == "CMYK":
            return _cmyk_to_rgb(im)
        if im.has_transparency_data:
            if mode == "La":
                im = im.convert("LA")
            return _on_white(im.convert("RGBA"))
        if mode == "RGB":
            return im.copy()
        return im.convert("RGB")
    except UnreadableImage:
        raise
    except Exception as exc:
        raise UnreadableImage(f"cannot convert pixel mode {mode} to RGB ({exc})") from None


def _on_white(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    background.alpha_composite(rgba)
    return background.convert("RGB")


def _scale_integers(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.int64)
    if values.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 65535:
        return ((values + 128) // 257).astype(np.uint8)
    return _stretch(values.astype(np.float64), low, high)


def _scale_floats(values: np.ndarray) -> np.ndarray:
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    if values.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 255.0:
        factor = 255.0 if high <= 1.0 else 1.0
        scaled: np.ndarray = np.rint(values * factor).astype(np.uint8)
        return scaled
    return _stretch(values, low, high)


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled: np.ndarray = np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)
    return scaled


def _grey_array_to_rgb(grey: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(grey), mode="L").convert("RGB")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    profile = im.info.get("icc_profile")
    if im.format in ("JPEG", "MPO") and "adobe" not in im.info:
        # Pillow reads every CMYK JPEG with Adobe's inverted convention; a file
        # without Adobe's APP14 marker holds plain CMYK values: invert them back.
        im = ImageChops.invert(im)
    if profile:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
            if converted is not None:
                return converted
        except Exception:  # a broken or missing profile: fall back to the plain formula
            pass
    return im.convert("RGB")
