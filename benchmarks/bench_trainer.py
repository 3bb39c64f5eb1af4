"""Trainer throughput (images/s) through the project's own training loop.

Synthetic uint8 32x32 RGB data held on the device (as the real pipeline does), ResNet-18 by default, batch 512,
GPU augmentation, bf16 autocast and channels_last on CUDA. One warm-up epoch is excluded from the timing.

    python benchmarks/bench_trainer.py                         # auto device
    python benchmarks/bench_trainer.py --device cpu --n 2048 --epochs 1 --batch 128
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from unlearn_core.data import _from_numpy
from unlearn_core.device import resolve_device
from unlearn_core.training import TrainConfig, new_model, train_loop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--n", type=int, default=25_600, help="synthetic training images")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--classes", type=int, default=10)
    args = ap.parse_args()
    device = resolve_device(args.device)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(args.n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, args.classes, size=args.n)
    ds = _from_numpy("synthetic", x, y, x[:256], y[:256], None).to(device)
    model = new_model(args.model, ds, 0, device)
    idx = torch.arange(args.n, device=device)
    cfg = TrainConfig(epochs=1, batch_size=args.batch, lr=0.05, augment="crop_flip")
    train_loop(model, ds, idx, cfg, seed=0)  # warm-up (cuDNN autotune, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.time()
    train_loop(model, ds, idx, TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=0.05, augment="crop_flip"),
               seed=1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.time() - t0
    ips = args.n * args.epochs / dt
    mem = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if device.type == "cuda" else ""
    print(f"{args.model} batch {args.batch} on {device} "
          f"({torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}): "
          f"{ips:,.0f} images/s over {args.epochs} epochs of {args.n} images{mem}")


if __name__ == "__main__":
    main()
