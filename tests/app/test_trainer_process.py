"""TrainerProcess: JSON lines to typed signals, and exactly one outcome however it ends.

Stand-in trainers (``python -c SCRIPT``) cover partial lines, garbage, crashes
and signals cheaply; the real ``mtlabel train`` is used where its own
behaviour matters (a refused start, SIGKILL in the middle of a run).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.training.trainer_process import (
    DeviceProbe,
    LineSplitter,
    TrainerProcess,
    TrainOutcome,
    decide_outcome,
    flags_from_settings,
)
from core.project import Project
from core.runs import get_run
from tests.helpers import TINY_TRAIN


def fake(script: str) -> list[str]:
    """A stand-in trainer: ``python -c SCRIPT`` (our arguments land in its sys.argv)."""
    return [sys.executable, "-c", textwrap.dedent(script)]


def event(**values: object) -> str:
    return json.dumps(values)


def run_to_end(qtbot: QtBot, trainer: TrainerProcess, timeout: int = 20_000) -> TrainOutcome:
    with qtbot.waitSignal(trainer.finished, timeout=timeout) as blocker:
        assert trainer.start("/nowhere", [])
    outcome = blocker.args[0]
    assert isinstance(outcome, TrainOutcome)
    assert not trainer.is_running()
    return outcome


# -- without Qt -------------------------------------------------------------------------


def test_flags_from_settings() -> None:
    flags = flags_from_settings(
        {
            "epochs": 3,
            "batch_size": 16,
            "init_from": None,
            "pos_weight": True,
            "no_augment": False,
            "backbone": "compact",
            "_project": "/somewhere",
        }
    )
    assert flags == ["--epochs", "3", "--batch-size", "16", "--pos-weight", "--backbone", "compact"]


def test_line_splitter_keeps_partial_lines() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a": ') == []
    assert splitter.feed(b'1}\n{"b"') == ['{"a": 1}']
    assert splitter.feed(b": 2}\r\n\n") == ['{"b": 2}', ""]
    assert splitter.feed("é".encode()[:1]) == []
    assert splitter.feed("é".encode()[1:] + b"\n") == ["é"]
    assert splitter.feed(b"tail") == []
    assert splitter.flush() == ["tail"]
    assert splitter.flush() == []


def test_outcome_from_terminal_events() -> None:
    common: dict[str, Any] = {
        "run_id": 4,
        "exit_code": 0,
        "signal_number": None,
        "cancel_requested": False,
    }
    done = decide_outcome(terminal={"event": "done", "best_epoch": 2, "mean_ap": 0.5}, **common)
    assert (done.status, done.best_epoch, done.mean_ap, done.ok) == ("done", 2, 0.5, True)
    assert done.summary() == "Run 4 done: best epoch 2, mean AP 0.500"
    failed = decide_outcome(terminal={"event": "failed", "error": "no labels"}, **common)
    assert (failed.status, failed.error) == ("failed", "no labels")
    cancelled = decide_outcome(terminal={"event": "cancelled"}, **common)
    assert cancelled.status == "cancelled"


def test_outcome_without_terminal_event() -> None:
    refused = decide_outcome(
        terminal=None,
        run_id=None,
        exit_code=1,
        signal_number=None,
        cancel_requested=False,
        stderr_tail=["mtlabel: error: --epochs must be at least 1"],
    )
    assert (refused.status, refused.error) == ("failed", "--epochs must be at least 1")
    killed = decide_outcome(
        terminal=None,
        run_id=7,
        exit_code=None,
        signal_number=9,
        cancel_requested=False,
        stderr_tail=["something"],
        garbage=["not json"],
    )
    assert killed.status == "crashed" and killed.signal == 9
    assert killed.error is not None
    assert "SIGKILL" in killed.error and "something" in killed.error and "not json" in killed.error
    assert "Run 7" in killed.summary()
    silent = decide_outcome(
        terminal=None, run_id=None, exit_code=0, signal_number=None, cancel_requested=False
    )
    assert silent.status == "crashed" and "exit status 0" in (silent.error or "")
    stopped = decide_outcome(
        terminal=None, run_id=None, exit_code=None, signal_number=15, cancel_requested=True
    )
    assert stopped.status == "cancelled"


# -- stand-in trainers ------------------------------------------------------------------

FULL_RUN_LINES = [
    event(event="started", run=3, device="cpu", config={"epochs": 1}),
    event(event="caching", done=2, total=2),
    event(event="progress", run=3, epoch=1, epochs=1, step=1, steps=1, loss=0.5, elapsed=0.1),
    event(
        event="epoch",
        run=3,
        epoch=1,
        epochs=1,
        train_loss=0.5,
        val_loss=0.6,
        mean_ap=0.7,
        seconds=0.2,
        best=True,
        tasks=[],
    ),
    event(event="warning", message="image 9 left out: unreadable"),
    event(event="predicting", run=3, images=2),
    event(event="predicting", run=3, done=2, total=2, elapsed=0.01),
    event(event="done", run=3, best_epoch=1, mean_ap=0.7),
]
# Each line in two writes, 20 ms apart: the reader must wait for the rest of a line.
FULL_RUN = f"""
import sys, time
for line in {FULL_RUN_LINES!r}:
    half = len(line) // 2
    sys.stdout.write(line[:half]); sys.stdout.flush(); time.sleep(0.02)
    sys.stdout.write(line[half:] + "\\n"); sys.stdout.flush()
