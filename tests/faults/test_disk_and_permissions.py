"""A full disk and a read-only project folder: a clear message, and nothing lost or changed.

A full disk is simulated portably with ``RLIMIT_FSIZE`` in the child process (SIGXFSZ
ignored, so a write past the limit fails with EFBIG, as it fails with ENOSPC on a
full disk). A read-only folder is made with chmod 0o555; as root (CI) the check runs
in a child that drops to uid 65534 first, since root writes through any mode.
SQLite only: both are about files in the project folder.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core import runs
from core.labels import list_images
from core.project import Project
from core.tasks import list_tasks
from tests.faults.helpers import (
    CHILD_ENV,
    TINY_TRAIN,
    CliResult,
    files_of,
    label_rows,
    label_rows_at,
    run_process,
    sqlite_integrity,
)

DISK_FULL = ("disk may be full", "disk is full", "No space left", "File too large")
"""SQLite's "disk I/O error" alone is not enough: the user must be told of the disk."""


def file_size_limit(limit: int) -> Callable[[], None]:
    """For ``preexec_fn``: no file of the child may grow past ``limit`` bytes."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def with_full_disk(limit: int, *args: object) -> CliResult:
    return run_process(*args, preexec_fn=file_size_limit(limit))


def says_disk_full(message: str) -> bool:
    return any(reason in message for reason in DISK_FULL)


def cache_warnings(events: list[dict[str, object]]) -> list[str]:
    """What the run's ``warning`` events say it could not save, for a full disk."""
    said = []
    for event in events:
        message = str(event.get("message", ""))
        if event["event"] == "warning" and message.startswith("could not save the "):
            assert says_disk_full(message) and "this run goes on" in message, message
            said.append(message.removeprefix("could not save the ").split(" in ")[0])
    return said


def write_images(folder: Path, count: int) -> None:
    from PIL import Image as PILImage

    folder.mkdir()
    for i in range(count):
        PILImage.new("RGB", (40, 30), (9 * i % 256, 50, 200)).save(folder / f"new_{i}.jpg")


# -- a full disk -----------------------------------------------------------------------

SESSION_WRITE = textwrap.dedent(
    """
    import json, resource, signal, sys
    from PySide6.QtGui import QGuiApplication
    from app.session import ProjectSession
    from core.project import Project

    app = QGuiApplication([])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    project = Project.open(sys.argv[1])
    session = ProjectSession(project)
    shown = []
    session.error.connect(shown.append)
    image, task, value = json.loads(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # the disk fills up
    changed = session.set_cell(image, task, value)
    print(json.dumps({"shown": shown, "changed": len(changed),
                      "undo": session.undo_stack.count()}))
    """
)


def test_sqlite_label_writes_on_a_full_disk_say_so_and_lose_nothing(fault_project: Path) -> None:
    root = fault_project
    with Project.open(root) as project:
        labels = label_rows(project)
        image = list_images(project, order="name")[0]
        known = {(r[0], r[1]) for r in labels}
        task, name = next((t.id, t.name) for t in list_tasks(project) if (image, t.id) not in known)
    cell = ("labels", "set", root, "scene_00000.jpg", name)

    # Nobody has the project open: opening it fails already.
    refused = with_full_disk(0, *cell, "present")
    assert says_disk_full(refused.one_line_error()), refused.err

    with Project.open(root) as held:  # a window holds it open: the write itself fails
        refused = with_full_disk(0, *cell, "absent")
        assert says_disk_full(refused.one_line_error()), refused.err

        # The window's own path: the annotator is told, in one line, and nothing is undoable.
        child = subprocess.run(
            [sys.executable, "-c", SESSION_WRITE, str(root), json.dumps([image, task, 1])],
            capture_output=True,
            text=True,
            timeout=120,
            env=CHILD_ENV,
        )
        assert child.returncode == 0, child.stderr
        result = json.loads(child.stdout.splitlines()[-1])
        assert result["changed"] == 0 and result["undo"] == 0
        (shown,) = result["shown"]
        assert shown.startswith("The labels could not be saved:") and says_disk_full(shown)
        assert "\n" not in shown and "[SQL" not in shown and "sqlalche.me" not in shown, shown
        assert label_rows(held) == labels

    sqlite_integrity(root)
    assert label_rows_at(root) == labels
    # Space again: the same write goes through, and everything from before is there.
    saved = run_process(*cell, "present")
    assert saved.code == 0, saved.err
    after = label_rows_at(root)
    assert [r for r in after if (r[0], r[1]) != (image, task)] == labels
    assert next(r[2] for r in after if (r[0], r[1]) == (image, task)) == 1


def test_sqlite_image_import_on_a_full_disk_says_so_and_keeps_what_was_there(
    fault_project: Path, tmp_path: Path
) -> None:
    root = fault_project
    write_images(tmp_path / "new", 12)
    with Project.open(root) as project:
        labels = label_rows(project)
        images = list_images(project)
        refused = with_full_disk(0, "import", root, tmp_path / "new")
        message = refused.one_line_error()
        assert says_disk_full(message) and "import again" in message, message
        assert list_images(project) == images and label_rows(project) == labels
    sqlite_integrity(root)
    imported = run_process("import", root, tmp_path / "new", "--json")
    assert imported.code == 0, imported.err
    with Project.open(root) as project:
        assert len(list_images(project)) == len(images) + 12
        assert label_rows(project) == labels


