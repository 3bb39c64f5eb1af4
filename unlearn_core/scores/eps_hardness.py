"""Hardest to forget by ε under a method: each sample's per-example ε (Triantafillou et al., "Are we making
progress in unlearning?", 2024) when it is forgotten by METHOD, from model banks.

A sample's ε is only defined while it is in a forget set, so the training set is split into ``folds`` disjoint random
forget sets (seeded; 10 folds = 10% sets, the papers' usual ratio). For each fold: N models retrained without it
(Retrain's recipe, seeds 1000..) and N runs of METHOD from θ_o (method seeds 0..N−1), stored as bank members
(``unlearn_core/banks.py``, reused by every later request); every sample of the fold gets the ε of its two banks
(``forget_quality.epsilons``, the chosen estimator). High ε = the unlearned models stay distinguishable from retrained
ones on this sample = hard to forget (``hard_end="high"``), so ``top:eps_hardness`` selects the samples METHOD
fails on. Cost: folds × N × (one retraining + one METHOD run); an expensive score (a background job).
"""
from __future__ import annotations

import numpy as np

from ..banks import BankContext, ensure_members
from ..errors import ConfigError
from ..forget_quality import ESTIMATORS, epsilons, forget_quality, klom
from ..methods import get_method, method_names
from .base import ScoreInput, ScoreResult, register_score

EPS_DEFAULTS = {"method": "ft", "n_models": 16, "folds": 10, "estimator": "gauss"}


def fold_of(n: int, folds: int, seed: int) -> np.ndarray:
    """(n,) fold index of every sample: a seeded random partition into ``folds`` near-equal parts."""
    rng = np.random.default_rng([int(seed), 0x45505346])
    out = np.empty(n, dtype=np.int64)
    out[rng.permutation(n)] = np.arange(n) % folds
    return out


def eps_cost(params: dict, n: int, recipe, m: int | None) -> float:
    """Sample passes: per fold, N retrainings on the rest and N method runs (bounded by a retraining each)."""
    folds, k = int(params["folds"]), int(params["n_models"])
    n_f = n // folds
    return folds * k * (recipe.epochs * (n - n_f) + 0.1 * recipe.epochs * n + 2 * n / 3)


@register_score("eps_hardness", label="hardest to forget by ε under METHOD", hard_end="high", defaults=EPS_DEFAULTS,
                expensive=True, cost=eps_cost,
                param_rules={"n_models": {"min": 4, "max": 512}, "folds": {"min": 2, "max": 100},
                             "estimator": {"choices": list(ESTIMATORS)}},
                description="Per-sample ε (Triantafillou et al. 2024) between N models unlearned by METHOD from θ_o "
                            "and N retrained models, each sample measured while its random fold (1/folds of the data) "
                            "is forgotten. High = still distinguishable after unlearning = hard to forget. Trains "
                            "folds × N retrained models and runs METHOD folds × N times (stored, resumable).")
def eps_hardness_score(inp: ScoreInput) -> ScoreResult:
    p = inp.params
    method = str(p["method"])
    if method not in method_names() or get_method(method).exact:
        choices = [m for m in method_names() if not get_method(m).exact]
        raise ConfigError(f"eps_hardness: method must be an approximate unlearning method ({', '.join(choices)}), "
                          f"got '{method}'.")
    ds = inp.ds
    n_models, folds = int(p["n_models"]), int(p["folds"])
    bc = BankContext(ds, inp.model_name, inp.train_cfg, inp.store,
                     {"dataset": ds.name, "data_fingerprint": ds.fingerprint(), "model": inp.model_name,
                      "train": inp.train_cfg.to_dict()})
    fold = fold_of(ds.n_train, folds, inp.seed)
    eps = np.zeros(ds.n_train)
    kl = np.zeros(ds.n_train)
    per_fold = []
    members = list(range(n_models))
    for k in range(folds):
        sub = inp.ctx.sub(k / folds, (k + 1) / folds)
        idx = np.flatnonzero(fold == k)
        ref, _ = ensure_members(bc, "retrain", members, idx, ctx=sub.sub(0, 0.6))
        got, _ = ensure_members(bc, "unlearn", members, idx, method, None, inp.original, ctx=sub.sub(0.6, 1.0))
        u = np.stack([o["train"][idx] for o in got])
        r = np.stack([o["train"][idx] for o in ref])
        e = epsilons(u, r, p["estimator"])
        eps[idx], kl[idx] = e, klom(u, r)
        per_fold.append(forget_quality(e, n_models)[0])
        inp.ctx.progress((k + 1) / folds, f"ε under {method}: {k + 1}/{folds} folds")
    extras = {"method": method, "n_models": n_models, "folds": folds, "estimator": p["estimator"],
              "forget_quality_per_fold": per_fold, "forget_quality_mean": float(np.mean(per_fold))}
    return ScoreResult(eps, extras=extras, arrays={"klom": kl.astype(np.float32), "fold": fold})
