"""A toolbar button that runs an action but keeps its own short text, so that an
action whose text changes (Undo "Set car = present on 12 images") does not resize the
toolbar; the action's full text is the tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolButton, QWidget


class StillActionButton(QToolButton):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self._action: QAction | None = None
        self.setText(text)
        self.setEnabled(False)
        self.setAutoRaise(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.clicked.connect(self._trigger)

    def set_action(self, action: QAction | None) -> None:
        if self._action is not None:
            self._action.changed.disconnect(self._sync)
        self._action = action
        if action is not None:
            action.changed.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        action = self._action
        self.setEnabled(action is not None and action.isEnabled())
        if action is None:
            self.setToolTip("")
            return
        self.setIcon(action.icon())
        self.setToolTip(action.text().replace("&", "") or self._text)

    def _trigger(self) -> None:
        if self._action is not None and self._action.isEnabled():
            self._action.trigger()
