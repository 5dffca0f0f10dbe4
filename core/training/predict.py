"""Inference over every image, and writing a run's predictions to the project."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from core import runs
from core.project import Project
from core.training.backbones import BackboneSpec
from core.training.calibration import Calibration
from core.training.device import DeviceInfo, select_device
from core.training.errors import RunFailed, TrainingCancelled
from core.training.model import MEAN, STD, to_model_input
from core.training.snapshot import LabelSnapshot

if TYPE_CHECKING:
    from core.training.config import TrainConfig

PREDICT_BATCH = 256


@torch.no_grad()
def predict_array(
    model: nn.Module,
    images: Tensor,
    rows: np.ndarray,
    device: DeviceInfo,
    batch_size: int,
    mean: Sequence[float] = MEAN,
    std: Sequence[float] = STD,
    calibration: Calibration | None = None,
    raw: bool = False,
) -> np.ndarray:
    """Probabilities (len(rows), T) for the given rows of the uint8 image tensor
    (calibrated when ``calibration`` is given; the logits themselves when ``raw``)."""
    model.eval()
    out = []
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    for start in range(0, len(index), batch_size):
        chunk = index[start : start + batch_size].to(images.device)
        x = to_model_input(images[chunk], device.device, device.channels_last, mean, std)
        with torch.autocast(
            device.device.type,
            dtype=device.amp_dtype or torch.float32,
            enabled=device.amp_dtype is not None,
        ):
            logits = model(x)
        out.append((logits.float() if raw else probabilities(logits, calibration)).cpu())
    model.train()
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy()


def probabilities(logits: Tensor, calibration: Calibration | None = None) -> Tensor:
    """sigmoid(logits), through the per-task calibration map when one is given."""
    z = logits.float()
    if calibration is not None:
        slope = torch.as_tensor(calibration.slope, dtype=torch.float32, device=z.device)
        intercept = torch.as_tensor(calibration.intercept, dtype=torch.float32, device=z.device)
        z = z * slope + intercept
    return torch.sigmoid(z)


Score = Callable[[np.ndarray], np.ndarray]
"""rows of the snapshot → probabilities (len(rows), T)."""


def write_run_predictions(
    project: Project,
    run_id: int,
    score: Score,
    ok: np.ndarray,
    snap: LabelSnapshot,
    emit: Callable[[dict[str, Any]], None],
    cancel: Callable[[], bool],
    finish_as: str | None = None,
) -> None:
    """Predict every decodable image of the snapshot; the set is marked complete at the end
    (and the run finished as ``finish_as``, in the same step, when given)."""
    runs.begin_predictions(project, run_id)
    rows = np.flatnonzero(ok)
    started = time.monotonic()
    for start in range(0, len(rows), PREDICT_BATCH * 8):
        if cancel():
            raise TrainingCancelled
        chunk = rows[start : start + PREDICT_BATCH * 8]
        probs = score(chunk)
        image_ids = [snap.items[r].image_id for r in chunk]
        runs.write_predictions(project, run_id, image_ids, snap.task_ids, probs)
        emit(
            {
                "event": "predicting",
                "run": run_id,
                "done": int(start + len(chunk)),
                "total": len(rows),
                "elapsed": time.monotonic() - started,
            }
        )
    runs.end_predictions(project, run_id, finish_as)


def image_scorer(
    model: nn.Module,
    images: Tensor,
    device: DeviceInfo,
    spec: BackboneSpec | None = None,
    calibration: Calibration | None = None,
) -> Score:
    """Scores rows of a uint8 image tensor with a whole network (an inference copy),
    calibrated when ``calibration`` is given."""
    mean, std = (spec.mean, spec.std) if spec is not None else (MEAN, STD)
    fast, fast_device = inference_copy(model, device)
    return lambda rows: predict_array(
        fast, images, rows, fast_device, PREDICT_BATCH, mean, std, calibration
    )


def inference_copy(model: nn.Module, device: DeviceInfo) -> tuple[nn.Module, DeviceInfo]:
    """The trained network as prediction runs it: batch norms folded into the convolutions
    (checked against the network, which is used instead when they disagree) and, forward
    passes only, channels-last on the CPU too (features.extraction_channels_last)."""
    import dataclasses

    from core.training.features import extraction_channels_last, fold_batch_norms

    fast = fold_batch_norms(model)
    if extraction_channels_last(device) and not device.channels_last:
        fast = fast.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        device = dataclasses.replace(device, channels_last=True)
    return fast, device


def predict_run(
    project: Project,
    run_id: int,
    emit: Callable[[dict[str, Any]], None],
    cancel: Callable[[], bool],
    device_choice: str = "auto",
) -> int:
    """Re-run a finished run's model over every image now in the project (new ones too).

    Scratch and finetune runs run the whole network on the images; instant runs
    the saved head on the backbone's cached features (computing those of new
    images). Returns the number of images predicted.
    """
    from core.training.checkpoint import load_checkpoint
    from core.training.config import TrainConfig
    from core.training.snapshot import take_snapshot

    info = runs.get_run(project, run_id)
    if info.checkpoint is None:
        raise RunFailed(f"run {run_id} has no checkpoint ({info.status}): nothing to predict with")
    runs.require_finished(info, "predict")
    ckpt = load_checkpoint(project.root / info.checkpoint)
    config = TrainConfig.from_dict(ckpt["config"])
    task_ids: list[int] = ckpt["task_ids"]
    device = select_device(device_choice)
    snap = take_snapshot(project, config.val_fraction)
    snap.task_ids = task_ids
    calibration = checkpoint_calibration(ckpt, run_id)
    if ckpt.get("mode") == "instant":
        score, ok = _instant_scorer(
            project, run_id, ckpt, config, snap, device, emit, cancel, calibration
        )
    else:
        score, ok = _image_scorer(project, ckpt, config, snap, device, emit, cancel, calibration)
    write_run_predictions(project, run_id, score, ok, snap, emit, cancel)
    return int(ok.sum())


def checkpoint_calibration(ckpt: dict[str, Any], run_id: int) -> Calibration:
    """The calibration a checkpoint stored (identity for runs from before calibration)."""
    from core.errors import UserError

    try:
        return Calibration.from_dict(ckpt.get("calibration"), len(ckpt["task_ids"]))
    except (TypeError, ValueError) as exc:
        raise UserError(f"the checkpoint of run {run_id} is damaged: {exc}") from exc


def _checkpoint_spec(ckpt: dict[str, Any], width: int) -> BackboneSpec:
    from core.training.backbones import COMPACT, base_spec

    if "backbone" in ckpt:
        return BackboneSpec.from_dict(ckpt["backbone"])
    return base_spec(COMPACT, width)  # checkpoints from before transfer learning


def _image_scorer(
    project: Project,
    ckpt: dict[str, Any],
    config: TrainConfig,
    snap: LabelSnapshot,
    device: DeviceInfo,
    emit: Callable[[dict[str, Any]], None],
    cancel: Callable[[], bool],
    calibration: Calibration,
) -> tuple[Score, np.ndarray]:
    import dataclasses

    from core.training.image_cache import ImageCache, not_saved_warning
    from core.training.model import use_channels_last
    from core.training.network import build_image_model

    spec = _checkpoint_spec(ckpt, config.width)
    arch_config = dataclasses.replace(config, backbone=spec.arch)
    model, _ = build_image_model(arch_config, len(snap.task_ids), weights="none")
    model.load_state_dict(ckpt["model"])
    model = use_channels_last(model.to(device.device), device.channels_last)
    cache = ImageCache(project.cache_dir, config.image_size)

    def progress(done: int, total: int) -> None:
        emit({"event": "caching", "done": done, "total": total})

    array, ok, report = cache.load(snap.items, progress=progress, cancel=cancel)
    if report.not_saved:
        emit(not_saved_warning("decoded images", cache.directory, report.not_saved))
    images = torch.from_numpy(array)
    if device.device.type != "cpu":
        images = images.to(device.device)
    return image_scorer(model, images, device, spec, calibration), ok


def _instant_scorer(
    project: Project,
    run_id: int,
    ckpt: dict[str, Any],
    config: TrainConfig,
    snap: LabelSnapshot,
    device: DeviceInfo,
    emit: Callable[[dict[str, Any]], None],
    cancel: Callable[[], bool],
    calibration: Calibration,
) -> tuple[Score, np.ndarray]:
    from core.training.backbones import feature_backbone
    from core.training.features import gather
    from core.training.heads import build_head
    from core.training.instant import head_probabilities

    saved = _checkpoint_spec(ckpt, config.width)
    spec, backbone = feature_backbone(saved.name)
    if spec.weights_id != saved.weights_id:
        raise RunFailed(
            f"run {run_id} was trained on features of {saved.name} with other weights "
            f"({saved.weights_id}, now {spec.weights_id}); train a new run"
        )
    no_extra = np.zeros(0, dtype=np.int64)
    features = gather(
        project, snap, backbone, spec, config.image_size, 1, no_extra, device, emit, cancel
    )
    head = build_head(config.arch, spec.feature_dim, len(snap.task_ids), config.hidden)
    head.load_state_dict(ckpt["model"])
    head = head.to(device.device)
    base = torch.from_numpy(features.base).to(device.device)
    return (lambda rows: head_probabilities(head, base, rows, calibration)), features.ok
