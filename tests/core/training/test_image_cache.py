"""The decoded-image cache: order, reuse, invalidation, failures, damage, progress, cancel."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.training import image_cache
from core.training.image_cache import CacheCancelled, CacheItem, ImageCache

SIZE = 16
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (128, 0, 255)]


def write_image(path: Path, picture: Image.Image, **save: Any) -> None:
    picture.save(path, **save)


def item_for(image_id: int, path: Path) -> CacheItem:
    """A CacheItem as the importer would have recorded the file now."""
    data = path.read_bytes()
    info = path.stat()
    return CacheItem(
        image_id, str(path), hashlib.sha256(data).hexdigest(), info.st_size, info.st_mtime_ns
    )


def solid_images(folder: Path, colours: list[tuple[int, int, int]]) -> list[CacheItem]:
    items = []
    for number, colour in enumerate(colours):
        path = folder / f"img{number}.png"
        write_image(path, Image.new("RGB", (40 + 7 * number, 30), colour))
        items.append(item_for(100 + number, path))
    return items


def shards(cache: ImageCache) -> list[Path]:
    return sorted(cache.directory.glob("*.shard"))


@pytest.fixture
def cache(tmp_path: Path) -> ImageCache:
    return ImageCache(tmp_path / "cache", SIZE)


@pytest.fixture
def images(tmp_path: Path) -> list[CacheItem]:
    folder = tmp_path / "images"
    folder.mkdir()
    return solid_images(folder, COLOURS)


def test_shape_dtype_and_order(cache: ImageCache, images: list[CacheItem]) -> None:
    array, ok, report = cache.load(images, workers=2)
    assert array.shape == (len(images), SIZE, SIZE, 3)
    assert array.dtype == np.uint8
    assert ok.dtype == np.bool_ and ok.all()
    for row, colour in enumerate(COLOURS):
        assert (array[row] == np.array(colour, dtype=np.uint8)).all()
    assert report.decoded == len(images) and report.reused == 0
    assert report.failed == [] and report.changed == []
    assert report.seconds >= 0
    assert str(cache.directory).startswith(str(cache.folder / f"rgb{SIZE}"))


def test_second_load_reuses_everything(cache: ImageCache, images: list[CacheItem]) -> None:
    first, _, _ = cache.load(images, workers=2)
    again = ImageCache(cache.folder, SIZE)  # a later run: a new object on the same folder
    second, ok, report = again.load(list(reversed(images)), workers=2)
    assert report.decoded == 0 and report.reused == len(images)
    assert ok.all()
    assert np.array_equal(second, first[::-1])


def test_fast_path_does_not_read_files(
    cache: ImageCache, images: list[CacheItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.load(images, workers=2)

    def no_reading(path: str) -> bytes:
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(image_cache, "_read_file", no_reading)
    _, ok, report = cache.load(images, workers=2)
    assert ok.all() and report.reused == len(images)


def test_touched_file_is_hashed_but_not_changed(cache: ImageCache, images: list[CacheItem]) -> None:
    cache.load(images, workers=2)
    path = Path(images[0].path)
    os.utime(path, ns=(images[0].file_mtime_ns + 10**9, images[0].file_mtime_ns + 10**9))
    _, ok, report = cache.load(images, workers=2)
    assert ok.all()
    assert report.changed == [] and report.decoded == 0 and report.reused == len(images)


def test_changed_file_is_reported_and_decoded_afresh(
    cache: ImageCache, images: list[CacheItem]
) -> None:
    cache.load(images, workers=2)
    target = images[2]
    path = Path(target.path)
    write_image(path, Image.new("RGB", (50, 20), (10, 20, 30)))
    bumped = target.file_mtime_ns + 5 * 10**9
    os.utime(path, ns=(bumped, bumped))
    array, ok, report = cache.load(images, workers=2)  # the items still hold the old facts
    assert report.changed == [target.image_id]
    assert report.decoded == 1 and report.reused == len(images) - 1
    assert ok.all()
    assert (array[2] == np.array((10, 20, 30), dtype=np.uint8)).all()
    # the new content is cached under its new hash
    _, _, report = cache.load([item_for(target.image_id, path)], workers=1)
    assert report.reused == 1 and report.changed == []


def test_deleted_and_unreadable_files_fail_softly(
    cache: ImageCache, images: list[CacheItem], tmp_path: Path
) -> None:
    cache.load(images, workers=2)  # cached, yet a deleted file must still fail
    Path(images[1].path).unlink()
    junk = tmp_path / "images" / "junk.jpg"
    junk.write_bytes(b"this is not an image")
    items = [*images, item_for(999, junk)]
    array, ok, report = cache.load(items, workers=2)
    failed = dict(report.failed)
    assert set(failed) == {images[1].image_id, 999}
    assert "not found" in failed[images[1].image_id]
    assert failed[999]
    assert not ok[1] and not ok[-1]
    assert not array[1].any() and not array[-1].any()
    assert ok.sum() == len(items) - 2
    assert (array[0] == np.array(COLOURS[0], dtype=np.uint8)).all()


def test_exif_rotated_jpeg_is_upright(cache: ImageCache, tmp_path: Path) -> None:
    # Stored 120×80, white with a red block at the stored top-left corner. EXIF
    # orientation 6 means "rotate 90° clockwise to display": the block is then
    # at the top-right of an 80×120 picture.
    stored = Image.new("RGB", (120, 80), (255, 255, 255))
    stored.paste((255, 0, 0), (0, 0, 30, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    write_image(path, stored, quality=95, exif=exif.tobytes())
    array, ok, _ = cache.load([item_for(1, path)], workers=1)
    assert ok.all()
    pixels = array[0].astype(int)
    top_right, top_left, bottom_right = (
        pixels[1, SIZE - 2],
        pixels[1, 1],
        pixels[SIZE - 2, SIZE - 2],
    )
    assert top_right[0] > 200 and top_right[1] < 60 and top_right[2] < 60
    assert top_left.min() > 200
    assert bottom_right.min() > 200


def test_stretch_keeps_the_edges(tmp_path: Path) -> None:
    wide = Image.new("RGB", (400, 100), (255, 255, 255))
    wide.paste((255, 0, 0), (380, 0, 400, 100))  # the last 5 % on the right
    wide.paste((0, 0, 255), (0, 0, 20, 100))  # the first 5 % on the left
    path = tmp_path / "wide.jpg"
    write_image(path, wide, quality=95)
    cache = ImageCache(tmp_path / "cache", 32)
    array, ok, _ = cache.load([item_for(1, path)], workers=1)
    assert ok.all()
    right, left, middle = (array[0][:, column].astype(int) for column in (-1, 0, 16))
    assert (right[:, 0] > 200).all() and (right[:, 1] < 80).all()
    assert (left[:, 2] > 200).all() and (left[:, 0] < 80).all()
    assert (middle > 200).all()


def test_draft_mode_matches_a_full_decode(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    smooth = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(
        (1024, 768), Image.Resampling.BICUBIC
    )
    path = tmp_path / "big.jpg"
    write_image(path, smooth, quality=90)
    items = [item_for(1, path)]
    drafted, _, _ = ImageCache(tmp_path / "a", 64).load(items, workers=1)
    full_cache = ImageCache(tmp_path / "b", 64)
    full_cache._use_draft = False
    full, _, _ = full_cache.load(items, workers=1)
    assert np.abs(drafted.astype(int) - full.astype(int)).mean() < 4


def test_truncated_shard_is_decoded_again(cache: ImageCache, images: list[CacheItem]) -> None:
    first, _, _ = cache.load(images, workers=2)
    (shard,) = shards(cache)
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size - 100)
    array, ok, report = cache.load(images, workers=2)
    assert ok.all() and report.decoded == len(images) and report.reused == 0
    assert np.array_equal(array, first)
    _, _, report = cache.load(images, workers=2)  # and it has been written again
    assert report.reused == len(images)


def test_damaged_entry_is_decoded_again(cache: ImageCache, images: list[CacheItem]) -> None:
    first, _, _ = cache.load(images, workers=2)
    (shard,) = shards(cache)
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF  # inside the last entry's pixels
    shard.write_bytes(bytes(data))
    array, ok, report = cache.load(images, workers=2)
    assert ok.all() and report.decoded == 1 and report.reused == len(images) - 1
    assert np.array_equal(array, first)
    _, _, report = cache.load(images, workers=2)
    assert report.decoded == 0 and report.reused == len(images)


def test_garbage_shard_and_stale_temp_file(cache: ImageCache, images: list[CacheItem]) -> None:
    cache.directory.mkdir(parents=True)
    (cache.directory / "00000000000000000000-bad.shard").write_bytes(b"MTLRGB garbage")
    (cache.directory / ".half.shard.tmp").write_bytes(b"half written")
    _, ok, report = cache.load(images, workers=2)
    assert ok.all() and report.decoded == len(images)
    assert not (cache.directory / "00000000000000000000-bad.shard").exists()


def test_many_small_shards_are_merged(
    cache: ImageCache, images: list[CacheItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_cache, "_COMPACT_AT", 3)
    first, _, _ = cache.load(images[:1], workers=1)
    cache.load(images[1:2], workers=1)
    assert len(shards(cache)) == 2
    cache.load(images[2:3], workers=1)  # the third small shard triggers the merge
    assert len(shards(cache)) == 1
    array, ok, report = cache.load(images, workers=2)
    assert report.reused == 3 and report.decoded == len(images) - 3 and ok.all()
    assert np.array_equal(array[:1], first)


def test_progress_reaches_the_total(cache: ImageCache, images: list[CacheItem]) -> None:
    calls: list[tuple[int, int]] = []
    cache.load(images, progress=lambda done, total: calls.append((done, total)), workers=2)
    n = len(images)
    assert calls[0] == (0, n) and calls[-1] == (n, n)
    assert all(total == n for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    calls.clear()
    cache.load(images, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (n, n)


def test_cancel_stops_early_and_keeps_what_was_decoded(
    cache: ImageCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_cache, "_PROGRESS_SECONDS", 0.0)  # report every image
    folder = tmp_path / "many"
    folder.mkdir()
    colours = [(i * 4, 255 - i * 4, (i * 37) % 256) for i in range(60)]
    items = solid_images(folder, colours)
    done_so_far = 0

    def progress(done: int, total: int) -> None:
        nonlocal done_so_far
        done_so_far = done

    with pytest.raises(CacheCancelled):
        cache.load(items, progress=progress, cancel=lambda: done_so_far >= 5, workers=1)
    assert 5 <= done_so_far < 10
    _, ok, report = cache.load(items, workers=2)
    assert ok.all()
    assert 5 <= report.reused < 10  # what was decoded before the cancel was kept
    assert report.decoded == len(items) - report.reused


def test_empty_and_bad_arguments(tmp_path: Path) -> None:
    array, ok, report = ImageCache(tmp_path, 8).load([])
    assert array.shape == (0, 8, 8, 3) and ok.shape == (0,)
    assert report.decoded == report.reused == 0
    with pytest.raises(ValueError, match="resize"):
        ImageCache(tmp_path, 8, resize="crop")
    with pytest.raises(ValueError, match="size"):
        ImageCache(tmp_path, 0)


def test_unwritable_cache_still_returns_pixels(images: list[CacheItem], tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    array, ok, report = ImageCache(blocker, SIZE).load(images, workers=2)
    assert ok.all() and report.decoded == len(images)
    assert (array[0] == np.array(COLOURS[0], dtype=np.uint8)).all()


def test_jpeg_size_parser(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    write_image(path, Image.new("RGB", (123, 45)), exif=exif.tobytes())
    assert image_cache._jpeg_size(path.read_bytes()) == (123, 45)
    assert image_cache._jpeg_size(b"\xff\xd8\xff") is None
    assert image_cache._jpeg_size(b"\x89PNG") is None
