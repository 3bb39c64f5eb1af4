"""The bank metrics (kind ``bank`` of the metric registry): F, score, KLoM P95, U-LiRA over an unlearned and a
retrained model bank. ``compare_banks`` computes its columns by iterating over the registered bank metrics; its
numbers are the kernels' (forget_quality.py), bit for bit, as before the metrics were registered."""
from __future__ import annotations

import math

import numpy as np

from unlearn_core import forget_quality as fq
from unlearn_core.banks import compare_banks

SPLITS = ("forget", "retain", "test")


def _centres(rng: np.random.Generator, sizes=(24, 30, 28)) -> dict[str, np.ndarray]:
    """Per split, each example's mean margin (what the training data makes of it)."""
    return {s: 3 * rng.normal(0, 1, k) for s, k in zip(SPLITS, sizes)}


def _bank(rng: np.random.Generator, n: int, centres: dict[str, np.ndarray], shift: float = 0.0,
          spread: float = 1.0, acc: float = 0.9):
    """A bank of ``n`` models: per split (n, size) margins = centre + ``shift`` (on the forget split only: what
    unlearning failed to remove) + seed noise of sd ``spread``; per split (n,) accuracies around ``acc``."""
    marg = {s: c + (shift if s == "forget" else 0.0) + spread * rng.normal(0, 1, (n, c.size))
            for s, c in centres.items()}
    return marg, {s: np.clip(acc + 0.02 * rng.normal(0, 1, n), 0, 1) for s in SPLITS}


def _old_compare_banks_metrics(u, r, acc_u, acc_r, estimator):
    """The metrics dict as ``forget_quality.compare_banks`` computed it before the bank metrics were registered,
    from the kernels directly (frozen here so that the registry's version can be compared with it bit for bit)."""
    n = min(u["forget"].shape[0], r["forget"].shape[0])
    eps_t = fq.epsilons(u["forget"], r["forget"], "threshold")
    eps = eps_t if estimator == "threshold" else fq.epsilons(u["forget"], r["forget"], estimator)
    f, f_se = fq.forget_quality(eps, n)
    f_t, f_t_se = fq.forget_quality(eps_t, n)
    ratio = (acc_u["retain"].mean() / max(acc_r["retain"].mean(), 1e-12)) * \
        (acc_u["test"].mean() / max(acc_r["test"].mean(), 1e-12))
    out = {"forget_quality": f, "forget_quality_se": f_se, "score": f * ratio, "score_se": f_se * ratio,
           "forget_quality_threshold": f_t, "forget_quality_threshold_se": f_t_se, "score_threshold": f_t * ratio,
           "eps_mean": float(eps.mean()), "eps_threshold_mean": float(eps_t.mean()), "n_models": float(n),
           "fq_estimator": estimator}
    ul = fq.ulira_accuracy(u["forget"], r["forget"])
    out["ulira_forget_acc"] = float(np.mean(ul)) if np.isfinite(ul).all() else float("nan")
    out["ulira_forget_acc_se"] = (float(np.std(ul, ddof=1) / np.sqrt(len(ul))) if len(ul) > 1
                                  and np.isfinite(ul).all() else float("nan"))
    for split in SPLITS:
        p, lo, hi = fq.p95_interval(fq.klom(u[split], r[split]))
        out[f"klom_{split}_p95"], out[f"klom_{split}_p95_lo"], out[f"klom_{split}_p95_hi"] = p, lo, hi
    return out


def _same(a, b) -> bool:
    """Bitwise equality of two values (NaN equals NaN; strings compared as strings)."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return np.float64(a).tobytes() == np.float64(b).tobytes()


def test_compare_banks_gives_the_kernels_numbers_bit_for_bit():
    """The old dict against the new one on synthetic banks: both estimators, a bank large enough for U-LiRA
    (N = 10) and one below it (N = 5, U-LiRA NaN); unlearned and retrained banks of different sizes."""
    rng = np.random.default_rng(19)
    for n_u, n_r, shift in ((10, 10, 0.8), (5, 6, 0.0)):
        c = _centres(rng)
        u, acc_u = _bank(rng, n_u, c, shift=shift, acc=0.85)
        r, acc_r = _bank(rng, n_r, c)
        for est in fq.ESTIMATORS:
            old = _old_compare_banks_metrics(u, r, acc_u, acc_r, est)
            new = compare_banks(u, r, acc_u, acc_r, est).metrics
            assert set(old) <= set(new), sorted(set(old) - set(new))
            diff = {k: (old[k], new[k]) for k in old if not _same(old[k], new[k])}
            assert not diff, diff
