"""Evidence that training on partial labels works: recovered hidden cells, per loss and network.

    python benchmarks/partial_labels_evidence.py --images 2000 --unknown 0.5 --epochs 20
        [--seed 0] [--width 24] [--image-size 64] [--lr 3e-3] [--batch-size 64]
        [--threads 2] [--variants masked,assume-negative,separate] [--keep DIR] [--out FILE]

Creates a demo project (``create_demo``: synthetic street scenes, four tasks, a
share ``--unknown`` of the image × task cells hidden at random; reused when
``--keep DIR`` already holds one with the same images and seed), then trains on
the same labels (the compact network from scratch, same settings otherwise):

* masked: the shared network, unknown cells left out of the loss (DESIGN.md);
* assume-negative: the shared network, unknown cells taken as absent (the usual
  shortcut, the baseline);
* separate: one network per task, each of the shared network's width, masked
  loss (Caruana's comparison: does sharing help?);
* partial (optional): the shared network with Durand et al.'s per-image weights.

Each run is scored against the demo's hidden truth (``read_truth``): for every
cell that was *unknown* in the project's labels, the run's stored prediction
(``runs.read_predictions``) against the true value, per task AP
(``sklearn.metrics.average_precision_score``, non-interpolated) and their mean,
over all hidden cells and over the hidden cells of validation images only (images
the network never trained on). Next to it the AP on the *known* validation cells
that the run itself reports (``runs.run_task_metrics``, its best epoch), the
training wall time and images/s. Chance level of AP is the prevalence, printed
too. Everything is printed; ``--out`` also writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score  # type: ignore[import-untyped]
from sqlalchemy import select

from core import runs
from core.db.models import Image
from core.demo import create_demo, read_truth
from core.project import PROJECT_FILE, Project
from core.training.config import TrainConfig
from core.training.image_cache import ImageCache
from core.training.loop import train
from core.training.snapshot import UNKNOWN, LabelSnapshot, take_snapshot

DEMO_MARKER = "evidence-demo.json"
"""Written into a ``--keep`` folder: the demo's images, unknown share and seed."""

VARIANTS: dict[str, dict[str, str]] = {
    "masked": {"loss": "masked", "arch": "shared"},
    "assume-negative": {"loss": "assume-negative", "arch": "shared"},
    "separate": {"loss": "masked", "arch": "separate"},
    "partial": {"loss": "partial", "arch": "shared"},
}


@dataclass
class Truth:
    """The project's labels and the hidden truth, aligned with the snapshot's rows."""

    snap: LabelSnapshot
    truth: np.ndarray
    """(images, tasks) 0/1: every cell's true value."""

    @property
    def hidden(self) -> np.ndarray:
        return np.asarray(self.snap.targets == UNKNOWN)


@dataclass
class Result:
    variant: str
    run_id: int
    status: str
    wall_seconds: float
    train_seconds: float
    """Sum of the epochs' training phases (validation, checkpoints, predictions excluded)."""
    images_per_second: float
    best_epoch: int | None
    hidden_ap: dict[str, float | None] = field(default_factory=dict)
    hidden_mean_ap: float | None = None
    hidden_val_ap: dict[str, float | None] = field(default_factory=dict)
    hidden_val_mean_ap: float | None = None
    known_val_ap: dict[str, float | None] = field(default_factory=dict)
    known_val_mean_ap: float | None = None
    val_mean_ap_per_epoch: list[float | None] = field(default_factory=list)


def load_truth(project: Project, val_fraction: float) -> Truth:
    snap = take_snapshot(project, val_fraction)
    truth_by_path = read_truth(project.root)
    with project.transaction() as session:
        rel: dict[int, str] = {i: p for i, p in session.execute(select(Image.id, Image.rel_path))}
    truth = np.zeros(snap.targets.shape, dtype=np.int8)
    for r, item in enumerate(snap.items):
        row = truth_by_path[rel[item.image_id]]
        truth[r] = [row[name] for name in snap.task_names]
    known = snap.targets != UNKNOWN
    # The labels the project holds must be the truth wherever they are known.
    assert (snap.targets[known] == truth[known]).all(), "a known label differs from the truth"
    return Truth(snap, truth)


