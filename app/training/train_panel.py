"""The Train panel: run settings, Train / Cancel, live progress, curves and per-task metrics.

Training runs in its own process (:class:`TrainerProcess`); this widget only
turns the trainer's JSON lines into a progress bar, two charts and a table.
Nothing here queries the database while a run trains — progress lines are
parsed and painted, no more — so annotating goes on undisturbed. The database
is read before a run (the runs to start from) and once after it (the best
epoch's metrics; a run whose trainer died is marked so).

The settings are remembered in ``QSettings`` under ``train/settings`` (JSON),
the "start from" run only for the project it belongs to.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.session import ProjectSession
from app.training.auto_summary import AutoSummary
from app.training.charts import ApChart, LossChart
from app.training.metrics_table import MetricsTable
from app.training.trainer_process import TrainerProcess, TrainOutcome, flags_from_settings
from core import runs
from core.runs import RunInfo

log = logging.getLogger(__name__)

SETTINGS_KEY = "train/settings"
TRAIN_TIP = "Train a network on the labels as they are now"
DEFAULT_SETTINGS: dict[str, Any] = {
    "epochs": 12,
    "batch_size": 64,
    "image_size": 0,
    "width": 24,
    "backbone": "auto",
    "mode": "auto",
    "arch": "shared",
    "loss": "masked",
    "device": "auto",
    "init_from": None,
}
"""The panel's settings; each key is an ``mtlabel train`` flag (``flags_from_settings``)."""
MIN_IMAGE_SIZE = 16

BACKBONES = (
    ("auto", "auto"),
    ("compact", "compact (from scratch)"),
    ("efficientnet-lite0", "EfficientNet-Lite0"),
    ("efficientnet-lite1", "EfficientNet-Lite1 (larger extra)"),
    ("efficientnet-lite2", "EfficientNet-Lite2 (larger extra)"),
    ("resnet18", "ResNet-18"),
    ("mobilenet-v3-large", "MobileNetV3-Large"),
)
MODES = (
    ("auto", "auto"),
    ("scratch", "scratch"),
    ("instant", "instant (frozen backbone)"),
    ("finetune", "fine-tune"),
)
ARCHS = (("shared", "shared network"), ("separate", "separate per task"))
LOSSES = (
    ("masked", "masked"),
    ("partial", "partial (reweighted)"),
    ("assume-negative", "unknown = absent"),
)
DEVICES = (("auto", "auto"), ("cpu", "CPU"), ("cuda", "CUDA GPU")) + (
    (("mps", "Apple MPS"),) if sys.platform == "darwin" else ()
)


def phase_eta(elapsed: float, done_since: int, left: int) -> float | None:
    """Seconds left at the pace so far: ``elapsed`` seconds for ``done_since`` items,
    ``left`` to go; None until a second has passed and some items are done."""
    if done_since <= 0 or elapsed < 1.0:
        return None
    return elapsed / done_since * max(left, 0)


def format_duration(seconds: float) -> str:
    """45 s, 1 min 20 s, 2 h 05 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def steps_done(event: dict[str, Any]) -> tuple[int, int]:
    """(optimisation steps done, steps in the whole run) from a progress event."""
    steps = max(1, int(event["steps"]))
    done = (int(event["epoch"]) - 1) * steps + int(event["step"])
    return done, max(done, int(event["epochs"]) * steps)


def eta_seconds(event: dict[str, Any], epoch_seconds: Sequence[float] = ()) -> float | None:
    """Time left in the run from a progress event (``elapsed``: seconds since its epoch
    began): the rest of this epoch at the time per step so far, then each epoch still
    to come at the mean length of the finished ones (validation included), or at this
    epoch's pace before any has finished."""
    elapsed = event.get("elapsed")
    step, steps = int(event["step"]), max(1, int(event["steps"]))
    if not isinstance(elapsed, int | float) or step <= 0:
        return None
    per_step = float(elapsed) / step
    per_epoch = sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else steps * per_step
    epochs_left = max(0, int(event["epochs"]) - int(event["epoch"]))
    return max(0, steps - step) * per_step + epochs_left * per_epoch


def progress_text(event: dict[str, Any], epoch_seconds: Sequence[float] = ()) -> str:
    """ "Epoch 3/12 · step 40/100 · ETA 1 min 20 s"."""
    text = f"Epoch {event['epoch']}/{event['epochs']} · step {event['step']}/{event['steps']}"
    eta = eta_seconds(event, epoch_seconds)
    return text + (f" · ETA {format_duration(eta)}" if eta is not None else "")


