"""A stand-in for ``mtlabel train PROJECT FLAGS... --json`` (and ``mtlabel device --json``)
that writes what the real trainer writes, without torch: runs, epochs, per-task metrics
and predictions in the project's database through :mod:`core.runs`, and the trainer's
JSON lines on stdout (``started``, ``info``, ``caching``, ``features``, ``progress``,
``epoch`` with ``tasks``, ``warning``, ``auto``, ``predicting``, then ``done``,
``failed`` or ``cancelled``), a few milliseconds apart.

Used by ``test_window_stress.py`` as the window's trainer program:
``python stand_in_trainer.py KIND train PROJECT FLAGS... --json``. KIND says how the
run ends:

* ``done``: epochs, predictions, done (exit status 0);
* ``auto``: an auto run of two candidates, each its own run; the decision keeps one
  (sometimes the first, so the window shows a run other than the last one started);
* ``failed``: one epoch, then the run fails with a reason (exit status 5);
* ``refused``: exit status 1 and one ``mtlabel: error:`` line before any run exists;
* ``segv``: an epoch, then SIGSEGV (the run is left marked running, as a real crash
  leaves it);
* ``silent``: an epoch, some stdout that is not JSON, exit status 0 without a word;
* ``killed``: an epoch, then SIGKILL of itself;
* ``cancel``: epochs until SIGTERM, then ``cancelled`` (exit status 4);
* ``stubborn``: epochs, ignoring SIGTERM, until killed;
* ``compare``: ``done`` for ``--arch shared``, ``done`` or ``failed`` (every third
  comparison, by run id) for ``--arch separate``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import random
import signal
import sys
import time
from dataclasses import asdict
from typing import Any

faulthandler.enable(all_threads=True)

STEPS = 3
"""Optimisation steps per epoch."""
STEP_S = 0.012
PREDICT_BATCHES = 3


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def parse_flags(flags: list[str]) -> dict[str, Any]:
    """``--epochs 3 --pos-weight --arch separate`` → ``{"epochs": 3, "pos_weight": True, ...}``."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(flags):
        flag = flags[i]
        if not flag.startswith("--"):
            i += 1
            continue
        key = flag[2:].replace("-", "_")
        if i + 1 < len(flags) and not flags[i + 1].startswith("--"):
            value: Any = flags[i + 1]
            try:
                value = int(value)
            except ValueError:
                with contextlib.suppress(ValueError):
                    value = float(value)
            out[key] = value
            i += 2
        else:
            out[key] = True
            i += 1
    out.pop("json", None)
    return out


def config_of(flags: dict[str, Any]) -> dict[str, Any]:
    """A run's config as ``TrainConfig.to_dict`` gives it (the fields the window reads)."""
    backbone = str(flags.get("backbone", "compact"))
    mode = str(flags.get("mode", "auto"))
    if backbone == "auto":
        backbone = "efficientnet-lite0" if mode != "scratch" else "compact"
    if mode == "auto":
        mode = "scratch" if backbone == "compact" else "instant"
    size = int(flags.get("image_size") or 0) or (64 if backbone == "compact" else 224)
    return {
        "epochs": int(flags.get("epochs", 3)),
        "batch_size": int(flags.get("batch_size", 64)),
        "lr": 3e-3,
        "weight_decay": 5e-4,
        "image_size": size,
        "width": int(flags.get("width") or 24),
        "backbone": backbone,
        "mode": mode,
        "views": 4,
        "hidden": 0,
        "arch": str(flags.get("arch", "shared")),
        "loss": str(flags.get("loss", "masked")),
        "pos_weight": bool(flags.get("pos_weight", False)),
        "val_fraction": 0.2,
        "device": str(flags.get("device", "auto")),
        "seed": 0,
        "init_from": flags.get("init_from"),
        "patience": 4,
        "augment": not flags.get("no_augment", False),
        "flip": False,
        "design": "blocks",
        "max_steps": None,
    }


