"""The real main window, offscreen, making one write through its own code, then waiting.

Run by ``test_kill_window_writes.py`` as ``python window_writes_child.py WRITE PROJECT
SETTINGS_DIR [ARGUMENT]``. It opens PROJECT in :class:`app.main_window.MainWindow`
and performs the write path WRITE (one of :data:`WRITES`) the way a user's click
reaches it: the menu action, toolbar button or panel button, with the file and name
dialogs answered and the option dialogs driven (their OK button clicked). At the
moment the window shows the result — its summary message or dialog, or the slot of
the click having returned and the task counts redrawn — it prints one JSON line with
what the window shows (read from its widgets, never from the database), flushes and
waits to be killed. An error the window would show is printed as ``{"error": …}``.
"""

from __future__ import annotations

import faulthandler
import json
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QPoint, QSettings, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QMessageBox,
    QToolButton,
    QWidget,
)

WRITES = (
    "import_labels",
    "import_images",
    "accept_cell",
    "accept_image",
    "bulk_accept",
    "bulk_set",
    "undo_bulk_set",
    "redo_bulk_set",
    "task_add",
    "task_rename",
    "task_archive",
)
UNDO_AFTER_IMPORT = "undo_after_import"
"""Not one write but three, as a user makes them: Present clicked on the first task of
the first image, a label file imported (it says absent there), then Edit → Undo."""
BULK_IMAGES = 4
"""The bulk set selects the first this many images (name order) with a shift-click."""
BULK_TASK = 1
"""…and clicks Present on this task's row (display index)."""
ACCEPT_TASK = 2
"""Accept on one cell: the row of this task (display index), on the first image."""
ACCEPT_CONFIDENCE = 0.8
"""Bulk accept: minimum confidence set in the dialog (its task is the first one)."""
NEW_TASK = "bicycle"
"""Added by task_add; also the new column of the label file (created by the import)."""
RENAMED = "automobile"
"""task_rename gives the first task this name."""
ARCHIVED_TASK = 1
"""task_archive archives the task at this display index."""
STATES = {1: "present", 0: "absent", None: "unknown"}
WATCHDOG_S = 90
"""A child that hangs (or is never killed) ends itself, printing its stack to stderr."""


