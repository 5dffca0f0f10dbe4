"""The keyboard help: a dark, semi-transparent overlay over its parent, listing the keys.

It reads :mod:`app.keys`, the one place the key scheme is written down, so the
help never disagrees with the shortcuts. ``toggle()`` shows or hides it; Esc,
F1, ? or a click closes it, and focus goes back to where it was.

The card is painted, not laid out with widgets: keycaps are drawn shapes, and
one measuring pass that shares its code with the painting pass makes the card
exactly as tall as its wrapped text at any width (two columns side by side,
stacked when the parent is narrow).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QApplication, QWidget

from app.keys import LABEL_KEYS, NAVIGATION_KEYS

SHADE = QColor(8, 10, 14, 190)
"""The veil over the parent."""
CARD = QColor(30, 32, 38)
CARD_EDGE = QColor(255, 255, 255, 38)
TEXT = QColor("#e6e7ea")
TITLE = QColor("#ffffff")
MUTED = QColor("#a2a5ad")
SECTION = QColor("#8fb2ff")
CAP_TOP = QColor("#53565f")
CAP_BOTTOM = QColor("#3d4047")
CAP_EDGE = QColor("#686b74")
CAP_SHADOW = QColor("#17181c")

MARGIN = 24
"""Least space between the card and the parent's edges."""
PADDING = 28
"""Inside the card."""
IDEAL_WIDTH_CHARS = 128
"""The card's width, in widths of "x", when the parent is wide enough."""
STACK_BELOW_CHARS = 100
"""A card narrower than this (in widths of "x") stacks its two columns."""

SECTIONS: tuple[tuple[str, Sequence[tuple[str, str]]], ...] = (
    ("Labelling", LABEL_KEYS),
    ("Moving around", NAVIGATION_KEYS),
)

_JOINERS = {"…", "/", "or", "and", ",", "+"}


def key_tokens(keys: str) -> list[tuple[str, bool]]:
    """Split "Ctrl+Z / Ctrl+Shift+Z" into (text, is_key) parts: keys become keycaps,
    joining words ("or", "/", "…") and mouse words ("wheel, drag") stay plain text."""
    parts: list[tuple[str, bool]] = []
    for token in re.split(r"\s+", keys.strip()):
        if not token:
            continue
        comma = token.endswith(",") and len(token) > 1
        word = token[:-1] if comma else token
        is_key = word not in _JOINERS and not (word.isalpha() and word.islower() and len(word) > 1)
        parts.append((word, is_key))
        if comma:
            parts.append((",", False))
    merged: list[tuple[str, bool]] = []  # plain neighbours read as one phrase
    for text, is_key in parts:
        if merged and not is_key and not merged[-1][1]:
            glue = "" if text == "," else " "
            merged[-1] = (merged[-1][0] + glue + text, False)
        else:
            merged.append((text, is_key))
    return merged


@dataclass(frozen=True)
class _Fonts:
    body: QFont
    title: QFont
    hint: QFont
    section: QFont
    cap: QFont


def _scaled(font: QFont, factor: float, weight: QFont.Weight | None = None) -> QFont:
    scaled = QFont(font)
    if font.pointSizeF() > 0:
        scaled.setPointSizeF(font.pointSizeF() * factor)
    else:
        scaled.setPixelSize(max(6, round(font.pixelSize() * factor)))
    if weight is not None:
        scaled.setWeight(weight)
    return scaled


