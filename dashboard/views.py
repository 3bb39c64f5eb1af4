"""Streamlit glue of the analysis-view pages (issue 6): cached readers of finished view results.

Nothing here trains or builds anything: the coreset / composition / UMAP views run as jobs
(``unlearn_core.views.jobs``); these helpers only read what the store already holds. PCA of a *stored* model is
the one exception the issue asks for ("shown instantly"): one forward pass plus a 2-D PCA, well under a second
on digits, cached in the store by the view itself.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from unlearn_core import results as res
from unlearn_core.analysis import ModelRef, embedding, inspect_sample
from unlearn_core.store import run_digest

from . import common, style

SPURIOUS_DATASETS = ("biased_digits", "celeba")
BIASED_DIGITS_NOTE = (
    "**biased_digits** is built by this project from scikit-learn's real 8×8 digits: the label is "
    "*digit ≥ 5* (low 0-4 vs high 5-9), and each image is inked red or green; for a `bias` fraction of the "
    "training images (90% by default) the ink colour agrees with the label (high → red, low → green), for the "
    "rest it is the other colour. The ink colour is the spurious attribute `red_ink`. It is an offline stand-in "
    "for CelebA (Blond × Male), which is used instead when its files are present.")


def active_results(pipe) -> pd.DataFrame:
    """Finished unlearning runs of the active setup (data set + model + recipe)."""
    df = common.results()
    if df.empty:
        return df
    return res.results_for_setup(df, pipe.setup_key)


def model_refs(pipe, runs: pd.DataFrame) -> dict[str, tuple]:
    """{label: (method, selector, ratio, seed[, params])} of runs whose unlearned model is in the store."""
    out: dict[str, tuple] = {}
    for r in runs.itertuples():
        ratio = None if r.ratio != r.ratio else float(r.ratio)
        ref = ModelRef(r.method, r.selector, ratio, int(r.seed))
        params = json.loads(r.params) if isinstance(r.params, str) and r.params else {}
        try:
            if params and ref.key(pipe) != r.key:
                ref = ModelRef(r.method_name if hasattr(r, "method_name") else r.method, r.selector, ratio,
                               int(r.seed), params)
            if not ref.is_available(pipe):
                continue
        except Exception:  # noqa: BLE001 - an unreadable run is left out of the menu, never breaks the page
            continue
        t = (ref.method, ref.selector, ref.ratio, ref.seed) + ((ref.params,) if ref.params else ())
        out[model_label(ref)] = t
    return out


def model_label(ref) -> str:
    """'FT on worst-case 10% · seed 0' (θ_o: 'original θ_o · seed 0')."""
    if ref.is_original:
        return f"original θ_o · seed {ref.seed}"
    where = style.selector_label(ref.selector) + ("" if ref.ratio is None else f" {style.ratio_label(ref.ratio)}")
    return (f"{style.method_label(ref.method)} on {where} · seed {ref.seed}"
            + (" (custom hyperparameters)" if ref.params else ""))


@st.cache_data(show_spinner=False, max_entries=32)
def _embedding(root: str, setup_js: str, model: tuple | str, reducer: str, seed: int, max_points: int | None,
               ver: tuple) -> pd.DataFrame | None:
    pipe = common._pipeline(root, setup_js)
    m = model if model == "original" else tuple(model)
    # PCA of a stored model is cheap (well under a second on digits): computed here and stored. UMAP is only
    # read from the store (a view_embedding job computes it).
    return embedding(pipe, m, reducer, "train", seed, None, max_points, compute_if_missing=reducer == "pca")


def embedding_frame(model, reducer: str, max_points: int | None = 10000):
    """Coordinates of ``model`` (``"original"`` or a tuple) from the store, or None when a job must compute them."""
    pipe, _ = common.pipeline()
    if pipe is None:
        return None
    ref = ModelRef(seed=common.seed()) if model == "original" else ModelRef(*model[:3], int(model[3]),
                                                                            model[4] if len(model) > 4 else None)
    if not ref.is_available(pipe):
        return None
    m = "original" if model == "original" else tuple(model)
    return _embedding(common.cache_root(), common.setup_json(), m, reducer, common.seed(), max_points,
                      common.version())


@st.cache_data(show_spinner=False, max_entries=64)
def _sample_report(root: str, setup_js: str, index: int, seed: int, sets: tuple, models: tuple, ver: tuple):
    pipe = common._pipeline(root, setup_js)
    fs = {name: common._forget_idx(root, key) for name, key in sets}
    fs = {k: v for k, v in fs.items() if v is not None}
    return inspect_sample(pipe, index, seed, forget_sets=fs, models=list(models), include_retrain=False)


def sample_report(index: int, models: dict[str, tuple]):
    """The inspector's report of one training sample (scores, built forget sets, stored models' predictions)."""
    cat = common.catalog()
    sets = tuple(zip(cat["name"], cat["key"])) if not cat.empty else ()
    return _sample_report(common.cache_root(), common.setup_json(), int(index), common.seed(), sets,
                          tuple(models.values()), common.version())


def membership(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with an ``index`` column) plus an ``in:<set>`` bool column per catalogued forget set."""
    cat = common.catalog()
    out = frame.copy()
    out.attrs.update(frame.attrs)
    for name, key in zip(cat["name"], cat["key"]) if not cat.empty else []:
        idx = common.forget_idx(key)
        if idx is not None:
            out[f"in:{name}"] = np.isin(out["index"].to_numpy(), idx)
    return out


