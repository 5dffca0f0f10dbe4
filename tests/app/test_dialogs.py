"""Dialogs and background jobs: new project, image import, label files, preferences, help."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QDialogButtonBox,
    QFileDialog,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.dialogs import import_images as import_dialog
from app.dialogs.import_images import (
    ImageImport,
    ImportSummaryDialog,
    import_images_with_progress,
    summary_line,
)
from app.dialogs.label_files import (
    LabelFileErrorDialog,
    LabelImportOptionsDialog,
    export_label_file,
    guess_format,
    import_label_file,
)
from app.dialogs.new_project import NewProjectDialog, parse_task_lines
from app.dialogs.preferences import ANNOTATOR_SETTING, PreferencesDialog, load_annotator
from app.keys import LABEL_KEYS, NAVIGATION_KEYS
from app.session import ProjectSession
from app.widgets.help_overlay import HelpOverlay, key_tokens
from app.workers import run_in_thread
from core import tasks as core_tasks
from core.errors import UserError
from core.images import importer
from core.images.importer import ImportSummary
from core.labels import counts_per_task, history
from core.project import Project
from tests.app import panel_fixtures
from tests.app.panel_fixtures import DialogAnswerer, image_ids, press_ok, read_and_ok, task_ids

# The shared fixtures, made visible to pytest in this module.
dialog_answers = panel_fixtures.dialog_answers
isolated_settings = panel_fixtures.isolated_settings
panel_project = panel_fixtures.panel_project
panel_session = panel_fixtures.panel_session

# -- background jobs ----------------------------------------------------------------------


def test_job_reports_progress_then_result_in_order(qtbot: QtBot, qapp: Any) -> None:
    def work(n: int, progress: Any, cancel: threading.Event) -> int:
        progress(("started", n))
        return n * 2

    seen: list[object] = []
    job = run_in_thread(work, 21, on_progress=seen.append)
    with qtbot.waitSignals(
        [job.progress, job.succeeded, job.finished], order="strict", timeout=5000
    ):
        pass
    assert seen == [("started", 21)]
    assert job.result == 42 and job.error is None


def test_job_exception_arrives_as_an_error_signal(qtbot: QtBot, qapp: Any) -> None:
    def broken() -> None:
        raise UserError("the folder is gone")

    messages: list[str] = []
    job = run_in_thread(broken, on_error=messages.append)
    with qtbot.waitSignals([job.failed, job.finished], order="strict", timeout=5000):
        pass
    assert messages == ["the folder is gone"] and job.error == "the folder is gone"
    assert isinstance(job.exception, UserError)

    def bug() -> None:
        raise KeyError("x")

    job = run_in_thread(bug)
    with qtbot.waitSignal(job.failed, timeout=5000) as failed:
        pass
    assert failed.args == ["KeyError: 'x'"]


def test_job_cancel_sets_the_event_the_function_checks(qtbot: QtBot, qapp: Any) -> None:
    started = threading.Event()

    def loop(cancel: threading.Event) -> str:
        started.set()
        return "stopped" if cancel.wait(10) else "ran out"

    job = run_in_thread(loop)
    assert started.wait(5)
    with qtbot.waitSignal(job.finished, timeout=5000):
        job.cancel()
    assert job.result == "stopped"


def test_job_progress_is_throttled_but_the_last_value_arrives(qtbot: QtBot, qapp: Any) -> None:
    def chatty(progress: Any) -> None:
        for i in range(10_000):
            progress(i)

    seen: list[int] = []
    job = run_in_thread(chatty, on_progress=seen.append)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    assert 1 <= len(seen) < 1_000
    assert seen[0] == 0 and seen[-1] == 9_999


def type_lines(qtbot: QtBot, edit: QWidget, text: str) -> None:
    """Type multi-line text like a user: Return between the lines."""
    for i, line in enumerate(text.split("\n")):
        if i:
            QTest.keyClick(edit, Qt.Key.Key_Return)
        if line:
            QTest.keyClicks(edit, line)


# -- new project ----------------------------------------------------------------------------


def test_parse_task_lines_names_each_problem_with_its_line() -> None:
    names, problems = parse_task_lines("car\n\n  pedestrian \nCar\nstop\x01sign\n")
    assert names == ["car", "pedestrian"]
    assert problems == [
        "line 4: task 'Car' is already given on line 1",
        "line 5: task name 'stop\\x01sign' contains control characters",
    ]


def test_new_project_dialog_validates_as_the_user_types(
    qtbot: QtBot,
    tmp_path: Path,
    isolated_settings: Path,
) -> None:
    dialog = NewProjectDialog(None, folder=str(tmp_path))
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.ok_button.isEnabled()  # no name yet
    assert "give the project a name" in dialog.message_label.text()

    QTest.keyClicks(dialog.name_edit, "streets")
    assert dialog.ok_button.isEnabled()
    assert str(tmp_path / "streets") in dialog.target_label.text()

    type_lines(qtbot, dialog.tasks_edit, "car\npedestrian\nCAR")
    assert not dialog.ok_button.isEnabled()
    assert "line 3: task &#x27;CAR&#x27; is already given on line 1" in dialog.message_label.text()

    dialog.tasks_edit.setPlainText("car\npedestrian")
    assert dialog.ok_button.isEnabled()
    assert "2 tasks" in dialog.message_label.text()

    dialog.folder_edit.setText(str(tmp_path / "nowhere"))
    assert not dialog.ok_button.isEnabled()
    assert "does not exist" in dialog.message_label.text()

    dialog.folder_edit.setText(str(tmp_path))
    dialog.name_edit.setText("a/b")
    assert not dialog.ok_button.isEnabled()


def test_new_project_refuses_a_folder_that_holds_a_project(
    qtbot: QtBot,
    tmp_path: Path,
    isolated_settings: Path,
) -> None:
    Project.create(tmp_path / "old").close()
    dialog = NewProjectDialog(None, folder=str(tmp_path))
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("old")
    assert not dialog.ok_button.isEnabled()
    assert "already holds an mtlabel project" in dialog.message_label.text()


def test_new_project_browse_fills_the_folder(
    qtbot: QtBot,
    tmp_path: Path,
    isolated_settings: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path))
    )
    dialog = NewProjectDialog(None, folder="/")
    qtbot.addWidget(dialog)
    QTest.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    assert dialog.folder_edit.text() == str(tmp_path)


def test_create_project_helper_creates_it(
    qtbot: QtBot,
    tmp_path: Path,
    isolated_settings: Path,
    dialog_answers: DialogAnswerer,
) -> None:
    def fill(dialog: NewProjectDialog) -> None:
        dialog.folder_edit.setText(str(tmp_path))
        QTest.keyClicks(dialog.name_edit, "streets")
        type_lines(qtbot, dialog.tasks_edit, "car\npedestrian\n\nstop sign")
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    QSettings().setValue("annotator", "Grace")
    dialog_answers.expect(NewProjectDialog, fill)
    project = NewProjectDialog.create_project(None)
    assert project is not None
    with project:
        assert project.annotator == "Grace"
        assert project.root == tmp_path / "streets"
        assert [t.name for t in core_tasks.list_tasks(project)] == [
            "car",
            "pedestrian",
            "stop sign",
        ]
    assert QSettings().value("new_project/folder") == str(tmp_path)


def test_failed_create_leaves_nothing_behind(
    qtbot: QtBot,
    tmp_path: Path,
    isolated_settings: Path,
    dialog_answers: DialogAnswerer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_create = Project.create

    def half_create(root: Any, tasks: Any = (), **kw: Any) -> Project:
        real_create(root).close()  # the folder and database are made, then it fails
        raise UserError("the disk is full")

    monkeypatch.setattr(Project, "create", staticmethod(half_create))
    messages: list[str] = []

    def fill(dialog: NewProjectDialog) -> None:
        dialog.folder_edit.setText(str(tmp_path))
        dialog.name_edit.setText("streets")
        dialog.tasks_edit.setPlainText("car")
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    def read(box: QMessageBox) -> None:
        messages.append(box.text())
        press_ok(box)

    dialog_answers.expect(NewProjectDialog, fill)
    dialog_answers.expect(QMessageBox, read)
    dialog_answers.expect(NewProjectDialog, lambda d: d.reject())  # offered again; give up
    assert NewProjectDialog.create_project(None) is None
    assert messages and "the disk is full" in messages[0]
    assert not (tmp_path / "streets").exists()


# -- image import ---------------------------------------------------------------------------


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Four good images (a JPEG copied once more), a text file named .jpg, a cut JPEG."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(_jpeg((200, 10, 10)))
    (folder / "b.jpg").write_bytes(_jpeg((10, 200, 10)))
    Image.new("RGB", (20, 20), (0, 0, 255)).save(folder / "sub" / "c.png")
    Image.new("L", (16, 12), 128).save(folder / "sub" / "d.png")
    (folder / "sub" / "copy of a.jpg").write_bytes((folder / "a.jpg").read_bytes())
    (folder / "notes.jpg").write_text("this is not an image\n")
    whole = _jpeg((50, 50, 50), (300, 200))
    (folder / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    return folder


def test_import_shows_progress_and_reports_skipped_files(
    qtbot: QtBot,
    panel_session: ProjectSession,
    image_folder: Path,
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    run = ImageImport(parent, panel_session, [str(image_folder)])
    images_changed: list[bool] = []
    panel_session.images_changed.connect(lambda: images_changed.append(True))
    progress: list[Any] = []
    maxima: list[int] = []
    job = run.start()
    job.progress.connect(progress.append)
    job.progress.connect(lambda _p: maxima.append(run.dialog.maximum()))
    with qtbot.waitSignal(run.finished, timeout=20_000) as finished:
        pass

    summary = finished.args[0]
    assert isinstance(summary, ImportSummary)
    assert len(summary.added) == 4
    assert [Path(p).name for p, _ in summary.duplicates] == ["copy of a.jpg"]
    reasons = {Path(p).name: why for p, why in summary.skipped}
    assert set(reasons) == {"notes.jpg", "cut.jpg"}
    assert all(reasons.values())
    assert progress and progress[-1].total == 7
    assert maxima[-1] == 7  # determinate once the total is known
    assert images_changed == [True]
    assert summary_line(summary) == "Added 4 · Duplicates 1 · Skipped 2 · Already imported 0"


def test_import_with_progress_then_summary_dialog(
    qtbot: QtBot,
    panel_session: ProjectSession,
    image_folder: Path,
    dialog_answers: DialogAnswerer,
) -> None:
    seen: dict[str, Any] = {}

    def read_summary(dialog: ImportSummaryDialog) -> None:
        seen["headline"] = dialog.headline.text()
        QTest.mouseClick(dialog.details_button, Qt.MouseButton.LeftButton)
        table = dialog.table
        seen["visible"] = table.isVisible()
        seen["rows"] = [
            tuple(table.item(r, c).text() for c in range(3))  # type: ignore[union-attr]
            for r in range(table.rowCount())
        ]
        dialog.accept()

    dialog_answers.expect(ImportSummaryDialog, read_summary)
    summary = import_images_with_progress(None, panel_session, [str(image_folder)])

    assert summary is not None and len(summary.added) == 4
    assert seen["headline"] == "Added 4 · Duplicates 1 · Skipped 2 · Already imported 0"
    assert seen["visible"]
    rows = {name: (outcome, why) for name, outcome, why in seen["rows"]}
    assert rows["notes.jpg"][0] == "skipped" and rows["notes.jpg"][1]
    assert rows["cut.jpg"][0] == "skipped" and rows["cut.jpg"][1]
    assert rows["copy of a.jpg"][0] == "duplicate" and "a.jpg" in rows["copy of a.jpg"][1]

    # Importing again adds nothing: the files are recognised.
    dialog_answers.expect(ImportSummaryDialog, lambda d: d.accept())
    again = import_images_with_progress(None, panel_session, [str(image_folder)])
    assert again is not None and not again.added and again.unchanged == 4


def test_import_cancel_stops_it_and_keeps_what_was_done(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"{i:02d}.jpg").write_bytes(_jpeg((i * 20, 0, 0)))
    # Files after the first two wait until the test has pressed Cancel.
    release = threading.Event()
    real_examine = importer._examine

    def slow_examine(candidate: Any) -> Any:
        if Path(candidate.path).name >= "02":
            release.wait(10)
        return real_examine(candidate)

    monkeypatch.setattr(importer, "_examine", slow_examine)
    parent = QWidget()
    qtbot.addWidget(parent)
    run = ImageImport(parent, panel_session, [str(folder)])
    job = run.start()
    try:
        with qtbot.waitSignal(job.progress, timeout=10_000):
            pass
        # The window keeps writing labels while the import runs.
        image = image_ids(panel_session.project)[0]
        car = task_ids(panel_session.project)["car"]
        assert panel_session.set_cell(image, car, 1)
        qtbot.waitUntil(run.dialog.isVisible, timeout=5_000)
        cancel = run.dialog.findChild(QPushButton)
        assert cancel is not None
        QTest.mouseClick(cancel, Qt.MouseButton.LeftButton)
        assert job.cancelled
        assert run.dialog.isVisible()  # stays up, saying so, until the import has stopped
        assert "Cancelling" in run.dialog.labelText()
    finally:
        release.set()
    with qtbot.waitSignal(run.finished, timeout=10_000) as finished:
        pass
    summary = finished.args[0]
    assert summary.cancelled
    assert 1 <= len(summary.added) < 12
    assert len(image_ids(panel_session.project)) == 20 + len(summary.added)


def test_import_of_a_missing_folder_says_so(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    dialog_answers: DialogAnswerer,
) -> None:
    messages: list[str] = []

    def read(box: QMessageBox) -> None:
        messages.append(box.text())
        press_ok(box)

    dialog_answers.expect(QMessageBox, read)
    assert import_images_with_progress(None, panel_session, [str(tmp_path / "gone")]) is None
    assert "no such file or folder" in messages[0]


def test_summary_dialog_caps_its_table(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_dialog, "MAX_DETAIL_ROWS", 10)
    summary = ImportSummary(skipped=[(f"/x/{i}.jpg", "not an image") for i in range(25)])
    dialog = ImportSummaryDialog(summary)
    qtbot.addWidget(dialog)
    dialog.show()
    QTest.mouseClick(dialog.details_button, Qt.MouseButton.LeftButton)
    assert dialog.table.rowCount() == 10
    assert "15 more" in dialog.more_label.text()
    QTest.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text().count("\n") == 24


# -- label files ----------------------------------------------------------------------------


def test_guess_format(tmp_path: Path) -> None:
    files = {
        "w.csv": "image,car\n",
        "o.csv": "ImageID,Source,LabelName,Confidence\n",
        "c.csv": "Path,Sex,Age,Edema\n",
        "j.json": "{}",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert [guess_format(tmp_path / n) for n in files] == ["csv", "openimages", "chexpert", "json"]


@pytest.fixture
def answer_open_file(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    chosen: list[str] = []
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (chosen[0], ""))
    )
    yield chosen


def test_label_import_with_errors_lists_lines_and_changes_nothing(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    dialog_answers: DialogAnswerer,
    answer_open_file: list[str],
) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text(
        "image,car,pedestrian\nimg_00000.jpg,1,0\nimg_00001.jpg,yes,0\nimg_00002.jpg,1,2\n"
    )
    answer_open_file.append(str(bad))
    seen: dict[str, Any] = {}

    def options(dialog: LabelImportOptionsDialog) -> None:
        seen["format"] = dialog.format()
        seen["uncertain enabled"] = dialog.uncertain_combo.isEnabled()
        dialog.accept()

    def problems(dialog: LabelFileErrorDialog) -> None:
        seen["problems"] = dialog.problems_view.toPlainText()
        dialog.reject()

    before = counts_per_task(panel_session.project)
    dialog_answers.expect(LabelImportOptionsDialog, options)
    dialog_answers.expect(LabelFileErrorDialog, problems)
    assert import_label_file(None, panel_session) is None

    assert seen["format"] == "csv" and not seen["uncertain enabled"]
    assert "line 3: value 'yes' for task 'car'" in seen["problems"]
    assert "line 4: value '2' for task 'pedestrian'" in seen["problems"]
    assert counts_per_task(panel_session.project) == before


def test_label_file_error_dialog_shows_the_first_50(qtbot: QtBot, qapp: Any) -> None:
    from core.errors import LabelFileError

    error = LabelFileError("big.csv", [f"line {i}: bad" for i in range(2, 82)])
    dialog = LabelFileErrorDialog(error)
    qtbot.addWidget(dialog)
    text = dialog.problems_view.toPlainText()
    assert text.splitlines()[0] == "line 2: bad"
    assert "line 51: bad" in text and "line 52: bad" not in text
    assert "and 30 more" in text


def test_label_import_creates_tasks_and_refreshes(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    dialog_answers: DialogAnswerer,
    answer_open_file: list[str],
) -> None:
    good = tmp_path / "labels.csv"
    good.write_text("image,car,bus\nimg_00000.jpg,1,0\nimg_00001.jpg,0,\nnope.jpg,1,1\n")
    answer_open_file.append(str(good))
    messages: list[str] = []

    def options(dialog: LabelImportOptionsDialog) -> None:
        QTest.mouseClick(dialog.create_tasks_check, Qt.MouseButton.LeftButton)
        assert dialog.create_tasks_check.isChecked()
        buttons = dialog.findChild(QDialogButtonBox)
        assert buttons is not None
        buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    def read(box: QMessageBox) -> None:
        messages.append(box.text())
        press_ok(box)

    signals: list[str] = []
    panel_session.tasks_changed.connect(lambda: signals.append("tasks"))
    panel_session.images_changed.connect(lambda: signals.append("images"))
    dialog_answers.expect(LabelImportOptionsDialog, options)
    dialog_answers.expect(QMessageBox, read)
    summary = import_label_file(None, panel_session)

    assert summary is not None and summary.tasks_created == ["bus"]
    assert signals == ["tasks", "images"]
    ids = task_ids(panel_session.project)
    counts = {c.name: c for c in counts_per_task(panel_session.project)}
    assert (counts["car"].present, counts["car"].absent) == (1, 1)
    assert "bus" in ids and counts["bus"].absent == 1
    assert "New tasks: bus" in messages[0]
    assert "line 4 “nope.jpg”" in messages[0]
    assert "Edit → Undo does not undo a file import" in messages[0]
    assert panel_session.undo_stack.count() == 0


def test_a_slow_import_shows_a_busy_dialog_that_does_not_come_back_over_the_result(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    dialog_answers: DialogAnswerer,
    answer_open_file: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The busy window used to be a QProgressDialog, whose own timer showed it 4 s after
    it was made: over the result message, with no button, blocking OK until Escape."""
    import app.dialogs.label_files as label_files

    good = tmp_path / "labels.csv"
    good.write_text("image,car\nimg_00000.jpg,1\nimg_00001.jpg,0\n")
    answer_open_file.append(str(good))
    from core.formats import import_labels as real

    busy_seen: list[bool] = []

    def slow(
        project: Project,
        path: str,
        fmt: str,
        *,
        create_tasks: bool,
        uncertain: str,
        overwrite_with_unknown: bool,
    ) -> Any:
        time.sleep(0.6)
        return real(
            project,
            path,
            fmt,
            create_tasks=create_tasks,
            uncertain=uncertain,
            overwrite_with_unknown=overwrite_with_unknown,
        )

    monkeypatch.setattr(label_files, "import_labels", slow)
    monkeypatch.setattr(
        label_files.BusyDialog,
        "showEvent",
        lambda self, event: busy_seen.append(True),
    )
    seen: list[str] = []

    def read_late(box: QMessageBox) -> None:
        QTest.qWait(4500)  # past QProgressDialog's 4 s
        busy = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        seen.append(box.text())
        seen.extend(type(w).__name__ for w in busy)
        press_ok(box)

    dialog_answers.expect(LabelImportOptionsDialog, lambda d: d.accept())
    dialog_answers.expect(QMessageBox, read_late)
    assert import_label_file(None, panel_session) is not None
    assert busy_seen  # it showed while the file was read
    assert "Saved: the project now holds 2 known labels." in seen[0]
    assert "BusyDialog" not in seen[1:] and "QProgressDialog" not in seen[1:]


