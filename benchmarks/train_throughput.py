"""Training speed: the project's ``train()`` against a minimal hand-written PyTorch loop.

    python benchmarks/train_throughput.py [--images 1500] [--epochs 5] [--threads 2]
        [--width 24] [--image-size 64] [--batch-size 64] [--keep DIR]

Creates a demo project (``create_demo``; reused when ``--keep DIR`` already holds
one), fills its image cache once, then measures in the same run, on the CPU:

1. ours: the real ``train()`` with augmentation off, each epoch's training phase
   timed by the ``elapsed`` of the progress event at the epoch's last step (the
   training time before validation: validation, checkpoints and predictions are
   not counted). The first epoch is a warm-up and is left out.
2. the reference: a minimal loop over the same cached images, converted once to
   a normalised float NCHW tensor (so it does not even pay the per-batch
   uint8 → float conversion that ours does), the same training rows, model
   (``build_model``, same width), batch size, AdamW settings, loss function
   (``multitask_loss``) and number of steps per epoch: index, ``model(x)``,
   loss, ``zero_grad``, ``backward``, ``step``. No augmentation.
3. ours with augmentation on (flips and shifts), as an extra line.

The machine these run on is shared and its load comes in bursts (single epochs
2-4× slower than their neighbours), so the two are *paired* and timed per step:
one reference epoch runs right after each epoch of ours, inside the ``emit``
callback (which the loop calls synchronously, after the epoch's training time
was taken), and a global optimiser post-step hook timestamps every step of both.
The interval between two steps is one whole loop iteration (batch preparation,
forward, loss, backward, step, scheduler, progress reporting). The headline is
the ratio of the median step times over full batches; the fastest tenth of the
steps (p10, the least disturbed) and the epoch times are shown too. Both use
``torch.set_num_threads(--threads)``. Target: ours / reference ≥ 0.95.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from core import runs
from core.demo import create_demo
from core.project import PROJECT_FILE, Project
from core.training.config import TrainConfig
from core.training.image_cache import ImageCache
from core.training.loop import train
from core.training.loss import multitask_loss
from core.training.model import ModelSpec, build_model, to_model_input
from core.training.snapshot import take_snapshot


def ensure_demo(folder: Path, images: int) -> None:
    if (folder / PROJECT_FILE).exists():
        return
    start = time.perf_counter()
    create_demo(folder, images=images, unknown_fraction=0.5, seed=0)
    print(f"created a demo project of {images} images in {time.perf_counter() - start:.1f} s")


class StepClock:
    """The time of every optimiser step of any optimiser (a global post-step hook).

    The interval between two consecutive steps is one whole iteration of a
    training loop: batch preparation, forward, loss, backward, step, scheduler,
    progress reporting. Timestamps go to ``current``, which the harness switches
    between ours and the reference.
    """

    def __init__(self) -> None:
        self.current: list[float] = []
        self.handle = register_optimizer_step_post_hook(self._hook)

    def _hook(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.current.append(time.perf_counter())

    def take(self) -> list[float]:
        stamps, self.current = self.current, []
        return stamps


def full_step_seconds(stamps: list[float], images: int, batch: int) -> list[float]:
    """Intervals ending at steps 2 … n of one epoch, without the last when it is partial.

    The first step of an epoch is left out (ours: its interval would include the
    validation of the previous epoch), the partial last batch too (fewer images).
    """
    intervals = list(np.diff(stamps))
    if images % batch:
        intervals = intervals[:-1]
    return [float(s) for s in intervals]


class Reference:
    """The same work as a plain PyTorch loop, one epoch per call."""

    def __init__(self, project: Project, config: TrainConfig) -> None:
        snap = take_snapshot(project, config.val_fraction)
        array, ok, _ = ImageCache(project.cache_dir, config.image_size).load(snap.items)
        rows = np.flatnonzero(snap.trainable & ok)
        cpu = torch.device("cpu")
        self.x = to_model_input(torch.from_numpy(array[rows]), cpu, False).contiguous()
        self.y = torch.from_numpy(snap.targets[rows].astype(np.float32))
        self.k = torch.from_numpy(snap.known[rows])
        self.loss = config.loss
        self.batch = config.batch_size
        self.images = len(rows)
        torch.manual_seed(config.seed)
        self.model = build_model(ModelSpec(len(snap.task_ids), config.width, config.arch))
        self.model.train()
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )

    def epoch(self) -> float:
        """Seconds of one epoch."""
        n, batch = self.images, self.batch
        start = time.perf_counter()
        order = torch.randperm(n)
        for b in range(math.ceil(n / batch)):
            index = order[b * batch : (b + 1) * batch]
            loss = multitask_loss(
                self.model(self.x[index]), self.y[index], self.k[index], self.loss
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            self.optimizer.step()
        return time.perf_counter() - start


@dataclass
class Side:
    epochs: list[float] = field(default_factory=list)
    """Seconds of each epoch's training phase."""
    steps: list[float] = field(default_factory=list)
    """Seconds of each full step after the warm-up epoch (see ``full_step_seconds``)."""


