"""The Train panel with the real trainer: click Train, watch it fill, cancel, crash, fail.

Every run is a real ``mtlabel train`` process on the 80-image demo project
with tiny settings (2 epochs, 32 px, width 8, batch 16, CPU, compact network).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.session import ProjectSession
from app.training.charts import ApChart, LossChart, ap_history
from app.training.metrics_table import MetricsTable, prevalence
from app.training.train_panel import (
    SETTINGS_KEY,
    TrainPanel,
    format_duration,
    phase_eta,
    progress_text,
)
from app.training.trainer_process import flags_from_settings
from core.demo import create_demo
from core.project import Project
from core.runs import EpochInfo, TaskMetricRow, get_run
from core.tasks import list_tasks

TINY = {
    "epochs": 2,
    "image_size": 32,
    "width": 8,
    "batch_size": 16,
    "device": "cpu",
    "backbone": "compact",
}
RUN_TIMEOUT_MS = 120_000


def make_panel(qtbot: QtBot, project: Project, **settings: Any) -> TrainPanel:
    panel = TrainPanel(ProjectSession(project))
    qtbot.addWidget(panel)
    panel.set_settings({**TINY, **settings})
    panel.resize(1000, 700)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture(autouse=True)
def _one_torch_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trainer inherits the environment: one CPU thread keeps a tiny run fast and
    steady on a busy machine (several threads on two shared cores can make a step of
    this tiny network take seconds)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def panel(qtbot: QtBot, demo_project: Project) -> Iterator[TrainPanel]:
    widget = make_panel(qtbot, demo_project)
    yield widget
    widget.shutdown()


def click(button: Any) -> None:
    assert button.isEnabled()
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def test_clicking_train_runs_a_real_training_and_fills_the_panel(
    qtbot: QtBot, panel: TrainPanel, demo_project: Project, qtmodeltester: Any
) -> None:
    running: list[bool] = []
    panel.running_changed.connect(running.append)
    progress_seen: list[str] = []
    panel.trainer.progress.connect(lambda _e: progress_seen.append(panel.progress_text()))
    with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        click(panel.train_button)
        assert panel.is_running()
        assert not panel.train_button.isEnabled() and panel.cancel_button.isEnabled()
        assert not panel.settings_box.isEnabled()
    run_id, status = blocker.args
    assert status == "done", panel.error_box.message()
    assert running == [True, False]
    assert panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()

    # Progress: "Epoch 2/2 · step 4/4 · ETA 0 s", then the outcome.
    assert progress_seen and progress_seen[-1].startswith("Epoch 2/2 · step ")
    assert all("ETA" in text for text in progress_seen)
    assert panel.progress_text().startswith(f"Run {run_id} done: best epoch ")

    # One row per task, each with an AP or the reason why not.
    tasks = [t.name for t in list_tasks(demo_project)]
    rows = panel.metrics_table.rows()
    assert [r.name for r in rows] == tasks
    assert all(r.ap is not None or r.na_reason for r in rows)
    info = get_run(demo_project, run_id)
    assert info.status == "done"
    assert {r.epoch for r in rows} == {info.best_epoch}
    qtmodeltester.check(panel.metrics_table.metrics, force_py=True)

    # Curves: training and validation loss for both epochs, AP per task.
    assert panel.loss_chart.train_series.count() == 2
    assert panel.loss_chart.val_series.count() == 2
    assert set(panel.ap_chart.task_names()) == set(tasks)
    assert panel.ap_chart.point_count() == 2 * sum(r.ap is not None for r in rows)
    assert not panel.error_box.isVisible()

    # The finished run can now be a starting point.
    assert panel.start_from.findData(run_id) > 0


def test_cancel_stops_within_seconds_and_the_run_is_cancelled(
    qtbot: QtBot, panel: TrainPanel, demo_project: Project
) -> None:
    panel.set_settings({"epochs": 200})
    with qtbot.waitSignal(panel.trainer.progress, timeout=RUN_TIMEOUT_MS):
        click(panel.train_button)
    started = time.monotonic()
    with qtbot.waitSignal(panel.run_finished, timeout=20_000) as blocker:
        click(panel.cancel_button)
        assert not panel.cancel_button.isEnabled()
        assert panel.progress_text().startswith("Cancelling")
    seconds = time.monotonic() - started
    run_id, status = blocker.args
    assert status == "cancelled"
    # The trainer stopped by itself (exit status 4), not killed after the grace period.
    assert panel.last_outcome is not None and panel.last_outcome.exit_code == 4
    assert seconds < 5, f"cancel took {seconds:.1f} s"
    assert get_run(demo_project, run_id).status == "cancelled"
    assert panel.progress_text() == f"Run {run_id} cancelled"
    assert not panel.error_box.isVisible()


def test_a_killed_trainer_is_reported_and_its_run_marked(
    qtbot: QtBot, panel: TrainPanel, demo_project: Project
) -> None:
    panel.set_settings({"epochs": 200})
    with qtbot.waitSignal(panel.trainer.progress, timeout=RUN_TIMEOUT_MS):
        click(panel.train_button)
    pid = panel.trainer.pid()
    assert pid is not None
    with qtbot.waitSignal(panel.run_finished, timeout=20_000) as blocker:
        os.kill(pid, signal.SIGKILL)
    run_id, status = blocker.args
    assert status == "crashed"
    assert panel.error_box.isVisible()
    message = panel.error_box.message()
    assert f"Run {run_id}: the trainer stopped unexpectedly" in message
    assert "killed by signal 9 (SIGKILL)" in message
    assert panel.progress_text() == f"Run {run_id} crashed"
    info = get_run(demo_project, run_id)
    assert info.status == "failed"
    assert info.error is not None and "SIGKILL" in info.error
    assert panel.train_button.isEnabled()


def test_a_failed_run_shows_the_trainers_reason(qtbot: QtBot, tmp_path: Path) -> None:
    create_demo(tmp_path / "unlabelled", images=12, unknown_fraction=1.0, seed=1)
    with Project.open(tmp_path / "unlabelled") as project:
        panel = make_panel(qtbot, project)
        with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
            click(panel.train_button)
        run_id, status = blocker.args
        assert status == "failed"
        assert panel.error_box.isVisible()
        assert f"Run {run_id} failed" in panel.error_box.message()
        assert "no trainable labels" in panel.error_box.message()
        assert panel.progress_text() == f"Run {run_id} failed"
        assert get_run(project, run_id).status == "failed"


def test_settings_persist_across_panels(qtbot: QtBot, demo_project: Project) -> None:
    first = make_panel(qtbot, demo_project)
    first.epochs.setValue(7)
    first.image_size.setValue(48)
    first.arch.setCurrentIndex(first.arch.findData("separate"))
    first.loss.setCurrentIndex(first.loss.findData("partial"))
    first.device.setCurrentIndex(first.device.findData("cpu"))
    first.backbone.setCurrentIndex(first.backbone.findData("compact"))
    chosen = first.settings()
    assert QSettings().value(SETTINGS_KEY)
    first.close()
    second = TrainPanel(ProjectSession(demo_project))
    qtbot.addWidget(second)
    assert second.settings() == chosen
    assert chosen["epochs"] == 7 and chosen["arch"] == "separate" and chosen["loss"] == "partial"
    assert not second.mode.isEnabled(), "compact trains from scratch: no mode to choose"


def test_a_start_run_is_remembered_only_for_its_project(
    qtbot: QtBot, demo_project: Project, tmp_path: Path
) -> None:
    QSettings().setValue(
        SETTINGS_KEY, f'{{"init_from": 1, "epochs": 5, "_project": "{tmp_path / "elsewhere"}"}}'
    )
    panel = TrainPanel(ProjectSession(demo_project))
    qtbot.addWidget(panel)
    assert panel.settings()["epochs"] == 5
    assert panel.settings()["init_from"] is None
    assert panel.start_from.count() == 1  # scratch only: no finished run yet


def test_garbled_saved_settings_fall_back_to_defaults(qtbot: QtBot, demo_project: Project) -> None:
    QSettings().setValue(SETTINGS_KEY, "{not json")
    panel = TrainPanel(ProjectSession(demo_project))
    qtbot.addWidget(panel)
    assert panel.settings()["epochs"] == 12


# -- pieces ----------------------------------------------------------------------------


def test_progress_text_and_durations() -> None:
    event = {"epoch": 3, "epochs": 12, "step": 40, "steps": 100, "elapsed": 20.0}
    # This epoch: 40 steps in 20 s, 60 to go (30 s); 9 more epochs of 100 steps (450 s).
    assert progress_text(event) == "Epoch 3/12 · step 40/100 · ETA 8 min 0 s"
    # Finished epochs took 60 s each with validation: 30 s + 9 × 60 s.
    assert progress_text(event, [55.0, 65.0]) == "Epoch 3/12 · step 40/100 · ETA 9 min 30 s"
    assert progress_text({**event, "elapsed": None}) == "Epoch 3/12 · step 40/100"
    assert format_duration(45.4) == "45 s"
    assert format_duration(80) == "1 min 20 s"
    assert format_duration(3900) == "1 h 05 min"


def test_computing_features_has_an_eta_from_its_pace() -> None:
    assert phase_eta(10.0, 100, 300) == 30.0  # 100 images in 10 s, 300 to go
    assert phase_eta(0.5, 100, 300) is None  # too soon to say
    assert phase_eta(10.0, 0, 300) is None  # nothing done since the first report


def row(name: str, ap: float | None, reason: str | None = None, epoch: int = 1) -> TaskMetricRow:
    return TaskMetricRow(
        1, name, epoch, 10, 10, 5, 0 if ap is None else 4, 6, 2, 0.6, ap, ap, None, None, None,
        0.5, reason,
    )  # fmt: skip


@pytest.fixture
def table(qtbot: QtBot) -> Iterator[MetricsTable]:
    """Held by a fixture: the model must outlive the model tester's teardown."""
    widget = MetricsTable()
    qtbot.addWidget(widget)
    yield widget


