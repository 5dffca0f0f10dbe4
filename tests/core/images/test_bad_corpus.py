"""A generated corpus of good, odd and broken image files.

Every file is either imported with the right pixels (checked against a reference
conversion worked out in ``corpus.reference_rgb`` and against the image as it was
drawn, ``corpus.Truth``) or refused with a reason a user understands; a refused
file leaves no row, and a batch mixing good and bad files imports exactly the
good ones. The formats come from Pillow's own registry, so a Pillow that writes a
new format adds its cases here without anyone editing this file.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from sqlalchemy import select

from core.db.models import Image as ImageRow
from core.images import importer
from core.images.decode import ACCEPTED_FORMATS, MAX_PIXELS, UnreadableImage, load_rgb, probe
from core.images.importer import ImportSummary, import_images
from core.project import Project
from core.training.image_cache import CacheItem, ImageCache
from tests.core.images import corpus

pytestmark = [
    # Pillow's TIFF plugin warns about the damaged files of this corpus; they are refused.
    pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning"),
    pytest.mark.filterwarnings("ignore:Truncated File Read:UserWarning"),
    pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file:UserWarning"),
]

Image.init()
WRITABLE = sorted(Image.SAVE)
"""Every format this Pillow writes: each one is covered below, or listed in CANNOT_WRITE."""

CANNOT_WRITE = {
    "BUFR": "Pillow saves BUFR only through a handler the application registers; none is",
    "GRIB": "Pillow saves GRIB only through a handler the application registers; none is",
    "HDF5": "Pillow saves HDF5 only through a handler the application registers; none is",
    "WMF": "Pillow saves WMF/EMF only through a handler the application registers; none is",
}
"""Formats in Pillow's registry that no mode can be written in here, and why."""

ACCEPTED = [f for f in WRITABLE if f in ACCEPTED_FORMATS and f not in CANNOT_WRITE]
UNSUPPORTED = [f for f in WRITABLE if f not in ACCEPTED_FORMATS and f not in CANNOT_WRITE]

MINIMUM_MODES = {
    "BMP": {"1", "L", "P", "RGB", "RGBA"},
    "GIF": {"1", "L", "P", "RGB", "RGBA"},
    "JPEG": {"1", "L", "RGB", "CMYK"},
    "MPO": {"1", "L", "RGB", "CMYK"},
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "TIFF": set(corpus.MODES),
    "WEBP": {"L", "LA", "P", "PA", "RGB", "RGBA"},
}
"""Modes each accepted format must at least be written in (so the matrix cannot shrink)."""

WRITER_ALTERS = {
    ("BMP", "RGBA"): "Pillow's BMP writer drops the alpha channel",
    ("GIF", "LA"): "Pillow's GIF writer drops the alpha channel of LA images",
    ("GIF", "I;16"): "Pillow's GIF writer clips 16-bit values to 8 bits",
    ("GIF", "I"): "Pillow's GIF writer clips 32-bit values to 8 bits",
    ("GIF", "F"): "Pillow's GIF writer clips float values to 8 bits",
    ("WEBP", "I;16"): "Pillow's WebP writer clips 16-bit values to 8 bits",
    ("WEBP", "I"): "Pillow's WebP writer clips 32-bit values to 8 bits",
    ("WEBP", "F"): "Pillow's WebP writer clips float values to 8 bits",
}
"""(format, mode) pairs whose file does not hold the image as drawn, because Pillow's
*writer* changed it. The decoder is still checked against the reference conversion of
what the file holds; only the comparison with the drawn image is left out."""

LOSSY = {"JPEG", "MPO"}
FORMAT_NAMES = {"MPO": {"MPO", "JPEG"}}
"""Names the decoder may report: Pillow reads a CMYK MPO as the plain JPEG it also is."""
UNSUPPORTED_REASON = "unsupported format {} (use JPEG, PNG, BMP, GIF, TIFF or WebP)"
LIMIT = f"over the {MAX_PIXELS // 1_000_000} MP limit"


def extension(fmt: str) -> str:
    """A file name ending Pillow registers for ``fmt`` (".bin" for formats without one)."""
    endings = sorted(e for e, f in Image.registered_extensions().items() if f == fmt)
    return endings[0] if endings else ".bin"


def names(fmt: str) -> set[str]:
    return FORMAT_NAMES.get(fmt, {fmt})


