"""Spread over seeds, written once: the sample standard deviation the project reports beside every mean."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np


def sample_std(values: Iterable[float] | np.ndarray) -> float:
    """s = sqrt(Σ(x − x̄)² / (n − 1)) (ddof=1); NaN for fewer than two values (one seed has no spread)."""
    a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float).ravel()
    return float(np.std(a, ddof=1)) if a.size > 1 else math.nan


def mean_std(values: Iterable[float] | np.ndarray) -> tuple[float, float]:
    """(mean, :func:`sample_std`); the mean is NaN for no values."""
    a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float).ravel()
    return (float(np.mean(a)) if a.size else math.nan), sample_std(a)
