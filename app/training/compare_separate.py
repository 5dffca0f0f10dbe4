"""Compare with separate networks: one shared network, then separate per-task networks.

Caruana's question for the user's own data: does sharing help? A
:class:`CompareSeparateJob` trains the two, one after the other, through a
:class:`TrainerProcess` — ``--arch shared`` first, then ``--arch separate`` with
exactly the same other settings — and says which two runs to compare when both
are done. :class:`CompareSeparateBar` is its face in the runs panel: progress
("1/2 shared network … 2/2 separate networks"), Cancel, and the one caveat the
job cannot remove: each run trains on the labels as they are when it starts, so
labels edited before the second run starts make the pair unequal. (The
comparison itself then says so, from the two runs' label counts.)

Neither run starts from an earlier run's weights (``init_from`` is dropped):
separate networks cannot start from a shared network's weights, and a shared
network that did would not be a fair opponent.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.training.run_compare import settings_summary
from app.training.trainer_process import TrainerProcess, TrainOutcome, flags_from_settings

CLI_SETTINGS = (
    "epochs",
    "batch_size",
    "lr",
    "backbone",
    "mode",
    "views",
    "image_size",
    "width",
    "hidden",
    "backbone_lr",
    "arch",
    "loss",
    "pos_weight",
    "val_fraction",
    "device",
    "seed",
    "no_augment",
    "flip",
    "patience",
    "design",
    "max_steps",
    "threads",
)
"""The settings ``mtlabel train`` takes as flags (``init_from`` left out on purpose)."""
STAGES = ("shared", "separate")
STAGE_NAMES = {"shared": "shared network", "separate": "separate networks"}
UNFAIR_WARNING = (
    "Each run trains on the labels as they are when it starts: labels edited before the "
    "second run starts make the comparison unfair."
)


def comparison_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The train settings for both runs, as ``mtlabel train`` flags' keys.

    Takes the train panel's settings or a run's stored config (``TrainConfig``
    fields: ``augment`` becomes ``no_augment``; settings the CLI has no flag for,
    such as ``weight_decay``, and the panel's own ``_keys`` are dropped, as is
    ``init_from``). ``arch`` is left for each run to set. The default auto backbone
    and mode become ``--mode instant`` on the default backbone (auto's pretrained
    candidate), so that both runs train the same network.
    """
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "augment":
            out["no_augment"] = value is False
        elif key in CLI_SETTINGS and key != "arch":
            out[key] = value
    if out.get("backbone", "auto") == "auto" and out.get("mode", "auto") == "auto":
        # The default auto run would pick a winner per stage (and could pick differently):
        # both stages train its pretrained head instead (auto backbone, instant), the
        # same network.
        out["backbone"], out["mode"] = "auto", "instant"
    return out


