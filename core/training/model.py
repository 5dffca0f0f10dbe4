"""The network: a compact CNN backbone shared by all tasks, one output per task.

``MultiTaskNet`` is the shared network of DESIGN.md: backbone → shared hidden
layer → T logits. ``SeparateNets`` holds one such network per task, each with a
single output, for the "does sharing help?" comparison.

Two backbone designs (``ModelSpec.design``): ``blocks``, the default since issue 13 —
four conv-BN-ReLU-max-pool stages of widths w, 2w, 4w, 8w, the design of the plain
loop that beat the program (benchmarks/compact_vs_plain.py; docs/measurements.md) —
and ``residual``, the earlier residual network, kept so that runs trained with it
still load and predict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

# Inputs are uint8 RGB scaled to [0, 1] and normalised with these (ImageNet) statistics.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    n_tasks: int
    width: int = 24
    arch: str = "shared"
    hidden: int = 0
    """Width of the shared hidden layer; 0 means 4 × width."""
    design: str = "blocks"
    """blocks (conv-BN-ReLU-max-pool stages) or residual (the design before issue 13)."""


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a skip connection (He et al., 2016)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.skip(x))


class CompactResNet(nn.Module):
    """A small residual CNN: a stem, four stages halving the resolution, global pooling."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        widths = [width, width * 2, width * 4, width * 8]
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        stages = []
        c_in = width
        for c_out in widths:
            stages.append(BasicBlock(c_in, c_out, stride=2))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = c_in

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(self.pool(self.stages(self.stem(x))), 1)


class CompactBlocks(nn.Module):
    """Four stages of 3×3 conv, batch norm, ReLU and 2×2 max pooling, global pooling.

    Measured against the residual design on the digit set (64 px, 8 epochs, same
    loop): 0.92 hidden-cell mAP vs 0.71, in 65 s vs 78 s — max pooling keeps the
    thin strokes a stride-2 convolution skips, and the one convolution per stage
    costs less.
    """

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in (width, width * 2, width * 4, width * 8):
            layers += [
                nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = c_in

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(self.pool(self.stages(x)), 1)


def compact_backbone(width: int, design: str) -> CompactBlocks | CompactResNet:
    if design == "residual":
        return CompactResNet(width)
    return CompactBlocks(width)


class MultiTaskNet(nn.Module):
    """Shared backbone and hidden layer, one logit per task."""

    def __init__(
        self, n_tasks: int, width: int = 24, hidden: int = 0, design: str = "blocks"
    ) -> None:
        super().__init__()
        self.backbone = compact_backbone(width, design)
        hidden = hidden or 4 * width
        linear = nn.Linear(self.backbone.out_features, hidden)
        if design == "residual":
            self.shared = nn.Sequential(linear, nn.ReLU(inplace=True), nn.Dropout(0.2))
        else:
            # Batch norm on the hidden layer, no dropout: on the digit set in 8 epochs
            # 0.60 hidden-cell mAP without the norm, 0.92 with it, 0.88 with it and
            # dropout 0.2 (layer norm: 0.77). Training needs two images in a batch
            # (loop.py repeats a lone one).
            self.shared = nn.Sequential(linear, nn.BatchNorm1d(hidden), nn.ReLU(inplace=True))
        self.heads = nn.Linear(hidden, n_tasks)

    def forward(self, x: Tensor) -> Tensor:
        logits: Tensor = self.heads(self.shared(self.backbone(x)))
        return logits


class SeparateNets(nn.Module):
    """One independent network per task, each of the shared network's design."""

    def __init__(
        self, n_tasks: int, width: int = 24, hidden: int = 0, design: str = "blocks"
    ) -> None:
        super().__init__()
        self.nets = nn.ModuleList(MultiTaskNet(1, width, hidden, design) for _ in range(n_tasks))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([net(x) for net in self.nets], dim=1)


def build_model(spec: ModelSpec) -> nn.Module:
    if spec.arch == "separate":
        return SeparateNets(spec.n_tasks, spec.width, spec.hidden, spec.design)
    return MultiTaskNet(spec.n_tasks, spec.width, spec.hidden, spec.design)


def to_model_input(
    batch_uint8_nhwc: Tensor,
    device: torch.device,
    channels_last: bool,
    mean: Sequence[float] = MEAN,
    std: Sequence[float] = STD,
) -> Tensor:
    """uint8 (N, H, W, 3) → float NCHW on ``device``, normalised, in the chosen memory format.

    ``mean`` and ``std`` are per channel for RGB scaled to [0, 1] (the backbone's own:
    see ``BackboneSpec``); the default is ImageNet's, the compact network's.
    """
    # Normalised in place while still NHWC (the channel is the last, contiguous axis):
    # 2.7× faster on the CPU than broadcasting over the permuted NCHW view.
    x = batch_uint8_nhwc.to(device, non_blocking=True).float()
    scale = torch.tensor([1.0 / (255.0 * s) for s in std], device=device)
    shift = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)], device=device)
    x = x.mul_(scale).add_(shift).permute(0, 3, 1, 2)  # NCHW, channels-last in memory
    return x.contiguous(
        memory_format=torch.channels_last if channels_last else torch.contiguous_format
    )


def use_channels_last(model: nn.Module, channels_last: bool) -> nn.Module:
    """Put the weights in channels-last memory when the device profits from it."""
    if not channels_last:
        return model
    return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload,no-any-return]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
