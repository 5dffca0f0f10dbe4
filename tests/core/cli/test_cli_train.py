"""``mtlabel train`` as the window will run it: a separate process, JSON lines, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core import runs
from core.project import Project
from core.training.config import TrainConfig

TINY = [
    "--backbone",
    "compact",
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--image-size",
    "32",
    "--width",
    "8",
    "--device",
    "cpu",
    "--val-fraction",
    "0.3",
]


def mtlabel(*args: object) -> list[str]:
    return [str(Path(sys.executable).with_name("mtlabel")), *(str(a) for a in args)]


def lines_until(
    proc: subprocess.Popen[str], event: str, timeout: float = 120
) -> list[dict[str, Any]]:
    """Read JSON lines from the trainer until one with the given event arrives."""
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(json.loads(line))
        if seen[-1]["event"] == event:
            return seen
    raise AssertionError(f"no {event!r} event; saw {[e['event'] for e in seen]}")


def start_long_run(project: Project) -> subprocess.Popen[str]:
    """A trainer that would run for minutes, printing JSON lines."""
    settings = [*TINY, "--epochs", "200", "--json"]
    return subprocess.Popen(
        mtlabel("train", project.root, *settings), stdout=subprocess.PIPE, text=True
    )


def test_json_mode_prints_only_json_lines_and_ends_with_done(demo_project: Project) -> None:
    done = subprocess.run(
        mtlabel("train", demo_project.root, *TINY, "--json"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["event"] == "started" and events[-1]["event"] == "done"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == 2 and len(epochs[0]["tasks"]) == 4
    assert {"ap", "auc", "f1", "threshold", "na_reason"} <= set(epochs[0]["tasks"][0])


def test_sigterm_cancels_promptly_and_marks_the_run(demo_project: Project) -> None:
    proc = start_long_run(demo_project)
    try:
        started = lines_until(proc, "progress")[0]
        proc.send_signal(signal.SIGTERM)
        t = time.monotonic()
        code = proc.wait(timeout=30)
        assert time.monotonic() - t < 10, "cancel must stop the trainer within seconds"
    finally:
        proc.kill()
    assert code == 4
    info = runs.get_run(demo_project, started["run"])
    assert info.status == "cancelled" and not info.predictions_complete


def test_a_killed_trainer_is_reported_dead_and_the_next_run_succeeds(
    demo_project: Project,
) -> None:
    proc = start_long_run(demo_project)
    try:
        started = lines_until(proc, "progress")[0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    listed = subprocess.run(
        mtlabel("runs", demo_project.root, "--json"), capture_output=True, text=True, check=True
    )
    dead = next(r for r in json.loads(listed.stdout) if r["id"] == started["run"])
    assert dead["status"] == "failed" and "stopped without finishing" in dead["error"]
    assert dead["predictions_complete"] is False
    again = subprocess.run(
        mtlabel("train", demo_project.root, *TINY, "--json"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr


def test_runs_table_and_predictions_csv(demo_project: Project, tmp_path: Path) -> None:
    subprocess.run(mtlabel("train", demo_project.root, *TINY), check=True, capture_output=True)
    table = subprocess.run(
        mtlabel("runs", demo_project.root), capture_output=True, text=True, check=True
    ).stdout
    assert "done" in table and "shared w8 32px masked" in table
    per_task = subprocess.run(
        mtlabel("runs", demo_project.root, "--run", "1"), capture_output=True, text=True, check=True
    ).stdout
    assert "traffic light" in per_task and "AUC" in per_task
    out = tmp_path / "predictions.csv"
    subprocess.run(
        mtlabel("predictions", demo_project.root, "-o", out), check=True, capture_output=True
    )
    rows = out.read_text().splitlines()
    assert rows[0] == "image,pedestrian,car,stop sign,traffic light"
    assert len(rows) == 1 + 80
    assert all(0 <= float(v) <= 1 for v in rows[1].split(",")[1:])


def test_bad_settings_are_one_line_errors(demo_project: Project) -> None:
    bad = subprocess.run(
        mtlabel("train", demo_project.root, "--epochs", "0"), capture_output=True, text=True
    )
    assert bad.returncode == 1 and bad.stderr.startswith("mtlabel: error: --epochs")
    nocuda = subprocess.run(
        mtlabel("train", demo_project.root, "--device", "cuda"),
        capture_output=True,
        text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert nocuda.returncode == 1 and "no CUDA GPU" in nocuda.stderr


def test_instant_mode_from_the_shell_reports_features_and_predicts_again(
    demo_project: Project,
) -> None:
    instant = ["--backbone", "efficientnet-lite0", "--mode", "instant", "--image-size", "64"]
    settings = [*instant, "--views", "2", "--epochs", "1", "--device", "cpu"]
    done = subprocess.run(
        mtlabel("train", demo_project.root, *settings, "--json"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["event"] == "started" and events[-1]["event"] == "done"
    assert events[0]["config"]["mode"] == "instant"
    assert any(e["event"] == "features" for e in events)
    table = subprocess.run(
        mtlabel("runs", demo_project.root), capture_output=True, text=True, check=True
    ).stdout
    assert "efficientnet-lite0 instant" in table and "64px" in table
    again = subprocess.run(
        mtlabel("predict", demo_project.root, "--run", str(events[0]["run"]), "--json"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1]) == {
        "event": "done",
        "run": events[0]["run"],
        "images": 80,
    }


def test_the_runs_table_names_a_weights_file_not_its_whole_path(
    demo_project: Project, tmp_path: Path
) -> None:
    weights = tmp_path / ("a-very-long-folder-name" * 4) / "mine.pth"
    config = TrainConfig(backbone=f"file:{weights}", mode="instant", image_size=224)
    runs.create_run(demo_project, config.to_dict())
    table = subprocess.run(
        mtlabel("runs", demo_project.root), capture_output=True, text=True, check=True
    ).stdout
    assert "shared file:mine.pth instant 224px masked" in table
    assert "a-very-long-folder-name" not in table
    assert max(len(line) for line in table.splitlines()) < 100


def test_train_help_explains_every_setting_with_its_default(capsys: Any) -> None:
    import dataclasses

    import pytest

    from core.cli.main import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split("options:", 1)[1].split())
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for flag, field in (
        ("--epochs", "epochs"),
        ("--lr", "lr"),
        ("--batch-size", "batch_size"),
        ("--val-fraction", "val_fraction"),
        ("--seed", "seed"),
        ("--arch", "arch"),
        ("--device", "device"),
    ):
        start = text.index(flag + " ")
        after = text[start : text.index(" --", start + len(flag))]
        assert f"(default: {defaults[field]})" in after, (flag, after)
    assert "(default: None)" not in text and "(default: 0) (default" not in text