def test_unknown_task_without_create_says_what_to_tick(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    dialog_answers: DialogAnswerer,
    answer_open_file: list[str],
) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("image,bus\nimg_00000.jpg,1\n")
    answer_open_file.append(str(path))
    seen: list[str] = []
    dialog_answers.expect(LabelImportOptionsDialog, lambda d: d.accept())

    def problems(dialog: LabelFileErrorDialog) -> None:
        seen.append(dialog.problems_view.toPlainText())
        dialog.reject()

    dialog_answers.expect(LabelFileErrorDialog, problems)
    assert import_label_file(None, panel_session) is None
    assert "--create-tasks" not in seen[0] and "tick" in seen[0]


def test_chexpert_options_enable_the_uncertain_policy(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Path,Edema\nimg_00000.jpg,-1.0\n")
    dialog = LabelImportOptionsDialog(str(path))
    qtbot.addWidget(dialog)
    assert dialog.format() == "chexpert" and dialog.uncertain_combo.isEnabled()
    dialog.uncertain_combo.setCurrentIndex(1)
    QTest.mouseClick(dialog.clear_check, Qt.MouseButton.LeftButton)
    assert dialog.options() == {
        "create_tasks": False,
        "uncertain": "present",
        "overwrite_with_unknown": True,
    }


def test_export_writes_the_file(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    dialog_answers: DialogAnswerer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = task_ids(panel_session.project)
    images = image_ids(panel_session.project)
    panel_session.set_cells([(images[0], ids["car"], 1), (images[1], ids["stop sign"], 0)])
    target = tmp_path / "out"  # no suffix: the chosen format's is added
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (str(target), "Wide CSV (*.csv)")),
    )
    messages: list[str] = []
    dialog_answers.expect(QMessageBox, read_and_ok(messages))
    summary = export_label_file(None, panel_session)

    assert summary is not None and summary.cells == 2
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "image,car,pedestrian,stop sign"
    assert lines[1] == "img_00000.jpg,1,,"
    assert "Wrote 2 labels of 20 images" in messages[0]
    assert QSettings().value("labels/export_format") == "csv"


