"""Small synthetic data the tests build themselves (no downloads)."""
from __future__ import annotations

import numpy as np


def blob_arrays(n_train: int, n_test: int, seed: int):
    """Two Gaussian blobs as 8x8 uint8 images: class 0 bright on the left half, class 1 on the right.

    Returns (rng, x_train, y_train, x_test, y_test); the generator is returned so callers can keep drawing
    from the same stream (e.g. to plant outliers).
    """
    rng = np.random.default_rng(seed)
    proto = np.zeros((2, 8, 8))
    proto[0, :, :4] = 1
    proto[1, :, 4:] = 1

    def draw(n):
        y = rng.integers(0, 2, n)
        x = proto[y] * 150 + 50 + rng.normal(0, 40, (n, 8, 8))
        return np.clip(x, 0, 255).astype(np.uint8), y

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    return rng, xtr, ytr, xte, yte
