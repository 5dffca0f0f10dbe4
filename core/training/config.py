"""A run's settings, as one dataclass stored with the run and its checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import UserError

Arch = Literal["shared", "separate"]
LossKind = Literal["masked", "partial", "assume-negative", "known-mean", "large-loss"]
LOSSES = ("masked", "partial", "assume-negative", "known-mean", "large-loss")
"""The training losses (loss.py); masked is DESIGN.md's and the default."""
DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
Mode = Literal["auto", "scratch", "instant", "finetune"]
MODES = ("auto", "scratch", "instant", "finetune")
MAX_VIEWS = 8
DESIGNS = ("blocks", "residual")
"""The compact network's designs (model.py)."""


PRETRAINED_HIDDEN = 256
"""The shared hidden layer above a pretrained backbone when --hidden is 0."""


@dataclass
class TrainConfig:
    epochs: int = 12
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    image_size: int = 0
    """Square input side in pixels; 0 means the backbone's own (64 for compact, 224 for
    the pretrained ones)."""
    width: int = 24
    """Channels of the compact network's first stage; later stages double it. The "big
    enough network" knob of the from-scratch network."""
    backbone: str = "compact"
    """compact, efficientnet-lite0, resnet18, mobilenet-v3-large, file:PATH, or auto
    (efficientnet-lite0 when its weights are installed, else compact)."""
    mode: Mode = "auto"
    """scratch: every weight trained from random values; instant: a frozen pretrained
    backbone, its features cached, only the shared layer and task outputs trained;
    finetune: the last stages of a pretrained backbone trained too, at a lower rate.
    auto: scratch for compact, instant for the pretrained backbones."""
    views: int = 4
    """instant: features cached per image for this many fixed views (original,
    flipped, shifted …) of each training image; an epoch takes one at random."""
    hidden: int = 0
    """Width of the shared hidden layer above the backbone; 0 means 4 × width for
    compact and 256 above a pretrained backbone."""
    backbone_lr: float = 0.1
    """finetune: the unfrozen backbone stages learn at this fraction of --lr."""
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
    patience: int = 4
    """Early stopping: end the run when this many epochs in a row did not beat the best
    epoch's validation (mean AP, then loss); 0 trains every epoch. The best epoch is
    kept either way."""
    augment: bool = True
    flip: bool = False
    """Random horizontal flips among the augmentations (scratch and finetune): right for
    photographs and scenes whose mirror image is as likely, wrong for text and digits
    — off unless asked for (on the digit set flips cost 0.07 hidden-cell mAP)."""
    design: str = "blocks"
    """The compact network's design: blocks (conv-BN-ReLU-max-pool stages) or residual
    (before issue 13)."""
    max_steps: int | None = None
    """Stop after this many optimisation steps in all (a smoke test)."""
    time_budget_s: float | None = None
    """Stop before an epoch that would end past this many seconds of epochs (the best
    epoch is kept); None: no limit. ``auto`` bounds each candidate with it."""
    threads: int | None = None
    """CPU threads for torch; None leaves torch's default."""

    def validate(self) -> TrainConfig:
        problems = []
        if self.epochs < 1:
            problems.append("--epochs must be at least 1")
        if self.batch_size < 1:
            problems.append("--batch-size must be at least 1")
        if not (0 < self.lr < 10):
            problems.append("--lr must be above 0 and below 10")
        if self.image_size != 0 and not (16 <= self.image_size <= 1024):
            problems.append("--image-size must be between 16 and 1024 pixels (or 0: automatic)")
        if not (4 <= self.width <= 512):
            problems.append("--width must be between 4 and 512")
        if self.arch not in ("shared", "separate"):
            problems.append(f"--arch must be shared or separate, not {self.arch!r}")
        if self.loss not in LOSSES:
            problems.append(f"--loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if not (0 <= self.val_fraction < 1):
            problems.append("--val-fraction must be at least 0 and below 1")
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            problems.append(f"--device must be auto, cpu, cuda or mps, not {self.device!r}")
        if not (0 <= self.patience <= 1000):
            problems.append("--patience must be between 0 (no early stopping) and 1000")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("--max-steps must be at least 1")
        if self.time_budget_s is not None and not (0 < self.time_budget_s <= 7 * 86400):
            problems.append("--time-budget must be above 0 seconds and at most a week")
        if self.mode not in MODES:
            problems.append(f"--mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not (1 <= self.views <= MAX_VIEWS):
            problems.append(f"--views must be between 1 and {MAX_VIEWS}")
        if not (0 <= self.hidden <= 8192):
            problems.append("--hidden must be between 0 (automatic) and 8192")
        if not (0 < self.backbone_lr <= 1):
            problems.append("--backbone-lr must be above 0 and at most 1 (a fraction of --lr)")
        if self.design not in DESIGNS:
            problems.append(f"--design must be one of {', '.join(DESIGNS)}, not {self.design!r}")
        if not isinstance(self.backbone, str) or not self.backbone.strip():
            problems.append("--backbone must name a backbone")
        if problems:
            raise UserError("; ".join(problems))
        return self

    def hidden_width(self, arch: str) -> int:
        """The width of the shared hidden layer a run of ``arch`` gets (0 resolved)."""
        if self.hidden:
            return self.hidden
        return 4 * self.width if arch == "compact" else PRETRAINED_HIDDEN

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        # Runs stored before these settings existed: the residual network, and flips
        # whenever augmentation was on.
        values.setdefault("design", "residual")
        values.setdefault("flip", values.get("augment", True))
        values.setdefault("patience", 0)
        return cls(**values)
