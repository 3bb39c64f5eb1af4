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

from . import common

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
        out[ref.label] = t
    return out


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
