"""The Qt binding must not leak or drop references on ordinary calls.

PySide6 6.12.0 on Python 3.11 dropped a reference to ``None`` on every call
returning nothing; after a few thousand label clicks the interpreter aborted
("deallocating None"). This test fails on any binding with that bug.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot


def test_calls_returning_nothing_keep_the_reference_count_of_none(qtbot: QtBot) -> None:
    label = QLabel()
    button = QPushButton()
    qtbot.addWidget(label)
    qtbot.addWidget(button)
    button.setCheckable(True)
    before = sys.getrefcount(None)
    for i in range(2000):
        label.setText(str(i % 7))
        button.setChecked(bool(i % 2))
    assert sys.getrefcount(None) - before > -100
