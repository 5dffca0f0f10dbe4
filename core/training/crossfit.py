"""Label checks: each known cell's probability from a model that never saw its label.

"Likely label errors" lists labels the model contradicts. Asked of the run's own
model, that misses exactly the errors that matter: the network trained on the
wrong label and learned to agree with it. So an instant run cross-fits its head
(K-fold over the training images, :data:`K_FOLDS` folds, each fold's head
trained on the others for the kept model's number of epochs, then mapped
through the run's calibration) and stores, for every known training cell, the
probability from the head that held its image out. Validation cells are out of
sample already: they get the kept model's probability. The cost is K more head
trainings on cached features — seconds (the run reports them).

Runs of the image loop (the compact network, fine-tuning) are not cross-fitted:
K more trainings of the whole network would multiply the run's time. Their label
errors use the run's predictions, out of sample only for validation cells.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from core import runs
from core.project import Project
from core.training.calibration import Calibration
from core.training.config import TrainConfig
from core.training.head_optim import OneCycleAdamW
from core.training.instant import HeadData, head_epoch, head_probabilities, samples_per_epoch
from core.training.loss import positive_weights
from core.training.snapshot import LabelSnapshot

K_FOLDS = 5
MIN_FOLD_IMAGES = 2
"""Fewer training images than ``K_FOLDS × this``: no cross-fitting (nothing to hold out)."""


def out_of_fold(
    build: Callable[[], nn.Module],
    data: HeadData,
    config: TrainConfig,
    epochs: int,
    calibration: Calibration,
    cancel: Callable[[], bool],
) -> np.ndarray:
    """(n_train, T) calibrated probabilities of the training images (rows of
    ``data.views``), each from a head trained on the other folds."""
    n = data.views.shape[0]
    rng = np.random.default_rng(config.seed)
    fold = rng.permutation(n) % K_FOLDS
    out = np.zeros((n, data.targets.shape[1]), dtype=np.float32)
    for k in range(K_FOLDS):
        fit = np.flatnonzero(fold != k)
        keep = torch.from_numpy(fit).to(data.views.device)
        held = np.flatnonzero(fold == k)
        part = HeadData(
            base=data.base,
            views=data.views.index_select(0, keep),
            targets=data.targets.index_select(0, keep),
            known=data.known.index_select(0, keep),
            val_rows=np.zeros(0, dtype=np.int64),
            train_rows=data.train_rows[fit],
        )
        head = build()
        steps = epochs * math.ceil(samples_per_epoch(len(fit)) / config.batch_size)
        optimizer = OneCycleAdamW(head.parameters(), config.lr, config.weight_decay, steps)
        pos_weight = positive_weights(part.targets, part.known) if config.pos_weight else None
        generator = torch.Generator().manual_seed(config.seed + k + 1)
        for epoch in range(1, epochs + 1):
            for _step in head_epoch(
                head, optimizer, part, config, generator, pos_weight, cancel, epoch
            ):
                pass
        out[held] = head_probabilities(head, data.base, data.train_rows[held], calibration)
    return out


def write_label_checks(
    project: Project,
    run_id: int,
    snap: LabelSnapshot,
    data: HeadData,
    oof: np.ndarray,
    val_probs: np.ndarray,
) -> int:
    """Store the known cells' label checks: ``oof`` for training images, ``val_probs``
    for the validation images. Returns the number of cells stored."""
    rows = np.concatenate([data.train_rows, data.val_rows])
    probs = np.concatenate([oof, val_probs]) if len(data.val_rows) else oof
    known = snap.known[rows]
    r, c = np.nonzero(known)
    image_ids = np.array([snap.items[rows[i]].image_id for i in r], dtype=np.int64)
    task_ids = np.asarray(snap.task_ids, dtype=np.int64)[c]
    runs.write_label_checks(project, run_id, image_ids, task_ids, probs[r, c])
    return len(r)


def cross_fit(
    project: Project,
    run_id: int,
    snap: LabelSnapshot,
    build: Callable[[], nn.Module],
    data: HeadData,
    config: TrainConfig,
    best_epoch: int,
    calibration: Calibration,
    kept: nn.Module,
    emit: Callable[[dict[str, Any]], None],
    cancel: Callable[[], bool],
) -> None:
    """Cross-fit, store the label checks and say what it cost."""
    n = data.views.shape[0]
    if n < K_FOLDS * MIN_FOLD_IMAGES:
        emit(
            {
                "event": "info",
                "message": f"label checks skipped: {n} training images are too few to hold "
                f"out {K_FOLDS} folds; likely label errors use the run's own predictions",
            }
        )
        return
    started = time.monotonic()
    oof = out_of_fold(build, data, config, best_epoch, calibration, cancel)
    val = head_probabilities(kept, data.base, data.val_rows, calibration)
    cells = write_label_checks(project, run_id, snap, data, oof, val)
    emit(
        {
            "event": "info",
            "message": f"label checks: {K_FOLDS}-fold cross-fitting of the head on {n} "
            f"training images, {cells} known cells, {time.monotonic() - started:.1f} s "
            "(likely label errors are judged by heads that did not train on the label)",
        }
    )