def test_export_to_a_missing_folder_says_so(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    dialog_answers: DialogAnswerer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "gone" / "out.json"
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (str(target), "mtlabel JSON (*.json)")),
    )
    messages: list[str] = []
    dialog_answers.expect(QMessageBox, read_and_ok(messages))
    assert export_label_file(None, panel_session) is None
    assert messages[0].startswith("The labels were not exported:")
    assert not target.exists()


# -- preferences ----------------------------------------------------------------------------


def test_preferences_change_the_annotator_of_the_next_label(
    qtbot: QtBot,
    panel_session: ProjectSession,
) -> None:
    assert load_annotator() == "tester"  # $MTLABEL_ANNOTATOR, nothing stored yet
    dialog = PreferencesDialog(panel_session)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.annotator_edit.text() == "tester"

    dialog.annotator_edit.clear()
    assert not dialog.ok_button.isEnabled()
    assert "empty" in dialog.message_label.text()
    QTest.keyClicks(dialog.annotator_edit, "Ada Lovelace")
    QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    assert QSettings().value(ANNOTATOR_SETTING) == "Ada Lovelace"
    assert load_annotator() == "Ada Lovelace"
    assert panel_session.project.annotator == "Ada Lovelace"
    image = image_ids(panel_session.project)[0]
    car = task_ids(panel_session.project)["car"]
    panel_session.set_cell(image, car, 1)
    assert history(panel_session.project, image_id=image)[0].annotator == "Ada Lovelace"


