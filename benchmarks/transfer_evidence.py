"""Does a pretrained backbone pay on a labelling project? Time to a model and mean AP.

    python benchmarks/transfer_evidence.py --keep DIR [--kind scenes|photos] [--images 1100]
        [--budgets 50,200,1000] [--finetune-epochs 2] [--finetune-size 224]
        [--modes compact,instant,finetune] [--threads 2]

A demo project of ``--images`` images, every cell known with probability 0.5:
``--kind scenes`` (``core.demo``: drawn street scenes, four tasks) or ``--kind
photos`` (``photo_set.py``: photographs of five objects composited on
photographed textures, five tasks). For each budget K, only the
first K images of a fixed random order keep their labels (K *labelled* images,
half of their cells known); every other cell is unknown. Then, each on the
same labels and the same stable train/validation split:

(a) **compact**: the compact network from scratch (the defaults: 64 px, 12 epochs);
(b) **instant**: EfficientNet-Lite0 (ImageNet weights, 224 px) frozen, features
    cached, shared head trained on them (the defaults: 4 views, 12 epochs) —
    timed twice: the first run of the budget (computing whatever features it
    lacks: the features of every image the first time, then only the extra
    views of newly labelled images) and a retrain with everything cached;
(c) **finetune**: the last stages of the same backbone trained too, starting
    from (b)'s head (linear probe, then fine-tune), for ``--finetune-epochs``
    epochs at ``--finetune-size`` px — few epochs, because on a 2-core CPU a
    224 px fine-tuning epoch over 800 images takes minutes.

Reported per run: seconds to a trained model (``train()``'s wall time, all
predictions written), the validation mean AP the program shows, and the mean
AP on the **hidden truth** (``core.demo.read_truth``): every cell the run did
not know — the unknown cells of labelled images and all cells of unlabelled
ones — scored from the run's stored predictions.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from photo_set import create_photo_set  # type: ignore[import-not-found]  # the sibling script

from core import runs
from core.demo import create_demo, read_truth
from core.demo.project import images_folder
from core.labels import CellValue, set_cells
from core.project import PROJECT_FILE, Project
from core.training.config import TrainConfig
from core.training.loop import train
from core.training.metrics import mean_ap, task_metrics
from core.training.snapshot import LabelSnapshot, take_snapshot

VAL_FRACTION = 0.2


@dataclass
class Result:
    budget: int
    name: str
    seconds: float
    val_ap: float | None
    hidden_ap: float | None
    run_id: int
    note: str = ""


def labelled_state(full: LabelSnapshot, order: np.ndarray, budget: int) -> np.ndarray:
    """The demo's known cells for the first ``budget`` images of ``order``; -1 elsewhere."""
    targets = np.full_like(full.targets, -1)
    keep = order[:budget]
    targets[keep] = full.targets[keep]
    return targets


def apply_state(project: Project, targets: np.ndarray) -> None:
    now = take_snapshot(project, VAL_FRACTION)
    cells: list[tuple[int, int, CellValue]] = []
    for r, c in zip(*np.nonzero(now.targets != targets), strict=True):
        value = int(targets[r, c])
        cells.append((now.items[r].image_id, now.task_ids[c], None if value == -1 else value))
    if cells:
        set_cells(project, cells)


def truth_matrix(project: Project, snap: LabelSnapshot) -> np.ndarray:
    truth = read_truth(project.root)
    folder = images_folder(project.root)
    return np.array(
        [
            [truth[str(Path(item.path).relative_to(folder))][name] for name in snap.task_names]
            for item in snap.items
        ],
        dtype=np.int8,
    )


def hidden_ap(project: Project, run_id: int, snap: LabelSnapshot, truth: np.ndarray) -> float:
    """Mean AP of the run's predictions on the cells its snapshot did not know."""
    image_ids, task_ids, probs = runs.read_predictions(project, run_id)
    assert task_ids == snap.task_ids
    row_of = {item.image_id: r for r, item in enumerate(snap.items)}
    rows = np.array([row_of[i] for i in image_ids])
    hidden = snap.targets[rows] == -1
    scored = np.where(hidden, truth[rows], -1)
    value = mean_ap(task_metrics(probs, scored, snap.task_ids, snap.task_names))
    assert value is not None
    return value


