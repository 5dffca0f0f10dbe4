"""The training loop: snapshot → cache → model → epochs → best checkpoint → predictions.

``train`` resolves the run's backbone and mode (choices.py) and runs either the
image loop here (scratch and finetune modes) or instant mode on cached features
(instant.py); both record epochs and checkpoints through records.py.

``train`` reports through ``emit`` (one dict per event; the command line prints
them as JSON lines) and stops cooperatively when ``cancel()`` turns true. All
that lasts — the run's status, per-epoch metrics, the checkpoint, predictions —
it writes to the project, so results outlive the process.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from core import runs
from core.errors import UserError
from core.project import Project
from core.training.augment import augment_batch
from core.training.auto import is_auto, train_auto
from core.training.backbones import FILE_PREFIX
from core.training.backbones.builders import check_weights_file
from core.training.calibration import sigmoid
from core.training.choices import resolve_config
from core.training.config import TrainConfig
from core.training.device import DeviceInfo, select_device
from core.training.errors import RunFailed, TrainingCancelled
from core.training.image_cache import CacheCancelled, ImageCache, not_saved_warning
from core.training.instant import train_instant
from core.training.loss import multitask_loss, positive_weights, rejection_rates
from core.training.metrics import TaskMetrics
from core.training.model import MEAN, STD, to_model_input, use_channels_last
from core.training.network import build_image_model, param_groups
from core.training.predict import image_scorer, predict_array, write_run_predictions
from core.training.progress import EpochProgress, Heartbeat
from core.training.records import (
    EpochRecorder,
    checked_snapshot,
    record_snapshot,
    runs_row_dict,
    validation_scores,
)
from core.training.snapshot import LabelSnapshot, left_out_warnings
from core.training.warm_start import check_source, warm_start

Emit = Callable[[dict[str, Any]], None]
Cancel = Callable[[], bool]


@dataclass
class Prepared:
    """What a run trains on, ready on the device."""

    snapshot: LabelSnapshot
    images: Tensor  # uint8 (n, S, S, 3), on the device when it fits
    ok: np.ndarray  # (n,) bool: the image decoded
    device: DeviceInfo
    mean: tuple[float, ...] = MEAN
    std: tuple[float, ...] = STD
    """The backbone's input normalisation (BackboneSpec)."""


def _never() -> bool:
    return False


def train(project: Project, config: TrainConfig, emit: Emit, cancel: Cancel = _never) -> int:
    """Train to the end (done, failed or cancelled); return the run id. The default
    ``--backbone auto --mode auto`` trains candidate runs and returns the kept one
    (auto.py)."""
    if is_auto(config):
        config.validate()
        cuda = select_device(config.device).device.type == "cuda"
        return train_auto(project, config, emit, cancel, train_one, cuda)
    return train_one(project, config, emit, cancel)


def train_one(project: Project, config: TrainConfig, emit: Emit, cancel: Cancel = _never) -> int:
    """Train one run to its end (done, failed or cancelled); return the run id."""
    config, notes = resolve_config(config)
    device = select_device(config.device)
    _refuse_early(project, config)
    run_id = runs.create_run(project, config.to_dict())
    run_dir = project.runs_dir / str(run_id)
    emit(
        {
            "event": "started",
            "run": run_id,
            "device": device.description,
            "config": config.to_dict(),
        }
    )
    for note in notes:
        emit({"event": "info", "message": note})
    try:
        if config.mode == "instant":
            train_instant(project, run_id, run_dir, config, device, emit, cancel)
        else:
            _train(project, run_id, run_dir, config, device, emit, cancel)
    except (TrainingCancelled, CacheCancelled):
        runs.finish_run(project, run_id, "cancelled", "cancelled by the user")
        emit({"event": "cancelled", "run": run_id})
    except RunFailed as exc:
        _fail(project, run_id, str(exc), emit)
    except UserError as exc:
        _fail(project, run_id, str(exc), emit)
    except (torch.OutOfMemoryError, MemoryError):
        _fail(
            project,
            run_id,
            "out of memory: try a smaller --batch-size, --image-size or --width "
            "(or --mode instant)",
            emit,
        )
    except Exception as exc:  # a bug or an unexpected failure: never a silent stop
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
        _fail(
            project,
            run_id,
            f"{type(exc).__name__}: {exc} (details in {run_dir / 'error.log'})",
            emit,
        )
    return run_id


def _refuse_early(project: Project, config: TrainConfig) -> None:
    """The user errors a run would meet only after it was created, said before: no
    failed run is left in the list for a typing mistake (a run to start from that does
    not exist, did not finish or is not a shared network; a weights file that is not
    one). The weights are read once: ``from_file`` reuses what this read."""
    if config.init_from is not None:
        check_source(project, config.init_from, config)
    if config.backbone.startswith(FILE_PREFIX) and config.mode != "scratch":
        check_weights_file(Path(config.backbone[len(FILE_PREFIX) :]))


def _fail(project: Project, run_id: int, reason: str, emit: Emit) -> None:
    runs.finish_run(project, run_id, "failed", reason)
    emit({"event": "failed", "run": run_id, "error": reason})


