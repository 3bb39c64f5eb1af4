"""2-D maps of a model's penultimate-layer features (PCA or UMAP), coloured by label, score or forget set.

The features are ``model.features(x)`` (the input of the linear head) of θ_o or of a finished unlearning run,
computed batched on the data's device. PCA (scikit-learn) takes well under a second; UMAP (umap-learn) takes
seconds to minutes, so both are cached in the store (kind ``view_embedding``), keyed by the model's own cache
key (which encodes data, model, recipe, seed, and for an unlearned model the method, its parameters and the
forget set), the split, the reducer and its parameters and the sub-sample. A repeated call is served from the
cache without loading the model; the returned frame's ``attrs["cache_hit"]`` says which happened.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..context import NULL_CONTEXT, RunContext
from ..errors import ConfigError
from ..selectors import ForgetSet
from ..store import Computed, run_digest
from ._inputs import (ModelRef, as_model_ref, check_train_scores, named_index_sets,
                      penultimate_features)


KIND = "view_embedding"
REDUCERS = ("pca", "umap")
UMAP_DEFAULTS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean"}


def reduce_pca(features: np.ndarray, seed: int, params: dict) -> tuple[np.ndarray, dict]:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed)
    coords = pca.fit_transform(features.astype(np.float64))
    return coords, {"explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_]}


def reduce_umap(features: np.ndarray, seed: int, params: dict) -> tuple[np.ndarray, dict]:
    import umap

    n = len(features)
    p = {**params, "n_neighbors": int(min(params["n_neighbors"], max(n - 1, 2)))}
    reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1, **p)
    return reducer.fit_transform(features), {}


# name -> fn(features, seed, params) -> (coords (n, 2), info). Tests may swap these.
REDUCER_FNS = {"pca": reduce_pca, "umap": reduce_umap}


def _resolve_params(reducer: str, params: dict | None) -> dict:
    if reducer not in REDUCERS:
        raise ConfigError(f"Unknown projection '{reducer}'. Choose one of: {', '.join(REDUCERS)}.")
    if reducer == "pca":
        if params:
            raise ConfigError("PCA takes no parameters.")
        return {}
    p = dict(UMAP_DEFAULTS)
    for k, v in (params or {}).items():
        if k not in p:
            raise ConfigError(f"UMAP has no parameter '{k}' here. Known: {', '.join(sorted(p))}.")
        p[k] = v
    if int(p["n_neighbors"]) < 2:
        raise ConfigError("UMAP needs n_neighbors >= 2.")
    if not 0 <= float(p["min_dist"]) <= 1:
        raise ConfigError("UMAP min_dist must be in [0, 1].")
    return p


def embedding(pipe, model: "ModelRef | str | tuple | None" = None, reducer: str = "pca", split: str = "train",
              seed: int = 0, params: dict | None = None, max_points: int | None = 10000,
              scores: Mapping[str, Any] | None = None,
              forget_sets: "Mapping[str, Any] | Sequence[ForgetSet] | None" = None,
              ctx: RunContext = NULL_CONTEXT, compute_if_missing: bool = True) -> pd.DataFrame | None:
    """2-D projection of the penultimate features of ``model`` on ``split`` (cached; see module doc).

    ``model``: "original" (θ_o of ``seed``; trained if missing), a :class:`ModelRef`, or a tuple
    (method, selector, ratio[, seed[, params]]) naming a finished unlearning run. ``max_points`` caps the
    number of samples (a seeded random subset; None = all). ``scores`` ({name: per-training-sample values or a
    ScoreResult}) and ``forget_sets`` ({name: ForgetSet or indices} or [ForgetSet]) add columns for the
    training split: one float column per score, one bool column ``in:<name>`` per forget set.

    Returns columns index, x, y, label, label_name, prediction, prediction_name, confidence, correct,
    attribute columns (``ds.attributes``, train split), then the score and membership columns.
    ``attrs``: cache_hit, key, reducer, model, info (e.g. PCA explained variance), compute_s.
    With ``compute_if_missing=False`` nothing is computed: None unless the projection is stored.
    """
    ds = pipe.ds
    ref = as_model_ref(model, seed)
    p = _resolve_params(reducer, params)
    if split not in ("train", "test"):
        raise ConfigError(f"Unknown split '{split}'; use train or test.")
    n_split = ds.n_train if split == "train" else int(ds.x_test.shape[0])
    if max_points is not None and int(max_points) < 3:
        raise ConfigError("max_points must be at least 3 (or None for all samples).")
    if split != "train" and (scores or forget_sets):
        raise ConfigError("Scores and forget sets refer to training samples; use split='train' to show them.")
    cap = None if max_points is None or int(max_points) >= n_split else int(max_points)
    subset = (np.arange(n_split) if cap is None
              else np.sort(np.random.default_rng(ref.seed + 31337).choice(n_split, size=cap, replace=False)))
    run = ref.run(pipe)
    if run is None and not (ref.is_original and compute_if_missing):
        if not compute_if_missing:
            return None
        raise ConfigError(f"No stored model for {ref.label}: run that unlearning job first.")
    # θ_o is keyed by its weights' hash (trained first if missing); an unlearned model by its run's key.
    model_key = (pipe.original_digest(ref.seed, ctx.sub(0, 0.5)) if ref.is_original and run is None
                 else run_digest(run) if ref.is_original else run["key"])
    config = {"kind": KIND, **pipe.base_config, "model_key": model_key, "model": ref.label, "split": split,
              "reducer": reducer, "params": p, "seed": int(ref.seed), "max_points": cap}

    def compute():
        ctx.progress(0.0, f"loading {ref.label}")
        net = ref.load(pipe, ctx.sub(0.0, 0.5))
        if net is None:
            raise ConfigError(f"No stored model for {ref.label}: run that unlearning job first "
                              f"(it must keep its model).")
        ctx.progress(0.5, "penultimate features")
        feats, logits = penultimate_features(net, ds, split, subset)
        ctx.progress(0.6, f"{reducer.upper()} of {len(subset)} × {feats.shape[1]} features")
        t0 = time.time()
        coords, info = REDUCER_FNS[reducer](feats, int(ref.seed), p)
        reduce_s = time.time() - t0
        coords = np.asarray(coords, dtype=np.float32)
        if coords.shape != (len(subset), 2) or not np.isfinite(coords).all():
            raise ConfigError(f"{reducer.upper()} returned unusable coordinates (shape {coords.shape}).")
        z = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        pred = prob.argmax(1)
        ctx.progress(1.0, "embedding done")
        arrays = {"index": subset.astype(np.int64), "coords": coords, "prediction": pred.astype(np.int64),
                  "confidence": prob.max(1).astype(np.float32)}
        return Computed(arrays, {"n_points": len(subset), "reduce_s": reduce_s}, {},
                        {"info": info, "reduce_s": reduce_s, "feature_dim": int(feats.shape[1])})

    t0 = time.time()
    if not compute_if_missing:
        found = pipe.store.lookup(KIND, config, "arrays")
        if found is None:
            return None
        arrays, meta, hit, key = found[0], found[1], True, found[2]["key"]
    else:
        got = pipe.store.cached(KIND, config, compute, fmt="arrays", on_log=ctx.log)
        arrays, meta, hit, key = got.value, got.meta, got.hit, got.key
    idx = arrays["index"].astype(np.int64)
    y = (ds.y_train if split == "train" else ds.y_test).cpu().numpy()[idx]
    pred = arrays["prediction"].astype(np.int64)
    df = pd.DataFrame({"index": idx, "x": arrays["coords"][:, 0], "y": arrays["coords"][:, 1], "label": y,
                       "label_name": [ds.classes[c] for c in y], "prediction": pred,
                       "prediction_name": [ds.classes[c] for c in pred], "confidence": arrays["confidence"],
                       "correct": pred == y})
    if split == "train":
        for name, values in ds.attributes.items():
            df[name] = np.asarray(values)[idx]
        for name, values in check_train_scores(scores, ds.n_train).items():
            df[name] = values[idx]
        for name, members in named_index_sets(forget_sets, ds.n_train).items():
            df[f"in:{name}"] = np.isin(idx, members)
    df.attrs.update({"cache_hit": hit, "key": key, "reducer": reducer, "model": ref.label, "split": split,
                     "info": meta.get("info", {}), "reduce_s": meta.get("reduce_s"),
                     "feature_dim": meta.get("feature_dim"), "compute_s": time.time() - t0})
    return df
