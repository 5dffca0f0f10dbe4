"""Backbone features of a snapshot's images: read from the feature cache, computed where missing.

View 0 of every image is needed (validation and predictions); views 1… only of
training images (an instant epoch draws one view per image, a fixed stand-in for
on-the-fly augmentation). Missing features are computed in chunks: the images
are decoded through the image cache at the backbone's input size, run through
the frozen backbone (batched, ``torch.inference_mode``, on the GPU when there
is one) and written to the feature cache chunk by chunk, so a cancelled or
killed run keeps what it computed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from core.project import Project
from core.training.backbones import BackboneSpec
from core.training.device import DeviceInfo
from core.training.errors import TrainingCancelled
from core.training.feature_cache import FeatureCache, Key
from core.training.image_cache import CacheItem, ImageCache, not_saved_warning
from core.training.model import to_model_input
from core.training.snapshot import LabelSnapshot, left_out_warnings

Emit = Callable[[dict[str, Any]], None]
Cancel = Callable[[], bool]

# (horizontal flip, shift x, shift y) in units of SHIFT_FRACTION of the side.
VIEWS = (
    (False, 0, 0),
    (True, 0, 0),
    (False, 1, 1),
    (True, -1, -1),
    (False, 1, -1),
    (True, -1, 1),
    (False, -1, -1),
    (True, 1, 1),
)
SHIFT_FRACTION = 1 / 28
"""8 pixels at 224: small enough that every object stays in view."""
CHUNK_IMAGES = 256
"""Images decoded and run through the backbone per chunk (bounds memory: 38 MB at 224 px)."""
PROGRESS_INTERVAL_S = 0.1
"""``features`` events come at most this often (but after every batch on a CPU)."""
BATCH = 64


def apply_view(x: Tensor, view: int) -> Tensor:
    """Normalised NCHW images as fixed view ``view`` sees them (0: unchanged; others may
    be non-contiguous views)."""
    flip, ux, uy = VIEWS[view]
    if flip:
        x = x.flip(3)
    if ux or uy:
        h, w = x.shape[-2:]
        s = max(1, round(min(h, w) * SHIFT_FRACTION))
        padded = F.pad(x, (s, s, s, s), mode="reflect")
        x = padded[:, :, s + uy * s : s + uy * s + h, s + ux * s : s + ux * s + w]
    return x


def fold_batch_norms(backbone: nn.Module) -> nn.Module:
    """An inference copy with each batch norm folded into the convolution before it.

    Relies on a convolution and its batch norm being consecutive children (true of
    every backbone here); the result is checked against the original on a random
    batch, and the original returned when they disagree.
    """
    folded = copy.deepcopy(backbone).eval()

    def walk(parent: nn.Module) -> None:
        names = list(parent._modules)
        for first, second in itertools.pairwise(names):
            conv, bn = parent._modules[first], parent._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                parent._modules[first] = fuse_conv_bn_eval(conv, bn)
                parent._modules[second] = nn.Identity()
        for child in parent.children():
            walk(child)

    walk(folded)
    backbone = backbone.eval()
    probe = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    probe = probe.to(next(backbone.parameters()).device)
    with torch.inference_mode():
        expected, got = backbone(probe), folded(probe)
    scale = float(expected.abs().max()) + 1e-6
    if not torch.allclose(expected, got, atol=1e-3 * scale, rtol=1e-3):
        return backbone
    return folded


@torch.inference_mode()
def extract(
    backbone: nn.Module,
    spec: BackboneSpec,
    images: Tensor,
    views: Sequence[int],
    device: DeviceInfo,
    batch_size: int = BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> Tensor:
    """Features (n, len(views), dim) float32 on the CPU of uint8 images (n, S, S, 3).

    ``on_batch(k)`` is called as each batch of k images has all its views done.
    """
    out = torch.empty(len(images), len(views), spec.feature_dim)
    channels_last = extraction_channels_last(device)
    for start in range(0, len(images), batch_size):
        x = to_model_input(
            images[start : start + batch_size], device.device, channels_last, spec.mean, spec.std
        )
        layout = torch.channels_last if channels_last else torch.contiguous_format
        for j, view in enumerate(views):
            v = apply_view(x, view).contiguous(memory_format=layout)
            with torch.autocast(
                device.device.type,
                dtype=device.amp_dtype or torch.float32,
                enabled=device.amp_dtype is not None,
            ):
                feats = backbone(v)
            out[start : start + len(v), j] = feats.float().cpu()
        if on_batch is not None:
            on_batch(len(x))
    return out


def extraction_channels_last(device: DeviceInfo) -> bool:
    """Channels-last memory for the frozen backbone's forward passes: on CUDA, and on the
    CPU too. device.py keeps training contiguous on the CPU because the *backward* pass
    of a channels-last 1×1 convolution corrupts the heap there (torch 2.13, oneDNN);
    extraction never runs backward, and its forward results match the contiguous ones
    (tests/core/training/test_features.py) while running about 1.7× faster on 2 cores."""
    return device.device.type in ("cpu", "cuda")


def inference_backbone(backbone: nn.Module, device: DeviceInfo) -> nn.Module:
    """The frozen backbone as extraction runs it: batch norms folded, on the device."""
    model = fold_batch_norms(backbone).to(device.device)
    if extraction_channels_last(device):
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def file_digest(item: CacheItem) -> bytes | None:
    """The image's SHA-256: the recorded one while size and mtime are as at import, else
    read and hashed now; None when the file cannot be read (the image cache says why)."""
    try:
        info = os.stat(item.path)
        if info.st_size == item.file_size and info.st_mtime_ns == item.file_mtime_ns:
            return bytes.fromhex(item.content_hash)
        with open(item.path, "rb") as f:
            return hashlib.sha256(f.read()).digest()
    except (OSError, ValueError):
        return None


@dataclass
class FeatureSet:
    """A snapshot's features, row-aligned with ``snap.items``."""

    base: npt.NDArray[np.float32]
    """(n, dim): view 0 of every image (zeros where ``ok`` is False)."""
    extra_rows: npt.NDArray[np.int64]
    """Rows that have the extra views (the training images)."""
    extra: npt.NDArray[np.float32]
    """(len(extra_rows), views, dim): every view of those rows, view 0 (as in ``base``)
    included, so that training samples from one array."""
    ok: npt.NDArray[np.bool_]
    computed: int
    """(image, view) features computed this time; the rest came from the cache."""
    reused: int
    seconds: float


