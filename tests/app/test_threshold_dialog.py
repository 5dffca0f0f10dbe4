"""Moving a task's threshold from the metrics table: precision/recall live, stored for the run."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.dialogs.threshold import ThresholdDialog
from app.session import ProjectSession
from app.training.metrics_table import COLUMNS, MetricsTable
from core import predictions, runs
from core.thresholds import save_validation
from tests.app.panel_fixtures import *  # noqa: F403 - pytest fixtures
from tests.app.panel_fixtures import image_ids, task_ids
from tests.core.test_predictions import insert_run

# calibrated validation probabilities of "car" and their labels (1 present, 0 absent)
VAL_P = np.array([0.95, 0.8, 0.7, 0.62, 0.55, 0.45, 0.3, 0.2, 0.1, 0.05])
VAL_Y = np.array([1, 1, 0, 1, 0, 1, 0, 0, 0, -1])  # the last cell is unknown: not scored


def calibrated_run(session: ProjectSession) -> tuple[int, int]:
    project = session.project
    car = task_ids(project)["car"]
    images = image_ids(project)
    run = insert_run(project, {(images[0], car): 0.58}, {car: 0.5})
    run_dir = project.root / "runs" / str(run)
    run_dir.mkdir(parents=True)
    save_validation(run_dir, np.array(images[:10]), [car], VAL_P[:, None], VAL_Y[:, None])
    return run, car


def column(title: str) -> int:
    return [c.title for c in COLUMNS].index(title)


def test_precision_and_recall_follow_the_threshold_and_ok_stores_it(
    qtbot: QtBot, panel_session: ProjectSession
) -> None:
    run, car = calibrated_run(panel_session)
    project = panel_session.project
    (row,) = [r for r in runs.run_task_metrics(project, run) if r.task_id == car]
    dialog = ThresholdDialog(project, run, row)
    qtbot.addWidget(dialog)
    assert dialog.threshold() == 0.5
    # at 0.50: called present 0.95 0.8 0.7 0.62 0.55 -> tp 3 fp 2; present cells: 4
    assert dialog.result_text() == (
        "At 0.50: precision 0.60, recall 0.75 — finds 3 of 4 present validation cells and "
        "calls 2 of 5 absent ones present."
    )
    dialog.slider.setValue(75)  # the slider drives the spin box and the text
    assert dialog.threshold() == 0.75
    assert dialog.result_text().startswith("At 0.75: precision 1.00, recall 0.50")
    assert "noise more than signal" in dialog.hint_label.text()  # 4 present cells
    assert not dialog.reset_button.isEnabled()  # nothing of the user's to forget yet
    dialog.accept()
    assert predictions.thresholds(project, run)[car] == 0.75
    # the one unknown prediction (0.58) now reads absent
    assert predictions.accept_image(project, run, image_ids(project)[0]) == [
        (image_ids(project)[0], car, 0)
    ]


def test_the_metrics_table_opens_the_dialog_and_shows_the_users_threshold(
    qtbot: QtBot, panel_session: ProjectSession
) -> None:
    run, car = calibrated_run(panel_session)
    project = panel_session.project
    table = MetricsTable()
    qtbot.addWidget(table)
    table.set_rows(runs.run_task_metrics(project, run))
    assert not table.edit_threshold(0), "read-only until a finished run's best epoch is given"
    table.set_editable_run(project, run)
    changed: list[int] = []
    table.threshold_changed.connect(changed.append)

    def choose(value: float | None) -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, ThresholdDialog)
        if value is None:
            dialog.reset_button.click()
        else:
            dialog.set_threshold(value)
            dialog.accept()

    QTimer.singleShot(0, lambda: choose(0.3))
    assert table.edit_threshold(0)
    assert changed == [run]
    index = table.model().index(0, column("Threshold"))
    assert table.model().data(index) == "0.30 (yours)"
    QTimer.singleShot(0, lambda: choose(None))  # "Use the run's own"
    assert table.edit_threshold(0)
    assert table.model().data(index) == "0.50"
    assert predictions.thresholds(project, run)[car] == 0.5


def test_ece_shows_after_and_before_calibration(
    qtbot: QtBot, panel_session: ProjectSession
) -> None:
    run, car = calibrated_run(panel_session)
    project = panel_session.project
    epoch = runs.get_run(project, run).best_epoch
    assert epoch is not None
    runs.record_calibration(project, run, epoch, [{"task_id": car, "ece": 0.031, "ece_raw": 0.118}])
    table = MetricsTable()
    qtbot.addWidget(table)
    table.set_rows(runs.run_task_metrics(project, run))
    index = table.model().index(0, column("ECE"))
    assert table.model().data(index) == "0.031 (was 0.118)"
