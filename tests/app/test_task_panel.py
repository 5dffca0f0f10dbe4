"""The Tasks panel, driven through its toolbar: counts, editing, archiving, warnings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QColorDialog, QInputDialog, QMessageBox, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from app.session import ProjectSession
from app.widgets import task_panel as task_panel_module
from app.widgets.task_panel import (
    ArchivedRole,
    CountsRole,
    TaskIdRole,
    TaskListModel,
    TaskPanel,
)
from core import tasks as core_tasks
from core.labels import TaskCounts, counts_per_task
from core.project import Project
from tests.app import panel_fixtures
from tests.app.panel_fixtures import PANEL_IMAGES, image_ids, task_ids

# The shared fixtures, made visible to pytest in this module.
isolated_settings = panel_fixtures.isolated_settings
panel_project = panel_fixtures.panel_project
panel_session = panel_fixtures.panel_session


@pytest.fixture
def panel(qtbot: QtBot, panel_session: ProjectSession) -> Iterator[TaskPanel]:
    widget = TaskPanel(panel_session)
    qtbot.addWidget(widget)
    widget.resize(320, 420)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget


def key_counts(counts: TaskCounts | None) -> tuple[int, int, int] | None:
    return None if counts is None else (counts.present, counts.absent, counts.unknown)


def names(panel: TaskPanel) -> list[str]:
    return [r.task.name for r in panel.model.rows()]


def click(qtbot: QtBot, panel: TaskPanel, action: Any) -> None:
    """Click the toolbar button of ``action`` like a user."""
    button = panel.toolbar.widgetForAction(action)
    assert isinstance(button, QToolButton)
    assert button.isEnabled(), f"{action.text()} is disabled"
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def select(qtbot: QtBot, panel: TaskPanel, name: str) -> None:
    """Click the task's row in the list."""
    row = names(panel).index(name)
    rect = panel.view.visualRect(panel.model.index(row))
    QTest.mouseClick(
        panel.view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        rect.center(),
    )
    selected = panel.selected_row()
    assert selected is not None and selected.task.name == name


def answer_text(
    monkeypatch: pytest.MonkeyPatch, text: str, ok: bool = True
) -> list[tuple[Any, ...]]:
    asked: list[tuple[Any, ...]] = []

    def get_text(*args: Any, **kwargs: Any) -> tuple[str, bool]:
        asked.append(args)
        return text, ok

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(get_text))
    return asked


def capture_warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    shown: list[str] = []

    def warning(parent: QWidget, title: str, text: str, *args: Any) -> QMessageBox.StandardButton:
        shown.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return shown


# -- the model --------------------------------------------------------------------------


def test_model_passes_the_model_tester(qtmodeltester: Any, panel: TaskPanel) -> None:
    qtmodeltester.check(panel.model, force_py=True)
    panel.show_archived_action.setChecked(True)
    qtmodeltester.check(panel.model, force_py=True)


def test_empty_model_passes_the_model_tester(qtmodeltester: Any, qapp: Any) -> None:
    qtmodeltester.check(TaskListModel(), force_py=True)


def test_rows_list_the_tasks_in_order_with_roles(
    panel: TaskPanel,
    panel_project: Project,
) -> None:
    assert names(panel) == ["car", "pedestrian", "stop sign"]
    index = panel.model.index(0)
    assert index.data(TaskIdRole) == task_ids(panel_project)["car"]
    assert index.data(ArchivedRole) is False
    counts = index.data(CountsRole)
    assert (counts.present, counts.absent, counts.unknown) == (0, 0, PANEL_IMAGES)
    assert isinstance(index.data(Qt.ItemDataRole.DecorationRole), QColor)
    assert "20 unknown" in index.data(Qt.ItemDataRole.ToolTipRole)


# -- live counts ------------------------------------------------------------------------


