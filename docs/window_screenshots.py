"""Screenshots of the window's desktop behaviour (issue 14) on a real X screen.

    Xvfb :99 -screen 0 1440x900x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb python docs/window_screenshots.py PROJECT OUT_DIR

PROJECT is a demo project (``mtlabel demo``) with one finished run (any
``mtlabel train``): the window opens on it, then shows a combined filter with a
name search, the run's prediction dots and the Accept button that says what it
sets, the toolbar after a few label keys, and an empty project's hint. Each
picture is the whole screen (ImageMagick ``import``), as a user sees it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from app.main import make_application
from app.main_window import MainWindow
from core.project import Project
from docs.screenshots import settle, shoot


def main() -> None:
    project, out = Path(sys.argv[1]).absolute(), Path(sys.argv[2]).absolute()
    out.mkdir(parents=True, exist_ok=True)
    app = make_application(["mtlabel"])
    with tempfile.TemporaryDirectory() as tmp:
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
        window = MainWindow()
        window.setGeometry(0, 0, 1440, 900)
        window.show()
        window.activateWindow()  # label keys act in the active window (no window manager)
        window.open_project(str(project))
        assert window.view is not None
        shoot(out, "window-opens-on-first-image")
        browser = window.view.browser
        browser.filter_combo.setCurrentIndex(browser.filter_combo.findText("car: present"))
        browser.and_combo.setCurrentIndex(browser.and_combo.findText("stop sign: unknown"))
        QTest.keyClicks(browser.search_edit, "scene_00")
        settle(500)
        shoot(out, "combined-filter-and-search")
        browser.search_edit.clear()
        browser.and_combo.setCurrentIndex(0)
        browser.filter_combo.setCurrentIndex(0)
        browser.view.setFocus()
        window.activateWindow()
        settle(300)
        for key in (Qt.Key.Key_1, Qt.Key.Key_J, Qt.Key.Key_2, Qt.Key.Key_J):
            QTest.keyClick(browser.view, key)
        settle(300)
        shoot(out, "prediction-dots-and-accept")
        window.close_project()
        empty = Path(tmp) / "new-project"
        Project.create(empty, tasks=["cat", "dog"]).close()
        window.open_project(str(empty))
        shoot(out, "empty-project-hint")
        window.close()
    app.quit()


if __name__ == "__main__":
    main()
