"""What the fault-injection tests share: the trainer's command line, a JSON-line reader,
the command line run in-process, and snapshots of a project's labels and files."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.cli.main import main
from core.project import DB_FILE, Project
from tests.helpers import TINY_TRAIN as TINY_SETTINGS
from tests.helpers import label_rows as label_rows  # re-exported for the fault tests

TINY_TRAIN = [*TINY_SETTINGS, "--val-fraction", "0.3"]

# Every subprocess reads the same annotator and never a user's settings.
CHILD_ENV = {**os.environ, "MTLABEL_ANNOTATOR": "tester", "QT_QPA_PLATFORM": "offscreen"}


def mtlabel(*args: object) -> list[str]:
    """The command line as the window runs it: ``python -m core.cli.main ...``."""
    return [sys.executable, "-m", "core.cli.main", *(str(a) for a in args)]


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def one_line_error(self) -> str:
        """The error as a user sees it: exit status 1, one line, no traceback."""
        assert self.code == 1, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("mtlabel: "), self.err
        return lines[0]


@contextlib.contextmanager
def _process_state_kept() -> Iterator[None]:
    """train/predict/export install SIGINT/SIGTERM handlers and ``--threads`` sets torch's
    thread count: give the test process its own back."""
    import torch

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        torch.set_num_threads(threads)


def run_cli(*args: object) -> CliResult:
    """``mtlabel ARGS`` in this process (no interpreter start: a check costs milliseconds)."""
    out, err = io.StringIO(), io.StringIO()
    with _process_state_kept(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliResult(code, out.getvalue(), err.getvalue())


def run_process(*args: object, timeout: float = 240, **kwargs: Any) -> CliResult:
    """``mtlabel ARGS`` as its own process."""
    done = subprocess.run(
        mtlabel(*args), capture_output=True, text=True, timeout=timeout, env=CHILD_ENV, **kwargs
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@dataclass
class Trainer:
    """A ``train --json`` process whose events a thread collects as they come."""

    proc: subprocess.Popen[str]
    started_at: float
    events: list[dict[str, Any]] = field(default_factory=list)
    _queue: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, root: Path, *args: object) -> Trainer:
        """``train ROOT`` with the tiny settings and ``args``."""
        return cls.start_command(root, "train", *TINY_TRAIN, *args)

    @classmethod
    def start_command(cls, root: Path, command: str, *args: object) -> Trainer:
        """``COMMAND ROOT ARGS --json`` (train, predict)."""
        proc = subprocess.Popen(
            mtlabel(command, root, *args, "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=CHILD_ENV,
        )
        trainer = cls(proc, time.monotonic())
        threading.Thread(target=trainer._read, daemon=True).start()
        return trainer

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(json.loads(line))
        self._queue.put(None)

    def wait_for(self, accept: Callable[[dict[str, Any]], bool], timeout: float = 120) -> bool:
        """Take events until one is accepted (True) or the trainer's output ends (False)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no awaited event within {timeout} s; saw {self.kinds()}"
                ) from None
            if event is None:
                return False
            self.events.append(event)
            if accept(event):
                return True

    def kill(self) -> int:
        """SIGKILL now (if it still runs); the exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        code = self.proc.wait(timeout=60)
        self.drain()
        return code

    def finish(self, timeout: float = 240) -> int:
        code = self.proc.wait(timeout=timeout)
        self.drain()
        return code

    def drain(self) -> None:
        """Collect what the trainer printed before it ended."""
        while True:
            try:
                event = self._queue.get(timeout=10)
            except queue.Empty:
                return
            if event is None:
                return
            self.events.append(event)

    def kinds(self) -> list[str]:
        return [e["event"] for e in self.events]

    def run_id(self) -> int | None:
        return next((e["run"] for e in self.events if e["event"] == "started"), None)


# -- what must survive ---------------------------------------------------------------


def label_rows_at(root: Path) -> list[tuple[Any, ...]]:
    with Project.open(root) as project:
        return label_rows(project)


def sqlite_integrity(root: Path) -> None:
    """SQLite's own check of the database file: every page, index and foreign key sound."""
    with contextlib.closing(sqlite3.connect(root / DB_FILE)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → SHA-256): compares a tree byte for byte."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).digest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    } | {str(p.relative_to(folder)) + "/": b"" for p in folder.rglob("*") if p.is_dir()}
