"""Inference over every image, and writing a run's predictions to the project."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from core import runs
from core.project import Project
from core.training.device import DeviceInfo, select_device
from core.training.errors import RunFailed, TrainingCancelled
from core.training.model import to_model_input
from core.training.snapshot import LabelSnapshot

PREDICT_BATCH = 256


@torch.no_grad()
def predict_array(
    model: nn.Module, images: Tensor, rows: np.ndarray, device: DeviceInfo, batch_size: int
) -> np.ndarray:
    """Probabilities (len(rows), T) for the given rows of the uint8 image tensor."""
    model.eval()
    out = []
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    for start in range(0, len(index), batch_size):
        chunk = index[start : start + batch_size].to(images.device)
        x = to_model_input(images[chunk], device.device, device.channels_last)
        with torch.autocast(
            device.device.type,
            dtype=device.amp_dtype or torch.float32,
            enabled=device.amp_dtype is not None,
        ):
            logits = model(x)
        out.append(torch.sigmoid(logits.float()).cpu())
    model.train()
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy()


def write_run_predictions(
    project: Project,
    run_id: int,
    model: nn.Module,
    images: Tensor,
    ok: np.ndarray,
    snap: LabelSnapshot,
    device: DeviceInfo,
    emit: Callable[[dict[str, Any]], None],
    cancel: Callable[[], bool],
) -> None:
    """Predict every decodable image of the snapshot; the set is marked complete at the end."""
    runs.begin_predictions(project, run_id)
    rows = np.flatnonzero(ok)
    started = time.monotonic()
    for start in range(0, len(rows), PREDICT_BATCH * 8):
        if cancel():
            raise TrainingCancelled
        chunk = rows[start : start + PREDICT_BATCH * 8]
        probs = predict_array(model, images, chunk, device, PREDICT_BATCH)
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
    runs.end_predictions(project, run_id)


def predict_run(
    project: Project,
    run_id: int,
    emit: Callable[[dict[str, Any]], None],
    cancel: Callable[[], bool],
    device_choice: str = "auto",
) -> int:
    """Re-run a finished run's model over every image now in the project (new ones too).

    Returns the number of images predicted.
    """
    from core.training.checkpoint import load_checkpoint
    from core.training.config import TrainConfig
    from core.training.image_cache import ImageCache
    from core.training.model import ModelSpec, build_model, use_channels_last
    from core.training.snapshot import take_snapshot

    info = runs.get_run(project, run_id)
    if info.checkpoint is None:
        raise RunFailed(f"run {run_id} has no checkpoint ({info.status}): nothing to predict with")
    ckpt = load_checkpoint(project.root / info.checkpoint)
    config = TrainConfig.from_dict(ckpt["config"])
    task_ids: list[int] = ckpt["task_ids"]
    model = build_model(ModelSpec(len(task_ids), config.width, config.arch))
    model.load_state_dict(ckpt["model"])
    device = select_device(device_choice)
    model = model.to(device.device)
    model = use_channels_last(model, device.channels_last)
    snap = take_snapshot(project, config.val_fraction)
    snap.task_ids = task_ids
    cache = ImageCache(project.cache_dir, config.image_size)

    def progress(done: int, total: int) -> None:
        emit({"event": "caching", "done": done, "total": total})

    array, ok, _ = cache.load(snap.items, progress=progress, cancel=cancel)
    images = torch.from_numpy(array)
    if device.device.type != "cpu":
        images = images.to(device.device)
    write_run_predictions(project, run_id, model, images, ok, snap, device, emit, cancel)
    return int(ok.sum())
