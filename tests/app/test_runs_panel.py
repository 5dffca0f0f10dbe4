"""The runs list, a run's metrics and curves, two runs compared, and shared against
separate networks — on real ``mtlabel train`` runs of the small demo project."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.session import ProjectSession
from app.training.compare_separate import CompareSeparateJob, comparison_settings
from app.training.run_compare import (
    COL_DELTA,
    ComparisonModel,
    RunComparison,
    compare_rows,
    compare_runs,
    fmt,
    fmt_delta,
    order_pair,
    settings_summary,
)
from app.training.runs_panel import Column, RunRole, RunsPanel, task_ap_history
from app.training.training_view import TrainingView
from core import runs as core_runs
from core.project import Project
from core.runs import EpochInfo, RunInfo, TaskMetricRow
from core.tasks import list_tasks
from tests.helpers import TINY_TRAIN

TINY_SETTINGS: dict[str, Any] = {
    "epochs": 1,
    "image_size": 32,
    "width": 8,
    "batch_size": 16,
    "device": "cpu",
    "backbone": "compact",
}
TRAIN_TIMEOUT_S = 300


def cli_train(root: Path, *flags: str) -> int:
    """Run ``mtlabel train ... --json`` and return the run it made."""
    done = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "train", str(root), *flags, "--json"],
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
        check=False,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    runs = [e["run"] for e in events if e.get("event") == "started"]
    assert runs, f"no run started: {done.stderr}"
    return int(runs[0])


@dataclass(frozen=True)
class TrainedRuns:
    root: Path
    shared: int
    separate: int
    failed: int


@pytest.fixture(scope="module")
def trained(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainedRuns:
    """A copy of the demo project with three runs: shared and separate from the command
    line (2 epochs each, same settings), and one that failed before its first epoch, as
    a trainer records it (a mistake on the command line is refused before any run is
    created, so none fails that way any more). Tests only read it."""
    root = tmp_path_factory.mktemp("runs") / "demo"
    shutil.copytree(demo_template, root, ignore=shutil.ignore_patterns("demo", "cache"))
    shared = cli_train(root, "--epochs", "2", *TINY_TRAIN)
    separate = cli_train(root, "--epochs", "2", "--arch", "separate", *TINY_TRAIN)
    with Project.open(root) as project:
        config = core_runs.get_run(project, shared).config
        failed = core_runs.create_run(project, {**config, "epochs": 1})
        reason = "no trainable labels: no labelled training image could be read"
        core_runs.finish_run(project, failed, "failed", reason)
    return TrainedRuns(root, shared, separate, failed)


@pytest.fixture
def trained_project(trained: TrainedRuns) -> Iterator[Project]:
    with Project.open(trained.root) as project:
        yield project


@pytest.fixture
def session(trained_project: Project, qapp: QApplication) -> ProjectSession:
    return ProjectSession(trained_project)


@pytest.fixture
def panel(qtbot: QtBot, session: ProjectSession) -> RunsPanel:
    widget = RunsPanel(session)
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def cell(panel: RunsPanel, run_id: int, column: Column, role: int = 0) -> Any:
    row = panel.model.row_of(run_id)
    assert row is not None
    return panel.model.index(row, column).data(role or Qt.ItemDataRole.DisplayRole)


def test_the_trained_runs_ended_as_expected(trained: TrainedRuns, trained_project: Project) -> None:
    statuses = {r.id: r.status for r in core_runs.list_runs(trained_project)}
    assert statuses == {trained.shared: "done", trained.separate: "done", trained.failed: "failed"}


# -- the list -------------------------------------------------------------------------


def test_the_list_shows_every_run_with_status_mean_ap_and_settings(
    panel: RunsPanel, trained: TrainedRuns, trained_project: Project
) -> None:
    assert [r.id for r in panel.model.runs()] == [trained.failed, trained.separate, trained.shared]
    assert panel.count_label.text() == "3 runs"
    for run_id in (trained.shared, trained.separate):
        info = core_runs.get_run(trained_project, run_id)
        assert cell(panel, run_id, Column.Status) == "done"
        assert info.best_mean_ap is not None
        assert cell(panel, run_id, Column.MeanAp) == f"{info.best_mean_ap:.3f}"
        assert cell(panel, run_id, Column.Duration).endswith("s")
        assert cell(panel, run_id, Column.Started)
    assert cell(panel, trained.shared, Column.Settings) == "shared w8 32px masked 2 ep"
    assert cell(panel, trained.separate, Column.Settings) == "separate w8 32px masked 2 ep"
    assert "arch: separate" in cell(
        panel, trained.separate, Column.Settings, Qt.ItemDataRole.ToolTipRole
    )
    assert cell(panel, trained.failed, Column.Status) == "failed"
    assert cell(panel, trained.failed, Column.MeanAp) == "n/a"
    tooltip = cell(panel, trained.failed, Column.Status, Qt.ItemDataRole.ToolTipRole)
    assert "no trainable labels" in tooltip


def test_the_runs_model_passes_the_model_tester(qtmodeltester: Any, panel: RunsPanel) -> None:
    qtmodeltester.check(panel.model, force_py=True)


def test_the_list_sorts_by_mean_ap(panel: RunsPanel, trained_project: Project) -> None:
    panel.view.sortByColumn(Column.MeanAp, Qt.SortOrder.DescendingOrder)
    shown = [panel.proxy.index(r, 0).data(RunRole.RunId) for r in range(panel.proxy.rowCount())]
    aps = {r.id: r.best_mean_ap or -1.0 for r in core_runs.list_runs(trained_project)}
    assert shown == sorted(aps, key=lambda i: -aps[i])


def test_refresh_and_run_finished_pick_up_new_runs(
    qtbot: QtBot, demo_project: Project, qapp: QApplication
) -> None:
    session = ProjectSession(demo_project)
    panel = RunsPanel(session)
    qtbot.addWidget(panel)
    assert panel.model.rowCount() == 0
    assert "No training runs yet" in panel.placeholder.text()
    assert panel.detail.currentIndex() == panel.PAGE_EMPTY
    run_id = core_runs.create_run(demo_project, {"arch": "shared", "epochs": 3, "width": 8})
    core_runs.record_epoch(demo_project, run_id, EpochInfo(1, 0.7, 0.69, None, 1.0), [])
    panel.refresh()
    assert cell(panel, run_id, Column.Status) == "running (1/3)"
    assert panel.poll_timer.isActive()  # re-reads itself while a run is running
    core_runs.finish_run(demo_project, run_id, "cancelled", "cancelled by the user")
    with qtbot.waitSignal(panel.run_selected, timeout=5000) as selected:
        panel.run_finished(run_id)
    assert selected.args == [run_id]
    assert cell(panel, run_id, Column.Status) == "cancelled"
    assert panel.shown_run() == run_id
    assert panel.run_error.text() == "Cancelled: cancelled by the user"
    assert not panel.poll_timer.isActive()


# -- one run --------------------------------------------------------------------------


def test_selecting_a_run_fills_its_metrics_and_curves(
    qtbot: QtBot, panel: RunsPanel, trained: TrainedRuns, trained_project: Project
) -> None:
    with qtbot.waitSignal(panel.run_selected, timeout=5000) as selected:
        panel.select_runs([trained.shared])
    assert selected.args == [trained.shared]
    assert panel.detail.currentIndex() == panel.PAGE_RUN
    info = core_runs.get_run(trained_project, trained.shared)
    expected = core_runs.run_task_metrics(trained_project, trained.shared)
    assert [t.name for t in list_tasks(trained_project)] == [r.name for r in expected]
    shown = panel.metrics.rows()
    assert shown == expected  # one row per task, at the best epoch
    assert {r.epoch for r in shown} == {info.best_epoch}
    model = panel.metrics.model()
    assert model.rowCount() == len(expected)
    assert panel.epoch_box.currentData() == info.best_epoch
    assert panel.epoch_box.count() == 2
    assert not panel.run_error.isVisible()
    assert f"Run {trained.shared}" in panel.run_title.text()
    # the curves: two epochs of loss, one AP line per task
    assert panel.loss_chart.train_series.count() == 2
    assert panel.loss_chart.val_series.count() == 2
    assert panel.ap_chart.task_names() == [r.name for r in expected]
    history = task_ap_history(trained_project, trained.shared)
    for name, points in history.items():
        series = panel.ap_chart.series_for(name)
        assert [(round(p.x()), p.y()) for p in series.points()] == [
            (e, ap) for e, ap in points if ap is not None
        ]


def test_another_epoch_can_be_shown(
    panel: RunsPanel, trained: TrainedRuns, trained_project: Project
) -> None:
    panel.select_runs([trained.separate])
    best = core_runs.get_run(trained_project, trained.separate).best_epoch
    assert panel.epoch_box.currentData() == best
    other = next(i for i in range(panel.epoch_box.count()) if panel.epoch_box.itemData(i) != best)
    panel.epoch_box.setCurrentIndex(other)
    epoch = panel.epoch_box.itemData(other)
    assert panel.metrics.rows() == core_runs.run_task_metrics(
        trained_project, trained.separate, epoch
    )
    panel.refresh()  # keeps the run and the chosen epoch
    assert panel.shown_run() == trained.separate
    assert panel.epoch_box.currentData() == epoch
    assert {r.epoch for r in panel.metrics.rows()} == {epoch}


def test_task_ap_history_has_every_epoch_of_every_task(
    trained: TrainedRuns, trained_project: Project
) -> None:
    history = task_ap_history(trained_project, trained.shared)
    for epoch in (1, 2):
        rows = core_runs.run_task_metrics(trained_project, trained.shared, epoch)
        for row in rows:
            assert (epoch, row.ap) in history[row.name]


def test_a_failed_run_shows_its_reason(
    panel: RunsPanel, trained: TrainedRuns, trained_project: Project
) -> None:
    panel.select_runs([trained.failed])
    assert panel.detail.currentIndex() == panel.PAGE_RUN
    assert panel.run_error.isVisible()
    error = core_runs.get_run(trained_project, trained.failed).error
    assert error is not None and "no trainable labels" in error
    assert panel.run_error.text() == f"Failed: {error}"
    assert panel.metrics.rows() == []
    assert panel.metrics_note.isVisible()
    assert "failed before its first epoch" in panel.metrics_note.text()
    assert not panel.charts.isVisible()


# -- two runs -------------------------------------------------------------------------


def test_selecting_two_runs_compares_them_with_delta_b_minus_a(
    panel: RunsPanel, trained: TrainedRuns, trained_project: Project
) -> None:
    panel.select_runs([trained.shared, trained.separate])
    assert panel.compare_action.isEnabled()
    assert panel.detail.currentIndex() == panel.PAGE_COMPARE
    comparison = panel.comparison.comparison
    assert comparison is not None
    # separate networks are A, the shared network B: Δ > 0 means sharing helped
    assert (comparison.run_a.id, comparison.run_b.id) == (trained.separate, trained.shared)
    rows_a = {r.task_id: r for r in core_runs.run_task_metrics(trained_project, trained.separate)}
    rows_b = {r.task_id: r for r in core_runs.run_task_metrics(trained_project, trained.shared)}
    model = panel.comparison.model
    deltas = []
    for row, task in enumerate(comparison.tasks):
        a, b = rows_a[task.task_id], rows_b[task.task_id]
        assert task.a == a and task.b == b
        assert a.ap is not None and b.ap is not None
        assert task.delta == pytest.approx(b.ap - a.ap)
        deltas.append(b.ap - a.ap)
        assert model.index(row, 1).data() == fmt(a.ap)
        assert model.index(row, 2).data() == fmt(b.ap)
        assert model.index(row, COL_DELTA).data() == fmt_delta(b.ap - a.ap)
        assert model.index(row, 4).data() == fmt(a.auc)
        assert model.index(row, 7).data() == fmt(b.f1)
        assert model.index(row, 8).data() == f"{a.val_present} / {a.val_absent} / {a.val_unknown}"
    mean = sum(deltas) / len(deltas)
    assert comparison.mean_delta == pytest.approx(mean)
    last = len(comparison.tasks)
    assert model.index(last, 0).data() == "Mean AP"
    assert model.index(last, COL_DELTA).data() == fmt_delta(mean)
    better = sum(1 for d in deltas if d >= 0.0005)
    verdict = panel.comparison.verdict.text()
    assert verdict.startswith(
        f"The shared network (run {trained.shared}) is better on {better} of 4"
    )
    assert fmt_delta(mean) in verdict
    # same labels and settings: nothing unfair to report about them
    assert not any("different labels" in n for n in comparison.notes)
    assert not any("Settings differ" in n for n in comparison.notes)


def test_swap_reverses_delta(panel: RunsPanel, trained: TrainedRuns) -> None:
    panel.select_runs([trained.shared, trained.separate])
    before = panel.comparison.comparison
    assert before is not None
    panel.comparison.swap()
    after = panel.comparison.comparison
    assert after is not None
    assert (after.run_a.id, after.run_b.id) == (before.run_b.id, before.run_a.id)
    for x, y in zip(before.tasks, after.tasks, strict=True):
        assert x.delta is not None and y.delta is not None
        assert y.delta == pytest.approx(-x.delta)
    assert after.verdict.startswith(f"Separate networks (run {trained.separate}) are better on")


def test_the_comparison_model_passes_the_model_tester(
    qtmodeltester: Any, session: ProjectSession, trained: TrainedRuns, qtbot: QtBot
) -> None:
    widget = RunComparison(session)
    qtbot.addWidget(widget)
    widget.compare(trained.shared, trained.separate)
    qtmodeltester.check(widget.model, force_py=True)
    empty = ComparisonModel()
    qtmodeltester.check(empty, force_py=True)


def test_comparing_with_a_failed_run_says_there_is_nothing_to_compare(
    trained: TrainedRuns, trained_project: Project
) -> None:
    comparison = compare_runs(trained_project, trained.shared, trained.failed)
    assert comparison.comparable == []
    assert comparison.mean_delta is None
    assert comparison.verdict == (
        f"Run {trained.failed} has no per-task metrics (failed), so there is nothing to compare."
    )
    assert any(f"Run {trained.failed} is failed" in n for n in comparison.notes)


# -- the comparison's arithmetic and wording, without training ------------------------


def _run(run_id: int, arch: str, **config: Any) -> RunInfo:
    info = RunInfo(
        id=run_id,
        status="done",
        config={"arch": arch, "width": 8, "epochs": 2, **config},
        created_at=datetime.now(UTC),
        started_at=None,
        finished_at=None,
        device="cpu",
        error=None,
        snapshot=None,
        epochs_done=2,
        best_epoch=2,
        best_mean_ap=None,
        checkpoint=None,
        predictions_complete=True,
    )
    return info


def _row(task_id: int, ap: float | None, val: tuple[int, int, int] = (40, 40, 0)) -> TaskMetricRow:
    return TaskMetricRow(
        task_id=task_id,
        name=f"task{task_id}",
        epoch=2,
        train_present=10,
        train_absent=10,
        train_unknown=5,
        val_present=val[0],
        val_absent=val[1],
        val_unknown=val[2],
        loss=0.5,
        ap=ap,
        auc=None if ap is None else 0.7,
        precision=None,
        recall=None,
        f1=None,
        threshold=0.5,
        na_reason=None
        if ap is not None
        else "no present cells in validation (0 present, 9 absent)",
    )


def test_order_pair_puts_separate_networks_first_else_the_older_run() -> None:
    shared, separate = _run(5, "shared"), _run(4, "separate")
    assert order_pair(shared, separate) == (separate, shared)
    assert order_pair(separate, shared) == (separate, shared)
    older, newer = _run(2, "shared"), _run(7, "shared")
    assert order_pair(newer, older) == (older, newer)


def test_the_verdict_counts_only_tasks_with_an_ap_in_both_runs() -> None:
    a, b = _run(1, "separate"), _run(2, "shared")
    rows_a = [_row(1, 0.5), _row(2, 0.6), _row(3, 0.7), _row(4, None)]
    rows_b = [_row(1, 0.6), _row(2, 0.5), _row(3, 0.7002), _row(4, 0.9)]
    comparison = compare_rows(a, b, rows_a, rows_b)
    assert [t.outcome for t in comparison.tasks] == ["better", "worse", "tied", "n/a"]
    assert comparison.mean_ap_a == pytest.approx((0.5 + 0.6 + 0.7) / 3)
    assert comparison.mean_ap_b == pytest.approx((0.6 + 0.5 + 0.7002) / 3)
    assert comparison.verdict == (
        "The shared network (run 2) is better on 1 of 3 tasks with an AP in both, worse on 1, "
        "tied on 1 (mean AP ±0.000 over those 3; 1 n/a)."
    )
    why = comparison.tasks[3].why_na(comparison.name_a, comparison.name_b)
    assert why == "separate networks (run 1): no present cells in validation (0 present, 9 absent)"
    model = ComparisonModel()
    model.set_comparison(comparison)
    assert model.index(3, COL_DELTA).data() == "n/a"
    assert model.index(3, COL_DELTA).data(Qt.ItemDataRole.ToolTipRole) == why
    assert model.index(0, COL_DELTA).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(2, COL_DELTA).data(Qt.ItemDataRole.BackgroundRole) is None
    assert model.headerData(1, Qt.Orientation.Horizontal) == "AP separate"
    assert model.headerData(2, Qt.Orientation.Horizontal) == "AP shared"
    assert model.headerData(COL_DELTA, Qt.Orientation.Horizontal) == "Δ AP"
    assert not model.index(0, 0).parent().isValid()
    assert model.index(0, 0, QModelIndex()).data() == "task1"


def test_the_notes_flag_other_labels_other_settings_and_a_losing_shared_network() -> None:
    a, b = _run(1, "separate"), _run(2, "shared", width=16)
    rows_a = [_row(1, 0.8, (5, 5, 0)), _row(2, 0.8)]
    rows_b = [_row(1, 0.7, (6, 5, 0)), _row(2, 0.7)]
    comparison = compare_rows(a, b, rows_a, rows_b)
    assert comparison.verdict == (
        "The shared network (run 2) is better on 0 of 2 tasks, worse on 2 (mean AP −0.100)."
    )
    notes = " ".join(comparison.notes)
    assert "different labels (the counts of task1 differ)" in notes
    assert "Settings differ besides the architecture: width 8 vs 16" in notes
    assert "as few as 10, for task1" in notes
    assert "larger network width" in notes


def test_runs_of_one_architecture_are_named_by_id() -> None:
    a, b = _run(3, "shared"), _run(8, "shared")
    comparison = compare_rows(a, b, [_row(1, 0.5)], [_row(1, 0.75), _row(2, 0.5)])
    assert (
        comparison.verdict
        == "Run 8 is better on 1 of 1 task with an AP in both (mean AP +0.250 over those 1; 1 n/a)."
    )
    assert "Only in one run: task2." in comparison.notes
    assert comparison.tasks[1].why_na("run 3", "run 8") == "run 3 did not have this task"


def test_a_weights_file_is_summarised_by_its_name_not_its_path() -> None:
    config = {
        "backbone": "file:/data/some/very/long/folder/of/weights/mine.pth",
        "mode": "instant",
        "arch": "shared",
        "image_size": 224,
        "loss": "masked",
        "epochs": 12,
    }
    assert settings_summary(config) == "shared file:mine.pth instant 224px masked 12 ep"


# -- shared against separate ----------------------------------------------------------


def test_comparison_settings_take_a_runs_config_or_the_panels_settings() -> None:
    config = {
        "epochs": 2,
        "batch_size": 16,
        "weight_decay": 0.0005,
        "arch": "shared",
        "augment": False,
        "init_from": 3,
        "max_steps": None,
        "_panel": "x",
    }
    assert comparison_settings(config) == {
        "epochs": 2,
        "batch_size": 16,
        "no_augment": True,
        "max_steps": None,
        # the default auto would pick a winner per stage: both train its pretrained head
        "backbone": "auto",
        "mode": "instant",
    }
    job = CompareSeparateJob()
    job._settings = comparison_settings(config)
    assert job.flags("separate") == [
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--no-augment",
        "--backbone",
        "auto",
        "--mode",
        "instant",
        "--arch",
        "separate",
    ]
    named = comparison_settings({**config, "backbone": "compact", "mode": "auto"})
    assert (named["backbone"], named["mode"]) == ("compact", "auto"), "a named one is kept"


def test_compare_with_separate_networks_trains_both_and_compares_them(
    qtbot: QtBot, demo_project: Project, qapp: QApplication
) -> None:
    session = ProjectSession(demo_project)
    panel = RunsPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    texts: list[str] = []
    panel.separate_bar.job.progress.connect(texts.append)
    assert not panel.separate_action.isEnabled()  # no run selected, no settings provider
    panel.set_settings_provider(lambda: dict(TINY_SETTINGS))
    assert panel.separate_action.isEnabled()
    with qtbot.waitSignal(panel.separate_bar.finished, timeout=2 * TRAIN_TIMEOUT_S * 1000) as done:
        panel.separate_action.trigger()
        assert panel.separate_bar.isVisible()
        assert "unfair" in panel.separate_bar.warning.text()
        assert not panel.separate_action.isEnabled()  # one comparison at a time
    shared, separate, message = done.args
    assert isinstance(shared, int) and isinstance(separate, int), message
    assert any(t.startswith(f"1/2 shared network (run {shared})") for t in texts)
    assert any(t.startswith(f"2/2 separate networks (run {separate})") for t in texts)
    shared_info = core_runs.get_run(demo_project, shared)
    separate_info = core_runs.get_run(demo_project, separate)
    assert (shared_info.status, separate_info.status) == ("done", "done")
    assert shared_info.config["arch"] == "shared"
    assert separate_info.config["arch"] == "separate"
    assert {**shared_info.config, "arch": "separate"} == separate_info.config
    # the panel lists both and shows their comparison: separate (A) against shared (B)
    assert {r.id for r in panel.model.runs()} == {shared, separate}
    assert panel.detail.currentIndex() == panel.PAGE_COMPARE
    comparison = panel.comparison.comparison
    assert comparison is not None
    assert (comparison.run_a.id, comparison.run_b.id) == (separate, shared)
    assert set(panel.selected_run_ids()) == {shared, separate}
    assert not any("different labels" in n for n in comparison.notes)
    assert panel.separate_action.isEnabled() is False  # two runs selected
    assert panel.separate_bar.dismiss_button.isVisible()


def test_the_comparison_job_can_be_cancelled(qtbot: QtBot, demo_project: Project) -> None:
    job = CompareSeparateJob()
    with qtbot.waitSignal(job.finished, timeout=TRAIN_TIMEOUT_S * 1000) as done:
        with qtbot.waitSignal(job.run_started, timeout=TRAIN_TIMEOUT_S * 1000):
            assert job.start(demo_project.root, {**TINY_SETTINGS, "epochs": 50})
            assert job.is_running() and job.stage == "shared"
        assert job.cancel()
    shared, separate, message = done.args
    assert separate is None
    assert message == "Comparison cancelled during the shared network run."
    assert not job.is_running()
    assert core_runs.get_run(demo_project, shared).status == "cancelled"
    assert [r.id for r in core_runs.list_runs(demo_project)] == [shared]  # no second run


FAKE_TRAINER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    args = sys.argv[1:]
    arch = args[args.index("--arch") + 1]
    run = 11 if arch == "shared" else 12
    fail_shared = Path(sys.argv[0] + ".mode").read_text() == "FAIL_SHARED"
    def say(**event):
        print(json.dumps(event), flush=True)
    say(event="started", run=run, device="cpu", config={})
    say(event="progress", run=run, epoch=1, epochs=1, step=1, steps=2, loss=0.7, elapsed=0.1)
    if arch == "shared" and fail_shared:
        say(event="failed", run=run, error="no labels to train on")
    elif arch == "separate":
        say(event="failed", run=run, error="out of memory")
    else:
        say(event="done", run=run, best_epoch=1, mean_ap=0.5)
    """
)


