"""What sits above a backbone's features: one shared hidden layer, then one output per task.

Linear task outputs straight on frozen features would be T independent logistic
regressions — nothing shared between tasks (ML_NOTES, "Sharing"). The shared
trainable layer is where the tasks help each other; ``SeparateHeads`` gives each
task its own such layer, for the "does sharing help?" comparison.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from core.training.config import PRETRAINED_HIDDEN

DEFAULT_HIDDEN = PRETRAINED_HIDDEN
DROPOUT = 0.2
INPUT_DROPOUT = 0.1
"""Dropout on the frozen features themselves: cheap regularisation for small label sets."""
MASK_POOL = 4096
"""Dropout masks drawn once per layer and run, then picked at random per sample."""


class MaskPools:
    """The masks of one network's PooledDropout layers, per (p, shape, device).

    ``SeparateHeads`` gives one to all its task heads: 20 heads would otherwise hold
    20 × 21 MB of masks for their input dropout. Sharing the masks shares nothing
    learnt — each head still picks its own mask per sample, at random.
    """

    def __init__(self, size: int = MASK_POOL) -> None:
        self.size = size
        self._pools: dict[tuple[float, tuple[int, ...], torch.device], Tensor] = {}

    def get(self, p: float, shape: tuple[int, ...], device: torch.device) -> Tensor:
        key = (p, shape, device)
        pool = self._pools.get(key)
        if pool is None:
            keep = torch.rand((self.size, *shape), device=device) >= p
            pool = keep.to(torch.float32) / (1.0 - p)
            self._pools[key] = pool
        return pool


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

    def __init__(self, p: float, pools: MaskPools) -> None:
        super().__init__()
        self.p = p
        self.pools = pools

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        pool = self.pools.get(self.p, tuple(x.shape[1:]), x.device)
        pick = torch.randint(0, len(pool), (x.shape[0],), device=x.device)
        return x * pool.index_select(0, pick).to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}, pool={self.pools.size}"


class FeatureHead(nn.Module):
    """features (N, D) → shared hidden layer → logits (N, T)."""

    def __init__(
        self,
        feature_dim: int,
        n_tasks: int,
        hidden: int = DEFAULT_HIDDEN,
        pools: MaskPools | None = None,
    ) -> None:
        super().__init__()
        pools = pools or MaskPools()
        self.drop_in = PooledDropout(INPUT_DROPOUT, pools)
        self.shared = nn.Sequential(
            nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True), PooledDropout(DROPOUT, pools)
        )
        self.heads = nn.Linear(hidden, n_tasks)

    def forward(self, features: Tensor) -> Tensor:
        logits: Tensor = self.heads(self.shared(self.drop_in(features)))
        return logits


class SeparateHeads(nn.Module):
    """One independent head (hidden layer and output) per task, on the same features."""

    def __init__(self, feature_dim: int, n_tasks: int, hidden: int = DEFAULT_HIDDEN) -> None:
        super().__init__()
        pools = MaskPools()
        self.nets = nn.ModuleList(
            FeatureHead(feature_dim, 1, hidden, pools) for _ in range(n_tasks)
        )

    def forward(self, features: Tensor) -> Tensor:
        return torch.cat([net(features) for net in self.nets], dim=1)


def build_head(arch: str, feature_dim: int, n_tasks: int, hidden: int = 0) -> nn.Module:
    hidden = hidden or DEFAULT_HIDDEN
    if arch == "separate":
        return SeparateHeads(feature_dim, n_tasks, hidden)
    return FeatureHead(feature_dim, n_tasks, hidden)
