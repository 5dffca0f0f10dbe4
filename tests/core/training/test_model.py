"""The networks: shapes, the separate-networks variant, checkpoints loaded weights-only."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.errors import UserError
from core.training.checkpoint import load_checkpoint, save_checkpoint
from core.training.model import ModelSpec, MultiTaskNet, SeparateNets, build_model


def test_shared_network_gives_one_logit_per_task() -> None:
    model = build_model(ModelSpec(n_tasks=5, width=8))
    assert isinstance(model, MultiTaskNet)
    assert model(torch.randn(3, 3, 64, 64)).shape == (3, 5)


def test_separate_networks_are_independent() -> None:
    model = build_model(ModelSpec(n_tasks=3, width=8, arch="separate"))
    assert isinstance(model, SeparateNets)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 3)
    out[:, 0].sum().backward()
    grads = [
        any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
        for net in model.nets
    ]
    assert grads == [True, False, False], "task 0's loss must only reach task 0's network"


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = build_model(ModelSpec(n_tasks=2, width=8))
    save_checkpoint(tmp_path / "best.pt", {"model": model.state_dict(), "task_ids": [3, 4]})
    data = load_checkpoint(tmp_path / "best.pt")
    fresh = build_model(ModelSpec(n_tasks=2, width=8))
    fresh.load_state_dict(data["model"])
    x = torch.randn(1, 3, 32, 32)
    model.eval()
    fresh.eval()
    assert torch.equal(model(x), fresh(x))
    assert data["task_ids"] == [3, 4]


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this ran code while loading",))


def test_a_checkpoint_that_would_run_code_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "mtlabel-checkpoint", "version": 1, "model": _Exploit()}, path)
    with pytest.raises(UserError, match="could run code") as refused:
        load_checkpoint(path)
    assert "print" in str(refused.value), "the message names what it refused"
    assert "this ran code" not in capsys.readouterr().out


def test_garbage_and_foreign_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not an mtlabel checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_runs_stored_before_the_blocks_design_load_as_they_were_trained(
    tmp_path: Path,
) -> None:
    """A run's stored config without ``design``/``flip`` is the residual network with
    flips; its checkpoint loads into the network that config builds."""
    from core.training.config import TrainConfig
    from core.training.network import build_image_model

    old = TrainConfig(mode="scratch").to_dict()
    del old["design"], old["flip"]
    config = TrainConfig.from_dict(old)
    assert (config.design, config.flip) == ("residual", True)
    trained = build_model(ModelSpec(n_tasks=2, width=8, design="residual"))
    config.width = 8
    rebuilt, _spec = build_image_model(config, 2)
    rebuilt.load_state_dict(trained.state_dict())
    with pytest.raises(RuntimeError):
        build_model(ModelSpec(n_tasks=2, width=8)).load_state_dict(trained.state_dict())


def test_flips_only_when_asked() -> None:
    from core.training.augment import augment_batch

    x = torch.zeros(8, 1, 16, 16)
    x[:, :, :, :4] = 1.0  # a bright band on the left edge
    for flip, expect_right in ((False, False), (True, True)):
        out = augment_batch(x, torch.Generator().manual_seed(0), max_shift=2, flip=flip)
        right_bright = (out[:, 0, :, -2:].mean(dim=(1, 2)) > 0.5).any().item()
        assert right_bright is expect_right