def describe_config(config: dict[str, Any]) -> str:
    """ "compact w8 · 32 px · shared · masked · 2 epochs · from run 3"."""
    backbone = str(config.get("backbone", "?"))
    net = f"compact w{config.get('width')}" if backbone == "compact" else backbone
    if backbone != "compact" and config.get("mode"):
        net += f" ({config['mode']})"
    parts = [
        net,
        f"{config.get('image_size')} px",
        str(config.get("arch")),
        str(config.get("loss")),
    ]
    parts.append(f"{config.get('epochs')} epochs")
    if config.get("init_from") is not None:
        parts.append(f"from run {config['init_from']}")
    return " · ".join(parts)


class ErrorBox(QFrame):
    """A failure, in the panel (not a modal dialog: annotating goes on): a title, the
    reason, and for a crash the last lines the trainer wrote."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainError")
        self.setStyleSheet(
            "QFrame#trainError { border: 1px solid rgba(214, 69, 65, 0.85);"
            " border-radius: 4px; background: rgba(214, 69, 65, 0.12); }"
        )
        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        pixmap = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
        icon.setPixmap(pixmap.pixmap(size, size))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.title = QLabel()
        bold = QFont(self.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(110)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.details.setFont(mono)
        dismiss = QToolButton()
        dismiss.setText("✕")
        dismiss.setToolTip("Dismiss")
        dismiss.setAutoRaise(True)
        dismiss.clicked.connect(self.hide)
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addWidget(self.title, 1)
        head.addWidget(dismiss)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addLayout(head)
        layout.addWidget(self.text)
        layout.addWidget(self.details)
        self.hide()

    def show_error(self, title: str, text: str, details: str = "") -> None:
        self.title.setText(title)
        self.text.setText(text)
        self.details.setPlainText(details)
        self.details.setVisible(bool(details))
        self.show()

    def message(self) -> str:
        """Everything shown, as one string (for tests and copying)."""
        return "\n".join(
            part
            for part in (self.title.text(), self.text.text(), self.details.toPlainText())
            if part
        )


class TrainPanel(QWidget):
    """Settings, Train / Cancel, progress with ETA, loss and AP charts, per-task metrics.

    ``program`` replaces the command that runs the ``mtlabel`` CLI (tests).
    """

    run_started = Signal(int)  # run id, as soon as the trainer announces it
    run_finished = Signal(int, str)  # run id (-1: no run was created), status
    running_changed = Signal(bool)

    def __init__(
        self,
        session: ProjectSession,
        parent: QWidget | None = None,
        *,
        program: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.trainer = TrainerProcess(self, program=program)
        self._epochs_planned = 0
        self._epoch_seconds: list[float] = []
        self._phase_start: dict[str, tuple[float, int]] = {}  # phase → (time, done) at its start
        self._started_run: int | None = None
        self._restoring = False
        self.last_outcome: TrainOutcome | None = None
        self._held: str | None = None  # why Train is disabled while idle (see hold)

        self.train_action = QAction("&Train", self)
        self.train_action.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.train_action.setToolTip(TRAIN_TIP)
        self.train_action.triggered.connect(self.start_training)
        self.cancel_action = QAction("&Cancel Training", self)
        self.cancel_action.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaStop))
        self.cancel_action.triggered.connect(self.cancel_training)

        self._build()
        self._connect_trainer()
        self.refresh_runs()
        self.restore_settings()
        self._set_running(False)

    # -- building ------------------------------------------------------------------------

    def _combo(self, items: tuple[tuple[str, str], ...]) -> QComboBox:
        combo = QComboBox()
        for value, text in items:
            combo.addItem(text, value)
        combo.currentIndexChanged.connect(self._settings_changed)
        return combo

    def _spin(self, low: int, high: int, step: int = 1) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setAccelerated(True)
        spin.valueChanged.connect(self._settings_changed)
        return spin

    def _build(self) -> None:
        self.epochs = self._spin(1, 1000)
        self.epochs.setToolTip("Passes over the training images")
        self.batch_size = self._spin(1, 4096)
        self.batch_size.setToolTip("Images per optimisation step")
        self.image_size = self._spin(0, 1024, 16)
        self.image_size.setSpecialValueText("auto")
        self.image_size.setSuffix(" px")
        self.image_size.setToolTip(
            "Square input side; auto: the backbone's own (64 px compact, 224 px pretrained)"
        )
        self.width_spin = self._spin(4, 512, 4)
        self.width_spin.setToolTip("Channels of the compact network's first stage")
        self.backbone = self._combo(BACKBONES)
        self.backbone.setToolTip(
            "The network under the task outputs. auto: EfficientNet-Lite0 when its ImageNet "
            "weights are installed, else compact (a small network trained from scratch)"
        )
        self.mode = self._combo(MODES)
        self.mode.setToolTip(
            "scratch: every weight from random values; instant: a frozen pretrained backbone "
            "(seconds); fine-tune: its last stages trained too; auto: instant for pretrained, "
            "scratch for compact"
        )
        self.arch = self._combo(ARCHS)
        self.arch.setToolTip(
            "One network with a head per task, or a separate network for each task"
        )
        self.loss = self._combo(LOSSES)
        self.loss.setToolTip(
            "masked: unknown cells are left out of the loss; partial: Durand et al.'s "
            "reweighting by known cells; unknown = absent: a baseline for comparison"
        )
        self.device = self._combo(DEVICES)
        self.start_from = QComboBox()
        self.start_from.setToolTip(
            "scratch: random (or ImageNet) weights; a run: that run's trained model"
        )
        self.start_from.currentIndexChanged.connect(self._settings_changed)
        self.backbone.currentIndexChanged.connect(self._update_enabled_fields)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Epochs", self.epochs)
        form.addRow("Backbone", self.backbone)
        form.addRow("Mode", self.mode)
        form.addRow("Image size", self.image_size)
        form.addRow("Network width", self.width_spin)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Architecture", self.arch)
        form.addRow("Loss", self.loss)
        form.addRow("Device", self.device)
        form.addRow("Start from", self.start_from)
        self.settings_box = QGroupBox("Run settings")
        self.settings_box.setLayout(form)

        self.train_button = QPushButton(self.train_action.icon(), "Train")
        self.train_button.setToolTip(self.train_action.toolTip())
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton(self.cancel_action.icon(), "Cancel")
        self.cancel_button.setToolTip("Stop after the current step; the run is kept, cancelled")
        self.cancel_button.clicked.connect(self.cancel_training)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.cancel_button, 1)
        self.held_note = QLabel()
        self.held_note.setWordWrap(True)
        self.held_note.hide()

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.settings_box)
        left.addLayout(buttons)
        left.addWidget(self.held_note)
        left.addStretch(1)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setMaximumWidth(300)
        left_widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

        self.status = QLabel("Not trained yet in this session.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("Idle")
        self.progress_bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error_box = ErrorBox()
        self.messages = QPlainTextEdit()
        self.messages.setReadOnly(True)
        self.messages.setMaximumBlockCount(200)
        self.messages.setMaximumHeight(64)
        self.messages.setPlaceholderText("Trainer messages")
        self.messages.hide()
        self.auto_summary = AutoSummary()

        self.loss_chart = LossChart()
        self.ap_chart = ApChart()
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.loss_chart)
        charts.addWidget(self.ap_chart)
        charts.setChildrenCollapsible(False)
        charts.setSizes([1, 1])
        self.charts = charts

        self.metrics_title = QLabel("Per-task validation metrics")
        bold = QFont(self.font())
        bold.setBold(True)
        self.metrics_title.setFont(bold)
        self.metrics_table = MetricsTable()
        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 4, 0, 0)
        table_layout.addWidget(self.metrics_title)
        table_layout.addWidget(self.metrics_table)

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.status)
        right.addWidget(self.progress_bar)
        right.addWidget(self.error_box)
        right.addWidget(self.messages)
        right.addWidget(self.auto_summary)
        right.addWidget(charts, 1)
        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(left_widget)
        top_layout.addLayout(right, 1)

        # Settings and curves above, the table across the whole width below (it is wide).
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(table_box)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([3000, 2000])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

    def _connect_trainer(self) -> None:
        t = self.trainer
        t.started.connect(self._on_started)
        t.caching.connect(self._on_caching)
        t.features.connect(self._on_features)
        t.progress.connect(self._on_progress)
        t.epoch_finished.connect(self._on_epoch)
        t.message.connect(self._on_message)
        t.auto.connect(self.auto_summary.update_from)
        t.predicting.connect(self._on_predicting)
        t.finished.connect(self._on_finished)

    # -- settings ------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The form's values, keyed as ``mtlabel train`` flags (no width for a pretrained
        backbone, which has its own: the trainer would say it ignores one)."""
        size = self.image_size.value()
        backbone = self.backbone.currentData()
        return {
            "epochs": self.epochs.value(),
            "batch_size": self.batch_size.value(),
            "image_size": max(size, MIN_IMAGE_SIZE) if size else 0,
            "width": self.width_spin.value() if backbone in ("auto", "compact") else None,
            "backbone": backbone,
            "mode": self.mode.currentData(),
            "arch": self.arch.currentData(),
            "loss": self.loss.currentData(),
            "device": self.device.currentData(),
            "init_from": self.start_from.currentData(),
        }

    def set_settings(self, values: dict[str, Any]) -> None:
        """Fill the form; unknown keys and values of the wrong type are ignored."""
        spins = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "image_size": self.image_size,
            "width": self.width_spin,
        }
        combos = {
            "backbone": self.backbone,
            "mode": self.mode,
            "arch": self.arch,
            "loss": self.loss,
            "device": self.device,
        }
        for key, spin in spins.items():
            value = values.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                spin.setValue(value)
        for key, combo in combos.items():
            index = combo.findData(values.get(key))
            if index >= 0:
                combo.setCurrentIndex(index)
        if "init_from" in values:
            index = self.start_from.findData(values["init_from"])
            self.start_from.setCurrentIndex(max(index, 0))
        self._update_enabled_fields()

    def restore_settings(self) -> None:
        """The last choice from QSettings (the defaults where there is none)."""
        self._restoring = True
        try:
            values = dict(DEFAULT_SETTINGS)
            raw = QSettings().value(SETTINGS_KEY)
            saved: Any = None
            if isinstance(raw, str):
                try:
                    saved = json.loads(raw)
                except ValueError:
                    saved = None
            if isinstance(saved, dict):
                if saved.get("_project") != str(self.session.project.root):
                    saved.pop("init_from", None)
                values.update(saved)
            self.set_settings(values)
        finally:
            self._restoring = False

    def save_settings(self) -> None:
        values = self.settings()
        values["_project"] = str(self.session.project.root)
        QSettings().setValue(SETTINGS_KEY, json.dumps(values))

    def _settings_changed(self, *_: object) -> None:
        if not self._restoring:
            self.save_settings()

    def _update_enabled_fields(self, *_: object) -> None:
        backbone = self.backbone.currentData()
        self.width_spin.setEnabled(backbone in ("auto", "compact"))
        self.mode.setEnabled(backbone != "compact")

    def refresh_runs(self) -> None:
        """Re-read the finished runs one can start from (one query; not during a run)."""
        current = self.start_from.currentData()
        self._restoring = True
        try:
            self.start_from.clear()
            self.start_from.addItem("scratch", None)
            try:
                infos = runs.list_runs(self.session.project)
            except Exception:  # a read failure must not break the panel
                log.exception("could not list the runs")
                infos = []
            for info in infos:
                if info.status == "done" and info.checkpoint:
                    self.start_from.addItem(self._run_label(info), info.id)
                    self.start_from.setItemData(
                        self.start_from.count() - 1,
                        describe_config(info.config),
                        Qt.ItemDataRole.ToolTipRole,
                    )
            index = self.start_from.findData(current)
            self.start_from.setCurrentIndex(max(index, 0))
        finally:
            self._restoring = False

    @staticmethod
    def _run_label(info: RunInfo) -> str:
        when = info.created_at.astimezone().strftime("%d %b %H:%M")
        ap = "n/a" if info.best_mean_ap is None else f"{info.best_mean_ap:.3f}"
        return f"run {info.id} · {when} · AP {ap}"

    # -- running -------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.trainer.is_running()

    def hold(self, reason: str | None) -> None:
        """Keep Train disabled, saying ``reason`` (another job is training); None: release.

        One trainer at a time: two on a 2-core machine each run at half speed or
        worse, and the user waits longer for both than for one after the other.
        """
        self._held = reason
        self._set_running(self.trainer.is_running())

    def start_training(self) -> bool:
        """Start ``mtlabel train`` with the form's settings; False if one is running or
        Train is held (see ``hold``)."""
        if self.trainer.is_running() or self._held is not None:
            return False
        settings = self.settings()
        self.save_settings()
        self.loss_chart.clear()
        self.ap_chart.clear()
        self.metrics_table.clear()
        self.metrics_title.setText("Per-task validation metrics")
        self.error_box.hide()
        self.messages.clear()
        self.messages.hide()
        self.auto_summary.clear()
        self.last_outcome = None
        self._epochs_planned = int(settings["epochs"])
        self._epoch_seconds = []
        self._started_run = None
        self.status.setText("Starting the trainer…")
        self.progress_bar.setRange(0, 0)  # busy until the first event
        self.progress_bar.setFormat("Starting…")
        started = self.trainer.start(self.session.project.root, flags_from_settings(settings))
        if started:
            self._set_running(True)
        return started

    def cancel_training(self) -> None:
        """Stop the run after its current step (it is kept, marked cancelled)."""
        if self.trainer.cancel():
            self.cancel_button.setEnabled(False)
            self.cancel_action.setEnabled(False)
            self.cancel_button.setText("Cancelling…")
            self._bar(self.progress_bar.value(), "Cancelling — finishing the current step…")

    def shutdown(self) -> None:
        """Stop a running trainer and wait for it (call when the project or window closes)."""
        self.trainer.shutdown()

    def _set_running(self, running: bool) -> None:
        self.settings_box.setEnabled(not running)
        can_train = not running and self._held is None
        self.train_button.setEnabled(can_train)
        self.train_action.setEnabled(can_train)
        tip = self._held or TRAIN_TIP
        self.train_button.setToolTip(tip)
        self.train_action.setToolTip(tip)
        self.held_note.setText(self._held or "")
        self.held_note.setVisible(self._held is not None and not running)
        self.cancel_button.setEnabled(running)
        self.cancel_action.setEnabled(running)
        self.cancel_button.setText("Cancel")
        self.running_changed.emit(running)

    def _bar(self, value: int, text: str, maximum: int = 1000) -> None:
        if self.progress_bar.maximum() != maximum:
            self.progress_bar.setRange(0, maximum)
        self.progress_bar.setValue(max(0, min(value, maximum)))
        self.progress_bar.setFormat(text)

    def progress_text(self) -> str:
        return self.progress_bar.format()

    # -- trainer events ------------------------------------------------------------------

    def _on_started(self, event: dict[str, Any]) -> None:
        config = event.get("config") or {}
        if self._started_run is not None:  # an auto run's next candidate: its own curves
            self.loss_chart.clear()
            self.ap_chart.clear()
            self._epoch_seconds = []
        self._started_run = event.get("run") if isinstance(event.get("run"), int) else None
        self._phase_start = {}
        self._epochs_planned = int(config.get("epochs") or self._epochs_planned)
        self.status.setText(
            f"Run {event.get('run')} on {event.get('device')} · {describe_config(config)}"
        )
        self._bar(0, "Preparing…")
        if isinstance(event.get("run"), int):
            self.run_started.emit(event["run"])

    def _on_caching(self, done: int, total: int) -> None:
        eta = self._phase_eta("caching", done, total)
        self._bar(done, f"Caching images {done}/{total}{eta}", max(total, 1))

    def _on_features(self, done: int, total: int) -> None:
        eta = self._phase_eta("features", done, total)
        self._bar(done, f"Computing features {done}/{total} images{eta}", max(total, 1))

    def _phase_eta(self, phase: str, done: int, total: int) -> str:
        """ " · ETA 40 s" from the pace since the phase's first report ("" until known)."""
        now = time.monotonic()
        start = self._phase_start.get(phase)
        if start is None or done < start[1]:
            self._phase_start[phase] = (now, done)
            return ""
        seconds = phase_eta(now - start[0], done - start[1], total - done)
        return "" if seconds is None else f" · ETA {format_duration(seconds)}"

    def _on_progress(self, event: dict[str, Any]) -> None:
        done, total = steps_done(event)
        self._bar(round(1000 * done / total), progress_text(event, self._epoch_seconds))

    def _on_epoch(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("seconds"), int | float):
            self._epoch_seconds.append(float(event["seconds"]))
        self.loss_chart.add_epoch(event)
        self.ap_chart.add_epoch(event)
        self.metrics_table.set_rows(event.get("tasks") or [])
        epochs = event.get("epochs") or self._epochs_planned
        ap = event.get("mean_ap")
        ap_text = "n/a" if ap is None else f"{ap:.3f}"
        self.metrics_title.setText(
            f"Per-task validation metrics · epoch {event['epoch']}/{epochs} · mean AP {ap_text}"
            + (" · best so far" if event.get("best") else "")
        )

    def _on_message(self, text: str) -> None:
        self.messages.show()
        self.messages.appendPlainText(text)

    def _on_predicting(self, done: int, total: int) -> None:
        self._bar(done, f"Predicting {done}/{total} images", max(total, 1))

    def _on_finished(self, outcome: TrainOutcome) -> None:
        self.last_outcome = outcome
        self._set_running(False)
        if outcome.run_id is not None and outcome.status in ("crashed", "cancelled"):
            self._mark_dead_run(outcome)
        who = f"Run {outcome.run_id}" if outcome.run_id is not None else "Training"
        if outcome.status == "done":
            self._bar(1000, outcome.summary())
            self._show_best_epoch(outcome)
        elif outcome.status == "cancelled":
            self._bar(self.progress_bar.value(), f"{who} cancelled")
            if outcome.error:
                self._on_message(f"Cancelled: {outcome.error}")
        else:
            # One short line in the bar; the reason goes to the error box below it.
            verb = "failed" if outcome.status == "failed" else "crashed"
            self._bar(0, f"{who} {verb}")
            self._show_failure(outcome)
        if outcome.run_id is None:
            self.status.setText(f"{who} {outcome.status}")
        if outcome.run_id is not None:
            self.refresh_runs()
        self.run_finished.emit(-1 if outcome.run_id is None else outcome.run_id, outcome.status)

    def _show_failure(self, outcome: TrainOutcome) -> None:
        error = outcome.error or "no reason given"
        head, _, details = error.partition("\n\n")
        who = f"Run {outcome.run_id}" if outcome.run_id is not None else "Training"
        if outcome.status == "crashed":
            title = f"{who}: the trainer stopped unexpectedly"
        else:
            title = f"{who} failed"
        self.error_box.show_error(title, head, details)

    def _mark_dead_run(self, outcome: TrainOutcome) -> None:
        """A trainer that died without its last word leaves its run marked running;
        say what happened to it now, rather than on the next open."""
        assert outcome.run_id is not None
        project = self.session.project
        try:
            if runs.get_run(project, outcome.run_id).status != "running":
                return
            if outcome.status == "cancelled":
                runs.finish_run(project, outcome.run_id, "cancelled", "cancelled by the user")
            else:
                reason = (outcome.error or "the trainer stopped").split("\n\n", 1)[0]
                runs.finish_run(project, outcome.run_id, "failed", reason)
        except Exception:
            log.exception("could not mark run %s", outcome.run_id)

    def _show_kept_run(self, run_id: int) -> None:
        """The curves and summary line of the run an auto run kept (not the last one)."""
        from app.training.runs_panel import task_ap_history

        project = self.session.project
        try:
            info = runs.get_run(project, run_id)
            epochs = runs.run_epochs(project, run_id)
            history = task_ap_history(project, run_id, epochs)
        except Exception:
            log.exception("could not read run %s", run_id)
            return
        self.loss_chart.set_epochs(epochs)
        self.ap_chart.set_task_history(history)
        self._epochs_planned = int(info.config.get("epochs") or self._epochs_planned)
        self.status.setText(
            f"Run {run_id} (kept by auto) on {info.device} · {describe_config(info.config)}"
        )

    def _show_best_epoch(self, outcome: TrainOutcome) -> None:
        """After a run: the metrics of its best epoch (the saved model), not its last."""
        if outcome.run_id is None or outcome.best_epoch is None:
            return
        try:
            rows = runs.run_task_metrics(self.session.project, outcome.run_id, outcome.best_epoch)
        except Exception:
            log.exception("could not read the metrics of run %s", outcome.run_id)
            return
        if outcome.run_id != self._started_run:  # auto kept an earlier candidate
            self._show_kept_run(outcome.run_id)
        if rows:
            self.metrics_table.set_rows(rows)
            if outcome.status == "done":
                self.metrics_table.set_editable_run(self.session.project, outcome.run_id)
            ap = "n/a" if outcome.mean_ap is None else f"{outcome.mean_ap:.3f}"
            self.metrics_title.setText(
                f"Per-task validation metrics · run {outcome.run_id} · best epoch "
                f"{outcome.best_epoch}/{self._epochs_planned} (the saved model) · mean AP {ap}"
            )
