"""Hunt for a native crash of the window: run ``tests/faults/window_stress_child.py`` again
and again, each time on a fresh copy of a 240-image demo project, and tally how it ended.

    python -m benchmarks.window_stress_loop --iterations 20 --repeat 2
    DISPLAY=:98 python -m benchmarks.window_stress_loop --platform xcb --iterations 10
    python -m benchmarks.window_stress_loop --python-flag=-Xdev --pythonmalloc debug

Each iteration uses seed ``--seed + iteration`` for the plan's order and the user's
actions (the stand-in trainers draw their own). An iteration fails when the child ends
with a signal or a non-zero status, writes a faulthandler stack, a Python traceback or a
``STRESS-PROBLEM`` line on stderr, a planned start ends otherwise than planned, or a
reported label press is not in the database; its stdout and stderr are kept under
``--keep`` (default /tmp/mtlabel-stress).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "tests" / "faults" / "window_stress_child.py"
MARKS = ("Fatal Python error", "Traceback", "STRESS-PROBLEM", "Segmentation fault")


def check(project: Path, kinds: list[str], stdout: str) -> list[str]:
    """What went wrong, judged from the child's lines and the project's database."""
    from core.labels import image_rows
    from core.project import Project
    from core.runs import list_runs
    from tests.faults.test_window_stress import expected

    problems: list[str] = []
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    results = [line for line in lines if "run" in line and "kind" in line]
    if [r["kind"] for r in results] != kinds:
        problems.append(f"{len(results)} of {len(kinds)} planned starts ended")
    problems += [f"unexpected end: {r}" for r in results if not expected(r["kind"], r["status"])]
    reported: dict[tuple[int, int], int | None] = {}
    for line in lines:
        if "label" in line:
            image, task, value = line["label"]
            reported[(image, task)] = value
    with Project.open(project) as p:
        rows = image_rows(p, sorted({i for i, _ in reported}))
        statuses = [r.status for r in list_runs(p)]
    lost = [cell for cell, v in reported.items() if rows[cell[0]][cell[1]] != v]
    if lost:
        problems.append(f"{len(lost)} reported presses not in the database")
    if "running" in statuses:
        problems.append("a run is still marked running")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="the plan's stand-in runs × N")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--platform", default="offscreen")
    parser.add_argument("--label-ms", type=int, default=15)
    parser.add_argument("--python-flag", action="append", default=[], help="e.g. -Xdev")
    parser.add_argument("--pythonmalloc", help="e.g. debug")
    parser.add_argument("--no-real", action="store_true", help="leave out the real runs")
    parser.add_argument("--keep", type=Path, default=Path("/tmp/mtlabel-stress"))
    parser.add_argument("--keep-all", action="store_true", help="keep every iteration's stderr")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from core.demo import create_demo
    from tests.faults.test_window_stress import make_plan

    args.keep.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mtlabel-stress-"))
    template = work / "template"
    create_demo(template, images=240, unknown_fraction=0.4, seed=11, size=(64, 48))
    env = {
        **os.environ,
        "MTLABEL_ANNOTATOR": "tester",
        "QT_QPA_PLATFORM": args.platform,
        "OMP_NUM_THREADS": "1",
    }
    if args.pythonmalloc:
        env["PYTHONMALLOC"] = args.pythonmalloc
    tally: dict[str, int] = {}
    starts = presses = 0
    began = time.monotonic()
    for n in range(args.iterations):
        seed = args.seed + n
        kinds = make_plan(seed, args.repeat)
        if args.no_real:
            kinds = [k for k in kinds if k != "real"]
        folder = work / f"it{n}"
        project = folder / "project"
        shutil.copytree(template, project, ignore=shutil.ignore_patterns("demo", "cache"))
        settings = folder / "qsettings"
        settings.mkdir()
        plan = folder / "plan.json"
        timeout = 150.0 * args.repeat + 60
        plan.write_text(
            json.dumps(
                {"seed": seed, "runs": kinds, "label_ms": args.label_ms, "timeout_s": timeout}
            )
        )
        command = [sys.executable, *args.python_flag, str(CHILD), str(project), str(settings)]
        command += [str(plan), "--platform", args.platform]
        started = time.monotonic()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=timeout + 60, cwd=ROOT
            )
            code, stdout, stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as exc:
            code = -999
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        seconds = time.monotonic() - started
        problems = [f"exit {code}"] if code != 0 else []
        problems += [f"{m!r} on stderr" for m in MARKS if m in stderr]
        if code not in (-999,):
            try:
                problems += check(project, kinds, stdout)
            except Exception as exc:  # a broken database is a finding too
                problems.append(f"check failed: {exc!r}")
        end: dict[str, Any] = next(
            (json.loads(line)["end"] for line in stdout.splitlines() if line.startswith('{"end"')),
            {},
        )
        starts += len(kinds)
        presses += int(end.get("presses", 0))
        verdict = "ok" if not problems else "FAIL"
        tally[verdict] = tally.get(verdict, 0) + 1
        print(
            f"[{n + 1}/{args.iterations}] seed {seed}: {verdict} in {seconds:.0f} s, "
            f"{len(kinds)} starts, {end.get('presses', '?')} presses"
            + ("" if not problems else f" — {'; '.join(problems)}"),
            flush=True,
        )
        if problems or args.keep_all:
            stem = args.keep / f"seed{seed}-{args.platform}"
            stem.with_suffix(".stdout").write_text(stdout)
            stem.with_suffix(".stderr").write_text(stderr)
        if problems:
            print(stderr[-4000:], flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"{args.iterations} iterations on {args.platform} "
        f"(flags {args.python_flag or '-'}, PYTHONMALLOC {args.pythonmalloc or '-'}): {tally}; "
        f"{starts} trainer starts, {presses} label presses, {time.monotonic() - began:.0f} s"
    )
    return 0 if tally.get("FAIL", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