class HelpOverlay(QWidget):
    """Covers its parent (following its size) and lists the keys in two columns."""

    visibility_changed = Signal(bool)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("helpOverlay")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Keyboard shortcuts")
        self.setAccessibleDescription(
            "; ".join(f"{keys}: {what}" for _, rows in SECTIONS for keys, what in rows)
        )
        self._return_focus: QWidget | None = None
        parent.installEventFilter(self)
        self.hide()

    # -- showing ------------------------------------------------------------------------

    def entries(self) -> list[tuple[str, str]]:
        """(keys, what they do) as listed, labelling keys first."""
        return [entry for _, rows in SECTIONS for entry in rows]

    def toggle(self) -> None:
        if self.isVisible():
            self.close_overlay()
        else:
            self.show_overlay()

    def show_overlay(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        focus = QApplication.focusWidget()
        self._return_focus = focus if focus is not None and focus is not self else None
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.PopupFocusReason)
        self.visibility_changed.emit(True)

    def close_overlay(self) -> None:
        if not self.isVisible():
            return
        self.hide()
        target = self._return_focus
        if target is not None and shiboken6.isValid(target) and target.isVisible():
            target.setFocus(Qt.FocusReason.PopupFocusReason)
        self._return_focus = None
        self.visibility_changed.emit(False)

    def card_rect(self) -> QRect:
        """Where the card is drawn (centred; as tall as its text at its width)."""
        fonts = self._fonts()
        x = QFontMetrics(fonts.body).horizontalAdvance("x")
        width = max(0, min(x * IDEAL_WIDTH_CHARS, self.width() - 2 * MARGIN))
        height = int(self._card(None, QRectF(0, 0, width, 0), fonts))
        rect = QRect(0, 0, width, min(height, max(0, self.height() - 2 * MARGIN)))
        rect.moveCenter(self.rect().center())
        return rect

    # -- painting ------------------------------------------------------------------------

    def _fonts(self) -> _Fonts:
        body = QFont(self.font())
        section = _scaled(body, 0.85, QFont.Weight.Bold)
        section.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 108)
        return _Fonts(
            body=body,
            title=_scaled(body, 1.45, QFont.Weight.DemiBold),
            hint=_scaled(body, 0.92),
            section=section,
            cap=_scaled(body, 0.9, QFont.Weight.DemiBold),
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        painter.fillRect(self.rect(), SHADE)
        card = QRectF(self.card_rect())
        painter.setPen(QPen(CARD_EDGE, 1))
        painter.setBrush(CARD)
        painter.drawRoundedRect(card.adjusted(0.5, 0.5, -0.5, -0.5), 14, 14)
        painter.setClipRect(card)
        self._card(painter, card, self._fonts())
        painter.end()

    def _card(self, painter: QPainter | None, card: QRectF, fonts: _Fonts) -> float:
        """Draw the card's content into ``card`` (or only measure, with no painter);
        return the card's height."""
        left = card.left() + PADDING
        width = card.width() - 2 * PADDING
        y = card.top() + PADDING - 6
        y = _text(painter, fonts.title, TITLE, left, y, width, "Keyboard shortcuts")
        y = _text(
            painter,
            fonts.hint,
            MUTED,
            left,
            y + 2,
            width,
            "Esc, F1 or ? — or a click — closes this help",
        )
        y += 18
        x_width = QFontMetrics(fonts.body).horizontalAdvance("x")
        side_by_side = card.width() >= x_width * STACK_BELOW_CHARS
        gap = 40.0
        column_width = (width - gap) / 2 if side_by_side else width
        bottom = y
        for i, (heading, rows) in enumerate(SECTIONS):
            if side_by_side:
                x0, y0 = left + i * (column_width + gap), y
            else:
                x0, y0 = left, (bottom + 18 if i else y)
            bottom = max(bottom, self._column(painter, fonts, heading, rows, x0, y0, column_width))
        return bottom - card.top() + PADDING

    def _column(
        self,
        painter: QPainter | None,
        fonts: _Fonts,
        heading: str,
        rows: Sequence[tuple[str, str]],
        left: float,
        top: float,
        width: float,
    ) -> float:
        y = _text(painter, fonts.section, SECTION, left, top, width, heading.upper()) + 8
        caps_width = max(_caps(None, fonts, keys, 0, 0) for keys, _ in rows)
        text_left = left + caps_width + 16
        text_width = max(40.0, left + width - text_left)
        cap_height = _cap_height(fonts)
        body_height = QFontMetrics(fonts.body).height()
        for keys, what in rows:
            _caps(painter, fonts, keys, left, y)
            # the description's first line centred on the keycaps
            text_top = y + (cap_height - 2 - body_height) / 2  # 2: the cap's lower edge
            end = _text(painter, fonts.body, TEXT, text_left, text_top, text_width, what)
            y = max(y + cap_height, end) + 9
        return y - 9

    # -- events ------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        parent = self.parentWidget()
        if parent is not None and watched is parent and event.type() == QEvent.Type.Resize:
            self.setGeometry(parent.rect())
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Escape, Qt.Key.Key_F1, Qt.Key.Key_Question) or event.text() == "?":
            self.close_overlay()
            event.accept()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.close_overlay()
        event.accept()


def _text(
    painter: QPainter | None,
    font: QFont,
    colour: QColor,
    left: float,
    top: float,
    width: float,
    text: str,
) -> float:
    """Draw word-wrapped text; return the y below it."""
    fm = QFontMetrics(font)
    flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
    bounds = fm.boundingRect(QRect(0, 0, max(1, int(width)), 100_000), flags, text)
    if painter is not None:
        painter.setFont(font)
        painter.setPen(colour)
        painter.drawText(QRectF(left, top, width, bounds.height()), flags, text)
    return top + bounds.height()


def _cap_height(fonts: _Fonts) -> float:
    return QFontMetrics(fonts.cap).height() + 7.0


def _caps(painter: QPainter | None, fonts: _Fonts, keys: str, left: float, top: float) -> float:
    """Draw ``keys`` as keycaps and joining words from (left, top); return the width used."""
    cap_fm = QFontMetrics(fonts.cap)
    body_fm = QFontMetrics(fonts.body)
    height = _cap_height(fonts)
    x = left
    for i, (text, is_key) in enumerate(key_tokens(keys)):
        if i:
            x += 5
        if is_key:
            width = max(height, cap_fm.horizontalAdvance(text) + 14.0)
            if painter is not None:
                _paint_cap(painter, fonts.cap, QRectF(x, top, width, height), text)
        else:
            width = float(body_fm.horizontalAdvance(text))
            if painter is not None:
                painter.setFont(fonts.body)
                painter.setPen(MUTED)
                painter.drawText(
                    QRectF(x, top, width + 2, height - 2),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    text,
                )
        x += width
    return x - left


def _paint_cap(painter: QPainter, font: QFont, rect: QRectF, text: str) -> None:
    """A keycap: a rounded key with a darker lower edge, lit from above."""
    body = rect.adjusted(0.5, 0.5, -0.5, -2.5)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(CAP_SHADOW)
    painter.drawRoundedRect(rect.adjusted(0.5, 1.5, -0.5, -0.5), 5, 5)
    gradient = QLinearGradient(QPointF(0, body.top()), QPointF(0, body.bottom()))
    gradient.setColorAt(0, CAP_TOP)
    gradient.setColorAt(1, CAP_BOTTOM)
    painter.setPen(QPen(CAP_EDGE, 1))
    painter.setBrush(gradient)
    painter.drawRoundedRect(body, 5, 5)
    painter.setFont(font)
    painter.setPen(TITLE)
    painter.drawText(body, Qt.AlignmentFlag.AlignCenter, text)