def posix(path: Path) -> str:
    return Path(os.path.abspath(path)).as_posix()


def rows(project: Project) -> dict[str, ImageRow]:
    with project.transaction() as session:
        return {row.path: row for row in session.scalars(select(ImageRow))}


def reasons(summary: ImportSummary) -> dict[str, str]:
    return {Path(path).name: reason for path, reason in summary.skipped}


def as_int(im: Image.Image) -> np.ndarray:
    assert im.mode == "RGB"
    return np.asarray(im).astype(int)


def interiors(pixels: np.ndarray, margin: int = 4) -> np.ndarray:
    """The pixels of every flat block of a Truth image, away from the block edges."""
    inside = np.zeros(pixels.shape[:2], dtype=bool)
    for y in range(0, pixels.shape[0], corpus.BLOCK):
        for x in range(0, pixels.shape[1], corpus.BLOCK):
            inside[
                y + margin : y + corpus.BLOCK - margin, x + margin : x + corpus.BLOCK - margin
            ] = 1
    return pixels[inside]


def assert_refused(data: bytes, reason: str | re.Pattern[str]) -> None:
    """Both entry points refuse ``data`` with that reason (text, or a full-match pattern)."""
    for call in (probe, load_rgb):
        with pytest.raises(UnreadableImage) as info:
            call(data)
        text = str(info.value)
        if isinstance(reason, str):
            assert text == reason, (call.__name__, text)
        else:
            assert reason.fullmatch(text), (call.__name__, text)


def truncated_reason(fmt: str) -> re.Pattern[str]:
    """What a cut-short file of ``fmt`` is refused with: it names the format."""
    alternatives = "|".join(sorted(names(fmt)))
    return re.compile(
        rf"(truncated or corrupt ({alternatives}) data( \(.+\))?"
        rf"|corrupt ({alternatives}) file \(its header cannot be read\))"
    )


# -- every format Pillow writes ---------------------------------------------------------


def test_every_format_pillow_writes_is_covered_or_excluded_with_a_reason() -> None:
    for fmt in WRITABLE:
        written = [m for m in corpus.MODES if corpus.write_in_mode(fmt, m, 1) is not None]
        if fmt in CANNOT_WRITE:
            assert written == [], f"{fmt} can be written now: test it instead of excluding it"
        else:
            assert written, f"{fmt} is in Pillow's registry but writes no mode: list it"
    assert set(ACCEPTED) == set(ACCEPTED_FORMATS), "an accepted format Pillow cannot write"
    assert set(MINIMUM_MODES) == set(ACCEPTED)


