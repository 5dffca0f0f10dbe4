"""The trainer as a child process: ``mtlabel train PATH ... --json`` in a ``QProcess``.

Like qutebrowser's ``guiprocess``: a small ``QObject`` owns the ``QProcess``,
reads its stdout as JSON lines (a partial line waits for the rest), and
re-emits each event as a typed signal. It ends with exactly one
``finished(TrainOutcome)``, a plain dataclass decided by :func:`decide_outcome`
(no Qt, testable alone):

* the trainer's own terminal event (``done``, ``cancelled``, ``failed``) when it
  printed one;
* ``failed`` with the trainer's one-line message when it refused to start a run
  (exit status 1: a user error, e.g. ``--device cuda`` without a GPU), or when
  the program could not be started at all;
* ``cancelled`` when Cancel was pressed and the process stopped without a word
  (SIGTERM before the trainer installed its handler, or killed after the grace
  period);
* ``crashed`` otherwise — killed, segfault, the OOM killer, an internal error,
  output that is not JSON — with the exit code or signal and the last lines of
  stderr, so that a dead trainer is never a silent stop.

Parsing a line is cheap and nothing here touches the database, so the GUI
thread stays free while a run trains.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

import core

Status = Literal["done", "cancelled", "failed", "crashed"]
TERMINAL_EVENTS = ("done", "cancelled", "failed")
EXIT_USER_ERROR = 1
STDERR_LINES = 20
"""How many of the trainer's last stderr lines a crash report keeps."""
GARBAGE_LINES = 5
"""How many non-JSON stdout lines a crash report keeps."""
MAX_LINE_BYTES = 8 * 1024 * 1024
"""A stdout "line" longer than this without a newline is dropped as garbage."""
KILL_AFTER_S = 8.0
"""Cancel sends SIGTERM; a trainer still alive this long after is killed."""


def default_program() -> list[str]:
    """The command that runs the ``mtlabel`` CLI with this interpreter."""
    return [sys.executable, "-m", "core.cli.main"]


def flags_from_settings(settings: dict[str, Any]) -> list[str]:
    """``{"epochs": 3, "batch_size": 16, "init_from": None, "pos_weight": True}`` →
    ``["--epochs", "3", "--batch-size", "16", "--pos-weight"]``.

    Keys become ``--key-with-dashes``; ``None`` and ``False`` leave the flag out,
    ``True`` gives the bare flag. Keys starting with ``_`` are the panel's own.
    """
    flags: list[str] = []
    for key, value in settings.items():
        if key.startswith("_") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        else:
            flags += [flag, str(value)]
    return flags


@dataclass(frozen=True)
class TrainOutcome:
    """How a trainer process ended."""

    status: Status
    run_id: int | None = None
    error: str | None = None
    """Why it failed or crashed, fit to show; None for done and (mostly) cancelled."""
    exit_code: int | None = None
    """The process's exit status; None when a signal ended it or it never started."""
    signal: int | None = None
    """The signal that ended it (SIGKILL: 9), if one did."""
    best_epoch: int | None = None
    mean_ap: float | None = None
    stderr_tail: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def summary(self) -> str:
        """One line: "Run 4 done: best epoch 3, mean AP 0.812", "Run 4 failed: …"."""
        who = f"Run {self.run_id}" if self.run_id is not None else "Training"
        if self.status == "done":
            ap = "n/a" if self.mean_ap is None else f"{self.mean_ap:.3f}"
            return f"{who} done: best epoch {self.best_epoch}, mean AP {ap}"
        if self.status == "cancelled":
            return f"{who} cancelled" + (f" ({self.error})" if self.error else "")
        if self.status == "failed":
            return f"{who} failed: {self.error}"
        return f"{who}: the trainer crashed — {self.error}"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(exit_code: int | None, signal_number: int | None) -> str:
    if signal_number is not None:
        return f"killed by signal {signal_number} ({signal_name(signal_number)})"
    if exit_code is None:
        return "it did not start"
    return f"exit status {exit_code}"


