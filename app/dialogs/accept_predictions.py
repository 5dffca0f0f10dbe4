"""Accept a run's predictions in bulk: every unknown cell of one task where the model is
at least this confident becomes a label, as one undoable command (source "prediction").

Confidence is the probability of the value the model predicts: ``p`` where it
predicts present (``p >= threshold``), ``1 - p`` where it predicts absent. With a
minimum ``c`` the dialog sets present where ``p >= max(threshold, c)`` and absent
where ``p < threshold`` and ``p <= 1 - c`` (``core.predictions``).

A task's unknown cells are read once when it is chosen; the counts then follow the
slider without touching the database. OK reads them again, so that cells labelled
meanwhile (by this window or another annotator) are left as they are.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.session import ProjectSession
from app.widgets.slider_spin import link_slider_and_spin
from core import predictions as core_predictions
from core.errors import UserError
from core.predictions import AcceptCounts, TaskAcceptance
from core.thresholds import calibrated_tasks

MIN_CONFIDENCE_SETTING = "acceptPredictions/minConfidence"
DEFAULT_MIN_CONFIDENCE = 0.9
_STEPS = 100  # slider steps per unit of confidence


def undo_text(count: int, task_name: str) -> str:
    """ "Accept 142 predictions for car"."""
    return f"Accept {count:,} prediction{'s' if count != 1 else ''} for {task_name}"


class AcceptPredictionsDialog(QDialog):
    """Choose a task and a minimum confidence; see live how many cells would be set."""

    def __init__(
        self,
        session: ProjectSession,
        run_id: int,
        task_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("acceptPredictionsDialog")
        self.session = session
        self.run_id = run_id
        self._plans: dict[int, TaskAcceptance] = {}
        self._problem: str | None = None
        try:
            self._calibrated = calibrated_tasks(session.project, run_id)
        except UserError:
            self._calibrated = set()
        self.setWindowTitle("Accept predictions")
        self.setMinimumWidth(460)

        intro = QLabel(
            f"Set the unknown cells of a task to the value run {run_id} predicts, wherever "
            "the model is at least this confident. Confidence is p where it predicts "
            "present and 1 − p where it predicts absent. One step to undo."
        )
        intro.setWordWrap(True)

        self.task_combo = QComboBox()
        self.task_combo.setObjectName("acceptTask")
        self.task_combo.setAccessibleName("Task")

        self.confidence_slider = QSlider(Qt.Orientation.Horizontal)
        self.confidence_slider.setObjectName("acceptConfidenceSlider")
        self.confidence_slider.setRange(_STEPS // 2, _STEPS)
        self.confidence_slider.setPageStep(5)
        self.confidence_slider.setAccessibleName("Minimum confidence")
        self.confidence_spin = QDoubleSpinBox()
        self.confidence_spin.setObjectName("acceptConfidence")
        self.confidence_spin.setRange(0.5, 1.0)
        self.confidence_spin.setSingleStep(0.01)
        self.confidence_spin.setDecimals(2)
        self.confidence_spin.setAccessibleName("Minimum confidence")
        confidence_row = QHBoxLayout()
        confidence_row.addWidget(self.confidence_slider, 1)
        confidence_row.addWidget(self.confidence_spin)

        self.rule_label = QLabel()
        self.rule_label.setObjectName("acceptRule")
        self.rule_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.rule_label.setWordWrap(True)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("acceptSummary")
        self.summary_label.setWordWrap(True)
        bold = QFont(self.summary_label.font())
        bold.setBold(True)
        self.summary_label.setFont(bold)

        form = QFormLayout()
        form.addRow("Task:", self.task_combo)
        form.addRow("Minimum confidence:", confidence_row)
        form.addRow("", self.rule_label)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("acceptOk")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.summary_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self._fill_tasks(task_id)
        stored = QSettings().value(MIN_CONFIDENCE_SETTING, DEFAULT_MIN_CONFIDENCE)
        try:
            start = min(1.0, max(0.5, float(stored)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            start = DEFAULT_MIN_CONFIDENCE
        self.confidence_spin.setValue(start)
        self.confidence_slider.setValue(round(start * _STEPS))
        link_slider_and_spin(self.confidence_slider, self.confidence_spin, _STEPS, self._update)
        self.task_combo.currentIndexChanged.connect(self._update)
        self._update()

    # -- public ----------------------------------------------------------------------

    def task_id(self) -> int | None:
        data = self.task_combo.currentData()
        return int(data) if data is not None else None

    def set_task(self, task_id: int) -> None:
        index = self.task_combo.findData(task_id)
        if index >= 0:
            self.task_combo.setCurrentIndex(index)

    def min_confidence(self) -> float:
        return round(self.confidence_spin.value(), 2)

    def set_min_confidence(self, value: float) -> None:
        self.confidence_spin.setValue(value)

    def counts(self) -> AcceptCounts:
        """What OK would set now (as read when the task was chosen)."""
        plan = self._plan()
        return plan.counts(self.min_confidence()) if plan else AcceptCounts(0, 0)

    def apply(self) -> int:
        """Set the cells (re-read now) as one undoable command; the number of cells set."""
        task_id = self.task_id()
        task = self.session.task(task_id) if task_id is not None else None
        if task is None or task_id is None:
            return 0
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            cells = core_predictions.accept_task(
                self.session.project, self.run_id, task_id, self.min_confidence()
            )
            changes = self.session.set_cells(
                cells, text=undo_text(len(cells), task.name), source="prediction"
            )
        except UserError as exc:
            self.session.error.emit(f"The predictions could not be accepted: {exc}")
            return 0
        finally:
            QApplication.restoreOverrideCursor()
        return len(changes)

    def accept(self) -> None:
        QSettings().setValue(MIN_CONFIDENCE_SETTING, self.min_confidence())
        self.apply()
        super().accept()

    # -- internals -------------------------------------------------------------------

    def _fill_tasks(self, task_id: int | None) -> None:
        try:
            predicted = core_predictions.thresholds(self.session.project, self.run_id)
        except UserError as exc:
            self._problem = str(exc)
            return
        for task in self.session.tasks():
            if task.id in predicted:
                self.task_combo.addItem(task.name, task.id)
        if self.task_combo.count() == 0:
            self._problem = f"run {self.run_id} predicted none of the active tasks"
        if task_id is not None:
            self.set_task(task_id)

    def _plan(self) -> TaskAcceptance | None:
        task_id = self.task_id()
        if task_id is None or self._problem is not None:
            return None
        plan = self._plans.get(task_id)
        if plan is None:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                plan = core_predictions.task_acceptance(self.session.project, self.run_id, task_id)
            except UserError as exc:
                self._problem = str(exc)
                return None
            finally:
                QApplication.restoreOverrideCursor()
            self._plans[task_id] = plan
        return plan

    def _update(self) -> None:
        plan = self._plan()
        if plan is None:
            self.summary_label.setText(
                f"Nothing to accept: {self._problem}." if self._problem else "Nothing to accept."
            )
            self.rule_label.setText("")
            self.ok_button.setText("Accept")
            self.ok_button.setEnabled(False)
            return
        c, t = self.min_confidence(), plan.threshold
        absent = f"p ≤ {1 - c:.2f}" if 1 - c < t else f"p < {t:.2f}"
        self.rule_label.setText(
            f"Present where p ≥ {max(t, c):.2f}, absent where {absent} (threshold {t:.2f})"
        )
        counts = plan.counts(c)
        unknown = len(plan.probabilities)
        if unknown == 0:
            text = "This task has no unknown cell with a prediction."
        else:
            text = (
                f"{counts.total:,} of {unknown:,} unknown cells would be set: "
                f"{counts.present:,} present, {counts.absent:,} absent."
            )
            if counts.total:
                text += "\n" + self._expected_wrong_text(plan, c)
        self.summary_label.setText(text)
        self.ok_button.setText(f"Accept {counts.total:,}" if counts.total else "Accept")
        self.ok_button.setEnabled(counts.total > 0)

    def _expected_wrong_text(self, plan: TaskAcceptance, min_confidence: float) -> str:
        wrong = plan.expected_wrong(min_confidence)
        text = f"Expected wrong: about {wrong:,.0f} ({wrong:.1f})"
        if plan.task_id in self._calibrated:
            return text + ", from the run's calibrated probabilities."
        return (
            text + " — but this run's probabilities of the task are not calibrated (a run "
            "from before calibration, or too few validation labels), so the true number "
            "may be far larger."
        )
