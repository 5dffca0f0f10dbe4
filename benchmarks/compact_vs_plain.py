"""The program's training beside a minimal hand-written PyTorch loop, on the same labels.

    python benchmarks/compact_vs_plain.py --kind digits|scenes|photos [--images 2000]
        [--known 0.5] [--seed 7] [--keep DIR] [--epochs 8] [--threads 2]
        [--configs plain,compact,default] [--repeat 1]

A project of ``--kind`` (``eval_sets.py``; a share ``--known`` of the cells known,
the rest hidden) is created in ``--keep`` (or a temporary folder; reused when it
exists). Every image is decoded once into the project's image cache at 64 px, so
neither side pays for decoding inside its clock. Then, on the same labels:

* **plain**: the 30-line loop of the issue — four conv-BN-ReLU-maxpool blocks of
  width 32, global average pooling, one linear layer to the T logits; AdamW at a
  constant 2e-3 (weight decay 1e-4), batch 64, random horizontal flips,
  ``--epochs`` epochs, the masked BCE summed over each image's known cells and
  averaged over the batch; trained on **every** image with a known cell (no
  validation held out), then run over every image;
* **compact**: ``train()`` with ``--backbone compact --mode scratch --epochs E
  --image-size 64`` and the program's other defaults;
* **default**: ``train()`` with the command line's defaults (``mtlabel train PATH``:
  auto, which trains the pretrained head and the compact network and keeps one);
* **pretrained**: ``train()`` with ``--backbone efficientnet-lite0 --mode instant``;
  **lite1**, **lite2**: the same on EfficientNet-Lite1 / -Lite2 (the ``larger`` extra).

For the program's runs the hidden-cell ECE (mean over tasks) of the network's own
probabilities and of the calibrated ones the run stores is printed too.

Each is scored on the **hidden cells** (the cells the project does not know,
against the generator's truth): per task AP, their mean. Times are wall seconds to a
trained model with every image predicted (the program's includes writing its
predictions, checkpoint and epoch records to the project). The ratio printed is
compact's time over plain's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from eval_sets import (  # type: ignore[import-not-found]  # the sibling script
    KINDS,
    hidden_ece,
    hidden_map,
    make_set,
    run_probabilities,
    truth_matrix,
    uncalibrated,
)
from torch import nn

from core.project import PROJECT_FILE, Project
from core.training.config import TrainConfig
from core.training.image_cache import ImageCache
from core.training.loop import train
from core.training.snapshot import LabelSnapshot, take_snapshot

SIZE = 64


def plain_loop(pixels: np.ndarray, snap: LabelSnapshot, epochs: int, seed: int) -> np.ndarray:
    """The minimal loop; probabilities (images, tasks) for every image."""
    torch.manual_seed(seed)
    x_all = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(255)
    x_all = (x_all - 0.5) / 0.25
    y_all = torch.from_numpy(snap.targets.astype(np.float32))
    k_all = torch.from_numpy(snap.known)
    rows = torch.from_numpy(np.flatnonzero(snap.known.any(axis=1)))
    layers: list[nn.Module] = []
    c_in = 3
    for _ in range(4):
        layers += [
            nn.Conv2d(c_in, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        c_in = 32
    model = nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, len(snap.task_ids))
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(epochs):
        model.train()
        order = rows[torch.randperm(len(rows))]
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            x, y, k = x_all[batch], y_all[batch], k_all[batch]
            flip = torch.rand(len(batch)) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
            cell = nn.functional.binary_cross_entropy_with_logits(
                model(x), y.clamp(min=0), reduction="none"
            )
            loss = (cell * k).sum() / len(batch)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    model.eval()
    with torch.no_grad():
        return torch.cat(
            [torch.sigmoid(model(x_all[s : s + 256])) for s in range(0, len(x_all), 256)]
        ).numpy()


def program_run(project: Project, config: TrainConfig) -> tuple[int, dict[str, Any]]:
    seen: dict[str, Any] = {"info": []}

    def emit(event: dict[str, Any]) -> None:
        if event["event"] == "failed":
            raise SystemExit(f"training failed: {event['error']}")
        if event["event"] in ("info", "warning"):
            seen["info"].append(event["message"])
        if event["event"] == "done":
            seen["best_epoch"] = event.get("best_epoch")

    return train(project, config, emit), seen


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--kind", choices=KINDS, default="digits")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--known", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", default="plain,compact,default")
    parser.add_argument("--repeat", type=int, default=1, help="seeds per configuration")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="compact-vs-plain-")) / "project"
    if not (folder / PROJECT_FILE).exists():
        start = time.perf_counter()
        make_set(args.kind, folder, args.images, args.known, args.seed)
        print(f"created {args.kind} set in {folder} ({time.perf_counter() - start:.0f} s)")
    results: dict[str, list[tuple[float | None, float]]] = {}
    with Project.open(folder) as project:
        snap = take_snapshot(project, 0.2)
        truth = truth_matrix(project, snap)
        pixels, ok, _ = ImageCache(project.cache_dir, SIZE).load(snap.items)
        assert ok.all()
        known = snap.known.mean()
        print(
            f"{args.kind}: {len(snap.items)} images, {len(snap.task_ids)} tasks, "
            f"{known:.0%} of cells known, {int((~snap.known).sum())} hidden cells scored",
            flush=True,
        )
        for name in args.configs.split(","):
            for rep in range(args.repeat):
                seed = rep
                start = time.perf_counter()
                notes = ""
                if name == "plain":
                    probs = plain_loop(pixels, snap, args.epochs, seed)
                else:
                    if name == "compact":
                        config = TrainConfig(
                            backbone="compact",
                            mode="scratch",
                            epochs=args.epochs,
                            image_size=SIZE,
                            seed=seed,
                        )
                    elif name == "default":
                        config = TrainConfig(backbone="auto", seed=seed)
                    elif name in ("pretrained", "lite1", "lite2"):
                        backbone = {"lite1": "efficientnet-lite1", "lite2": "efficientnet-lite2"}
                        config = TrainConfig(
                            backbone=backbone.get(name, "efficientnet-lite0"),
                            mode="instant",
                            seed=seed,
                        )
                    else:
                        raise SystemExit(f"unknown configuration {name!r}")
                    run_id, seen = program_run(project, config)
                    probs = run_probabilities(project, run_id, snap)
                    raw = uncalibrated(project, run_id, snap, probs)
                    ece_raw, ece = hidden_ece(raw, snap, truth), hidden_ece(probs, snap, truth)
                    notes = (
                        f"run {run_id}, best epoch {seen.get('best_epoch')}, hidden-cell ECE "
                        f"{_fmt(ece_raw)} → {_fmt(ece)} calibrated"
                    )
                    kept = [m for m in seen["info"] if m.startswith("auto: ") and "kept" in m]
                    if kept:
                        notes += "\n      " + kept[-1]
                seconds = time.perf_counter() - start
                value = hidden_map(probs, snap, truth)
                results.setdefault(name, []).append((value, seconds))
                shown = "n/a" if value is None else f"{value:.3f}"
                print(
                    f"  {name:<8s} seed {seed}: hidden-cell mAP {shown}  {seconds:6.1f} s  {notes}",
                    flush=True,
                )
    print("summary (median over seeds):")
    medians = {}
    for name, values in results.items():
        aps = [v for v, _ in values if v is not None]
        ap = statistics.median(aps) if aps else float("nan")
        secs = statistics.median(s for _, s in values)
        medians[name] = (ap, secs)
        print(f"  {name:<8s} hidden-cell mAP {ap:.3f}  {secs:6.1f} s")
    if "plain" in medians and "compact" in medians:
        (pa, ps), (ca, cs) = medians["plain"], medians["compact"]
        print(f"  compact − plain: {ca - pa:+.3f} mAP; time ratio compact/plain {cs / ps:.2f}")


if __name__ == "__main__":
    main()