def decide_outcome(
    *,
    terminal: dict[str, Any] | None,
    run_id: int | None,
    exit_code: int | None,
    signal_number: int | None,
    cancel_requested: bool,
    killed_after_grace: bool = False,
    stderr_tail: Sequence[str] = (),
    garbage: Sequence[str] = (),
    start_error: str | None = None,
) -> TrainOutcome:
    """The outcome of a finished trainer process, from what it said and how it ended."""
    tail = tuple(stderr_tail)
    common: dict[str, Any] = {
        "run_id": run_id,
        "exit_code": exit_code,
        "signal": signal_number,
        "stderr_tail": tail,
    }
    if start_error is not None:
        return TrainOutcome("failed", error=f"could not start the trainer: {start_error}", **common)
    if terminal is not None:
        kind = terminal["event"]
        if kind == "done":
            return TrainOutcome(
                "done",
                best_epoch=_int_or_none(terminal.get("best_epoch")),
                mean_ap=_float_or_none(terminal.get("mean_ap")),
                **common,
            )
        if kind == "cancelled":
            return TrainOutcome("cancelled", **common)
        return TrainOutcome(
            "failed", error=str(terminal.get("error") or "no reason given"), **common
        )
    if signal_number is None and exit_code == EXIT_USER_ERROR and tail:
        # The CLI refused before a run began: one line on stderr says why.
        line = tail[-1]
        for prefix in ("mtlabel: error: ", "mtlabel: "):
            line = line.removeprefix(prefix)
        return TrainOutcome("failed", error=line, **common)
    if cancel_requested:
        note = (
            f"the trainer did not stop within {KILL_AFTER_S:g} s and was killed"
            if killed_after_grace
            else None
        )
        return TrainOutcome("cancelled", error=note, **common)
    reason = "the trainer stopped without finishing: " + describe_exit(exit_code, signal_number)
    if signal_number == signal.SIGKILL:
        reason += " — killed from outside, or by the system for lack of memory"
    if tail:
        reason += "\n\nLast lines on stderr:\n" + "\n".join(tail)
    if garbage:
        reason += "\n\nUnexpected output on stdout:\n" + "\n".join(garbage)
    return TrainOutcome("crashed", error=reason, **common)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _source_root() -> str:
    """The folder holding the ``core`` package, so ``-m core.cli.main`` finds it."""
    return str(Path(core.__file__).resolve().parent.parent)


class LineSplitter:
    """Bytes in, complete decoded lines out; a trailing partial line waits for more."""

    def __init__(self) -> None:
        self._partial = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[str]:
        self._partial += data
        if b"\n" not in data:
            if len(self._partial) > MAX_LINE_BYTES:
                self._partial.clear()
                self.dropped += 1
            return []
        *lines, rest = bytes(self._partial).split(b"\n")
        self._partial = bytearray(rest)
        return [line.decode("utf-8", errors="replace").rstrip("\r") for line in lines]

    def flush(self) -> list[str]:
        """The last line, if the stream ended without a newline."""
        rest, self._partial = bytes(self._partial), bytearray()
        return [rest.decode("utf-8", errors="replace").rstrip("\r")] if rest.strip() else []