def ap_or_none(y: np.ndarray, scores: np.ndarray) -> float | None:
    if len(y) == 0 or y.min() == y.max():
        return None  # AP needs both classes
    return float(average_precision_score(y, scores))


def mean_of(values: dict[str, float | None]) -> float | None:
    present = [v for v in values.values() if v is not None]
    return statistics.fmean(present) if present else None


def score_hidden(truth: Truth, run_id: int, project: Project) -> tuple[dict[str, Any], ...]:
    """Per-task AP over the hidden cells: (all images, validation images only)."""
    image_ids, task_ids, probs = runs.read_predictions(project, run_id)
    r_of = {i: n for n, i in enumerate(image_ids)}
    c_of = {t: n for n, t in enumerate(task_ids)}
    rows = [r_of[item.image_id] for item in truth.snap.items]
    cols = [c_of[t] for t in truth.snap.task_ids]
    aligned = probs[np.ix_(rows, cols)]
    assert not np.isnan(aligned).any(), "a prediction is missing"
    every: dict[str, float | None] = {}
    val_only: dict[str, float | None] = {}
    for j, name in enumerate(truth.snap.task_names):
        hidden = truth.hidden[:, j]
        every[name] = ap_or_none(truth.truth[hidden, j], aligned[hidden, j])
        hv = hidden & truth.snap.is_val
        val_only[name] = ap_or_none(truth.truth[hv, j], aligned[hv, j])
    return every, val_only


