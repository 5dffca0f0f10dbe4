"""The instant head's optimiser matches torch's AdamW under OneCycleLR, step for step."""

from __future__ import annotations

import copy

import torch

from core.training.head_optim import OneCycleAdamW
from core.training.heads import FeatureHead


def test_updates_match_torch_adamw_with_one_cycle() -> None:
    torch.manual_seed(0)
    ours_net = FeatureHead(16, 3, 8).eval()  # eval: no dropout, the same function
    torch_net = copy.deepcopy(ours_net)
    total = 20
    ours = OneCycleAdamW(ours_net.parameters(), 3e-3, 5e-4, total, pct_start=0.15)
    reference = torch.optim.AdamW(torch_net.parameters(), lr=3e-3, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        reference, max_lr=3e-3, total_steps=total, pct_start=0.15
    )
    for _ in range(total):
        x, y = torch.randn(4, 16), torch.rand(4, 3)
        for net, opt in ((ours_net, ours), (torch_net, reference)):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()  # type: ignore[no-untyped-call]
            opt.step()
        schedule.step()
    for a, b in zip(ours_net.parameters(), torch_net.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
