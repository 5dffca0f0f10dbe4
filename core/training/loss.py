"""The masked multi-task logistic loss of DESIGN.md and its variants.

``J = 1/m · Σᵢ Σⱼ [yᵢⱼ known] · BCE(ŷᵢⱼ, yᵢⱼ)``: unknown cells contribute exactly
zero loss and zero gradient (they are removed with ``torch.where``, so even a
NaN or infinite logit in an unknown cell cannot leak into the gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# Durand et al. (CVPR 2019): g(p) = α·p^γ + β with g(1) = 1.
PARTIAL_ALPHA = -4.45
PARTIAL_BETA = 5.45
PARTIAL_GAMMA = 1.0


def partial_weight(known_fraction: Tensor) -> Tensor:
    """Per-image weight g(p): 1 for a fully labelled image, ≈5 at 10 % known."""
    return PARTIAL_ALPHA * known_fraction.pow(PARTIAL_GAMMA) + PARTIAL_BETA


def multitask_loss(
    logits: Tensor,
    targets: Tensor,
    known: Tensor,
    kind: str = "masked",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Mean over images of the summed per-cell loss.

    logits (N, T) float; targets (N, T) in {0, 1} (anything where unknown);
    known (N, T) bool. ``kind`` is masked, partial or assume-negative.
    """
    if kind == "assume-negative":
        targets = torch.where(known, targets, torch.zeros_like(targets))
        known = torch.ones_like(known)
    safe_logits = torch.where(known, logits, torch.zeros_like(logits))
    safe_targets = torch.where(known, targets, torch.zeros_like(targets)).to(logits.dtype)
    cell = F.binary_cross_entropy_with_logits(
        safe_logits, safe_targets, reduction="none", pos_weight=pos_weight
    )
    cell = torch.where(known, cell, torch.zeros_like(cell))
    per_image = cell.sum(dim=1)
    if kind == "partial":
        fraction = known.float().mean(dim=1)
        per_image = per_image * partial_weight(fraction)
    return per_image.sum() / max(1, logits.shape[0])


def positive_weights(targets: Tensor, known: Tensor) -> Tensor:
    """clip(n_absent / n_present, 1, 10) per task, from the training labels."""
    present = ((targets == 1) & known).sum(dim=0).float()
    absent = ((targets == 0) & known).sum(dim=0).float()
    ratio = absent / present.clamp(min=1.0)
    return ratio.clamp(1.0, 10.0)
