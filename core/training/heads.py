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
MASK_POOL = 4096
"""Dropout masks drawn once per layer and run, then picked at random per sample."""


class PooledDropout(nn.Module):
    """Dropout whose per-sample masks are picked at random from a pool drawn once.

    ``nn.Dropout`` draws a fresh random number per element: on a 64 × 1,280 batch
    of features that is ~1 ms of the CPU's random number generator per step, more
    than the layer's matrix product — a third of an instant retrain. Here
    ``MASK_POOL`` masks (each element kept with probability 1 − p, scaled by
    1 / (1 − p) as usual) are drawn on first use from torch's seeded generator, and
    each sample of a batch gets one of them at random (a few µs). A run sees each
    mask a dozen times, each time on another sample: the same expected value and
    per-element variance as dropout. Identity in eval mode; nothing is stored in
    the state dict.
    """

    def __init__(self, p: float, pool: int = MASK_POOL) -> None:
        super().__init__()
        self.p = p
        self.pool_size = pool
        self._pool: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        pool = self._pool
        if pool is None or pool.shape[1:] != x.shape[1:] or pool.device != x.device:
            keep = torch.rand((self.pool_size, *x.shape[1:]), device=x.device) >= self.p
            pool = keep.to(torch.float32) / (1.0 - self.p)
            self._pool = pool
        pick = torch.randint(0, self.pool_size, (x.shape[0],), device=x.device)
        return x * pool.index_select(0, pick).to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}, pool={self.pool_size}"


class FeatureHead(nn.Module):
    """features (N, D) → shared hidden layer → logits (N, T)."""

    def __init__(self, feature_dim: int, n_tasks: int, hidden: int = DEFAULT_HIDDEN) -> None:
        super().__init__()
        self.drop_in = PooledDropout(INPUT_DROPOUT)
        self.shared = nn.Sequential(
            nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True), PooledDropout(DROPOUT)
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
