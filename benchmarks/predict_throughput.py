"""Prediction speed: the project's inference path against a plain ``torch.no_grad()`` loop.

    python benchmarks/predict_throughput.py [--images 1500] [--rounds 5] [--threads 2]
        [--width 24] [--image-size 64] [--keep DIR]

Creates a demo project (``create_demo``; reused when ``--keep DIR`` already holds
one), fills its image cache, builds the compact network (random weights: the
speed does not depend on them) and measures, over every image of the project,
in the same run and on the CPU:

1. reference: the images converted once to a normalised float NCHW tensor, then
   ``model.eval()``, ``torch.no_grad()``, ``sigmoid(model(x))`` over batches of
   ``PREDICT_BATCH``, concatenated to one array;
2. ours, inference: ``predict_array`` over the uint8 cache tensor (what the
   trainer's scorer calls: per-batch conversion, autocast context, eval/train);
3. ours, with the database: ``write_run_predictions`` (the trainer's last phase:
   inference in chunks, one ``prediction`` row per image × task written through
   ``runs.write_predictions``, progress events, the run marked complete);
4. the database part alone: ``begin_predictions`` + ``write_predictions`` of the
   same probabilities + ``end_predictions``, to show what the rows cost.

The four are interleaved, ``--rounds`` times, in a rotating order; each line
shows the median and the best round (the least disturbed by other load on a
shared machine). Target: inference ours / reference ≥ 0.95. The database cost is
reported separately; it grows with the number of tasks (rows = images × tasks).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import runs
from core.demo import create_demo
from core.project import PROJECT_FILE, Project
from core.training.config import TrainConfig
from core.training.device import select_device
from core.training.image_cache import ImageCache
from core.training.model import to_model_input
from core.training.network import build_image_model
from core.training.predict import (
    PREDICT_BATCH,
    image_scorer,
    predict_array,
    write_run_predictions,
)
from core.training.snapshot import take_snapshot


def ensure_demo(folder: Path, images: int) -> None:
    if (folder / PROJECT_FILE).exists():
        return
    start = time.perf_counter()
    create_demo(folder, images=images, unknown_fraction=0.5, seed=0)
    print(f"created a demo project of {images} images in {time.perf_counter() - start:.1f} s")


def never() -> bool:
    return False


def ignore(event: dict[str, Any]) -> None:
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--images", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--keep", type=Path, help="demo project folder (created once, reused)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    times: dict[str, list[float]] = {
        "reference": [],
        "ours inference": [],
        "ours + DB": [],
        "DB only": [],
    }
    with tempfile.TemporaryDirectory(prefix="mtlabel-predict-bench-") as tmp:
        folder = args.keep or Path(tmp) / "demo"
        ensure_demo(folder, args.images)
        with Project.open(folder) as project:
            config = TrainConfig(
                image_size=args.image_size,
                width=args.width,
                backbone="compact",
                mode="scratch",
                device="cpu",
                threads=args.threads,
            ).validate()
            snap = take_snapshot(project, config.val_fraction)
            start = time.perf_counter()
            array, ok, _ = ImageCache(project.cache_dir, config.image_size).load(snap.items)
            print(f"image cache filled/checked in {time.perf_counter() - start:.1f} s")
            device = select_device("cpu")
            torch.manual_seed(0)
            model, spec = build_image_model(config, len(snap.task_ids))
            images = torch.from_numpy(array)
            rows = np.flatnonzero(ok)
            n, n_tasks = len(rows), len(snap.task_ids)
            x_all = to_model_input(
                images[torch.from_numpy(rows)], device.device, False, spec.mean, spec.std
            ).contiguous()
            print(
                f"{n} images × {n_tasks} tasks, {args.image_size} px, width {args.width}, "
                f"batch {PREDICT_BATCH}, {args.threads} threads, {args.rounds} rounds"
            )
            run_id = runs.create_run(project, {**config.to_dict(), "benchmark": "predict"})
            score = image_scorer(model, images, device, spec)
            probs_ours = predict_array(
                model, images, rows, device, PREDICT_BATCH, spec.mean, spec.std
            )

            def reference() -> np.ndarray:
                model.eval()
                out = []
                with torch.no_grad():
                    for s in range(0, n, PREDICT_BATCH):
                        out.append(torch.sigmoid(model(x_all[s : s + PREDICT_BATCH])))
                return torch.cat(out).numpy()

            def ours() -> None:
                predict_array(model, images, rows, device, PREDICT_BATCH, spec.mean, spec.std)

            def with_db() -> None:
                write_run_predictions(project, run_id, score, ok, snap, ignore, never)

            image_ids = [snap.items[r].image_id for r in rows]

            def db_only() -> None:
                runs.begin_predictions(project, run_id)
                runs.write_predictions(project, run_id, image_ids, snap.task_ids, probs_ours)
                runs.end_predictions(project, run_id)

            jobs: dict[str, Callable[[], object]] = {
                "reference": reference,
                "ours inference": ours,
                "ours + DB": with_db,
                "DB only": db_only,
            }
            for job in jobs.values():  # warm-up: allocator, oneDNN primitives, SQLite pages
                job()
            np.testing.assert_allclose(probs_ours, reference(), rtol=1e-4, atol=1e-5)
            names = list(jobs)
            for r in range(args.rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    start = time.perf_counter()
                    jobs[name]()
                    times[name].append(time.perf_counter() - start)
            _, _, stored = runs.read_predictions(project, run_id)
            assert stored.shape == (n, n_tasks) and not np.isnan(stored).any()
            runs.finish_run(project, run_id, "cancelled", "benchmark run (predictions only)")
    print(f"load average after:  {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    for name, values in times.items():
        print(f"{name:15s} seconds [{', '.join(f'{s:.3f}' for s in values)}]")
    print()
    print(f"{'':15s} {'median img/s':>12s} {'best img/s':>10s} {'÷ reference (median, best)':>27s}")
    ref_med, ref_best = statistics.median(times["reference"]), min(times["reference"])
    for name, values in times.items():
        med, best = statistics.median(values), min(values)
        print(
            f"{name:15s} {n / med:12.0f} {n / best:10.0f} "
            f"{ref_med / med:14.3f} {ref_best / best:11.3f}"
        )
    inference = statistics.median(times["ours inference"])
    full = statistics.median(times["ours + DB"])
    db = statistics.median(times["DB only"])
    rows_written = n * n_tasks
    print(
        f"\nDB rows: {rows_written} ({n} images × {n_tasks} tasks); writing them alone takes "
        f"{db * 1000:.0f} ms = {rows_written / db:,.0f} rows/s = {db / n * 1e6:.0f} µs per image"
    )
    print(
        f"of the whole prediction phase ({full * 1000:.0f} ms), inference is "
        f"{inference / full:.0%}, the rest (DB rows, chunking, events) {1 - inference / full:.0%}"
    )
    ratio = ref_med / inference
    verdict = "meets" if ratio >= 0.95 else "MISSES"
    print(f"\ninference ours / reference = {ratio:.3f} (median; {verdict} the target ≥ 0.95)")


if __name__ == "__main__":
    main()
