"""One-change-at-a-time variants of the plain loop, to find why a network trains worse.

    python benchmarks/compact_ablation.py PROJECT [--net plain|blocks16|blocks24|
        residual|blocks24-hidden|blocks24-hidden-ln|blocks24-hidden-bn|
        blocks24-hidden-bn-nodrop]
        [--rows all|train] [--sched const|onecycle] [--lr 2e-3] [--wd 1e-4]
        [--aug flip|flipshift|shift|none] [--epochs 8] [--seed 0]

``PROJECT`` is a set made by ``compact_vs_plain.py --keep`` (its 64 px image cache
filled). Prints the hidden-cell mAP and the wall seconds of one variant; the
table in docs/measurements.md is one line of this per variant.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from eval_sets import hidden_map, truth_matrix  # type: ignore[import-not-found]
from torch import nn

from core.project import Project
from core.training.augment import augment_batch
from core.training.image_cache import ImageCache
from core.training.model import MultiTaskNet
from core.training.snapshot import take_snapshot


def _blocks(widths: list[int], n_tasks: int) -> nn.Module:
    layers: list[nn.Module] = []
    c_in = 3
    for w in widths:
        layers += [
            nn.Conv2d(c_in, w, 3, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        c_in = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, n_tasks))


def network(kind: str, n_tasks: int) -> nn.Module:
    if kind == "plain":
        return _blocks([32, 32, 32, 32], n_tasks)
    if kind == "blocks16":
        return _blocks([16, 32, 64, 128], n_tasks)
    if kind == "blocks24":
        return _blocks([24, 48, 96, 192], n_tasks)
    if kind == "residual":
        return MultiTaskNet(n_tasks, 24, design="residual")
    net = MultiTaskNet(n_tasks, 24, design="blocks")
    norm: dict[str, list[nn.Module]] = {
        "blocks24-hidden": [],
        "blocks24-hidden-ln": [nn.LayerNorm(96)],
        "blocks24-hidden-bn": [nn.BatchNorm1d(96)],
    }
    if kind == "blocks24-hidden-bn-nodrop":
        net.shared = nn.Sequential(nn.Linear(192, 96), nn.BatchNorm1d(96), nn.ReLU())
        return net
    if kind not in norm:
        raise SystemExit(f"unknown --net {kind!r}")
    net.shared = nn.Sequential(nn.Linear(192, 96), *norm[kind], nn.ReLU(), nn.Dropout(0.2))
    return net


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("project", type=Path)
    p.add_argument("--net", default="plain")
    p.add_argument("--rows", choices=("all", "train"), default="all")
    p.add_argument("--sched", choices=("const", "onecycle"), default="const")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--aug", choices=("flip", "flipshift", "shift", "none"), default="flip")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(2)
    with Project.open(a.project) as project:
        snap = take_snapshot(project, 0.2)
        truth = truth_matrix(project, snap)
        pixels, _ok, _ = ImageCache(project.cache_dir, 64).load(snap.items)
    start = time.perf_counter()
    torch.manual_seed(a.seed)
    generator = torch.Generator().manual_seed(a.seed)
    x_all = (torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(255) - 0.5) / 0.25
    y_all = torch.from_numpy(snap.targets.astype(np.float32))
    k_all = torch.from_numpy(snap.known)
    rows = torch.from_numpy(
        np.flatnonzero(snap.known.any(axis=1) if a.rows == "all" else snap.trainable)
    )
    model = network(a.net, len(snap.task_ids))
    optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd)
    steps = (len(rows) + 63) // 64 * a.epochs
    scheduler = (
        torch.optim.lr_scheduler.OneCycleLR(optimizer, a.lr, total_steps=steps, pct_start=0.15)
        if a.sched == "onecycle"
        else None
    )
    for _ in range(a.epochs):
        model.train()
        order = rows[torch.randperm(len(rows))]
        for s in range(0, len(order), 64):
            batch = order[s : s + 64]
            x, y, k = x_all[batch], y_all[batch], k_all[batch]
            if a.aug != "none":
                shift = 0 if a.aug == "flip" else 4
                x = augment_batch(x, generator, shift, flip=a.aug != "shift")
            cell = nn.functional.binary_cross_entropy_with_logits(
                model(x), y.clamp(min=0), reduction="none"
            )
            loss = (cell * k).sum() / len(batch)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    model.eval()
    with torch.no_grad():
        probs = torch.cat(
            [torch.sigmoid(model(x_all[s : s + 256])) for s in range(0, len(x_all), 256)]
        ).numpy()
    value = hidden_map(probs, snap, truth)
    shown = "n/a" if value is None else f"{value:.3f}"
    print(
        f"{' '.join(sys.argv[2:]) or 'plain'}: hidden-cell mAP {shown}  "
        f"{time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
