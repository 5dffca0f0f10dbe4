"""Kill the window right after label key presses: every reported click is in the database.

A child process runs the real main window offscreen (``window_child.py``) and prints
one line after each label key press has returned; the test reads a seeded random
number of those lines, SIGKILLs the child and checks that each reported cell holds
the reported value — on every backend the project fixtures support.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from PIL import Image as PILImage

from core.images.importer import import_images
from core.labels import image_rows
from core.project import Project
from core.tasks import list_tasks
from tests.faults.helpers import CHILD_ENV
from tests.faults.window_child import PRESSES

CHILD = Path(__file__).with_name("window_child.py")
ROUNDS = 3
PER_ROUND = 8
IMAGES = ROUNDS * PER_ROUND
SEED = 7
TASKS = ["car", "person", "tree"]


def write_images(folder: Path, count: int) -> None:
    folder.mkdir()
    for i in range(count):
        image = PILImage.new("RGB", (48, 36), (10 * i % 256, 120, 255 - 7 * i % 256))
        image.putpixel((i % 48, 1), (255, 255, 255))
        image.save(folder / f"img_{i:02d}.jpg", quality=90)


def next_press(
    last: dict[str, int | None], printed: int, task_ids: list[int]
) -> tuple[tuple[int, int], int | None] | None:
    """The cell and value of the press after the last printed one, if on the same image."""
    position = printed % len(PRESSES)
    if position == 0:  # the next press is on the next image, whose cells we never read
        return None
    task, _, value = PRESSES[position]
    image = last["image"]
    assert isinstance(image, int)
    return (image, task_ids[task]), value


def test_every_reported_click_survives_a_kill(tmp_path: Path, database_url: str | None) -> None:
    write_images(tmp_path / "images", IMAGES)
    root = tmp_path / "proj"
    with Project.create(root, tasks=TASKS, database_url=database_url) as p:
        assert len(import_images(p, [tmp_path / "images"]).added) == IMAGES
    settings = tmp_path / "qsettings"
    settings.mkdir()
    rng = random.Random(SEED)
    reported: dict[tuple[int, int], int | None] = {}
    for round_ in range(ROUNDS):
        # Each round has images of its own: a killed child may have run ahead of what
        # it reported, and the next round's key presses assume unlabelled images.
        start = round_ * PER_ROUND
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(root), str(settings), str(start), str(PER_ROUND)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=CHILD_ENV,
        )
        wanted = rng.randint(1, PER_ROUND * len(PRESSES) - 1)
        lines: list[dict[str, int | None]] = []
        try:
            assert child.stdout is not None
            while len(lines) < wanted:
                text = child.stdout.readline()
                assert text and text != "end\n", f"the window stopped: {child.communicate()}"
                lines.append(json.loads(text))
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
            # The child does not wait for us: it may have pressed (and reported) more keys
            # than we had read when it died. Those clicks returned too, so they count.
            lines += [json.loads(t) for t in child.stdout.read().splitlines() if t != "end"]
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        for line in lines:
            image, task = line["image"], line["task"]
            assert isinstance(image, int) and isinstance(task, int)
            reported[(image, task)] = line["value"]

        with Project.open(root) as project:
            rows = image_rows(project, sorted({i for i, _ in reported}))
            task_ids = [t.id for t in list_tasks(project)]
        # One press may have returned without its line being printed (the kill fell
        # between the two): its cell may hold that press's value instead.
        in_flight = next_press(lines[-1], len(lines), task_ids)
        lost = {
            cell: value
            for cell, value in reported.items()
            if rows[cell[0]][cell[1]] != value and in_flight != (cell, rows[cell[0]][cell[1]])
        }
        assert not lost, f"reported clicks not in the database: {lost}"
    assert sum(v is not None for v in reported.values()) >= ROUNDS
