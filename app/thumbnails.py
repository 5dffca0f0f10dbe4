"""Thumbnails decoded off the GUI thread, cached as pixmaps on it.

Requests go on a stack served newest first (the rows painted last are the
ones on screen) by a few ``QRunnable`` workers on a private ``QThreadPool``.
Workers make a ``QImage`` (never a ``QPixmap``: that is GUI-thread only) with
``QImageReader`` — EXIF orientation applied, JPEGs decoded already scaled
down — and hand ``(image_id, QImage)`` to the GUI thread through a queued
signal, where it becomes a pixmap in a bounded LRU cache and
``thumbnail_ready(image_id)`` tells the views. A file that is gone or cannot
be decoded gets a drawn placeholder, never an exception.

A request is de-duplicated while it waits or runs; ``clear_pending()``
forgets the ones no worker has started (the view calls it when it scrolls,
then repaints and asks again for what is visible); ``invalidate()`` starts a
new generation, so results of older requests are dropped on arrival.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict

from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QObject,
    QPointF,
    QRectF,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QImage, QImageReader, QPainter, QPen, QPixmap

from app.orientation import read_oriented

THUMBNAIL_SIZE = 128
"""Longest side of a thumbnail in logical pixels."""

DEFAULT_CACHE_BYTES = 192 * 1024 * 1024
"""About 4,000 thumbnails of 128 × 96 at a device pixel ratio of 1, 1,000 at 2."""

MISSING = "missing"
UNREADABLE = "unreadable"


def decode_thumbnail(path: str, edge: int) -> tuple[QImage, str]:
    """Decode ``path`` to a QImage whose longest side is at most ``edge`` pixels.

    Returns ``(image, "")``, or a null image and the reason (``MISSING`` or
    ``UNREADABLE``). Safe to call from any thread; never raises for a bad file.
    """
    try:
        if not os.path.isfile(path):
            return QImage(), MISSING
        reader = QImageReader(path)
        reader.setAutoTransform(True)  # EXIF orientation
        size = reader.size()  # as stored, before the EXIF transform
        if size.isValid() and (size.width() > edge or size.height() > edge):
            # The scaled size applies before the transform; keeping the stored
            # aspect ratio makes the rotated result fit the box as well.
            reader.setScaledSize(size.scaled(edge, edge, Qt.AspectRatioMode.KeepAspectRatio))
        image = read_oriented(reader, path)
        if image.isNull():
            return QImage(), UNREADABLE
        if image.width() > edge or image.height() > edge:  # size was unknown up front
            image = image.scaled(
                edge,
                edge,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        # Formats the raster paint engine draws without converting.
        wanted = (
            QImage.Format.Format_ARGB32_Premultiplied
            if image.hasAlphaChannel()
            else QImage.Format.Format_RGB32
        )
        if image.format() != wanted:
            image = image.convertToFormat(wanted)
        return image, ""
    except Exception:  # an odd file must not kill a worker thread
        return QImage(), UNREADABLE


def draw_placeholder(size: int, dpr: float, reason: str) -> QPixmap:
    """A grey 4:3 box with a broken-picture glyph and the reason, for files we cannot show."""
    width, height = size, size * 3 // 4
    pixmap = QPixmap(QSize(round(width * dpr), round(height * dpr)))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    box = QRectF(0.5, 0.5, width - 1, height - 1)
    painter.setPen(QPen(QColor("#8c8c8c"), 1))
    painter.setBrush(QColor("#5f6368") if reason == MISSING else QColor("#6b6258"))
    painter.drawRoundedRect(box, 6, 6)
    # The glyph: a small picture frame with a diagonal strike.
    glyph = QRectF(width / 2 - 16, height / 2 - 26, 32, 24)
    painter.setPen(QPen(QColor("#e8e8e8"), 2))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(glyph, 3, 3)
    painter.drawLine(glyph.bottomLeft() + QPointF(4, -4), glyph.topRight() + QPointF(-4, 4))
    painter.setPen(QColor("#f0f0f0"))
    font = QFont(painter.font())
    font.setPixelSize(12)
    font.setBold(True)
    painter.setFont(font)
    text_box = QRectF(0, height / 2 + 4, width, 18)
    painter.drawText(text_box, Qt.AlignmentFlag.AlignCenter, reason)
    painter.end()
    return pixmap


class _JobQueue:
    """What the GUI thread and the workers share, under one lock (plain Python, no Qt)."""

    def __init__(self, max_workers: int) -> None:
        self.lock = threading.Lock()
        self.pending: OrderedDict[int, str] = OrderedDict()  # image id → path, newest last
        self.wanted: set[int] = set()  # pending or being decoded, this generation
        self.generation = 0
        self.edge = THUMBNAIL_SIZE
        self.workers = 0
        self.max_workers = max_workers
        self.closed = False

    def push(self, image_id: int, path: str) -> bool:
        """Queue a request; True if a new worker should be started for it."""
        with self.lock:
            if self.closed or image_id in self.wanted:
                return False
            self.wanted.add(image_id)
            self.pending[image_id] = path
            if self.workers < self.max_workers:
                self.workers += 1
                return True
            return False

    def take(self) -> tuple[int, str, int, int] | None:
        """The newest request as (id, path, edge, generation); None ends the worker."""
        with self.lock:
            if not self.pending or self.closed:
                self.workers -= 1
                return None
            image_id, path = self.pending.popitem(last=True)
            return image_id, path, self.edge, self.generation

    def finish(self, image_id: int, generation: int) -> bool:
        """A result arrived on the GUI thread: False if it belongs to an older generation."""
        with self.lock:
            if generation != self.generation:
                return False
            self.wanted.discard(image_id)
            return True

    def clear_pending(self) -> None:
        with self.lock:
            self.wanted.difference_update(self.pending)
            self.pending.clear()

    def new_generation(self, edge: int) -> None:
        with self.lock:
            self.generation += 1
            self.edge = edge
            self.pending.clear()
            self.wanted.clear()

    def close(self, *_: object) -> None:
        with self.lock:
            self.closed = True
            self.pending.clear()
            self.wanted.clear()

    def in_flight(self) -> int:
        with self.lock:
            return len(self.wanted)

    def running(self) -> int:
        with self.lock:
            return self.workers


class _DecodeJob(QRunnable):
    """A worker: decodes the newest pending request until none is left.

    It holds the loader only weakly, so that the loader (a QObject) is never
    deleted on a worker thread.
    """

    def __init__(self, queue: _JobQueue, loader: ThumbnailLoader) -> None:
        super().__init__()
        self._queue = queue
        self._loader = weakref.ref(loader)
        self.setAutoDelete(True)

    def run(self) -> None:
        while (job := self._queue.take()) is not None:
            image_id, path, edge, generation = job
            image, reason = decode_thumbnail(path, edge)
            loader = self._loader()
            if loader is None:
                self._queue.close()
                continue
            try:
                loader._decoded.emit(image_id, generation, image, reason)
            except RuntimeError:  # the loader's Qt object is gone (application closing)
                self._queue.close()
            del loader


_POOL: QThreadPool | None = None


def _thread_pool() -> QThreadPool:
    """The thumbnail workers' own pool (not Qt's global one), alive as long as the program.

    Module-owned on purpose: a pool owned by a loader would make deleting the
    loader wait for its workers, which need the GIL that the deleting thread holds.
    """
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setObjectName("mtlabel-thumbnails")
        _POOL.setMaxThreadCount(max(1, min(4, (os.cpu_count() or 2) - 1)))
    return _POOL


class ThumbnailLoader(QObject):
    """Decode thumbnails in the background; keep the recent ones as pixmaps.

    ``pixmap(image_id)`` answers from the cache (None if not loaded);
    ``request(image_id, path)`` queues a decode; ``thumbnail_ready(image_id)``
    fires on the GUI thread once ``pixmap(image_id)`` has it (a placeholder
    for missing or unreadable files).
    """

    thumbnail_ready = Signal(int)
    """image id: its thumbnail (or placeholder) is now in the cache."""
    image_decoded = Signal(int, QImage)
    """(image id, QImage) on the GUI thread, as a worker delivered it (null for failures)."""

    # Emitted by workers; connected queued, so the slot runs on the GUI thread.
    _decoded = Signal(int, int, QImage, str)

    def __init__(
        self,
        size: int = THUMBNAIL_SIZE,
        parent: QObject | None = None,
        *,
        max_threads: int | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        super().__init__(parent)
        self.size = size
        self._dpr = 1.0
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = cache_bytes
        self._reasons: dict[int, str] = {}
        self._placeholders: dict[tuple[str, float], QPixmap] = {}
        threads = max_threads or max(1, min(4, (os.cpu_count() or 2) - 1))
        self._queue = _JobQueue(threads)
        self._queue.edge = size
        self._pool = _thread_pool()
        self.destroyed.connect(self._queue.close)
        application = QCoreApplication.instance()
        if application is not None:  # stop decoding before the interpreter winds down
            application.aboutToQuit.connect(self._queue.close)
        self._decoded.connect(self._on_decoded, Qt.ConnectionType.QueuedConnection)

    # -- asking ------------------------------------------------------------------

    def pixmap(self, image_id: int) -> QPixmap | None:
        """The cached thumbnail (or placeholder), or None if it is not loaded."""
        pixmap = self._cache.get(image_id)
        if pixmap is not None:
            self._cache.move_to_end(image_id)
        return pixmap

    def failure(self, image_id: int) -> str | None:
        """Why the cached thumbnail is a placeholder (``MISSING``/``UNREADABLE``), else None."""
        return self._reasons.get(image_id)

    def request(self, image_id: int, path: str) -> None:
        """Queue a decode unless it is cached, waiting or running; newest requests go first."""
        if image_id not in self._cache and self._queue.push(image_id, path):
            self._pool.start(_DecodeJob(self._queue, self))

    def clear_pending(self) -> None:
        """Forget requests no worker has started (rows scrolled out of view)."""
        self._queue.clear_pending()

    def in_flight(self) -> int:
        """Requests waiting or being decoded."""
        return self._queue.in_flight()

    # -- invalidating --------------------------------------------------------------

    def device_pixel_ratio(self) -> float:
        return self._dpr

    def set_device_pixel_ratio(self, dpr: float) -> None:
        """Decode for this many device pixels per logical pixel (HiDPI); drops the cache."""
        dpr = max(1.0, float(dpr))
        if dpr != self._dpr:
            self._dpr = dpr
            self.invalidate()

    def invalidate(self, image_ids: list[int] | None = None) -> None:
        """Drop cached thumbnails (all, or of these images) and every request in flight."""
        self._queue.new_generation(round(self.size * self._dpr))
        if image_ids is None:
            self._cache.clear()
            self._reasons.clear()
            self._cache_bytes = 0
            return
        for image_id in image_ids:
            pixmap = self._cache.pop(image_id, None)
            if pixmap is not None:
                self._cache_bytes -= _bytes(pixmap)
            self._reasons.pop(image_id, None)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop taking requests and wait for the running decodes; False on time-out."""
        self._queue.close()
        deadline = time.monotonic() + timeout_ms / 1000
        while self._queue.running() and time.monotonic() < deadline:
            # Let a worker blocked on delivering its result finish.
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
            time.sleep(0.002)
        return not self._queue.running()

    def placeholder(self, reason: str) -> QPixmap:
        """The pixmap shown for a file that is ``MISSING`` or ``UNREADABLE``."""
        key = (reason, self._dpr)
        pixmap = self._placeholders.get(key)
        if pixmap is None:
            pixmap = draw_placeholder(self.size, self._dpr, reason)
            self._placeholders[key] = pixmap
        return pixmap

    # -- results -------------------------------------------------------------------

    @Slot(int, int, QImage, str)
    def _on_decoded(self, image_id: int, generation: int, image: QImage, reason: str) -> None:
        if not self._queue.finish(image_id, generation):
            return
        self.image_decoded.emit(image_id, image)
        if reason:
            pixmap = self.placeholder(reason)
            self._reasons[image_id] = reason
        else:
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self._dpr)
            self._reasons.pop(image_id, None)
        self._store(image_id, pixmap)
        self.thumbnail_ready.emit(image_id)

    def _store(self, image_id: int, pixmap: QPixmap) -> None:
        old = self._cache.pop(image_id, None)
        if old is not None:
            self._cache_bytes -= _bytes(old)
        self._cache[image_id] = pixmap
        self._cache_bytes += _bytes(pixmap)
        while self._cache_bytes > self._cache_limit and len(self._cache) > 1:
            evicted_id, evicted = self._cache.popitem(last=False)
            self._cache_bytes -= _bytes(evicted)
            self._reasons.pop(evicted_id, None)


def _bytes(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4
