"""What sits above a backbone's features: one shared hidden layer, then one output per task.

Linear task outputs straight on frozen features would be T independent logistic
regressions — nothing shared between tasks (ML_NOTES, "Sharing"). The shared
trainable layer is where the tasks help each other; ``SeparateHeads`` gives each
task its own such layer, for the "does sharing help?" comparison.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

DEFAULT_HIDDEN = 256
DROPOUT = 0.2
INPUT_DROPOUT = 0.1
"""Dropout on the frozen features themselves: cheap regularisation for small label sets."""


class FeatureHead(nn.Module):
    """features (N, D) → shared hidden layer → logits (N, T)."""

    def __init__(self, feature_dim: int, n_tasks: int, hidden: int = DEFAULT_HIDDEN) -> None:
        super().__init__()
        self.drop_in = nn.Dropout(INPUT_DROPOUT)
        self.shared = nn.Sequential(
            nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True), nn.Dropout(DROPOUT)
        )
        self.heads = nn.Linear(hidden, n_tasks)

    def forward(self, features: Tensor) -> Tensor:
        logits: Tensor = self.heads(self.shared(self.drop_in(features)))
        return logits


class SeparateHeads(nn.Module):
    """One independent head (hidden layer and output) per task, on the same features."""

    def __init__(self, feature_dim: int, n_tasks: int, hidden: int = DEFAULT_HIDDEN) -> None:
        super().__init__()
        self.nets = nn.ModuleList(FeatureHead(feature_dim, 1, hidden) for _ in range(n_tasks))

    def forward(self, features: Tensor) -> Tensor:
        return torch.cat([net(features) for net in self.nets], dim=1)


def build_head(arch: str, feature_dim: int, n_tasks: int, hidden: int = 0) -> nn.Module:
    hidden = hidden or DEFAULT_HIDDEN
    if arch == "separate":
        return SeparateHeads(feature_dim, n_tasks, hidden)
    return FeatureHead(feature_dim, n_tasks, hidden)
