"""The training loop: snapshot → cache → model → epochs → best checkpoint → predictions.

``train`` reports through ``emit`` (one dict per event; the command line prints
them as JSON lines) and stops cooperatively when ``cancel()`` turns true. All
that lasts — the run's status, per-epoch metrics, the checkpoint, predictions —
it writes to the project, so results outlive the process.
"""

from __future__ import annotations

import copy
import math
import time
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
from core.training.checkpoint import load_checkpoint, save_checkpoint
from core.training.config import TrainConfig
from core.training.device import DeviceInfo, select_device
from core.training.errors import RunFailed, TrainingCancelled
from core.training.image_cache import CacheCancelled, ImageCache
from core.training.loss import multitask_loss, positive_weights
from core.training.metrics import TaskMetrics, mean_ap, task_metrics
from core.training.model import ModelSpec, build_model, to_model_input, use_channels_last
from core.training.predict import predict_array, write_run_predictions
from core.training.snapshot import LabelSnapshot, take_snapshot

Emit = Callable[[dict[str, Any]], None]
Cancel = Callable[[], bool]
PROGRESS_INTERVAL_S = 0.5


@dataclass
class Prepared:
    """What a run trains on, ready on the device."""

    snapshot: LabelSnapshot
    images: Tensor  # uint8 (n, S, S, 3), on the device when it fits
    ok: np.ndarray  # (n,) bool: the image decoded
    device: DeviceInfo


def _never() -> bool:
    return False


def train(project: Project, config: TrainConfig, emit: Emit, cancel: Cancel = _never) -> int:
    """Train one run to its end (done, failed or cancelled); return the run id."""
    config.validate()
    device = select_device(config.device)
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
    try:
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
            "out of memory: try a smaller --batch-size, --image-size or --width",
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


def _fail(project: Project, run_id: int, reason: str, emit: Emit) -> None:
    runs.finish_run(project, run_id, "failed", reason)
    emit({"event": "failed", "run": run_id, "error": reason})


