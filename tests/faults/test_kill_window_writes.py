"""Kill the window the moment it shows a write: what it showed is in the database, in full.

"Every change the window shows is committed before the window shows it", for every
write path of the window: label-file import, image import, Accept on one cell and on
a whole image, bulk accept, a bulk set on selected images, its undo and its redo,
and adding, renaming and archiving a task. A child process runs the real main window
offscreen (``window_writes_child.py``), makes one write through the window's own
code and prints what the window shows (its summary, the task counts drawn in the
Tasks panel, the label panel's rows) at the moment it shows it; the test SIGKILLs it
at once and reopens the project with ``core``: the change is there completely (every
cell, the counts shown, the history of every changed cell), never in part — on
every backend the project fixtures support.

The last test ("Imported labels lost") drives three writes in a row — a click, a label
import over the same cell, Edit → Undo of the click — and checks that the undo leaves
the imported label alone, as the import's summary promises.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from core.db.models import Image
from core.images.importer import import_images
from core.labels import CellValue, counts_per_task, history, image_rows, list_images
from core.project import Project
from core.tasks import list_tasks
from tests.core.test_predictions import insert_run
from tests.faults.helpers import CHILD_ENV
from tests.faults.window_writes_child import (
    ACCEPT_CONFIDENCE,
    ACCEPT_TASK,
    ARCHIVED_TASK,
    BULK_IMAGES,
    BULK_TASK,
    NEW_TASK,
    RENAMED,
    STATES,
    UNDO_AFTER_IMPORT,
    WRITES,
)

CHILD = Path(__file__).with_name("window_writes_child.py")
TASKS = ["car", "person", "tree"]
IMAGES = 6
NEW_IMAGES = 8
VALUES = {v: k for k, v in STATES.items()}
# Probabilities of (image position, task position): every task has confident and
# unsure predictions either side of its threshold (0.5).
PROBABILITIES = [
    [0.95, 0.10, 0.70],
    [0.30, 0.85, 0.05],
    [0.60, 0.92, 0.15],
    [0.04, 0.40, 0.88],
    [0.81, 0.55, 0.45],
    [0.19, 0.02, 0.97],
]
# The label file: one row per image (and one for an image not in the project); the
# columns are the tasks and a new one, which the import adds.
FILE_VALUES = ["1", "0", "", "?", "1.0", "0", "1", "", "0", "1", "?"]
"""Cycled over the cells row by row; 11 values over 4 columns give every column some."""


def write_images(folder: Path, count: int, shade: int = 0) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        image = PILImage.new("RGB", (40, 30), (20 * i % 256, 80 + shade, 250 - 9 * i % 256))
        image.putpixel((i % 40, 2), (255, 255, 255))
        image.save(folder / f"img_{i:02d}.jpg", quality=90)


@dataclass
class Case:
    root: Path
    images: list[int]
    """Image ids in name order (the browser's order)."""
    tasks: list[int]
    """Task ids in display order."""
    run: int | None = None
    argument: str | None = None
    file_cells: dict[tuple[int, int | str], CellValue] | None = None
    """import_labels: the known cells of the file, (image, task id or new name) → value."""


def make_case(tmp_path: Path, database_url: str | None, write: str) -> Case:
    write_images(tmp_path / "images", IMAGES)
    root = tmp_path / "proj"
    with Project.create(root, tasks=TASKS, database_url=database_url) as project:
        assert len(import_images(project, [tmp_path / "images"]).added) == IMAGES
        case = Case(
            root,
            list_images(project, order="name"),
            [t.id for t in list_tasks(project)],
        )
        if write in ("accept_cell", "accept_image", "bulk_accept"):
            probs = {
                (image, task): PROBABILITIES[i][j]
                for i, image in enumerate(case.images)
                for j, task in enumerate(case.tasks)
            }
            case.run = insert_run(project, probs, dict.fromkeys(case.tasks, 0.5))
    if write == "import_labels":
        case.argument, case.file_cells = write_label_file(tmp_path / "labels.csv", case)
    elif write == "import_images":
        write_images(tmp_path / "more", NEW_IMAGES, shade=60)
        case.argument = str(tmp_path / "more")
    return case


def write_label_file(path: Path, case: Case) -> tuple[str, dict[tuple[int, int | str], CellValue]]:
    columns: list[int | str] = [*case.tasks, NEW_TASK]
    cells: dict[tuple[int, int | str], CellValue] = {}
    values = itertools.cycle(FILE_VALUES)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["image", *TASKS, NEW_TASK])
        for i, image in enumerate(case.images):
            row = [next(values) for _ in columns]
            out.writerow([f"img_{i:02d}.jpg", *row])
            for column, text in zip(columns, row, strict=True):
                if text not in ("", "?"):
                    cells[(image, column)] = int(float(text))
        out.writerow(["not_in_the_project.jpg", "1", "1", "1", "1"])
    return str(path), cells


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    folder = tmp_path / "qsettings"
    folder.mkdir()
    return folder