def _fake_trainer(tmp_path: Path, mode: str) -> list[str]:
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    (tmp_path / "fake_trainer.py.mode").write_text(mode)
    return [sys.executable, str(script)]


def test_a_failed_separate_run_is_reported_with_both_ids(qtbot: QtBot, tmp_path: Path) -> None:
    job = CompareSeparateJob(program=_fake_trainer(tmp_path, ""))
    percents: list[int] = []
    job.percent.connect(percents.append)
    with qtbot.waitSignal(job.finished, timeout=30_000) as done:
        job.start(tmp_path, TINY_SETTINGS)
    assert done.args == [11, 12, "The separate networks' run failed: out of memory"]
    assert percents == sorted(percents) and percents[-1] >= 50


def test_a_failed_shared_run_stops_the_job(qtbot: QtBot, tmp_path: Path) -> None:
    job = CompareSeparateJob(program=_fake_trainer(tmp_path, "FAIL_SHARED"))
    started: list[int] = []
    job.run_started.connect(started.append)
    with qtbot.waitSignal(job.finished, timeout=30_000) as done:
        job.start(tmp_path, TINY_SETTINGS)
    shared, separate, message = done.args
    assert (shared, separate) == (11, None)
    assert message == (
        "The shared network's run failed, so the separate networks were not trained: "
        "no labels to train on"
    )
    assert started == [11]