"""


def test_events_arrive_as_typed_signals_in_order(qtbot: QtBot) -> None:
    trainer = TrainerProcess(program=fake(FULL_RUN))
    got: dict[str, list[object]] = {"caching": [], "predicting": [], "message": []}
    trainer.caching.connect(lambda d, t: got["caching"].append((d, t)))
    trainer.predicting.connect(lambda d, t: got["predicting"].append((d, t)))
    trainer.message.connect(got["message"].append)
    signals = [
        trainer.running_changed,
        trainer.started,
        trainer.caching,
        trainer.progress,
        trainer.epoch_finished,
        trainer.message,
        trainer.predicting,
        trainer.finished,
    ]
    with qtbot.waitSignals(signals, order="simple", timeout=20_000):
        assert trainer.start("/nowhere", ["--epochs", "1"])
        assert trainer.is_running()
        assert not trainer.start("/nowhere", []), "a second start while running is refused"
    qtbot.waitUntil(lambda: not trainer.is_running())
    assert got["caching"] == [(2, 2)]
    assert got["predicting"] == [(0, 2), (2, 2)]
    assert got["message"] == ["Warning: image 9 left out: unreadable"]
    assert trainer.run_id == 3


def test_done_outcome_and_the_command_line(qtbot: QtBot) -> None:
    trainer = TrainerProcess(program=fake(FULL_RUN))
    outcome = run_to_end(qtbot, trainer)
    assert (outcome.status, outcome.run_id, outcome.best_epoch, outcome.exit_code) == (
        "done",
        3,
        1,
        0,
    )
    assert trainer.arguments("/p", ["--epochs", "2"])[-5:] == [
        "train",
        "/p",
        "--epochs",
        "2",
        "--json",
    ]


def test_last_line_without_newline_counts(qtbot: QtBot) -> None:
    script = f"import sys; sys.stdout.write({event(event='done', run=1, best_epoch=1)!r})"
    outcome = run_to_end(qtbot, TrainerProcess(program=fake(script)))
    assert outcome.status == "done"


def test_garbage_then_a_silent_exit_is_a_crash_with_the_reason(qtbot: QtBot) -> None:
    script = f"""
    import sys
    print({event(event="started", run=5, device="cpu", config={})!r})
    print("Traceback? no: this is not JSON")
    print('["a list, not an event"]')
    sys.stderr.write("warming up\\nsomething went badly wrong\\n")
    """
    outcome = run_to_end(qtbot, TrainerProcess(program=fake(script)))
    assert outcome.status == "crashed"
    assert outcome.run_id == 5
    assert outcome.exit_code == 0
    assert outcome.error is not None
    assert "this is not JSON" in outcome.error
    assert "something went badly wrong" in outcome.error
    assert outcome.stderr_tail[-1] == "something went badly wrong"


def test_a_segfault_is_reported_with_its_signal(qtbot: QtBot) -> None:
    script = f"""
    import os, signal, sys
    print({event(event="started", run=2, device="cpu", config={})!r}, flush=True)
    sys.stderr.write("about to fall over\\n"); sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGSEGV)
    """
    outcome = run_to_end(qtbot, TrainerProcess(program=fake(script)))
    assert outcome.status == "crashed"
    assert outcome.signal == signal.SIGSEGV
    assert outcome.error is not None
    assert "SIGSEGV" in outcome.error and "about to fall over" in outcome.error


def test_a_user_error_exit_is_a_failure_with_the_message(qtbot: QtBot) -> None:
    script = """
    import sys
    sys.stderr.write("mtlabel: error: --device cuda was asked for, but no CUDA GPU\\n")
    sys.exit(1)
    """
    outcome = run_to_end(qtbot, TrainerProcess(program=fake(script)))
    assert (outcome.status, outcome.exit_code) == ("failed", 1)
    assert outcome.error == "--device cuda was asked for, but no CUDA GPU"


def test_a_program_that_cannot_start_is_reported(qtbot: QtBot, tmp_path: Path) -> None:
    trainer = TrainerProcess(program=[str(tmp_path / "no-such-python")])
    outcome = run_to_end(qtbot, trainer)
    assert outcome.status == "failed"
    assert outcome.error is not None and "could not start the trainer" in outcome.error


CANCELLABLE = f"""
import signal, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
print({event(event="started", run=8, device="cpu", config={})!r}, flush=True)
while not stop:
    time.sleep(0.01)
