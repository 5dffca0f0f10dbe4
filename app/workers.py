"""Cooperative background jobs: run a plain function off the GUI thread, hear back by signals.

The idea of superqt's ``thread_worker``, cut down to what the window needs::

    job = run_in_thread(import_images, project, sources,
                        on_progress=show, on_done=finish, on_error=complain)
    ...
    job.cancel()   # sets the threading.Event the function was given

The function runs on a private ``QThreadPool``. It is given, as keyword
arguments and only where its signature names them, ``progress`` (a callable
that sends one value to the GUI thread) and ``cancel`` (a
``threading.Event`` it should check between units of work). Progress, the
result and any exception reach the GUI thread as queued signals of the
``Job``, which lives there; the callbacks run there too. An exception never
vanishes: it is logged with its traceback and arrives as ``failed`` with a
message fit to show (a :class:`core.errors.UserError` as is, anything else
prefixed with its type).

Nothing here touches a widget; the worker thread only emits signals.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from sqlalchemy.exc import DBAPIError

from core.errors import UserError, database_words

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05
"""Progress values closer together than this are dropped (the newest one is kept
for the next emit), so a function reporting 100,000 files does not flood the GUI."""

_pool: QThreadPool | None = None


def job_pool() -> QThreadPool:
    """The private pool jobs run on (a few threads; the global pool stays free)."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(4)
        _pool.setObjectName("mtlabel-jobs")
    return _pool


def error_message(exc: BaseException) -> str:
    """What the user is told about an exception from a job."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        # The driver's own words ("database or disk is full"), without the SQL
        # statement and the link SQLAlchemy adds for developers.
        return f"database error: {database_words(exc.orig)}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Job(QObject):
    """A function running in the background; lives in (and signals to) the GUI thread.

    Signals, in the order they arrive: any number of ``progress(value)``, then
    ``succeeded(result)`` or ``failed(message)``, then ``finished()`` — always,
    exactly once, last.
    """

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()

    # Emitted by the worker thread; queued to the slots below (this object lives
    # in the GUI thread), which re-emit the public signals there.
    _worker_progress = Signal(object)
    _worker_result = Signal(object)
    _worker_error = Signal(object)

    def __init__(self, name: str = "job", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.cancel_event = threading.Event()
        self.result: Any = None
        self.exception: BaseException | None = None
        self.error: str | None = None
        self._done = threading.Event()
        self._finished = False
        queued = Qt.ConnectionType.QueuedConnection
        self._worker_progress.connect(self._on_progress, queued)
        self._worker_result.connect(self._on_result, queued)
        self._worker_error.connect(self._on_error, queued)

    # -- for the GUI thread ------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the function to stop (it checks ``cancel`` between units of work)."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def is_finished(self) -> bool:
        """True once ``finished`` has been emitted (in the GUI thread)."""
        return self._finished

    def wait_in_event_loop(self) -> None:
        """Return once ``finished`` was emitted, processing events meanwhile.

        A nested event loop, like ``QDialog.exec()``: the window keeps painting
        and a progress dialog's Cancel keeps working.
        """
        if self._finished:
            return
        loop = QEventLoop()
        self.finished.connect(loop.quit)
        if not self._finished:  # it may have finished while connecting
            loop.exec()

    def wait_for_thread(self, timeout_s: float | None = None) -> bool:
        """Block until the function has returned in its thread (for shutdown); no signals."""
        return self._done.wait(timeout_s)

    @Slot(object)
    def _on_progress(self, value: object) -> None:
        if not self._finished:
            self.progress.emit(value)

    @Slot(object)
    def _on_result(self, result: object) -> None:
        self.result = result
        self.succeeded.emit(result)
        self._finish()

    @Slot(object)
    def _on_error(self, exc: BaseException) -> None:
        self.exception = exc
        self.error = error_message(exc)
        self.failed.emit(self.error)
        self._finish()

    def _finish(self) -> None:
        self._finished = True
        self.finished.emit()

    # -- for the worker thread ---------------------------------------------------------

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        reporter = _ProgressReporter(self._worker_progress.emit)
        extra: dict[str, Any] = {}
        accepted = _keyword_names(fn)
        if "progress" in accepted:
            extra["progress"] = reporter
        if "cancel" in accepted:
            extra["cancel"] = self.cancel_event
        try:
            result = fn(*args, **kwargs, **extra)
        except BaseException as exc:
            if not isinstance(exc, UserError):
                log.exception("background job %r failed", self.objectName())
            reporter.flush()
            self._done.set()
            self._worker_error.emit(exc)
            return
        reporter.flush()
        self._done.set()
        self._worker_result.emit(result)


class _ProgressReporter:
    """Called by the worker for each progress value; emits at most every interval."""

    def __init__(self, emit: Callable[[object], None]) -> None:
        self._emit = emit
        self._last = 0.0
        self._pending: object = None
        self._has_pending = False
        self._lock = threading.Lock()  # the function may report from several threads

    def __call__(self, value: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < PROGRESS_INTERVAL_S:
                self._pending, self._has_pending = value, True
                return
            self._last = now
            self._has_pending = False
        self._emit(value)

    def flush(self) -> None:
        with self._lock:
            pending, self._has_pending = self._has_pending, False
            value, self._pending = self._pending, None
        if pending:
            self._emit(value)


def _keyword_names(fn: Callable[..., Any]) -> set[str]:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return {"progress", "cancel"}
    return {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}


class _Runnable(QRunnable):
    def __init__(
        self, job: Job, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job = job
        self._fn = fn
        self._args = args
        self._kwargs = kwargs

    def run(self) -> None:
        self._job._run(self._fn, self._args, self._kwargs)


def run_in_thread(
    fn: Callable[..., Any],
    *args: Any,
    on_progress: Callable[[Any], None] | None = None,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> Job:
    """Start ``fn(*args, **kwargs)`` in the background and return its :class:`Job`.

    ``on_progress(value)``, ``on_done(result)`` and ``on_error(message)`` run in
    the GUI thread. Call from the GUI thread (the job lives in the caller's thread).
    """
    job = Job(name or str(getattr(fn, "__name__", "job")))
    if on_progress is not None:
        job.progress.connect(on_progress)
    if on_done is not None:
        job.succeeded.connect(on_done)
    if on_error is not None:
        job.failed.connect(on_error)
    _running.add(job)
    job.finished.connect(lambda: _running.discard(job))
    job_pool().start(_Runnable(job, fn, args, kwargs))
    return job


_running: set[Job] = set()
"""Jobs not yet finished: kept alive here so that a caller may drop its reference."""