def test_cancelled_preferences_change_nothing(
    qtbot: QtBot,
    panel_session: ProjectSession,
) -> None:
    dialog = PreferencesDialog(panel_session)
    qtbot.addWidget(dialog)
    dialog.annotator_edit.setText("someone else")
    dialog.reject()
    assert QSettings().value(ANNOTATOR_SETTING) is None
    assert panel_session.project.annotator == "tester"


# -- help overlay ---------------------------------------------------------------------------


@pytest.fixture
def covered(qtbot: QtBot) -> Iterator[tuple[QWidget, QLineEdit, HelpOverlay]]:
    parent = QWidget()
    field = QLineEdit(parent)
    qtbot.addWidget(parent)
    parent.resize(1000, 650)
    parent.show()
    qtbot.waitExposed(parent)
    field.setFocus()
    overlay = HelpOverlay(parent)
    yield parent, field, overlay


def test_help_overlay_lists_the_keys(covered: tuple[QWidget, QLineEdit, HelpOverlay]) -> None:
    _, _, overlay = covered
    assert overlay.entries() == LABEL_KEYS + NAVIGATION_KEYS
    description = overlay.accessibleDescription()
    assert all(what in description for _, what in LABEL_KEYS + NAVIGATION_KEYS)


def test_help_overlay_toggles_covers_and_follows_its_parent(
    qtbot: QtBot, covered: tuple[QWidget, QLineEdit, HelpOverlay]
) -> None:
    parent, field, overlay = covered
    assert not overlay.isVisible()
    overlay.toggle()
    assert overlay.isVisible() and overlay.geometry() == parent.rect()
    assert parent.rect().contains(overlay.card_rect())
    parent.resize(700, 500)
    assert overlay.geometry() == parent.rect()
    assert parent.rect().contains(overlay.card_rect())
    overlay.toggle()
    assert not overlay.isVisible()
    qtbot.waitUntil(field.hasFocus)  # focus goes back


