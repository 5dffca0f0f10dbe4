"""The default run (``--backbone auto --mode auto``): train candidates, keep the better.

Frozen ImageNet features are right for photographs and poor for digits, drawings
or X-ray-like images; a small network trained from scratch is the other way
round (docs/measurements.md). Which one a project needs is decided on its own
validation cells, not guessed. The rules, each tested in
``tests/core/training/test_auto.py``:

1. **Pretrained head** — instant mode on the default backbone's cached features —
   is a candidate whenever its weights are installed (seconds once features are
   cached).
2. **Compact from scratch** is a candidate when at least
   :data:`MIN_SCRATCH_IMAGES` training images have a known cell; below that
   from-scratch training is noise and pretrained features win.
3. **Fine-tuning** the pretrained backbone joins on a CUDA GPU (on a CPU it costs
   tens of minutes).
4. Every candidate is bounded: its epochs, early stopping, and
   :data:`CANDIDATE_BUDGET_S` seconds of epochs (``--time-budget`` overrides).
5. Candidates are compared by the headline validation mean AP — the same
   validation images (the split is by content hash) and the same cells. The
   better one is kept unless the validation is too small to decide — no task with
   :data:`~core.training.metrics.MIN_RELIABLE_CELLS` validation cells of each
   class — or its lead is below :data:`MARGIN`: then the pretrained head is kept
   (it needs fewer labels and retrains in seconds), and the run says so.
6. Every candidate stays in the run list, with its own metrics and predictions;
   the ones not kept are marked (``config["auto"]["kept"]`` false) and the window
   shows the kept one's predictions.

The candidates are trained by the function passed in (``loop.train`` for one run).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from core import runs
from core.db.models import Run
from core.errors import UserError
from core.project import Project
from core.training.backbones import AUTO, COMPACT, default_choice
from core.training.config import TrainConfig
from core.training.metrics import MIN_RELIABLE_CELLS
from core.training.snapshot import take_snapshot

Emit = Callable[[dict[str, Any]], None]
Cancel = Callable[[], bool]
TrainOne = Callable[[Project, TrainConfig, Emit, Cancel], int]

MIN_SCRATCH_IMAGES = 300
"""Training images with a known cell below which the compact candidate is skipped."""
CANDIDATE_BUDGET_S = 900.0
"""Seconds of epochs a candidate may use (its best epoch so far is kept)."""
MARGIN = 0.01
"""A candidate must beat the pretrained head's mean AP by this much to be kept."""


@dataclass
class Candidate:
    key: str
    """pretrained, compact or finetune."""
    label: str
    config: TrainConfig
    skipped: str | None = None
    run_id: int | None = None
    status: str | None = None
    mean_ap: float | None = None
    seconds: float | None = None
    error: str | None = None
    counts: dict[str, Any] | None = None
    """Per task, the cells of its run's label snapshot (``val_present`` …)."""

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "run": self.run_id,
            "status": self.status or ("skipped" if self.skipped else None),
            "mean_ap": self.mean_ap,
            "seconds": self.seconds,
            "skipped": self.skipped,
            "error": self.error,
            "epochs": self.config.epochs,
            "budget_s": self.config.time_budget_s,
        }


@dataclass
class Decision:
    chosen: Candidate | None
    reason: str
    candidates: list[Candidate] = field(default_factory=list)


def is_auto(config: TrainConfig) -> bool:
    """Whether a run asks for the default choice (and does not start from a run)."""
    return config.backbone.strip() == AUTO and config.mode == "auto" and config.init_from is None


