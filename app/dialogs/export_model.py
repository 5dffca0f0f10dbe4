"""Export a trained run as a stand-alone model: choose a folder, run ``mtlabel export-model``.

The export runs as a child process (``python -m core.cli.main export-model PATH
--run ID -o DIR --json``), like training: the window never imports torch, and
tracing a large network (tens of seconds) never freezes it. A busy dialog with
Cancel is shown meanwhile; the end is a message saying which files were written
where, or the command's one-line error.

Which folder: an empty folder is written into; a folder holding an earlier
export is replaced after asking; any other folder gets a new subfolder
``<project>-run<ID>-model`` (replaced after asking, when it already holds an
export). The command itself refuses to replace anything that is not an export.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QObject,
    QProcess,
    QProcessEnvironment,
    QSettings,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QPushButton, QWidget

import core
from app.session import ProjectSession

FOLDER_SETTING = "export_model/folder"
"""QSettings key: the folder the last export was written to (or into)."""
EXPORT_FILES = ("model.pt", "model.onnx", "model.json")
"""What an export writes (core/training/export.py), for recognising an earlier one."""
KILL_AFTER_MS = 10_000
"""Cancel sends SIGTERM; an export still running this long after is killed."""


@dataclass(frozen=True)
class ExportOutcome:
    """How an export process ended."""

    ok: bool
    out_dir: str
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None
    cancelled: bool = False
    summary: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        if self.cancelled:
            return "The export was cancelled; nothing was written."
        if not self.ok:
            return f"The model could not be exported: {self.error}"
        text = f"Written to {self.out_dir}:\n" + "\n".join(f"  • {name}" for name in self.files)
        if self.notes:
            text += "\n\n" + "\n".join(self.notes)
        return text


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-.") or "project"


def is_export(folder: Path) -> bool:
    """True when ``folder`` holds an earlier export and nothing else."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return False
    return "model.json" in names and names <= set(EXPORT_FILES)


def choose_target(folder: Path, project_name: str, run_id: int) -> tuple[Path, bool]:
    """(the folder to write, whether that replaces an earlier export) for a chosen folder."""
    try:
        empty = not any(folder.iterdir())
    except OSError:  # missing or unreadable: the command says what is wrong
        return folder, False
    if empty:
        return folder, False
    if is_export(folder):
        return folder, True
    sub = folder / f"{_safe_name(project_name)}-run{run_id}-model"
    try:
        occupied = sub.is_dir() and any(sub.iterdir())
    except OSError:
        occupied = False
    return sub, occupied


def default_program() -> list[str]:
    """The command that runs the ``mtlabel`` CLI with this interpreter."""
    return [sys.executable, "-m", "core.cli.main"]


