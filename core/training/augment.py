"""Light augmentation on cached uint8 batches: horizontal flips and small shifts.

Both keep every object in view (a shift of a few pixels with reflected edges), so
a "present" label stays true. Validation and prediction never augment.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def augment_batch(
    x: Tensor, generator: torch.Generator, max_shift: int = 4, flip: bool = True
) -> Tensor:
    """x: float NCHW. Random translation per image, and horizontal flips if ``flip``."""
    n, _, h, w = x.shape
    if flip:
        flips = torch.rand(n, generator=generator) < 0.5
        x = torch.where(flips.to(x.device).view(n, 1, 1, 1), x.flip(3), x)
    if max_shift <= 0:
        return x
    padded = F.pad(x, (max_shift, max_shift, max_shift, max_shift), mode="reflect")
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).tolist()
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).tolist()
    return torch.stack(
        [padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)]
    ).contiguous(
        memory_format=torch.channels_last
        if x.is_contiguous(memory_format=torch.channels_last)
        else torch.contiguous_format
    )