class CompareSeparateJob(QObject):
    """Two trainings in a row, shared then separate, on the same settings and labels."""

    progress = Signal(str)
    """What is happening, in words: "1/2 shared network (run 5): epoch 2/12"."""
    percent = Signal(int)
    """Overall progress of both runs, 0–100."""
    run_started = Signal(int)
    """A run was created (its id): the runs list can show it."""
    finished = Signal(object, object, str)
    """(shared run id | None, separate run id | None, message); both ids: compare them."""

    def __init__(self, parent: QObject | None = None, *, program: Sequence[str] | None = None):
        super().__init__(parent)
        self.trainer = TrainerProcess(self, program=program)
        self.trainer.started.connect(self._on_started)
        self.trainer.caching.connect(self._on_caching)
        self.trainer.features.connect(self._on_features)
        self.trainer.progress.connect(self._on_progress)
        self.trainer.predicting.connect(self._on_predicting)
        self.trainer.finished.connect(self._on_finished)
        self._root = ""
        self._settings: dict[str, Any] = {}
        self._stage = -1
        self._cancelled = False
        self.shared_run_id: int | None = None
        self.separate_run_id: int | None = None

    def is_running(self) -> bool:
        return self._stage >= 0

    @property
    def stage(self) -> str | None:
        """The stage running: shared or separate; None when idle."""
        return STAGES[self._stage] if self._stage >= 0 else None

    def start(self, project_root: str | os.PathLike[str], settings: Mapping[str, Any]) -> bool:
        """Start the shared run (the separate one follows); False if already running."""
        if self.is_running():
            return False
        self._root = str(project_root)
        self._settings = comparison_settings(settings)
        self._cancelled = False
        self.shared_run_id = self.separate_run_id = None
        return self._start_stage(0)

    def cancel(self) -> bool:
        """Stop the run in progress; the second run is not started."""
        if not self.is_running():
            return False
        self._cancelled = True
        self.progress.emit(f"{self._prefix()}: cancelling…")
        self.trainer.cancel()
        return True

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop the trainer and wait for it (blocking; for closing the window)."""
        if self.is_running():
            self._cancelled = True
            self.trainer.shutdown(timeout_s)

    def flags(self, arch: str) -> list[str]:
        """The ``mtlabel train`` flags of one of the two runs."""
        return flags_from_settings({**self._settings, "arch": arch})

    # -- stages ------------------------------------------------------------------------

    def _start_stage(self, stage: int) -> bool:
        self._stage = stage
        self.progress.emit(f"{self._prefix()}: starting…")
        self.percent.emit(self._overall(0.0))
        if not self.trainer.start(self._root, self.flags(STAGES[stage])):
            self._stage = -1
            self.finished.emit(None, None, "A trainer of this job is still running.")
            return False
        return True

    def _prefix(self) -> str:
        if self._stage < 0:
            return "Comparison"
        arch = STAGES[self._stage]
        run = self.shared_run_id if arch == "shared" else self.separate_run_id
        text = f"{self._stage + 1}/2 {STAGE_NAMES[arch]}"
        return text + (f" (run {run})" if run is not None else "")

    def _overall(self, within: float) -> int:
        return round(100 * (max(0, self._stage) + min(1.0, max(0.0, within))) / len(STAGES))

    def _on_started(self, event: dict[str, Any]) -> None:
        run = event.get("run")
        if not isinstance(run, int):
            return
        if self._stage == 0:
            self.shared_run_id = run
        elif self._stage == 1:
            self.separate_run_id = run
        self.progress.emit(f"{self._prefix()}: started on {event.get('device', 'the device')}")
        self.run_started.emit(run)

    def _on_caching(self, done: int, total: int) -> None:
        if not self._cancelled:
            self.progress.emit(f"{self._prefix()}: preparing images {done}/{total}")

    def _on_features(self, done: int, total: int) -> None:
        if not self._cancelled:
            self.progress.emit(f"{self._prefix()}: computing features {done}/{total}")

    def _on_progress(self, event: dict[str, Any]) -> None:
        if self._cancelled:
            return
        try:
            epoch, epochs = int(event["epoch"]), int(event["epochs"])
            step, steps = int(event["step"]), int(event["steps"])
        except (KeyError, TypeError, ValueError):
            return
        self.progress.emit(f"{self._prefix()}: epoch {epoch}/{epochs}, step {step}/{steps}")
        if epochs > 0 and steps > 0:
            self.percent.emit(self._overall(0.95 * ((epoch - 1) + step / steps) / epochs))

    def _on_predicting(self, done: int, total: int) -> None:
        if not self._cancelled:
            self.progress.emit(f"{self._prefix()}: predicting {done}/{total} images")
            self.percent.emit(self._overall(0.95 + 0.05 * (done / total if total else 0.0)))

    def _on_finished(self, outcome: TrainOutcome) -> None:
        stage = self._stage
        if stage < 0:
            return
        arch = STAGES[stage]
        if outcome.run_id is not None:
            if arch == "shared":
                self.shared_run_id = outcome.run_id
            else:
                self.separate_run_id = outcome.run_id
        if outcome.status == "done" and not self._cancelled and stage + 1 < len(STAGES):
            self._start_stage(stage + 1)
            return
        self._stage = -1
        shared, separate = self.shared_run_id, self.separate_run_id
        if outcome.status == "done" and not self._cancelled:
            self.percent.emit(100)
            message = (
                f"Both runs are done: the shared network is run {shared}, separate networks "
                f"run {separate}."
            )
            self.progress.emit(message)
            self.finished.emit(shared, separate, message)
            return
        if self._cancelled or outcome.status == "cancelled":
            message = f"Comparison cancelled during the {STAGE_NAMES[arch]} run."
        else:
            what = "shared network's" if arch == "shared" else "separate networks'"
            verb = "failed" if outcome.status == "failed" else "crashed"
            then = ", so the separate networks were not trained" if arch == "shared" else ""
            message = f"The {what} run {verb}{then}: {outcome.error}"
        self.progress.emit(message)
        self.finished.emit(shared, separate if arch == "separate" else None, message)


class CompareSeparateBar(QFrame):
    """The job's progress above the runs list: what runs, how far, Cancel; then the outcome."""

    finished = Signal(object, object, str)
    """The job's ``finished``, passed on."""
    run_started = Signal(int)

    def __init__(
        self, parent: QWidget | None = None, *, program: Sequence[str] | None = None
    ) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.job = CompareSeparateJob(self, program=program)
        self.job.progress.connect(self._on_progress)
        self.job.percent.connect(self._on_percent)
        self.job.run_started.connect(self.run_started)
        self.job.finished.connect(self._on_finished)
        self.title = QLabel("<b>Shared network vs separate networks</b>")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(True)
        self.bar.setMaximumWidth(260)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run in progress; the other is not trained")
        self.cancel_button.clicked.connect(self.cancel)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.hide)
        self.warning = QLabel(UNFAIR_WARNING)
        self.warning.setWordWrap(True)
        font = self.warning.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.warning.setFont(font)
        self.warning.setStyleSheet("color: palette(placeholder-text);")
        self.title.setWordWrap(True)
        # The title and buttons on one line, what is happening below it at full width:
        # beside the title, the status was squeezed into a tall narrow column.
        row = QHBoxLayout()
        row.addWidget(self.title, 1)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        row.addWidget(self.dismiss_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.warning)
        self.dismiss_button.hide()

    def is_running(self) -> bool:
        return self.job.is_running()

    def start(self, project_root: str | os.PathLike[str], settings: Mapping[str, Any]) -> bool:
        if self.job.is_running():
            return False
        self.bar.setValue(0)
        self.bar.show()
        self.warning.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.dismiss_button.hide()
        summary = settings_summary(comparison_settings(settings), with_arch=False)
        self.title.setText(
            f"<b>Shared network vs separate networks</b> <small>({html.escape(summary)})</small>"
        )
        self.show()
        return self.job.start(project_root, settings)

    def cancel(self) -> None:
        if self.job.cancel():
            self.cancel_button.setEnabled(False)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        self.job.shutdown(timeout_s)

    def _on_progress(self, text: str) -> None:
        self.status.setText(text)

    def _on_percent(self, value: int) -> None:
        self.bar.setValue(value)

    def _on_finished(self, shared: object, separate: object, message: str) -> None:
        self.status.setText(message)
        self.cancel_button.hide()
        self.bar.hide()
        self.warning.hide()
        self.dismiss_button.show()
        self.finished.emit(shared, separate, message)