def test_metrics_table_shows_why_a_metric_is_na(table: MetricsTable, qtmodeltester: Any) -> None:
    reason = "no present cells in validation (0 present, 6 absent)"
    table.set_rows([row("car", 0.75), {**row("sign", None, reason).__dict__, "run": 3}])
    model = table.metrics
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 2
    ap_column = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(11)].index("AP")
    ok, na = model.index(0, ap_column), model.index(1, ap_column)
    assert model.data(ok) == "0.750"
    assert model.data(na) == "n/a"
    assert reason in model.data(na, Qt.ItemDataRole.ToolTipRole)
    assert model.data(na, Qt.ItemDataRole.ForegroundRole) is not None
    assert model.data(ok, Qt.ItemDataRole.ForegroundRole) is None
    note = model.index(1, model.columnCount() - 1)
    assert model.data(note) == f"n/a — {reason}"
    # car's AP rests on 4 present cells: shown, and said to be unreliable.
    assert model.data(model.index(0, model.columnCount() - 1)) == (
        "AP unreliable: 4 present cells in validation (fewer than 10); left out of the mean AP"
    )
    assert model.data(model.index(1, 2)) == "0 / 6 / 2"
    assert prevalence(table.rows()[0]) == 0.4
    table.set_rows([row("x", None, "precision n/a: nothing predicted present")])
    assert model.data(model.index(0, model.columnCount() - 1)) == (
        "n/a — precision: nothing predicted present"
    )
    enough = TaskMetricRow(
        1, "y", 1, 40, 40, 0, 12, 30, 0, 0.4, 0.8, 0.8, 0.7, 0.6, 0.65, 0.5, None
    )  # fmt: skip
    table.set_rows([enough])
    assert model.data(model.index(0, model.columnCount() - 1)) == ""


