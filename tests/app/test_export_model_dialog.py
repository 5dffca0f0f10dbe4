"""Export Model from the window: a folder that does not exist yet is created, Return
does not cancel, a cancelled export says so. A stand-in replaces ``mtlabel
export-model`` (no torch in the window's tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from app.dialogs.export_model import ExportModelFlow, export_model_dialog
from app.session import ProjectSession
from tests.app import panel_fixtures
from tests.app.panel_fixtures import DialogAnswerer, press_ok

dialog_answers = panel_fixtures.dialog_answers
isolated_settings = panel_fixtures.isolated_settings
panel_project = panel_fixtures.panel_project
panel_session = panel_fixtures.panel_session

STAND_IN = """
import json, os, sys, time
args = sys.argv[1:]
out = args[args.index("-o") + 1]
time.sleep(float(os.environ.get("STAND_IN_SLEEP", "0")))
os.makedirs(out, exist_ok=True)
for name in ("model.pt", "model.json"):
    open(os.path.join(out, name), "w").write("x")
print(json.dumps({"out_dir": out, "files": ["model.pt", "model.json"], "notes": []}))
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> list[str]:
    script = tmp_path / "export_stand_in.py"
    script.write_text(STAND_IN, encoding="utf-8")
    return [sys.executable, str(script)]


def test_export_to_a_folder_that_does_not_exist_yet_creates_it(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    stand_in: list[str],
    dialog_answers: DialogAnswerer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "new" / "my-model"  # neither folder exists
    asked: list[str] = []

    def save_dialog(*args: object, **kw: object) -> tuple[str, str]:
        asked.append(str(args[2]))  # the suggested folder
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_dialog))
    messages: list[str] = []

    def read(box: QMessageBox) -> None:
        messages.append(box.text())
        press_ok(box)

    dialog_answers.expect(QMessageBox, read)
    flow = export_model_dialog(None, panel_session, 3, program=stand_in)
    assert isinstance(flow, ExportModelFlow)
    qtbot.waitUntil(lambda: bool(messages), timeout=20_000)
    assert messages == ["Run 3 exported."]
    assert (target / "model.pt").is_file()
    assert asked[0].endswith("-run3-model")


def test_return_during_an_export_does_not_cancel_it_and_cancel_says_so(
    qtbot: QtBot,
    panel_session: ProjectSession,
    tmp_path: Path,
    stand_in: list[str],
    dialog_answers: DialogAnswerer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAND_IN_SLEEP", "1.5")
    messages: list[str] = []

    def read(box: QMessageBox) -> None:
        messages.append(box.text() + " " + box.informativeText())
        press_ok(box)

    dialog_answers.expect(QMessageBox, read)
    flow = export_model_dialog(None, panel_session, 2, folder=tmp_path / "first", program=stand_in)
    assert flow is not None
    qtbot.waitUntil(flow.progress.isVisible)
    QTest.keyClick(flow.progress, Qt.Key.Key_Return)
    QTest.keyClick(flow.progress, Qt.Key.Key_Enter)
    qtbot.waitUntil(lambda: bool(messages), timeout=20_000)
    assert messages[0].startswith("Run 2 exported.")  # Return did not stop it

    dialog_answers.expect(QMessageBox, read)
    second = export_model_dialog(
        None, panel_session, 2, folder=tmp_path / "second", program=stand_in
    )
    assert second is not None
    qtbot.waitUntil(second.progress.isVisible)
    cancel = second.progress.findChild(QPushButton)
    assert cancel is not None and cancel.text() == "Cancel"
    QTest.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(messages) == 2, timeout=20_000)
    assert "was cancelled" in messages[1] and "left as it was" in messages[1]
    assert not (tmp_path / "second" / "model.pt").exists()
