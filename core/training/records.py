"""What every training mode writes: the snapshot summary, per-epoch records, the best checkpoint.

Both loops — on images (loop.py) and on cached features (instant.py) — end each
epoch with validation probabilities; :class:`EpochRecorder` turns them into the
validation loss and per-task metrics, stores the epoch, keeps the best epoch's
weights as ``runs/<id>/best.pt`` and emits the ``epoch`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from core import runs
from core.project import Project
from core.thresholds import save_validation
from core.training.backbones import BackboneSpec
from core.training.calibration import Calibration, fit_calibration, sigmoid, task_eces
from core.training.checkpoint import save_checkpoint
from core.training.config import TrainConfig
from core.training.errors import RunFailed
from core.training.metrics import TaskMetrics, headline_ap, task_metrics, unreliable_reason
from core.training.snapshot import LabelSnapshot, take_snapshot

Emit = Callable[[dict[str, Any]], None]


def checked_snapshot(project: Project, config: TrainConfig) -> LabelSnapshot:
    """The run's labels; RunFailed when there is nothing to train on."""
    snapshot = take_snapshot(project, config.val_fraction)
    if not snapshot.task_ids:
        raise RunFailed("no trainable labels: the project has no active task")
    if not snapshot.trainable.any():
        raise RunFailed(
            "no trainable labels: no training image has a known cell (label some images, "
            "or lower --val-fraction if every labelled image fell into validation)"
        )
    return snapshot


def record_snapshot(
    project: Project, run_id: int, device: str, snap: LabelSnapshot, ok: np.ndarray
) -> None:
    runs.update_run(
        project,
        run_id,
        device=device,
        snapshot={
            "images": len(snap.items),
            "tasks": snap.task_names,
            "counts": snap.counts,
            "train_images": int((snap.trainable & ok).sum()),
            "val_images": int((snap.validation & ok).sum()),
        },
    )


def validation_scores(
    probs: np.ndarray, snap: LabelSnapshot, val_rows: np.ndarray
) -> tuple[float | None, list[TaskMetrics]]:
    """Validation loss (masked: known cells only, per image) and per-task metrics."""
    if len(val_rows) == 0:
        empty = np.zeros((0, len(snap.task_ids)), dtype=np.float32)
        return None, task_metrics(empty, snap.targets[val_rows], snap.task_ids, snap.task_names)
    targets = snap.targets[val_rows]
    known = targets != -1
    clipped = np.clip(probs, 1e-7, 1 - 1e-7)
    cell = -(np.where(targets == 1, np.log(clipped), np.log(1 - clipped)))
    val_loss = float((cell * known).sum() / len(val_rows))
    return val_loss, task_metrics(probs, targets, snap.task_ids, snap.task_names)


