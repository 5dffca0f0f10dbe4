"""How well "likely label errors" finds planted wrong labels: in-sample vs cross-fitted.

    python benchmarks/label_errors.py --kind scenes|photos|digits [--images 1000]
        [--known 0.5] [--flip 0.05] [--seed 7] [--keep DIR] [--backbone efficientnet-lite0]

A set of ``--kind`` is created (``eval_sets.py``), then a share ``--flip`` of its
known cells, drawn at random, is set to the wrong value. An instant run is
trained on those labels (``--mode instant``: its head is cross-fitted, see
``core/training/crossfit.py``). Every known cell gets a flag score — the
probability of the value other than its label — from

* **in-sample**: the run's stored prediction (a model that trained on the label,
  for training cells), and
* **cross-fitted**: the run's label check (out of fold for training cells).

Printed for each: precision of the top-k flagged cells with k = the number of
flips, and the ROC-AUC of the score against "this label was flipped"
(scikit-learn), over all known cells and over the training cells alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from eval_sets import KINDS, make_set  # type: ignore[import-not-found]  # the sibling script
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
from sqlalchemy import select

from core import runs
from core.db.models import LabelCheck
from core.labels import set_cells
from core.project import PROJECT_FILE, Project
from core.training.config import TrainConfig
from core.training.loop import train
from core.training.snapshot import take_snapshot


def flip_labels(project: Project, share: float, seed: int) -> set[tuple[int, int]]:
    """Set a random ``share`` of the known cells to the other value; the flipped cells."""
    snap = take_snapshot(project, 0.2)
    cells = [
        (snap.items[r].image_id, snap.task_ids[j], int(snap.targets[r, j]))
        for r, j in np.argwhere(snap.known)
    ]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(cells), size=max(1, round(share * len(cells))), replace=False)
    set_cells(project, [(cells[i][0], cells[i][1], 1 - cells[i][2]) for i in chosen])
    return {(cells[i][0], cells[i][1]) for i in chosen}


def scores(
    project: Project, run_id: int
) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray, np.ndarray]:
    """(known cells, in-sample score, cross-fitted score, is-training-cell)."""
    snap = take_snapshot(project, 0.2)
    image_ids, task_ids, probs = runs.read_predictions(project, run_id)
    p_of = {(i, t): probs[a, b] for a, i in enumerate(image_ids) for b, t in enumerate(task_ids)}
    with project.reading() as session:
        checks = {
            (int(i), int(t)): float(p)
            for i, t, p in session.execute(
                select(LabelCheck.image_id, LabelCheck.task_id, LabelCheck.probability).where(
                    LabelCheck.run_id == run_id
                )
            )
        }
    cells, inside, crossed, training = [], [], [], []
    for r, j in np.argwhere(snap.known):
        cell = (snap.items[r].image_id, snap.task_ids[j])
        label = int(snap.targets[r, j])
        cells.append(cell)
        p, q = float(p_of[cell]), checks[cell]
        inside.append(1 - p if label == 1 else p)
        crossed.append(1 - q if label == 1 else q)
        training.append(bool(snap.trainable[r]))
    return cells, np.array(inside), np.array(crossed), np.array(training)


def report(
    name: str, cells: list[tuple[int, int]], score: np.ndarray, flipped: set[tuple[int, int]]
) -> str:
    truth = np.array([c in flipped for c in cells])
    k = int(truth.sum())
    top = np.argsort(-score, kind="stable")[:k]
    precision = truth[top].mean() if k else float("nan")
    auc = roc_auc_score(truth, score) if 0 < k < len(cells) else float("nan")
    return f"{name:<13s} precision@{k} {precision:.3f}  ROC-AUC {auc:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--kind", choices=KINDS, default="scenes")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--known", type=float, default=0.5)
    parser.add_argument("--flip", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--backbone", default="efficientnet-lite0")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="label-errors-")) / "project"
    fresh = not (folder / PROJECT_FILE).exists()
    if fresh:
        make_set(args.kind, folder, args.images, args.known, args.seed)
    with Project.open(folder) as project:
        if not fresh:
            raise SystemExit(f"{folder} exists: give a new --keep folder (labels get flipped)")
        flipped = flip_labels(project, args.flip, args.seed)
        start = time.perf_counter()
        config = TrainConfig(backbone=args.backbone, mode="instant", seed=0)
        run_id = train(project, config, lambda e: None)
        seconds = time.perf_counter() - start
        cells, inside, crossed, training = scores(project, run_id)
    print(
        f"{args.kind}: {args.images} images, {args.known:.0%} known, {len(flipped)} of "
        f"{len(cells)} known cells flipped; instant run {run_id} in {seconds:.0f} s"
    )
    for subset, mask in (("all known cells", np.ones(len(cells), bool)), ("training", training)):
        sub = [c for c, m in zip(cells, mask, strict=True) if m]
        print(f"  {subset}:")
        print("    " + report("in-sample", sub, inside[mask], flipped))
        print("    " + report("cross-fitted", sub, crossed[mask], flipped))


if __name__ == "__main__":
    main()
