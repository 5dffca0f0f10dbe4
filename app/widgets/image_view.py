"""The current image, large: fit to the view, zoom with the wheel, pan by dragging.

Files are decoded off the GUI thread (``QImageReader`` in a ``QRunnable`` on a
private ``QThreadPool`` makes a ``QImage``; the GUI thread turns it into a
``QPixmap``) and kept in a small LRU cache, so that ``prefetch`` can decode
the next images while the annotator looks at this one. A missing or unreadable
file shows a placeholder that says so; the labels are never touched here.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtCore import (
    QObject,
    QPointF,
    QRect,
    QRectF,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QImageReader,
    QMouseEvent,
    QPainter,
    QPalette,
    QPixmap,
    QResizeEvent,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from app.orientation import read_oriented

DEFAULT_CACHE_SIZE = 8
DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
MIN_DECODE_SIDE = 2048
"""Decoded images are at most about twice the screen, but never smaller than this."""
LOADING_DELAY_MS = 150
"""A decode slower than this replaces the previous image with a "Loading" note."""
ZOOM_LIMITS = (0.02, 40.0)
_ALLOCATION_LIMIT_MB = 1024


@dataclass(frozen=True)
class DecodeResult:
    """What a decode job produced: an image, or why there is none."""

    image_id: int
    path: str
    image: QImage | None
    outcome: str
    """"ok", "missing", "unreadable" or "skipped" (no longer wanted when its turn came)."""
    error: str = ""


def decode_image(image_id: int, path: str, max_side: int) -> DecodeResult:
    """Read one file with EXIF orientation applied, scaled down to ``max_side`` at most.

    Safe to call from any thread (``QImage`` and ``QImageReader`` are not GUI objects).
    """
    if not os.path.exists(path):
        return DecodeResult(image_id, path, None, "missing", "the file does not exist")
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    reader.setAllocationLimit(_ALLOCATION_LIMIT_MB)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > max_side:
        # JPEG decodes straight at the smaller size (libjpeg scaling): fast and lean.
        reader.setScaledSize(size.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio))
    image = read_oriented(reader, path)
    if image.isNull():
        reason = reader.errorString() or "not an image Qt can read"
        if size.isValid() and size.width() * size.height() * 4 > _ALLOCATION_LIMIT_MB << 20:
            reason = f"too large to show ({size.width():,} × {size.height():,} px)"
        return DecodeResult(image_id, path, None, "unreadable", reason)
    # Convert here, off the GUI thread, so QPixmap.fromImage has nothing left to do.
    wanted = (
        QImage.Format.Format_ARGB32_Premultiplied
        if image.hasAlphaChannel()
        else QImage.Format.Format_RGB32
    )
    if image.format() != wanted:
        image = image.convertToFormat(wanted)
    return DecodeResult(image_id, path, image, "ok")


class _DecodeSignals(QObject):
    """Lives in the GUI thread; jobs emit through it, so delivery is queued to that thread."""

    finished = Signal(object)  # DecodeResult


class _Wanted:
    """The decodes still wanted (current image and latest prefetch), shared with the jobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[tuple[int, str]] = set()

    def replace(self, keys: set[tuple[int, str]]) -> None:
        with self._lock:
            self._keys = set(keys)

    def add(self, key: tuple[int, str]) -> None:
        with self._lock:
            self._keys.add(key)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._keys


