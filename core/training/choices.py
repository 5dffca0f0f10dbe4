"""What "auto" means: the backbone, mode and input size a run actually uses.

A run stores the resolved config, so ``mtlabel runs`` and prediction see what
was trained, never "auto". No torch here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from core.errors import UserError
from core.training.backbones import (
    AUTO,
    COMPACT,
    FILE_PREFIX,
    INSTALL_HINT,
    base_spec,
    check_available,
    check_name,
    default_choice,
)
from core.training.config import TrainConfig

COMPACT_INPUT = 64
PRETRAINED_INPUT = 224


def resolve_config(config: TrainConfig) -> tuple[TrainConfig, list[str]]:
    """(the config with backbone, mode and image size decided, messages for the user)."""
    config.validate()
    backbone, mode = config.backbone.strip(), config.mode
    check_name(backbone)
    notes: list[str] = []
    if backbone == AUTO:
        if mode == "scratch":
            backbone = COMPACT
        else:
            backbone, default_mode, message = default_choice()
            if backbone == COMPACT and mode != "auto":
                raise UserError(
                    f"--mode {mode} needs a pretrained backbone, and none is installed: "
                    f"{INSTALL_HINT}"
                )
            if message:
                notes.append(message)
            if mode == "auto":
                mode = "instant" if default_mode == "instant" else "scratch"
    if mode == "auto":
        mode = "scratch" if backbone == COMPACT else "instant"
    if backbone == COMPACT and mode != "scratch":
        raise UserError(
            f"--mode {mode} needs a pretrained backbone (efficientnet-lite0, resnet18, "
            "mobilenet-v3-large or file:PATH); the compact network trains from scratch"
        )
    if backbone.startswith(FILE_PREFIX) and mode == "scratch":
        raise UserError(
            "--mode scratch starts from random weights, so a weights file means nothing "
            "there: name the architecture (e.g. --backbone resnet18 --mode scratch)"
        )
    if backbone.startswith(FILE_PREFIX):
        # Stored as an absolute path: the run is predicted and exported from anywhere.
        path = Path(backbone[len(FILE_PREFIX) :].strip()).expanduser()
        backbone = FILE_PREFIX + str(path.absolute())
    if backbone != COMPACT and mode != "scratch":
        check_available(backbone)
    if config.arch == "separate" and mode == "finetune":
        raise UserError("--arch separate with a pretrained backbone needs --mode instant")
    size = config.image_size
    if size == 0:
        if backbone == COMPACT:
            size = COMPACT_INPUT
        elif backbone.startswith(FILE_PREFIX):
            size = PRETRAINED_INPUT
        else:
            size = base_spec(backbone).input_size
    views = config.views
    if mode == "instant" and not config.augment and views > 1:
        views = 1
        notes.append(
            "--no-augment: instant mode trains on each image's features as it is, without "
            "the flipped and cropped views (--views 1)"
        )
    notes += _ignored(config, backbone, mode)
    resolved = dataclasses.replace(
        config, backbone=backbone, mode=mode, image_size=size, views=views
    )
    return resolved, notes


def _ignored(config: TrainConfig, backbone: str, mode: str) -> list[str]:
    """Notes for settings given away from their defaults that this run does not use."""
    default = TrainConfig()
    notes = []
    if config.backbone_lr != default.backbone_lr and mode != "finetune":
        notes.append(f"--backbone-lr applies to --mode finetune only; this {mode} run ignores it")
    if config.width != default.width and backbone != COMPACT:
        notes.append(
            f"--width sets the compact network's width; {_shown(backbone)} has its own, so "
            "it is ignored"
        )
    if config.views != default.views and mode != "instant":
        notes.append(f"--views applies to instant mode only; this {mode} run ignores it")
    if config.backbone.strip() == AUTO and config.mode == "scratch":
        notes.append("--mode scratch without --backbone trains the compact network")
    return notes


def _shown(backbone: str) -> str:
    return "the weights file's network" if backbone.startswith(FILE_PREFIX) else backbone
