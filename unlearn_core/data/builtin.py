"""The built-in data sets, available offline: scikit-learn's digits and the project-built biased digits."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from .arrays import from_numpy
from .dataset import ImageDataset


def load_digits_dataset(test_fraction: float = 0.2, split_seed: int = 0) -> ImageDataset:
    """scikit-learn's real 8x8 handwritten digits (1,797 images), fixed stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    # Pixel values are 0..16; map them to the 0..255 uint8 range every data set uses.
    images = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    idx = np.arange(len(images))
    tr, te = train_test_split(idx, test_size=test_fraction, stratify=d.target, random_state=split_seed)
    tr, te = np.sort(tr), np.sort(te)
    return from_numpy("digits", images[tr], d.target[tr], images[te], d.target[te],
                       [str(i) for i in range(10)], description="scikit-learn digits, 8x8 grayscale")


def load_biased_digits(bias: float = 0.9, seed: int = 0) -> ImageDataset:
    """Digits with a spurious attribute, an offline stand-in for CelebA's Blond/Male bias (Fan et al., Challenging Forgets Fig. 4).

    Task label: digit >= 5 ("high") vs < 5 ("low"). Attribute: the image is drawn in red or green ink. For a
    fraction ``bias`` of the samples the ink agrees with the label (high -> red, low -> green); the rest get the
    other colour. So (high, red) and (low, green) are the easy majority groups.
    """
    if not 0.5 <= bias <= 1.0:
        raise ConfigError(f"bias must be in [0.5, 1], got {bias}.")
    base = load_digits_dataset()
    rng = np.random.default_rng(seed)

    def colourise(x: torch.Tensor, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        label = (y >= 5).astype(np.int64)
        agree = rng.random(len(y)) < bias
        red = np.where(agree, label == 1, label == 0)
        gray = x[:, 0].numpy().astype(np.float32)  # (n, H, W)
        rgb = np.zeros(gray.shape + (3,), dtype=np.float32)
        rgb[red, :, :, 0] = gray[red]
        rgb[~red, :, :, 1] = gray[~red]
        rgb += 20.0  # dim background so the colour channel is not the only signal
        return np.clip(rgb, 0, 255).astype(np.uint8), label, red.astype(np.int64)

    xtr, ytr, atr = colourise(base.x_train, base.y_train.numpy())
    xte, yte, _ = colourise(base.x_test, base.y_test.numpy())
    return from_numpy("biased_digits", xtr, ytr, xte, yte, ["low (0-4)", "high (5-9)"],
                       attributes={"red_ink": atr},
                       description=f"Project-built from real digits: label=digit>=5, ink colour agrees with the "
                                   f"label for {bias:.0%} of samples (spurious attribute 'red_ink').")
