"""Entanglement of a forget set with its retain set in θ_o's embedding space (Zhao et al., NeurIPS 2024, *What makes
unlearning hard and what to do about it*, §3 "Entanglement Score").

Definition (the paper's ES, as its public code ``surgical_plugins/overlap.py: calculate_FC`` computes it)
    With φ(x) = θ_o's penultimate features (``model.features``, the input of the linear head), μ_r and μ_f the mean
    embeddings of the retain set D_r and the forget set D_f, and μ = (μ_r + μ_f)/2 the mean of the two group means:

        ES(D_r, D_f) = [ (1/|D_r|) Σ_{i∈D_r} ||φ(x_i) − μ_r||²  +  (1/|D_f|) Σ_{j∈D_f} ||φ(x_j) − μ_f||² ]
                       / [ ½ ( ||μ_r − μ||² + ||μ_f − μ||² ) ]

    i.e. within-group over between-group variance with retain and forget as the two groups. High ES = the forget
    set sits inside the retain set's embedding cloud = *entangled*; the paper finds unlearning gets harder as ES
    grows, for every method (its Table 1 / Fig. 1 left). Since μ is the midpoint, the denominator equals
    ||μ_r − μ_f||² / 4. (The paper's text writes μ as "the mean of the embeddings"; the code, followed here, takes the
    midpoint of the two group means, which keeps ES independent of the ratio |D_f| / |D_r|.)

Caching
    One run of kind ``view_entanglement`` per (θ_o, forget set), keyed by the content hash of θ_o's weights and of
    the forget set's indices, so a value is never stale and a set reached by two names is computed once. The
    computation is one forward pass over the training set.

Read functions for the dashboard: :func:`entanglement` (one set), :func:`entanglement_frame` (every stored forget
set of a setup: the Forget sets page), :func:`entanglement_for_results` (adds ES to a results / Table-3 frame: the
Compare page), :func:`random_reference` (ES of random sets of the same size: the "Why is it hard?" panel).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..context import NULL_CONTEXT, RunContext
from ..errors import ConfigError
from ..selectors import ForgetSet
from ..stats import mean_std
from ..store import Computed, run_digest
from ._inputs import index_digest, penultimate_features

KIND = "view_entanglement"


def entanglement_score(features: np.ndarray, forget_mask: np.ndarray) -> dict[str, float]:
    """ES and its parts from (N, d) embeddings and a boolean forget mask (module docstring)."""
    z = np.asarray(features, dtype=np.float64)
    f = np.asarray(forget_mask, dtype=bool).reshape(-1)
    if z.ndim != 2 or z.shape[0] != f.shape[0]:
        raise ConfigError(f"features {z.shape} and mask {f.shape} do not match.")
    n_f, n_r = int(f.sum()), int((~f).sum())
    if n_f == 0 or n_r == 0:
        raise ConfigError("The entanglement score needs a non-empty forget set and a non-empty retain set.")
    zf, zr = z[f], z[~f]
    mu_f, mu_r = zf.mean(0), zr.mean(0)
    mu = (mu_f + mu_r) / 2
    intra_f = float(((zf - mu_f) ** 2).sum(1).mean())
    intra_r = float(((zr - mu_r) ** 2).sum(1).mean())
    inter = float((((mu_r - mu) ** 2).sum() + ((mu_f - mu) ** 2).sum()) / 2)
    es = (intra_r + intra_f) / inter if inter > 0 else float("inf")
    return {"es": float(es), "intra_retain": intra_r, "intra_forget": intra_f, "inter": inter,
            "centroid_distance": float(np.sqrt(((mu_r - mu_f) ** 2).sum())), "n_forget": n_f, "n_retain": n_r,
            "feature_dim": int(z.shape[1])}


# ---------------------------------------------------------------------------------------------- one set
def _resolve_set(pipe, forget: Any, seed: int | None) -> tuple[np.ndarray, int, str]:
    """(indices, seed, name) of a ForgetSet, a stored forget-set key, a (selector, ratio, seed) tuple or indices."""
    from ..results import forget_idx_of, forget_set_name

    if isinstance(forget, ForgetSet):
        return np.asarray(forget.forget_idx, dtype=np.int64), int(forget.seed if seed is None else seed), \
            forget_set_name(forget.selector, forget.ratio, forget.seed)
    if isinstance(forget, str):
        run = pipe.store.done_run(forget)
        idx = forget_idx_of(pipe.store, forget)
        if run is None or idx is None:
            raise ConfigError(f"No stored forget set with key {forget[:12]}.")
        c = run["config"]
        return idx, int(c["seed"] if seed is None else seed), forget_set_name(c["selector"], c.get("ratio"), c["seed"])
    if isinstance(forget, tuple) and len(forget) == 3 and isinstance(forget[0], str):
        sel, ratio, s = forget
        run = pipe.find_forget_set(sel, ratio, int(s))
        if run is None:
            raise LookupError(f"forget set {forget} is not stored")
        return _resolve_set(pipe, run["key"], seed)
    idx = np.asarray(forget, dtype=np.int64).reshape(-1)
    if seed is None:
        raise ConfigError("Give the seed of the original model to embed a plain index set with.")
    return idx, int(seed), f"{len(idx)} samples"


_FEATURES: dict[tuple, np.ndarray] = {}  # (store root, θ_o digest) -> features; a few MB, one per θ_o in use


def original_features(pipe, seed: int, ctx: RunContext = NULL_CONTEXT) -> tuple[np.ndarray, str]:
    """θ_o's penultimate features of every training sample (memoised per θ_o in this process) and θ_o's digest."""
    digest = pipe.original_digest(seed, ctx)
    key = (str(pipe.store.root), digest)
    if key not in _FEATURES:
        if len(_FEATURES) > 4:
            _FEATURES.clear()
        feats, _ = penultimate_features(pipe.original(seed, ctx), pipe.ds, "train")
        _FEATURES[key] = feats
    return _FEATURES[key], digest


def entanglement_config(pipe, original_digest: str, idx: np.ndarray, seed: int) -> dict:
    return {"kind": KIND, **pipe.base_config, "original": original_digest, "forget": index_digest(np.sort(idx)),
            "n_forget": int(len(idx)), "seed": int(seed), "definition": "zhao2024_es"}


def entanglement(pipe, forget: Any, seed: int | None = None, ctx: RunContext = NULL_CONTEXT,
                 compute_if_missing: bool = True) -> dict[str, Any] | None:
    """ES of a forget set against its retain set, in θ_o's (of the set's seed) embedding space; cached.

    ``forget``: a ForgetSet, a stored forget-set key, a (selector, ratio, seed) tuple of a stored set, or indices
    (then ``seed`` names θ_o). Returns {es, intra_retain, intra_forget, inter, centroid_distance, n_forget,
    n_retain, feature_dim, name, seed, key, cache_hit}; with ``compute_if_missing=False`` None unless stored (θ_o
    is never trained then).
    """
    try:
        idx, s, name = _resolve_set(pipe, forget, seed)
    except LookupError:
        if compute_if_missing:
            raise ConfigError(f"Forget set {forget} is not stored; build it first.") from None
        return None
    n = pipe.ds.n_train
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
        raise ConfigError(f"Forget set '{name}' holds indices outside 0..{n - 1} or is empty.")
    if not compute_if_missing:
        orun = pipe.find_original(s)
        if orun is None:
            return None
        found = pipe.store.lookup(KIND, entanglement_config(pipe, run_digest(orun), idx, s),
                                  "json")
        if found is None:
            return None
        return {**found[0], "name": name, "seed": s, "key": found[2]["key"], "cache_hit": True}
    digest = pipe.original_digest(s, ctx)
    cfg = entanglement_config(pipe, digest, idx, s)

    def compute() -> Computed:
        feats, _ = original_features(pipe, s, ctx)
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
        out = entanglement_score(feats, mask)
        return Computed(out, {"es": out["es"]})

    got = pipe.store.cached(KIND, cfg, compute, fmt="json", on_log=ctx.log)
    return {**got.value, "name": name, "seed": s, "key": got.key, "cache_hit": got.hit}


# ---------------------------------------------------------------------------------------------- many sets
def entanglement_frame(pipe, seed: int | None = None, compute_if_missing: bool = False,
                       ctx: RunContext = NULL_CONTEXT) -> pd.DataFrame:
    """ES of every stored forget set of this setup (``results.forget_sets``), one row each: name, selector, ratio,
    seed, size, key (the forget set's), es, intra_retain, intra_forget, inter, centroid_distance, computed.

    The Forget sets page shows ``es`` next to each set. With ``compute_if_missing=False`` (a page) nothing is
    computed: sets without a stored ES get NaN and ``computed = False`` (offer the ``view_entanglement`` job).
    """
    from ..results import forget_sets

    fs = forget_sets(pipe)
    if seed is not None and not fs.empty:
        fs = fs[fs["seed"] == int(seed)]
    rows = []
    for r in fs.itertuples(index=False):
        e = entanglement(pipe, r.key, ctx=ctx, compute_if_missing=compute_if_missing)
        row = {"name": r.name, "selector": r.selector, "ratio": r.ratio, "seed": r.seed, "size": r.size,
               "key": r.key, "computed": e is not None}
        for k in ("es", "intra_retain", "intra_forget", "inter", "centroid_distance"):
            row[k] = e[k] if e is not None else np.nan
        rows.append(row)
    cols = ["name", "selector", "ratio", "seed", "size", "key", "es", "intra_retain", "intra_forget", "inter",
            "centroid_distance", "computed"]
    return pd.DataFrame(rows, columns=cols)


def entanglement_for_results(pipe, df: pd.DataFrame, compute_if_missing: bool = False) -> pd.DataFrame:
    """``df`` (per-run rows with selector, ratio, seed — e.g. ``results.results_frame``) with an ``ES`` column: the
    entanglement of the run's forget set (NaN where not stored). For a Table-3 frame (``seeds`` column "0,1,2"),
    ``ES`` is the mean over those seeds' sets and ``ES_std`` their sample std (ddof = 1)."""
    out = df.copy()
    if out.empty:
        out["ES"] = []
        return out

    def es_of(sel, ratio, s) -> float:
        r = None if ratio is None or ratio != ratio else float(ratio)
        try:
            e = entanglement(pipe, (sel, r, int(s)), compute_if_missing=compute_if_missing)
        except ConfigError:
            return np.nan
        return e["es"] if e is not None else np.nan

    if "seed" in out:
        out["ES"] = [es_of(a, b, c) for a, b, c in zip(out["selector"], out["ratio"], out["seed"])]
        return out
    means, stds = [], []
    for sel, ratio, seeds in zip(out["selector"], out["ratio"], out["seeds"]):
        vals = [es_of(sel, ratio, int(s)) for s in str(seeds).split(",") if s != ""]
        vals = [v for v in vals if v == v]
        mean, std = mean_std(vals)
        means.append(mean)
        stds.append(std)
    out["ES"], out["ES_std"] = means, stds
    return out


def random_reference(pipe, size: int, seed: int, n_sets: int = 5, ctx: RunContext = NULL_CONTEXT,
                     compute_if_missing: bool = True) -> pd.DataFrame | None:
    """ES of ``n_sets`` uniformly random index sets of ``size`` samples (θ_o of ``seed``): the reference a set's ES
    is judged against ("is this set more or less entangled than a random set of its size?"). Columns: draw, es.
    Each draw is an ordinary cached ES (its indices are a deterministic function of size, seed and draw)."""
    n = pipe.ds.n_train
    if not 1 <= size < n:
        raise ConfigError(f"A reference set needs between 1 and {n - 1} samples, got {size}.")
    rows = []
    for k in range(int(n_sets)):
        idx = np.sort(np.random.default_rng([int(seed), int(size), k, 0x45]).choice(n, size=int(size), replace=False))
        e = entanglement(pipe, idx, seed=seed, ctx=ctx, compute_if_missing=compute_if_missing)
        if e is None:
            return None
        rows.append({"draw": k, "es": e["es"]})
    return pd.DataFrame(rows)