def test_charts_show_a_finished_run() -> None:
    loss = LossChart()
    loss.set_epochs([EpochInfo(1, 0.9, 1.0, 0.5, 2.0), EpochInfo(2, 0.7, None, None, 2.0)])
    assert (loss.train_series.count(), loss.val_series.count()) == (2, 1)
    loss.clear()
    assert loss.point_count() == 0
    ap = ApChart()
    history = ap_history([row("car", 0.5, epoch=2), row("car", 0.4), row("sign", None)])
    assert history == {"car": [(1, 0.4), (2, 0.5)], "sign": [(1, None)]}
    ap.set_task_history(history)
    assert ap.task_names() == ["car", "sign"]
    assert ap.series_for("car").count() == 2 and ap.series_for("sign").count() == 0
    assert ap.na_tasks() == ["sign"]
    ap.add_epoch({"epoch": 3, "epochs": 3, "tasks": [{"name": "car", "ap": 0.6}]})
    assert ap.point_count() == 3
    ap.clear()
    assert ap.task_names() == [] and ap.point_count() == 0


def test_a_chart_filled_live_shows_what_a_full_repaint_shows(qtbot: QtBot) -> None:
    """Epochs arriving one by one rescale the axis and move every marker; the window
    must then look as if drawn afresh. Before, slivers of moved markers stayed behind
    (114 stray pixels here), as in the README's training screenshots."""
    chart = LossChart()
    qtbot.addWidget(chart)
    chart.resize(440, 380)
    chart.show()
    qtbot.waitExposed(chart)
    losses = [(1.44, 1.41), (1.27, 1.14), (1.19, 1.14), (1.11, 1.17), (1.03, 1.01), (0.99, 1.01)]
    for epoch, (train, val) in enumerate(losses, start=1):
        chart.add_epoch({"epoch": epoch, "epochs": 6, "train_loss": train, "val_loss": val})
        qtbot.wait(60)  # each epoch painted before the next one comes
    screen = chart.screen()
    live = screen.grabWindow(chart.winId()).toImage()
    chart.viewport().update()
    qtbot.wait(60)
    assert screen.grabWindow(chart.winId()).toImage() == live