class _DecodeJob(QRunnable):
    def __init__(
        self, signals: _DecodeSignals, wanted: _Wanted, image_id: int, path: str, max_side: int
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._signals = signals
        self._wanted = wanted
        self._image_id = image_id
        self._path = path
        self._max_side = max_side

    def run(self) -> None:
        if (self._image_id, self._path) not in self._wanted:
            result = DecodeResult(self._image_id, self._path, None, "skipped")
        else:
            try:
                result = decode_image(self._image_id, self._path, self._max_side)
            except Exception as exc:
                result = DecodeResult(self._image_id, self._path, None, "unreadable", str(exc))
        self._signals.finished.emit(result)


def _image_bytes(image: QImage) -> int:
    return int(image.sizeInBytes())


class ImageView(QGraphicsView):
    """One image, large. ``show_image`` is cheap: decoding happens on worker threads."""

    image_shown = Signal(int)
    """The image (or its placeholder) is painted: the current image's pixels are on screen."""
    image_decoded = Signal(int)
    """A decode (current image or prefetch) has landed in the cache."""

    def __init__(
        self,
        parent: QWidget | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("imageView")
        self.setAccessibleName("Image")
        self._scene = QGraphicsScene(self)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self.setScene(self._scene)
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        # Zooming anchors itself (see _zoom): AnchorUnderMouse needs the real cursor.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        # Keys belong to the window's shortcuts (arrows = next / previous image), not to
        # scrolling this view; the wheel and dragging still work.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMinimumSize(120, 90)

        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._signals = _DecodeSignals()
        self._signals.finished.connect(self._on_decoded)
        self._wanted = _Wanted()
        self._cache: OrderedDict[int, tuple[str, QImage]] = OrderedDict()
        self._cache_size = max(1, cache_size)
        self._cache_bytes = cache_bytes
        self._pending: set[tuple[int, str]] = set()
        self._prefetched: set[tuple[int, str]] = set()
        self._max_side: int | None = None

        self._current_id: int | None = None
        self._current_path: str | None = None
        self._title = ""
        self._displayed = False  # the current image's pixels (or its placeholder) are shown
        self._message = ""
        self._fit_mode = True
        self.decode_count = 0
        """Decodes run so far, failed ones and prefetches included (a cache hit is none)."""

        self._loading_timer = QTimer(self)
        self._loading_timer.setSingleShot(True)
        self._loading_timer.setInterval(LOADING_DELAY_MS)
        self._loading_timer.timeout.connect(self._show_loading)
        self._show_text("No image")

    # -- public API ------------------------------------------------------------------

    def show_image(self, image_id: int, path: str | None, status: str, title: str) -> None:
        """Show an image: at once from the cache, else as soon as its decode lands.

        ``status`` is the recorded one ("ok", "missing", "unreadable"); the file is
        tried anyway, since it may have come back. ``title`` names it in notes.
        """
        same = image_id == self._current_id and path == self._current_path
        if same and self._displayed:
            self.image_shown.emit(image_id)
            return
        self._current_id = image_id
        self._current_path = path
        self._title = title
        self._displayed = False
        if not same:
            self._fit_mode = True
        self._loading_timer.stop()
        if path is None:
            self._show_failure(image_id, f"No file is recorded for {title} — labels are kept")
            return
        key = (image_id, path)
        # Only this image and the prefetch list stay wanted: queued decodes of images
        # skipped past are dropped when their turn comes.
        self._wanted.replace(self._prefetched | {key})
        cached = self._cache.get(image_id)
        if cached is not None and cached[0] == path:
            self._cache.move_to_end(image_id)
            self._display(image_id, cached[1])
            return
        self._start_decode(key, priority=1)
        self._loading_timer.start()

    def prefetch(self, items: list[tuple[int, str]]) -> None:
        """Decode these images ahead (in order) so that showing them later is instant.

        Replaces the previous prefetch list: queued decodes no longer wanted are skipped.
        """
        keys = [(int(i), p) for i, p in items if p is not None][: self._cache_size - 1]
        wanted = set(keys)
        if self._current_id is not None and self._current_path is not None:
            wanted.add((self._current_id, self._current_path))
        self._wanted.replace(wanted)
        self._prefetched = set(keys)
        for key in keys:
            cached = self._cache.get(key[0])
            if cached is not None and cached[0] == key[1]:
                self._cache.move_to_end(key[0])
                continue
            self._start_decode(key, priority=0)

    def fit(self) -> None:
        """Fit the whole image to the view, and keep it fitted as the view resizes."""
        self._fit_mode = True
        self._apply_fit()

    def zoom_by(self, factor: float) -> None:
        """Zoom around the view's centre (the wheel zooms around the cursor)."""
        self._zoom(factor)

    def clear(self, message: str = "No image") -> None:
        """Show no image, only ``message``."""
        self._current_id = None
        self._current_path = None
        self._loading_timer.stop()
        self._wanted.replace(self._prefetched)
        self._show_text(message)

    def clear_cache(self) -> None:
        """Forget every decoded image (the one on screen stays on screen)."""
        self._cache.clear()

    def current_image_id(self) -> int | None:
        return self._current_id

    def message(self) -> str:
        """The placeholder text on screen, or "" while an image is shown."""
        return self._message

    def displayed_size(self) -> QSize:
        """Pixel size of the decoded image on screen (empty while a placeholder shows)."""
        return QSize() if self._message else self._item.pixmap().size()

    def is_fitted(self) -> bool:
        return self._fit_mode

    def zoom_factor(self) -> float:
        """Scene (image) pixels to view pixels: 1.0 is 100 %."""
        return float(self.transform().m11())

    def cached_ids(self) -> list[int]:
        """Ids of the decoded images held, least recently used first."""
        return list(self._cache)

    def max_decode_side(self) -> int:
        """Longest side a file is decoded at: about twice the screen, at least 2048 px."""
        if self._max_side is not None:
            return self._max_side
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return MIN_DECODE_SIDE
        size = screen.geometry().size() * screen.devicePixelRatio()
        return max(MIN_DECODE_SIDE, 2 * max(size.width(), size.height()))

    def set_max_decode_side(self, pixels: int | None) -> None:
        """Override the decode size limit (None: derive it from the screen)."""
        self._max_side = pixels

    def shutdown(self) -> None:
        """Drop queued decodes and wait for running ones (before the application quits)."""
        self._wanted.replace(set())
        self._pool.clear()
        self._pool.waitForDone(5000)

    # -- decoding ----------------------------------------------------------------------

    def _start_decode(self, key: tuple[int, str], priority: int) -> None:
        if key in self._pending:
            return
        self._pending.add(key)
        job = _DecodeJob(self._signals, self._wanted, key[0], key[1], self.max_decode_side())
        self._pool.start(job, priority)

    def _on_decoded(self, result: DecodeResult) -> None:
        key = (result.image_id, result.path)
        self._pending.discard(key)
        is_current = key == (self._current_id, self._current_path)
        if result.outcome == "skipped":
            if key in self._wanted:  # wanted again since it was skipped
                self._start_decode(key, priority=1 if is_current else 0)
            return
        self.decode_count += 1
        if result.image is not None:
            self._remember(result.image_id, result.path, result.image)
            self.image_decoded.emit(result.image_id)
        if not is_current or self._displayed:
            return  # a stale result: kept in the cache, not shown
        assert self._current_id is not None
        if result.image is not None:
            self._display(self._current_id, result.image)
        elif result.outcome == "missing":
            self._show_failure(self._current_id, f"File not found: {result.path} — labels are kept")
        else:
            self._show_failure(
                self._current_id,
                f"Cannot read {result.path}: {result.error} — labels are kept",
            )

    def _remember(self, image_id: int, path: str, image: QImage) -> None:
        self._cache[image_id] = (path, image)
        self._cache.move_to_end(image_id)
        total = sum(_image_bytes(i) for _, i in self._cache.values())
        while len(self._cache) > 1 and (
            len(self._cache) > self._cache_size or total > self._cache_bytes
        ):
            _, (_, dropped) = self._cache.popitem(last=False)
            total -= _image_bytes(dropped)

    # -- showing -----------------------------------------------------------------------

    def _display(self, image_id: int, image: QImage) -> None:
        self._loading_timer.stop()
        self._message = ""
        self._item.setPixmap(QPixmap.fromImage(image))
        self._item.setVisible(True)
        self._scene.setSceneRect(self._item.boundingRect())
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        if self._fit_mode:
            self._apply_fit()
        self._announce(image_id)

    def _show_failure(self, image_id: int, text: str) -> None:
        self._loading_timer.stop()
        self._show_text(text)
        self._announce(image_id)

    def _show_loading(self) -> None:
        if not self._displayed:
            self._show_text(f"Loading {self._title}…")

    def _show_text(self, text: str) -> None:
        self._message = text
        self._item.setPixmap(QPixmap())
        self._item.setVisible(False)
        self._scene.setSceneRect(QRectF(0, 0, 1, 1))
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.resetTransform()
        self.viewport().update()

    def _announce(self, image_id: int) -> None:
        self._displayed = True
        # Paint now rather than at the next event-loop turn: when image_shown is
        # emitted the pixels are in the window's backing store.
        self.viewport().repaint()
        self.image_shown.emit(image_id)

    def _apply_fit(self) -> None:
        if self._message or self._item.pixmap().isNull():
            return
        # A fitted image needs no scroll bars; with them "as needed" their coming and
        # going resizes the viewport after the fit was computed (cropped, scrolled).
        self._set_scroll_bars(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)

    def _set_scroll_bars(self, policy: Qt.ScrollBarPolicy) -> None:
        if self.horizontalScrollBarPolicy() != policy:
            self.setHorizontalScrollBarPolicy(policy)
            self.setVerticalScrollBarPolicy(policy)

    def _zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by ``factor`` keeping the image point under ``anchor`` (view pixels) in place."""
        if self._message or self._item.pixmap().isNull():
            return
        low, high = ZOOM_LIMITS
        current = self.zoom_factor()
        target = min(high, max(low, current * factor))
        if target == current:
            return
        viewport_centre = QPointF(self.viewport().rect().center())
        at = viewport_centre if anchor is None else anchor
        fixed = self.mapToScene(at.toPoint())
        self._fit_mode = False
        self._set_scroll_bars(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scale(target / current, target / current)
        # Centre the view so that ``fixed`` lands under ``at`` again (clamped at the edges).
        self.centerOn(fixed - (at - viewport_centre) / target)

    # -- events --------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            event.ignore()
            return
        self._zoom(1.0015**delta, event.position())  # one notch (120) ≈ ×1.2
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """Double click: fit ↔ 100 % around the clicked point."""
        if self._message or self._item.pixmap().isNull():
            return
        if self._fit_mode:
            anchor: QPointF = self.mapToScene(event.position().toPoint())
            self._fit_mode = False
            self._set_scroll_bars(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
            self.resetTransform()
            self.centerOn(anchor)
        else:
            self.fit()
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self._apply_fit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._fit_mode:  # the layout settles after the first show: fit once it has
            QTimer.singleShot(0, self._apply_fit_if_fitting)

    def _apply_fit_if_fitting(self) -> None:
        if self._fit_mode:
            self._apply_fit()

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        window = self.palette().color(QPalette.ColorRole.Window)
        backdrop = window.darker(108) if window.lightness() > 128 else window.darker(135)
        painter.fillRect(rect, backdrop)
        if not self._message:
            return
        painter.save()
        painter.resetTransform()
        self._paint_message(painter, backdrop)
        painter.restore()

    def _paint_message(self, painter: QPainter, backdrop: QColor) -> None:
        area = self.viewport().rect().adjusted(24, 24, -24, -24)
        if area.width() < 40 or area.height() < 20:
            return
        font = painter.font()
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 1.1)
        painter.setFont(font)
        flags = int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap)
        width = min(area.width(), 560)
        bounds = painter.boundingRect(QRectF(0, 0, width - 32, 10_000), flags, self._message)
        card = QRectF(0, 0, bounds.width() + 32, bounds.height() + 24)
        card.moveCenter(QRectF(area).center())
        text = self.palette().color(QPalette.ColorRole.WindowText)
        fill = backdrop.lighter(112) if backdrop.lightness() > 128 else backdrop.lighter(140)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(text.red(), text.green(), text.blue(), 60))
        painter.setBrush(fill)
        painter.drawRoundedRect(card, 8, 8)
        painter.setPen(text)
        painter.drawText(card.adjusted(16, 12, -16, -12), flags, self._message)

    def sizeHint(self) -> QSize:
        return QSize(800, 600)
