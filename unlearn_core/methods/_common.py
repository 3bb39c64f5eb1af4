"""Helpers shared by method files (kept tiny: the trainer in training.py does the real work)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from ..training import TrainConfig


def method_cfg(base: TrainConfig, params: dict[str, Any], schedule: str = "constant") -> TrainConfig:
    """The method's own optimiser settings on top of the original recipe (augmentation, batch size kept)."""
    return replace(
        base,
        epochs=int(params.get("epochs", base.epochs)),
        lr=float(params.get("lr", base.lr)),
        batch_size=int(params.get("batch_size", base.batch_size)),
        optimizer=str(params.get("optimizer", "sgd")),
        weight_decay=float(params.get("weight_decay", base.weight_decay)),
        schedule=str(params.get("schedule", schedule)),
    ).validate()


def random_other_labels(y: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random label different from the true one, per sample (RL's relabeling)."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator).to(y.device)
    return (y + shift) % num_classes
