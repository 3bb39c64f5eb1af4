"""Relations between per-sample scores: Spearman correlation tables and binned relations (Chen et al., Forgetting Sequence Fig. 5:
loss in 10 intervals vs mean LiRA ASR; science.md finding 5, "loss correlates positively with LiRA ASR")."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..errors import ConfigError
from ..stats import sample_std


def _as_1d(name: str, v) -> np.ndarray:
    a = v.detach().float().cpu().numpy() if hasattr(v, "detach") else np.asarray(v, dtype=float)
    a = np.asarray(a, dtype=float).reshape(-1)
    return a


def score_correlation(scores: Mapping[str, np.ndarray], with_pvalues: bool = False
                      ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Spearman rank correlation between every pair of per-sample scores (same sample order, same length).

    Pairs are computed on the samples where both scores are finite. Returns a symmetric DataFrame with ones on
    the diagonal (NaN where a score is constant); with ``with_pvalues`` also the two-sided p-values.
    """
    names = list(scores)
    if not names:
        raise ConfigError("score_correlation needs at least one score.")
    arrs = {k: _as_1d(k, v) for k, v in scores.items()}
    lengths = {len(a) for a in arrs.values()}
    if len(lengths) != 1:
        raise ConfigError(f"All scores must have one value per sample; got lengths "
                          f"{ {k: len(a) for k, a in arrs.items()} }.")
    rho = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    pval = pd.DataFrame(np.zeros((len(names), len(names))), index=names, columns=names)
    for i, a in enumerate(names):
        if np.nanstd(arrs[a]) == 0:
            rho.loc[a, a] = np.nan
        for b in names[i + 1:]:
            x, y = arrs[a], arrs[b]
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
                r, p = np.nan, np.nan  # undefined for constant or tiny inputs
            else:
                res = spearmanr(x[ok], y[ok])
                r, p = float(res.statistic), float(res.pvalue)
            rho.loc[a, b] = rho.loc[b, a] = r
            pval.loc[a, b] = pval.loc[b, a] = p
    return (rho, pval) if with_pvalues else rho


def binned_relation(x_scores, y_scores, bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Mean and spread of ``y`` within bins of ``x`` (Chen et al., Forgetting Sequence Fig. 5: loss intervals vs ASR).

    ``strategy="quantile"`` makes equal-count bins (losses of a fitted model are very skewed: most samples sit
    near zero, so equal-width bins would leave most bins almost empty); ``"uniform"`` makes equal-width bins over
    [min x, max x]. Columns: bin, left, right, centre, count, x_mean, y_mean, y_std, y_sem.
    """
    x, y = _as_1d("x", x_scores), _as_1d("y", y_scores)
    if len(x) != len(y):
        raise ConfigError(f"x and y must have one value per sample (got {len(x)} and {len(y)}).")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ConfigError(f"bins must be a positive integer, got {bins}.")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        raise ConfigError("No sample has finite x and y values.")
    if strategy == "quantile":
        edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    elif strategy == "uniform":
        edges = np.linspace(x.min(), x.max(), bins + 1)
    else:
        raise ConfigError(f"Unknown binning strategy '{strategy}' (use quantile or uniform).")
    if len(edges) < 2:  # all x equal
        edges = np.array([x.min(), x.max()])
    # Right-closed last bin so the maximum falls in it.
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        sel = which == b
        n = int(sel.sum())
        yb = y[sel]
        rows.append({"bin": b, "left": float(edges[b]), "right": float(edges[b + 1]),
                     "centre": float((edges[b] + edges[b + 1]) / 2), "count": n,
                     "x_mean": float(x[sel].mean()) if n else np.nan,
                     "y_mean": float(yb.mean()) if n else np.nan,
                     "y_std": sample_std(yb),
                     "y_sem": sample_std(yb) / np.sqrt(n) if n > 1 else np.nan})
    return pd.DataFrame(rows)