@pytest.mark.parametrize("fmt", ACCEPTED)
def test_accepted_format_in_every_mode_it_takes(project: Project, tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / fmt
    written: dict[str, tuple[Path, bytes]] = {}
    for mode in corpus.MODES:
        data = corpus.write_in_mode(fmt, mode, corpus.seed_of(fmt, mode))
        if data is not None:
            name = f"{mode.replace(';', '_')}{extension(fmt)}"
            written[mode] = (corpus.save(folder, name, data), data)
    assert set(written) >= MINIMUM_MODES[fmt]

    summary = import_images(project, [folder])

    assert reasons(summary) == {}
    assert sorted(summary.added) == sorted(posix(path) for path, _ in written.values())
    recorded = rows(project)
    for mode, (path, data) in written.items():
        truth = corpus.Truth(corpus.seed_of(fmt, mode))
        facts = probe(data)
        assert facts.format in names(fmt), (mode, facts.format)
        row = recorded[posix(path)]
        assert (row.width, row.height) == (facts.width, facts.height) == truth.size, mode
        decoded = as_int(load_rgb(path))
        reference = corpus.reference_rgb(data)
        assert np.abs(decoded - reference).max() <= 1, mode
        if (fmt, mode) in WRITER_ALTERS:
            continue
        expected = truth.expected(mode)
        if fmt in LOSSY:
            difference = np.abs(interiors(reference) - interiors(expected))
            assert difference.max() <= 12 and difference.mean() <= 2, (mode, difference.max())
        else:
            assert np.abs(reference - expected).max() <= 1, mode


@pytest.mark.parametrize("fmt", UNSUPPORTED)
def test_unsupported_format_is_refused_by_name(project: Project, tmp_path: Path, fmt: str) -> None:
    data = next(
        data
        for mode in corpus.MODES
        if (data := corpus.write_in_mode(fmt, mode, corpus.seed_of(fmt, mode))) is not None
    )
    # Pillow writes PALM and PDF but cannot read them back: to it they are not images.
    reason = UNSUPPORTED_REASON.format(fmt) if fmt in Image.OPEN else "not an image file"
    assert_refused(data, reason)
    own = corpus.save(tmp_path, f"file{extension(fmt)}", data)
    disguised = corpus.save(tmp_path, "disguised.jpg", data)

    summary = import_images(project, [own, disguised])

    assert reasons(summary) == {own.name: reason, "disguised.jpg": reason}
    assert summary.added == [] and rows(project) == {}


def test_every_ending_pillow_registers_for_an_accepted_format_is_walked(
    project: Project, tmp_path: Path
) -> None:
    endings = sorted(e for e, f in Image.registered_extensions().items() if f in ACCEPTED)
    assert {".jfif", ".mpo", ".apng"} <= set(endings)
    for n, ending in enumerate(endings):
        fmt = Image.registered_extensions()[ending]
        data = corpus.write_in_mode(fmt, "RGB", corpus.seed_of("ending", ending))
        assert data is not None
        corpus.save(tmp_path / "walk", f"{n}{ending.upper() if n % 2 else ending}", data)
    summary = import_images(project, [tmp_path / "walk"])
    assert len(summary.added) == len(endings) and reasons(summary) == {}


# -- broken variants --------------------------------------------------------------------

INTACT_AFTER_CUT = {
    ("GIF", "last byte missing"),
    ("MPO", "last 16 bytes missing"),
    ("MPO", "last byte missing"),
    ("PNG", "last 16 bytes missing"),
    ("PNG", "last byte missing"),
}
"""Cuts that lose only what comes after the first picture's pixels (the GIF trailer, the
PNG end chunk and the IDAT checksum, the MPO's second picture): every pixel that is
used is there, so the file imports, with exactly the pixels of the whole file."""


@pytest.mark.parametrize("fmt", ACCEPTED)
def test_truncated_files(project: Project, tmp_path: Path, fmt: str) -> None:
    whole = corpus.write_in_mode(fmt, "RGB", corpus.seed_of("cut", fmt))
    assert whole is not None
    folder = tmp_path / "cut"
    files = {cut: corpus.save(folder, f"{cut}{extension(fmt)}", data)
             for cut, data in corpus.truncations(whole).items()}  # fmt: skip
    intact = {cut for cut in files if (fmt, cut) in INTACT_AFTER_CUT}

    summary = import_images(project, [folder])

    assert sorted(summary.added) == sorted(posix(files[cut]) for cut in intact)
    assert set(reasons(summary)) == {files[cut].name for cut in files if cut not in intact}
    for cut, path in files.items():
        if cut in intact:
            assert np.array_equal(as_int(load_rgb(path)), as_int(load_rgb(whole))), cut
        else:
            assert truncated_reason(fmt).fullmatch(reasons(summary)[path.name]), cut
            assert_refused(path.read_bytes(), truncated_reason(fmt))
    assert set(rows(project)) == set(summary.added)


def test_wrong_extension_imports_by_content(project: Project, tmp_path: Path) -> None:
    endings = [extension(fmt) for fmt in ACCEPTED]
    # A PNG named .jpg, a JPEG named .png, and each format under the next one's ending.
    pairs = [("PNG", ".jpg"), ("JPEG", ".png")]
    pairs += [(fmt, endings[(n + 1) % len(endings)]) for n, fmt in enumerate(ACCEPTED)]
    files: dict[Path, bytes] = {}
    for fmt, ending in pairs:
        assert Image.registered_extensions()[ending] != fmt
        data = corpus.write_in_mode(fmt, "RGB", corpus.seed_of("disguise", fmt, ending))
        assert data is not None
        files[corpus.save(tmp_path / "named", f"{fmt}{ending}", data)] = data
    summary = import_images(project, [tmp_path / "named"])
    assert sorted(summary.added) == sorted(posix(p) for p in files) and reasons(summary) == {}
    for path, data in files.items():
        assert np.abs(as_int(load_rgb(path)) - corpus.reference_rgb(data)).max() <= 1


@pytest.mark.parametrize(
    "maker",
    [corpus.png_with_size, corpus.jpeg_with_size, corpus.gif_with_size, corpus.bmp_with_size,
     corpus.tiff_with_size, corpus.webp_with_size],
    ids=lambda maker: maker.__name__.split("_")[0],
)  # fmt: skip
def test_a_header_claiming_huge_dimensions_is_refused_before_decoding(
    maker: Callable[[int, int], bytes],
) -> None:
    # Over this program's limit but under Pillow's (twice 89 MP): this module's check.
    assert_refused(maker(12000, 10000), f"image has 120 MP (12000×10000 pixels), {LIMIT}")
    # Over Pillow's limit: Pillow's check, with the same limit named.
    assert_refused(maker(16384, 16384), f"image has 268.435 MP, {LIMIT}")
    if maker is not corpus.webp_with_size:  # WebP is at most 16384 pixels a side
        assert_refused(maker(60000, 60000), f"image has 3600 MP, {LIMIT}")


def test_empty_and_non_image_files_named_like_images(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "fake"
    expected = {}
    for n, (kind, data) in enumerate(corpus.not_images().items()):
        name = f"{kind.replace(' ', '_')}{['.jpg', '.png', '.webp'][n % 3]}"
        corpus.save(folder, name, data)
        expected[name] = "not an image file"
        assert_refused(data, "not an image file")
    for ending in (".jpg", ".png", ".tif"):
        corpus.save(folder, f"empty{ending}", b"")
        expected[f"empty{ending}"] = "empty file"
    # A format's signature, then garbage: the reason names the format the file claims.
    corpus.save(folder, "jpeg_garbage.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    expected["jpeg_garbage.jpg"] = "corrupt JPEG file (its header cannot be read)"
    corpus.save(folder, "png_garbage.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    expected["png_garbage.png"] = "truncated or corrupt PNG data"

    summary = import_images(project, [folder])

    assert reasons(summary) == expected
    assert summary.added == [] and rows(project) == {}


# -- animations, 16 bits, CMYK, colour profiles -----------------------------------------

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("GIF", {}), ("PNG", {}), ("PNG", {"default_image": True}), ("WEBP", {}), ("TIFF", {})],
    ids=["GIF", "APNG", "APNG-default-image", "WEBP", "TIFF-pages"],
)
def test_animations_give_their_first_frame(fmt: str, params: dict[str, object]) -> None:
    data = corpus.animated(fmt, [RED, GREEN, BLUE], **params)
    facts = probe(data)
    assert (facts.format, facts.n_frames, facts.width, facts.height) == (fmt, 3, 16, 16)
    assert np.all(as_int(load_rgb(data)) == RED)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "TIFF", "WEBP"])
