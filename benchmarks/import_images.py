"""Image import speed and memory: ``import_images`` against a bare read + hash + decode loop.

    python benchmarks/import_images.py [--images 20000] [--size 640x480]

Generates the JPEGs once (in parallel) into a temporary folder, then in the
same run times (1) the bare reference loop — read the bytes, SHA-256 them,
decode with Pillow (draft mode, as the importer does) — and (2) the project's
import of the same folder, and prints files/s for both, their ratio, the peak
resident memory growth during the import, and a re-import of the unchanged
folder. Target (issue 7): import ≥ 200 files/s for 640×480 JPEGs, memory flat.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from core.images.importer import ImportProgress, import_images
from core.project import Project


def _make(args: tuple[str, int, int, int]) -> None:
    folder, start, count, seed_size = args
    width, height = seed_size // 10_000, seed_size % 10_000
    rng = np.random.default_rng(start)
    for i in range(start, start + count):
        base = rng.integers(0, 255, (height // 16, width // 16, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((width, height), Image.Resampling.BILINEAR)
        sub = Path(folder) / f"d{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        img.save(sub / f"img_{i:06d}.jpg", quality=85)


def generate(folder: Path, n: int, width: int, height: int) -> None:
    workers = os.cpu_count() or 2
    per = (n + workers * 8 - 1) // (workers * 8)
    jobs = [(str(folder), s, min(per, n - s), width * 10_000 + height) for s in range(0, n, per)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_make, jobs))


def bare_loop(folder: Path) -> int:
    n = 0
    for path in sorted(folder.rglob("*.jpg")):
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (im.width // 8, im.height // 8))
            im.load()
        n += 1
    return n


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--size", default="640x480")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        t = time.perf_counter()
        generate(folder, args.images, width, height)
        print(
            f"generated {args.images:,} {width}x{height} JPEGs in {time.perf_counter() - t:.0f} s"
        )
        bare_loop(folder)  # warm the OS file cache so both timed passes read from memory

        t = time.perf_counter()
        n = bare_loop(folder)
        bare_s = time.perf_counter() - t

        project = Project.create(Path(tmp) / "project", tasks=["a"])
        samples: list[tuple[int, float]] = []
        lock = threading.Lock()

        def progress(p: ImportProgress) -> None:
            if p.done % 1000 == 0:
                with lock:
                    samples.append((p.done, rss_mb()))

        start_rss = rss_mb()
        t = time.perf_counter()
        summary = import_images(project, [folder], progress=progress)
        ours_s = time.perf_counter() - t
        t = time.perf_counter()
        again = import_images(project, [folder])
        reimport_s = time.perf_counter() - t
        project.close()

    print(f"bare loop (read + sha256 + draft decode, 1 thread): {n / bare_s:,.0f} files/s")
    print(
        f"import_images: {len(summary.added):,} added in {ours_s:.1f} s = "
        f"{len(summary.added) / ours_s:,.0f} files/s (target >= 200); "
        f"ratio ours/bare {bare_s / ours_s:.2f}"
    )
    print(f"re-import of the unchanged folder: {again.unchanged:,} unchanged in {reimport_s:.1f} s")
    if samples:
        first, last = samples[0], samples[-1]
        print(
            f"resident memory: {start_rss:.0f} MB before; {first[1]:.0f} MB at {first[0]:,} "
            f"files; {last[1]:.0f} MB at {last[0]:,} files (growth {last[1] - first[1]:+.0f} MB)"
        )
    print(
        f"peak resident memory of the process: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
