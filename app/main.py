"""Start the application: ``python -m app [PROJECT]`` or ``mtlabel gui [PROJECT]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication

ORGANISATION = "mtlabel"
APPLICATION = "mtlabel"


def make_application(argv: Sequence[str]) -> QApplication:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    QCoreApplication.setOrganizationName(ORGANISATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication(list(argv))
    app.setStyle("Fusion")
    return app


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(prog="mtlabel gui", description="Open the mtlabel window.")
    parser.add_argument("project", nargs="?", help="project folder to open")
    parser.add_argument(
        "--screenshot", metavar="PNG", help="save a picture of the window once it shows, then quit"
    )
    args, qt_args = parser.parse_known_args(argv[1:])
    app = make_application([argv[0], *qt_args])
    from app.main_window import MainWindow

    window = MainWindow()
    window.show()
    opened = not args.project or window.open_project(os.path.abspath(args.project))
    if args.screenshot and not opened:
        return 1
    if args.screenshot:
        from PySide6.QtCore import QTimer

        def shoot() -> None:
            ok = window.grab().save(args.screenshot)
            window.close()  # stops the GPU probe and saves the layout, as a user's close does
            app.exit(0 if ok else 1)

        QTimer.singleShot(1500, shoot)
    return app.exec()