def test_an_animation_with_a_damaged_last_frame(fmt: str) -> None:
    data = corpus.animated(fmt, [RED, GREEN, BLUE])[:-40]
    if fmt == "WEBP":
        # libwebp's animation decoder needs the whole file: refused, with the reason.
        assert_refused(data, truncated_reason("WEBP"))
    else:
        # The first frame is whole and is all that is used: imported.
        assert np.all(as_int(load_rgb(data)) == RED)
        assert probe(data).width == 16


def sixteen_bit_values(samples: int, seed: int) -> np.ndarray:
    """Random 16-bit samples; 0 and 65535 at the end of the first row; with alpha, the
    left half fully transparent and the right half opaque."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 65536, (6, 10, samples)).astype(np.uint16)
    values[0, 8, :] = 0
    values[0, 9, :] = 65535
    if samples in (2, 4):
        values[:, :5, -1] = 0
        values[:, 5:, -1] = 65535
    return values


def sixteen_bit_expected(values: np.ndarray) -> np.ndarray:
    colour = values[..., :3] if values.shape[2] >= 3 else np.repeat(values[..., :1], 3, axis=2)
    rgb = np.rint(colour.astype(np.float64) * 255 / 65535).astype(int)
    if values.shape[2] in (2, 4):
        rgb = np.where(values[..., -1:] == 0, 255, rgb)
    return rgb


@pytest.mark.parametrize(
    ("container", "samples"),
    [("PNG", 2), ("PNG", 3), ("PNG", 4), ("TIFF", 1), ("TIFF", 3), ("TIFF", 4)],
    ids=["PNG-LA16", "PNG-RGB16", "PNG-RGBA16", "TIFF-grey16", "TIFF-RGB16", "TIFF-RGBA16"],
)
def test_16_bit_images(container: str, samples: int) -> None:
    values = sixteen_bit_values(samples, samples)
    if container == "PNG":
        data = corpus.png_16_bit(values, {2: 4, 3: 2, 4: 6}[samples])
    else:
        squeezed = values[..., 0] if samples == 1 else values
        data = corpus.tiff_raw(squeezed, photometric=1 if samples == 1 else 2)
    facts = probe(data)
    assert (facts.format, facts.width, facts.height) == (container, 10, 6)
    decoded = as_int(load_rgb(data))
    # Pillow keeps the high byte of 16-bit colour; the full range still maps to 0..255.
    assert np.abs(decoded - sixteen_bit_expected(values)).max() <= 1
    assert decoded[0, 8].tolist() == [0, 0, 0]
    assert decoded[0, 9].tolist() == [255, 255, 255]


CMYK_COLOURS = [(0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 0, 0)]  # C, M, Y, K patches


@pytest.mark.parametrize(
    "variant", ["JPEG Adobe", "JPEG plain", "JPEG Adobe, broken ICC", "TIFF", "TIFF LZW"]
)
def test_cmyk_images_give_the_right_colours(project: Project, tmp_path: Path, variant: str) -> None:
    patches = corpus.cmyk_patches()
    data = {
        # What Photoshop writes: inverted values, marked by Adobe's APP14 segment.
        "JPEG Adobe": corpus.encode(patches, "JPEG", quality=95),
        # Plain CMYK values and no APP14 segment (Pillow alone would show it inverted).
        "JPEG plain": corpus.plain_cmyk_jpeg(patches),
        # A profile LittleCMS cannot read: the plain formula is used instead.
        "JPEG Adobe, broken ICC": corpus.encode(
            patches, "JPEG", quality=95, icc_profile=b"not a profile" * 20
        ),
        "TIFF": corpus.encode(patches, "TIFF"),
        "TIFF LZW": corpus.encode(patches, "TIFF", compression="tiff_lzw"),
    }[variant]
    assert probe(data).mode == "CMYK"
    pixels = as_int(load_rgb(data))
    for n, colour in enumerate(CMYK_COLOURS):
        assert np.abs(pixels[4:12, 16 * n + 4 : 16 * n + 12] - colour).max() <= 12, (n, colour)
    path = corpus.save(tmp_path, "cmyk.jpg", data)
    assert import_images(project, [path]).added == [posix(path)]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_an_embedded_colour_profile_of_an_rgb_image_is_ignored(fmt: str) -> None:
    """Decision (what decode does, kept): RGB values are taken as sRGB whatever profile the
    file embeds; training needs consistent values more than colorimetry, and a wide-gamut
    photo only looks slightly duller. A profile that cannot be read changes nothing either."""
    profile = corpus.wide_gamut_icc()
    im = Image.new("RGB", (32, 16), (50, 200, 50))
    # The profile is real and not sRGB: converting through it would change the pixels.
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    converted = ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"))
    assert converted is not None and abs(int(np.asarray(converted)[0, 0, 0]) - 50) > 30
    params = {**corpus.FORMAT_PARAMS.get(fmt, {}), "icc_profile": profile}
    with_profile = corpus.encode(im, fmt, **params)
    without = corpus.encode(im, fmt, **corpus.FORMAT_PARAMS.get(fmt, {}))
    with Image.open(io.BytesIO(with_profile)) as opened:
        assert opened.info.get("icc_profile") == profile
    assert np.array_equal(as_int(load_rgb(with_profile)), as_int(load_rgb(without)))
    broken = corpus.encode(im, fmt, **{**params, "icc_profile": b"\x00garbage" * 40})
    assert np.array_equal(as_int(load_rgb(broken)), as_int(load_rgb(without)))


# -- EXIF orientation: import, decoding and the training cache agree ---------------------


def corner_of_marker(pixels: np.ndarray, orientation: int) -> None:
    """The marker (stored top-left) is where the EXIF orientation puts it; the opposite
    corner is background."""
    h, w = pixels.shape[:2]
    vertical, horizontal = corpus.ORIENTATION_CORNER[orientation]
    row = 1 if vertical == "top" else h - 2
    col = 1 if horizontal == "left" else w - 2
    assert np.abs(pixels[row, col] - corpus.MARKER).max() <= 60, (orientation, pixels[row, col])
    opposite = pixels[h - 1 - row, w - 1 - col]
    assert np.abs(opposite - corpus.BACKGROUND).max() <= 60, (orientation, opposite)


@pytest.mark.parametrize("fmt", ["JPEG", "MPO", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_is_the_same_for_import_decoding_and_training(
    project: Project, tmp_path: Path, fmt: str
) -> None:
    folder = tmp_path / "oriented"
    files = {o: corpus.save(folder, f"o{o}{extension(fmt)}", corpus.oriented(fmt, o))
             for o in range(1, 9)}  # fmt: skip
    summary = import_images(project, [folder])
    assert len(summary.added) == 8 and reasons(summary) == {}

    recorded = rows(project)
    items = [
        CacheItem(r.id, r.path, r.content_hash, r.file_size, r.file_mtime_ns)
        for r in (recorded[posix(files[o])] for o in range(1, 9))
    ]
    cached, ok, report = ImageCache(project.cache_dir, 32).load(items, workers=1)
    assert ok.all() and report.failed == []
    for o, path in files.items():
        shown = (40, 60) if o >= 5 else (60, 40)
        row = recorded[posix(path)]
        assert (row.width, row.height) == shown, o
        decoded = load_rgb(path)
        assert decoded.size == shown, o
        corner_of_marker(as_int(decoded), o)
        # The training cache squashes the same oriented image to 32×32.
        corner_of_marker(cached[o - 1].astype(int), o)
        squashed = as_int(decoded.resize((32, 32), Image.Resampling.BILINEAR))
        assert np.abs(cached[o - 1].astype(int) - squashed).mean() < 8, o


# -- a batch of good and bad files --------------------------------------------------------


def test_a_mixed_batch_imports_exactly_the_good_files(
    project: Project, tmp_path: Path, small_batches: int
) -> None:
    folder = tmp_path / "mixed"
    good: list[Path] = []
    bad: dict[str, str | re.Pattern[str]] = {}
    for fmt in ACCEPTED:
        data = corpus.write_in_mode(fmt, "RGB", corpus.seed_of("mixed", fmt))
        assert data is not None
        good.append(corpus.save(folder, f"good_{fmt}{extension(fmt)}", data))
        corpus.save(folder, f"half_{fmt}{extension(fmt)}", corpus.truncations(data)["half"])
        bad[f"half_{fmt}{extension(fmt)}"] = truncated_reason(fmt)
    for kind, data in corpus.not_images().items():
        corpus.save(folder, f"not_{kind.replace(' ', '_')}.jpg", data)
        bad[f"not_{kind.replace(' ', '_')}.jpg"] = "not an image file"
    corpus.save(folder, "bomb.png", corpus.png_with_size(20_000, 20_000))
    bad["bomb.png"] = f"image has 400 MP, {LIMIT}"
    corpus.save(folder, "empty.gif", b"")
    bad["empty.gif"] = "empty file"
    good.append(corpus.save(folder, "zz_last.png", corpus.encode(corpus.distinct(77), "PNG")))
    assert len(good) + len(bad) > 3 * small_batches  # good and bad files share batches

    def check(summary: ImportSummary) -> None:
        found = reasons(summary)
        assert set(found) == set(bad)
        for name, reason in bad.items():
            matches = (
                reason == found[name] if isinstance(reason, str) else reason.fullmatch(found[name])
            )
            assert matches, (name, found[name])

    summary = import_images(project, [folder])

    assert sorted(summary.added) == sorted(posix(p) for p in good)
    check(summary)
    assert sorted(rows(project)) == sorted(posix(p) for p in good)
    assert all(row.status == "ok" for row in rows(project).values())
    again = import_images(project, [folder])  # nothing was half-written: nothing to finish
    assert (again.added, again.unchanged) == ([], len(good))
    check(again)


def test_a_decoder_crash_skips_only_that_file(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "crash"
    for i in range(3):
        corpus.save(folder, f"p{i}.png", corpus.encode(corpus.distinct(300 + i), "PNG"))
    real_probe = probe

    def crashing(data: bytes) -> object:
        if data == (folder / "p1.png").read_bytes():
            raise RuntimeError("decoder bug")
        return real_probe(data)

    monkeypatch.setattr(importer, "probe", crashing)
    summary = import_images(project, [folder])
    assert reasons(summary) == {"p1.png": "cannot decode the image (RuntimeError: decoder bug)"}
    assert sorted(rows(project)) == sorted(posix(folder / f"p{i}.png") for i in (0, 2))