print({event(event="cancelled", run=8)!r}, flush=True)
sys.exit(4)
"""

STUBBORN = f"""
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print({event(event="started", run=9, device="cpu", config={})!r}, flush=True)
time.sleep(60)
"""


def test_cancel_sends_sigterm_and_the_trainer_says_cancelled(qtbot: QtBot) -> None:
    trainer = TrainerProcess(program=fake(CANCELLABLE))
    with qtbot.waitSignal(trainer.started, timeout=20_000):
        trainer.start("/nowhere", [])
    with qtbot.waitSignal(trainer.finished, timeout=10_000) as blocker:
        assert trainer.cancel()
    outcome = blocker.args[0]
    assert (outcome.status, outcome.run_id, outcome.exit_code) == ("cancelled", 8, 4)
    assert not trainer.cancel(), "nothing left to cancel"


def test_a_trainer_ignoring_sigterm_is_killed_after_the_grace_period(qtbot: QtBot) -> None:
    trainer = TrainerProcess(program=fake(STUBBORN), kill_after_s=0.5)
    with qtbot.waitSignal(trainer.started, timeout=20_000):
        trainer.start("/nowhere", [])
    with qtbot.waitSignal(trainer.finished, timeout=10_000) as blocker:
        trainer.cancel()
    outcome = blocker.args[0]
    assert (outcome.status, outcome.signal) == ("cancelled", signal.SIGKILL)
    assert outcome.error is not None and "was killed" in outcome.error


def test_shutdown_stops_a_running_trainer(qtbot: QtBot) -> None:
    trainer = TrainerProcess(program=fake(CANCELLABLE))
    with qtbot.waitSignal(trainer.started, timeout=20_000):
        trainer.start("/nowhere", [])
    with qtbot.waitSignal(trainer.finished, timeout=10_000) as blocker:
        trainer.shutdown(timeout_s=5)
    assert blocker.args[0].status == "cancelled"
    assert not trainer.is_running()


# -- the real trainer -------------------------------------------------------------------


def test_real_trainer_refusing_bad_settings(qtbot: QtBot, demo_project: Project) -> None:
    trainer = TrainerProcess()
    with qtbot.waitSignal(trainer.finished, timeout=60_000) as blocker:
        trainer.start(demo_project.root, ["--epochs", "0", *TINY_TRAIN])
    outcome = blocker.args[0]
    assert (outcome.status, outcome.exit_code, outcome.run_id) == ("failed", 1, None)
    assert outcome.error == "--epochs must be at least 1"


def test_real_trainer_killed_mid_run_is_reported(qtbot: QtBot, demo_project: Project) -> None:
    trainer = TrainerProcess()
    with qtbot.waitSignal(trainer.progress, timeout=120_000):
        trainer.start(demo_project.root, ["--epochs", "200", *TINY_TRAIN])
    pid = trainer.pid()
    assert pid is not None
    with qtbot.waitSignal(trainer.finished, timeout=20_000) as blocker:
        os.kill(pid, signal.SIGKILL)
    outcome = blocker.args[0]
    assert outcome.status == "crashed"
    assert outcome.signal == signal.SIGKILL
    assert outcome.run_id is not None
    assert outcome.error is not None and "SIGKILL" in outcome.error
    # The trainer had no chance to say so: its run is still marked running.
    assert get_run(demo_project, outcome.run_id).status == "running"


def test_device_probe_answers(qtbot: QtBot) -> None:
    probe = DeviceProbe()
    with qtbot.waitSignal(probe.found, timeout=60_000) as blocker:
        probe.start()
    answer = blocker.args[0]
    assert set(answer) == {"cuda", "name", "mps", "summary"}
    assert isinstance(answer["cuda"], bool)
    assert answer["summary"].startswith("CUDA: ") == answer["cuda"]


def test_device_probe_failure_still_answers(qtbot: QtBot) -> None:
    probe = DeviceProbe(program=fake("import sys; sys.stderr.write('no torch here\\n'); exit(1)"))
    with qtbot.waitSignal(probe.found, timeout=20_000) as blocker:
        probe.start()
    assert blocker.args[0]["cuda"] is False
    assert blocker.args[0]["summary"] == "GPU check failed: no torch here"


@pytest.mark.parametrize("status", ["done", "cancelled", "failed", "crashed"])
def test_summary_is_one_line_headed(status: str) -> None:
    outcome = TrainOutcome(status, run_id=1, error="why\n\ndetails")  # type: ignore[arg-type]
    assert outcome.summary().startswith("Run 1")