def shown_by_killed_window(case: Case, write: str, settings: Path) -> dict[str, Any]:
    """Run the child until it shows the write, SIGKILL it at once; what it showed."""
    args = [sys.executable, str(CHILD), write, str(case.root), str(settings)]
    child = subprocess.Popen(
        args + ([case.argument] if case.argument else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
    )
    try:
        assert child.stdout is not None
        text = child.stdout.readline()  # a hung child ends itself (WATCHDOG_S)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        code = child.wait(timeout=30)
        assert text, f"the window showed nothing (exit {code}): {child.communicate()}"
        assert code == -signal.SIGKILL, child.communicate()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    line: dict[str, Any] = json.loads(text)
    assert "error" not in line, line["error"]
    return line


# -- what the database holds ------------------------------------------------------------


def known_cells(project: Project) -> dict[tuple[int, int], int]:
    """Every known cell of every image and task (archived tasks too)."""
    rows = image_rows(project, list_images(project), include_archived=True)
    return {(i, t): v for i, row in rows.items() for t, v in row.items() if v is not None}


def events(project: Project) -> list[tuple[int, int, CellValue, CellValue, str]]:
    """The label history, oldest first: (image, task, old, new, source)."""
    return [(e.image_id, e.task_id, e.old, e.new, e.source) for e in reversed(history(project))]


def batches(project: Project) -> set[str | None]:
    return {e.batch for e in history(project)}


def check_shown_is_stored(project: Project, shown: dict[str, Any]) -> None:
    """The Tasks panel's rows and counts and the label panel's rows are the database's."""
    tasks = list_tasks(project)
    rows = shown["tasks"]
    assert [(r["id"], r["name"], r["archived"]) for r in rows] == [
        (t.id, t.name, t.archived) for t in tasks
    ], "the Tasks panel lists other tasks than the database holds"
    stored = {c.task_id: [c.present, c.absent, c.unknown] for c in counts_per_task(project)}
    drawn = {r["id"]: r["counts"] for r in rows}
    assert drawn == stored, "the Tasks panel's counts are not the database's"
    panel = shown["panel"]
    assert [(r["task"], r["name"]) for r in panel["rows"]] == [(t.id, t.name) for t in tasks]
    if panel["images"]:
        values = image_rows(project, panel["images"])
        for r in panel["rows"]:
            held = {values[i][r["task"]] for i in panel["images"]}
            value = STATES[held.pop()] if len(held) == 1 else "mixed"
            assert r["value"] == value, f"the label panel shows {r} but the database holds {held}"
    image_count = len(list_images(project))
    assert shown["browser"].startswith(f"{image_count:,} image"), shown["browser"]


def predicted(case: Case, image: int, task: int) -> int:
    return int(PROBABILITIES[case.images.index(image)][case.tasks.index(task)] >= 0.5)


# -- the write paths ----------------------------------------------------------------------


def check_import_labels(project: Project, case: Case, line: dict[str, Any]) -> None:
    assert case.file_cells is not None
    assert line["title"] == "Labels imported", line
    changed = re.search(r"Labels changed: ([\d,]+)", line["text"])
    assert changed is not None, line["text"]
    assert int(changed[1].replace(",", "")) == len(case.file_cells), line["text"]
    assert f"New tasks: {NEW_TASK}." in line["text"]
    assert "Skipped 1 rows" in line["text"]
    saved = re.search(r"holds ([\d,]+) known labels", line["text"])
    if saved is not None:  # the message reads the project's known labels back
        stored = sum(c.known for c in counts_per_task(project))
        assert int(saved[1].replace(",", "")) == stored, line["text"]
    tasks = {t.name: t.id for t in list_tasks(project)}
    assert NEW_TASK in tasks, "the task the import added is not in the database"
    new = tasks[NEW_TASK]
    wanted = {(i, new if t == NEW_TASK else t): v for (i, t), v in case.file_cells.items()}
    assert known_cells(project) == wanted, "the import is not in the database in full"
    assert sorted(events(project)) == sorted(
        (i, t, None, v, "import") for (i, t), v in wanted.items()
    ), "the history lacks the import's changes"
    assert len(batches(project)) == 1 and None not in batches(project)


def check_import_images(project: Project, case: Case, line: dict[str, Any]) -> None:
    assert case.argument is not None
    added = re.match(r"Added ([\d,]+) · Duplicates 0 · Skipped 0", line["text"])
    assert added is not None, line["text"]
    assert int(added[1]) == NEW_IMAGES
    folder = Path(case.argument)
    with project.reading() as session:
        paths = set(session.scalars(select(Image.path)))
    assert len(paths) == IMAGES + NEW_IMAGES, "the images the summary counts are not all stored"
    assert {p.as_posix() for p in folder.iterdir()} <= paths, "imported images are missing"
    assert known_cells(project) == {}


def check_accept_cell(project: Project, case: Case, line: dict[str, Any]) -> None:
    image, task = case.images[0], case.tasks[ACCEPT_TASK]
    assert line["shown"]["panel"]["images"] == [image]
    row = line["shown"]["panel"]["rows"][ACCEPT_TASK]
    value = predicted(case, image, task)
    assert row["value"] == STATES[value]
    assert known_cells(project) == {(image, task): value}
    assert events(project) == [(image, task, None, value, "prediction")]


def check_accept_image(project: Project, case: Case, line: dict[str, Any]) -> None:
    image = case.images[0]
    assert line["shown"]["panel"]["images"] == [image]
    wanted = {(image, t): predicted(case, image, t) for t in case.tasks}
    shown = {(image, r["task"]): VALUES[r["value"]] for r in line["shown"]["panel"]["rows"]}
    assert shown == wanted
    assert known_cells(project) == wanted
    assert sorted(events(project)) == sorted(
        (i, t, None, v, "prediction") for (i, t), v in wanted.items()
    )
    assert len(batches(project)) == 1


def check_bulk_accept(project: Project, case: Case, line: dict[str, Any]) -> None:
    task = case.tasks[0]
    p = {image: PROBABILITIES[n][0] for n, image in enumerate(case.images)}
    wanted = {(i, task): 1 for i in case.images if p[i] >= ACCEPT_CONFIDENCE}
    wanted |= {(i, task): 0 for i in case.images if p[i] <= 1 - ACCEPT_CONFIDENCE + 1e-9}
    promised = line["promised"]
    assert promised["task"] == task
    assert (promised["present"], promised["absent"]) == (
        sum(v == 1 for v in wanted.values()),
        sum(v == 0 for v in wanted.values()),
    ), promised
    assert line["shown"]["undo"]["text"] == f"Accept {len(wanted)} predictions for car"
    assert known_cells(project) == wanted, "the accepted predictions are not all stored"
    assert sorted(events(project)) == sorted(
        (i, t, None, v, "prediction") for (i, t), v in wanted.items()
    )


def check_bulk(project: Project, case: Case, line: dict[str, Any], value: CellValue) -> None:
    task = case.tasks[BULK_TASK]
    images = case.images[:BULK_IMAGES]
    panel = line["shown"]["panel"]
    assert panel["images"] == images
    row = panel["rows"][BULK_TASK]
    assert row["value"] == STATES[value], row
    assert row["counts"] == f"{BULK_IMAGES} {'?' if value is None else STATES[value]}", row
    wanted = {} if value is None else {(i, task): value for i in images}
    assert known_cells(project) == wanted


def check_bulk_set(project: Project, case: Case, line: dict[str, Any]) -> None:
    check_bulk(project, case, line, 1)
    images, task = case.images[:BULK_IMAGES], case.tasks[BULK_TASK]
    assert sorted(events(project)) == sorted((i, task, None, 1, "human") for i in images)
    assert len(batches(project)) == 1 and None not in batches(project)
    assert line["shown"]["undo"]["index"] == 1


def check_undo_bulk_set(project: Project, case: Case, line: dict[str, Any]) -> None:
    check_bulk(project, case, line, None)
    images, task = case.images[:BULK_IMAGES], case.tasks[BULK_TASK]
    setting = [(i, task, None, 1, "human") for i in images]
    undoing = [(i, task, 1, None, "human") for i in images]
    stored = events(project)
    assert sorted(stored[:BULK_IMAGES]) == sorted(setting)
    assert sorted(stored[BULK_IMAGES:]) == sorted(undoing), "the undo is not in the history"
    assert line["shown"]["undo"]["index"] == 0


def check_redo_bulk_set(project: Project, case: Case, line: dict[str, Any]) -> None:
    check_bulk(project, case, line, 1)
    images, task = case.images[:BULK_IMAGES], case.tasks[BULK_TASK]
    stored = events(project)
    assert len(stored) == 3 * BULK_IMAGES
    assert sorted(stored[2 * BULK_IMAGES :]) == sorted((i, task, None, 1, "human") for i in images)
    assert line["shown"]["undo"]["index"] == 1


def shown_names(line: dict[str, Any]) -> list[str]:
    return [r["name"] for r in line["shown"]["tasks"]]


def check_task_add(project: Project, case: Case, line: dict[str, Any]) -> None:
    assert shown_names(line) == [*TASKS, NEW_TASK]
    assert line["shown"]["tasks"][-1]["counts"] == [0, 0, IMAGES]
    assert [t.name for t in list_tasks(project)] == [*TASKS, NEW_TASK]


def check_task_rename(project: Project, case: Case, line: dict[str, Any]) -> None:
    assert shown_names(line) == [RENAMED, *TASKS[1:]]
    assert [t.name for t in list_tasks(project)] == [RENAMED, *TASKS[1:]]
    assert list_tasks(project)[0].id == case.tasks[0]


def check_task_archive(project: Project, case: Case, line: dict[str, Any]) -> None:
    kept = [n for i, n in enumerate(TASKS) if i != ARCHIVED_TASK]
    assert shown_names(line) == kept
    assert [t.name for t in list_tasks(project)] == kept
    archived = [t for t in list_tasks(project, include_archived=True) if t.archived]
    assert [t.id for t in archived] == [case.tasks[ARCHIVED_TASK]]


CHECKS = {
    "import_labels": check_import_labels,
    "import_images": check_import_images,
    "accept_cell": check_accept_cell,
    "accept_image": check_accept_image,
    "bulk_accept": check_bulk_accept,
    "bulk_set": check_bulk_set,
    "undo_bulk_set": check_undo_bulk_set,
    "redo_bulk_set": check_redo_bulk_set,
    "task_add": check_task_add,
    "task_rename": check_task_rename,
    "task_archive": check_task_archive,
}
assert set(CHECKS) == set(WRITES), "a write path of the child without a check"


@pytest.mark.parametrize("write", WRITES)
def test_what_the_window_shows_survives_a_kill(
    write: str, tmp_path: Path, database_url: str | None, settings: Path
) -> None:
    case = make_case(tmp_path, database_url, write)
    line = shown_by_killed_window(case, write, settings)
    with Project.open(case.root) as project:
        check_shown_is_stored(project, line["shown"])
        CHECKS[write](project, case, line)


def test_undo_after_a_label_import_keeps_the_imported_labels(
    tmp_path: Path, database_url: str | None, settings: Path
) -> None:
    """ "Edit → Undo does not undo a file import", the import's summary says: undoing a
    click made before the import must not write over what the import set."""
    case = make_case(tmp_path, database_url, UNDO_AFTER_IMPORT)
    path = tmp_path / "labels.csv"
    path.write_text("image,car\nimg_00.jpg,0\nimg_01.jpg,1\n", encoding="utf-8")
    case.argument = str(path)
    line = shown_by_killed_window(case, UNDO_AFTER_IMPORT, settings)
    assert "Labels changed: 2" in line["text"], line["text"]
    first, second = case.images[:2]
    car = case.tasks[0]
    with Project.open(case.root) as project:
        check_shown_is_stored(project, line["shown"])
        stored = events(project)
        click, imported = stored[0], sorted(stored[1:3])
        assert click == (first, car, None, 1, "human"), stored
        assert imported == [(first, car, 1, 0, "import"), (second, car, None, 1, "import")]
        assert known_cells(project) == {(first, car): 0, (second, car): 1}, (
            f"Undo of the click made before the import wrote over the imported label; "
            f"history (oldest first): {stored}"
        )