def plan(project: Project, config: TrainConfig, cuda: bool) -> list[Candidate]:
    """The candidates of an auto run, skipped ones with the reason (rules 1–4)."""
    snap = take_snapshot(project, config.val_fraction)
    n_train = int(snap.trainable.sum())
    budget = config.time_budget_s if config.time_budget_s is not None else CANDIDATE_BUDGET_S
    bounded = dataclasses.replace(config, time_budget_s=budget)
    backbone, _mode, missing = default_choice()
    out: list[Candidate] = []
    pretrained = dataclasses.replace(bounded, backbone=backbone, mode="instant")
    out.append(
        Candidate(
            "pretrained",
            f"pretrained features ({backbone}, instant head)",
            pretrained,
            skipped=None if backbone != COMPACT else (missing or "no pretrained weights"),
        )
    )
    compact = dataclasses.replace(bounded, backbone=COMPACT, mode="scratch")
    too_few = (
        f"{n_train} training images with a label, fewer than the {MIN_SCRATCH_IMAGES} "
        "from-scratch training needs"
    )
    # Without pretrained weights the compact network is all there is: it trains anyway.
    enough = n_train >= MIN_SCRATCH_IMAGES or out[0].skipped is not None
    out.append(
        Candidate("compact", "compact network from scratch", compact, None if enough else too_few)
    )
    if cuda and backbone != COMPACT and config.arch != "separate":  # no separate fine-tuning
        out.append(
            Candidate(
                "finetune",
                f"fine-tuned {backbone}",
                dataclasses.replace(bounded, backbone=backbone, mode="finetune"),
            )
        )
    return out


def decide(candidates: list[Candidate], reliable: bool) -> Decision:
    """Rule 5: the kept candidate among those that finished, and why."""
    done = [c for c in candidates if c.status == "done"]
    if not done:
        return Decision(None, "no candidate finished", candidates)
    scored = [c for c in done if c.mean_ap is not None]
    pretrained = next((c for c in done if c.key == "pretrained"), None)
    if not scored:
        chosen = pretrained or done[0]
        return Decision(chosen, "no candidate has a validation AP to compare", candidates)
    best = max(scored, key=lambda c: c.mean_ap or 0.0)
    if len(done) == 1:
        return Decision(best, "the only candidate that trained", candidates)
    if pretrained is None or pretrained.mean_ap is None or best is pretrained:
        why = "the best validation mean AP"
        if best is pretrained:
            why += " (pretrained features describe these images well)"
        return Decision(best, why, candidates)
    lead = (best.mean_ap or 0.0) - pretrained.mean_ap
    if not reliable:
        return Decision(
            pretrained,
            f"the validation is too small to decide (no task has {MIN_RELIABLE_CELLS} "
            "validation cells of each class): kept the pretrained head, which needs fewer "
            "labels",
            candidates,
        )
    if lead < MARGIN:
        return Decision(
            pretrained,
            f"the {best.label} leads by {lead:.3f} only (less than {MARGIN}): kept the "
            "pretrained head, which retrains in seconds",
            candidates,
        )
    return Decision(
        best,
        f"it leads by {lead:.3f}: these images do not look like the photographs the "
        "pretrained features were made from",
        candidates,
    )


