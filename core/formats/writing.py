"""What every export shares: a consistent snapshot of the project, and atomic writing."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from core.db.models import Label
from core.errors import UserError
from core.formats.matching import ImageIndex, ImageRecord
from core.project import Project
from core.tasks import TaskInfo, tasks_in_session

NEW_FILE_MODE = 0o644


@dataclass(frozen=True)
class LabelRow:
    value: int
    annotator: str
    updated_at: datetime


@dataclass
class ExportSnapshot:
    """Tasks in display order, images ordered by rel_path, and their known cells."""

    tasks: list[TaskInfo]
    images: list[ImageRecord]
    labels: dict[int, dict[int, LabelRow]]
    """image id → task id → label, for the exported tasks only."""
    index: ImageIndex

    def value(self, image_id: int, task_id: int) -> int | None:
        row = self.labels.get(image_id, {}).get(task_id)
        return None if row is None else row.value


def load_snapshot(project: Project, include_archived: bool) -> ExportSnapshot:
    """Everything an export writes, read in one transaction (so it is consistent)."""
    with project.reading() as session:
        tasks = tasks_in_session(session, include_archived)
        index = ImageIndex.load(session)
        task_ids = {t.id for t in tasks}
        labels: dict[int, dict[int, LabelRow]] = {}
        rows = session.execute(
            select(Label.image_id, Label.task_id, Label.value, Label.annotator, Label.updated_at)
        )
        for image_id, task_id, value, annotator, updated_at in rows:
            if task_id in task_ids:
                labels.setdefault(image_id, {})[task_id] = LabelRow(value, annotator, updated_at)
    images = sorted(index.images.values(), key=lambda r: (r.rel_path, r.path))
    return ExportSnapshot(tasks, images, labels, index)


def csv_rows(stream: TextIO) -> Callable[[Sequence[str]], None]:
    """A ``writerow`` for comma-separated UTF-8 with ``\\n`` line ends.

    A field holding a carriage return alone (a file name may) is quoted too: with
    ``\\n`` line ends Python 3.11's csv writer leaves it bare, and every reader,
    Python's included, then takes it for the end of the record.
    """
    plain = csv.writer(stream, lineterminator="\n")
    quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(row: Sequence[str]) -> None:
        (quoted if any("\r" in field for field in row) else plain).writerow(row)

    return writerow


def check_target(path: str | os.PathLike[str]) -> Path:
    """The file to write; UserError if its folder is missing or it is a folder itself."""
    target = Path(path).expanduser()
    folder = target.parent
    if not folder.exists():
        raise UserError(f"cannot write {os.fspath(path)}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise UserError(f"cannot write {os.fspath(path)}: {folder} is not a folder")
    if target.is_dir():
        raise UserError(f"cannot write {os.fspath(path)}: it is a folder")
    return target


def write_atomically(path: str | os.PathLike[str], write: Callable[[TextIO], None]) -> None:
    """Write UTF-8 beside ``path``, then move it into place: the old file or the new, never half.

    ``write`` gets a text stream; if it raises, the target is left as it was and the temporary
    file is removed.
    """
    target = check_target(path)
    mode = NEW_FILE_MODE
    with contextlib.suppress(OSError):
        mode = target.stat().st_mode & 0o777
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"cannot write {os.fspath(path)}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise UserError(f"cannot write {os.fspath(path)}: {exc.strerror or exc}") from exc
        raise
