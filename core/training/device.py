"""Choosing where to train: CUDA, else Apple MPS, else the CPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import UserError


@dataclass(frozen=True)
class DeviceInfo:
    device: torch.device
    description: str
    amp_dtype: torch.dtype | None
    """Mixed precision type on CUDA (bfloat16 where supported, else float16); None elsewhere."""
    channels_last: bool


def cuda_summary() -> str:
    """One line for a status bar: which GPU, or why none."""
    if torch.cuda.is_available():
        return f"CUDA: {torch.cuda.get_device_name(0)}"
    return "no CUDA GPU found (training on the CPU)"


def select_device(choice: str = "auto") -> DeviceInfo:
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "mps" if mps_ok else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda was asked for, but no CUDA GPU is available")
        bf16 = torch.cuda.is_bf16_supported()
        name = torch.cuda.get_device_name(0)
        return DeviceInfo(
            torch.device("cuda"), f"cuda ({name})", torch.bfloat16 if bf16 else torch.float16, True
        )
    if choice == "mps":
        if not mps_ok:
            raise UserError("--device mps was asked for, but Apple MPS is not available")
        return DeviceInfo(torch.device("mps"), "mps", None, False)
    if choice == "cpu":
        threads = torch.get_num_threads()
        # Not channels-last on the CPU: with torch 2.13's oneDNN, the backward pass of a
        # 1×1 convolution in channels-last memory corrupts the heap for odd batch sizes
        # (3, 5, 7 …) and the process dies. Contiguous memory is slower but sound.
        return DeviceInfo(torch.device("cpu"), f"cpu ({threads} threads)", None, False)
    raise UserError(f"unknown device {choice!r}: use auto, cpu, cuda or mps")