def prepare(
    project: Project, config: TrainConfig, device: DeviceInfo, emit: Emit, cancel: Cancel
) -> Prepared:
    """Snapshot the labels and fill the image cache (``config`` resolved: see choices.py)."""
    snapshot = checked_snapshot(project, config)
    cache = ImageCache(project.cache_dir, config.image_size)

    def progress(done: int, total: int) -> None:
        emit({"event": "caching", "done": done, "total": total})

    array, ok, report = cache.load(snapshot.items, progress=progress, cancel=cancel)
    for warning in left_out_warnings(snapshot, report.failed):
        emit(warning)
    if report.not_saved:
        emit(not_saved_warning("decoded images", cache.directory, report.not_saved))
    images = torch.from_numpy(array)
    if device.device.type != "cpu":
        images = images.to(device.device)
    return Prepared(snapshot, images, ok, device)


def _train(
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
    heartbeat = Heartbeat(project, run_id)
    data = prepare(project, config, device, heartbeat.emitting(emit), cancel)
    snap = data.snapshot
    record_snapshot(project, run_id, device.description, snap, data.ok)

    train_rows = np.flatnonzero(snap.trainable & data.ok)
    val_rows = np.flatnonzero(snap.validation & data.ok)
    targets = torch.from_numpy(snap.targets.astype(np.float32))
    known = torch.from_numpy(snap.known)

    model, spec = build_image_model(config, len(snap.task_ids))
    data.mean, data.std = spec.mean, spec.std
    if config.init_from is not None:
        warm_start(project, model, config.init_from, snap.task_ids, config, spec, emit)
    model = model.to(device.device)
    model = use_channels_last(model, device.channels_last)
    pos_weight = None
    if config.pos_weight:
        pos_weight = positive_weights(targets[train_rows], known[train_rows]).to(device.device)

    steps_per_epoch = max(1, math.ceil(len(train_rows) / config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    groups = param_groups(model, config)
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[g["lr"] for g in groups], total_steps=total_steps, pct_start=0.15
    )
    scaler = torch.amp.GradScaler("cuda", enabled=device.amp_dtype == torch.float16)
    generator = torch.Generator().manual_seed(config.seed)

    recorder = EpochRecorder(project, run_id, run_dir, config, snap, spec, emit)
    max_shift = max(4, config.image_size // 16)  # 4 px up to 64 (as before), 14 at 224
    step = 0
    for epoch in range(1, config.epochs + 1):
        progress = EpochProgress(
            run_id, epoch, config.epochs, steps_per_epoch, emit, heartbeat, device.device
        )
        model.train()
        reject = None
        if config.loss == "large-loss":
            reject = rejection_rates(targets[train_rows], known[train_rows], epoch)
            reject = reject.to(device.device)
        order = train_rows[torch.randperm(len(train_rows), generator=generator).numpy()]
        for b in range(steps_per_epoch):
            if cancel():
                raise TrainingCancelled
            rows = torch.from_numpy(order[b * config.batch_size : (b + 1) * config.batch_size])
            if len(rows) == 1:  # batch norm needs two: the lone image twice, augmented apart
                rows = rows.repeat(2)
            x = to_model_input(
                data.images[rows.to(data.images.device)],
                device.device,
                device.channels_last,
                data.mean,
                data.std,
            )
            if config.augment:
                x = augment_batch(x, generator, max_shift, config.flip)
            y = targets[rows].to(device.device, non_blocking=True)
            k = known[rows].to(device.device, non_blocking=True)
            with torch.autocast(
                device.device.type,
                dtype=device.amp_dtype or torch.float32,
                enabled=device.amp_dtype is not None,
            ):
                logits = model(x)
            loss = multitask_loss(logits.float(), y, k, config.loss, pos_weight, reject)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            progress.add(loss, len(rows), b, step, b == steps_per_epoch - 1 or step >= total_steps)
            if step >= total_steps:
                break
        train_loss = progress.train_loss(step)

        val_logits = _validation_logits(model, data, val_rows, config, device)
        recorder.end_epoch(
            epoch, train_loss, val_logits, val_rows, progress.seconds(), model.state_dict
        )
        if step >= total_steps or recorder.stop_early(epoch):
            break

    best = recorder.best
    assert best is not None
    model.load_state_dict(best["state"])
    calibration = recorder.calibrate()
    emit({"event": "predicting", "run": run_id, "images": len(snap.items)})
    score = image_scorer(model, data.images, device, spec, calibration)
    write_run_predictions(project, run_id, score, data.ok, snap, emit, cancel, finish_as="done")
    emit({"event": "done", "run": run_id, "best_epoch": best["epoch"], "mean_ap": best["mean_ap"]})


def _validation_logits(
    model: nn.Module, data: Prepared, val_rows: np.ndarray, config: TrainConfig, device: DeviceInfo
) -> np.ndarray:
    if len(val_rows) == 0:
        return np.zeros((0, len(data.snapshot.task_ids)), dtype=np.float32)
    return predict_array(
        model, data.images, val_rows, device, config.batch_size * 2, data.mean, data.std, raw=True
    )


def evaluate(
    model: nn.Module,
    data: Prepared,
    val_rows: np.ndarray,
    config: TrainConfig,
    device: DeviceInfo,
) -> tuple[float | None, list[TaskMetrics]]:
    """Validation loss (masked: known cells only) and per-task metrics."""
    probs = sigmoid(_validation_logits(model, data, val_rows, config, device))
    return validation_scores(probs, data.snapshot, val_rows)


__all__ = ["Prepared", "evaluate", "prepare", "runs_row_dict", "train"]