def test_the_form_offers_what_the_trainer_accepts(qtbot: QtBot, demo_project: Project) -> None:
    from core.training.backbones import AUTO, NAMES
    from core.training.config import MODES

    panel = TrainPanel(ProjectSession(demo_project))
    qtbot.addWidget(panel)

    def values(combo: Any) -> set[str]:
        return {combo.itemData(i) for i in range(combo.count())}

    assert values(panel.backbone) == {AUTO, *NAMES}
    assert values(panel.mode) == set(MODES)


def test_a_pretrained_backbone_is_not_given_the_compact_networks_width(
    qtbot: QtBot, demo_project: Project
) -> None:
    """The width field is greyed out for a pretrained backbone; its leftover value must not
    reach the trainer, which would say it ignores it."""
    panel = TrainPanel(ProjectSession(demo_project))
    qtbot.addWidget(panel)
    panel.set_settings({"backbone": "compact", "width": 16})
    assert "--width" in flags_from_settings(panel.settings())
    panel.set_settings({"backbone": "efficientnet-lite0"})
    assert not panel.width_spin.isEnabled()
    assert panel.settings()["width"] is None
    assert "--width" not in flags_from_settings(panel.settings())
    panel.set_settings({"backbone": "auto"})  # auto may train the compact network
    assert panel.settings()["width"] == 16


