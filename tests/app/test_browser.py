"""The image browser: its list model, thumbnail loader and widget, driven like a user would."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QEvent, QModelIndex, QObject, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox
from pytestqt.qtbot import QtBot
from sqlalchemy import event

import app.thumbnails as thumbnails_module
import core.labels as core_labels
from app.models.image_list import (
    ALL_KNOWN,
    NONE_KNOWN,
    SOME_KNOWN,
    ImageListModel,
    ImageRole,
)
from app.session import LabelsChanged, ProjectSession
from app.thumbnails import MISSING, UNREADABLE, ThumbnailLoader, decode_thumbnail
from app.widgets.browser import ImageBrowser
from core.images.importer import import_images
from core.labels import list_images
from core.project import Project
from core.tasks import archive_task
from tests.app.browser_fixtures import *  # noqa: F403 - pytest fixtures
from tests.app.browser_fixtures import TASKS, write_jpeg

# -- helpers -------------------------------------------------------------------------


def task_ids(session: ProjectSession) -> dict[str, int]:
    return {t.name: t.id for t in session.tasks()}


def choose(qtbot: QtBot, combo: QComboBox, text: str) -> None:
    """Pick an entry of a combo box with the keyboard, as a user can."""
    index = combo.findText(text)
    assert index >= 0, f"{text!r} not in {[combo.itemText(i) for i in range(combo.count())]}"
    combo.setFocus()
    # Home, then Down as often as needed: real key presses through the combo box.
    QTest.keyClick(combo, Qt.Key.Key_Home)
    while combo.currentIndex() < index:
        before = combo.currentIndex()
        QTest.keyClick(combo, Qt.Key.Key_Down)
        assert combo.currentIndex() != before
    assert combo.currentText() == text


def click_row(
    qtbot: QtBot,
    browser: ImageBrowser,
    row: int,
    modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    index = browser.list_model.index(row)
    browser.view.scrollTo(index)
    centre = browser.view.visualRect(index).center()
    QTest.mouseClick(browser.view.viewport(), Qt.MouseButton.LeftButton, modifier, centre)


def ids_of_rows(browser: ImageBrowser, rows: list[int]) -> list[int]:
    return [browser.list_model.image_ids()[r] for r in rows]


class QueryCounter:
    """Counts SQL statements sent on an engine (and the ones that read image details)."""

    def __init__(self, project: Project) -> None:
        self.statements: list[str] = []
        self._engine = project.engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.statements.append(str(args[2]))

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)

    def detail_queries(self) -> list[str]:
        return [s for s in self.statements if "image.path" in s]


class PaintWatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.painted_at: float | None = None

    def eventFilter(self, watched: QObject, e: QEvent) -> bool:
        if e.type() == QEvent.Type.Paint and self.painted_at is None:
            self.painted_at = time.perf_counter()
        return False


# -- the model -----------------------------------------------------------------------


def test_model_passes_qtmodeltester(qtmodeltester: Any, session: ProjectSession) -> None:
    loader = ThumbnailLoader()
    model = ImageListModel(session, loader)
    # The tester checks the model now and then every change it signals from here on.
    qtmodeltester.check(model, force_py=True)
    ids = task_ids(session)
    session.set_cells([(model.image_ids()[0], ids["car"], 1)])
    model.set_filter("task_present", ids["car"])
    assert model.rowCount() == 1
    model.set_filter("all")
    model.set_sort("imported")
    for row in range(model.rowCount()):
        model.index(row).data(ImageRole.Thumbnail)
    qtbot_wait_until(lambda: loader.in_flight() == 0)
    session.set_cells([(i, ids["person"], 0) for i in model.image_ids()[3:6]])
    session.images_changed.emit()
    session.tasks_changed.emit()
    assert model.rowCount() == 12
    assert loader.shutdown()


def qtbot_wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.005)


def test_filters_match_the_label_store(session: ProjectSession) -> None:
    model = ImageListModel(session)
    project = session.project
    images = model.image_ids()
    car, person, sign = (task_ids(session)[name] for name in TASKS)
    # image 0: all three known; 1: car present only; 2: car absent, person present; rest: none
    session.set_cells(
        [
            (images[0], car, 1),
            (images[0], person, 0),
            (images[0], sign, 0),
            (images[1], car, 1),
            (images[2], car, 0),
            (images[2], person, 1),
        ]
    )
    expected: dict[tuple[str, int | None], dict[str, Any]] = {
        ("all", None): {},
        ("has_unknown", None): {"has_unknown": True},
        ("fully_labelled", None): {"fully_labelled": True},
        ("task_present", car): {"task_id": car, "state": "present"},
        ("task_absent", car): {"task_id": car, "state": "absent"},
        ("task_unknown", car): {"task_id": car, "state": "unknown"},
        ("task_present", person): {"task_id": person, "state": "present"},
        ("task_unknown", sign): {"task_id": sign, "state": "unknown"},
    }
    for (kind, task_id), query in expected.items():
        for order in ("name", "imported"):
            model.set_sort(order)
            model.set_filter(kind, task_id)
            core_order: Literal["name", "imported"] = "name" if order == "name" else "imported"
            assert model.image_ids() == list_images(project, order=core_order, **query), kind
    model.set_filter("fully_labelled")
    assert model.image_ids() == [images[0]]
    model.set_filter("task_present", car)
    assert model.image_ids() == [images[0], images[1]]
    model.set_filter("task_absent", car)
    assert model.image_ids() == [images[2]]
    model.set_filter("has_unknown")
    assert model.image_ids() == images[1:]
    with pytest.raises(ValueError):
        model.set_filter("task_present")
    with pytest.raises(ValueError):
        model.set_filter("nonsense")


def test_label_state_role_follows_label_changes(qtbot: QtBot, session: ProjectSession) -> None:
    model = ImageListModel(session)
    index = model.index(3)
    image_id = index.data(ImageRole.ImageId)
    car, person, sign = (task_ids(session)[name] for name in TASKS)
    assert index.data(ImageRole.LabelState) == NONE_KNOWN

    def covers_row(top: QModelIndex, bottom: QModelIndex, roles: list[int]) -> bool:
        return top.row() <= 3 <= bottom.row() and int(ImageRole.LabelState) in roles

    with qtbot.waitSignal(model.dataChanged, check_params_cb=covers_row):
        session.set_cells([(image_id, car, 1)])
    assert index.data(ImageRole.LabelState) == SOME_KNOWN
    with qtbot.waitSignal(model.dataChanged, check_params_cb=covers_row):
        session.set_cells([(image_id, person, 0), (image_id, sign, 0)])
    assert index.data(ImageRole.LabelState) == ALL_KNOWN
    with qtbot.waitSignal(model.dataChanged, check_params_cb=covers_row):
        session.undo_stack.undo()
    assert index.data(ImageRole.LabelState) == SOME_KNOWN
    # Another image's state was not touched.
    assert model.index(4).data(ImageRole.LabelState) == NONE_KNOWN


def test_rows_stay_after_a_label_change_until_refreshed(
    qtbot: QtBot, browser: ImageBrowser
) -> None:
    session = browser.session
    car = task_ids(session)["car"]
    choose(qtbot, browser.filter_combo, "car: unknown")
    assert browser.list_model.rowCount() == 12
    first = browser.list_model.image_ids()[0]
    click_row(qtbot, browser, 0)
    assert browser.current_image() == first
    assert not browser.refresh_button.isVisible()

    session.set_cells([(first, car, 1)])
    # The labelled image does not vanish from under the cursor ...
    assert browser.list_model.image_ids()[0] == first
    assert browser.current_image() == first
    assert browser.position() == (1, 12)
    assert browser.refresh_button.isVisible()
    # ... until the user asks for the filter again.
    with qtbot.waitSignal(browser.current_image_changed) as blocker:
        QTest.mouseClick(browser.refresh_button, Qt.MouseButton.LeftButton)
    assert first not in browser.list_model.image_ids()
    assert browser.list_model.rowCount() == 11
    assert not browser.refresh_button.isVisible()
    # The current image left the list: the first listed one is current now.
    assert blocker.args == [browser.list_model.image_ids()[0]]
    assert browser.count_label.text() == "11 of 12 images"


def test_sort_by_name_or_import_time(qtbot: QtBot, tmp_path: Path) -> None:
    with Project.create(tmp_path / "proj", tasks=["car"]) as project:
        later = tmp_path / "later"
        earlier = tmp_path / "earlier"
        for i, name in enumerate(["b.jpg", "d.jpg"]):
            write_jpeg(earlier / name, i)
        import_images(project, [earlier])
        for i, name in enumerate(["a.jpg", "c.jpg"]):
            write_jpeg(later / name, 10 + i)
        import_images(project, [later])
        browser = ImageBrowser(ProjectSession(project))
        qtbot.addWidget(browser)
        browser.show()

        def names() -> list[str]:
            model = browser.list_model
            return [model.index(r).data(ImageRole.Name) for r in range(model.rowCount())]

        assert names() == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
        choose(qtbot, browser.sort_combo, "Import time")
        assert names() == ["b.jpg", "d.jpg", "a.jpg", "c.jpg"]
        choose(qtbot, browser.sort_combo, "Name")
        assert names() == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
        assert browser.thumbnails.shutdown()


def test_filter_menu_lists_the_active_tasks(qtbot: QtBot, browser: ImageBrowser) -> None:
    combo = browser.filter_combo
    texts = [combo.itemText(i) for i in range(combo.count()) if combo.itemText(i)]
    assert texts[:3] == ["All", "Has unknown", "Fully labelled"]
    assert texts[3:6] == ["car: present", "car: absent", "car: unknown"]
    assert len(texts) == 3 + 3 * len(TASKS)
    assert browser.count_label.text() == "12 images"


def test_archiving_the_filtered_task_falls_back_to_all(qtbot: QtBot, browser: ImageBrowser) -> None:
    session = browser.session
    ids = browser.list_model.image_ids()
    car, person, sign = (task_ids(session)[name] for name in TASKS)
    session.set_cells([(ids[0], person, 1), (ids[0], sign, 1)])
    choose(qtbot, browser.filter_combo, "car: present")
    assert browser.list_model.rowCount() == 0
    archive_task(session.project, car)
    session.tasks_changed.emit()
    assert browser.filter_combo.currentText() == "All"
    assert browser.list_model.rowCount() == 12
    assert browser.filter_combo.findText("car: present") == -1
    # The labelling state is now over person and sign only: image 0 has both known.
    assert browser.list_model.index(0).data(ImageRole.LabelState) == ALL_KNOWN


# -- clicking and selecting ----------------------------------------------------------


def test_clicking_a_thumbnail_makes_it_current(qtbot: QtBot, browser: ImageBrowser) -> None:
    expected = ids_of_rows(browser, [5])[0]
    with qtbot.waitSignal(browser.current_image_changed) as blocker:
        click_row(qtbot, browser, 5)
    assert blocker.args == [expected]
    assert browser.current_image() == expected
    assert browser.selected_images() == [expected]
    assert browser.position() == (6, 12)


def test_shift_and_ctrl_click_select_several(qtbot: QtBot, browser: ImageBrowser) -> None:
    click_row(qtbot, browser, 1)
    with qtbot.waitSignal(browser.selection_changed) as blocker:
        click_row(qtbot, browser, 4, Qt.KeyboardModifier.ShiftModifier)
    assert blocker.args == [ids_of_rows(browser, [1, 2, 3, 4])]
    with qtbot.waitSignal(browser.selection_changed) as blocker:
        click_row(qtbot, browser, 9, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [ids_of_rows(browser, [1, 2, 3, 4, 9])]
    with qtbot.waitSignal(browser.selection_changed) as blocker:
        click_row(qtbot, browser, 2, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [ids_of_rows(browser, [1, 3, 4, 9])]
    assert browser.selected_images() == ids_of_rows(browser, [1, 3, 4, 9])
    assert browser.count_label.text() == "12 images  ·  4 selected"
    # A plain click makes the selection single again.
    with qtbot.waitSignal(browser.selection_changed) as blocker:
        click_row(qtbot, browser, 7)
    assert blocker.args == [ids_of_rows(browser, [7])]


def test_rubber_band_selects_what_it_covers(qtbot: QtBot, browser: ImageBrowser) -> None:
    view, model = browser.view, browser.list_model
    first = view.visualRect(model.index(0))
    third = view.visualRect(model.index(2))
    viewport = view.viewport()
    start = QPointF(first.center())
    end = QPointF(third.center())

    def send(kind: QEvent.Type, pos: QPointF, buttons: Qt.MouseButton) -> None:
        button = (
            Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
        )
        global_pos = QPointF(viewport.mapToGlobal(pos.toPoint()))
        e = QMouseEvent(kind, pos, global_pos, button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, e)

    with qtbot.waitSignal(browser.selection_changed) as blocker:
        send(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
        for step in range(1, 6):
            send(QEvent.Type.MouseMove, start + (end - start) * step / 5, Qt.MouseButton.LeftButton)
        send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)
    assert browser.selected_images() == ids_of_rows(browser, [0, 1, 2])
    assert blocker.args is not None


def test_step_next_unknown_select_and_position(qtbot: QtBot, browser: ImageBrowser) -> None:
    session = browser.session
    ids = browser.list_model.image_ids()
    assert browser.current_image() is None
    assert browser.position() == (0, 12)
    with qtbot.waitSignal(browser.current_image_changed) as blocker:
        browser.step(1)
    assert blocker.args == [ids[0]]
    browser.step(3)
    assert browser.position() == (4, 12)
    browser.step(-10)
    assert browser.position() == (1, 12)
    browser.step(100)
    assert browser.position() == (12, 12)
    assert browser.selected_images() == [ids[11]]

    # Label every task of images 0-4 and 8-11: the unknown ones are 5, 6, 7.
    known = [i for r, i in enumerate(ids) if not 5 <= r <= 7]
    session.set_cells([(i, t.id, 0) for i in known for t in session.tasks()])
    browser.select_image(ids[2])
    assert browser.current_image() == ids[2]
    assert browser.next_unknown()
    assert browser.current_image() == ids[5]
    assert browser.next_unknown()
    assert browser.current_image() == ids[6]
    browser.select_image(ids[9])
    assert browser.next_unknown()  # wraps around
    assert browser.current_image() == ids[5]
    session.set_cells([(i, t.id, 1) for i in ids[5:8] for t in session.tasks()])
    assert not browser.next_unknown()
    assert browser.current_image() == ids[5]


def test_select_image_leaves_a_filter_that_hides_it(qtbot: QtBot, browser: ImageBrowser) -> None:
    ids = browser.list_model.image_ids()
    car = task_ids(browser.session)["car"]
    browser.session.set_cells([(ids[0], car, 1)])
    choose(qtbot, browser.filter_combo, "car: present")
    assert browser.list_model.image_ids() == [ids[0]]
    with qtbot.waitSignal(browser.current_image_changed) as blocker:
        browser.select_image(ids[7])
    assert blocker.args == [ids[7]]
    assert browser.filter_combo.currentText() == "All"
    assert browser.position() == (8, 12)


def test_images_changed_reloads_and_keeps_the_current_image(
    qtbot: QtBot, browser: ImageBrowser, tmp_path: Path
) -> None:
    ids = browser.list_model.image_ids()
    browser.select_image(ids[3])
    folder = tmp_path / "more"
    write_jpeg(folder / "aaa_first.jpg", 99)
    import_images(browser.session.project, [folder])
    with qtbot.assertNotEmitted(browser.current_image_changed):
        browser.session.images_changed.emit()
    assert browser.list_model.rowCount() == 13
    assert browser.current_image() == ids[3]
    assert browser.position() == (5, 13)
    assert browser.count_label.text() == "13 images"


# -- thumbnails ----------------------------------------------------------------------


def test_thumbnails_arrive_and_a_missing_file_gets_a_placeholder(
    qtbot: QtBot, session: ProjectSession
) -> None:
    loader = ThumbnailLoader()
    model = ImageListModel(session, loader)
    missing_row, broken_row = 2, 5
    os.remove(model.index(missing_row).data(ImageRole.Path))
    Path(model.index(broken_row).data(ImageRole.Path)).write_bytes(b"not an image")

    assert model.index(0).data(ImageRole.Thumbnail) is None  # asks for it
    with qtbot.waitSignal(loader.thumbnail_ready) as blocker:
        pass
    assert blocker.args == [model.index(0).data(ImageRole.ImageId)]
    for row in range(model.rowCount()):
        model.index(row).data(ImageRole.Thumbnail)
    qtbot.waitUntil(
        lambda: all(
            model.index(r).data(ImageRole.Thumbnail) is not None for r in range(model.rowCount())
        )
    )
    pixmap = model.index(0).data(ImageRole.Thumbnail)
    assert isinstance(pixmap, QPixmap)
    assert (pixmap.width(), pixmap.height()) == (128, 96)  # 160 × 120 scaled to fit 128
    assert model.index(0).data(ImageRole.Problem) is None
    missing = model.index(missing_row)
    assert missing.data(ImageRole.Thumbnail).cacheKey() == loader.placeholder(MISSING).cacheKey()
    assert missing.data(ImageRole.Problem) == MISSING
    assert "missing" in missing.data(Qt.ItemDataRole.ToolTipRole)
    broken = model.index(broken_row)
    assert broken.data(ImageRole.Thumbnail).cacheKey() == loader.placeholder(UNREADABLE).cacheKey()
    assert broken.data(ImageRole.Problem) == UNREADABLE
    assert loader.shutdown()


def test_the_browser_paints_thumbnails_and_placeholders(
    qtbot: QtBot, session: ProjectSession
) -> None:
    probe = ImageListModel(session)
    os.remove(probe.index(0).data(ImageRole.Path))
    browser = ImageBrowser(session)
    qtbot.addWidget(browser)
    browser.resize(900, 640)
    with qtbot.waitSignal(browser.thumbnails.thumbnail_ready):
        browser.show()
    model = browser.list_model
    qtbot.waitUntil(lambda: browser.thumbnails.in_flight() == 0)
    assert model.index(0).data(ImageRole.Problem) == MISSING
    image = browser.view.viewport().grab().toImage()
    assert not image.isNull()
    assert browser.thumbnails.shutdown()


def test_decode_applies_exif_orientation_and_scales(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    picture = PILImage.new("RGB", (400, 200), (200, 30, 30))
    exif = picture.getexif()
    exif[0x0112] = 6  # stored landscape, shown rotated by 90°: portrait
    picture.save(path, "JPEG", exif=exif)
    image, reason = decode_thumbnail(str(path), 128)
    assert reason == ""
    assert (image.width(), image.height()) == (64, 128)
    image, reason = decode_thumbnail(str(tmp_path / "gone.jpg"), 128)
    assert image.isNull() and reason == MISSING


def test_loader_deduplicates_and_drops_requests_scrolled_away(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [str(write_jpeg(tmp_path / f"{i}.jpg", i)) for i in range(6)]
    decoded: list[str] = []
    gate = threading.Event()
    real_decode = thumbnails_module.decode_thumbnail

    def gated(path: str, edge: int) -> Any:
        decoded.append(path)
        gate.wait(5)  # the only worker is busy until the test opens the gate
        return real_decode(path, edge)

    monkeypatch.setattr(thumbnails_module, "decode_thumbnail", gated)
    loader = ThumbnailLoader(max_threads=1)
    for i, path in enumerate(paths):
        loader.request(i, path)
        loader.request(i, path)  # asked twice: decoded once
    qtbot.waitUntil(lambda: len(decoded) == 1)
    loader.clear_pending()  # scrolled away: what no worker has started is dropped
    loader.request(5, paths[5])  # the row now visible is asked for again
    gate.set()
    qtbot.waitUntil(lambda: loader.in_flight() == 0)
    started_first = paths.index(decoded[0])
    assert loader.pixmap(5) is not None
    assert loader.pixmap(started_first) is not None
    assert len(decoded) == len(set(decoded)) == len({started_first, 5})
    dropped = set(range(6)) - {started_first, 5}
    assert all(loader.pixmap(i) is None for i in dropped)
    assert loader.shutdown()


# -- 100,000 images ------------------------------------------------------------------


def test_a_100k_image_project_opens_reading_only_ids(
    qtbot: QtBot, big_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real_decode = thumbnails_module.decode_thumbnail

    def counting_decode(path: str, edge: int) -> Any:
        decoded.append(path)
        return real_decode(path, edge)

    monkeypatch.setattr(thumbnails_module, "decode_thumbnail", counting_decode)
    image_rows_calls: list[object] = []
    real_image_rows: Callable[..., Any] = core_labels.image_rows

    def counting_image_rows(*args: Any, **kwargs: Any) -> Any:
        image_rows_calls.append(args)
        return real_image_rows(*args, **kwargs)

    monkeypatch.setattr(core_labels, "image_rows", counting_image_rows)
    session = ProjectSession(big_project)
    session.tasks()
    counter = QueryCounter(big_project)
    try:
        started = time.perf_counter()
        model = ImageListModel(session)
        opened = time.perf_counter() - started
        assert model.rowCount() == 100_000
        assert counter.detail_queries() == []  # ids only
        print(f"\n100,000-row model opened in {opened * 1000:.0f} ms")
        assert opened < 0.8

        browser = ImageBrowser(session)
        qtbot.addWidget(browser)
        browser.resize(1000, 700)
        watcher = PaintWatcher()
        browser.view.viewport().installEventFilter(watcher)
        started = time.perf_counter()
        browser.show()
        qtbot.waitUntil(lambda: watcher.painted_at is not None)
        assert watcher.painted_at is not None
        print(f"shown to first paint in {(watcher.painted_at - started) * 1000:.0f} ms")
        qtbot.waitUntil(lambda: browser.thumbnails.in_flight() == 0)

        visible = 0
        viewport = browser.view.viewport().rect()
        for row in range(200):
            if browser.view.visualRect(browser.list_model.index(row)).intersects(viewport):
                visible += 1
        assert visible > 0
        # Only the painted rows' files were opened, and only their block's details read.
        assert 0 < len(decoded) <= visible
        assert len(counter.detail_queries()) <= 2
        assert image_rows_calls == []
        assert browser.list_model.index(0).data(ImageRole.LabelState) == NONE_KNOWN
        assert browser.count_label.text() == "100,000 images"
        assert browser.thumbnails.shutdown()
    finally:
        counter.close()


def test_next_unknown_scans_a_big_list_in_chunks(big_project: Project) -> None:
    session = ProjectSession(big_project)
    model = ImageListModel(session)
    ids = model.image_ids()
    tasks = [t.id for t in session.tasks()]
    # Everything known in the first 3,000 rows but row 2,500.
    core_labels.set_cells(
        big_project, [(i, t, 0) for i in ids[:3000] if i != ids[2500] for t in tasks]
    )
    # Written behind the session's back (as another window would), then announced.
    session.labels_changed.emit(LabelsChanged(frozenset(ids[:3000]), frozenset(tasks)))
    counter = QueryCounter(big_project)
    try:
        assert model.next_row_with_unknown(0) == 2500
        selects = [s for s in counter.statements if s.startswith("SELECT")]
        assert len(selects) <= 3000 // 500 + 1
        assert model.index(2500).data(ImageRole.LabelState) == NONE_KNOWN
        assert model.index(10).data(ImageRole.LabelState) == ALL_KNOWN
    finally:
        counter.close()
