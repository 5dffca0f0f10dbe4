"""The image view and the annotate pane: decoding off the GUI thread, prefetch, placeholders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QPoint, QPointF, QSize, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from app.session import ProjectSession
from app.widgets.annotate_pane import AnnotatePane, position_text
from app.widgets.image_view import ImageView
from core.images.importer import check_images
from core.labels import image_row, set_cells
from core.project import Project
from core.tasks import list_tasks
from tests.app.annotate_fixtures import *  # noqa: F403 - pytest fixtures
from tests.app.annotate_fixtures import click, write_images


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[ImageView]:
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return write_images(tmp_path / "files", 4)


def show(qtbot: QtBot, view: ImageView, image_id: int, path: Path | str | None) -> None:
    with qtbot.waitSignal(view.image_shown, timeout=5000) as blocker:
        view.show_image(image_id, None if path is None else str(path), "ok", f"image {image_id}")
    assert blocker.args == [image_id]


def wheel(view: ImageView, at: QPoint, notches: int = 1) -> None:
    event = QWheelEvent(
        QPointF(at),
        QPointF(view.viewport().mapToGlobal(at)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


def test_image_shown_is_emitted_once_the_pixels_are_on_screen(
    qtbot: QtBot, view: ImageView, files: list[Path]
) -> None:
    show(qtbot, view, 2, files[2])
    assert view.message() == ""
    assert view.displayed_size() == QSize(64, 48)
    centre = view.viewport().grab().toImage().pixelColor(view.viewport().rect().center())
    expected = QColor(80, 90, 195)  # write_images colours image 2 so
    assert abs(centre.red() - expected.red()) < 16
    assert abs(centre.blue() - expected.blue()) < 16


def test_the_image_is_fitted_and_the_wheel_zooms_around_the_cursor(
    qtbot: QtBot, view: ImageView, files: list[Path]
) -> None:
    show(qtbot, view, 0, files[0])
    assert view.is_fitted()
    fitted = view.zoom_factor()
    assert fitted == pytest.approx(min(640 / 64, 480 / 48), rel=0.05)

    at = view.viewport().rect().center() + QPoint(90, 60)
    before = view.mapToScene(at)
    wheel(view, at, notches=2)
    assert not view.is_fitted()
    assert view.zoom_factor() == pytest.approx(fitted * 1.0015**240, rel=0.01)
    after = view.mapToScene(at)
    assert abs(after.x() - before.x()) < 0.5 and abs(after.y() - before.y()) < 0.5

    view.resize(800, 600)  # zoomed: a resize keeps the zoom
    assert view.zoom_factor() == pytest.approx(fitted * 1.0015**240, rel=0.01)
    view.fit()
    assert view.is_fitted()
    fitted_large = view.zoom_factor()
    assert fitted_large > fitted
    view.resize(400, 300)  # fitted: a resize fits again
    assert view.zoom_factor() < fitted_large


def test_prefetched_images_show_without_a_new_decode(
    qtbot: QtBot, view: ImageView, files: list[Path]
) -> None:
    show(qtbot, view, 0, files[0])
    assert view.decode_count == 1
    view.prefetch([(1, str(files[1])), (2, str(files[2]))])
    qtbot.waitUntil(lambda: {1, 2} <= set(view.cached_ids()), timeout=5000)
    assert view.decode_count == 3

    for image_id in (1, 2):
        show(qtbot, view, image_id, files[image_id])  # emitted at once, from the cache
    assert view.decode_count == 3
    view.prefetch([(1, str(files[1]))])  # still cached: nothing to decode
    show(qtbot, view, 1, files[1])
    assert view.decode_count == 3


def test_a_result_for_an_image_no_longer_current_is_cached_but_not_shown(
    qtbot: QtBot, view: ImageView, files: list[Path]
) -> None:
    shown: list[int] = []
    view.image_shown.connect(shown.append)
    view.prefetch([(1, str(files[1]))])
    show(qtbot, view, 3, files[3])
    qtbot.waitUntil(lambda: 1 in view.cached_ids(), timeout=5000)
    qtbot.wait(20)
    assert shown == [3]
    assert view.current_image_id() == 3


def test_the_cache_is_a_small_lru(qtbot: QtBot, tmp_path: Path) -> None:
    view = ImageView(cache_size=2)
    qtbot.addWidget(view)
    paths = write_images(tmp_path / "lru", 4)
    for i, path in enumerate(paths):
        with qtbot.waitSignal(view.image_decoded, timeout=5000):
            view.prefetch([(i, str(path))])
    assert view.cached_ids() == [2, 3]
    view.shutdown()


def test_exif_orientation_is_applied(qtbot: QtBot, view: ImageView, tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = PILImage.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90°
    PILImage.new("RGB", (40, 20), (200, 30, 30)).save(path, exif=exif)
    show(qtbot, view, 7, path)
    assert view.displayed_size() == QSize(20, 40)


def test_very_large_images_are_decoded_scaled_down(
    qtbot: QtBot, view: ImageView, tmp_path: Path
) -> None:
    path = tmp_path / "large.jpg"
    PILImage.new("RGB", (3000, 2000), (10, 120, 10)).save(path)
    view.set_max_decode_side(1000)
    show(qtbot, view, 9, path)
    size = view.displayed_size()
    assert max(size.width(), size.height()) <= 1000
    assert size.width() == pytest.approx(1000, abs=1) and size.height() == pytest.approx(667, abs=1)


def test_missing_and_unreadable_files_show_a_placeholder(
    qtbot: QtBot, view: ImageView, tmp_path: Path
) -> None:
    gone = tmp_path / "gone.jpg"
    show(qtbot, view, 1, gone)
    assert view.message() == f"File not found: {gone} — labels are kept"
    assert view.displayed_size().isEmpty()

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")
    show(qtbot, view, 2, broken)
    assert view.message().startswith(f"Cannot read {broken}: ")
    assert view.message().endswith("— labels are kept")

    show(qtbot, view, 3, None)
    assert "No file is recorded" in view.message()
    view.grab()  # paints the placeholder without trouble


def test_the_pane_header_names_the_image_its_size_and_position(
    qtbot: QtBot, annotate_pane: AnnotatePane, annotate_ids: list[int]
) -> None:
    pane = annotate_pane
    assert pane.name_label.text() == "No image"
    with qtbot.waitSignal(pane.view.image_shown, timeout=5000):
        pane.show_image(annotate_ids[1], (412, 5000))
    assert pane.name_label.text() == "img_1.jpg"
    assert pane.size_label.text() == "64 × 48 px"
    assert pane.position_label.text() == "412 / 5,000"
    assert not pane.status_label.isVisible()
    assert position_text(1, 1_234_567) == "1 / 1,234,567"
    pane.show_image(None, (0, 0))
    assert pane.name_label.text() == "No image"
    assert pane.panel.image_ids() == []


def test_a_missing_file_keeps_its_labels_and_the_panel_works(
    qtbot: QtBot,
    annotate_pane: AnnotatePane,
    annotate_project: Project,
    annotate_session: ProjectSession,
    annotate_ids: list[int],
    tmp_path: Path,
) -> None:
    pane, image = annotate_pane, annotate_ids[4]
    car, person = (t.id for t in list_tasks(annotate_project)[:2])
    set_cells(annotate_project, [(image, car, 1)])
    missing = tmp_path / "images" / "img_4.jpg"
    missing.unlink()
    check_images(annotate_project)
    annotate_session.images_changed.emit()

    with qtbot.waitSignal(pane.view.image_shown, timeout=5000):
        pane.show_image(image, (5, 6))
    assert pane.view.message() == f"File not found: {missing.as_posix()} — labels are kept"
    assert pane.status_label.isVisible()
    assert "File not found" in pane.status_label.text()
    present = next(
        b for b in pane.panel.findChildren(QPushButton) if b.accessibleName() == "car: present"
    )
    assert present.isChecked()
    absent = next(
        b for b in pane.panel.findChildren(QPushButton) if b.accessibleName() == "person: absent"
    )
    click(qtbot, absent)
    assert image_row(annotate_project, image)[car] == 1
    assert image_row(annotate_project, image)[person] == 0
    assert absent.isChecked()


def test_the_pane_prefetches_by_id(
    qtbot: QtBot, annotate_pane: AnnotatePane, annotate_ids: list[int]
) -> None:
    pane = annotate_pane
    with qtbot.waitSignal(pane.view.image_shown, timeout=5000):
        pane.show_image(annotate_ids[0], (1, 6))
    pane.prefetch(annotate_ids[1:3])
    qtbot.waitUntil(lambda: set(annotate_ids[1:3]) <= set(pane.view.cached_ids()), timeout=5000)
    decodes = pane.view.decode_count
    with qtbot.waitSignal(pane.view.image_shown, timeout=1000) as blocker:
        pane.show_image(annotate_ids[1], (2, 6))
    assert blocker.args == [annotate_ids[1]]
    assert pane.view.decode_count == decodes


def test_an_image_too_large_to_decode_says_so(
    qtbot: QtBot, view: ImageView, tmp_path: Path
) -> None:
    path = tmp_path / "huge.png"
    PILImage.new("1", (17000, 17000)).save(path)  # small file, 1.1 GB once decoded
    show(qtbot, view, 5, path)
    assert view.message() == (
        f"Cannot read {path}: too large to show (17,000 × 17,000 px) — labels are kept"
    )
