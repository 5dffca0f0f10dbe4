"""A run's validation cells and the decision threshold of each task, which the user may move.

A calibrated run (``core/training/calibration.py``) decides "present" at 0.5 on
its calibrated probabilities. A user who would rather trade precision for
recall moves a task's threshold in the window; that choice is stored with the
run's best-epoch metrics (``user_threshold``) and used by every prediction
query, "Accept" and the export sidecar. To show what a threshold does, the
trainer saves the best epoch's calibrated validation probabilities and labels
as ``runs/<id>/validation.npz``; :class:`ValidationCells` reads it and gives
precision and recall at any threshold.

No torch here: the window imports this module.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import update

from core import runs
from core.db.models import RunTaskMetric
from core.errors import UserError
from core.project import Project

VALIDATION_FILE = "validation.npz"
NEAR_THRESHOLD = 0.1
"""A probability this close to its task's threshold is a coin toss: the window says so."""


def save_validation(
    run_dir: Path,
    image_ids: np.ndarray,
    task_ids: list[int],
    probabilities: np.ndarray,
    targets: np.ndarray,
) -> None:
    """Write the validation cells atomically (a partial file never replaces a whole one)."""
    tmp = run_dir / f".{VALIDATION_FILE}.partial"
    try:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                image_ids=np.asarray(image_ids, dtype=np.int64),
                task_ids=np.asarray(task_ids, dtype=np.int64),
                probabilities=np.asarray(probabilities, dtype=np.float32),
                targets=np.asarray(targets, dtype=np.int8),
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, run_dir / VALIDATION_FILE)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {run_dir / VALIDATION_FILE}: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class TaskValidation:
    """One task's known validation cells: calibrated probabilities and 0/1 labels."""

    task_id: int
    probabilities: np.ndarray
    present: np.ndarray
    """bool, True where the label is present."""

    @property
    def n_present(self) -> int:
        return int(self.present.sum())

    @property
    def n_absent(self) -> int:
        return int((~self.present).sum())

    def confusion(self, threshold: float) -> tuple[int, int, int]:
        """(true positives, false positives, false negatives) when ``probability >=
        threshold`` is called present."""
        called = self.probabilities >= threshold
        tp = int((called & self.present).sum())
        return tp, int(called.sum()) - tp, self.n_present - tp

    def at(self, threshold: float) -> tuple[float | None, float | None]:
        """(precision, recall) when ``probability >= threshold`` is called present; None
        where undefined (nothing called present; no present cell)."""
        tp, fp, _fn = self.confusion(threshold)
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / self.n_present if self.n_present else None
        return precision, recall


def task_validation(project: Project, run_id: int, task_id: int) -> TaskValidation | None:
    """The task's validation cells of the run, or None when the run saved none (runs from
    before calibration, or a task without known validation cells)."""
    runs.get_run(project, run_id)  # NotFoundError for a run that does not exist
    path = project.runs_dir / str(run_id) / VALIDATION_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            task_ids = [int(t) for t in data["task_ids"]]
            if task_id not in task_ids:
                return None
            j = task_ids.index(task_id)
            targets = np.asarray(data["targets"][:, j])
            probs = np.asarray(data["probabilities"][:, j], dtype=np.float64)
    except (OSError, KeyError, ValueError, IndexError) as exc:
        raise UserError(f"the validation cells of run {run_id} cannot be read ({exc})") from exc
    known = targets != -1
    if not known.any():
        return None
    return TaskValidation(task_id, probs[known], targets[known] == 1)


def calibrated_tasks(project: Project, run_id: int) -> set[int]:
    """The tasks whose stored probabilities in this run went through a fitted calibration."""
    return {
        m.task_id
        for m in runs.run_task_metrics(project, run_id)
        if m.calibration_slope is not None
        and (m.calibration_slope != 1.0 or m.calibration_intercept != 0.0)
    }


def check_threshold(value: float) -> float:
    if not (0.0 < value < 1.0):
        raise UserError(f"a threshold must lie strictly between 0 and 1, got {value:g}")
    return float(value)


def set_user_threshold(project: Project, run_id: int, task_id: int, value: float | None) -> None:
    """Use ``value`` as the task's threshold for this run's predictions (None: the run's
    own again); the task's validation precision, recall and F1 are recomputed at the
    threshold now in use when the run saved its validation cells. Refused for runs that
    are not finished or did not predict the task."""
    if value is not None:
        value = check_threshold(value)
    info = runs.get_run(project, run_id)
    runs.require_finished(info, "change a threshold")
    epoch = info.best_epoch or info.epochs_done
    rows = [m for m in runs.run_task_metrics(project, run_id, epoch) if m.task_id == task_id]
    if not rows:
        raise UserError(f"run {run_id} has no metrics for this task: its threshold cannot be set")
    values: dict[str, float | None] = {"user_threshold": value}
    validation = task_validation(project, run_id, task_id)
    decision = value if value is not None else rows[0].threshold
    if validation is not None and decision is not None:
        # the row's precision, recall and F1 follow the threshold it now decides at
        tp, fp, fn = validation.confusion(decision)
        values["precision"] = tp / (tp + fp) if tp + fp else None
        values["recall"] = tp / (tp + fn) if tp + fn else None
        values["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fn else None
    with project.transaction() as session:
        session.execute(
            update(RunTaskMetric)
            .where(
                RunTaskMetric.run_id == run_id,
                RunTaskMetric.epoch == epoch,
                RunTaskMetric.task_id == task_id,
            )
            .values(**values)
        )