def prepare(
    project: Project, config: TrainConfig, device: DeviceInfo, emit: Emit, cancel: Cancel
) -> Prepared:
    """Snapshot the labels and fill the image cache."""
    snapshot = take_snapshot(project, config.val_fraction)
    if not snapshot.task_ids:
        raise RunFailed("no trainable labels: the project has no active task")
    if not snapshot.trainable.any():
        raise RunFailed(
            "no trainable labels: no training image has a known cell (label some images, "
            "or lower --val-fraction if every labelled image fell into validation)"
        )
    cache = ImageCache(project.cache_dir, config.image_size)

    def progress(done: int, total: int) -> None:
        emit({"event": "caching", "done": done, "total": total})

    array, ok, report = cache.load(snapshot.items, progress=progress, cancel=cancel)
    for image_id, reason in report.failed:
        emit({"event": "warning", "message": f"image {image_id} left out: {reason}"})
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
    data = prepare(project, config, device, emit, cancel)
    snap = data.snapshot
    runs.update_run(
        project,
        run_id,
        device=device.description,
        snapshot={
            "images": len(snap.items),
            "tasks": snap.task_names,
            "counts": snap.counts,
            "train_images": int((snap.trainable & data.ok).sum()),
            "val_images": int((snap.validation & data.ok).sum()),
        },
    )

    train_rows = np.flatnonzero(snap.trainable & data.ok)
    val_rows = np.flatnonzero(snap.validation & data.ok)
    targets = torch.from_numpy(snap.targets.astype(np.float32))
    known = torch.from_numpy(snap.known)

    model = build_model(ModelSpec(len(snap.task_ids), config.width, config.arch))
    if config.init_from is not None:
        _init_from(project, model, config.init_from, snap.task_ids, emit)
    model = model.to(device.device)
    model = use_channels_last(model, device.channels_last)
    pos_weight = None
    if config.pos_weight:
        pos_weight = positive_weights(targets[train_rows], known[train_rows]).to(device.device)

    steps_per_epoch = max(1, math.ceil(len(train_rows) / config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=0.15
    )
    scaler = torch.amp.GradScaler("cuda", enabled=device.amp_dtype == torch.float16)
    generator = torch.Generator().manual_seed(config.seed)

    best: dict[str, Any] | None = None
    best_key: tuple[float, float] | None = None
    step = 0
    last_beat = time.monotonic()
    for epoch in range(1, config.epochs + 1):
        started = time.monotonic()
        model.train()
        order = train_rows[torch.randperm(len(train_rows), generator=generator).numpy()]
        loss_sum = torch.zeros((), device=device.device)
        seen = 0
        last_report = time.monotonic()
        for b in range(steps_per_epoch):
            if cancel():
                raise TrainingCancelled
            rows = torch.from_numpy(order[b * config.batch_size : (b + 1) * config.batch_size])
            x = to_model_input(
                data.images[rows.to(data.images.device)], device.device, device.channels_last
            )
            if config.augment:
                x = augment_batch(x, generator)
            y = targets[rows].to(device.device, non_blocking=True)
            k = known[rows].to(device.device, non_blocking=True)
            with torch.autocast(
                device.device.type,
                dtype=device.amp_dtype or torch.float32,
                enabled=device.amp_dtype is not None,
            ):
                logits = model(x)
            loss = multitask_loss(logits.float(), y, k, config.loss, pos_weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            loss_sum += loss.detach() * len(rows)
            seen += len(rows)
            now = time.monotonic()
            last_step = b == steps_per_epoch - 1 or step >= total_steps
            if now - last_report >= PROGRESS_INTERVAL_S or last_step:
                mean_loss = float(loss_sum) / seen
                if not math.isfinite(mean_loss):
                    raise RunFailed(
                        f"the training loss became {mean_loss} in epoch {epoch} (step {step}); "
                        "try a lower --lr"
                    )
                emit(
                    {
                        "event": "progress",
                        "run": run_id,
                        "epoch": epoch,
                        "epochs": config.epochs,
                        "step": b + 1,
                        "steps": steps_per_epoch,
                        "loss": mean_loss,
                        "elapsed": now - started,
                    }
                )
                last_report = now
                if now - last_beat >= runs.HEARTBEAT_SECONDS:
                    runs.heartbeat(project, run_id)
                    last_beat = now
            if step >= total_steps:
                break
        train_loss = float(loss_sum) / max(1, seen)
        if not math.isfinite(train_loss):
            raise RunFailed(
                f"the training loss became {train_loss} in epoch {epoch}; try a lower --lr"
            )

        val_loss, metrics = evaluate(model, data, val_rows, config, device)
        headline = mean_ap(metrics)
        seconds = time.monotonic() - started
        rows_out = _metric_rows(metrics, snap, epoch)
        runs.record_epoch(
            project,
            run_id,
            runs.EpochInfo(epoch, train_loss, val_loss, headline, seconds),
            rows_out,
        )
        key = (
            headline if headline is not None else -1.0,
            -val_loss if val_loss is not None else float(epoch),
        )
        improved = best_key is None or key > best_key
        if improved:
            best_key = key
            best = {
                "state": copy.deepcopy(
                    {k: v.detach().cpu() for k, v in model.state_dict().items()}
                ),
                "epoch": epoch,
                "mean_ap": headline,
                "thresholds": [m.threshold for m in metrics],
            }
            _save_best(project, run_id, run_dir, config, snap, best)
        emit(
            {
                "event": "epoch",
                "run": run_id,
                "epoch": epoch,
                "epochs": config.epochs,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "mean_ap": headline,
                "seconds": seconds,
                "best": improved,
                "tasks": [runs_row_dict(r) for r in rows_out],
            }
        )
        if step >= total_steps:
            break

    assert best is not None
    model.load_state_dict(best["state"])
    emit({"event": "predicting", "run": run_id, "images": len(snap.items)})
    write_run_predictions(project, run_id, model, data.images, data.ok, snap, device, emit, cancel)
    runs.finish_run(project, run_id, "done")
    emit({"event": "done", "run": run_id, "best_epoch": best["epoch"], "mean_ap": best["mean_ap"]})


def runs_row_dict(row: runs.TaskMetricRow) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(row)


def evaluate(
    model: nn.Module,
    data: Prepared,
    val_rows: np.ndarray,
    config: TrainConfig,
    device: DeviceInfo,
) -> tuple[float | None, list[TaskMetrics]]:
    """Validation loss (masked: known cells only) and per-task metrics."""
    snap = data.snapshot
    if len(val_rows) == 0:
        empty = np.zeros((0, len(snap.task_ids)), dtype=np.float32)
        return None, task_metrics(empty, snap.targets[val_rows], snap.task_ids, snap.task_names)
    probs = predict_array(model, data.images, val_rows, device, config.batch_size * 2)
    targets = snap.targets[val_rows]
    known = targets != -1
    clipped = np.clip(probs, 1e-7, 1 - 1e-7)
    cell = -(np.where(targets == 1, np.log(clipped), np.log(1 - clipped)))
    val_loss = float((cell * known).sum() / len(val_rows))
    return val_loss, task_metrics(probs, targets, snap.task_ids, snap.task_names)


def _metric_rows(
    metrics: list[TaskMetrics], snap: LabelSnapshot, epoch: int
) -> list[runs.TaskMetricRow]:
    out = []
    for m in metrics:
        c = snap.counts[m.name]
        out.append(
            runs.TaskMetricRow(
                m.task_id,
                m.name,
                epoch,
                c["train_present"],
                c["train_absent"],
                c["train_unknown"],
                c["val_present"],
                c["val_absent"],
                c["val_unknown"],
                m.loss,
                m.ap,
                m.auc,
                m.precision,
                m.recall,
                m.f1,
                m.threshold,
                m.na_reason,
            )
        )
    return out


def _save_best(
    project: Project,
    run_id: int,
    run_dir: Path,
    config: TrainConfig,
    snap: LabelSnapshot,
    best: dict[str, Any],
) -> None:
    path = run_dir / "best.pt"
    save_checkpoint(
        path,
        {
            "model": best["state"],
            "config": config.to_dict(),
            "task_ids": snap.task_ids,
            "task_names": snap.task_names,
            "epoch": best["epoch"],
            "mean_ap": best["mean_ap"],
            "thresholds": best["thresholds"],
            "image_size": config.image_size,
        },
    )
    runs.update_run(
        project,
        run_id,
        checkpoint=str(path.relative_to(project.root)),
        best_epoch=best["epoch"],
        best_mean_ap=best["mean_ap"],
    )


def _init_from(
    project: Project, model: nn.Module, source_run: int, task_ids: list[int], emit: Emit
) -> None:
    """Start from an earlier run: its backbone, and the heads of tasks that still exist."""
    info = runs.get_run(project, source_run)
    if info.checkpoint is None:
        raise UserError(f"run {source_run} has no checkpoint to start from ({info.status})")
    ckpt = load_checkpoint(project.root / info.checkpoint)
    old_cfg = TrainConfig.from_dict(ckpt["config"])
    state: dict[str, Tensor] = ckpt["model"]
    if old_cfg.arch != "shared" or not hasattr(model, "heads"):
        raise UserError("--init-from needs a shared-network run and a shared network")
    own = model.state_dict()
    mismatched = [
        k
        for k, v in state.items()
        if not k.startswith("heads.") and (k not in own or own[k].shape != v.shape)
    ]
    if mismatched:
        raise UserError(
            f"run {source_run} has a different network (width "
            f"{old_cfg.width}); use the same --width to start from it"
        )
    body = {k: v for k, v in state.items() if not k.startswith("heads.")}
    model.load_state_dict(body, strict=False)
    old_tasks: list[int] = ckpt["task_ids"]
    reused = 0
    with torch.no_grad():
        heads = model.heads
        assert isinstance(heads, nn.Linear)
        for new_row, task_id in enumerate(task_ids):
            if task_id in old_tasks:
                old_row = old_tasks.index(task_id)
                heads.weight[new_row] = state["heads.weight"][old_row]
                heads.bias[new_row] = state["heads.bias"][old_row]
                reused += 1
    emit(
        {
            "event": "info",
            "message": f"started from run {source_run}: backbone and "
            f"{reused} of {len(task_ids)} task heads reused",
        }
    )
