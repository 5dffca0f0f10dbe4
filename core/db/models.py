"""The ORM schema. Changes here need an Alembic revision in core/migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

IMAGE_STATUSES = ("ok", "missing", "unreadable")
LABEL_SOURCES = ("human", "import", "prediction")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Task(Base):
    """A binary question asked of every image ("car?")."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int]
    colour: Mapped[str | None] = mapped_column(String(16))
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Image(Base):
    """An image file, recorded where it lies; the content hash recognises it."""

    __tablename__ = "image"
    __table_args__ = (CheckConstraint("status IN ('ok', 'missing', 'unreadable')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    """Absolute path, POSIX separators."""
    root: Mapped[str] = mapped_column(Text)
    """The folder it was imported from (its parent for single files)."""
    rel_path: Mapped[str] = mapped_column(Text, index=True)
    """``path`` relative to ``root``; label files name images this way."""
    name: Mapped[str] = mapped_column(Text, index=True)
    """The bare file name, for matching when it is unique in the project."""
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    file_size: Mapped[int] = mapped_column(BigInteger)
    file_mtime_ns: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int]
    """Pixels, after EXIF orientation is applied."""
    height: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="ok")
    status_note: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Label(Base):
    """A known cell: image × task is present (1) or absent (0). No row means unknown."""

    __tablename__ = "label"
    __table_args__ = (
        CheckConstraint("value IN (0, 1)", name="value"),
        Index("ix_label_task_value", "task_id", "value", "image_id"),
    )

    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), primary_key=True)
    value: Mapped[int]
    annotator: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LabelEvent(Base):
    """Append-only history: every change of every cell, with old and new value."""

    __tablename__ = "label_event"
    __table_args__ = (Index("ix_label_event_image_task", "image_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    old_value: Mapped[int | None]
    new_value: Mapped[int | None]
    annotator: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    batch: Mapped[str | None] = mapped_column(String(32))
    """Changes made in one transaction share a batch id (a bulk edit, a file import)."""


RUN_STATUSES = ("queued", "running", "done", "failed", "cancelled")


class Run(Base):
    """One training run: its settings, its fate, and where its artefacts lie."""

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'cancelled')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Refreshed while the trainer lives; a stale one marks a dead trainer."""
    status: Mapped[str] = mapped_column(String(16), default="queued")
    config: Mapped[str] = mapped_column(Text)
    """The run's settings, JSON."""
    device: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[str | None] = mapped_column(Text)
    """Label counts of the snapshot the run trained on, JSON."""
    epochs_done: Mapped[int] = mapped_column(default=0)
    best_epoch: Mapped[int | None]
    best_mean_ap: Mapped[float | None]
    checkpoint: Mapped[str | None] = mapped_column(Text)
    """Path of the best checkpoint, relative to the project folder; set once it is complete."""
    predictions_complete: Mapped[bool] = mapped_column(default=False)
    """True only once every prediction row of the run is written."""


class RunEpoch(Base):
    """Losses and the headline metric of one epoch of a run."""

    __tablename__ = "run_epoch"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(primary_key=True)
    train_loss: Mapped[float | None]
    val_loss: Mapped[float | None]
    mean_ap: Mapped[float | None]
    seconds: Mapped[float]


class RunTaskMetric(Base):
    """Per-task validation metrics of one epoch; n/a values come with a reason."""

    __tablename__ = "run_task_metric"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), primary_key=True)
    train_present: Mapped[int]
    train_absent: Mapped[int]
    train_unknown: Mapped[int]
    val_present: Mapped[int]
    val_absent: Mapped[int]
    val_unknown: Mapped[int]
    loss: Mapped[float | None]
    ap: Mapped[float | None]
    auc: Mapped[float | None]
    precision: Mapped[float | None]
    recall: Mapped[float | None]
    f1: Mapped[float | None]
    threshold: Mapped[float | None]
    na_reason: Mapped[str | None] = mapped_column(Text)
    # Set on the best epoch once the run is calibrated (core/training/calibration.py):
    # the Platt map of the task's probabilities and the validation ECE before/after it.
    calibration_slope: Mapped[float | None]
    calibration_intercept: Mapped[float | None]
    ece_raw: Mapped[float | None]
    ece: Mapped[float | None]
    # A threshold the user chose in the window; predictions use it instead of ``threshold``.
    user_threshold: Mapped[float | None]


class _CellProbability:
    """A probability for one (image, task) cell from one run: the columns of the tables
    the prediction queries walk by probability."""

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), primary_key=True)
    probability: Mapped[float]


class Prediction(_CellProbability, Base):
    """The model's probability for one cell, from one run."""

    __tablename__ = "prediction"
    # Covering: "label next" and "predicted present" walk it by probability and read
    # the image id without touching the table.
    __table_args__ = (
        Index(
            "ix_prediction_run_task_probability_image",
            "run_id",
            "task_id",
            "probability",
            "image_id",
        ),
    )


class LabelCheck(_CellProbability, Base):
    """A known cell's probability from a model that did not train on its label: out of
    fold for training cells (K-fold cross-fitting), the run's own for validation cells.
    "Likely label errors" ranks these, so that a memorised wrong label is still found."""

    __tablename__ = "label_check"
    __table_args__ = (
        Index(
            "ix_label_check_run_task_probability_image",
            "run_id",
            "task_id",
            "probability",
            "image_id",
        ),
    )
