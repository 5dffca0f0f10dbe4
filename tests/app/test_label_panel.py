"""The label panel: segment clicks, undo, bulk mode and the key actions, driven on real widgets."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from app.session import ProjectSession
from app.widgets.annotate_pane import AnnotatePane
from app.widgets.label_panel import LabelPanel
from core.labels import image_row, set_cells
from core.project import Project
from core.tasks import add_task, list_tasks
from tests.app.annotate_fixtures import *  # noqa: F403 - pytest fixtures
from tests.app.annotate_fixtures import ANNOTATE_TASKS, click


def task_ids(project: Project) -> dict[str, int]:
    return {t.name: t.id for t in list_tasks(project)}


def segment(panel: LabelPanel, task: str, state: str) -> QPushButton:
    """The segment button whose accessible name is "<task>: <state>"."""
    found = [b for b in panel.findChildren(QPushButton) if b.accessibleName() == f"{task}: {state}"]
    assert len(found) == 1, f"no single segment {task}: {state}"
    return found[0]


def click_segment(qtbot: QtBot, panel: LabelPanel, task: str, state: str) -> None:
    click(qtbot, segment(panel, task, state))


def label_text(row: QWidget, name: str) -> str:
    label = row.findChild(QLabel, name)
    assert label is not None, name
    return label.text() if name != "taskSwatch" else label.styleSheet()


def checked(panel: LabelPanel, task: str) -> str:
    """The checked state of a task row: "present", "absent", "unknown" or "mixed"."""
    states = [s for s in ("present", "absent", "unknown") if segment(panel, task, s).isChecked()]
    assert len(states) <= 1
    return states[0] if states else "mixed"


def test_clicks_land_in_the_database_and_show_checked(
    qtbot: QtBot, annotate_pane: AnnotatePane, annotate_project: Project, annotate_ids: list[int]
) -> None:
    pane, image = annotate_pane, annotate_ids[0]
    car = task_ids(annotate_project)["car"]
    pane.show_image(image, (1, len(annotate_ids)))
    panel = pane.panel
    assert checked(panel, "car") == "unknown"
    for state, value in (("present", 1), ("absent", 0), ("unknown", None)):
        click_segment(qtbot, panel, "car", state)
        assert image_row(annotate_project, image)[car] == value
        assert checked(panel, "car") == state
    assert checked(panel, "person") == "unknown"


def test_rows_show_the_key_colour_and_name_of_each_task(
    annotate_pane: AnnotatePane, annotate_ids: list[int]
) -> None:
    annotate_pane.show_image(annotate_ids[0], (1, 6))
    rows = annotate_pane.panel.rows()
    assert [r.task.name for r in rows] == ANNOTATE_TASKS
    assert [label_text(r, "taskKey") for r in rows] == ["1", "2", "3"]
    assert [r.name_label.toolTip() for r in rows] == ANNOTATE_TASKS
    assert all(label_text(r, "taskSwatch").startswith("background: #") for r in rows)


def test_undo_restores_the_previous_value_including_unknown(
    qtbot: QtBot,
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane, image = annotate_pane, annotate_ids[1]
    tree = task_ids(annotate_project)["tree"]
    pane.show_image(image, (2, 6))
    click_segment(qtbot, pane.panel, "tree", "present")
    click_segment(qtbot, pane.panel, "tree", "absent")
    stack = annotate_session.undo_stack
    assert stack.count() == 2
    assert stack.undoText() == "Set tree = absent on 1 image"

    stack.undo()
    assert image_row(annotate_project, image)[tree] == 1
    assert checked(pane.panel, "tree") == "present"
    stack.undo()
    assert image_row(annotate_project, image)[tree] is None
    assert checked(pane.panel, "tree") == "unknown"
    stack.redo()
    assert image_row(annotate_project, image)[tree] == 1
    assert checked(pane.panel, "tree") == "present"


def test_bulk_mode_sets_every_selected_image_in_one_command(
    qtbot: QtBot,
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane = annotate_pane
    car = task_ids(annotate_project)["car"]
    selected = annotate_ids[:3]
    set_cells(annotate_project, [(selected[0], car, 1)])
    pane.show_image(selected[0], (1, 6))
    pane.show_selection(selected)
    panel = pane.panel
    assert panel.title.text() == "3 images selected"
    assert checked(panel, "car") == "mixed"
    car_row = panel.rows()[0]
    assert car_row.counts_label.toolTip() == "1 present · 2 ?"
    assert checked(panel, "person") == "unknown"

    click_segment(qtbot, panel, "car", "absent")
    assert all(image_row(annotate_project, i)[car] == 0 for i in selected)
    assert image_row(annotate_project, annotate_ids[3])[car] is None
    assert checked(panel, "car") == "absent"
    assert car_row.counts_label.toolTip() == "3 absent"
    stack = annotate_session.undo_stack
    assert stack.count() == 1
    assert stack.undoText() == "Set car = absent on 3 images"

    stack.undo()
    assert [image_row(annotate_project, i)[car] for i in selected] == [1, None, None]
    assert checked(panel, "car") == "mixed"


def test_leaving_the_selection_returns_to_the_single_image(
    annotate_pane: AnnotatePane, annotate_ids: list[int]
) -> None:
    pane = annotate_pane
    pane.show_image(annotate_ids[0], (1, 6))
    pane.show_selection(annotate_ids[:4])
    assert pane.panel.image_ids() == annotate_ids[:4]
    pane.show_image(annotate_ids[5], (6, 6))
    assert pane.panel.image_ids() == [annotate_ids[5]]
    assert pane.panel.title.text() == "Labels"


def test_cycle_task_goes_unknown_present_absent_unknown(
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane, image = annotate_pane, annotate_ids[0]
    person = task_ids(annotate_project)["person"]
    pane.show_image(image, (1, 6))
    seen = []
    for _ in range(3):
        pane.panel.cycle_task(1)
        seen.append((image_row(annotate_project, image)[person], checked(pane.panel, "person")))
    assert seen == [(1, "present"), (0, "absent"), (None, "unknown")]
    assert annotate_session.undo_stack.count() == 3
    pane.panel.cycle_task(7)  # no such task: nothing happens
    assert annotate_session.undo_stack.count() == 3


def test_cycle_task_in_bulk_mode_applies_the_first_images_next_value_to_all(
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane = annotate_pane
    car = task_ids(annotate_project)["car"]
    selected = annotate_ids[2:5]
    set_cells(annotate_project, [(selected[0], car, 1), (selected[1], car, 0)])
    pane.show_image(selected[0], (3, 6))
    pane.show_selection(selected)
    pane.panel.cycle_task(0)
    assert [image_row(annotate_project, i)[car] for i in selected] == [0, 0, 0]
    assert annotate_session.undo_stack.count() == 1
    assert annotate_session.undo_stack.undoText() == "Set car = absent on 3 images"
    assert checked(pane.panel, "car") == "absent"


def test_set_task_sets_one_value_as_one_command(
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane = annotate_pane
    tree = task_ids(annotate_project)["tree"]
    pane.show_image(annotate_ids[0], (1, 6))
    pane.show_selection(annotate_ids[:2])
    pane.panel.set_task(2, 0)
    assert [image_row(annotate_project, i)[tree] for i in annotate_ids[:2]] == [0, 0]
    assert annotate_session.undo_stack.count() == 1
    pane.panel.set_task(2, 0)  # already so: no command
    assert annotate_session.undo_stack.count() == 1
    pane.panel.set_task(2, None)
    assert [image_row(annotate_project, i)[tree] for i in annotate_ids[:2]] == [None, None]
    assert checked(pane.panel, "tree") == "unknown"
    assert annotate_session.undo_stack.undoText() == "Set tree = unknown on 2 images"


def test_all_unknown_to_absent_is_one_undoable_command(
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane, image = annotate_pane, annotate_ids[3]
    ids = task_ids(annotate_project)
    set_cells(annotate_project, [(image, ids["car"], 1)])
    pane.show_image(image, (4, 6))
    pane.panel.all_unknown_to_absent()
    assert image_row(annotate_project, image) == {ids["car"]: 1, ids["person"]: 0, ids["tree"]: 0}
    assert [checked(pane.panel, t) for t in ("car", "person", "tree")] == [
        "present",
        "absent",
        "absent",
    ]
    stack = annotate_session.undo_stack
    assert stack.count() == 1
    stack.undo()
    assert image_row(annotate_project, image) == {
        ids["car"]: 1,
        ids["person"]: None,
        ids["tree"]: None,
    }
    assert checked(pane.panel, "person") == "unknown"


def test_all_unknown_button_acts_on_the_selection(
    qtbot: QtBot,
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane = annotate_pane
    pane.show_image(annotate_ids[0], (1, 6))
    pane.show_selection(annotate_ids[:3])
    click(qtbot, pane.panel.fill_button)
    assert all(set(image_row(annotate_project, i).values()) == {0} for i in annotate_ids[:3])
    assert set(image_row(annotate_project, annotate_ids[3]).values()) == {None}
    assert annotate_session.undo_stack.count() == 1
    assert annotate_session.undo_stack.undoText() == "Set unknown → absent on 3 images"


def test_copy_from_copies_every_task_including_unknown(
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane = annotate_pane
    ids = task_ids(annotate_project)
    source, target = annotate_ids[0], annotate_ids[1]
    set_cells(annotate_project, [(source, ids["car"], 1), (source, ids["person"], 0)])
    set_cells(annotate_project, [(target, ids["tree"], 1)])
    pane.show_image(target, (2, 6))
    pane.panel.copy_from(source)
    assert image_row(annotate_project, target) == image_row(annotate_project, source)
    assert [checked(pane.panel, t) for t in ("car", "person", "tree")] == [
        "present",
        "absent",
        "unknown",
    ]
    stack = annotate_session.undo_stack
    assert stack.count() == 1
    assert stack.undoText() == "Copy labels from img_0.jpg"
    stack.undo()
    assert image_row(annotate_project, target) == {
        ids["car"]: None,
        ids["person"]: None,
        ids["tree"]: 1,
    }


def test_changes_from_elsewhere_show_up(
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    """Another widget (the thumbnail grid, a bulk action) edits through the session."""
    pane = annotate_pane
    person = task_ids(annotate_project)["person"]
    pane.show_image(annotate_ids[2], (3, 6))
    annotate_session.set_cell(annotate_ids[2], person, 1)
    assert checked(pane.panel, "person") == "present"


def test_tasks_changed_rebuilds_the_rows(
    qtbot: QtBot,
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane = annotate_pane
    pane.show_image(annotate_ids[0], (1, 6))
    bike = add_task(annotate_project, "bike")
    annotate_session.tasks_changed.emit()
    rows = pane.panel.rows()
    assert [r.task.name for r in rows] == [*ANNOTATE_TASKS, "bike"]
    assert label_text(rows[3], "taskKey") == "4"
    click_segment(qtbot, pane.panel, "bike", "present")
    assert image_row(annotate_project, annotate_ids[0])[bike.id] == 1
    assert checked(pane.panel, "bike") == "present"


def test_no_key_is_shown_after_the_ninth_task(
    annotate_pane: AnnotatePane, annotate_project: Project, annotate_session: ProjectSession
) -> None:
    for i in range(8):
        add_task(annotate_project, f"extra {i}")
    annotate_session.tasks_changed.emit()
    keys = [label_text(r, "taskKey") for r in annotate_pane.panel.rows()]
    assert keys == [str(i) for i in range(1, 10)] + ["", ""]


def test_without_an_image_the_rows_are_disabled_and_do_nothing(
    annotate_pane: AnnotatePane, annotate_session: ProjectSession
) -> None:
    panel = annotate_pane.panel
    assert panel.title.text() == "No image selected"
    assert not any(r.isEnabled() for r in panel.rows())
    panel.cycle_task(0)
    panel.set_task(0, 1)
    panel.all_unknown_to_absent()
    assert annotate_session.undo_stack.count() == 0
