"""Labelling goes on while a training run snapshots the labels and writes its predictions.

A writer process labels continuously through the window's session object; meanwhile
the real trainer runs to the end (snapshot, epochs, checkpoint, predictions).
No "database is locked" reaches the annotator or the trainer, and every label the
writer saved is in the database afterwards. SQLite only: its single writer lock is
what could go wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core import runs
from core.labels import image_rows
from core.project import Project
from tests.faults.helpers import CHILD_ENV, Trainer, sqlite_integrity

WRITER = Path(__file__).with_name("label_writer.py")


def test_sqlite_labelling_while_training_loses_nothing_and_never_fails(
    fault_project: Path, tmp_path: Path
) -> None:
    root = fault_project
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(root), str(stop), "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
    )
    try:
        assert writer.stdout is not None
        first = writer.stdout.readline()  # the writer is labelling before training starts
        assert first, writer.communicate()
        trainer = Trainer.start(root, "--epochs", "3")
        code = trainer.finish(timeout=300)
        assert code == 0 and trainer.kinds()[-1] == "done", trainer.events[-3:]
        stop.touch()
        out, err = writer.communicate(timeout=120)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == 0, err
    assert "locked" not in err and "Traceback" not in err, err
    lines = [json.loads(line) for line in [first, *out.splitlines()]]
    errors = [line["error"] for line in lines if "error" in line]
    assert errors == [], f"the annotator was shown: {errors[:3]}"
    assert len(lines) > 100, "the writer must have kept labelling during the runs"

    expected: dict[tuple[int, int], int | None] = {}
    for line in lines:
        expected[(line["image"], line["task"])] = line["value"]
    sqlite_integrity(root)
    with Project.open(root) as project:
        rows = image_rows(project, sorted({i for i, _ in expected}))
        lost = {cell: v for cell, v in expected.items() if rows[cell[0]][cell[1]] != v}
        assert not lost, f"{len(lost)} saved labels are not in the database: {list(lost)[:5]}"
        info = runs.get_run(project, trainer.run_id() or 0)
        assert info.status == "done" and info.predictions_complete
