"""Settings that make a training run fast enough for a test."""

from __future__ import annotations

from core.training.config import TrainConfig


def tiny_config(**overrides: object) -> TrainConfig:
    """Small images, a narrow network, two epochs, on the CPU."""
    values: dict[str, object] = {
        "epochs": 2,
        "batch_size": 16,
        "image_size": 32,
        "width": 8,
        "device": "cpu",
        "val_fraction": 0.3,
    }
    values.update(overrides)
    return TrainConfig(**values).validate()  # type: ignore[arg-type]