def paired_run(
    project: Project, config: TrainConfig, reference: Reference, clock: StepClock
) -> tuple[Side, Side]:
    """The real ``train()``; after each of its epochs, one reference epoch (in ``emit``).

    ``emit`` is called synchronously by the training loop, after the epoch's
    training phase has been timed, so the reference epoch is not counted in ours,
    and both see the machine in nearly the same state.
    """
    ours, ref = Side(), Side()
    n, batch = reference.images, config.batch_size
    clock.take()

    def emit(event: dict[str, Any]) -> None:
        if event["event"] == "progress" and event["step"] == event["steps"]:
            ours.epochs.append(float(event["elapsed"]))
        elif event["event"] == "epoch":
            warm = event["epoch"] > 1
            stamps = clock.take()
            if warm:
                ours.steps.extend(full_step_seconds(stamps, n, batch))
            ref.epochs.append(reference.epoch())
            stamps = clock.take()
            if warm:
                ref.steps.extend(full_step_seconds(stamps, n, batch))
        elif event["event"] == "failed":
            raise SystemExit(f"training failed: {event['error']}")

    run_id = train(project, config, emit)
    info = runs.get_run(project, run_id)
    assert info.status == "done", info.error
    assert info.snapshot is not None and info.snapshot["train_images"] == n
    return ours, ref


def seconds_list(values: list[float]) -> str:
    return "[" + ", ".join(f"{s:.2f}" for s in values) + "]"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--images", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=5, help="per run; the 1st is a warm-up")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--keep", type=Path, help="demo project folder (created once, reused)")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first is a warm-up)")

    torch.set_num_threads(args.threads)
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    results: dict[str, tuple[Side, Side]] = {}
    clock = StepClock()
    with tempfile.TemporaryDirectory(prefix="mtlabel-train-bench-") as tmp:
        folder = args.keep or Path(tmp) / "demo"
        ensure_demo(folder, args.images)
        with Project.open(folder) as project:
            config = TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                image_size=args.image_size,
                width=args.width,
                backbone="compact",
                mode="scratch",
                device="cpu",
                augment=False,
                threads=args.threads,
            ).validate()
            snap = take_snapshot(project, config.val_fraction)
            start = time.perf_counter()
            ImageCache(project.cache_dir, config.image_size).load(snap.items)
            print(f"image cache filled/checked in {time.perf_counter() - start:.1f} s")
            reference = Reference(project, config)
            print(
                f"{len(snap.items)} images ({reference.images} training), {args.image_size} px, "
                f"width {args.width}, batch {args.batch_size}, {args.threads} threads, "
                f"{args.epochs} epochs per run (first left out)"
            )
            for name, augment in (("ours", False), ("ours+augment", True)):
                cfg = TrainConfig(**{**config.to_dict(), "augment": augment})
                results[name] = paired_run(project, cfg, reference, clock)
    clock.handle.remove()
    print(f"load average after:  {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    for name, (ours, ref) in results.items():
        print(f"{name:13s} epoch seconds {seconds_list(ours.epochs)}")
        print(f"{'  reference':13s} epoch seconds {seconds_list(ref.epochs)}")
    batch = args.batch_size
    print(
        f"\nimages/s from the per-step times (full batches of {batch}, warm-up epoch left out; "
        "median = typical step, p10 = the fastest tenth, least disturbed by other load):"
    )
    print(
        f"{'':13s} {'steps':>5s} {'median':>8s} {'p10':>8s}   "
        f"{'reference median':>16s} {'p10':>8s}   {'ratio median':>12s} {'ratio p10':>9s}"
    )
    headline = 0.0
    for name, (ours, ref) in results.items():
        o_med, r_med = batch / statistics.median(ours.steps), batch / statistics.median(ref.steps)
        o_p10 = batch / float(np.percentile(ours.steps, 10))
        r_p10 = batch / float(np.percentile(ref.steps, 10))
        if name == "ours":
            headline = o_med / r_med
        print(
            f"{name:13s} {len(ours.steps):5d} {o_med:8.1f} {o_p10:8.1f}   "
            f"{r_med:16.1f} {r_p10:8.1f}   {o_med / r_med:12.3f} {o_p10 / r_p10:9.3f}"
        )
    verdict = "meets" if headline >= 0.95 else "MISSES"
    print(f"\nours / reference = {headline:.3f} (median step; {verdict} the target ≥ 0.95)")


if __name__ == "__main__":
    main()