def gather(
    project: Project,
    snap: LabelSnapshot,
    backbone: Callable[[], nn.Module],
    spec: BackboneSpec,
    size: int,
    views: int,
    extra_rows: npt.NDArray[np.int64],
    device: DeviceInfo,
    emit: Emit,
    cancel: Cancel,
) -> FeatureSet:
    """Features of every image (view 0) and of ``extra_rows`` (views 1 … views-1).

    ``backbone()`` builds the network; it is called only when a feature is missing.
    """
    started = time.monotonic()
    n, dim, n_extra = len(snap.items), spec.feature_dim, views - 1
    cache = FeatureCache(project.cache_dir, spec.cache_key, size, dim, spec.resize)
    digests = [file_digest(item) for item in snap.items]
    ok = np.array([d is not None for d in digests], dtype=np.bool_)
    readable = np.flatnonzero(ok)
    extra_rows = np.asarray(extra_rows, dtype=np.int64)
    extra_readable = extra_rows[ok[extra_rows]]
    known = [d or b"" for d in digests]  # b"" only where ok is False, never looked up
    index = cache.index()
    base = np.zeros((n, dim), dtype=np.float32)
    base_found = np.zeros(n, dtype=np.bool_)
    base_found[readable] = cache.lookup([(known[r], 0) for r in readable], index, base, readable)[1]
    slot = np.full(n, -1, dtype=np.int64)  # row → its place in ``extra``
    slot[extra_rows] = np.arange(len(extra_rows))
    extra = np.zeros((len(extra_rows), views, dim), dtype=np.float32)
    extra[:, 0] = base[extra_rows]
    extra_found = np.zeros((len(extra_rows), n_extra), dtype=np.bool_)
    if n_extra:
        places = slot[extra_readable]
        keys = [(known[r], v) for r in extra_readable for v in range(1, views)]
        targets = (places[:, None] * views + np.arange(1, views)).ravel()
        found = cache.lookup(keys, index, extra.reshape(-1, dim), targets)[1]
        extra_found[places] = found.reshape(-1, n_extra)
    reused = int(base_found.sum() + extra_found.sum())
    todo: dict[int, list[int]] = {}  # row → views it lacks
    for row in np.flatnonzero(~base_found):
        todo[int(row)] = [0]
    for place in np.flatnonzero(~extra_found.all(axis=1)):
        lacking = np.flatnonzero(~extra_found[place])
        todo.setdefault(int(extra_rows[place]), []).extend(1 + int(v) for v in lacking)
    computed = 0
    if todo:
        store = _Store(base, extra, slot, cache, digests)
        computed = _compute_missing(
            project, snap, todo, store, backbone, spec, size, ok, device, emit, cancel
        )
        base_found |= store.base_done
        cache.merge()
    ok &= base_found
    return FeatureSet(base, extra_rows, extra, ok, computed, reused, time.monotonic() - started)