def wait_until(ready: Callable[[], bool], timeout_ms: int = 10_000) -> None:
    for _ in range(timeout_ms // 10):
        if ready():
            return
        QTest.qWait(10)
    raise TimeoutError("the window did not get ready")


def report(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def block() -> None:
    """Keep the event loop running (as under a shown message box) until killed."""
    while True:
        QTest.qWait(1000)


def click(widget: QWidget, pos: QPoint | None = None, mods: Any = None) -> None:
    assert widget.isVisible() and widget.isEnabled(), f"{widget.objectName()} cannot be clicked"
    modifiers = Qt.KeyboardModifier.NoModifier if mods is None else mods
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, modifiers, pos or widget.rect().center())


def drive(dialog_class: type[QDialog], prepare: Callable[[Any], None]) -> None:
    """Answer the next modal ``dialog_class.exec()``: once it runs, ``prepare(dialog)``
    sets its choices and its OK button is clicked."""
    original = dialog_class.exec

    def exec_(self: QDialog) -> int:
        def answer() -> None:
            prepare(self)
            box = self.findChild(QDialogButtonBox)
            assert box is not None
            ok = box.button(QDialogButtonBox.StandardButton.Ok)
            click(ok)

        QTimer.singleShot(0, answer)
        return original(self)

    dialog_class.exec = exec_  # type: ignore[method-assign]


class Window:
    """The main window and what it shows."""

    def __init__(self, window: Any) -> None:
        self.window = window
        assert window.view is not None and window.session is not None
        self.view = window.view
        self.session = window.session
        self.tasks = window.view.tasks
        self.panel = window.view.annotate.panel
        self.browser = window.view.browser

    def counts_redrawn(self) -> None:
        """Wait for the task panel's counts query that a label change schedules."""
        QTest.qWait(1)
        wait_until(lambda: not self.tasks._counts_timer.isActive())

    def shown(self) -> dict[str, Any]:
        """What the window shows now: the task panel's rows (name, archived, counts as
        drawn), the label panel's rows, the browser's count line and the undo stack."""
        task_rows = []
        for row in self.tasks.model.rows():
            c = row.counts
            task_rows.append(
                {
                    "id": row.task.id,
                    "name": row.task.name,
                    "archived": row.task.archived,
                    "counts": None if c is None else [c.present, c.absent, c.unknown],
                    "text": row.counts_text(),
                }
            )
        label_rows = []
        for row in self.panel.rows():
            checked = row.group.checkedButton()
            value = next((STATES[v] for v, b in row.buttons.items() if b is checked), "mixed")
            label_rows.append(
                {
                    "task": row.task.id,
                    "name": row.task.name,
                    "value": value,
                    "counts": row.counts_label.full_text(),
                }
            )
        stack = self.session.undo_stack
        return {
            "tasks": task_rows,
            "panel": {"images": self.panel.image_ids(), "rows": label_rows},
            "browser": self.browser.count_label.text(),
            "undo": {"index": stack.index(), "count": stack.count(), "text": stack.undoText()},
        }

    def report_shown(self, **extra: Any) -> None:
        report({**extra, "shown": self.shown()})

    def toolbar_click(self, action: Any) -> None:
        button = self.tasks.toolbar.widgetForAction(action)
        assert isinstance(button, QToolButton)
        click(button)

    def select_task_row(self, index: int) -> None:
        view = self.tasks.view
        click(view.viewport(), view.visualRect(self.tasks.model.index(index)).center())
        assert self.tasks.selected_row() is not None

    def select_first_images(self, count: int) -> None:
        """Click the first image, shift-click the count-th: the grid's own selection."""
        view = self.browser.view
        model = self.browser.list_model
        click(view.viewport(), view.visualRect(model.index(0)).center())
        last = view.visualRect(model.index(count - 1)).center()
        click(view.viewport(), last, Qt.KeyboardModifier.ShiftModifier)
        assert len(self.browser.selected_images()) == count
        assert len(self.panel.image_ids()) == count

    def bulk_set(self) -> None:
        self.select_first_images(BULK_IMAGES)
        row = self.panel.rows()[BULK_TASK]
        click(row.buttons[1])  # Present
        self.counts_redrawn()

    def answer_text(self, text: str) -> None:
        QInputDialog.getText = staticmethod(  # type: ignore[method-assign]
            lambda *a, **k: (text, True)
        )


def run(write: str, w: Window, argument: str | None) -> None:
    window = w.window
    if write == "import_labels":
        from app.dialogs.label_files import LabelImportOptionsDialog

        def information(_parent: object, title: str, text: str, *_: object) -> None:
            w.report_shown(title=title, text=text)
            block()

        QFileDialog.getOpenFileName = staticmethod(  # type: ignore[method-assign, assignment]
            lambda *a, **k: (argument, "")
        )
        drive(LabelImportOptionsDialog, lambda d: d.create_tasks_check.setChecked(True))
        QMessageBox.information = staticmethod(information)  # type: ignore[method-assign, assignment]
        window.act_import_labels.trigger()  # File → Import Labels…
    elif write == "import_images":
        from app.dialogs import import_images

        def summary(self: QDialog) -> int:
            w.report_shown(title=self.windowTitle(), text=self.headline.text())  # type: ignore[attr-defined]
            block()
            return 0

        QFileDialog.getExistingDirectory = staticmethod(  # type: ignore[method-assign, assignment]
            lambda *a, **k: argument
        )
        import_images.ImportSummaryDialog.exec = summary  # type: ignore[method-assign]
        window.act_import.trigger()  # File → Import Images… (the toolbar's button)
    elif write == "accept_cell":
        row = w.panel.rows()[ACCEPT_TASK]
        click(row.accept_button)
        w.counts_redrawn()
        w.report_shown()
    elif write == "accept_image":
        click(w.panel.accept_all_button)
        w.counts_redrawn()
        w.report_shown()
    elif write == "bulk_accept":
        from app.dialogs.accept_predictions import AcceptPredictionsDialog

        promised: dict[str, Any] = {}

        def choose(dialog: AcceptPredictionsDialog) -> None:
            dialog.set_min_confidence(ACCEPT_CONFIDENCE)
            counts = dialog.counts()
            promised.update(
                task=dialog.task_id(),
                present=counts.present,
                absent=counts.absent,
                text=dialog.summary_label.text(),
            )

        drive(AcceptPredictionsDialog, choose)
        window.act_accept.trigger()  # Train → Accept Predictions…
        w.counts_redrawn()
        w.report_shown(promised=promised)
    elif write == "bulk_set":
        w.bulk_set()
        w.report_shown()
    elif write in ("undo_bulk_set", "redo_bulk_set"):
        w.bulk_set()
        window.act_undo.trigger()  # Edit → Undo (Ctrl+Z)
        if write == "redo_bulk_set":
            w.counts_redrawn()
            window.act_redo.trigger()  # Edit → Redo
        w.counts_redrawn()
        w.report_shown()
    elif write == UNDO_AFTER_IMPORT:
        from app.dialogs.label_files import LabelImportOptionsDialog

        said: list[str] = []
        click(w.panel.rows()[0].buttons[1])  # Present
        QFileDialog.getOpenFileName = staticmethod(  # type: ignore[method-assign, assignment]
            lambda *a, **k: (argument, "")
        )
        drive(LabelImportOptionsDialog, lambda d: None)
        QMessageBox.information = staticmethod(  # type: ignore[method-assign, assignment]
            lambda _parent, _title, text, *_: said.append(text)
        )
        window.act_import_labels.trigger()  # File → Import Labels…, OK on its summary
        assert said, "the import showed no summary"
        window.act_undo.trigger()  # Edit → Undo: the click, made before the import
        w.counts_redrawn()
        w.report_shown(text=said[0])
    elif write == "task_add":
        w.answer_text(NEW_TASK)
        w.toolbar_click(w.tasks.add_action)
        w.report_shown()
    elif write == "task_rename":
        w.select_task_row(0)
        w.answer_text(RENAMED)
        w.toolbar_click(w.tasks.rename_action)
        w.report_shown()
    elif write == "task_archive":
        w.select_task_row(ARCHIVED_TASK)
        w.toolbar_click(w.tasks.archive_action)
        w.report_shown()
    else:
        raise SystemExit(f"unknown write path {write!r}")


def main(write: str, project: str, settings_dir: str, argument: str | None) -> int:
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    QCoreApplication.setOrganizationName("mtlabel-fault-tests")
    QCoreApplication.setApplicationName("mtlabel-fault-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, settings_dir)
    app = QApplication([sys.argv[0]])
    app.setStyle("Fusion")

    from app.main_window import MainWindow
    from app.training.trainer_process import DeviceProbe

    DeviceProbe.start = lambda self: None  # type: ignore[method-assign]  # no torch import

    def error(_parent: object, title: str, text: str, *_: object) -> QMessageBox.StandardButton:
        report({"error": f"{title}: {text}"})
        return QMessageBox.StandardButton.Ok

    QMessageBox.warning = staticmethod(error)  # type: ignore[method-assign, assignment]
    QMessageBox.critical = staticmethod(error)  # type: ignore[method-assign, assignment]
    window = MainWindow()
    window.show()
    window.activateWindow()
    QTest.qWaitForWindowExposed(window)
    wait_until(window.isActiveWindow)
    if not window.open_project(project):
        return 2
    w = Window(window)
    wait_until(lambda: w.browser.current_image() is not None)
    run(write, w, argument)
    block()
    return 0


if __name__ == "__main__":
    sys.exit(
        main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    )
