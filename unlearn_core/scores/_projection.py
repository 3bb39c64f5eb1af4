"""Euclidean projection onto the capped simplex S = {w ∈ [0,1]^N : Σw = m} (the BLO upper level's Proj_S)."""
from __future__ import annotations

import torch

from ..errors import ConfigError


def project_capped_simplex(a: torch.Tensor, m: float, iters: int = 60) -> torch.Tensor:
    """argmin_{w ∈ S} ||w − a||², returned as float32 on ``a``'s device.

    The KKT conditions give w = clip(a − μ, 0, 1) for one scalar μ. Σ clip(a − μ, 0, 1) is continuous and
    non-increasing in μ, equal to N at μ = min(a) − 1 and to 0 at μ = max(a), so μ is found by bisection; it is
    then solved exactly on the coordinates left strictly inside (0, 1), where the sum is linear in μ.
    Constant shifts of ``a`` only move μ, so the projection ignores them.
    """
    n = a.numel()
    if not 0 <= m <= n:
        raise ConfigError(f"Projection needs 0 <= m <= N, got m={m}, N={n}.")
    a = a.double()
    lo, hi = a.min() - 1.0, a.max()
    for _ in range(iters):
        mid = (lo + hi) / 2
        s = (a - mid).clamp(0, 1).sum()
        lo, hi = torch.where(s > m, mid, lo), torch.where(s > m, hi, mid)
    mu = (lo + hi) / 2
    w = (a - mu).clamp(0, 1)
    free = (w > 0) & (w < 1)
    n_free = free.sum()
    if n_free > 0:  # exact refinement with the active set fixed
        ones = (w >= 1).sum()
        mu_exact = (a[free].sum() + ones - m) / n_free
        w2 = (a - mu_exact).clamp(0, 1)
        if torch.abs(w2.sum() - m) <= torch.abs(w.sum() - m):
            w = w2
    return w.float()
