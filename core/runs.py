"""Training runs as the database records them: status, metrics, predictions.

No torch here: the window reads runs through this module, the trainer writes
them through it. A trainer that died without saying so (killed, crashed, power
cut) leaves a run marked running; ``reap_dead_runs`` recognises it on the next
open and marks it failed, and its predictions stay marked incomplete.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, delete, insert, select, update

from core.db.models import LabelCheck, Prediction, Run, RunEpoch, RunTaskMetric, Task, utcnow
from core.errors import NotFoundError, UserError
from core.project import Project

# A trainer refreshes its heartbeat at least this often while it lives.
HEARTBEAT_SECONDS = 10
# A run on another host whose heartbeat is older than this is taken as dead.
STALE_AFTER = timedelta(minutes=5)
_PREDICTION_BATCH = 5000


@dataclass(frozen=True)
class RunInfo:
    id: int
    status: str
    config: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    device: str | None
    error: str | None
    snapshot: dict[str, Any] | None
    epochs_done: int
    best_epoch: int | None
    best_mean_ap: float | None
    checkpoint: str | None
    predictions_complete: bool

    @property
    def seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return (end - self.started_at).total_seconds()


@dataclass(frozen=True)
class EpochInfo:
    epoch: int
    train_loss: float | None
    val_loss: float | None
    mean_ap: float | None
    seconds: float


@dataclass(frozen=True)
class TaskMetricRow:
    task_id: int
    name: str
    epoch: int
    train_present: int
    train_absent: int
    train_unknown: int
    val_present: int
    val_absent: int
    val_unknown: int
    loss: float | None
    ap: float | None
    auc: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    threshold: float | None
    na_reason: str | None
    calibration_slope: float | None = None
    calibration_intercept: float | None = None
    ece_raw: float | None = None
    """Validation ECE of the network's own probabilities (calibrated runs only)."""
    ece: float | None = None
    """Validation ECE of the calibrated probabilities, which the run stores."""
    user_threshold: float | None = None
    """A threshold chosen in the window, used instead of ``threshold``."""

    @property
    def decision_threshold(self) -> float | None:
        return self.user_threshold if self.user_threshold is not None else self.threshold


def backbone_label(backbone: str) -> str:
    """A run's backbone for a one-line summary: a weights file by its name, not its
    whole path (``runs --run N`` and the window's tooltip give the path)."""
    prefix = "file:"  # backbones.FILE_PREFIX: not imported, it would bring torch to app
    if backbone.startswith(prefix):
        return prefix + os.path.basename(backbone[len(prefix) :].rstrip("/\\"))
    return backbone


def _info(run: Run) -> RunInfo:
    return RunInfo(
        id=run.id,
        status=run.status,
        config=json.loads(run.config),
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        device=run.device,
        error=run.error,
        snapshot=json.loads(run.snapshot) if run.snapshot else None,
        epochs_done=run.epochs_done,
        best_epoch=run.best_epoch,
        best_mean_ap=run.best_mean_ap,
        checkpoint=run.checkpoint,
        predictions_complete=run.predictions_complete,
    )


# -- the trainer's side ---------------------------------------------------------------


def create_run(project: Project, config: dict[str, Any]) -> int:
    """A new run, marked running by this process."""
    now = utcnow()
    with project.transaction() as session:
        run = Run(
            config=json.dumps(config),
            status="running",
            started_at=now,
            heartbeat_at=now,
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        session.add(run)
        session.flush()
        return run.id


def update_run(project: Project, run_id: int, **values: Any) -> None:
    """Set columns of a run; ``snapshot`` may be given as a dict."""
    if "snapshot" in values and not isinstance(values["snapshot"], str | None):
        values["snapshot"] = json.dumps(values["snapshot"])
    with project.transaction() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def heartbeat(project: Project, run_id: int) -> None:
    update_run(project, run_id, heartbeat_at=utcnow())


def finish_run(project: Project, run_id: int, status: str, error: str | None = None) -> None:
    update_run(project, run_id, **_finished(status, error))


def _finished(status: str, error: str | None = None) -> dict[str, Any]:
    return {"status": status, "error": error, "finished_at": utcnow(), "pid": None}


def record_epoch(
    project: Project,
    run_id: int,
    epoch: EpochInfo,
    metrics: Sequence[TaskMetricRow],
) -> None:
    """One epoch's losses and per-task metrics, in one transaction."""
    with project.transaction() as session:
        session.add(
            RunEpoch(
                run_id=run_id,
                epoch=epoch.epoch,
                train_loss=epoch.train_loss,
                val_loss=epoch.val_loss,
                mean_ap=epoch.mean_ap,
                seconds=epoch.seconds,
            )
        )
        for m in metrics:
            session.add(
                RunTaskMetric(
                    run_id=run_id,
                    epoch=epoch.epoch,
                    task_id=m.task_id,
                    train_present=m.train_present,
                    train_absent=m.train_absent,
                    train_unknown=m.train_unknown,
                    val_present=m.val_present,
                    val_absent=m.val_absent,
                    val_unknown=m.val_unknown,
                    loss=m.loss,
                    ap=m.ap,
                    auc=m.auc,
                    precision=m.precision,
                    recall=m.recall,
                    f1=m.f1,
                    threshold=m.threshold,
                    na_reason=m.na_reason,
                )
            )
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(epochs_done=epoch.epoch, heartbeat_at=utcnow())
        )