def run_one(project: Project, config: TrainConfig) -> tuple[int, float]:
    def emit(event: dict[str, Any]) -> None:
        if event["event"] == "failed":
            raise SystemExit(f"training failed: {event['error']}")

    start = time.perf_counter()
    run_id = train(project, config, emit)
    return run_id, time.perf_counter() - start


def evaluate(
    project: Project, budget: int, name: str, config: TrainConfig, truth: np.ndarray, note: str = ""
) -> Result:
    run_id, seconds = run_one(project, config)
    info = runs.get_run(project, run_id)
    snap = take_snapshot(project, VAL_FRACTION)
    result = Result(
        budget,
        name,
        seconds,
        info.best_mean_ap,
        hidden_ap(project, run_id, snap, truth),
        run_id,
        note,
    )
    print(
        f"  K={budget:<5d} {name:<18s} {seconds:7.1f} s   val mAP {_f(result.val_ap)}   "
        f"hidden mAP {_f(result.hidden_ap)}  {note}",
        flush=True,
    )
    return result


def _f(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--kind", choices=("scenes", "photos"), default="scenes")
    parser.add_argument("--images", type=int, default=1100)
    parser.add_argument("--budgets", default="50,200,1000")
    parser.add_argument("--modes", default="compact,instant,finetune")
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--finetune-size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, required=True, help="project folder (reused)")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    modes = args.modes.split(",")
    torch.set_num_threads(args.threads)
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if not (args.keep / PROJECT_FILE).exists():
        start = time.perf_counter()
        if args.kind == "photos":
            create_photo_set(args.keep, args.images, 0.5, args.seed)
        else:
            create_demo(args.keep, images=args.images, unknown_fraction=0.5, seed=args.seed)
        print(
            f"created a {args.kind} project of {args.images} images "
            f"in {time.perf_counter() - start:.0f} s"
        )
    results: list[Result] = []
    common: dict[str, Any] = {"device": "cpu", "val_fraction": VAL_FRACTION, "seed": 0}
    with Project.open(args.keep) as project:
        full = take_snapshot(project, VAL_FRACTION)
        if (full.targets != -1).mean() < 0.4:
            raise SystemExit("the project's labels were changed: start from a fresh --keep folder")
        truth = truth_matrix(project, full)
        order = np.random.default_rng(args.seed).permutation(len(full.items))
        try:
            for budget in budgets:
                apply_state(project, labelled_state(full, order, budget))
                print(f"budget {budget} labelled images of {len(full.items)}:", flush=True)
                if "compact" in modes:
                    config = TrainConfig(backbone="compact", mode="scratch", **common)
                    results.append(evaluate(project, budget, "compact scratch", config, truth))
                instant = None
                if "instant" in modes or "finetune" in modes:
                    config = TrainConfig(backbone="efficientnet-lite0", mode="instant", **common)
                    instant = evaluate(
                        project, budget, "instant", config, truth, "(features computed as needed)"
                    )
                    results.append(instant)
                    results.append(
                        evaluate(project, budget, "instant retrain", config, truth, "(all cached)")
                    )
                if "finetune" in modes and instant is not None:
                    config = TrainConfig(
                        backbone="efficientnet-lite0",
                        mode="finetune",
                        epochs=args.finetune_epochs,
                        image_size=args.finetune_size,
                        init_from=instant.run_id,
                        **common,
                    )
                    note = (
                        f"({args.finetune_epochs} epochs at {args.finetune_size} px, from instant)"
                    )
                    results.append(evaluate(project, budget, "finetune", config, truth, note))
        finally:
            apply_state(project, full.targets)  # the demo's labels back
    print()
    print("budget  mode               seconds  val mAP  hidden mAP")
    for r in results:
        val, hidden = _f(r.val_ap), _f(r.hidden_ap)
        print(f"{r.budget:6d}  {r.name:<18s} {r.seconds:7.1f}  {val:>7s}  {hidden:>10s}")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