class StandIn:
    """One project, the runs this process creates in it, and SIGTERM."""

    def __init__(self, root: str, flags: dict[str, Any], rng: random.Random) -> None:
        from sqlalchemy import select

        from core.db.models import Image
        from core.project import Project
        from core.tasks import list_tasks

        self.project = Project.open(root)
        self.flags = flags
        self.rng = rng
        self.tasks = list_tasks(self.project)
        with self.project.reading() as session:
            self.image_ids = [int(i) for i in session.scalars(select(Image.id).order_by(Image.id))]
        self.stop = False
        signal.signal(signal.SIGTERM, self._on_term)

    def _on_term(self, *_: object) -> None:
        self.stop = True

    def create(self, config: dict[str, Any]) -> int:
        from core import runs

        run = runs.create_run(self.project, config)
        emit({"event": "started", "run": run, "device": "cpu (stand-in)", "config": config})
        n = len(self.image_ids)
        runs.update_run(
            self.project,
            run,
            device="cpu (stand-in)",
            snapshot={
                "images": n,
                "tasks": [t.name for t in self.tasks],
                "train_images": n * 4 // 5,
                "val_images": n // 5,
            },
        )
        return run

    def prepare(self, run: int, config: dict[str, Any]) -> None:
        total = len(self.image_ids)
        for done in (0, total // 3, 2 * total // 3, total):
            emit({"event": "caching", "done": done, "total": total})
            time.sleep(0.004)
        if config["mode"] == "instant":
            for done in (total // 2, total):
                emit({"event": "features", "done": done, "total": total})
                time.sleep(0.004)

    def epoch(self, run: int, epoch: int, config: dict[str, Any], started: float) -> float | None:
        """One epoch's progress lines, its rows in the database and its ``epoch`` event;
        the epoch's mean AP."""
        from core import runs
        from core.runs import EpochInfo, TaskMetricRow

        epochs = config["epochs"]
        began = time.monotonic()
        for step in range(1, STEPS + 1):
            time.sleep(STEP_S)
            emit(
                {
                    "event": "progress",
                    "run": run,
                    "epoch": epoch,
                    "epochs": epochs,
                    "step": step,
                    "steps": STEPS,
                    "loss": 1.0 / (epoch + step * 0.1),
                    "elapsed": time.monotonic() - began,
                }
            )
        rows: list[TaskMetricRow] = []
        for n, task in enumerate(self.tasks):
            na = n == len(self.tasks) - 1 and self.rng.random() < 0.5
            ap = None if na else round(0.4 + 0.5 * self.rng.random(), 4)
            reason = "no present cells in validation (0 present, 9 absent)" if na else None
            rows.append(
                TaskMetricRow(
                    task_id=task.id,
                    name=task.name,
                    epoch=epoch,
                    train_present=60,
                    train_absent=80,
                    train_unknown=20,
                    val_present=0 if na else 12,
                    val_absent=9 if na else 14,
                    val_unknown=5,
                    loss=0.5,
                    ap=ap,
                    auc=ap,
                    precision=ap,
                    recall=ap,
                    f1=ap,
                    threshold=0.5,
                    na_reason=reason,
                )
            )
        known = [r.ap for r in rows if r.ap is not None]
        mean_ap = sum(known) / len(known) if known else None
        train_loss, val_loss = 1.2 / epoch, 1.3 / epoch + 0.05 * self.rng.random()
        seconds = time.monotonic() - began
        info = EpochInfo(epoch, train_loss, val_loss, mean_ap, seconds)
        runs.record_epoch(self.project, run, info, rows)
        emit(
            {
                "event": "epoch",
                "run": run,
                "epoch": epoch,
                "epochs": epochs,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "mean_ap": mean_ap,
                "seconds": seconds,
                "best": True,
                "tasks": [asdict(r) for r in rows],
            }
        )
        if epoch == 1:
            emit({"event": "warning", "message": "validation too small to trust some APs"})
        return mean_ap

    def train_epochs(self, run: int, config: dict[str, Any], upto: int | None = None) -> float:
        """Epochs 1..``upto`` (all by default), the best marked in the run; its mean AP."""
        from core import runs

        started = time.monotonic()
        best_epoch, best_ap = 1, -1.0
        last = config["epochs"] if upto is None else upto
        for epoch in range(1, last + 1):
            ap = self.epoch(run, epoch, config, started)
            if ap is not None and ap > best_ap:
                best_epoch, best_ap = epoch, ap
            runs.update_run(
                self.project,
                run,
                checkpoint=f"runs/{run}/best.pt",
                best_epoch=best_epoch,
                best_mean_ap=max(best_ap, 0.0),
            )
        return max(best_ap, 0.0)

    def predict(self, run: int, finish_as: str | None = "done") -> None:
        import numpy as np

        from core import runs

        ids = self.image_ids
        task_ids = [t.id for t in self.tasks]
        emit({"event": "predicting", "run": run, "images": len(ids)})
        runs.begin_predictions(self.project, run)
        size = max(1, -(-len(ids) // PREDICT_BATCHES))
        began = time.monotonic()
        generator = np.random.default_rng(run)
        for start in range(0, len(ids), size):
            batch = ids[start : start + size]
            probs = generator.random((len(batch), len(task_ids)))
            runs.write_predictions(self.project, run, batch, task_ids, probs)
            done = start + len(batch)
            emit(
                {
                    "event": "predicting",
                    "run": run,
                    "done": done,
                    "total": len(ids),
                    "elapsed": time.monotonic() - began,
                }
            )
        runs.end_predictions(self.project, run, finish_as=finish_as)

    def run_to_done(self, config: dict[str, Any]) -> int:
        run = self.create(config)
        self.prepare(run, config)
        best_ap = self.train_epochs(run, config)
        self.predict(run)
        best = self.project_best_epoch(run)
        emit({"event": "done", "run": run, "best_epoch": best, "mean_ap": best_ap})
        return 0

    def project_best_epoch(self, run: int) -> int | None:
        from core import runs

        return runs.get_run(self.project, run).best_epoch

    def fail(self, run: int, reason: str) -> int:
        from core import runs

        runs.finish_run(self.project, run, "failed", reason)
        emit({"event": "failed", "run": run, "error": reason})
        return 5

    def auto(self, config: dict[str, Any]) -> int:
        """Two candidates (pretrained head, compact from scratch), then the decision."""
        from core import runs
        from core.db.models import Run

        pretrained = {**config, "backbone": "efficientnet-lite0", "mode": "instant"}
        compact = {**config, "backbone": "compact", "mode": "scratch", "image_size": 64}
        plan = [
            {"key": "pretrained", "label": "pretrained features", "status": None, "run": None,
             "mean_ap": None, "seconds": None, "skipped": None, "error": None,
             "epochs": config["epochs"], "budget_s": 900.0},
            {"key": "compact", "label": "compact network from scratch", "status": None,
             "run": None, "mean_ap": None, "seconds": None, "skipped": None, "error": None,
             "epochs": config["epochs"], "budget_s": 900.0},
        ]  # fmt: skip
        emit({"event": "auto", "stage": "plan", "candidates": plan})
        emit({"event": "info", "message": "auto: training 2 candidates"})
        ids: list[int] = []
        aps: list[float] = []
        for summary, candidate in zip(plan, (pretrained, compact), strict=True):
            began = time.monotonic()
            run = self.create(candidate)
            self.prepare(run, candidate)
            ap = self.train_epochs(run, candidate)
            self.predict(run)
            ids.append(run)
            aps.append(ap)
            summary.update(status="done", run=run, mean_ap=ap, seconds=time.monotonic() - began)
            emit({"event": "auto", "stage": "candidate", "candidate": dict(summary)})
        kept = 0 if self.rng.random() < 0.5 else 1
        reason = "the higher mean validation AP" if kept else "within the margin: the faster"
        with self.project.transaction() as session:
            for n, run in enumerate(ids):
                row = session.get(Run, run)
                assert row is not None
                stored = json.loads(row.config)
                stored["auto"] = {
                    "kept": n == kept,
                    "kept_run": ids[kept],
                    "reason": reason,
                    "candidates": plan,
                }
                row.config = json.dumps(stored)
        emit(
            {
                "event": "auto",
                "stage": "decision",
                "candidates": plan,
                "kept": ids[kept],
                "reason": reason,
                "message": f"Kept run {ids[kept]}: {reason}",
            }
        )
        info = runs.get_run(self.project, ids[kept])
        emit(
            {
                "event": "done",
                "run": ids[kept],
                "best_epoch": info.best_epoch,
                "mean_ap": info.best_mean_ap,
                "auto": True,
            }
        )
        return 0

    def until_stopped(self, run: int, config: dict[str, Any]) -> None:
        """Epochs (more than planned, if need be) until SIGTERM arrives."""
        started = time.monotonic()
        epoch = 0
        while not self.stop:
            epoch += 1
            self.epoch(run, epoch, {**config, "epochs": max(config["epochs"], epoch)}, started)


def train(kind: str, root: str, flags: list[str]) -> int:
    rng = random.Random(os.getpid())
    if kind == "refused":
        sys.stderr.write("mtlabel: error: --epochs must be at least 1\n")
        return 1
    parsed = parse_flags(flags)
    config = config_of(parsed)
    stand_in = StandIn(root, parsed, rng)
    if kind == "done":
        return stand_in.run_to_done(config)
    if kind == "auto":
        return stand_in.auto(config)
    if kind == "compare":
        run = stand_in.create(config)
        stand_in.prepare(run, config)
        if config["arch"] == "separate" and run % 3 == 0:
            stand_in.train_epochs(run, config, upto=1)
            return stand_in.fail(run, "out of memory: try a smaller --batch-size")
        ap = stand_in.train_epochs(run, config)
        stand_in.predict(run)
        best = stand_in.project_best_epoch(run)
        emit({"event": "done", "run": run, "best_epoch": best, "mean_ap": ap})
        return 0
    run = stand_in.create(config)
    stand_in.prepare(run, config)
    if kind == "failed":
        stand_in.train_epochs(run, config, upto=1)
        return stand_in.fail(run, "no trainable labels for task 'sign' in this split")
    if kind in ("segv", "silent", "killed"):
        stand_in.train_epochs(run, config, upto=1)
        sys.stderr.write("stand-in: about to stop without a word\n")
        sys.stderr.flush()
        if kind == "segv":
            faulthandler.disable()  # a real crash's stack is not what the test looks for
            os.kill(os.getpid(), signal.SIGSEGV)
        if kind == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        print("this is not JSON", flush=True)
        return 0
    if kind == "cancel":
        stand_in.until_stopped(run, config)
        from core import runs

        runs.finish_run(stand_in.project, run, "cancelled", "cancelled by the user")
        emit({"event": "cancelled", "run": run})
        return 4
    if kind == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stand_in.until_stopped(run, config)
        return 0
    raise SystemExit(f"stand-in: unknown kind {kind!r}")


def main(argv: list[str]) -> int:
    kind, command, *rest = argv
    if command == "device":
        emit({"cuda": False, "name": None, "mps": False, "summary": "CPU only (stand-in)"})
        return 0
    if command != "train":
        raise SystemExit(f"stand-in: unknown command {command!r}")
    root, *flags = rest
    return train(kind, root, flags)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
