"""SIGKILL the trainer at seeded random moments: nothing is lost, nothing half-done is used.

One project; the real ``python -m core.cli.main train --json`` is killed again and
again — while it decodes images into the cache, while it computes backbone features
(instant mode), mid-epoch, right after and while it saves the checkpoint, while it
writes predictions, and after random delays from its start. After every kill:
SQLite's integrity check passes, the label table is exactly as before, the next
``Project.open`` marks the run failed, its predictions are not complete, and
whatever checkpoint it left behind is refused by ``predict``, ``export-model`` and
``--init-from``. Then runs train to the end, in both modes.

SQLite only: ``PRAGMA integrity_check`` is about the database file.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import runs
from core.project import DB_FILE, Project
from tests.faults.conftest import FAULT_IMAGES
from tests.faults.helpers import (
    TINY_TRAIN,
    Trainer,
    label_rows,
    label_rows_at,
    run_cli,
    sqlite_integrity,
)

SEED = 20251201
EPOCHS = 5
INSTANT: tuple[str, ...] = ("--backbone", "efficientnet-lite0", "--mode", "instant")
INSTANT += ("--image-size", "64", "--views", "1")
Event = dict[str, Any]
Wait = Callable[[Trainer], bool]


@dataclass
class Kill:
    """One kill: when to pull the trigger, and whether the image cache is gone first."""

    name: str
    wait: Wait
    clear_cache: bool = False
    after_kill: Callable[[], None] = lambda: None
    settings: tuple[str, ...] = ()


def blocked_in_prediction_writes(root: Path) -> Kill:
    """On the first "predicting" event take SQLite's write lock (as a window saving a
    label would, for longer): the trainer then waits inside its prediction writes —
    to begin, write or complete them — and is killed there, never after it ended."""
    held: list[sqlite3.Connection] = []

    def wait(trainer: Trainer) -> bool:
        if not trainer.wait_for(lambda e: e["event"] == "predicting"):
            return False
        conn = sqlite3.connect(root / DB_FILE, timeout=30, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.append(conn)
        time.sleep(0.3)
        return True

    def release() -> None:
        for conn in held:
            conn.execute("ROLLBACK")
            conn.close()
        held.clear()

    return Kill("writing predictions", wait, after_kill=release)


def on_event(accept: Callable[[Event], bool], delay: float) -> Wait:
    """Wait for the first accepted event, then ``delay`` seconds more."""

    def wait(trainer: Trainer) -> bool:
        if not trainer.wait_for(accept):
            return False
        time.sleep(delay)
        return True

    return wait


def after(seconds: float) -> Wait:
    """``seconds`` after the process was started, whatever it is doing by then."""

    def wait(trainer: Trainer) -> bool:
        time.sleep(max(0.0, trainer.started_at + seconds - time.monotonic()))
        return True

    return wait


def plan(rng: random.Random, root: Path) -> list[Kill]:
    def kind(name: str, **fields: Any) -> Callable[[Event], bool]:
        return lambda e: e["event"] == name and all(e.get(k) == v for k, v in fields.items())

    def last_step(epoch: int) -> Callable[[Event], bool]:
        return lambda e: (
            e["event"] == "progress" and e["epoch"] == epoch and e["step"] == e["steps"]
        )

    def in_epoch(epoch: int) -> Callable[[Event], bool]:
        return lambda e: e["event"] == "progress" and e["epoch"] == epoch

    def caching_started(e: Event) -> bool:
        # The first caching event (done 0) comes as decoding begins: the kill lands while
        # the trainer decodes. Waiting for a later one (progress is said at most every
        # 0.1 s) failed once: 240 tiny images were all decoded within that 0.1 s.
        return bool(e["event"] == "caching" and e["done"] < e["total"])

    return [
        Kill("decoding images", on_event(caching_started, 0.0), clear_cache=True),
        Kill(
            "computing features",
            on_event(kind("features", done=0), rng.uniform(0.05, 0.25)),
            settings=INSTANT,
        ),
        Kill("start of caching", on_event(kind("started"), rng.uniform(0, 0.15)), True),
        Kill("random moment", after(rng.uniform(0.3, 1.5))),
        Kill("random moment", on_event(kind("started"), rng.uniform(0.1, 1.2))),
        Kill("mid-epoch", on_event(in_epoch(rng.randint(1, 3)), rng.uniform(0.02, 0.12))),
        Kill("mid-epoch", on_event(in_epoch(rng.randint(2, 4)), rng.uniform(0.02, 0.12))),
        Kill("after a checkpoint", on_event(kind("epoch", epoch=rng.randint(1, 3)), 0.0)),
        Kill("saving the checkpoint", on_event(last_step(rng.randint(1, 3)), rng.uniform(0, 0.03))),
        Kill("saving the checkpoint", on_event(last_step(rng.randint(2, 4)), rng.uniform(0, 0.03))),
        blocked_in_prediction_writes(root),
        Kill("writing predictions", on_event(kind("predicting"), rng.uniform(0, 0.06))),
    ]


def run_ids(root: Path) -> set[int]:
    with contextlib.closing(sqlite3.connect(root / DB_FILE)) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM run")}


def raw_status(root: Path, run_id: int) -> str:
    """The run's status as the database holds it, before any mtlabel opens the project."""
    with contextlib.closing(sqlite3.connect(root / DB_FILE)) as conn:
        return str(conn.execute("SELECT status FROM run WHERE id = ?", (run_id,)).fetchone()[0])


