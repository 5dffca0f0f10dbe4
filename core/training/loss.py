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


LARGE_LOSS_RAMP_EPOCHS = 2
"""large-loss: the rejection rate reaches its full value after this many epochs."""


def multitask_loss(
    logits: Tensor,
    targets: Tensor,
    known: Tensor,
    kind: str = "masked",
    pos_weight: Tensor | None = None,
    reject: Tensor | None = None,
) -> Tensor:
    """Mean over images of the summed per-cell loss.

    logits (N, T) float; targets (N, T) in {0, 1} (anything where unknown);
    known (N, T) bool. ``kind`` is one of ``config.LOSSES``:

    * masked: unknown cells left out (DESIGN.md);
    * partial: Durand et al.'s per-image reweighting by the known fraction;
    * known-mean: the summed loss over the batch's known cells divided by their
      number (times T, so that a fully known batch weighs as masked does);
    * assume-negative: unknown cells taken as absent (a baseline);
    * large-loss: unknown cells taken as absent except, per task, the share
      ``reject[j]`` of the batch's unknown cells with the largest loss, which are
      left out (Kim et al., CVPR 2022, "Large Loss Matters", LL-R).
    """
    if kind in ("assume-negative", "large-loss"):
        unknown = ~known
        targets = torch.where(known, targets, torch.zeros_like(targets))
        known = torch.ones_like(known)
        if kind == "large-loss" and reject is not None:
            known = ~_rejected(logits, unknown, reject)
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
    if kind == "known-mean":
        return per_image.sum() * logits.shape[1] / known.sum().clamp(min=1)
    return per_image.sum() / max(1, logits.shape[0])


def _rejected(logits: Tensor, unknown: Tensor, reject: Tensor) -> Tensor:
    """The unknown cells whose loss as "absent" is among the largest ``reject[j]`` share
    of task j's unknown cells in the batch (the most confident presents)."""
    out = torch.zeros_like(unknown)
    with torch.no_grad():
        for j in range(logits.shape[1]):
            rows = torch.nonzero(unknown[:, j]).flatten()
            n = round(float(reject[j]) * len(rows))
            if n <= 0:
                continue
            # the loss of "absent" grows with the logit: the n largest logits
            top = torch.topk(logits[rows, j].float(), n).indices
            out[rows[top], j] = True
    return out


def rejection_rates(targets: Tensor, known: Tensor, epoch: int) -> Tensor:
    """large-loss: per task, the share of unknown cells to leave out at ``epoch`` — the
    share present among the task's known training cells (the expected share of
    presents among its unknown ones), reached over LARGE_LOSS_RAMP_EPOCHS epochs."""
    present = ((targets == 1) & known).sum(dim=0).float()
    prevalence = present / known.sum(dim=0).float().clamp(min=1.0)
    ramp = min(1.0, (epoch - 1) / LARGE_LOSS_RAMP_EPOCHS)
    return prevalence * ramp


def positive_weights(targets: Tensor, known: Tensor) -> Tensor:
    """clip(n_absent / n_present, 1, 10) per task, from the training labels."""
    present = ((targets == 1) & known).sum(dim=0).float()
    absent = ((targets == 0) & known).sum(dim=0).float()
    ratio = absent / present.clamp(min=1.0)
    return ratio.clamp(1.0, 10.0)
