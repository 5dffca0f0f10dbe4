"""Partial-label losses beside plain masking, scored on the hidden cells.

    python benchmarks/partial_labels.py PROJECT [PROJECT ...] [--modes instant,scratch]
        [--losses masked,partial,known-mean,large-loss] [--epochs 12] [--seed 0]

Each PROJECT is an evaluation set made by ``eval_sets.py`` (for example kept by
``compact_vs_plain.py --keep``). For every mode and loss one run is trained with
the program's defaults otherwise (instant: EfficientNet-Lite0 features, cached
after the first run; scratch: the compact network at 64 px), and its stored
predictions are scored on the cells the project does not know (mean AP over
tasks, against the generator's truth). The losses are ``core/training/loss.py``'s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from eval_sets import hidden_map, run_probabilities, truth_matrix  # type: ignore[import-not-found]

from core.project import Project
from core.training.config import TrainConfig
from core.training.loop import train
from core.training.snapshot import take_snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("projects", nargs="+", type=Path)
    parser.add_argument("--modes", default="instant,scratch")
    parser.add_argument("--losses", default="masked,partial,known-mean,large-loss")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for folder in args.projects:
        with Project.open(folder) as project:
            snap = take_snapshot(project, 0.2)
            truth = truth_matrix(project, snap)
            print(f"{folder.name}: {len(snap.items)} images, {snap.known.mean():.0%} known")
            for mode in args.modes.split(","):
                backbone = "efficientnet-lite0" if mode == "instant" else "compact"
                for loss in args.losses.split(","):
                    config = TrainConfig(
                        backbone=backbone, mode=mode, loss=loss, epochs=args.epochs, seed=args.seed
                    )
                    start = time.perf_counter()
                    run_id = train(project, config, lambda e: None)
                    seconds = time.perf_counter() - start
                    value = hidden_map(run_probabilities(project, run_id, snap), snap, truth)
                    shown = "n/a" if value is None else f"{value:.3f}"
                    print(
                        f"  {mode:<8s} {loss:<11s} hidden-cell mAP {shown}  {seconds:5.0f} s",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
