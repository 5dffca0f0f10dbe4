"""The assembled window as an annotator uses it: open, keys, bulk, undo, help, drop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QScrollArea
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from core.labels import image_row
from core.project import Project
from core.tasks import list_tasks
from tests.app.browser_fixtures import write_jpeg


@pytest.fixture
def project_folder(tmp_path: Path) -> Path:
    from core.images.importer import import_images

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        write_jpeg(folder / f"img_{i}.jpg", i)
    with Project.create(tmp_path / "proj", tasks=["car", "stop sign", "person"]) as project:
        import_images(project, [folder])
    return tmp_path / "proj"


@pytest.fixture
def window(qtbot: QtBot, project_folder: Path) -> Iterator[MainWindow]:
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    qtbot.waitExposed(w)
    qtbot.waitUntil(w.isActiveWindow)
    assert w.open_project(str(project_folder))
    assert w.view is not None
    qtbot.waitUntil(lambda: w.view is not None and w.view.browser.current_image() is not None)
    yield w
    w.close()


def current(w: MainWindow) -> int:
    assert w.view is not None
    image = w.view.browser.current_image()
    assert image is not None
    return image


def cells(w: MainWindow, image_id: int) -> list[int | None]:
    assert w.session is not None
    return list(image_row(w.session.project, image_id).values())


def key(
    w: MainWindow, k: Qt.Key, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    assert w.view is not None
    QTest.keyClick(w.view.browser.view, k, mods)


def test_digit_keys_cycle_and_shift_ctrl_set(window: MainWindow) -> None:
    image = current(window)
    key(window, Qt.Key.Key_1)
    assert cells(window, image) == [1, None, None]
    key(window, Qt.Key.Key_1)
    assert cells(window, image) == [0, None, None]
    key(window, Qt.Key.Key_1)
    assert cells(window, image) == [None, None, None]
    key(window, Qt.Key.Key_2, Qt.KeyboardModifier.ShiftModifier)
    assert cells(window, image) == [None, 0, None]
    key(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert cells(window, image) == [None, None, None]
    key(window, Qt.Key.Key_9)  # no ninth task: nothing happens, nothing breaks
    assert cells(window, image) == [None, None, None]


def test_navigation_all_absent_copy_and_undo(window: MainWindow, qtbot: QtBot) -> None:
    first = current(window)
    key(window, Qt.Key.Key_1)
    key(window, Qt.Key.Key_A)
    assert cells(window, first) == [1, 0, 0]
    key(window, Qt.Key.Key_J)
    second = current(window)
    assert second != first
    assert window.view is not None and window.view.browser.position()[0] == 2
    key(window, Qt.Key.Key_C)
    assert cells(window, second) == [1, 0, 0]
    assert window.session is not None
    assert window.session.undo_stack.undoText().startswith("Copy labels from")
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert cells(window, second) == [None, None, None]
    QTest.keyClick(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert cells(window, second) == [1, 0, 0]
    key(window, Qt.Key.Key_K)
    assert current(window) == first
    key(window, Qt.Key.Key_U)
    assert current(window) not in (first,)


def test_bulk_selection_sets_all_selected_in_one_undo_step(window: MainWindow) -> None:
    assert window.view is not None and window.session is not None
    browser = window.view.browser
    view = browser.view
    model = view.model()
    first_rect = view.visualRect(model.index(0, 0))
    third_rect = view.visualRect(model.index(2, 0))
    QTest.mouseClick(
        view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        first_rect.center(),
    )
    QTest.mouseClick(
        view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
        third_rect.center(),
    )
    selected = browser.selected_images()
    assert len(selected) == 3
    key(window, Qt.Key.Key_2, Qt.KeyboardModifier.ShiftModifier)
    assert all(cells(window, i)[1] == 0 for i in selected)
    assert window.session.undo_stack.undoText() == "Set stop sign = absent on 3 images"
    window.session.undo_stack.undo()
    assert all(cells(window, i)[1] is None for i in selected)


def test_keys_do_nothing_while_typing_in_a_text_field(window: MainWindow, qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QLineEdit

    field = QLineEdit(window)
    field.show()
    field.setFocus()
    image = current(window)
    QTest.keyClick(field, Qt.Key.Key_1)
    assert field.text() == "1"
    assert cells(window, image) == [None, None, None]


def test_help_overlay_toggles(window: MainWindow, qtbot: QtBot) -> None:
    key(window, Qt.Key.Key_F1)
    assert window.help is not None
    qtbot.waitUntil(lambda: window.help is not None and window.help.isVisible())
    QTest.keyClick(window.help, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.help is not None and not window.help.isVisible())


def test_a_second_window_sees_the_first_windows_labels_on_refresh(
    window: MainWindow, project_folder: Path, qtbot: QtBot
) -> None:
    other = MainWindow()
    qtbot.addWidget(other)
    assert other.open_project(str(project_folder))
    image = current(window)
    key(window, Qt.Key.Key_1)
    assert other.view is not None and other.session is not None
    other.act_refresh.trigger()
    other.view.browser.select_image(image)
    other.view.annotate.panel.set_images([image])
    task = list_tasks(other.session.project)[0]
    row = next(r for r in other.view.annotate.panel.rows() if r.task.id == task.id)
    assert row.buttons[1].isChecked()
    other.close()


def test_dropping_a_project_folder_opens_it(qtbot: QtBot, project_folder: Path) -> None:
    w = MainWindow()
    qtbot.addWidget(w)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(project_folder))])
    event = QDropEvent(
        QPointF(QPoint(10, 10)),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    w.dropEvent(event)
    assert w.session is not None and w.session.project.root == project_folder
    w.close()


def test_a_folder_that_is_no_project_gives_a_message_and_the_welcome_page_stays(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    w = MainWindow()
    qtbot.addWidget(w)
    assert not w.open_project(str(tmp_path))
    assert shown and "not an mtlabel project" in shown[0]
    assert w.stack.currentWidget() is w.welcome
    w.close()


def test_train_from_the_window_then_see_predictions_beside_the_labels(
    qtbot: QtBot, demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop of the program: open, click Train, and the finished run's predictions
    appear in the label panel and the browser's prediction orders."""
    import shutil

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder, ignore=shutil.ignore_patterns("cache"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(str(folder))
    assert w.training is not None and w.view is not None and w.tabs is not None
    w.act_train_tab.trigger()
    assert w.tabs.currentWidget() is w.training
    panel = w.training.train
    panel.set_settings(
        {
            "epochs": 1,
            "image_size": 32,
            "width": 8,
            "batch_size": 16,
            "device": "cpu",
            "backbone": "compact",
        }
    )
    with qtbot.waitSignal(panel.run_finished, timeout=180_000) as finished:
        QTest.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    run_id, status = finished.args
    assert status == "done"
    assert w.predictions_run == run_id
    assert w.view.annotate.panel.run_id() == run_id
    assert w.training.runs.selected_run_ids() == [run_id]
    w.close()


def test_on_a_1440_pixel_window_the_train_tab_shows_its_charts_and_table_whole(
    window: MainWindow, qtbot: QtBot
) -> None:
    """Before, the Train panel got 620 of 1440 pixels: the AP chart and the metrics
    table's last columns were cut off behind a horizontal scroll bar."""
    window.resize(1440, 900)
    assert window.training is not None and window.tabs is not None
    window.act_train_tab.trigger()
    view = window.training
    areas: list[QScrollArea] = []
    for panel in (view.train, view.runs):
        viewport = panel.parentWidget()  # each panel sits in a scroll area's viewport
        area = viewport.parentWidget() if viewport is not None else None
        assert isinstance(area, QScrollArea)
        areas.append(area)
    qtbot.waitUntil(lambda: view.width() > 1200)
    qtbot.waitUntil(lambda: not any(a.horizontalScrollBar().isVisible() for a in areas))
    for panel in (view.train, view.runs):
        assert panel.width() >= panel.minimumSizeHint().width(), type(panel).__name__
    train_area = areas[0]
    for widget in (view.train.ap_chart, view.train.metrics_table):
        right = widget.mapTo(train_area.viewport(), QPoint(widget.width(), 0)).x()
        assert right <= train_area.viewport().width(), type(widget).__name__
