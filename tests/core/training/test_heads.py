"""The instant head's dropout: masks drawn once into a pool, one picked per sample."""

from __future__ import annotations

from typing import cast

import torch

from core.training.heads import FeatureHead, MaskPools, PooledDropout, SeparateHeads


def test_pooled_dropout_drops_p_of_the_elements_and_keeps_the_mean() -> None:
    torch.manual_seed(0)
    layer = PooledDropout(0.2, MaskPools()).train()
    out = layer(torch.ones(4096, 64))
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - 0.2) < 0.01
    assert abs(out.mean().item() - 1.0) < 0.02, "kept elements are scaled by 1 / (1 - p)"
    assert len({tuple(row.tolist()) for row in (out[:64] == 0)}) > 60, "a mask per sample"


def test_pooled_dropout_is_the_identity_in_eval_mode_and_follows_the_seed() -> None:
    x = torch.rand(32, 16)
    assert torch.equal(PooledDropout(0.5, MaskPools()).eval()(x), x)
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        outs.append(PooledDropout(0.5, MaskPools()).train()(x))
    assert torch.equal(outs[0], outs[1]), "the same seed gives the same masks"


def test_separate_heads_share_one_pool_but_pick_their_own_masks() -> None:
    torch.manual_seed(0)
    heads = SeparateHeads(128, 5, 16).train()
    heads(torch.rand(8, 128))
    (pools,) = _pools(heads)  # one for all five heads: masks of 128 inputs and 16 hidden
    assert sum(t.numel() for t in pools._pools.values()) == pools.size * (128 + 16)
    first, second = (cast(FeatureHead, net) for net in list(heads.nets)[:2])
    x = torch.ones(64, 128)
    assert not torch.equal(first.drop_in(x), second.drop_in(x)), "each head picks its own"


def test_the_state_dict_holds_no_masks() -> None:
    head = FeatureHead(64, 3, 8).train()
    head(torch.rand(4, 64))
    assert set(head.state_dict()) == {
        "shared.0.weight",
        "shared.0.bias",
        "heads.weight",
        "heads.bias",
    }


def _pools(module: torch.nn.Module) -> set[MaskPools]:
    return {m.pools for m in module.modules() if isinstance(m, PooledDropout)}
