"""``--init-from RUN``: start from an earlier run's weights, reusing the heads of tasks that
still exist (a task added since starts fresh; an archived one is dropped).

What can start from what:

* compact (scratch) ← compact: backbone, shared layer, task heads.
* instant ← instant with the same backbone and weights: shared layer, task heads.
* finetune ← instant (the classic "linear probe, then fine-tune"): shared layer
  and task heads on the pretrained backbone; ← finetune: the backbone as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from core import runs
from core.errors import UserError
from core.project import Project
from core.training.backbones import COMPACT, BackboneSpec, base_spec
from core.training.checkpoint import load_checkpoint
from core.training.config import TrainConfig
from core.training.network import TransferNet

Emit = Callable[[dict[str, Any]], None]


def _source_spec(ckpt: dict[str, Any], old: TrainConfig) -> tuple[BackboneSpec, str]:
    """The source run's backbone and mode (checkpoints before transfer learning: compact)."""
    if "backbone" in ckpt:
        return BackboneSpec.from_dict(ckpt["backbone"]), str(ckpt.get("mode", "scratch"))
    return base_spec(COMPACT, old.width), "scratch"


def _mapped_state(
    state: dict[str, Tensor], source_mode: str, target: nn.Module, target_mode: str, run: int
) -> tuple[dict[str, Tensor], str]:
    """The source weights under the target's parameter names, and what they are."""
    if target_mode == "instant":
        if source_mode != "instant":
            raise UserError(
                f"--init-from: run {run} is a {source_mode} run; an instant run starts from "
                "an instant run with the same backbone"
            )
        return state, "shared layer"
    if isinstance(target, TransferNet):
        if source_mode == "instant":
            return {f"head.{k}": v for k, v in state.items()}, "shared layer"
        if source_mode == "scratch" and not any(k.startswith("head.") for k in state):
            raise UserError(f"--init-from: run {run} trained another kind of network")
        return state, "backbone, shared layer"
    if source_mode != "scratch":
        raise UserError(
            f"--init-from: run {run} is a {source_mode} run with a pretrained backbone; "
            "the compact network starts from a compact run"
        )
    return state, "backbone"


def check_source(project: Project, source_run: int, config: TrainConfig) -> runs.RunInfo:
    """The run --init-from names, refused when the run record alone shows it cannot be
    started from (the rest needs its checkpoint: ``warm_start``). Called before a run is
    created, so that a wrong run id leaves no failed run behind."""
    info = runs.get_run(project, source_run)
    runs.require_finished(info, "start from (--init-from)")
    if info.checkpoint is None:
        raise UserError(f"run {source_run} has no checkpoint to start from ({info.status})")
    if TrainConfig.from_dict(info.config).arch != "shared" or config.arch != "shared":
        raise UserError("--init-from needs a shared-network run and a shared network")
    return info


def warm_start(
    project: Project,
    model: nn.Module,
    source_run: int,
    task_ids: list[int],
    config: TrainConfig,
    spec: BackboneSpec,
    emit: Emit,
) -> None:
    info = check_source(project, source_run, config)
    assert info.checkpoint is not None
    ckpt = load_checkpoint(project.root / info.checkpoint)
    old_cfg = TrainConfig.from_dict(ckpt["config"])
    old_spec, old_mode = _source_spec(ckpt, old_cfg)
    prefix = "head." if isinstance(model, TransferNet) else ""
    if old_cfg.arch != "shared" or f"{prefix}heads.weight" not in model.state_dict():
        raise UserError("--init-from needs a shared-network run and a shared network")
    if old_spec.arch != spec.arch or (
        config.mode == "instant" and old_spec.cache_key != spec.cache_key
    ):
        raise UserError(
            f"--init-from: run {source_run} used the backbone {old_spec.name}, this run "
            f"{spec.name}; start from a run with the same backbone"
        )
    if spec.arch == "compact" and old_cfg.design != config.design:
        raise UserError(
            f"--init-from: run {source_run} is the {old_cfg.design} compact network, this "
            f"run the {config.design} one; add --design {old_cfg.design} to start from it"
        )
    state, what = _mapped_state(ckpt["model"], old_mode, model, config.mode, source_run)
    own = model.state_dict()
    head_keys = (f"{prefix}heads.weight", f"{prefix}heads.bias")
    mismatched = [
        k
        for k, v in state.items()
        if k not in head_keys and (k not in own or own[k].shape != v.shape)
    ]
    if mismatched:
        raise UserError(
            f"run {source_run} has a different network (width {old_cfg.width}, hidden "
            f"{old_cfg.hidden or 'automatic'}); use the same --width and --hidden to start "
            "from it"
        )
    model.load_state_dict({k: v for k, v in state.items() if k not in head_keys}, strict=False)
    old_tasks: list[int] = ckpt["task_ids"]
    reused = 0
    with torch.no_grad():
        weight, bias = own[head_keys[0]], own[head_keys[1]]
        for new_row, task_id in enumerate(task_ids):
            if task_id in old_tasks:
                old_row = old_tasks.index(task_id)
                weight[new_row] = state[head_keys[0]][old_row]
                bias[new_row] = state[head_keys[1]][old_row]
                reused += 1
    emit(
        {
            "event": "info",
            "message": f"started from run {source_run}: {what} and "
            f"{reused} of {len(task_ids)} task heads reused",
        }
    )