@pytest.mark.parametrize(
    "key",
    [Qt.Key.Key_Escape, Qt.Key.Key_F1, Qt.Key.Key_Question],
)
def test_help_overlay_closes_on_keys(
    qtbot: QtBot, covered: tuple[QWidget, QLineEdit, HelpOverlay], key: Qt.Key
) -> None:
    _, _, overlay = covered
    overlay.toggle()
    QTest.keyClick(overlay, key)
    assert not overlay.isVisible()


def test_help_overlay_closes_on_a_click(
    qtbot: QtBot, covered: tuple[QWidget, QLineEdit, HelpOverlay]
) -> None:
    _, _, overlay = covered
    overlay.toggle()
    with qtbot.waitSignal(overlay.visibility_changed) as changed:
        QTest.mouseClick(overlay, Qt.MouseButton.LeftButton)
    assert changed.args == [False] and not overlay.isVisible()


def test_key_tokens_split_keys_from_words() -> None:
    assert key_tokens("Ctrl+Z / Ctrl+Shift+Z") == [
        ("Ctrl+Z", True),
        ("/", False),
        ("Ctrl+Shift+Z", True),
    ]
    assert key_tokens("1 … 9") == [("1", True), ("…", False), ("9", True)]
    assert key_tokens("wheel, drag") == [("wheel, drag", False)]
    assert key_tokens("F1  or  ?") == [("F1", True), ("or", False), ("?", True)]