def record_calibration(
    project: Project, run_id: int, epoch: int, updates: Sequence[dict[str, Any]]
) -> None:
    """Per-task columns of one epoch's metrics (each dict: ``task_id`` and the columns),
    in one transaction: the calibration of the best epoch and what it changed."""
    with project.transaction() as session:
        for values in updates:
            cols = {k: v for k, v in values.items() if k != "task_id"}
            session.execute(
                update(RunTaskMetric)
                .where(
                    RunTaskMetric.run_id == run_id,
                    RunTaskMetric.epoch == epoch,
                    RunTaskMetric.task_id == values["task_id"],
                )
                .values(**cols)
            )


def begin_predictions(project: Project, run_id: int) -> None:
    """Forget a run's earlier predictions; the set is incomplete until ``end_predictions``."""
    with project.transaction() as session:
        session.execute(update(Run).where(Run.id == run_id).values(predictions_complete=False))
        session.execute(delete(Prediction).where(Prediction.run_id == run_id))


def write_predictions(
    project: Project,
    run_id: int,
    image_ids: Sequence[int],
    task_ids: Sequence[int],
    probabilities: np.ndarray,
) -> None:
    """Append one batch: ``probabilities`` is (len(image_ids), len(task_ids))."""
    n_tasks = len(task_ids)
    columns = (
        [run_id] * probabilities.size,
        np.repeat(np.asarray(image_ids, dtype=np.int64), n_tasks).tolist(),
        np.tile(np.asarray(task_ids, dtype=np.int64), len(image_ids)).tolist(),
        np.asarray(probabilities, dtype=np.float64).ravel().tolist(),
    )
    rows = list(zip(*columns, strict=True))
    for start in range(0, len(rows), _PREDICTION_BATCH):
        chunk = rows[start : start + _PREDICTION_BATCH]
        with project.transaction() as session:
            connection = session.connection()
            if connection.dialect.paramstyle == "qmark":
                # SQLite's own executemany on tuples: 40 % less time than SQLAlchemy's
                # insert with one dict per row (200,000 predictions: 2.2 s against 3.8 s).
                connection.exec_driver_sql(_INSERT_PREDICTION, chunk)
            else:
                keys = ("run_id", "image_id", "task_id", "probability")
                table = cast(Table, Prediction.__table__)
                session.execute(insert(table), [dict(zip(keys, r, strict=True)) for r in chunk])


def write_label_checks(
    project: Project,
    run_id: int,
    image_ids: np.ndarray,
    task_ids: np.ndarray,
    probabilities: np.ndarray,
) -> None:
    """Replace the run's label checks with these cells (three equal-length 1-d arrays),
    in one transaction: all of them or none."""
    rows = [
        {"run_id": run_id, "image_id": int(i), "task_id": int(t), "probability": float(p)}
        for i, t, p in zip(image_ids, task_ids, probabilities, strict=True)
    ]
    with project.transaction() as session:
        session.execute(delete(LabelCheck).where(LabelCheck.run_id == run_id))
        if rows:
            session.execute(insert(cast(Table, LabelCheck.__table__)), rows)


_INSERT_PREDICTION = (
    "INSERT INTO prediction (run_id, image_id, task_id, probability) VALUES (?, ?, ?, ?)"
)


def end_predictions(project: Project, run_id: int, finish_as: str | None = None) -> None:
    """Mark the set complete; with ``finish_as`` the run ends with that status in the same
    transaction, so that no kill can leave a run complete in predictions but unfinished
    (which the next open would then call failed)."""
    finished = _finished(finish_as) if finish_as is not None else {}
    update_run(project, run_id, predictions_complete=True, **finished)


