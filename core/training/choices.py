"""What "auto" means: the backbone, mode and input size a run actually uses.

A run stores the resolved config, so ``mtlabel runs`` and prediction see what
was trained, never "auto". No torch here.
"""

from __future__ import annotations

import dataclasses

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
    resolved = dataclasses.replace(config, backbone=backbone, mode=mode, image_size=size)
    return resolved, notes