def says_unfinished(message: str, run_id: int) -> bool:
    """The refusal names the run and why: it did not finish, or it left no checkpoint."""
    return f"run {run_id} did not finish" in message or f"run {run_id} has no checkpoint" in message


def check_nothing_half_done_is_used(root: Path, run_id: int, tmp: Path) -> None:
    """A killed run's predictions and checkpoint are refused, each with one clear line."""
    csv = tmp / f"predictions-{run_id}.csv"
    refused = run_cli("predictions", root, "--run", run_id, "-o", csv).one_line_error()
    assert f"run {run_id} has no complete set of predictions" in refused
    assert not csv.exists()

    refused = run_cli("predict", root, "--run", run_id, "--device", "cpu").one_line_error()
    assert says_unfinished(refused, run_id), refused

    out = tmp / f"model-{run_id}"
    exported = run_cli("export-model", root, "--run", run_id, "-o", out, "--no-onnx")
    assert says_unfinished(exported.one_line_error(), run_id), exported.err
    assert not out.exists()

    with Project.open(root) as project:
        info = runs.get_run(project, run_id)
        assert info.status == "failed" and not info.predictions_complete
        assert info.checkpoint in (None, f"runs/{run_id}/best.pt"), "never a .partial file"
        latest = runs.latest_finished_run(project)
        assert latest is None or latest.id != run_id


def test_sqlite_trainer_killed_at_random_moments_loses_nothing(
    fault_project: Path, tmp_path: Path
) -> None:
    root = fault_project
    labels = label_rows_at(root)
    assert len(labels) > 300
    rng = random.Random(SEED)
    killed: dict[str, list[int]] = {}
    left_checkpoint: list[int] = []
    init_from_checked = False

    for kill in plan(rng, root):
        if kill.clear_cache:
            shutil.rmtree(root / "cache", ignore_errors=True)
        before = run_ids(root)
        trainer = Trainer.start(root, "--epochs", EPOCHS, *kill.settings)
        try:
            reached = kill.wait(trainer)
            code = trainer.kill()
        finally:
            if trainer.proc.poll() is None:
                trainer.proc.kill()
                trainer.proc.wait()
            kill.after_kill()
        assert reached, f"{kill.name}: the trainer ended first ({trainer.kinds()})"

        sqlite_integrity(root)
        new = run_ids(root) - before
        assert len(new) <= 1
        if "done" in trainer.kinds():  # the kill came after the run had finished
            assert code in (0, -9)
            with Project.open(root) as project:
                info = runs.get_run(project, new.pop())
                assert info.status == "done" and info.predictions_complete
                assert label_rows(project) == labels
            continue
        assert code == -9, f"{kill.name}: {code}"
        if not new:  # killed before it created its run (importing torch, opening)
            assert label_rows_at(root) == labels
            killed.setdefault(kill.name, []).append(-1)
            continue
        run_id = new.pop()
        assert raw_status(root, run_id) == "running", "a killed trainer cannot say so itself"
        with Project.open(root) as project:  # the next open recognises the dead trainer
            info = runs.get_run(project, run_id)
            assert info.status == "failed", kill.name
            assert info.error is not None and "stopped without finishing" in info.error
            assert not info.predictions_complete
            assert label_rows(project) == labels, f"labels changed by a kill {kill.name}"
        killed.setdefault(kill.name, []).append(run_id)
        check_nothing_half_done_is_used(root, run_id, tmp_path)
        if (root / "runs" / str(run_id) / "best.pt").exists():
            left_checkpoint.append(run_id)
            if not init_from_checked:
                init_from_checked = True
                started = run_cli(
                    "train", root, *TINY_TRAIN, "--epochs", "1", "--init-from", run_id
                )
                assert started.code == 1, started.err  # refused before a run is created
                assert f"run {run_id} did not finish" in started.err
        sqlite_integrity(root)

    kills = sum(len(ids) for ids in killed.values())
    assert kills >= 8, killed
    assert killed.get("decoding images"), "the first kill is while images are decoded"
    assert left_checkpoint, "some killed run must have left a checkpoint behind"
    assert init_from_checked
    assert any(r > 0 for r in killed.get("writing predictions", [])), killed

    # After all that the next run trains to the end and predicts every image.
    trainer = Trainer.start(root, "--epochs", "2")
    assert trainer.finish() == 0, trainer.kinds()
    assert trainer.kinds()[-1] == "done"
    final = trainer.run_id()
    assert final is not None
    sqlite_integrity(root)
    with Project.open(root) as project:
        info = runs.get_run(project, final)
        assert info.status == "done" and info.predictions_complete
        image_ids, task_ids, probs = runs.read_predictions(project, final)
        assert (len(image_ids), len(task_ids)) == (FAULT_IMAGES, 4)
        assert not np.isnan(probs).any()
        assert label_rows(project) == labels
    exported = run_cli("predictions", root, "--run", final, "-o", tmp_path / "final.csv")
    assert exported.code == 0, exported.err
    assert len((tmp_path / "final.csv").read_text().splitlines()) == 1 + FAULT_IMAGES
    # Instant mode too, on what the killed feature computation left in the cache.
    instant = Trainer.start(root, "--epochs", "1", *INSTANT)
    assert instant.finish() == 0 and instant.kinds()[-1] == "done", instant.events[-2:]
    features = [e for e in instant.events if e["event"] == "features"][-1]
    assert features["done"] == FAULT_IMAGES
