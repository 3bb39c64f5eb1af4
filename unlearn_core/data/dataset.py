"""The in-memory data set every loader returns: uint8 NCHW image tensors and int64 labels with stable indices."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError
from ..io import sha256_chunks


@dataclass
class ImageDataset:
    """An in-memory image classification data set (train + test) with stable sample indices."""

    name: str
    x_train: torch.Tensor  # uint8 (N, C, H, W)
    y_train: torch.Tensor  # int64 (N,)
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]
    mean: torch.Tensor = field(default=None)  # (C,) in [0, 1] units
    std: torch.Tensor = field(default=None)
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # optional per-train-sample attributes
    description: str = ""

    def __post_init__(self) -> None:
        if self.mean is None or self.std is None:
            # Channel statistics of the training set, used for normalisation.
            xf = self.x_train.float().div_(255.0)
            self.mean = xf.mean(dim=(0, 2, 3))
            self.std = xf.std(dim=(0, 2, 3)).clamp_min(1e-3)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def to(self, device: torch.device) -> "ImageDataset":
        """Copy the tensors to ``device`` (on CUDA the whole data set lives on the GPU)."""
        if self.x_train.device == device:
            return self
        return ImageDataset(
            self.name, self.x_train.to(device), self.y_train.to(device), self.x_test.to(device),
            self.y_test.to(device), self.classes, self.mean.to(device), self.std.to(device),
            self.attributes, self.description,
        )

    def normalize(self, xb: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float, standardised with the training-set channel mean/std."""
        mean = self.mean.to(xb.device).view(1, -1, 1, 1)
        std = self.std.to(xb.device).view(1, -1, 1, 1)
        return (xb.float().div_(255.0) - mean) / std

    def split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ConfigError(f"Unknown split '{split}'; use train or test.")

    def images_hwc(self, split: str, idx: np.ndarray | list[int]) -> np.ndarray:
        """uint8 images (n, H, W, C) on the CPU, for display."""
        x, _ = self.split(split)
        idx_t = torch.as_tensor(np.asarray(idx, dtype=np.int64), device=x.device)
        return x[idx_t].permute(0, 2, 3, 1).cpu().numpy()

    def fingerprint(self) -> str:
        """Content hash (labels + a strided sample of pixels): checkpoints made on other data are refused."""
        return sha256_chunks((
            self.name.encode(),
            str(tuple(self.x_train.shape)).encode(),
            self.y_train.cpu().numpy().tobytes(),
            self.x_train.reshape(-1)[:: max(1, self.x_train.numel() // 100_000)].cpu().numpy().tobytes(),
        ))[:16]
