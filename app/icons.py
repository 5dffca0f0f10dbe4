"""Icons the style does not have: Fusion's standard pixmaps hold no undo or redo, and
their arrows are already Previous and Next Image. Drawn once, in the palette's text
colour, so they suit light and dark themes."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QTransform

SIZE = 64


def _undo_pixmap(colour: QColor) -> QPixmap:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(colour, SIZE * 0.1, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    # A hook: from the arrow head at the left, over the top, down to the right.
    path = QPainterPath(QPointF(SIZE * 0.22, SIZE * 0.42))
    path.arcTo(QRectF(SIZE * 0.22, SIZE * 0.2, SIZE * 0.56, SIZE * 0.5), 180, -200)
    painter.drawPath(path)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    head = QPainterPath(QPointF(SIZE * 0.06, SIZE * 0.36))
    head.lineTo(SIZE * 0.38, SIZE * 0.36)
    head.lineTo(SIZE * 0.22, SIZE * 0.62)
    head.closeSubpath()
    painter.drawPath(head)
    painter.end()
    return pixmap


def undo_icon(colour: QColor) -> QIcon:
    return QIcon.fromTheme("edit-undo", QIcon(_undo_pixmap(colour)))


def redo_icon(colour: QColor) -> QIcon:
    mirrored = _undo_pixmap(colour).transformed(QTransform().scale(-1, 1))
    return QIcon.fromTheme("edit-redo", QIcon(mirrored))
