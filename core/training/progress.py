"""What both training loops report while they run: progress events, the heartbeat, the loss.

A window shows the ``progress`` events; the heartbeat tells every other process
that the run's trainer is alive (runs.reap_dead_runs); a loss that stops being
finite ends the run as failed, with the step where it happened.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from core import runs
from core.project import Project
from core.training.errors import RunFailed

Emit = Callable[[dict[str, Any]], None]

PROGRESS_INTERVAL_S = 0.5


class Heartbeat:
    """Refreshes the run's heartbeat at most every ``runs.HEARTBEAT_SECONDS``."""

    def __init__(self, project: Project, run_id: int) -> None:
        self.project = project
        self.run_id = run_id
        self.last = time.monotonic()

    def beat(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if now - self.last >= runs.HEARTBEAT_SECONDS:
            runs.heartbeat(self.project, self.run_id)
            self.last = now

    def emitting(self, emit: Emit) -> Emit:
        """``emit`` that also beats, for the long phases before training (decoding images,
        computing features) so that no window takes the run for dead meanwhile."""

        def forward(event: dict[str, Any]) -> None:
            emit(event)
            self.beat()

        return forward


class EpochProgress:
    """One epoch's running mean loss; a ``progress`` event every ``PROGRESS_INTERVAL_S``."""

    def __init__(
        self,
        run_id: int,
        epoch: int,
        epochs: int,
        steps: int,
        emit: Emit,
        heartbeat: Heartbeat,
        device: torch.device,
    ) -> None:
        self.run_id, self.epoch, self.epochs, self.steps = run_id, epoch, epochs, steps
        self.emit = emit
        self.heartbeat = heartbeat
        self.loss_sum = torch.zeros((), device=device)  # no device sync per step
        self.seen = 0
        self.started = self.last_report = time.monotonic()

    def add(self, loss: Tensor, samples: int, batch: int, step: int, last: bool) -> None:
        """After the optimisation step ``step`` (the ``batch``-th of the epoch, 0-based)."""
        self.loss_sum += loss.detach() * samples
        self.seen += samples
        now = time.monotonic()
        if now - self.last_report < PROGRESS_INTERVAL_S and not last:
            return
        self.emit(
            {
                "event": "progress",
                "run": self.run_id,
                "epoch": self.epoch,
                "epochs": self.epochs,
                "step": batch + 1,
                "steps": self.steps,
                "loss": self.train_loss(step),
                "elapsed": now - self.started,
            }
        )
        self.last_report = now
        self.heartbeat.beat(now)

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def train_loss(self, step: int) -> float:
        """The epoch's mean training loss so far; RunFailed when it is not finite."""
        loss = float(self.loss_sum) / max(1, self.seen)
        if not math.isfinite(loss):
            raise RunFailed(
                f"the training loss became {loss} in epoch {self.epoch} (step {step}); "
                "try a lower --lr"
            )
        return loss
