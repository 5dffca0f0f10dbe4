"""Image cache speed: epochs from the cache vs decoding the files; draft vs full decoding.

    python benchmarks/data_cache.py [--images 2000] [--size 64] [--workers N] [--keep DIR]

Generates ``--images`` 1024×768 JPEGs (smooth random colour fields with a few
shapes and some grain, quality 90) in parallel processes, once, into a
temporary folder (or ``--keep DIR``, reused by later runs), then measures in
the same run:

1. one epoch's worth of images read from the filled cache (``ImageCache.load``
   with every image a hit: a stat per file, the shard index, the reads and
   their checksums), against decoding and resizing the files every epoch with a
   plain Pillow loop on the same number of threads (``Image.open``, JPEG draft
   mode, ``convert("RGB")``, bilinear resize to size×size) — the ratio;
2. filling an empty cache with and without JPEG draft decoding (images/s).

The image files are in the page cache (just written or read), as they would be
on a second epoch; the first read from a cold disk would favour the cache more.

Target (DESIGN.md, "Training"): an epoch from the cache ≥ 10× faster than
decoding the files. Keep the whole run under ~3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.training.image_cache import CacheItem, ImageCache

WIDTH, HEIGHT = 1024, 768


def make_image(job: tuple[str, int]) -> None:
    """Write one smooth-ish random 1024×768 JPEG (deterministic per number)."""
    path, number = job
    rng = np.random.default_rng(number)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    picture = Image.fromarray(coarse).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(picture)
    for _ in range(12):
        x, y = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        w, h = (int(v) for v in rng.integers(20, 300, 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=fill)
    grain = rng.integers(-6, 7, (HEIGHT, WIDTH, 1), dtype=np.int16)
    pixels = np.clip(np.asarray(picture, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
    tmp = f"{path}.tmp"
    Image.fromarray(pixels).save(tmp, "JPEG", quality=90)
    os.replace(tmp, path)


def generate(folder: Path, count: int, workers: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"img{number:06d}.jpg" for number in range(count)]
    missing = [(str(p), number) for number, p in enumerate(paths) if not p.exists()]
    if missing:
        start = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(make_image, missing, chunksize=16))
        seconds = time.perf_counter() - start
        print(f"generated {len(missing)} JPEGs in {seconds:.1f} s")
    return paths


def describe(path: Path, image_id: int) -> CacheItem:
    """What the importer would have recorded for the file."""
    data = path.read_bytes()
    info = path.stat()
    digest = hashlib.sha256(data).hexdigest()
    return CacheItem(image_id, str(path), digest, info.st_size, info.st_mtime_ns)


def decode_epoch(paths: Sequence[Path], size: int, workers: int) -> np.ndarray:
    """The baseline: decode and resize every file, as a loader without a cache would."""
    out = np.zeros((len(paths), size, size, 3), dtype=np.uint8)

    def one(row: int) -> None:
        with Image.open(paths[row]) as im:
            im.draft("RGB", (size, size))
            rgb = im.convert("RGB")
        out[row] = np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(len(paths))))
    return out


def fill(folder: Path, items: Sequence[CacheItem], size: int, workers: int, draft: bool) -> float:
    """Seconds to fill an empty cache."""
    cache = ImageCache(folder, size)
    cache._use_draft = draft
    start = time.perf_counter()
    _, ok, report = cache.load(items, workers=workers)
    seconds = time.perf_counter() - start
    assert ok.all() and report.decoded == len(items), report
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64, help="cache side in pixels")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--epochs", type=int, default=3, help="cache epochs to time")
    parser.add_argument("--keep", type=Path, help="folder for the generated JPEGs (reused)")
    args = parser.parse_args()
    n, size, workers = args.images, args.size, args.workers
    print(f"{n} JPEGs {WIDTH}×{HEIGHT} q90 → {size}×{size}, {workers} workers")

    with tempfile.TemporaryDirectory(prefix="mtlabel-bench-") as tmp:
        root = Path(tmp)
        paths = generate(args.keep or root / "images", n, workers)
        items = [describe(path, number) for number, path in enumerate(paths)]
        mean_kb = sum(item.file_size for item in items) / n / 1024
        print(f"mean file size {mean_kb:.0f} KiB")

        # (2) first-time caching, with and without draft decoding
        full_s = fill(root / "cache-full", items, size, workers, draft=False)
        draft_s = fill(root / "cache-draft", items, size, workers, draft=True)
        print("\nfirst-time caching (decode + resize + write):")
        print(f"  without draft mode {n / full_s:8.0f} images/s  ({full_s:.2f} s)")
        print(f"  with draft mode    {n / draft_s:8.0f} images/s  ({draft_s:.2f} s)")
        print(f"  draft speed-up     {full_s / draft_s:8.2f}×")

        # (1) an epoch from the filled cache vs decoding the files every epoch
        cache = ImageCache(root / "cache-draft", size)
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            cached, ok, report = cache.load(items, workers=workers)
            times.append(time.perf_counter() - start)
            assert ok.all() and report.reused == n, report
        cache_s = statistics.median(times)
        start = time.perf_counter()
        decoded = decode_epoch(paths, size, workers)
        decode_s = time.perf_counter() - start
        difference = np.abs(cached.astype(np.int16) - decoded.astype(np.int16)).mean()
        print("\none epoch of images:")
        print(
            f"  from the cache     {cache_s * 1000:8.1f} ms  ({n / cache_s:,.0f} images/s, "
            f"median of {args.epochs})"
        )
        print(f"  decoding the files {decode_s * 1000:8.1f} ms  ({n / decode_s:,.0f} images/s)")
        print(f"  cache speed-up     {decode_s / cache_s:8.1f}×  (target ≥ 10×)")
        print(f"  mean |cache − plain decode| {difference:.2f} grey levels")
        shard_bytes = sum(p.stat().st_size for p in cache.directory.glob("*.shard"))
        print(f"  cache on disk      {shard_bytes / 2**20:8.1f} MiB")


if __name__ == "__main__":
    main()
