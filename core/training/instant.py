"""Instant mode: a frozen pretrained backbone, training on its cached features only.

The features of every image are computed once (features.py, feature_cache.py);
a run then fits the shared hidden layer and the task outputs (heads.py) on them
— a few hundred small matrix products, seconds on a laptop CPU. Same masked
loss, metrics, records, checkpoint and predictions as the image loop; the
checkpoint holds the head only, with the backbone's spec (name, weights hash,
input size, normalisation), so prediction rebuilds the identical backbone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from core.project import Project
from core.training.backbones import BackboneSpec, feature_backbone
from core.training.calibration import Calibration
from core.training.config import TrainConfig
from core.training.device import DeviceInfo
from core.training.errors import RunFailed, TrainingCancelled
from core.training.features import FeatureSet, gather
from core.training.head_optim import OneCycleAdamW
from core.training.heads import build_head
from core.training.loss import multitask_loss, positive_weights, rejection_rates
from core.training.predict import probabilities, write_run_predictions
from core.training.progress import EpochProgress, Heartbeat
from core.training.records import EpochRecorder, checked_snapshot, record_snapshot
from core.training.snapshot import LabelSnapshot
from core.training.warm_start import warm_start

Emit = Callable[[dict[str, Any]], None]
Cancel = Callable[[], bool]

MIN_SAMPLES_PER_EPOCH = 2048
"""An epoch draws at least this many (image, view) samples, going over a small
training set several times, so that a run of the default 12 epochs takes a few
hundred optimisation steps even on 50 labelled images …"""
MAX_SAMPLES_PER_EPOCH = 4096
"""… and at most this many, a random part of a large training set, so that the
cost of a retrain stays bounded (12 epochs × 4,096 samples ≈ 6 passes over 8,000
training images, which the head has long fitted by then)."""
EVAL_BATCH = 4096


@torch.no_grad()
def head_probabilities(
    head: nn.Module,
    features: Tensor,
    rows: np.ndarray,
    calibration: Calibration | None = None,
    raw: bool = False,
) -> np.ndarray:
    """Sigmoid outputs (len(rows), T) of the head on the given rows of ``features``
    (calibrated when ``calibration`` is given; the logits themselves when ``raw``)."""
    head.eval()
    out = []
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    for start in range(0, len(index), EVAL_BATCH):
        chunk = index[start : start + EVAL_BATCH].to(features.device)
        z = head(features[chunk])
        out.append((z.float() if raw else probabilities(z, calibration)).cpu())
    head.train()
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy()


def load_features(
    project: Project,
    snap: LabelSnapshot,
    config: TrainConfig,
    device: DeviceInfo,
    emit: Emit,
    cancel: Cancel,
    extra_rows: np.ndarray,
) -> tuple[FeatureSet, BackboneSpec]:
    spec, backbone = feature_backbone(config.backbone)
    features = gather(
        project,
        snap,
        backbone,
        spec,
        config.image_size,
        config.views,
        extra_rows.astype(np.int64),
        device,
        emit,
        cancel,
    )
    emit(
        {
            "event": "info",
            "message": f"features of {spec.name} at {config.image_size} px: "
            f"{features.computed} computed, {features.reused} from the cache "
            f"({features.seconds:.1f} s)",
        }
    )
    return features, spec


@dataclass
class HeadData:
    """What the head trains on, on the device."""

    base: Tensor  # (n, dim): view 0 of every image of the snapshot
    views: Tensor  # (n_train, views, dim): every view of the training images
    targets: Tensor  # (n_train, T) float
    known: Tensor  # (n_train, T) bool
    val_rows: np.ndarray
    train_rows: np.ndarray
    """The snapshot rows of the training images, in the order of ``views``."""


def train_instant(
    project: Project,
    run_id: int,
    run_dir: Path,
    config: TrainConfig,
    device: DeviceInfo,
    emit: Emit,
    cancel: Cancel,
) -> None:
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    snap = checked_snapshot(project, config)
    candidates = np.flatnonzero(snap.trainable)
    heartbeat = Heartbeat(project, run_id)
    features, spec = load_features(
        project, snap, config, device, heartbeat.emitting(emit), cancel, candidates
    )
    record_snapshot(project, run_id, device.description, snap, features.ok)
    torch.manual_seed(config.seed)  # again: building the backbone, if it was, drew numbers
    keep = features.ok[candidates]
    train_rows = candidates[keep]
    if len(train_rows) == 0:
        raise RunFailed("no trainable labels: no labelled training image could be read")
    dev = device.device
    data = HeadData(
        base=torch.from_numpy(features.base).to(dev),
        views=torch.from_numpy(features.extra if keep.all() else features.extra[keep]).to(dev),
        targets=torch.from_numpy(snap.targets[train_rows].astype(np.float32)).to(dev),
        known=torch.from_numpy(snap.known[train_rows]).to(dev),
        val_rows=np.flatnonzero(snap.validation & features.ok),
        train_rows=train_rows,
    )
    head = build_head(config.arch, spec.feature_dim, len(snap.task_ids), config.hidden)
    if config.init_from is not None:
        warm_start(project, head, config.init_from, snap.task_ids, config, spec, emit)
    head = head.to(dev)
    recorder = EpochRecorder(project, run_id, run_dir, config, snap, spec, emit)
    with _head_threads(device, config):
        _fit(run_id, head, data, config, recorder, emit, heartbeat, cancel)

    best = recorder.best
    assert best is not None
    head.load_state_dict(best["state"])
    calibration = recorder.calibrate()
    from core.training.crossfit import cross_fit

    def build() -> nn.Module:
        return build_head(config.arch, spec.feature_dim, len(snap.task_ids), config.hidden).to(dev)

    with _head_threads(device, config):
        cross_fit(
            project,
            run_id,
            snap,
            build,
            data,
            config,
            best["epoch"],
            calibration,
            head,
            emit,
            cancel,
        )
    emit({"event": "predicting", "run": run_id, "images": len(snap.items)})
    write_run_predictions(
        project,
        run_id,
        lambda rows: head_probabilities(head, data.base, rows, calibration),
        features.ok,
        snap,
        emit,
        cancel,
        finish_as="done",
    )
    emit({"event": "done", "run": run_id, "best_epoch": best["epoch"], "mean_ap": best["mean_ap"]})


@contextmanager
def _head_threads(device: DeviceInfo, config: TrainConfig) -> Iterator[None]:
    """One CPU thread while the head trains, unless --threads says otherwise.

    Its matrices are small (64 × 1280 × 256): a second thread gains little on an idle
    machine and, measured on a busy 2-core one, makes each step 4–5× slower.
    """
    if device.device.type != "cpu" or config.threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def samples_per_epoch(n_train: int) -> int:
    return min(max(n_train, MIN_SAMPLES_PER_EPOCH), MAX_SAMPLES_PER_EPOCH)


def head_epoch(
    head: nn.Module,
    optimizer: OneCycleAdamW,
    data: HeadData,
    config: TrainConfig,
    generator: torch.Generator,
    pos_weight: Tensor | None,
    cancel: Cancel,
    epoch: int,
) -> Iterator[tuple[Tensor, int]]:
    """One epoch (number ``epoch``) of optimisation steps on random (image, view)
    samples of ``data``'s training images; yields (loss, batch size) after each step."""
    n, n_views = data.views.shape[:2]
    flat_views = data.views.view(n * n_views, -1)  # index_select on it: 4× faster than [rows, v]
    samples = samples_per_epoch(n)
    dev = data.base.device
    head.train()
    repeats = math.ceil(samples / n)
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(repeats)])
    view_of = torch.randint(0, n_views, (len(order),), generator=generator)
    reject = None
    if config.loss == "large-loss":
        reject = rejection_rates(data.targets, data.known, epoch).to(dev)
    for b in range(math.ceil(samples / config.batch_size)):
        if cancel():
            raise TrainingCancelled
        pick = slice(b * config.batch_size, min(samples, (b + 1) * config.batch_size))
        rows, chosen = order[pick].to(dev), view_of[pick].to(dev)
        logits = head(flat_views.index_select(0, rows * n_views + chosen))
        loss = multitask_loss(
            logits, data.targets[rows], data.known[rows], config.loss, pos_weight, reject
        )
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        yield loss, len(rows)