def test_counts_update_live_with_one_query_per_burst(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_session: ProjectSession,
    panel_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queries: list[int] = []

    def counting(project: Project) -> Any:
        queries.append(1)
        return counts_per_task(project)

    monkeypatch.setattr(task_panel_module, "counts_per_task", counting)
    car = task_ids(panel_project)["car"]
    images = image_ids(panel_project)
    for i, image in enumerate(images[:6]):  # a burst of clicks
        panel_session.set_cell(image, car, 1 if i < 4 else 0)

    qtbot.waitUntil(lambda: key_counts(panel.model.index(0).data(CountsRole)) == (4, 2, 14))
    assert len(queries) == 1
    assert panel.model.rows()[0].counts_text() == "4 / 2 / 14"

    panel_session.undo_stack.undo()  # undo is a label change like any other
    qtbot.waitUntil(lambda: key_counts(panel.model.index(0).data(CountsRole)) == (4, 1, 15))


def test_counts_follow_images_changed(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_session: ProjectSession,
    panel_project: Project,
) -> None:
    from tests.helpers import add_fake_images

    add_fake_images(panel_project, 5, root="/more")
    panel_session.images_changed.emit()
    assert key_counts(panel.model.index(0).data(CountsRole)) == (0, 0, PANEL_IMAGES + 5)


# -- editing through the toolbar --------------------------------------------------------


def test_add_task_through_the_toolbar(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = answer_text(monkeypatch, "  traffic light ")
    with qtbot.waitSignal(panel.session.tasks_changed):  # type: ignore[union-attr]
        click(qtbot, panel, panel.add_action)
    assert asked
    assert [t.name for t in core_tasks.list_tasks(panel_project)][-1] == "traffic light"
    assert names(panel)[-1] == "traffic light"
    assert panel.selected_row().task.name == "traffic light"  # type: ignore[union-attr]


def test_rename_through_the_toolbar(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    select(qtbot, panel, "car")
    asked = answer_text(monkeypatch, "vehicle")
    click(qtbot, panel, panel.rename_action)
    assert asked[0][-1] == "car"  # the current name is offered for editing
    assert core_tasks.get_task(panel_project, task_ids(panel_project)["vehicle"]).name == "vehicle"
    assert names(panel) == ["vehicle", "pedestrian", "stop sign"]
    assert panel.selected_row().task.name == "vehicle"  # type: ignore[union-attr]


def test_duplicate_rename_shows_an_error_and_changes_nothing(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    select(qtbot, panel, "car")
    answer_text(monkeypatch, "Pedestrian")
    warnings = capture_warnings(monkeypatch)
    before = core_tasks.list_tasks(panel_project, include_archived=True)
    changed: list[bool] = []
    panel.session.tasks_changed.connect(lambda: changed.append(True))  # type: ignore[union-attr]

    click(qtbot, panel, panel.rename_action)

    assert len(warnings) == 1 and "pedestrian" in warnings[0].lower()
    assert "already exists" in warnings[0]
    assert core_tasks.list_tasks(panel_project, include_archived=True) == before
    assert names(panel) == ["car", "pedestrian", "stop sign"]
    assert not changed


def test_invalid_new_name_shows_an_error(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer_text(monkeypatch, "x" * 300)
    warnings = capture_warnings(monkeypatch)
    click(qtbot, panel, panel.add_action)
    assert warnings and "longer than" in warnings[0]
    assert len(core_tasks.list_tasks(panel_project)) == 3


def test_move_up_and_down(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
) -> None:
    select(qtbot, panel, "stop sign")
    assert not panel.move_down_action.isEnabled()  # already last
    click(qtbot, panel, panel.move_up_action)
    assert names(panel) == ["car", "stop sign", "pedestrian"]
    assert [t.name for t in core_tasks.list_tasks(panel_project)] == names(panel)
    click(qtbot, panel, panel.move_up_action)
    assert names(panel) == ["stop sign", "car", "pedestrian"]
    assert not panel.move_up_action.isEnabled()  # now first, still selected
    click(qtbot, panel, panel.move_down_action)
    assert [t.name for t in core_tasks.list_tasks(panel_project)] == [
        "car",
        "stop sign",
        "pedestrian",
    ]


def test_move_steps_over_hidden_archived_tasks(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
) -> None:
    select(qtbot, panel, "pedestrian")
    click(qtbot, panel, panel.archive_action)
    assert names(panel) == ["car", "stop sign"]
    select(qtbot, panel, "stop sign")
    click(qtbot, panel, panel.move_up_action)
    assert names(panel) == ["stop sign", "car"]
    select(qtbot, panel, "stop sign")
    click(qtbot, panel, panel.move_down_action)
    assert names(panel) == ["car", "stop sign"]


def test_archive_show_archived_and_unarchive(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    panel_session: ProjectSession,
) -> None:
    car = task_ids(panel_project)["car"]
    panel_session.set_cell(image_ids(panel_project)[0], car, 1)
    select(qtbot, panel, "car")
    click(qtbot, panel, panel.archive_action)
    assert core_tasks.get_task(panel_project, car).archived
    assert names(panel) == ["pedestrian", "stop sign"]
    assert not panel.unarchive_action.isVisible()

    click(qtbot, panel, panel.show_archived_action)
    assert names(panel) == ["car", "pedestrian", "stop sign"]
    row = panel.model.rows()[0]
    assert row.task.archived and row.counts_text() == "archived"
    select(qtbot, panel, "car")
    assert not panel.archive_action.isEnabled()
    click(qtbot, panel, panel.unarchive_action)
    assert not core_tasks.get_task(panel_project, car).archived
    assert panel.model.rows()[0].counts_text() == "1 / 0 / 19"  # labels were kept

    click(qtbot, panel, panel.show_archived_action)
    assert names(panel) == ["car", "pedestrian", "stop sign"]


def test_colour_through_the_toolbar(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    select(qtbot, panel, "pedestrian")
    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(lambda *a, **k: QColor("#123456")))
    click(qtbot, panel, panel.colour_action)
    assert core_tasks.get_task(panel_project, "pedestrian").colour == "#123456"
    assert panel.model.rows()[1].colour == "#123456"


def test_cancelled_colour_changes_nothing(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = core_tasks.get_task(panel_project, "car").colour
    select(qtbot, panel, "car")
    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(lambda *a, **k: QColor()))
    click(qtbot, panel, panel.colour_action)
    assert core_tasks.get_task(panel_project, "car").colour == before


def test_rename_with_f2(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    select(qtbot, panel, "stop sign")
    answer_text(monkeypatch, "stop")
    QTest.keyClick(panel.view, Qt.Key.Key_F2)
    assert names(panel) == ["car", "pedestrian", "stop"]


def test_other_widgets_changes_are_shown(
    panel: TaskPanel,
    panel_project: Project,
    panel_session: ProjectSession,
) -> None:
    core_tasks.add_task(panel_project, "bicycle")
    panel_session.tasks_changed.emit()
    assert names(panel)[-1] == "bicycle"


def test_double_click_activates_the_task(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
) -> None:
    rect = panel.view.visualRect(panel.model.index(1))
    activated: list[int] = []
    panel.task_activated.connect(activated.append)
    QTest.mouseClick(
        panel.view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        rect.center(),
    )
    with qtbot.waitSignal(panel.task_activated) as blocker:
        QTest.mouseDClick(
            panel.view.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            rect.center(),
        )
    assert blocker.args == [task_ids(panel_project)["pedestrian"]]
    assert len(activated) == 1


def test_without_a_project_nothing_is_enabled(qtbot: QtBot, qapp: Any) -> None:
    panel = TaskPanel(None)
    qtbot.addWidget(panel)
    assert panel.model.rowCount() == 0
    for action in (panel.add_action, panel.rename_action, panel.archive_action):
        assert not action.isEnabled()


# -- balance warnings -------------------------------------------------------------------


def test_balance_warning_appears_and_disappears(
    qtbot: QtBot,
    panel: TaskPanel,
    panel_project: Project,
    panel_session: ProjectSession,
) -> None:
    assert not panel.warnings.isVisibleTo(panel)
    ids = task_ids(panel_project)
    images = image_ids(panel_project)
    cells = [(i, ids[t], n % 2) for n, i in enumerate(images) for t in ("car", "pedestrian")]
    cells.append((images[0], ids["stop sign"], 1))
    cells.append((images[1], ids["stop sign"], 0))
    panel_session.set_cells(cells)

    qtbot.waitUntil(lambda: panel.warnings.isVisibleTo(panel))
    text = panel.warnings.text()
    assert "task 'stop sign' has 2 known cells" in text
    assert "median 20" in text

    panel_session.set_cells([(i, ids["stop sign"], n % 2) for n, i in enumerate(images)])
    qtbot.waitUntil(lambda: not panel.warnings.isVisibleTo(panel))
    assert panel.warnings.warnings() == []


def test_balance_warning_lists_several_and_shows_all_on_hover(panel: TaskPanel, qapp: Any) -> None:
    many = [f"task 't{i}' has no image labelled absent" for i in range(7)]
    panel.warnings.set_warnings(many)
    assert panel.warnings.isVisibleTo(panel)
    assert "and 3 more" in panel.warnings.text()
    assert all(w in panel.warnings.toolTip() for w in many)


def test_row_geometry_is_sane(panel: TaskPanel) -> None:
    rect = panel.view.visualRect(panel.model.index(0))
    assert rect.height() >= panel.fontMetrics().height() + 8
    assert panel.view.indexAt(rect.center() + QPoint(0, 0)).row() == 0