def test_sqlite_training_on_a_full_disk_fails_with_the_reason_and_no_partial_files(
    fault_project: Path,
) -> None:
    """Room for the database (under 1 MB), not for the image cache or the checkpoint."""
    root = fault_project
    labels = label_rows_at(root)
    settings = [*TINY_TRAIN, "--image-size", "48", "--width", "32", "--epochs", "1"]
    limit = 1536 * 1024
    full = with_full_disk(limit, "train", root, *settings, "--max-steps", "1", "--json")
    assert full.code == 5, full.err
    events = [json.loads(line) for line in full.out.splitlines()]
    assert events[-1]["event"] == "failed", events[-1]
    reason = events[-1]["error"]
    assert reason.startswith("cannot write the checkpoint") and "best.pt" in reason, reason
    assert says_disk_full(reason) and "error.log" not in reason
    # The image cache could not be written either: the run said so (the window shows
    # warnings), once, and went on decoding into memory until the checkpoint failed.
    assert cache_warnings(events) == ["decoded images"], events
    run_id = events[0]["run"]
    assert not [p.name for p in (root / "runs").rglob("*") if p.is_file()], "partial files"
    sqlite_integrity(root)
    with Project.open(root) as project:
        info = runs.get_run(project, run_id)
        assert (info.status, info.error, info.checkpoint) == ("failed", reason, None)
        assert label_rows(project) == labels


def test_sqlite_instant_training_on_a_full_disk_says_the_caches_were_not_saved(
    fault_project: Path,
) -> None:
    """No file may pass 64 KB: neither cache is written, the run trains from memory and
    says so; the checkpoint cannot be written either, and the run fails with that reason."""
    root = fault_project
    labels = label_rows_at(root)
    settings = ["--backbone", "efficientnet-lite0", "--mode", "instant", "--image-size", "64"]
    flags = [*settings, "--epochs", "1", "--device", "cpu", "--threads", "1", "--json"]
    full = with_full_disk(64 * 1024, "train", root, *flags)
    assert full.code == 5, full.err
    events = [json.loads(line) for line in full.out.splitlines()]
    assert events[-1]["event"] == "failed" and says_disk_full(events[-1]["error"]), events[-1]
    assert events[-1]["error"].startswith("cannot write the checkpoint"), events[-1]
    assert cache_warnings(events) == ["decoded images", "image features"], events
    assert not list((root / "cache").rglob("*.tmp")), "temporary cache files left behind"
    sqlite_integrity(root)
    with Project.open(root) as project:
        assert label_rows(project) == labels
    again = run_process("train", root, *flags)
    assert again.code == 0, again.err
    again_events = [json.loads(line) for line in again.out.splitlines()]
    assert again_events[-1]["event"] == "done" and not cache_warnings(again_events)


# -- a read-only project folder ----------------------------------------------------------

AS_NOBODY = textwrap.dedent(
    """
    import io, json, os, sys, contextlib
    import core.cli.main, core.formats.api, core.labels, core.tasks, core.stats, core.runs
    import core.images.importer, core.training.loop
    from core.cli.main import main
    if os.getuid() == 0:  # root writes through any mode: become nobody (all imported)
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    results = []
    for argv in json.loads(sys.argv[1]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        results.append([code, out.getvalue(), err.getvalue()])
    print(json.dumps(results))
    """
)


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder uid 65534 can reach (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="mtlabel-readonly-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_sqlite_read_only_project_folder_is_refused_clearly_and_left_unchanged(
    fault_template: Path, shared_folder: Path
) -> None:
    root = shared_folder / "project"
    shutil.copytree(fault_template, root, ignore=shutil.ignore_patterns("demo", "cache"))
    images = shared_folder / "images"
    write_images(images, 3)
    if os.getuid() == 0:
        for path in [shared_folder, *shared_folder.rglob("*")]:
            os.chown(path, 65534, 65534)
    root.chmod(0o555)
    before = files_of(root)
    commands = [
        ["stats", str(root)],
        ["labels", "set", str(root), "scene_00000.jpg", "car", "present"],
        ["import", str(root), str(images)],
        ["train", str(root), *TINY_TRAIN, "--epochs", "1", "--json"],
    ]
    child = subprocess.run(
        [sys.executable, "-c", AS_NOBODY, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=240,
        env=CHILD_ENV,
        cwd=shared_folder,
    )
    assert child.returncode == 0, child.stderr
    for argv, (code, out, err) in zip(commands, json.loads(child.stdout), strict=True):
        message = CliResult(code, out, err).one_line_error()
        assert "read-only" in message and str(root) in message, (argv, message)
        assert out == "", argv
    assert files_of(root) == before
