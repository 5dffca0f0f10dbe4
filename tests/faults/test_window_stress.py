"""Label with keys while many short training runs finish: the window must not crash.

A user's window once died of a segmentation fault in libshiboken6 as a training run
finished while they labelled. A child process (``window_stress_child.py``) runs the real
main window and, while a timer presses label keys on the Annotate tab, switches images
and tabs, clicks runs, hovers the charts and re-asks the GPU probe, starts one training
after the other: stand-in trainers (``stand_in_trainer.py``: the trainer's JSON lines and
database rows, without torch) that finish, fail, crash, are cancelled or killed; an auto
run of two candidates; shared-vs-separate comparisons; and two real ``mtlabel train``
runs (compact network, 32 px, one epoch). The child must then close normally (no signal,
no faulthandler stack, no Python traceback on stderr), every run must have ended as the
panel is meant to report it, and every label press it reported must be in the database.

The platform is the environment's ``MTLABEL_STRESS_PLATFORM`` (default offscreen; xcb
needs a display); ``MTLABEL_STRESS_SEED`` and ``MTLABEL_STRESS_REPEAT`` (the plan's
stand-in runs repeated that many times) make longer hunts by hand.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core.labels import image_rows
from core.project import Project
from core.runs import list_runs
from tests.faults.helpers import CHILD_ENV, sqlite_integrity
from tests.faults.window_stress_child import EXPECTED_STATUS

CHILD = Path(__file__).with_name("window_stress_child.py")
SEED = int(os.environ.get("MTLABEL_STRESS_SEED", "3"))
REPEAT = int(os.environ.get("MTLABEL_STRESS_REPEAT", "1"))
PLATFORM = os.environ.get("MTLABEL_STRESS_PLATFORM", "offscreen")
STAND_IN_RUNS = (
    ["done"] * 6
    + ["auto"] * 2
    + ["failed", "refused", "nostart", "segv", "silent", "killed", "stubborn", "cancel"]
    + ["compare", "compare", "compare-cancel"]
)
"""One plan's stand-in starts: 16 Train starts (two of them auto runs of two candidates)
and 3 comparisons of up to two runs each: about 25 trainer processes with the real runs."""
HANG_S = 150.0
"""The child gives up (and the test fails) after this long: a hang, not a slow machine.
On an idle 2-core machine the whole test takes about a minute."""


def make_plan(seed: int, repeat: int) -> list[str]:
    rng = random.Random(seed)
    kinds = STAND_IN_RUNS * repeat
    rng.shuffle(kinds)
    # The real runs: one early (the charts and runs list then hold a real run's rows),
    # one in the middle of the stand-ins.
    kinds.insert(1, "real")
    kinds.insert(len(kinds) // 2, "real")
    return kinds


def run_child(project: Path, tmp_path: Path, kinds: list[str], timeout_s: float) -> Any:
    settings = tmp_path / "qsettings"
    settings.mkdir(exist_ok=True)
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"seed": SEED, "runs": kinds, "label_ms": 15, "timeout_s": timeout_s})
    )
    env = {**CHILD_ENV, "QT_QPA_PLATFORM": PLATFORM, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(CHILD), str(project), str(settings), str(plan)]
    return subprocess.run(
        [*command, "--platform", PLATFORM],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s + 60,
    )


def expected(kind: str, status: str) -> bool:
    if kind == "compare":
        return status == "compared" or "separate networks' run failed" in status
    if kind == "compare-cancel":
        return status == "compared" or "cancelled" in status or "run failed" in status
    return EXPECTED_STATUS[kind] == status


def test_the_window_survives_runs_finishing_while_labelling(
    fault_project: Path, tmp_path: Path
) -> None:
    kinds = make_plan(SEED, REPEAT)
    started = time.monotonic()
    done = run_child(fault_project, tmp_path, kinds, timeout_s=HANG_S * REPEAT)
    seconds = time.monotonic() - started
    stderr = done.stderr
    tail = stderr[-6000:]
    assert done.returncode == 0, f"the window ended with {done.returncode}:\n{tail}"
    for mark in ("Fatal Python error", "Traceback", "STRESS-PROBLEM", "Segmentation fault"):
        assert mark not in stderr, f"{mark!r} on the window's stderr:\n{tail}"

    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    results = [line for line in lines if "run" in line and "kind" in line]
    end = next(line["end"] for line in lines if "end" in line)
    assert any("closed" in line for line in lines), "the event loop did not return"
    assert [r["kind"] for r in results] == kinds, "every planned start must have ended"
    wrong = [r for r in results if not expected(r["kind"], r["status"])]
    assert not wrong, f"runs that ended otherwise than planned: {wrong}"
    assert end["presses"] >= 200, end

    # Every label press the child reported is in the database: the last value per cell.
    reported: dict[tuple[int, int], int | None] = {}
    for line in lines:
        if "label" in line:
            image, task, value = line["label"]
            reported[(image, task)] = value
    with Project.open(fault_project) as project:
        rows = image_rows(project, sorted({i for i, _ in reported}))
        statuses = [r.status for r in list_runs(project)]
    lost = {cell: v for cell, v in reported.items() if rows[cell[0]][cell[1]] != v}
    assert not lost, f"{len(lost)} reported label presses not in the database: {lost}"
    assert "running" not in statuses, statuses
    assert end["runs_listed"] == len(statuses), "the runs list shows every run"
    assert end["predictions_run"] is not None, "a finished run's predictions are shown"
    sqlite_integrity(fault_project)
    print(f"stress: {len(results)} starts, {end}, {seconds:.1f} s on {PLATFORM}")
