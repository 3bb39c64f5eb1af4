"""Device choice and mixed precision helpers (CPU and CUDA)."""
from __future__ import annotations

import contextlib
import os

import torch

from .errors import ConfigError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device for ``auto|cpu|cuda[:i]``; ``auto`` picks CUDA when available.

    The environment variable ``FORGETSET_DEVICE`` overrides ``auto``.
    """
    if isinstance(device, torch.device):
        return device
    device = (device or "auto").strip().lower()
    if device == "auto":
        device = os.environ.get("FORGETSET_DEVICE", "auto").lower()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_device_name(device)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was requested but no CUDA GPU is available; use --device cpu or auto.")
        if ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA GPU(s) "
                              f"(cuda:0..cuda:{torch.cuda.device_count() - 1}).")
        return torch.device(device)
    if device == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"Unknown device '{device}'. Use auto, cpu or cuda.")


def check_device_name(device: str | torch.device | None) -> None:
    """Refuse a device name that is not auto / cpu / cuda[:i] (without asking whether CUDA is there)."""
    if device is None or isinstance(device, torch.device):
        return
    if not isinstance(device, str):
        raise ConfigError(f"The device must be a name (auto, cpu or cuda), got {device!r}.")
    d = device.strip().lower()
    if d in ("auto", "cpu", "cuda") or (d.startswith("cuda:") and d[5:].isdigit()):
        return
    raise ConfigError(f"Unknown device '{device}'. Use auto, cpu or cuda.")


def autocast(device: torch.device):
    """bf16 autocast on CUDA (where it speeds up convs/matmuls); a no-op on CPU (bf16 is slow there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