def metric_rows(
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


def runs_row_dict(row: runs.TaskMetricRow) -> dict[str, Any]:
    return asdict(row)


class EpochRecorder:
    """Records epochs of one run and keeps its best one (by mean AP, then val loss)."""

    def __init__(
        self,
        project: Project,
        run_id: int,
        run_dir: Path,
        config: TrainConfig,
        snap: LabelSnapshot,
        spec: BackboneSpec,
        emit: Emit,
    ) -> None:
        self.project = project
        self.run_id = run_id
        self.run_dir = run_dir
        self.config = config
        self.snap = snap
        self.spec = spec
        self.emit = emit
        self.best: dict[str, Any] | None = None
        self._best_key: tuple[float, float] | None = None
        self._since_best = 0
        self._elapsed = 0.0
        self._last_epoch_s = 0.0

    def end_epoch(
        self,
        epoch: int,
        train_loss: float,
        val_logits: np.ndarray,
        val_rows: np.ndarray,
        seconds: float,
        state: Callable[[], dict[str, Tensor]],
    ) -> bool:
        """Store the epoch (validation ``val_logits`` of ``val_rows``); save ``state()``
        as the checkpoint when it is the best yet."""
        val_probs = sigmoid(val_logits)
        self._elapsed += seconds
        self._last_epoch_s = seconds
        val_loss, metrics = validation_scores(val_probs, self.snap, val_rows)
        headline = headline_ap(metrics)
        if epoch == 1:
            self._warn_small_validation(metrics)
        rows_out = metric_rows(metrics, self.snap, epoch)
        runs.record_epoch(
            self.project,
            self.run_id,
            runs.EpochInfo(epoch, train_loss, val_loss, headline, seconds),
            rows_out,
        )
        key = (
            headline if headline is not None else -1.0,
            -val_loss if val_loss is not None else float(epoch),
        )
        improved = self._best_key is None or key > self._best_key
        self._since_best = 0 if improved else self._since_best + 1
        if improved:
            self._best_key = key
            self.best = {
                "state": {k: v.detach().cpu().clone() for k, v in state().items()},
                "epoch": epoch,
                "mean_ap": headline,
                "thresholds": [m.threshold for m in metrics],
                "val_logits": np.array(val_logits, copy=True),
                "val_rows": np.array(val_rows, copy=True),
            }
            self._save_best()
        self.emit(
            {
                "event": "epoch",
                "run": self.run_id,
                "epoch": epoch,
                "epochs": self.config.epochs,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "mean_ap": headline,
                "seconds": seconds,
                "best": improved,
                "tasks": [runs_row_dict(r) for r in rows_out],
            }
        )
        return improved

    def _warn_small_validation(self, metrics: list[TaskMetrics]) -> None:
        small = [
            f"{m.name} ({m.val_present} present, {m.val_absent} absent)"
            for m in metrics
            if m.ap is not None and unreliable_reason(m.val_present, m.val_absent)
        ]
        if small:
            self.emit(
                {
                    "event": "warning",
                    "message": "validation too small to trust the AP of "
                    + ", ".join(small)
                    + ": fewer than 10 known cells of a class; left out of the mean AP "
                    "(label more images of these tasks)",
                }
            )

    def stop_early(self, epoch: int) -> bool:
        """True when epochs remain but ``config.patience`` epochs in a row did not improve
        on the best, or another epoch would pass ``config.time_budget_s``: says so in an
        ``info`` event (the run then ends as done)."""
        if epoch >= self.config.epochs:
            return False
        budget = self.config.time_budget_s
        if budget is not None and self._elapsed + self._last_epoch_s > budget:
            assert self.best is not None
            self.emit(
                {
                    "event": "info",
                    "message": f"stopped after epoch {epoch} of {self.config.epochs}: another "
                    f"epoch (about {self._last_epoch_s:.0f} s) would pass the time budget of "
                    f"{budget:.0f} s (--time-budget); keeping epoch {self.best['epoch']}",
                }
            )
            return True
        patience = self.config.patience
        if not patience or self._since_best < patience:
            return False
        assert self.best is not None
        self.emit(
            {
                "event": "info",
                "message": f"stopped early after epoch {epoch} of {self.config.epochs}: "
                f"validation has not improved for {patience} epochs (--patience); "
                f"keeping epoch {self.best['epoch']}",
            }
        )
        return True

    def calibrate(self) -> Calibration:
        """Fit the best epoch's per-task calibration on its validation probabilities
        (``calibration.py``) and store it: the best epoch's metrics at the calibrated
        decision with the ECE before and after, ``best.pt`` (which then predicts
        calibrated probabilities) and ``validation.npz`` (the window's threshold
        dialog). Returns the map every stored prediction goes through."""
        assert self.best is not None
        best, snap = self.best, self.snap
        logits, rows = best["val_logits"], best["val_rows"]
        probs = sigmoid(logits)
        targets = snap.targets[rows]
        n_tasks = len(snap.task_ids)
        cal = fit_calibration(logits, targets) if len(rows) else Calibration.identity(n_tasks)
        calibrated = cal.apply_logits(logits) if len(rows) else probs
        _, metrics = validation_scores(calibrated, snap, rows)
        none: list[float | None] = [None] * n_tasks
        before = task_eces(probs, targets) if len(rows) else none
        after = task_eces(calibrated, targets) if len(rows) else none
        runs.record_calibration(
            self.project,
            self.run_id,
            best["epoch"],
            [
                {
                    "task_id": m.task_id,
                    "calibration_slope": float(cal.slope[j]),
                    "calibration_intercept": float(cal.intercept[j]),
                    "ece_raw": before[j],
                    "ece": after[j],
                    "precision": m.precision,
                    "recall": m.recall,
                    "f1": m.f1,
                    "threshold": m.threshold,
                    "na_reason": m.na_reason,
                }
                for j, m in enumerate(metrics)
            ],
        )
        best["calibration"] = cal
        best["thresholds"] = [m.threshold for m in metrics]
        self._save_best()
        image_ids = np.array([snap.items[r].image_id for r in rows], dtype=np.int64)
        save_validation(self.run_dir, image_ids, snap.task_ids, calibrated, targets)
        self.emit({"event": "info", "message": _calibration_message(cal, before, after)})
        return cal

    def _save_best(self) -> None:
        assert self.best is not None
        best, snap, spec = self.best, self.snap, self.spec
        path = self.run_dir / "best.pt"
        save_checkpoint(
            path,
            {
                "model": best["state"],
                "config": self.config.to_dict(),
                "task_ids": snap.task_ids,
                "task_names": snap.task_names,
                "epoch": best["epoch"],
                "mean_ap": best["mean_ap"],
                "thresholds": best["thresholds"],
                "calibration": best["calibration"].to_dict() if "calibration" in best else None,
                "image_size": self.config.image_size,
                "mode": self.config.mode,
                "backbone": spec.to_dict(),
                # What the network's input must be (the export sidecar carries this).
                "input": {
                    "size": self.config.image_size,
                    "mean": list(spec.mean),
                    "std": list(spec.std),
                    "resize": spec.resize,
                    "channels": "RGB",
                    "range": "[0, 1] before normalisation",
                },
            },
        )
        runs.update_run(
            self.project,
            self.run_id,
            checkpoint=str(path.relative_to(self.project.root)),
            best_epoch=best["epoch"],
            best_mean_ap=best["mean_ap"],
        )


def _calibration_message(
    cal: Calibration, before: list[float | None], after: list[float | None]
) -> str:
    fitted = [j for j in range(len(cal.cells)) if cal.cells[j] > 0]
    if not fitted:
        return (
            "probabilities not calibrated: no task has both present and absent validation "
            "cells (they are the network's own; read them with care)"
        )
    pairs = [(before[j], after[j]) for j in fitted]
    b = float(np.mean([p[0] for p in pairs if p[0] is not None]))
    a = float(np.mean([p[1] for p in pairs if p[1] is not None]))
    rest = len(cal.cells) - len(fitted)
    tail = f"; {rest} task(s) without both classes in validation kept as they are" if rest else ""
    return (
        f"calibrated the probabilities of {len(fitted)} task(s) on their validation cells "
        f"(Platt scaling, shrunk towards no change): mean expected calibration error "
        f"{b:.3f} → {a:.3f}{tail}"
    )
