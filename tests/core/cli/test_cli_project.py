"""``mtlabel init / tasks / stats`` as a user types them, and how errors look."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.core.cli.conftest import Cli


def test_init_then_tasks_and_stats(cli: Cli, tmp_path: Path) -> None:
    proj = tmp_path / "my project"
    r = cli("init", proj, "--task", "pedestrian", "--task", "car")
    assert r.code == 0 and "created project" in r.out
    assert cli("tasks", "add", proj, "stop sign").code == 0
    assert cli("tasks", "rename", proj, "car", "vehicle").code == 0
    assert cli("tasks", "move", proj, "stop sign", "0").code == 0
    assert cli("tasks", "archive", proj, "pedestrian").code == 0
    listed = cli("tasks", "list", proj, "--all", "--json").json()
    assert [(t["name"], t["archived"]) for t in listed] == [
        ("stop sign", False),
        ("pedestrian", True),
        ("vehicle", False),
    ]
    stats = cli("stats", proj, "--json").json()
    assert stats["images"] == 0
    assert [t["name"] for t in stats["tasks"]] == ["stop sign", "vehicle"]
    text = cli("stats", proj)
    assert "stop sign" in text.out and "unknown" in text.out


def test_user_errors_are_one_line_with_exit_1(cli: Cli, tmp_path: Path) -> None:
    r = cli("stats", tmp_path / "nowhere")
    assert r.code == 1
    assert r.err.startswith("mtlabel: error:") and r.err.count("\n") == 1
    assert "Traceback" not in r.err
    cli("init", tmp_path / "p", "--task", "a")
    r = cli("tasks", "add", tmp_path / "p", "A")
    assert r.code == 1 and "already exists" in r.err
    r = cli("tasks", "rename", tmp_path / "p", "zzz", "b")
    assert r.code == 1 and "no task 'zzz'" in r.err
    r = cli("init", tmp_path / "p")
    assert r.code == 1 and "already holds" in r.err


def test_console_script_is_installed_and_reports_errors_cleanly(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("mtlabel")
    assert exe.exists(), "pip install -e . should install the mtlabel console script"
    ok = subprocess.run(
        [exe, "init", tmp_path / "p", "--task", "x", "--json"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([exe, "stats", tmp_path / "missing"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.startswith("mtlabel: error:") and "Traceback" not in bad.stderr


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """``mtlabel tasks P | head -0``: the pipe closes before anything is written."""
    exe = Path(sys.executable).with_name("mtlabel")
    made = subprocess.run([exe, "init", tmp_path / "p", "--task", "x"], capture_output=True)
    assert made.returncode == 0, made.stderr
    reader, writer = os.pipe()
    os.close(reader)  # nobody will read: the first write fails with EPIPE
    try:
        done = subprocess.run(
            [exe, "tasks", "list", tmp_path / "p"],
            # Buffered, as in a usual shell: the write happens at the end, not per print.
            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
            stdout=writer,
            capture_output=False,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    assert done.stderr == "", "no 'Broken pipe' error, no traceback"
    assert done.returncode == 141
