"""The network a run trains on images (scratch and finetune modes), and its optimiser groups.

* compact + scratch: ``model.MultiTaskNet`` / ``SeparateNets``, as before.
* a pretrained architecture + scratch: the same architecture, random weights,
  everything trained.
* finetune: a pretrained backbone whose last stages (``last_stages()``) train at
  ``backbone_lr × lr`` while the rest stays frozen — including its batch-norm
  statistics — and the shared head trains at ``lr``.

Instant mode never runs images through a trainable network: see instant.py.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from core.errors import UserError
from core.training.backbones import COMPACT, BackboneSpec, base_spec, build_backbone
from core.training.config import TrainConfig
from core.training.heads import FeatureHead, build_head
from core.training.model import ModelSpec, build_model


class TransferNet(nn.Module):
    """backbone → shared head (``head.shared``, ``head.heads``)."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        logits: Tensor = self.head(self.backbone(x))
        return logits

    def train(self, mode: bool = True) -> TransferNet:
        """Batch norms whose weights are frozen keep their ImageNet statistics."""
        super().train(mode)
        if mode:
            for module in self.backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
                    p.requires_grad for p in module.parameters()
                ):
                    module.eval()
        return self


def freeze_all_but_last_stages(backbone: nn.Module) -> int:
    """Freeze the backbone except ``backbone.last_stages()``; the trainable weight count."""
    for p in backbone.parameters():
        p.requires_grad_(False)
    stages = backbone.last_stages()  # type: ignore[operator]
    count = 0
    for stage in stages:
        for p in stage.parameters():
            p.requires_grad_(True)
            count += p.numel()
    return count


def build_image_model(
    config: TrainConfig, n_tasks: int, weights: str | None = None
) -> tuple[nn.Module, BackboneSpec]:
    """The network for a resolved scratch or finetune config.

    ``weights="none"`` builds the architecture only (a checkpoint fills it in).
    """
    if config.backbone == COMPACT:
        if config.mode not in ("scratch", "auto"):  # auto: a checkpoint from before modes
            raise UserError("the compact network trains from scratch only (--mode scratch)")
        model = build_model(
            ModelSpec(n_tasks, config.width, config.arch, config.hidden, config.design)
        )
        return model, base_spec(COMPACT, config.width)
    if config.arch == "separate":
        raise UserError(
            "--arch separate with a pretrained backbone is for instant mode (one network "
            "per task would mean one backbone per task)"
        )
    if config.mode == "scratch":
        weights = "none"
    backbone, spec = build_backbone(config.backbone, weights)
    head = build_head(config.arch, spec.feature_dim, n_tasks, config.hidden)
    if config.mode == "finetune":
        freeze_all_but_last_stages(backbone)
    return TransferNet(backbone, head), spec


def param_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """Optimiser groups: in finetune mode the backbone at ``backbone_lr × lr``."""
    if not isinstance(model, TransferNet) or config.mode != "finetune":
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": config.lr}]
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    return [
        {"params": list(model.head.parameters()), "lr": config.lr},
        {"params": backbone, "lr": config.lr * config.backbone_lr},
    ]


def head_of(model: nn.Module) -> nn.Module:
    """The part holding ``shared`` and ``heads``: the model itself or its head."""
    return model.head if isinstance(model, TransferNet) else model


__all__ = ["FeatureHead", "TransferNet", "build_image_model", "head_of", "param_groups"]
