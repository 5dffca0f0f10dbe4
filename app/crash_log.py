"""A native crash of the window leaves a Python stack behind: :mod:`faulthandler`
writes every thread's stack to ``crash.log`` in the user's data folder
(``~/.local/share/mtlabel`` on Linux) when the process dies of SIGSEGV, SIGFPE,
SIGABRT, SIGBUS or SIGILL. Each start appends a header line, so the log says which
session a stack belongs to."""

from __future__ import annotations

import faulthandler
import os
import time
from pathlib import Path
from typing import IO

LOG_NAME = "crash.log"
MAX_BYTES = 1_000_000
"""A log grown past this is started afresh (the newest crashes matter)."""
FAULT_MARK = "Fatal Python error"
SESSION_MARK = "== mtlabel window started"

_stream: IO[str] | None = None


def default_folder() -> Path:
    from PySide6.QtCore import QStandardPaths

    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    return Path(location or Path.home() / ".local" / "share") / "mtlabel"


def last_session_crashed(log: Path) -> bool:
    """Whether the last session written to ``log`` ended in a native crash."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    last = text.rfind(SESSION_MARK)
    return last >= 0 and FAULT_MARK in text[last:]


def enable(folder: Path | None = None) -> tuple[Path | None, bool]:
    """Start writing native-crash stacks to ``folder/crash.log``. Returns the log's path
    (None when it cannot be written: the window starts anyway) and whether the session
    before this one ended in a crash."""
    global _stream
    folder = folder or default_folder()
    log = folder / LOG_NAME
    crashed = last_session_crashed(log)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        mode = "w" if log.exists() and log.stat().st_size > MAX_BYTES else "a"
        stream = open(log, mode, encoding="utf-8")  # noqa: SIM115 — open for the process's life
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        stream.write(f"{SESSION_MARK} {started} pid {os.getpid()}\n")
        stream.flush()
    except OSError:
        return None, crashed
    faulthandler.enable(stream, all_threads=True)
    _stream = stream
    return log, crashed