class TrainerProcess(QObject):
    """One ``mtlabel train`` process at a time, its JSON lines as typed signals.

    ``program`` is the command that runs the CLI (default: this interpreter with
    ``-m core.cli.main``); tests pass a stand-in script. The arguments
    ``train PROJECT FLAGS... --json`` are appended to it.
    """

    started = Signal(dict)  # {"run", "device", "config"}
    caching = Signal(int, int)  # images decoded, total
    features = Signal(int, int)  # images whose backbone features are ready, total
    progress = Signal(dict)  # {"run", "epoch", "epochs", "step", "steps", "loss", "elapsed"}
    epoch_finished = Signal(dict)  # the "epoch" event, with per-task metrics in "tasks"
    message = Signal(str)  # info and warning lines
    auto = Signal(dict)  # an auto run's "auto" event: its candidates, then its choice
    predicting = Signal(int, int)  # images predicted, total
    finished = Signal(object)  # TrainOutcome, exactly once per start()
    running_changed = Signal(bool)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        program: Sequence[str] | None = None,
        kill_after_s: float = KILL_AFTER_S,
    ) -> None:
        super().__init__(parent)
        self.program = list(program) if program is not None else default_program()
        self.kill_after_s = kill_after_s
        self._process: QProcess | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill_if_alive)
        self._reset()

    def _reset(self) -> None:
        self._stdout = LineSplitter()
        self._stderr = LineSplitter()
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
        self._garbage: deque[str] = deque(maxlen=GARBAGE_LINES)
        self._terminal: dict[str, Any] | None = None
        self._run_id: int | None = None
        self._cancel_requested = False
        self._killed_after_grace = False
        self._reported = False

    # -- control ---------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._process is not None

    @property
    def run_id(self) -> int | None:
        """The run the current (or last) trainer announced, once it did."""
        return self._run_id

    def pid(self) -> int | None:
        if self._process is None:
            return None
        pid = int(self._process.processId())
        return pid or None

    def arguments(self, project_root: str | os.PathLike[str], flags: Iterable[str]) -> list[str]:
        """The full command line ``start`` runs."""
        return [*self.program, "train", str(project_root), *flags, "--json"]

    def start(self, project_root: str | os.PathLike[str], config_flags: Sequence[str]) -> bool:
        """Start a trainer; False (and nothing started) while one is still running."""
        if self._process is not None:
            return False
        self._reset()
        command = self.arguments(project_root, config_flags)
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        env = QProcessEnvironment.systemEnvironment()
        path = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", _source_root() + (os.pathsep + path if path else ""))
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        self.running_changed.emit(True)
        process.start(command[0], command[1:])
        return True

    def cancel(self) -> bool:
        """Ask the trainer to stop (SIGTERM: it ends the current step, marks the run
        cancelled and exits); kill it if it is still alive ``kill_after_s`` later."""
        if self._process is None:
            return False
        self._cancel_requested = True
        self._process.terminate()
        if not self._kill_timer.isActive():
            self._kill_timer.start(round(self.kill_after_s * 1000))
        return True

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop a running trainer and wait for it (for closing the window), blocking."""
        process = self._process
        if process is None:
            return
        self._cancel_requested = True
        process.terminate()
        if not process.waitForFinished(round(timeout_s * 1000)):
            self._killed_after_grace = True
            process.kill()
            process.waitForFinished(3000)

    def _kill_if_alive(self) -> None:
        if self._process is not None:
            self._killed_after_grace = True
            self._process.kill()

    # -- reading ---------------------------------------------------------------------

    def _read_stdout(self) -> None:
        if self._process is not None:
            self._handle_lines(
                self._stdout.feed(bytes(self._process.readAllStandardOutput().data()))
            )

    def _read_stderr(self) -> None:
        if self._process is not None:
            lines = self._stderr.feed(bytes(self._process.readAllStandardError().data()))
            self._stderr_tail.extend(line for line in lines if line.strip())

    def _handle_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            if line.strip():
                self._handle_line(line)

    def _handle_line(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            self._garbage.append(line[:500])
            return
        try:
            self._dispatch(event)
        except (KeyError, TypeError, ValueError):
            self._garbage.append(line[:500])

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if isinstance(event.get("run"), int):
            self._run_id = event["run"]
        if kind == "started":
            self.started.emit(event)
        elif kind == "caching":
            self.caching.emit(int(event["done"]), int(event["total"]))
        elif kind == "features":
            self.features.emit(int(event["done"]), int(event["total"]))
        elif kind == "progress":
            self.progress.emit(event)
        elif kind == "epoch":
            self.epoch_finished.emit(event)
        elif kind == "info":
            self.message.emit(str(event.get("message", "")))
        elif kind == "warning":
            self.message.emit(f"Warning: {event.get('message', '')}")
        elif kind == "auto":
            self.auto.emit(event)
        elif kind == "predicting":
            if "done" in event:
                self.predicting.emit(int(event["done"]), int(event["total"]))
            else:
                self.predicting.emit(0, int(event.get("images", 0)))
        elif kind in TERMINAL_EVENTS:
            self._terminal = event
        # Other events (added to the trainer later) are ignored, not garbage.

    # -- ending ----------------------------------------------------------------------

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            message = self._process.errorString()
            self._finish(None, None, start_error=f"{self.program[0]}: {message}")

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._read_stderr()
        self._handle_lines(self._stdout.flush())
        self._stderr_tail.extend(self._stderr.flush())
        if exit_status == QProcess.ExitStatus.CrashExit:
            # On Unix, QProcess reports the terminating signal as the exit code.
            self._finish(None, exit_code or None)
        else:
            self._finish(exit_code, None)

    def _finish(
        self, exit_code: int | None, signal_number: int | None, start_error: str | None = None
    ) -> None:
        if self._reported:
            return
        self._reported = True
        self._kill_timer.stop()
        outcome = decide_outcome(
            terminal=self._terminal,
            run_id=self._run_id,
            exit_code=exit_code,
            signal_number=signal_number,
            cancel_requested=self._cancel_requested,
            killed_after_grace=self._killed_after_grace,
            stderr_tail=list(self._stderr_tail),
            garbage=list(self._garbage),
            start_error=start_error,
        )
        process, self._process = self._process, None
        if process is not None:
            process.deleteLater()
        self.running_changed.emit(False)
        self.finished.emit(outcome)


class DeviceProbe(QObject):
    """Asks ``mtlabel device --json`` (in its own process: the window never imports
    torch) whether a CUDA GPU is there; ``found(dict)`` carries its answer::

        {"cuda": bool, "name": str | None, "mps": bool, "summary": "CUDA: NVIDIA …"}

    A probe that fails still answers, with ``summary`` saying why.
    """

    found = Signal(dict)

    def __init__(self, parent: QObject | None = None, *, program: Sequence[str] | None = None):
        super().__init__(parent)
        self.program = list(program) if program is not None else default_program()
        self._process: QProcess | None = None
        self.result: dict[str, Any] | None = None

    def start(self) -> None:
        if self._process is not None:
            return
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        path = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", _source_root() + (os.pathsep + path if path else ""))
        process.setProcessEnvironment(env)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        command = [*self.program, "device", "--json"]
        process.start(command[0], command[1:])

    def shutdown(self) -> None:
        """Stop the probe if it is still running (the window is closing)."""
        process = self._process
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            process.kill()
            process.waitForFinished(2000)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._answer(None, self._process.errorString())

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        process = self._process
        if process is None:
            return
        out = bytes(process.readAllStandardOutput().data()).decode("utf-8", errors="replace")
        err = bytes(process.readAllStandardError().data()).decode("utf-8", errors="replace")
        for line in reversed(out.splitlines()):
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict) and "summary" in answer:
                self._answer(answer, None)
                return
        lines = [line for line in err.splitlines() if line.strip()]
        self._answer(None, lines[-1] if lines else f"exit status {exit_code}")

    def _answer(self, answer: dict[str, Any] | None, problem: str | None) -> None:
        if self._process is None:
            return
        self._process.deleteLater()
        self._process = None
        if answer is None:
            answer = {
                "cuda": False,
                "name": None,
                "mps": False,
                "summary": f"GPU check failed: {problem}",
            }
        self.result = answer
        self.found.emit(answer)