def _fit(
    run_id: int,
    head: nn.Module,
    data: HeadData,
    config: TrainConfig,
    recorder: EpochRecorder,
    emit: Emit,
    heartbeat: Heartbeat,
    cancel: Cancel,
) -> None:
    """The epochs: random (image, view) samples, masked loss, an evaluation per epoch."""
    n = data.views.shape[0]
    samples = samples_per_epoch(n)
    steps_per_epoch = math.ceil(samples / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = OneCycleAdamW(head.parameters(), config.lr, config.weight_decay, total_steps)
    pos_weight = positive_weights(data.targets, data.known) if config.pos_weight else None
    generator = torch.Generator().manual_seed(config.seed)
    dev = data.base.device
    step = 0
    for epoch in range(1, config.epochs + 1):
        progress = EpochProgress(
            run_id, epoch, config.epochs, steps_per_epoch, emit, heartbeat, dev
        )
        for b, (loss, size) in enumerate(
            head_epoch(head, optimizer, data, config, generator, pos_weight, cancel, epoch)
        ):
            step += 1
            progress.add(loss, size, b, step, b == steps_per_epoch - 1 or step >= total_steps)
            if step >= total_steps:
                break
        train_loss = progress.train_loss(step)
        val_logits = head_probabilities(head, data.base, data.val_rows, raw=True)
        recorder.end_epoch(
            epoch, train_loss, val_logits, data.val_rows, progress.seconds(), head.state_dict
        )
        if step >= total_steps or recorder.stop_early(epoch):
            break