@dataclass
class _Store:
    """Where computed features go: the arrays of the FeatureSet and the disk cache."""

    base: npt.NDArray[np.float32]
    extra: npt.NDArray[np.float32]
    slot: npt.NDArray[np.int64]
    cache: FeatureCache
    digests: list[bytes | None]

    def __post_init__(self) -> None:
        self.base_done = np.zeros(len(self.base), dtype=np.bool_)

    def put(self, row: int, view: int, value: npt.NDArray[np.float32]) -> None:
        if view == 0:
            self.base[row] = value
            self.base_done[row] = True
        if view or self.slot[row] >= 0:
            self.extra[self.slot[row], view] = value


def _compute_missing(
    project: Project,
    snap: LabelSnapshot,
    todo: dict[int, list[int]],
    store: _Store,
    backbone: Callable[[], nn.Module],
    spec: BackboneSpec,
    size: int,
    ok: npt.NDArray[np.bool_],
    device: DeviceInfo,
    emit: Emit,
    cancel: Cancel,
) -> int:
    """Decode and run the images that lack features (``todo``: row → views); the count."""
    images = ImageCache(project.cache_dir, size)
    model = inference_backbone(backbone(), device)
    missing = sorted(todo)
    total = len(missing)
    progress = _FeatureProgress(emit, total)
    images_not_saved = features_not_saved = False  # each said once per run
    for start in range(0, total, CHUNK_IMAGES):
        if cancel():
            raise TrainingCancelled
        rows = missing[start : start + CHUNK_IMAGES]
        pixels, decoded, report = images.load([snap.items[r] for r in rows], cancel=cancel)
        for warning in left_out_warnings(snap, report.failed):
            emit(warning)
        if report.not_saved and not images_not_saved:
            images_not_saved = True
            emit(not_saved_warning("decoded images", images.directory, report.not_saved))
        batch = torch.from_numpy(pixels)
        by_views: dict[tuple[int, ...], list[int]] = {}
        for i, r in enumerate(rows):
            if decoded[i] and store.digests[r] is not None:
                by_views.setdefault(tuple(todo[r]), []).append(i)
            else:
                ok[r] = False
                progress.add(1, 0)
        new_keys: list[Key] = []
        new_values: list[npt.NDArray[np.float32]] = []
        for views, members in by_views.items():
            counted = progress.counting(len(views))
            feats = extract(model, spec, batch[members], views, device, on_batch=counted).numpy()
            for m, i in enumerate(members):
                r = rows[i]
                digest = store.digests[r]
                assert digest is not None
                for j, view in enumerate(views):
                    store.put(r, view, feats[m, j])
                    new_keys.append((digest, view))
                    new_values.append(feats[m, j])
        saved = not new_keys or store.cache.add(new_keys, np.stack(new_values))
        if not saved and not features_not_saved:
            features_not_saved = True
            reason = store.cache.not_saved or "unknown reason"
            emit(not_saved_warning("image features", store.cache.directory, reason))
    progress.finish()
    return progress.computed


class _FeatureProgress:
    """``features`` events: images done of ``total`` and features computed, said as each
    batch ends (a second or so on a CPU at 224 px), at most every PROGRESS_INTERVAL_S
    (a GPU ends hundreds of batches a second); the first and the last always."""

    def __init__(self, emit: Emit, total: int) -> None:
        self.emit, self.total = emit, total
        self.done = self.computed = 0
        self.said_at = time.monotonic()
        self.said = (-1, -1)
        self._say()

    def add(self, images: int, features: int) -> None:
        self.done += images
        self.computed += features
        if time.monotonic() - self.said_at >= PROGRESS_INTERVAL_S:
            self._say()

    def counting(self, views: int) -> Callable[[int], None]:
        """``extract``'s ``on_batch`` for images of ``views`` views each."""

        def add(images: int) -> None:
            self.add(images, images * views)

        return add

    def finish(self) -> None:
        if self.said != (self.total, self.computed):
            self.done = self.total
            self._say()

    def _say(self) -> None:
        self.said_at = time.monotonic()
        self.said = (min(self.done, self.total), self.computed)
        self.emit(
            {
                "event": "features",
                "done": min(self.done, self.total),
                "total": self.total,
                "computed": self.computed,
            }
        )
