"""The window behaves like a desktop program: it opens on an image, its layout keeps
still, it counts from one source, it fits images, it narrows lists the way a user asks."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.widgets.annotate_pane import EMPTY_PROJECT_HINT
from core.labels import set_cells
from core.project import Project
from core.tasks import list_tasks
from tests.app.test_main_window import current, key, project_folder, window

__all__ = ["project_folder", "window"]


def open_window(qtbot: QtBot, folder: Path) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(str(folder))
    return w


def test_the_window_opens_on_the_first_image_so_number_keys_label_at_once(
    window: MainWindow,
) -> None:
    assert window.view is not None
    first = window.view.browser.image_ids()[0]
    assert current(window) == first
    key(window, Qt.Key.Key_1)
    assert window.session is not None
    task = window.session.tasks()[0].id
    assert window.session.row(first)[task] == 1


def test_an_empty_project_says_how_to_import_images(qtbot: QtBot, tmp_path: Path) -> None:
    Project.create(tmp_path / "empty", tasks=["car"]).close()
    w = open_window(qtbot, tmp_path / "empty")
    assert w.view is not None
    assert w.view.annotate.view.message() == EMPTY_PROJECT_HINT
    assert "Import Images" in EMPTY_PROJECT_HINT


def test_the_status_bar_and_the_image_counter_count_what_the_list_shows(
    window: MainWindow, qtbot: QtBot
) -> None:
    assert window.view is not None and window.session is not None
    browser = window.view.browser
    project = window.session.project
    car = window.session.tasks()[0].id
    ids = browser.image_ids()
    set_cells(project, [(ids[0], car, 1), (ids[3], car, 1)])
    window.refresh()
    browser.select_image(ids[3])
    index = browser.filter_combo.findText("car: present")
    browser.filter_combo.setCurrentIndex(index)
    qtbot.waitUntil(lambda: len(browser.image_ids()) == 2)
    assert browser.count_label.text() == "2 of 6 images"
    assert window.status_counts.text() == "2 of 6 images"
    # The current image stays; its number and the total follow the filtered list.
    assert current(window) == ids[3]
    assert window.view.annotate.position_label.text() == "2 / 2"
    browser.filter_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.status_counts.text() == "6 images")
    assert window.view.annotate.position_label.text() == "4 / 6"


def test_undo_and_redo_keep_the_toolbar_still_and_have_icons_of_their_own(
    window: MainWindow, qtbot: QtBot
) -> None:
    toolbar = window.toolbar
    before = [toolbar.widgetForAction(a).geometry() for a in toolbar.actions() if a.text()]
    key(window, Qt.Key.Key_1)  # "Undo Set car = present on 1 image" in the Edit menu
    assert "car" in window.act_undo.text()
    assert window.toolbar_undo.isEnabled()
    assert window.toolbar_undo.text() == "Undo"
    assert "car" in window.toolbar_undo.toolTip()
    after = [toolbar.widgetForAction(a).geometry() for a in toolbar.actions() if a.text()]
    assert after == before
    undo = window.toolbar_undo.icon().pixmap(20, 20).toImage()
    previous = window.act_prev.icon().pixmap(20, 20).toImage()
    assert not undo.isNull() and undo != previous
    assert undo != window.toolbar_redo.icon().pixmap(20, 20).toImage()
    image = current(window)
    QTest.mouseClick(window.toolbar_undo, Qt.MouseButton.LeftButton)
    assert window.session is not None
    assert window.session.row(image)[window.session.tasks()[0].id] is None
    assert window.toolbar_redo.isEnabled() and not window.toolbar_undo.isEnabled()


def test_the_thumbnail_pane_keeps_its_width_when_its_texts_change(
    window: MainWindow, qtbot: QtBot
) -> None:
    assert window.view is not None
    browser = window.view.browser
    width = browser.width()
    hint = browser.minimumSizeHint().width()
    browser.view.selectAll()
    qtbot.waitUntil(lambda: "selected" in browser.count_label.text())
    browser.filter_combo.setCurrentIndex(browser.filter_combo.findText("stop sign: unknown"))
    QTest.qWait(50)
    assert browser.width() == width
    assert browser.minimumSizeHint().width() == hint


def test_a_large_image_is_shown_whole_after_the_window_resizes(
    qtbot: QtBot, tmp_path: Path
) -> None:
    from PIL import Image as PILImage

    from core.images.importer import import_images

    folder = tmp_path / "big"
    folder.mkdir()
    PILImage.new("RGB", (3000, 1000), (20, 90, 200)).save(folder / "wide.png")
    with Project.create(tmp_path / "proj", tasks=["car"]) as p:
        import_images(p, [folder])
    w = open_window(qtbot, tmp_path / "proj")
    assert w.view is not None
    view = w.view.annotate.view
    qtbot.waitUntil(lambda: not view.displayed_size().isEmpty())
    for size in ((900, 600), (1500, 950), (700, 500)):
        w.resize(*size)
        QTest.qWait(60)
        shown = view.mapFromScene(QRectF(view.sceneRect())).boundingRect()
        area = view.viewport().rect()
        assert area.contains(shown), (size, shown, area)
        assert shown.width() >= area.width() - 6  # fitted: as wide as the view allows
        assert not view.horizontalScrollBar().isVisible()


def test_show_and_a_second_condition_and_a_name_search_combine(
    window: MainWindow, qtbot: QtBot
) -> None:
    assert window.view is not None and window.session is not None
    browser = window.view.browser
    project = window.session.project
    car, sign, _person = (t.id for t in list_tasks(project))
    ids = browser.image_ids()  # img_0 … img_5
    set_cells(project, [(ids[0], car, 1), (ids[1], car, 1), (ids[2], car, 1), (ids[1], sign, 0)])
    window.refresh()
    browser.filter_combo.setCurrentIndex(browser.filter_combo.findText("car: present"))
    qtbot.waitUntil(lambda: browser.image_ids() == ids[:3])
    browser.and_combo.setCurrentIndex(browser.and_combo.findText("stop sign: unknown"))
    qtbot.waitUntil(lambda: browser.image_ids() == [ids[0], ids[2]])
    assert browser.count_label.text() == "2 of 6 images"
    QTest.keyClicks(browser.search_edit, "IMG_2")  # case does not matter
    qtbot.waitUntil(lambda: browser.image_ids() == [ids[2]])
    browser.search_edit.clear()
    browser.and_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: browser.image_ids() == ids[:3])
    # A search alone narrows every image; "%" and "_" are plain characters in it.
    browser.filter_combo.setCurrentIndex(0)
    QTest.keyClicks(browser.search_edit, "g_4")
    qtbot.waitUntil(lambda: browser.image_ids() == [ids[4]])
    browser.search_edit.setText("%")
    qtbot.waitUntil(lambda: browser.image_ids() == [])


def test_typing_a_search_does_not_label_or_move(window: MainWindow, qtbot: QtBot) -> None:
    assert window.view is not None and window.session is not None
    image = current(window)
    window.view.browser.search_edit.setFocus()
    QTest.keyClicks(window.view.browser.search_edit, "1j")
    assert window.view.browser.search_edit.text() == "1j"
    assert current(window) == image
    assert all(v is None for v in window.session.row(image).values())


def test_accept_and_label_next_have_keys_in_the_label_menu_and_the_help() -> None:
    from app.keys import LABEL_KEYS, NAVIGATION_KEYS

    keys = dict(LABEL_KEYS + NAVIGATION_KEYS)
    assert "accept" in keys["P"] and "label next" in keys["N"]


def test_p_accepts_the_predictions_of_the_current_image(window: MainWindow, qtbot: QtBot) -> None:
    from tests.core.test_predictions import insert_run

    assert window.session is not None and window.view is not None
    project = window.session.project
    car, sign, person = (t.id for t in list_tasks(project))
    image = current(window)
    run = insert_run(project, {(image, car): 0.9, (image, sign): 0.1}, {car: 0.5, sign: 0.5})
    window._show_predictions_of(run)
    label_menu = next(
        m for m in window.menuBar().findChildren(type(window.recent_menu)) if m.title() == "&Label"
    )
    assert window.act_accept_image in label_menu.actions()
    assert window.act_label_next in label_menu.actions()
    key(window, Qt.Key.Key_P)
    assert window.session.row(image) == {car: 1, sign: 0, person: None}


def test_thumbnails_carry_a_dot_per_task_the_shown_run_predicts_present(
    window: MainWindow, qtbot: QtBot
) -> None:
    from app.models.image_list import ImageRole
    from tests.core.test_predictions import insert_run

    assert window.session is not None and window.view is not None
    project = window.session.project
    car, sign, person = (t.id for t in list_tasks(project))
    browser = window.view.browser
    ids = browser.image_ids()
    probs = {(ids[0], car): 0.9, (ids[0], sign): 0.2, (ids[0], person): 0.7}
    probs |= {(ids[1], car): 0.1, (ids[1], sign): 0.3, (ids[1], person): 0.2}
    run = insert_run(project, probs, {car: 0.5, sign: 0.5, person: 0.6})
    model = browser.list_model
    assert model.index(0).data(ImageRole.Predicted) == ()  # no run shown yet
    window._show_predictions_of(run)
    colours = {t.id: t.colour for t in window.session.tasks()}
    assert model.index(0).data(ImageRole.Predicted) == (
        (car, colours[car]),
        (person, colours[person]),
    )
    assert model.index(1).data(ImageRole.Predicted) == ()
    tip = str(model.index(0).data(Qt.ItemDataRole.ToolTipRole))
    assert f"run {run} predicts present: car, person" in tip
    # The dots are drawn: the thumbnail's lower-left corner takes the car's colour.
    browser.view.viewport().repaint()
    picture = browser.view.viewport().grab().toImage()
    rect = browser.view.visualRect(model.index(0))
    found = {
        picture.pixelColor(x, y).name()
        for x in range(rect.left(), rect.left() + 40)
        for y in range(rect.top(), rect.bottom())
    }
    assert str(colours[car]).lower() in found


def test_the_annotate_tab_shows_a_running_training_in_the_status_bar(
    window: MainWindow, qtbot: QtBot
) -> None:
    import json
    import sys
    import textwrap

    lines = [
        json.dumps({"event": "started", "run": 7, "device": "cpu", "config": {"epochs": 2}}),
        json.dumps({"event": "features", "run": 7, "done": 100, "total": 400}),
    ]
    script = f"""
        import sys, time
        for line in {lines!r}:
            print(line, flush=True)
        time.sleep(30)
    """
    assert window.training is not None and window.tabs is not None
    trainer = window.training.train.trainer
    trainer.program = [sys.executable, "-c", textwrap.dedent(script)]
    trainer.kill_after_s = 1.0
    window.training.train.train_action.trigger()
    assert window.tabs.currentWidget() is window.view  # the user stays on Annotate
    qtbot.waitUntil(lambda: "features 100/400" in window.status_training.text(), timeout=20_000)
    assert window.status_training.text().startswith("Run 7:")
    assert window.status_training.isVisible()
    with qtbot.waitSignal(trainer.finished, timeout=20_000):
        trainer.cancel()
    assert window.status_training.text() == ""


def test_a_started_run_appears_in_the_runs_list_without_refresh(
    window: MainWindow, qtbot: QtBot
) -> None:
    """The stand-in trainer makes the run row as the real one does, then announces it."""
    import os
    import sys
    import textwrap

    assert window.training is not None and window.session is not None
    root = str(window.session.project.root)
    script = f"""
        import json, sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from core.project import Project
        from core.runs import create_run
        with Project.open({root!r}) as p:
            run = create_run(p, {{"epochs": 1}})
        print(json.dumps({{"event": "started", "run": run, "device": "cpu",
                           "config": {{"epochs": 1}}}}), flush=True)
        time.sleep(30)
    """
    runs = window.training.runs
    before = runs.model.rowCount()
    trainer = window.training.train.trainer
    trainer.program = [sys.executable, "-c", textwrap.dedent(script)]
    trainer.kill_after_s = 1.0
    window.training.train.train_action.trigger()
    qtbot.waitUntil(lambda: runs.model.rowCount() == before + 1, timeout=20_000)
    assert "1 run" in runs.count_label.text()
    with qtbot.waitSignal(trainer.finished, timeout=20_000):
        trainer.cancel()


def test_the_features_phase_shows_an_eta(window: MainWindow, qtbot: QtBot) -> None:
    import json
    import sys
    import textwrap

    started = json.dumps({"event": "started", "run": 4, "device": "cpu", "config": {}})
    first = json.dumps({"event": "features", "run": 4, "done": 0, "total": 300})
    later = json.dumps({"event": "features", "run": 4, "done": 100, "total": 300})
    script = f"""
        import time
        print({started!r}, flush=True); print({first!r}, flush=True)
        time.sleep(1.3)
        print({later!r}, flush=True)
        time.sleep(30)
    """
    assert window.training is not None
    trainer = window.training.train.trainer
    trainer.program = [sys.executable, "-c", textwrap.dedent(script)]
    trainer.kill_after_s = 1.0
    window.training.train.train_action.trigger()
    qtbot.waitUntil(lambda: "100/300" in window.status_training.text(), timeout=20_000)
    assert "ETA" in window.training.train.progress_text()  # about 2.6 s at that pace
    with qtbot.waitSignal(trainer.finished, timeout=20_000):
        trainer.cancel()
