"""Take the README's screenshots of the real window on a virtual X screen.

    Xvfb :99 -screen 0 1440x900x24 &  DISPLAY=:99 python docs/screenshots.py OUT_DIR

Builds a demo project, opens the window (X11, not offscreen), walks it through
the main states and captures the whole screen with ImageMagick's ``import``,
exactly what a user would see.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer

from app.main import make_application
from app.main_window import MainWindow
from core.demo import create_demo


def settle(ms: int = 600) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def shoot(out: Path, name: str) -> None:
    settle()
    subprocess.run(["import", "-window", "root", str(out / f"{name}.png")], check=True)
    print("saved", out / f"{name}.png")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots").absolute()
    out.mkdir(parents=True, exist_ok=True)
    app = make_application(["mtlabel"])
    with tempfile.TemporaryDirectory() as tmp:
        # Fresh settings: no recent projects of the machine in the picture.
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
        window = MainWindow()
        window.setGeometry(0, 0, 1440, 900)
        window.show()
        shoot(out, "empty")
        project = Path(tmp) / "street-demo"
        create_demo(project, images=400, unknown_fraction=0.5, seed=1)
        window.open_project(str(project))
        assert window.view is not None
        settle()
        window.view.browser.select_image(window.view.browser.image_ids()[3])
        shoot(out, "demo-project")
        browser = window.view.browser
        model = browser.view.model()
        selection = browser.view.selectionModel()
        from PySide6.QtCore import QItemSelectionModel

        for row in range(2, 6):
            selection.select(model.index(row, 0), QItemSelectionModel.SelectionFlag.Select)
        shoot(out, "bulk-selection")
        browser.select_image(browser.image_ids()[1])
        window.toggle_help()
        shoot(out, "help-overlay")
        window.close()
    app.quit()


if __name__ == "__main__":
    main()
