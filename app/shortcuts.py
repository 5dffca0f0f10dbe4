"""Digit keys for the label panel, independent of the keyboard layout.

``1``–``9`` cycle task k, ``Shift+1``–``9`` set it absent, ``Ctrl+1``–``9`` set it
unknown. Shift+digit arrives as a symbol on most layouts ("!" on US, "!" or "§"
elsewhere), so the filter maps the US symbols back to digits and also accepts a
digit key with Shift held (keypads, tests, other layouts).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QTextEdit

from app.keys import MAX_TASK_KEYS

SHIFTED_DIGITS = {"!": 1, "@": 2, "#": 3, "$": 4, "%": 5, "^": 6, "&": 7, "*": 8, "(": 9}


def digit_of(event: QKeyEvent) -> int | None:
    """1..9 for a digit key (shifted or not), else None."""
    key = event.key()
    if Qt.Key.Key_1.value <= key <= Qt.Key.Key_9.value:
        return key - Qt.Key.Key_0.value
    return SHIFTED_DIGITS.get(event.text())


class DigitKeys(QObject):
    """An application-wide event filter active while ``enabled()`` is true."""

    def __init__(
        self,
        cycle: Callable[[int], None],
        set_value: Callable[[int, int | None], None],
        enabled: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.cycle = cycle
        self.set_value = set_value
        self.enabled = enabled

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not self.enabled():
            return False
        for widget in (QApplication.focusWidget(), watched):  # typing goes to text fields
            if isinstance(widget, QLineEdit | QTextEdit | QAbstractSpinBox):
                return False
            if isinstance(widget, QComboBox) and widget.isEditable():
                return False
        assert isinstance(event, QKeyEvent)
        digit = digit_of(event)
        if digit is None or digit > MAX_TASK_KEYS:
            return False
        mods = event.modifiers()
        index = digit - 1
        if mods & Qt.KeyboardModifier.ControlModifier:
            self.set_value(index, None)
        elif mods & Qt.KeyboardModifier.ShiftModifier or event.text() in SHIFTED_DIGITS:
            self.set_value(index, 0)
        elif mods & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier):
            return False
        else:
            self.cycle(index)
        return True
