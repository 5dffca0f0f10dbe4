"""Move one task's decision threshold for a run, seeing precision and recall at it.

The run decides "present" at 0.5 on its calibrated probabilities; a user who
would rather find more present cells (recall) or be wrong less often when it
says present (precision) moves the threshold here. Precision and recall are
computed live on the run's saved validation cells (``core.thresholds``); the
maximum-F1 point is offered as a hint, with the warning that a small
validation set over-fits it. OK stores the choice (every prediction query,
"Accept" and the export then use it); "Use the run's own" forgets it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.widgets.slider_spin import link_slider_and_spin
from core import runs
from core.errors import UserError
from core.project import Project
from core.thresholds import TaskValidation, set_user_threshold, task_validation
from core.training.metrics import MIN_RELIABLE_CELLS, choose_threshold

_STEPS = 100


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def at_threshold_text(validation: TaskValidation, threshold: float) -> str:
    """ "At 0.62: precision 0.91, recall 0.75 — finds 30 of 40 present cells, calls 3 of
    80 absent cells present" (on the validation cells)."""
    tp, fp, _fn = validation.confusion(threshold)
    precision, recall = validation.at(threshold)
    return (
        f"At {threshold:.2f}: precision {_fmt(precision)}, recall {_fmt(recall)} — finds "
        f"{tp:,} of {validation.n_present:,} present validation cells and calls {fp:,} of "
        f"{validation.n_absent:,} absent ones present."
    )


class ThresholdDialog(QDialog):
    """One task of one finished run: a slider for its threshold, P/R live beside it."""

    def __init__(
        self,
        project: Project,
        run_id: int,
        row: runs.TaskMetricRow,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("thresholdDialog")
        self.project = project
        self.run_id = run_id
        self.row = row
        self.reset_requested = False
        self.setWindowTitle(f"Threshold of {row.name} · run {run_id}")
        self.setMinimumWidth(480)
        own = row.threshold if row.threshold is not None else 0.5
        try:
            self.validation = task_validation(project, run_id, row.task_id)
        except UserError as exc:
            self.validation = None
            self._missing = str(exc)
        else:
            self._missing = (
                "this run saved no validation cells of the task (a run from before "
                "calibration, or none of its validation cells were known): precision and "
                "recall cannot be shown"
            )

        if row.calibration_slope is not None:
            own_text = (
                f"Run {run_id} calls {row.name} present when its calibrated probability is at "
                f"least {own:.2f} — there, present is the more likely value."
            )
        else:  # a run from before calibration: its threshold is a max-F1 point
            own_text = (
                f"Run {run_id} calls {row.name} present when its probability is at least "
                f"{own:.2f}, the maximum-F1 point on its validation cells (this run's "
                "probabilities are not calibrated)."
            )
        intro = QLabel(
            own_text + " Raise the threshold "
            "to be wrong less often when it says present (precision); lower it to miss fewer "
            "present cells (recall). Predictions, Accept and exported models use your choice."
        )
        intro.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("thresholdSlider")
        self.slider.setRange(1, _STEPS - 1)
        self.slider.setAccessibleName("Threshold")
        self.spin = QDoubleSpinBox()
        self.spin.setObjectName("thresholdSpin")
        self.spin.setRange(0.01, 0.99)
        self.spin.setSingleStep(0.01)
        self.spin.setDecimals(2)
        self.spin.setAccessibleName("Threshold")
        row_layout = QHBoxLayout()
        row_layout.addWidget(QLabel("Threshold:"))
        row_layout.addWidget(self.slider, 1)
        row_layout.addWidget(self.spin)

        self.result_label = QLabel()
        self.result_label.setObjectName("thresholdResult")
        self.result_label.setWordWrap(True)
        bold = QFont(self.result_label.font())
        bold.setBold(True)
        self.result_label.setFont(bold)
        self.hint_label = QLabel(self._hint())
        self.hint_label.setObjectName("thresholdHint")
        self.hint_label.setWordWrap(True)
        self.hint_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.reset_button = self.buttons.addButton(
            "Use the run's own", QDialogButtonBox.ButtonRole.ResetRole
        )
        self.reset_button.setEnabled(row.user_threshold is not None)
        self.reset_button.clicked.connect(self._reset)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row_layout)
        layout.addWidget(self.result_label)
        layout.addWidget(self.hint_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        start = row.decision_threshold if row.decision_threshold is not None else own
        self.spin.setValue(start)
        self.slider.setValue(round(start * _STEPS))
        link_slider_and_spin(self.slider, self.spin, _STEPS, self._update)
        self._update()

    def threshold(self) -> float:
        return round(self.spin.value(), 2)

    def set_threshold(self, value: float) -> None:
        self.spin.setValue(value)

    def result_text(self) -> str:
        return self.result_label.text()

    def accept(self) -> None:
        try:
            set_user_threshold(self.project, self.run_id, self.row.task_id, self.threshold())
        except UserError as exc:
            self.result_label.setText(f"Not saved: {exc}.")
            return
        super().accept()

    def _reset(self) -> None:
        try:
            set_user_threshold(self.project, self.run_id, self.row.task_id, None)
        except UserError as exc:
            self.result_label.setText(f"Not reset: {exc}.")
            return
        self.reset_requested = True
        super().accept()

    def _update(self) -> None:
        if self.validation is None:
            self.result_label.setText(f"Precision and recall n/a: {self._missing}.")
            return
        self.result_label.setText(at_threshold_text(self.validation, self.threshold()))

    def _hint(self) -> str:
        v = self.validation
        if v is None or v.n_present == 0 or v.n_absent == 0:
            return ""
        best = choose_threshold(v.probabilities, v.present.astype("int8"))
        text = f"The best F1 on these validation cells is at {best:.2f}"
        if min(v.n_present, v.n_absent) < 10 * MIN_RELIABLE_CELLS:
            text += (
                f" — on {v.n_present} present and {v.n_absent} absent cells that point is "
                "noise more than signal; new images will not follow it"
            )
        return text + "."
