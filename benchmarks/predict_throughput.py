"""Prediction speed: the project's inference path against a plain ``torch.no_grad()`` loop.

    python benchmarks/predict_throughput.py [--images 1500] [--rounds 5] [--threads 2]
        [--width 24] [--image-size 64] [--keep DIR]

Creates a demo project (``create_demo``; reused when ``--keep DIR`` already holds
one), fills its image cache, builds the compact network (random weights, batch
norm statistics as after training: the speed does not depend on their values)
and measures over every image of the project, in the same run, on the CPU:

* reference: the images converted once to a normalised float NCHW tensor, then
  ``model.eval()``, ``torch.no_grad()``, ``sigmoid(model(x))`` over batches of
  ``PREDICT_BATCH``, concatenated to one array — the network as trained;
* ours, scorer: what the trainer's prediction phase runs per image:
  ``image_scorer`` (built inside the timing, as once per run: where predict.py
  has ``inference_copy``, batch norms are folded into the convolutions and the
  copy is checked against the network) and the scorer called on every row
  (``predict_array``: per-batch uint8 → float conversion, autocast context);
* ours, predict_array: the same on the network as trained (what validation
  calls), i.e. the path's own overhead against the plain loop;
* reference on the inference copy (only where predict.py has ``inference_copy``):
  the plain loop on the same folded network and memory format as ours, so that
  "ours, scorer ÷ this" is the path's overhead alone;
* ours + DB: ``image_scorer`` + ``write_run_predictions`` (the trainer's last
  phase: inference in chunks, one ``prediction`` row per image × task through
  ``runs.write_predictions``, progress events, the set marked complete);
* DB only: ``begin_predictions`` + ``write_predictions`` of the same
  probabilities + ``end_predictions``: what the rows cost.

The jobs are interleaved, ``--rounds`` times, in a rotating order; each line shows
the median and the best round (the least disturbed by other load on a shared
machine). Target: ours / reference ≥ 0.95 for inference. The database cost is
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
from torch import Tensor, nn

from core import runs
from core.demo import create_demo
from core.project import PROJECT_FILE, Project
from core.training import predict
from core.training.config import TrainConfig
from core.training.device import DeviceInfo, select_device
from core.training.image_cache import ImageCache
from core.training.model import to_model_input
from core.training.network import build_image_model
from core.training.snapshot import take_snapshot

BATCH = predict.PREDICT_BATCH


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


def trained_like(model: nn.Module) -> None:
    """Batch norm statistics away from their initial 0/1, as after training."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)  # type: ignore[union-attr]
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)  # type: ignore[union-attr]


def plain_loop(model: nn.Module, x_all: Tensor) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(x_all), BATCH):
            out.append(torch.sigmoid(model(x_all[s : s + BATCH])))
    return torch.cat(out).numpy()


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
    times: dict[str, list[float]] = {}
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
            trained_like(model)
            model.eval()
            images = torch.from_numpy(array)
            rows = np.flatnonzero(ok)
            n, n_tasks = len(rows), len(snap.task_ids)
            x_all = to_model_input(
                images[torch.from_numpy(rows)], device.device, False, spec.mean, spec.std
            ).contiguous()
            inference_copy: Callable[..., tuple[nn.Module, DeviceInfo]] | None = getattr(
                predict, "inference_copy", None
            )
            print(
                f"{n} images × {n_tasks} tasks, {args.image_size} px, width {args.width}, "
                f"batch {BATCH}, {args.threads} threads, {args.rounds} rounds; predict.py "
                f"{'has' if inference_copy else 'has no'} inference_copy"
            )
            run_id = runs.create_run(project, {**config.to_dict(), "benchmark": "predict"})
            image_ids = [snap.items[r].image_id for r in rows]
            probs = predict.predict_array(model, images, rows, device, BATCH, spec.mean, spec.std)

            jobs: dict[str, Callable[[], object]] = {
                "reference": lambda: plain_loop(model, x_all),
                "ours, scorer": lambda: predict.image_scorer(model, images, device, spec)(rows),
                "ours, predict_array": lambda: predict.predict_array(
                    model, images, rows, device, BATCH, spec.mean, spec.std
                ),
            }
            if inference_copy is not None:
                fast, fast_device = inference_copy(model, device)
                x_fast = x_all.contiguous(
                    memory_format=torch.channels_last
                    if fast_device.channels_last
                    else torch.contiguous_format
                )
                jobs["reference, same copy"] = lambda: plain_loop(fast, x_fast)

            def with_db() -> None:
                score = predict.image_scorer(model, images, device, spec)
                predict.write_run_predictions(project, run_id, score, ok, snap, ignore, never)

            def db_only() -> None:
                runs.begin_predictions(project, run_id)
                runs.write_predictions(project, run_id, image_ids, snap.task_ids, probs)
                runs.end_predictions(project, run_id)

            jobs["ours + DB"] = with_db
            jobs["DB only"] = db_only
            for job in jobs.values():  # warm-up: allocator, oneDNN primitives, SQLite pages
                job()
            reference = plain_loop(model, x_all)
            for name in ("ours, scorer", "ours, predict_array"):
                got = jobs[name]()
                assert isinstance(got, np.ndarray)
                np.testing.assert_allclose(got, reference, rtol=1e-3, atol=1e-4, err_msg=name)
            names = list(jobs)
            times = {name: [] for name in names}
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
        print(f"{name:21s} seconds [{', '.join(f'{s:.3f}' for s in values)}]")
    print()
    print(
        f"{'':21s} {'median img/s':>12s} {'best img/s':>10s}  "
        f"{'÷ reference: median':>19s} {'best':>6s}"
    )
    ref_med, ref_best = statistics.median(times["reference"]), min(times["reference"])
    for name, values in times.items():
        med, best = statistics.median(values), min(values)
        print(
            f"{name:21s} {n / med:12.0f} {n / best:10.0f}  "
            f"{ref_med / med:19.3f} {ref_best / best:6.3f}"
        )
    scorer = statistics.median(times["ours, scorer"])
    full = statistics.median(times["ours + DB"])
    db = statistics.median(times["DB only"])
    rows_written = n * n_tasks
    print(
        f"\nDB rows: {rows_written} ({n} images × {n_tasks} tasks); writing them alone takes "
        f"{db * 1000:.0f} ms = {rows_written / db:,.0f} rows/s = {db / n * 1e6:.0f} µs per image"
    )
    print(
        f"prediction phase with the DB ({full * 1000:.0f} ms) vs inference alone "
        f"({scorer * 1000:.0f} ms): the rows, chunking and events add "
        f"{(full - scorer) * 1000:.0f} ms = {(full - scorer) / full:.0%} of the phase"
    )
    ratio = statistics.median(times["reference"]) / scorer
    verdict = "meets" if ratio >= 0.95 else "MISSES"
    print(
        f"\ninference ours (scorer) / plain reference = {ratio:.3f} (median; {verdict} "
        "the target ≥ 0.95)"
    )
    raw = statistics.median(times["reference"]) / statistics.median(times["ours, predict_array"])
    print(f"predict_array on the network as trained / plain reference = {raw:.3f}")
    if "reference, same copy" in times:
        same = statistics.median(times["reference, same copy"]) / scorer
        print(f"ours (scorer) / plain loop on the same inference copy = {same:.3f}")


if __name__ == "__main__":
    main()