# -- everyone's side -----------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_runs(project: Project) -> list[int]:
    """Mark runs whose trainer is gone as failed; return their ids."""
    now = utcnow()
    here = socket.gethostname()
    dead: list[int] = []
    with project.transaction() as session:
        for run in session.scalars(select(Run).where(Run.status.in_(("running", "queued")))):
            beat = run.heartbeat_at or run.created_at
            if run.host == here and run.pid is not None:
                gone = not _pid_alive(run.pid) or now - beat > STALE_AFTER * 3
            else:
                gone = now - beat > STALE_AFTER
            if gone:
                run.status = "failed"
                run.error = (
                    "the trainer stopped without finishing (killed, crashed or the machine "
                    "went down); its last epoch and any predictions are not complete"
                )
                run.finished_at = now
                run.pid = None
                dead.append(run.id)
    return dead


def list_runs(project: Project) -> list[RunInfo]:
    """All runs, newest first."""
    with project.reading() as session:
        return [_info(r) for r in session.scalars(select(Run).order_by(Run.id.desc()))]


def get_run(project: Project, run_id: int) -> RunInfo:
    with project.reading() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id} in this project")
        return _info(run)


def require_finished(info: RunInfo, use: str) -> None:
    """Refuse to ``use`` the checkpoint of a run that did not finish.

    A run killed, crashed, failed or still running may have left a ``best.pt``
    behind (the best epoch so far); it is never taken for a finished run's
    checkpoint. A cancelled run's is used: the user stopped the run, and its
    checkpoint, when it has one, is that of the best epoch that ended, written
    whole and then renamed.
    """
    if info.status in ("done", "cancelled"):
        return
    if info.status in ("running", "queued"):
        state = "is still running"
    else:
        state = f"did not finish ({info.status}" + (f": {info.error}" if info.error else "") + ")"
    raise UserError(
        f"run {info.id} {state}; only a finished run's checkpoint is used to {use}: "
        "choose a finished run or train a new one"
    )


def latest_finished_run(project: Project) -> RunInfo | None:
    """The newest run with complete predictions that an auto run did not set aside."""
    for run in list_runs(project):
        if run.status == "done" and run.predictions_complete and auto_kept(run) is not False:
            return run
    return None


def auto_kept(run: RunInfo) -> bool | None:
    """Whether the auto run this run was a candidate of kept it (None: not a candidate)."""
    auto = run.config.get("auto")
    return bool(auto.get("kept")) if isinstance(auto, dict) else None


def run_epochs(project: Project, run_id: int) -> list[EpochInfo]:
    with project.reading() as session:
        rows = session.scalars(
            select(RunEpoch).where(RunEpoch.run_id == run_id).order_by(RunEpoch.epoch)
        )
        return [EpochInfo(e.epoch, e.train_loss, e.val_loss, e.mean_ap, e.seconds) for e in rows]


def run_task_metrics(
    project: Project, run_id: int, epoch: int | None = None
) -> list[TaskMetricRow]:
    """Per-task metrics of one epoch (default: the run's best epoch, else its last)."""
    run = get_run(project, run_id)
    if epoch is None:
        epoch = run.best_epoch or run.epochs_done
    with project.reading() as session:
        rows = session.execute(
            select(RunTaskMetric, Task.name)
            .join(Task, Task.id == RunTaskMetric.task_id)
            .where(RunTaskMetric.run_id == run_id, RunTaskMetric.epoch == epoch)
            .order_by(Task.position, Task.id)
        )
        return [
            TaskMetricRow(
                m.task_id,
                name,
                m.epoch,
                m.train_present,
                m.train_absent,
                m.train_unknown,
                m.val_present,
                m.val_absent,
                m.val_unknown,
                m.loss,
                m.ap,
                m.auc,
                m.precision,
                m.recall,
                m.f1,
                m.threshold,
                m.na_reason,
                m.calibration_slope,
                m.calibration_intercept,
                m.ece_raw,
                m.ece,
                m.user_threshold,
            )
            for m, name in rows
        ]


def read_predictions(project: Project, run_id: int) -> tuple[list[int], list[int], np.ndarray]:
    """(image ids, task ids, probabilities (images × tasks), NaN where missing)."""
    with project.reading() as session:
        rows = list(
            session.execute(
                select(Prediction.image_id, Prediction.task_id, Prediction.probability).where(
                    Prediction.run_id == run_id
                )
            )
        )
    image_ids = sorted({r[0] for r in rows})
    task_ids = sorted({r[1] for r in rows})
    r_of = {i: n for n, i in enumerate(image_ids)}
    c_of = {t: n for n, t in enumerate(task_ids)}
    probs = np.full((len(image_ids), len(task_ids)), np.nan, dtype=np.float32)
    for image_id, task_id, p in rows:
        probs[r_of[image_id], c_of[task_id]] = p
    return image_ids, task_ids, probs