def test_one_trainer_at_a_time_between_train_and_the_comparison_job(
    qtbot: QtBot, demo_project: Project
) -> None:
    """Train waits while a comparison trains, and a comparison waits while Train trains:
    two trainers on one CPU each run at half speed or worse."""
    view = TrainingView(ProjectSession(demo_project))
    qtbot.addWidget(view)
    view.show()
    train, panel = view.train, view.runs
    long = {**TINY_SETTINGS, "epochs": 50}
    view.train.set_settings(long)
    timeout = TRAIN_TIMEOUT_S * 1000

    with qtbot.waitSignal(panel.separate_bar.job.run_started, timeout=timeout):
        assert panel.compare_with_separate(long)
    assert not train.train_button.isEnabled() and not train.train_action.isEnabled()
    assert train.held_note.isVisible() and "comparison" in train.held_note.text()
    assert "comparison" in train.train_button.toolTip()
    assert not train.start_training(), "Train refuses while the comparison trains"
    with qtbot.waitSignal(panel.separate_bar.finished, timeout=timeout):
        panel.cancel_comparison_job()
    assert train.train_button.isEnabled() and train.train_action.isEnabled()
    assert not train.held_note.isVisible()
    assert train.train_button.toolTip() == "Train a network on the labels as they are now"

    with qtbot.waitSignal(train.run_started, timeout=timeout):
        assert train.start_training()
    assert not panel.separate_action.isEnabled()
    assert "training" in panel.separate_action.toolTip()
    assert not panel.compare_with_separate(long), "no comparison while Train trains"
    assert not panel.separate_bar.is_running()
    with qtbot.waitSignal(train.run_finished, timeout=timeout):
        train.cancel_training()
    assert panel.separate_action.isEnabled()
    statuses = sorted(r.status for r in core_runs.list_runs(demo_project))
    assert statuses == ["cancelled", "cancelled"], "one comparison run, one Train run"


def test_the_status_says_which_candidate_an_auto_run_kept() -> None:
    from dataclasses import replace

    from app.training.runs_panel import status_text

    base = RunInfo(
        id=1,
        status="done",
        config={"epochs": 2},
        created_at=datetime.now(UTC),
        started_at=None,
        finished_at=None,
        device=None,
        error=None,
        snapshot=None,
        epochs_done=2,
        best_epoch=2,
        best_mean_ap=0.5,
        checkpoint=None,
        predictions_complete=True,
    )
    assert status_text(base) == "done"
    kept = replace(base, config={"auto": {"kept": True}})
    assert status_text(kept) == "done · auto kept"
    assert status_text(replace(base, config={"auto": {"kept": False}})) == "done · auto: not kept"
