"""Inspecting predictions in the window: the label panel's bars and Accept buttons, the
bulk accept dialog and the browser's prediction orders, driven on real widgets.

Runs are inserted directly (``tests.core.test_predictions.insert_run``): no training.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox
from pytestqt.qtbot import QtBot

from app.dialogs.accept_predictions import AcceptPredictionsDialog
from app.models.image_list import ImageListModel, ImageRole
from app.session import ProjectSession
from app.widgets.annotate_pane import AnnotatePane
from app.widgets.browser import ImageBrowser
from app.widgets.label_panel import (
    AGREES,
    BAR_COLOURS,
    DISAGREES,
    UNKNOWN_CELL,
    LabelPanel,
    TaskRow,
)
from core import runs
from core.labels import history, image_row, image_rows, set_cells
from core.project import Project
from tests.app.annotate_fixtures import *  # noqa: F403 - pytest fixtures
from tests.app.annotate_fixtures import click
from tests.app.browser_fixtures import *  # noqa: F403 - pytest fixtures
from tests.app.panel_fixtures import *  # noqa: F403 - pytest fixtures
from tests.app.panel_fixtures import task_ids
from tests.core.test_predictions import insert_run


def row_of(panel: LabelPanel, name: str) -> TaskRow:
    return next(r for r in panel.rows() if r.task.name == name)


def bar_shown(row: TaskRow) -> bool:
    return row.prediction.isVisibleTo(row) and row.predicted() is not None


# -- the label panel -----------------------------------------------------------------


def panel_run(project: Project, images: list[int], **kw: Any) -> int:
    """Image 0: car 0.83 (t 0.41), person 0.12 (t 0.5), tree 0.55 (t 0.6); image 1 has
    predictions for car and person only."""
    ids = task_ids(project)
    car, person, tree = ids["car"], ids["person"], ids["tree"]
    probs = {(images[0], car): 0.83, (images[0], person): 0.12, (images[0], tree): 0.55}
    probs |= {(images[1], car): 0.2, (images[1], person): 0.9}
    return insert_run(project, probs, {car: 0.41, person: 0.5, tree: 0.6}, **kw)


def test_bars_show_the_probability_coloured_by_agreement(
    qtbot: QtBot, annotate_pane: AnnotatePane, annotate_project: Project, annotate_ids: list[int]
) -> None:
    pane, project, images = annotate_pane, annotate_project, annotate_ids
    ids = task_ids(project)
    run = panel_run(project, images)
    set_cells(project, [(images[0], ids["car"], 1), (images[0], ids["person"], 1)])
    pane.show_image(images[0], (1, len(images)))
    panel = pane.panel
    assert not any(bar_shown(r) for r in panel.rows())
    assert not panel.accept_all_button.isVisibleTo(panel)

    pane.set_run(run)
    assert pane.run_id() == run
    expected = {
        "car": (0.83, 0.41, AGREES),  # labelled present, predicted present
        "person": (0.12, 0.5, DISAGREES),  # labelled present, predicted absent
        "tree": (0.55, 0.6, UNKNOWN_CELL),  # unknown
    }
    for name, (p, t, state) in expected.items():
        row = row_of(panel, name)
        assert bar_shown(row)
        bar = row.prediction_bar
        assert (bar.probability(), bar.threshold(), bar.state()) == (p, t, state)
        assert bar.colour().name() == BAR_COLOURS[state]
        assert row.prediction.toolTip().splitlines()[0] == f"p = {p:.2f} (threshold {t:.2f})"
        assert row.prediction_text.text() == f"{round(p * 100)} %"
        # Accept only where the cell is unknown.
        assert row.accept_button.isVisibleTo(row) == (state == UNKNOWN_CELL)
    assert row_of(panel, "car").prediction.toolTip() == (
        "p = 0.83 (threshold 0.41)\npredicts present: agrees with the label"
    )
    # Accept says what it will set, and warns when the model is nearly undecided.
    assert row_of(panel, "car").accept_button.text() == "Accept → present"
    tree = row_of(panel, "tree").accept_button
    assert tree.text() == "⚠ Accept → absent"  # 0.55 is within 0.1 of the threshold 0.6
    assert "Unsure: 0.55 is within 0.10 of the threshold 0.60" in tree.toolTip()
    assert "Unsure" not in row_of(panel, "person").accept_button.toolTip()
    assert panel.accept_all_button.isVisibleTo(panel) and panel.accept_all_button.isEnabled()

    # A task the run did not predict for this image shows no bar.
    pane.show_image(images[1], (2, len(images)))
    assert bar_shown(row_of(panel, "car")) and not bar_shown(row_of(panel, "tree"))
    # Several images: no bars (they would disagree), the accept-all button acts on all.
    pane.show_selection(images[:2])
    assert not any(bar_shown(r) for r in panel.rows())
    pane.show_image(images[2], (3, len(images)))  # leaves the selection
    pane.show_image(images[0], (1, len(images)))
    assert bar_shown(row_of(panel, "tree"))
    pane.set_run(None)
    assert not any(bar_shown(r) for r in panel.rows())
    assert not panel.accept_all_button.isVisibleTo(panel)


def test_accept_sets_the_predicted_value_as_one_undoable_command(
    qtbot: QtBot,
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane, project, session, images = annotate_pane, annotate_project, annotate_session, annotate_ids
    tree = task_ids(project)["tree"]
    pane.show_image(images[0], (1, len(images)))
    pane.set_run(panel_run(project, images))
    row = row_of(pane.panel, "tree")
    before = session.undo_stack.count()
    click(qtbot, row.accept_button)
    # p = 0.55 below the threshold 0.6: absent.
    assert image_row(project, images[0])[tree] == 0
    event = history(project, image_id=images[0], task_id=tree)[0]
    assert (event.old, event.new, event.source) == (None, 0, "prediction")
    assert session.undo_stack.count() == before + 1
    assert session.undo_stack.undoText() == "Accept prediction tree = absent"
    # The row now shows a known cell that agrees, without the Accept button.
    assert row.prediction_bar.state() == AGREES
    assert not row.accept_button.isVisibleTo(row)
    session.undo_stack.undo()
    assert image_row(project, images[0])[tree] is None
    assert row.prediction_bar.state() == UNKNOWN_CELL and row.accept_button.isVisibleTo(row)
    session.undo_stack.redo()
    assert image_row(project, images[0])[tree] == 0


def test_accept_all_unknown_is_one_command(
    qtbot: QtBot,
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    pane, project, session, images = annotate_pane, annotate_project, annotate_session, annotate_ids
    ids = task_ids(project)
    set_cells(project, [(images[0], ids["person"], 1)])
    pane.show_image(images[0], (1, len(images)))
    pane.set_run(panel_run(project, images))
    before = session.undo_stack.count()
    # The button says what it will set before it is pressed.
    assert pane.panel.accept_all_button.text() == "Accept → 1 present, 1 absent"
    click(qtbot, pane.panel.accept_all_button)
    # car 0.83 ≥ 0.41 present, tree 0.55 < 0.6 absent; person kept as labelled.
    assert image_row(project, images[0]) == {ids["car"]: 1, ids["person"]: 1, ids["tree"]: 0}
    assert session.undo_stack.count() == before + 1
    assert session.undo_stack.undoText() == "Accept 2 predictions"
    assert {e.source for e in history(project, image_id=images[0])[:2]} == {"prediction"}
    assert not pane.panel.accept_all_button.isEnabled()  # nothing left to accept
    session.undo_stack.undo()
    assert image_row(project, images[0]) == {ids["car"]: None, ids["person"]: 1, ids["tree"]: None}
    # On a selection: every image's unknown predicted cells, still one command.
    pane.show_image(images[0], (1, len(images)))
    pane.show_selection(images[:3])
    assert pane.panel.accept_all_button.text() == "Accept predictions (3 images)"
    click(qtbot, pane.panel.accept_all_button)
    assert session.undo_stack.undoText() == "Accept 4 predictions on 2 images"
    assert image_row(project, images[1]) == {ids["car"]: 0, ids["person"]: 1, ids["tree"]: None}


def test_an_incomplete_run_is_refused_with_a_message(
    qtbot: QtBot,
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
) -> None:
    run = panel_run(annotate_project, annotate_ids, complete=False, status="running")
    annotate_pane.show_image(annotate_ids[0], (1, 6))
    with qtbot.waitSignal(annotate_session.error) as blocker:
        annotate_pane.set_run(run)
    assert "incomplete" in str(blocker.args[0])
    assert annotate_pane.run_id() is None
    assert not any(bar_shown(r) for r in annotate_pane.panel.rows())


# -- the bulk dialog -----------------------------------------------------------------


def bulk_setup(project: Project) -> tuple[int, dict[int, float], list[int]]:
    """Car on 20 images: p = 0.00, 0.05 … 0.95, threshold 0.4; images 0 and 19 labelled."""
    from tests.app.panel_fixtures import image_ids

    car = task_ids(project)["car"]
    images = image_ids(project)
    probs = {i: round(0.05 * n, 2) for n, i in enumerate(images)}
    set_cells(project, [(images[0], car, 1), (images[19], car, 0)])
    run = insert_run(project, {(i, car): p for i, p in probs.items()}, {car: 0.4})
    return run, probs, images


def test_bulk_dialog_counts_live_and_applies_one_undo_step(
    qtbot: QtBot, panel_session: ProjectSession
) -> None:
    session, project = panel_session, panel_session.project
    car = task_ids(project)["car"]
    run, probs, images = bulk_setup(project)
    dialog = AcceptPredictionsDialog(session, run, task_id=car)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.task_id() == car
    assert [dialog.task_combo.itemText(i) for i in range(dialog.task_combo.count())] == ["car"]

    unknown = {i: p for i, p in probs.items() if i not in (images[0], images[19])}

    def expected(c: float) -> tuple[int, int]:
        present = sum(1 for p in unknown.values() if p >= max(0.4, c))
        absent = sum(1 for p in unknown.values() if p < 0.4 and p <= 1 - c + 1e-9)
        return present, absent

    for c in (0.5, 0.75, 0.9, 1.0):
        dialog.confidence_slider.setValue(round(c * 100))  # the slider drives the spin box
        assert dialog.min_confidence() == c
        counts = dialog.counts()
        assert (counts.present, counts.absent) == expected(c)
        assert f"{counts.total:,} of 18 unknown cells" in dialog.summary_label.text()
        assert dialog.ok_button.isEnabled() == (counts.total > 0)
    dialog.set_min_confidence(0.8)
    # present: 0.80, 0.85, 0.90 (0.95 is labelled); absent: 0.05 … 0.20 (0.00 is labelled)
    assert (dialog.counts().present, dialog.counts().absent) == (3, 4)
    assert dialog.ok_button.text() == "Accept 7"
    # The expected number of wrong cells: 1 - p over those set present, p over the absent.
    wrong = (0.2 + 0.15 + 0.1) + (0.05 + 0.1 + 0.15 + 0.2)
    assert f"Expected wrong: about {wrong:,.0f} ({wrong:.1f})" in dialog.summary_label.text()
    assert "not calibrated" in dialog.summary_label.text()  # this run stored raw ones
    epoch = runs.get_run(project, run).best_epoch or runs.get_run(project, run).epochs_done
    runs.record_calibration(
        project, run, epoch, [{"task_id": car, "calibration_slope": 0.7, "ece": 0.02}]
    )
    calibrated = AcceptPredictionsDialog(session, run, task_id=car)
    qtbot.addWidget(calibrated)
    calibrated.set_min_confidence(0.8)
    assert "from the run's calibrated probabilities" in calibrated.summary_label.text()
    before = session.undo_stack.count()
    click(qtbot, dialog.ok_button)
    assert dialog.result() == AcceptPredictionsDialog.DialogCode.Accepted
    rows = image_rows(project, images)
    set_now = {i: rows[i][car] for i in images if rows[i][car] is not None}
    want = {i: int(p >= 0.4) for i, p in unknown.items() if p >= 0.8 or p <= 0.2 + 1e-9}
    assert {i: v for i, v in set_now.items() if i not in (images[0], images[19])} == want
    assert session.undo_stack.count() == before + 1
    assert session.undo_stack.undoText() == "Accept 7 predictions for car"
    assert {e.source for e in history(project, task_id=car)[:7]} == {"prediction"}
    session.undo_stack.undo()
    rows = image_rows(project, images)
    assert [i for i in images if rows[i][car] is not None] == [images[0], images[19]]


def test_bulk_dialog_leaves_cells_labelled_meanwhile(
    qtbot: QtBot, panel_session: ProjectSession
) -> None:
    session, project = panel_session, panel_session.project
    car = task_ids(project)["car"]
    run, _probs, images = bulk_setup(project)
    dialog = AcceptPredictionsDialog(session, run, task_id=car)
    qtbot.addWidget(dialog)
    dialog.set_min_confidence(0.9)  # present: 0.90; absent: 0.05, 0.10
    assert dialog.counts().total == 3
    set_cells(project, [(images[18], car, 0)])  # p = 0.90, labelled absent by someone else
    assert dialog.apply() == 2
    assert image_row(project, images[18])[car] == 0
    assert session.undo_stack.undoText() == "Accept 2 predictions for car"


# -- the browser -----------------------------------------------------------------------


def browser_run(project: Project) -> tuple[int, dict[tuple[int, int], float], dict[int, float]]:
    """Probabilities on a grid for every image × task of the 12-image project; some labels."""
    from core.labels import list_images

    images = list_images(project, order="name")
    tasks = task_ids(project)
    th = {tasks["car"]: 0.5, tasks["person"]: 0.3, tasks["sign"]: 0.7}
    probs = {
        (i, t): round(((n * 7 + k * 5) % 20) / 20 + 0.013 * k, 3)
        for n, i in enumerate(images)
        for k, t in enumerate(tasks.values())
    }
    labels = [
        (i, t, 1 if probs[(i, t)] < 0.5 else 0) for n, (i, t) in enumerate(probs) if n % 3 == 0
    ]
    set_cells(project, labels)
    return insert_run(project, probs, th), probs, th


def choose(combo: QComboBox, text: str) -> None:
    index = combo.findText(text)
    assert index >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentIndex(index)


def test_label_next_order_matches_the_probabilities(
    qtbot: QtBot, browser: ImageBrowser, session: ProjectSession
) -> None:
    project = session.project
    run, probs, th = browser_run(project)
    combo = browser.filter_combo
    assert combo.findText("Label next (ranked by the run)") < 0  # no run yet
    browser.set_run(run)
    assert browser.run_id() == run
    names = [combo.itemText(i) for i in range(combo.count())]
    assert {"Label next (ranked by the run)", "Likely label errors (ranked by the run)"} <= set(
        names
    )
    assert {"Predicted present: car", "Predicted present: person"} <= set(names)

    rows = image_rows(project, list({i for i, _ in probs}))
    margin: dict[int, float] = {}
    for (i, t), p in probs.items():
        if rows[i][t] is None:
            margin[i] = min(margin.get(i, 9.0), abs(p - th[t]))
    expected = sorted(margin, key=lambda i: (margin[i], i))
    choose(combo, "Label next (ranked by the run)")
    assert browser.image_ids() == expected
    assert not browser.sort_combo.isEnabled()
    assert browser.sort_combo.currentText() == "Run's ranking"  # says whose order it is
    assert browser.list_model.note(expected[0]) is not None
    tip = browser.list_model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "Label next (most uncertain)" in tip

    # Labelling keeps the list (nothing moves under the cursor) but marks it stale.
    session.set_cells([(expected[0], t, 1) for t in th])
    assert browser.image_ids() == expected
    assert browser.refresh_button.isVisibleTo(browser)

    car = task_ids(project)["car"]
    choose(combo, "Predicted present: car")
    want = sorted(
        (i for (i, t), p in probs.items() if t == car and p >= 0.5),
        key=lambda i: (-probs[(i, car)], i),
    )
    assert browser.image_ids() == want

    choose(combo, "Likely label errors (ranked by the run)")
    rows = image_rows(project, list({i for i, _ in probs}))
    errors = []
    for (i, t), p in probs.items():
        v = rows[i][t]
        if v is not None and (p >= th[t]) != bool(v):
            conf = p if v == 0 else 1 - p
            if conf >= 0.5:
                errors.append((-conf, i, t))
    assert browser.image_ids() == list(dict.fromkeys(i for _, i, _ in sorted(errors)))

    browser.set_run(None)
    assert combo.findText("Likely label errors (ranked by the run)") < 0
    assert browser.sort_combo.findText("Run's ranking") < 0 and browser.sort_combo.isEnabled()
    assert combo.currentText() == "All" and browser.sort_combo.isEnabled()
    assert len(browser.image_ids()) == 12


def test_prediction_orders_pass_the_model_tester(
    qtmodeltester: Any, session: ProjectSession
) -> None:
    run, _probs, _th = browser_run(session.project)
    model = ImageListModel(session)
    qtmodeltester.check(model, force_py=True)
    model.set_run(run)
    for kind, task in (("label_next", None), ("label_errors", None), ("predicted_present", None)):
        if kind == "predicted_present":
            task = task_ids(session.project)["person"]
        model.set_filter(kind, task)
        assert model.rowCount() > 0
        assert all(isinstance(model.index(r).data(ImageRole.Name), str) for r in range(3))
    model.set_run(None)
    assert model.current_filter().kind == "all"


def test_an_incomplete_run_leaves_the_browser_on_all_images(
    qtbot: QtBot, browser: ImageBrowser, session: ProjectSession
) -> None:
    run, _probs, _th = browser_run(session.project)
    browser.set_run(run)
    from sqlalchemy import update

    from core.db.models import Run

    with session.project.transaction() as s:  # its predictions are being redone
        s.execute(update(Run).where(Run.id == run).values(predictions_complete=False))
    with qtbot.waitSignal(session.error) as blocker:
        choose(browser.filter_combo, "Label next (ranked by the run)")
    assert "incomplete" in str(blocker.args[0])
    assert browser.filter_combo.currentText() == "All"
    assert len(browser.image_ids()) == 12
    QApplication.processEvents()
