"""A run's settings, as one dataclass stored with the run and its checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import UserError

Arch = Literal["shared", "separate"]
LossKind = Literal["masked", "partial", "assume-negative"]
DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]


@dataclass
class TrainConfig:
    epochs: int = 12
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    image_size: int = 64
    width: int = 24
    """Channels of the first stage; later stages double it. The "big enough network" knob."""
    arch: Arch = "shared"
    loss: LossKind = "masked"
    """masked: unknown cells left out (DESIGN); partial: Durand et al.'s per-image
    reweighting by the fraction of known cells; assume-negative: unknown taken as
    absent (a baseline, for comparison only)."""
    pos_weight: bool = False
    """Weight positives of rare tasks by clip(n_absent / n_present, 1, 10)."""
    val_fraction: float = 0.2
    device: DeviceChoice = "auto"
    seed: int = 0
    init_from: int | None = None
    augment: bool = True
    max_steps: int | None = None
    """Stop after this many optimisation steps in all (a smoke test)."""
    threads: int | None = None
    """CPU threads for torch; None leaves torch's default."""

    def validate(self) -> TrainConfig:
        problems = []
        if self.epochs < 1:
            problems.append("--epochs must be at least 1")
        if self.batch_size < 1:
            problems.append("--batch-size must be at least 1")
        if not (0 < self.lr < 10):
            problems.append("--lr must be between 0 and 10")
        if not (16 <= self.image_size <= 1024):
            problems.append("--image-size must be between 16 and 1024 pixels")
        if not (4 <= self.width <= 512):
            problems.append("--width must be between 4 and 512")
        if self.arch not in ("shared", "separate"):
            problems.append(f"--arch must be shared or separate, not {self.arch!r}")
        if self.loss not in ("masked", "partial", "assume-negative"):
            problems.append(f"--loss must be masked, partial or assume-negative, not {self.loss!r}")
        if not (0 <= self.val_fraction < 1):
            problems.append("--val-fraction must be at least 0 and below 1")
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            problems.append(f"--device must be auto, cpu, cuda or mps, not {self.device!r}")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("--max-steps must be at least 1")
        if problems:
            raise UserError("; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
