"""The training workspace: the Train panel beside the list of runs, wired together."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QWidget

from app.session import ProjectSession
from app.training.runs_panel import RunsPanel
from app.training.train_panel import TrainPanel

COMPARISON_HOLD = (
    "The comparison with separate networks is training; Train is available again when it "
    "has finished (or is cancelled)."
)


class TrainingView(QSplitter):
    """Train on the left, runs and their metrics on the right.

    ``predictions_run_changed`` names the run whose predictions the annotate
    pane should show: the run a user selects, or a run that just finished.
    """

    predictions_run_changed = Signal(int)

    def __init__(self, session: ProjectSession, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.train = TrainPanel(session)
        self.runs = RunsPanel(session)
        # Scroll areas keep the panels' wide minimum sizes (tables, charts) from
        # widening the whole window past the screen; they scroll instead.
        for panel in (self.train, self.runs):
            area = QScrollArea()
            area.setWidget(panel)
            area.setWidgetResizable(True)
            area.setFrameShape(QFrame.Shape.NoFrame)
            self.addWidget(area)
        # In proportion to what each panel needs whole (Qt scales these to the real
        # width): on a 1440-pixel window both charts and the metrics table show
        # without scrolling, and the runs list still has its columns.
        self.setSizes([self.train.minimumSizeHint().width(), self.runs.minimumSizeHint().width()])
        self.setChildrenCollapsible(False)
        self.runs.set_settings_provider(self.train.settings)
        self.train.run_finished.connect(self._run_finished)
        # A new run shows in the list (as running) as soon as the trainer announces it.
        self.train.run_started.connect(lambda _run: self.runs.refresh())
        self.runs.run_selected.connect(self.predictions_run_changed)
        # A moved threshold changes what the run predicts: show its predictions again.
        self.runs.metrics.threshold_changed.connect(self.predictions_run_changed)
        self.train.metrics_table.threshold_changed.connect(self.predictions_run_changed)
        # One trainer at a time: Train waits for a comparison job, and the other way round.
        self.train.running_changed.connect(self.runs.set_training_elsewhere)
        self.runs.comparison_running_changed.connect(
            lambda running: self.train.hold(COMPARISON_HOLD if running else None)
        )

    def _run_finished(self, run_id: int, status: str) -> None:
        self.runs.run_finished(run_id if run_id >= 0 else None)
        self.train.refresh_runs()
        if status == "done" and run_id >= 0:
            self.predictions_run_changed.emit(run_id)

    def shutdown(self) -> None:
        self.train.shutdown()
        self.runs.shutdown()