def train_auto(
    project: Project,
    config: TrainConfig,
    emit: Emit,
    cancel: Cancel,
    train_one: TrainOne,
    cuda: bool,
) -> int:
    """Train every candidate with ``train_one``, keep the better (see the module's doc);
    return the kept run's id (or the last run's, when none finished)."""
    candidates = plan(project, config, cuda)
    todo = [c for c in candidates if c.skipped is None]
    emit({"event": "auto", "stage": "plan", "candidates": [c.summary() for c in candidates]})
    emit({"event": "info", "message": _plan_message(candidates)})
    last_run: int | None = None
    for n, candidate in enumerate(todo, 1):
        terminal: dict[str, Any] = {}

        def relay(event: dict[str, Any], terminal: dict[str, Any] = terminal) -> None:
            if event["event"] in ("done", "failed"):
                terminal.update(event)  # the auto run ends once, with the kept run
                return
            emit(event)

        started = time.monotonic()
        emit(
            {
                "event": "info",
                "message": f"auto: candidate {n} of {len(todo)}: {candidate.label}",
            }
        )
        try:
            run_id = train_one(project, candidate.config, relay, cancel)
        except UserError as exc:  # refused before its run began: the others go on
            candidate.status, candidate.error = "failed", str(exc)
            emit({"event": "warning", "message": f"auto: {candidate.label} refused ({exc})"})
            continue
        last_run = run_id
        candidate.run_id = run_id
        candidate.seconds = time.monotonic() - started
        info = runs.get_run(project, run_id)
        candidate.status = info.status
        candidate.mean_ap = info.best_mean_ap
        candidate.error = info.error
        candidate.counts = (info.snapshot or {}).get("counts")
        if info.status == "cancelled":  # nothing compared: no run is marked
            return run_id
        if info.status != "done":
            emit(
                {
                    "event": "warning",
                    "message": f"auto: {candidate.label} failed ({info.error}); "
                    "the other candidates go on",
                }
            )
        emit({"event": "auto", "stage": "candidate", "candidate": candidate.summary()})

    # What the candidates were validated on, as their runs recorded it.
    seen = [c.counts for c in candidates if c.status == "done" and c.counts is not None]
    reliable = bool(seen) and any(
        c["val_present"] >= MIN_RELIABLE_CELLS and c["val_absent"] >= MIN_RELIABLE_CELLS
        for c in seen[0].values()
    )
    decision = decide(candidates, reliable)
    if any(counts != seen[0] for counts in seen):
        decision.reason += (
            " (labels changed while the candidates trained, so their validation cells "
            "differ a little)"
        )
    chosen = decision.chosen
    _mark(project, candidates, chosen, decision.reason)
    message = _decision_message(decision)
    emit({"event": "info", "message": message})
    emit(
        {
            "event": "auto",
            "stage": "decision",
            "candidates": [c.summary() for c in candidates],
            "kept": chosen.run_id if chosen else None,
            "reason": decision.reason,
            "message": message,
        }
    )
    if chosen is None or chosen.run_id is None:
        failure = last_run if last_run is not None else -1
        emit({"event": "failed", "run": failure, "error": f"auto: {decision.reason}"})
        return failure
    info = runs.get_run(project, chosen.run_id)
    emit(
        {
            "event": "done",
            "run": chosen.run_id,
            "best_epoch": info.best_epoch,
            "mean_ap": info.best_mean_ap,
            "auto": True,
        }
    )
    return chosen.run_id


def _fmt_ap(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _plan_message(candidates: list[Candidate]) -> str:
    parts = []
    for c in candidates:
        if c.skipped:
            parts.append(f"{c.label}: skipped ({c.skipped})")
        else:
            bound = c.config.time_budget_s or 0
            parts.append(
                f"{c.label}: at most {c.config.epochs} epochs or {bound / 60:.0f} min of epochs"
            )
    return "auto: training the candidates, then keeping the better on validation — " + "; ".join(
        parts
    )


def _decision_message(decision: Decision) -> str:
    shown = []
    for c in decision.candidates:
        if c.skipped:
            shown.append(f"{c.label}: skipped")
        elif c.status == "done":
            shown.append(f"{c.label}: {_fmt_ap(c.mean_ap)} (run {c.run_id}, {c.seconds:.0f} s)")
        else:
            shown.append(f"{c.label}: {c.status}")
    chosen = decision.chosen
    kept = f"kept run {chosen.run_id}, {chosen.label}" if chosen else "nothing kept"
    return "auto: " + ", ".join(shown) + f" — {kept}: {decision.reason}"


def _mark(
    project: Project, candidates: list[Candidate], chosen: Candidate | None, reason: str
) -> None:
    """Record in each candidate run's config what the auto run decided (rule 6)."""
    summaries = [c.summary() for c in candidates]
    with project.transaction() as session:
        for c in candidates:
            if c.run_id is None:
                continue
            row = session.get(Run, c.run_id)
            if row is None:
                continue
            config = json.loads(row.config)
            config["auto"] = {
                "kept": chosen is not None and c is chosen,
                "kept_run": chosen.run_id if chosen else None,
                "reason": reason,
                "candidates": summaries,
            }
            session.execute(update(Run).where(Run.id == c.run_id).values(config=json.dumps(config)))