def run_variant(
    project: Project, truth: Truth, variant: str, base: TrainConfig, verbose: bool
) -> Result:
    config = TrainConfig(**{**base.to_dict(), **VARIANTS[variant]}).validate()
    train_seconds: dict[int, float] = {}
    failure: list[str] = []

    def emit(event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "progress" and event["step"] == event["steps"]:
            train_seconds[event["epoch"]] = float(event["elapsed"])
        elif kind == "epoch" and verbose:
            ap = event["mean_ap"]
            print(
                f"    {variant} epoch {event['epoch']:2d}: train loss {event['train_loss']:.3f}, "
                f"val loss {event['val_loss']:.3f}, val mean AP "
                f"{'n/a' if ap is None else f'{ap:.3f}'}, {event['seconds']:.1f} s",
                flush=True,
            )
        elif kind == "failed":
            failure.append(str(event["error"]))

    start = time.perf_counter()
    run_id = train(project, config, emit)
    wall = time.perf_counter() - start
    info = runs.get_run(project, run_id)
    if info.status != "done":
        raise SystemExit(f"{variant}: run {run_id} {info.status}: {info.error or failure}")
    assert info.snapshot is not None
    seconds = sum(train_seconds.values())
    images = int(info.snapshot["train_images"]) * len(train_seconds)
    result = Result(variant, run_id, info.status, wall, seconds, images / seconds, info.best_epoch)
    result.hidden_ap, result.hidden_val_ap = score_hidden(truth, run_id, project)
    result.hidden_mean_ap = mean_of(result.hidden_ap)
    result.hidden_val_mean_ap = mean_of(result.hidden_val_ap)
    result.known_val_ap = {m.name: m.ap for m in runs.run_task_metrics(project, run_id)}
    result.known_val_mean_ap = mean_of(result.known_val_ap)
    result.val_mean_ap_per_epoch = [e.mean_ap for e in runs.run_epochs(project, run_id)]
    return result


def fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def print_report(truth: Truth, results: list[Result]) -> None:
    names = truth.snap.task_names
    hidden, val = truth.hidden, truth.snap.is_val
    width = max(16, *(len(n) + 2 for n in names))
    header = f"{'':{width}s}" + "".join(f"{r.variant:>17s}" for r in results)

    def table(title: str, pick: str, mask: np.ndarray) -> None:
        print(f"\n{title}")
        print(f"{header}{'prevalence':>12s}{'cells':>8s}")
        for j, name in enumerate(names):
            cells = mask[:, j]
            prevalence = float(truth.truth[cells, j].mean()) if cells.any() else float("nan")
            line = "".join(f"{fmt(getattr(r, pick).get(name)):>17s}" for r in results)
            print(f"{name:{width}s}{line}{fmt(prevalence):>12s}{int(cells.sum()):8d}")
        line = "".join(f"{fmt(getattr(r, pick.replace('_ap', '_mean_ap'))):>17s}" for r in results)
        print(f"{'mean AP':{width}s}{line}")

    table("AP on the HIDDEN cells (unknown in the labels), all images:", "hidden_ap", hidden)
    table(
        "AP on the hidden cells of validation images (never trained on):",
        "hidden_val_ap",
        hidden & val[:, None],
    )
    known_val = (~hidden) & val[:, None]
    table("AP on the KNOWN validation cells (the run's own metrics):", "known_val_ap", known_val)
    print("\ntraining")
    print(header)
    rows: list[tuple[str, list[str]]] = [
        ("run id", [str(r.run_id) for r in results]),
        ("best epoch", [str(r.best_epoch) for r in results]),
        ("wall time (s)", [f"{r.wall_seconds:.1f}" for r in results]),
        ("train phase (s)", [f"{r.train_seconds:.1f}" for r in results]),
        ("images/s", [f"{r.images_per_second:.1f}" for r in results]),
    ]
    for label, values in rows:
        print(f"{label:{width}s}" + "".join(f"{v:>17s}" for v in values))
    print("\nvalidation mean AP (known cells) per epoch:")
    for r in results:
        print(f"  {r.variant:16s} " + " ".join(fmt(v, 2) for v in r.val_mean_ap_per_epoch))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--unknown", type=float, default=0.5, help="share of hidden cells")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="demo images, labels and training")
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument(
        "--variants",
        default="masked,assume-negative,separate",
        help=f"comma-separated, from {', '.join(VARIANTS)}",
    )
    parser.add_argument("--keep", type=Path, help="demo project folder (created once, reused)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        parser.error(f"--variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")

    torch.set_num_threads(args.threads)
    base = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        image_size=args.image_size,
        width=args.width,
        backbone="compact",
        mode="scratch",
        device="cpu",
        seed=args.seed,
        augment=not args.no_augment,
        threads=args.threads,
    ).validate()
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mtlabel-evidence-") as tmp:
        folder = args.keep or Path(tmp) / "demo"
        demo = {"images": args.images, "unknown": args.unknown, "seed": args.seed}
        marker = folder / DEMO_MARKER
        if not (folder / PROJECT_FILE).exists():
            start = time.perf_counter()
            summary = create_demo(
                folder, images=args.images, unknown_fraction=args.unknown, seed=args.seed
            )
            marker.write_text(json.dumps(demo), encoding="utf-8")
            print(
                f"created a demo project: {summary.images} images, {summary.known_cells} known "
                f"and {summary.unknown_cells} unknown cells, in {time.perf_counter() - start:.1f} s"
            )
        elif not marker.exists() or json.loads(marker.read_text(encoding="utf-8")) != demo:
            found = marker.read_text(encoding="utf-8") if marker.exists() else "no record"
            raise SystemExit(
                f"{folder} holds a demo project made with other settings ({found}), not "
                f"{demo}: give another --keep folder"
            )
        with Project.open(folder) as project:
            truth = load_truth(project, base.val_fraction)
            snap = truth.snap
            n_images, n_tasks = snap.targets.shape
            start = time.perf_counter()
            ImageCache(project.cache_dir, args.image_size).load(snap.items)
            print(f"image cache filled/checked in {time.perf_counter() - start:.1f} s")
            print(
                f"{n_images} images × {n_tasks} tasks, {truth.hidden.mean():.0%} of the cells "
                f"unknown; {int(snap.trainable.sum())} training and {int(snap.validation.sum())} "
                f"validation images with a known cell; {args.epochs} epochs, lr {args.lr}, "
                f"batch {args.batch_size}, {args.image_size} px, width {args.width}, "
                f"augment {not args.no_augment}, {args.threads} threads, seed {args.seed}"
            )
            for variant in variants:
                print(f"\n== {variant} ({VARIANTS[variant]}) ==", flush=True)
                result = run_variant(project, truth, variant, base, not args.quiet)
                print(
                    f"  hidden-cell mean AP {fmt(result.hidden_mean_ap)}, known-val mean AP "
                    f"{fmt(result.known_val_mean_ap)}, {result.wall_seconds:.0f} s",
                    flush=True,
                )
                results.append(result)
            print_report(truth, results)
    print(f"\nload average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.out:
        payload = {
            "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "config": base.to_dict(),
            "results": [asdict(r) for r in results],
        }
        args.out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
