"""A 28x28 grayscale data set in MNIST format (npz), made offline from scikit-learn's real 8x8 digits.

No MNIST can be downloaded here, so benchmarks that need "a 10k-image 28x28 set" use this stand-in: each image is
one of the 1,797 real digits, upsampled to 20x20 (bilinear), placed on a 28x28 canvas like MNIST, and moved by a
random small affine transform (rotation ±12°, scale 0.9-1.1, shift ±2 px) so the samples are not copies. Train and
test images come from disjoint source digits (the test split of ``load_dataset("digits")``), so test accuracy is
honest. Arrays: x_train (N, 28, 28) uint8, y_train, x_test, y_test, classes.

    python benchmarks/make_gray28.py --out /tmp/gray28.npz --n-train 10000 --n-test 2000
"""
from __future__ import annotations

import argparse
import math

import numpy as np
import torch
import torch.nn.functional as F


def render(images8: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n random affine copies (28x28 uint8) of the given 8x8 uint8 images; returns (images, source index)."""
    src = rng.integers(0, len(images8), n)
    x = torch.from_numpy(images8[src].astype(np.float32) / 255.0)[:, None]  # (n, 1, 8, 8)
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    x = F.pad(x, (4, 4, 4, 4))  # 28x28 canvas, digit in the middle 20x20 (MNIST's layout)
    ang = torch.from_numpy(rng.uniform(-12, 12, n) * math.pi / 180).float()
    sc = torch.from_numpy(rng.uniform(0.9, 1.1, n)).float()
    tx, ty = (torch.from_numpy(rng.uniform(-2, 2, n) / 14).float() for _ in range(2))
    theta = torch.stack([torch.stack([torch.cos(ang) / sc, -torch.sin(ang) / sc, tx], 1),
                         torch.stack([torch.sin(ang) / sc, torch.cos(ang) / sc, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (out[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy(), src


def main() -> None:
    from unlearn_core.data import load_dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/gray28.npz")
    ap.add_argument("--n-train", type=int, default=10_000)
    ap.add_argument("--n-test", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = load_dataset("digits")
    rng = np.random.default_rng(args.seed)
    xtr8, ytr8 = ds.x_train[:, 0].numpy(), ds.y_train.numpy()
    xte8, yte8 = ds.x_test[:, 0].numpy(), ds.y_test.numpy()
    xtr, s_tr = render(xtr8, args.n_train, rng)
    xte, s_te = render(xte8, args.n_test, rng)
    np.savez_compressed(args.out, x_train=xtr, y_train=ytr8[s_tr], x_test=xte, y_test=yte8[s_te],
                        classes=np.array([str(i) for i in range(10)]))
    print(f"wrote {args.out}: {len(xtr)} train + {len(xte)} test 28x28 gray images from real 8x8 digits")


if __name__ == "__main__":
    main()