def with_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` joined with the per-sample score columns of the active setup (by sample index)."""
    s = common.samples()
    cols = [e["column"] for e in common.score_entries() if e["per_sample"] and e["column"] in s]
    cols = [c for c in cols if c not in frame]
    if not cols:
        return frame
    out = frame.merge(s[["index"] + cols], on="index", how="left")
    out.attrs.update(frame.attrs)  # reducer, model, PCA explained variance: a merge drops them
    return out


def inspector_link(index: int) -> str:
    return f"inspector?sample={int(index)}"


# ---------------------------------------------------------------------------------------------- inspector: why
MAX_FEATURE_SAMPLES = 20_000  # above this, neighbours come from a stored 2-D embedding instead of the features


@st.cache_resource(show_spinner=False, max_entries=4)
def _features(root: str, setup_js: str, seed: int, digest: str):
    """θ_o's penultimate features of every training sample (one batched forward pass of the stored model)."""
    from unlearn_core.analysis._common import penultimate_features

    pipe = common._pipeline(root, setup_js)
    model = ModelRef(seed=seed).load(pipe, train_if_missing=False)
    if model is None:
        return None
    feats, _ = penultimate_features(model, pipe.ds, "train")
    return feats.astype(np.float32)


def neighbours(pipe, index: int, k: int = 8) -> tuple[pd.DataFrame | None, str]:
    """The ``k`` training samples nearest to ``index`` in θ_o's penultimate feature space (Euclidean), with
    their label, θ_o's prediction and every computed score; (None, why) when they cannot be had without a job."""
    seed = common.seed()
    run = pipe.find_original(seed)
    if run is None:
        return None, "θ_o is not trained."
    space = "θ_o's penultimate features"
    if pipe.ds.n_train <= MAX_FEATURE_SAMPLES:
        feats = _features(common.cache_root(), common.setup_json(), seed, run_digest(run))
        if feats is None:
            return None, "θ_o's weights are not in the store."
        pos = np.arange(len(feats))
    else:  # large data: neighbours in a stored 2-D map (no forward pass over the whole set on the page)
        emb = None
        for red in ("umap", "pca"):
            emb = embedding_frame("original", red, None)
            if emb is not None:
                break
        if emb is None or int(index) not in set(emb["index"]):
            return None, ("This data set is large: compute θ_o's embedding (PCA or UMAP, a job) on the Embeddings "
                          "page, then its neighbours are shown here.")
        feats, pos = emb[["x", "y"]].to_numpy(np.float32), emb["index"].to_numpy()
        space = f"θ_o's stored {str(emb.attrs.get('reducer', '')).upper()} map"
    row = int(np.flatnonzero(pos == int(index))[0])
    d = np.linalg.norm(feats - feats[row], axis=1)
    d[row] = np.inf
    near = np.argsort(d, kind="stable")[:k]
    s = common.samples()
    out = s.set_index("index").loc[pos[near]].reset_index()
    out.insert(1, "distance", d[near])
    out.attrs["space"] = space
    return out, space


def runs_on_sets(pipe, index: int) -> pd.DataFrame:
    """Every built forget set of the active setup: whether it holds sample ``index`` and the unlearning runs (methods
    and their count) stored for it."""
    cat = common.catalog()
    if cat.empty:
        return pd.DataFrame(columns=["forget set", "holds this sample", "size", "runs on it", "methods"])
    runs = active_results(pipe)
    rows = []
    for r in cat.itertuples():
        idx = common.forget_idx(r.key)
        holds = bool(idx is not None and np.isin(int(index), idx))
        if not runs.empty:
            same_ratio = (runs["ratio"].isna() if r.ratio is None or r.ratio != r.ratio
                          else np.isclose(runs["ratio"].astype(float).fillna(-1), float(r.ratio)))
            m = runs[(runs["selector"] == r.selector) & (runs["seed"] == r.seed) & same_ratio]
        else:
            m = runs
        meths = list(dict.fromkeys(m["method"])) if len(m) else []
        rows.append({"forget set": r.name, "holds this sample": "yes" if holds else "no", "size": r.size,
                     "runs on it": int(len(m)),
                     "methods": ", ".join(style.method_label(x) for x in meths) or "—",
                     "key_selector": r.selector, "key_ratio": r.ratio, "key_seed": int(r.seed), "key_holds": holds})
    return pd.DataFrame(rows)
