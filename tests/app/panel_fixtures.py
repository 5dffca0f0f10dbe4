"""Fixtures for the tasks panel and dialog tests: a project with a session, settings in a
temporary folder, and an answerer for modal dialogs.

Modal dialogs (``exec()``) are answered by :class:`DialogAnswerer`: a timer
in the event loop that ``exec()`` runs looks at the active modal widget and,
when it is the dialog the test said would come, hands it to the test's
answer (which reads it, fills it in, and presses a button). No sleeping; a
dialog the test did not expect is closed and fails the test.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QProgressDialog, QWidget

from app.dialogs.label_files import BusyDialog
from app.session import ProjectSession
from core import tasks as core_tasks
from core.project import Project
from tests.helpers import add_fake_images

PANEL_TASKS = ["car", "pedestrian", "stop sign"]
PANEL_IMAGES = 20

W = TypeVar("W", bound=QWidget)


@pytest.fixture
def isolated_settings(tmp_path: Path, qapp: QApplication) -> Iterator[Path]:
    """QSettings read and written in a temporary folder, as INI files."""
    folder = tmp_path / "settings"
    folder.mkdir()
    old_org, old_app = QCoreApplication.organizationName(), QCoreApplication.applicationName()
    QCoreApplication.setOrganizationName("mtlabel-tests")
    QCoreApplication.setApplicationName("mtlabel-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
    yield folder
    QCoreApplication.setOrganizationName(old_org)
    QCoreApplication.setApplicationName(old_app)


@pytest.fixture
def panel_project(tmp_path: Path) -> Iterator[Project]:
    """A project with tasks car, pedestrian, stop sign and 20 file-less images."""
    with Project.create(tmp_path / "proj", tasks=PANEL_TASKS) as project:
        add_fake_images(project, PANEL_IMAGES)
        yield project


@pytest.fixture
def panel_session(
    panel_project: Project, isolated_settings: Path, qapp: QApplication
) -> Iterator[ProjectSession]:
    session = ProjectSession(panel_project)
    yield session
    session.deleteLater()


def task_ids(project: Project) -> dict[str, int]:
    return {t.name: t.id for t in core_tasks.list_tasks(project, include_archived=True)}


def image_ids(project: Project) -> list[int]:
    from core.labels import list_images

    return list_images(project)


class DialogAnswerer:
    """Answers modal dialogs, in the order the test expects them."""

    def __init__(self) -> None:
        self._expected: deque[tuple[type[QWidget], Callable[[Any], None]]] = deque()
        self.answered: list[QWidget] = []
        self.unexpected: list[str] = []
        self._handled: QWidget | None = None
        """The modal widget handled last, while it stays the active one (a dialog
        shown again later is a new showing and is answered again)."""
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def expect(self, kind: type[W], answer: Callable[[W], None]) -> None:
        """When a modal ``kind`` shows, call ``answer(dialog)``; it must close it."""
        self._expected.append((kind, answer))

    @property
    def pending(self) -> int:
        return len(self._expected)

    def _poll(self) -> None:
        widget = QApplication.activeModalWidget()
        if widget is not self._handled:
            self._handled = None
        if widget is None or not widget.isVisible() or widget is self._handled:
            return
        if isinstance(widget, QProgressDialog | BusyDialog) and not (
            self._expected and isinstance(widget, self._expected[0][0])
        ):
            return  # progress dialogs come and go by themselves
        if self._expected and isinstance(widget, self._expected[0][0]):
            _, answer = self._expected.popleft()
            self.answered.append(widget)
            self._handled = widget
            answer(widget)
            return
        self.unexpected.append(f"{type(widget).__name__}: {_text_of(widget)}")
        self._handled = widget
        if isinstance(widget, QDialog):
            widget.reject()
        else:
            widget.close()

    def stop(self) -> None:
        self._timer.stop()


def _text_of(widget: QWidget) -> str:
    if isinstance(widget, QMessageBox):
        return widget.text()
    return widget.windowTitle()


def press_ok(box: QMessageBox) -> None:
    """Answer a QMessageBox with its OK (or its only) button."""
    button = box.button(QMessageBox.StandardButton.Ok) or box.buttons()[0]
    button.click()


def read_and_ok(texts: list[str]) -> Callable[[QMessageBox], None]:
    """An answer that keeps the message box's text and presses OK."""

    def answer(box: QMessageBox) -> None:
        texts.append(box.text())
        press_ok(box)

    return answer


@pytest.fixture
def dialog_answers(qapp: QApplication) -> Iterator[DialogAnswerer]:
    answerer = DialogAnswerer()
    yield answerer
    answerer.stop()
    assert not answerer.unexpected, f"unexpected dialogs: {answerer.unexpected}"
    assert not answerer.pending, f"{answerer.pending} expected dialog(s) never showed"
