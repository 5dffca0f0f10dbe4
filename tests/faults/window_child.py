"""The real main window, offscreen, labelling with keys until it is killed.

Run by ``test_kill_window.py`` as ``python window_child.py PROJECT SETTINGS_DIR START
COUNT``. It opens PROJECT in :class:`app.main_window.MainWindow`, steps to the image at
position START (name order, pressing J) and then, on COUNT images one after the other,
presses the label keys of :data:`PRESSES`; then it prints "end" and waits. After each
key press has returned it prints one line, ``{"image": id, "task": task_id, "value":
1 | 0 | null}``: the cell that key set, with the value the keyboard help promises (the
child never reads it back).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

NO = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier
DIGITS = [Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3]

# (task index, modifiers, the cell's value after the press), on an image with no labels:
# a digit cycles ? → present → absent → ?, Shift+digit sets absent, Ctrl+digit unknown.
PRESSES: list[tuple[int, Qt.KeyboardModifier, int | None]] = [
    (0, NO, 1),
    (1, SHIFT, 0),
    (2, NO, 1),
    (2, NO, 0),
    (0, CTRL, None),
    (0, NO, 1),
]


def wait_until(ready: Callable[[], bool], timeout_ms: int = 10_000) -> None:
    for _ in range(timeout_ms // 10):
        if ready():
            return
        QTest.qWait(10)
    raise TimeoutError("the window did not get ready")


def main(project: str, settings_dir: str, start: int, count: int) -> int:
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
    window = MainWindow()
    window.show()
    window.activateWindow()
    QTest.qWaitForWindowExposed(window)
    wait_until(window.isActiveWindow)
    if not window.open_project(project):
        return 2
    assert window.view is not None and window.session is not None
    browser = window.view.browser
    wait_until(lambda: browser.current_image() is not None)
    for _ in range(start):
        QTest.keyClick(browser.view, Qt.Key.Key_J)
    task_ids = [t.id for t in window.session.tasks()]
    for _ in range(count):
        image = browser.current_image()
        assert image is not None
        for task, mods, value in PRESSES:
            QTest.keyClick(browser.view, DIGITS[task], mods)
            line = {"image": image, "task": task_ids[task], "value": value}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        QTest.keyClick(browser.view, Qt.Key.Key_J)
    print("end", flush=True)
    QTest.qWait(60_000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
