"""Start the application: ``python -m app [PROJECT]`` or ``mtlabel gui [PROJECT]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication

from app.crash_log import enable as enable_crash_log
from app.platform_check import uses_xcb, xcb_problem

ORGANISATION = "mtlabel"
APPLICATION = "mtlabel"
EXIT_NO_PLATFORM = 3


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
    if "-platform" not in qt_args and uses_xcb():
        problem = xcb_problem()
        if problem is not None:  # Qt would abort with a misleading message
            print(problem, file=sys.stderr)
            return EXIT_NO_PLATFORM
    app = make_application([argv[0], *qt_args])
    crash_log, crashed_last_time = enable_crash_log()
    from app.main_window import MainWindow

    window = MainWindow()
    window.show()
    if crash_log is not None and crashed_last_time:
        window.statusBar().showMessage(
            f"The window stopped unexpectedly last time; what it was doing is in {crash_log}",
            20_000,
        )
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
