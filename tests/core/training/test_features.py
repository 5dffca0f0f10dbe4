"""Features: the on-disk cache, the fixed views, and computing each feature only once."""

from __future__ import annotations

import copy
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from core.demo import draw_scene
from core.images.importer import import_images
from core.project import Project
from core.training import feature_cache
from core.training.backbones import build_backbone, feature_backbone
from core.training.device import select_device
from core.training.feature_cache import FeatureCache
from core.training.features import apply_view, extract, fold_batch_norms, gather
from core.training.snapshot import take_snapshot

DIM = 8


def keys(n: int, view: int = 0) -> list[tuple[bytes, int]]:
    return [(bytes([i]) * 32, view) for i in range(n)]


def test_features_round_trip_per_image_and_view(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path, "arch-weights", 64, DIM)
    values = np.random.default_rng(0).random((3, DIM), dtype=np.float32) * 6
    assert cache.add(keys(3), values)
    got, found = cache.lookup([*keys(3), *keys(1, view=1)])
    assert found.tolist() == [True, True, True, False]
    assert np.array_equal(got[:3], values), "stored as computed (float32)"
    assert not got[3].any()
    other = FeatureCache(tmp_path, "arch-otherweights", 64, DIM)
    assert not other.lookup(keys(3))[1].any(), "other weights never reuse features"
    assert not FeatureCache(tmp_path, "arch-weights", 96, DIM).lookup(keys(3))[1].any()


def test_damaged_entries_and_shards_are_recomputed_not_trusted(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path, "a-b", 64, DIM)
    cache.add(keys(2), np.ones((2, DIM), dtype=np.float32))
    (shard,) = cache.directory.glob("*.fshard")
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF  # last entry's pixels
    shard.write_bytes(bytes(data))
    assert cache.lookup(keys(2))[1].tolist() == [True, False]
    data[10] ^= 0xFF  # the header
    shard.write_bytes(bytes(data))
    assert not cache.lookup(keys(2))[1].any()
    assert not shard.exists(), "a damaged shard is deleted"


def test_many_small_shards_are_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feature_cache, "_MERGE_AT", 4)
    cache = FeatureCache(tmp_path, "a-b", 64, DIM)
    for i in range(5):
        cache.add([(bytes([i]) * 32, 0)], np.full((1, DIM), i, dtype=np.float32))
    cache.merge()
    assert len(list(cache.directory.glob("*.fshard"))) == 1
    got, found = cache.lookup(keys(5))
    assert found.all() and got[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_views_are_the_image_its_mirror_and_small_shifts() -> None:
    x = torch.arange(2 * 3 * 28 * 28, dtype=torch.float32).reshape(2, 3, 28, 28)
    assert torch.equal(apply_view(x, 0), x)
    assert torch.equal(apply_view(x, 1), x.flip(3))
    shifted = apply_view(x, 2)
    assert shifted.shape == x.shape and torch.equal(shifted[..., :-1, :-1], x[..., 1:, 1:])


def test_folded_batch_norms_and_channels_last_extraction_match_the_plain_network() -> None:
    backbone, spec = build_backbone("efficientnet-lite0")
    backbone.eval()
    folded = fold_batch_norms(backbone)
    x = torch.randn(3, 3, 64, 64)
    with torch.inference_mode():
        expected = backbone(x)
        assert torch.allclose(folded(x), expected, atol=1e-4)
        cl = copy.deepcopy(folded).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        for n in (1, 3, 5):  # odd batch sizes: see device.py on channels-last
            got = cl(x[:n].contiguous(memory_format=torch.channels_last))
            assert torch.allclose(got, expected[:n], atol=1e-4)
    images = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8)
    feats = extract(folded, spec, images, [0, 1], select_device("cpu"))
    assert feats.shape == (3, 2, spec.feature_dim)


BUILT: list[int] = []


def _gather(project: Project, extra: np.ndarray, events: list[dict[str, Any]]) -> Any:
    spec, build = feature_backbone("efficientnet-lite0")

    def backbone() -> torch.nn.Module:
        BUILT.append(1)
        return build()

    snap = take_snapshot(project, 0.3)
    device = select_device("cpu")
    return snap, gather(
        project, snap, backbone, spec, 64, 2, extra, device, events.append, lambda: False
    )


def test_features_are_computed_once_and_a_new_image_adds_only_its_own(
    demo_project: Project, tmp_path: Path
) -> None:
    snap = take_snapshot(demo_project, 0.3)
    extra = np.flatnonzero(snap.trainable)[:10].astype(np.int64)
    events: list[dict[str, Any]] = []
    snap, first = _gather(demo_project, extra, events)
    n = len(snap.items)
    assert first.computed == n + len(extra) and first.reused == 0
    assert first.ok.all() and first.base.shape == (n, 1280) and first.extra.shape == (10, 2, 1280)
    assert [e for e in events if e["event"] == "features"][-1]["done"] == n

    BUILT.clear()
    _, second = _gather(demo_project, extra, events)
    assert second.computed == 0 and second.reused == n + len(extra)
    assert not BUILT, "with every feature cached, the backbone is not even built"
    assert np.array_equal(second.base, first.base), "the first run sees what the cache holds"
    assert np.array_equal(second.extra, first.extra)
    assert np.array_equal(first.extra[:, 0], first.base[extra]), "view 0 is the image itself"
    assert not np.array_equal(first.extra[:, 1], first.extra[:, 0]), "view 1 is another view"

    folder = tmp_path / "new"
    folder.mkdir()
    draw_scene(random.Random(5))[0].save(folder / "new.jpg")
    import_images(demo_project, [folder])
    _, third = _gather(demo_project, extra, events)
    assert third.computed == 1 and third.reused == n + len(extra)


def test_a_missing_image_file_is_left_out_with_a_warning(demo_project: Project) -> None:
    snap = take_snapshot(demo_project, 0.3)
    gone = Path(snap.items[0].path)
    moved = gone.with_suffix(".moved")
    os.replace(gone, moved)
    try:
        events: list[dict[str, Any]] = []
        _, features = _gather(demo_project, np.zeros(0, dtype=np.int64), events)
    finally:
        os.replace(moved, gone)
    assert not features.ok[0] and features.ok[1:].all()
    assert any("file not found" in e.get("message", "") for e in events)