def error_line(stderr: str) -> str:
    """The command's one-line error, without the "mtlabel: error: " prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    for prefix in ("mtlabel: error: ", "mtlabel: "):
        line = line.removeprefix(prefix)
    return line


class ModelExport(QObject):
    """One ``mtlabel export-model`` process; ``finished(ExportOutcome)`` exactly once."""

    finished = Signal(object)

    def __init__(
        self,
        parent: QObject | None,
        project_root: str | os.PathLike[str],
        run_id: int,
        out_dir: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        program: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.project_root = os.fspath(project_root)
        self.run_id = run_id
        self.out_dir = os.fspath(out_dir)
        self.overwrite = overwrite
        self.program = program if program is not None else default_program()
        self.outcome: ExportOutcome | None = None
        self._process: QProcess | None = None
        self._cancelled = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    def arguments(self) -> list[str]:
        args = [
            *self.program,
            "export-model",
            self.project_root,
            "--run",
            str(self.run_id),
            "-o",
            self.out_dir,
            "--json",
        ]
        return [*args, "--overwrite"] if self.overwrite else args

    def start(self) -> None:
        command = self.arguments()
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        env = QProcessEnvironment.systemEnvironment()
        source_root = str(Path(core.__file__).resolve().parent.parent)
        path = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", source_root + (os.pathsep + path if path else ""))
        env.insert("PYTHONIOENCODING", "utf-8")
        process.setProcessEnvironment(env)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        process.start(command[0], command[1:])

    def is_running(self) -> bool:
        return self._process is not None

    def cancel(self) -> None:
        """Stop the export: SIGTERM (the command removes its temporary folder and leaves
        the target as it was), SIGKILL if it is still there ``KILL_AFTER_MS`` later."""
        if self._process is not None and not self._cancelled:
            self._cancelled = True
            self._process.terminate()
            self._kill_timer.start(KILL_AFTER_MS)

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            reason = f"could not start {self.program[0]}: {self._process.errorString()}"
            self._finish(ExportOutcome(False, self.out_dir, error=reason))

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        process = self._process
        if process is None:
            return
        stdout = bytes(process.readAllStandardOutput().data()).decode("utf-8", "replace")
        stderr = bytes(process.readAllStandardError().data()).decode("utf-8", "replace")
        # Success even when Cancel came too late to stop it: the files are there.
        if exit_status == QProcess.ExitStatus.NormalExit and exit_code == 0:
            try:
                summary = json.loads(stdout.strip().splitlines()[-1])
                outcome = ExportOutcome(
                    True,
                    str(summary["out_dir"]),
                    tuple(str(f) for f in summary["files"]),
                    tuple(str(n) for n in summary.get("notes", ())),
                    summary=summary,
                )
            except (ValueError, IndexError, KeyError, TypeError):
                outcome = ExportOutcome(
                    False, self.out_dir, error=f"unexpected output: {stdout.strip()[:300]!r}"
                )
            self._finish(outcome)
            return
        if self._cancelled:
            self._finish(ExportOutcome(False, self.out_dir, cancelled=True))
            return
        line = error_line(stderr)
        if exit_status == QProcess.ExitStatus.CrashExit:
            reason = "the export process was killed" + (f" ({line})" if line else "")
        else:
            reason = line or f"the export process ended with status {exit_code}"
        self._finish(ExportOutcome(False, self.out_dir, error=reason))

    def _finish(self, outcome: ExportOutcome) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        self._kill_timer.stop()
        process, self._process = self._process, None
        if process is not None:
            process.deleteLater()
        self.finished.emit(outcome)


class ExportModelFlow(QObject):
    """The export with its busy dialog, then the message saying how it went."""

    def __init__(self, parent: QWidget | None, export: ModelExport) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.export = export
        self.message_box: QMessageBox | None = None
        self.progress = QProgressDialog(
            f"Exporting run {export.run_id} to\n{export.out_dir}…", "Cancel", 0, 0, parent
        )
        self.progress.setWindowTitle("Export model")
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setAutoClose(False)
        self.progress.setAutoReset(False)
        self.progress.setMinimumDuration(0)
        self.progress.setMinimumWidth(420)
        # Return must not stop an export: only a click on Cancel (or Escape) does.
        cancel = QPushButton("Cancel", self.progress)
        cancel.setAutoDefault(False)
        cancel.setDefault(False)
        cancel.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.progress.setCancelButton(cancel)
        self.progress.canceled.connect(export.cancel)
        export.finished.connect(self._done)

    def start(self) -> None:
        self.export.start()
        self.progress.show()

    def _done(self, outcome: ExportOutcome) -> None:
        self.progress.hide()
        self.progress.deleteLater()
        box = QMessageBox(self.parent_widget)
        box.setWindowTitle("Export model")
        if outcome.cancelled:
            box.setIcon(QMessageBox.Icon.Information)
            box.setText(f"The export of run {self.export.run_id} was cancelled.")
            box.setInformativeText(f"{outcome.out_dir} was left as it was.")
            box.addButton(QMessageBox.StandardButton.Ok)
        elif outcome.ok:
            box.setIcon(QMessageBox.Icon.Information)
            box.setText(f"Run {self.export.run_id} exported.")
            box.setInformativeText(outcome.message())
            open_button = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
            open_button.clicked.connect(
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(outcome.out_dir))
            )
            box.addButton(QMessageBox.StandardButton.Ok)
        else:
            box.setIcon(QMessageBox.Icon.Warning)
            box.setText(f"Run {self.export.run_id} could not be exported.")
            box.setInformativeText(outcome.error or "no reason given")
            box.addButton(QMessageBox.StandardButton.Ok)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.message_box = box
        box.open()


def _start_folder(session: ProjectSession) -> str:
    remembered = QSettings().value(FOLDER_SETTING, "")
    if isinstance(remembered, str) and remembered and Path(remembered).parent.is_dir():
        return str(Path(remembered).parent)
    return str(session.project.root)


def export_model_dialog(
    parent: QWidget | None,
    session: ProjectSession,
    run_id: int,
    *,
    folder: str | os.PathLike[str] | None = None,
    program: list[str] | None = None,
) -> ExportModelFlow | None:
    """Ask for a folder (unless ``folder`` is given), then export run ``run_id`` there.

    Returns the running flow (its ``export.finished`` says how it ended), or None when
    the user cancelled the choice. ``program`` replaces the CLI command (tests).
    """
    if folder is None:
        # A save dialog, not "choose an existing folder": the export may go to a folder
        # that does not exist yet (it is created), named here.
        suggestion = Path(_start_folder(session)) / (
            f"{_safe_name(session.project.root.name)}-run{run_id}-model"
        )
        chosen, _ = QFileDialog.getSaveFileName(
            parent,
            f"Export run {run_id}: a new folder, or an empty one",
            str(suggestion),
            "Folder (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not chosen:
            return None
        folder = chosen
    target, replaces = choose_target(Path(folder), session.project.root.name, run_id)
    if replaces:
        answer = QMessageBox.question(
            parent,
            "Export model",
            f"{target} holds an earlier export. Replace it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
    QSettings().setValue(FOLDER_SETTING, str(target))
    export = ModelExport(
        None, session.project.root, run_id, target, overwrite=replaces, program=program
    )
    flow = ExportModelFlow(parent, export)
    export.setParent(flow)
    flow.start()
    return flow


__all__ = [
    "ExportModelFlow",
    "ExportOutcome",
    "ModelExport",
    "choose_target",
    "export_model_dialog",
]
