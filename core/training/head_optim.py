"""AdamW with a one-cycle schedule for instant mode's small head, without ``torch.optim``.

Why not ``torch.optim``: in torch 2.13 the first optimiser a process creates
imports ``torch._dynamo`` (its ``_disable_dynamo`` wrappers), which took 1.3–2.7 s
on this project's 2-core machines — more than the whole instant retrain it would
serve, paid by every ``mtlabel train`` process. The update below is AdamW as
torch computes it (decoupled weight decay, bias correction) and the schedule is
``OneCycleLR``'s default (cosine warm-up from max/25 over ``pct_start``, cosine
down to max/25/1e4, β₁ cycled 0.95 → 0.85 → 0.95);
``tests/core/training/test_head_optim.py`` checks both against torch's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

DIV_FACTOR = 25.0
FINAL_DIV_FACTOR = 1e4
BASE_MOMENTUM = 0.85
MAX_MOMENTUM = 0.95
BETA2 = 0.999
EPS = 1e-8


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def one_cycle(step: int, total: int, max_lr: float, pct_start: float) -> tuple[float, float]:
    """(learning rate, β₁) for optimisation step ``step`` (0-based) of ``total``."""
    initial = max_lr / DIV_FACTOR
    final = initial / FINAL_DIV_FACTOR
    warm_end = float(pct_start * total) - 1
    last = float(total - 1)
    if step <= warm_end:
        pct = step / warm_end if warm_end > 0 else 1.0
        return _cos(initial, max_lr, pct), _cos(MAX_MOMENTUM, BASE_MOMENTUM, pct)
    pct = (step - warm_end) / (last - warm_end) if last > warm_end else 1.0
    return _cos(max_lr, final, pct), _cos(BASE_MOMENTUM, MAX_MOMENTUM, pct)


class OneCycleAdamW:
    """``step()`` after each backward pass; ``zero_grad()`` before it."""

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        max_lr: float,
        weight_decay: float,
        total_steps: int,
        pct_start: float = 0.15,
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.max_lr = max_lr
        self.weight_decay = weight_decay
        self.total_steps = max(1, total_steps)
        self.pct_start = pct_start
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        lr, beta1 = one_cycle(self.steps, self.total_steps, self.max_lr, self.pct_start)
        self.steps += 1
        bias1 = 1.0 - beta1**self.steps  # as torch: with the current β₁
        bias2_sqrt = math.sqrt(1.0 - BETA2**self.steps)
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
            grad: Tensor | None = p.grad
            if grad is None:
                continue
            p.mul_(1.0 - lr * self.weight_decay)
            m.lerp_(grad, 1.0 - beta1)
            v.mul_(BETA2).addcmul_(grad, grad, value=1.0 - BETA2)
            denom = (v.sqrt() / bias2_sqrt).add_(EPS)
            p.addcdiv_(m, denom, value=-lr / bias1)