def test_the_default_settings_train_auto_and_show_the_candidates(
    qtbot: QtBot, demo_project: Project
) -> None:
    """Issue 6: with the weights installed (a dependency), the window's defaults are the
    pretrained EfficientNet-Lite0, frozen, its features cached: the Train button as a new
    user first clicks it."""
    panel = TrainPanel(ProjectSession(demo_project))
    qtbot.addWidget(panel)
    try:
        defaults = panel.settings()
        assert (defaults["backbone"], defaults["mode"]) == ("auto", "auto")
        panel.set_settings({"epochs": 1, "device": "cpu"})  # otherwise the defaults
        with qtbot.waitSignal(panel.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
            click(panel.train_button)
        run_id, status = blocker.args
        assert status == "done", panel.error_box.message()
        config = get_run(demo_project, run_id).config
        assert (config["backbone"], config["mode"]) == ("efficientnet-lite0", "instant")
        assert config["image_size"] == 224
        # The default is auto: the window lists its candidates and says which it kept.
        summary = panel.auto_summary.text()
        assert panel.auto_summary.isVisibleTo(panel)
        assert "compact network from scratch: <i>skipped" in summary  # the demo is small
        assert f"Kept run {run_id}: the only candidate that trained" in summary
        assert config["auto"]["kept"] is True
    finally:
        panel.shutdown()


def test_an_auto_run_shows_each_candidate_then_the_kept_one(
    qtbot: QtBot, demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trainer's events of a real auto run (both candidates trained), replayed: each
    candidate's curves start afresh, and the end shows the kept run, not the last one."""
    from app.training.trainer_process import TrainOutcome
    from core.training import auto
    from core.training.loop import train
    from tests.core.training.conftest import tiny_config

    monkeypatch.setattr(auto, "MIN_SCRATCH_IMAGES", 0)
    monkeypatch.setattr(auto, "MARGIN", 10.0)  # the pretrained head (the first) is kept
    events: list[dict[str, Any]] = []
    kept = train(demo_project, tiny_config(backbone="auto", mode="auto", epochs=2), events.append)
    panel = TrainPanel(ProjectSession(demo_project))
    qtbot.addWidget(panel)
    panel._started_run = None
    started = [e["run"] for e in events if e["event"] == "started"]
    assert len(started) == 2 and kept == started[0] != started[1]
    for event in events:
        panel.trainer._dispatch(event)
        if event["event"] == "started" and event["run"] == started[1]:
            assert panel.loss_chart.point_count() == 0, "the second candidate starts afresh"
    panel._show_best_epoch(TrainOutcome("done", run_id=kept, best_epoch=2, mean_ap=0.5))
    assert panel.status.text().startswith(f"Run {kept} (kept by auto)")
    assert panel.loss_chart.point_count() > 0
    assert f"Kept run {kept}" in panel.auto_summary.text()
    assert panel.metrics_table.editable_run() == kept


def test_the_auto_summary_lists_planned_candidates_with_their_bounds(qtbot: QtBot) -> None:
    from app.training.auto_summary import AutoSummary

    summary = AutoSummary()
    qtbot.addWidget(summary)
    assert summary.isHidden(), "nothing to show before an auto run reports"
    plan = {
        "event": "auto",
        "stage": "plan",
        "candidates": [
            {
                "key": "pretrained",
                "label": "pretrained features",
                "status": None,
                "epochs": 12,
                "budget_s": 900.0,
            },
            {
                "key": "compact",
                "label": "compact network from scratch",
                "status": "skipped",
                "skipped": "40 training images",
            },
        ],
    }
    summary.update_from(plan)
    assert "pretrained features: <i>to train (at most 12 epochs or 15 min)</i>" in summary.text()
    assert "compact network from scratch: <i>skipped — 40 training images</i>" in summary.text()
    done = {
        "key": "pretrained",
        "label": "pretrained features",
        "status": "done",
        "run": 3,
        "mean_ap": 0.8123,
        "seconds": 12.4,
    }
    summary.update_from({"event": "auto", "stage": "candidate", "candidate": done})
    assert "mean AP <b>0.812</b> · run 3 · 12 s" in summary.text()
