"""Cached readers of the analysis pages (issue 6): finished coreset / composition / embedding / attack results, the

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
from unlearn_core.jobs.estimate import JobEstimate
from unlearn_core.store import run_digest

from . import common, estimates, readers, style
from .safety import md_escape

SPURIOUS_DATASETS = ("biased_digits", "celeba")
BIASED_DIGITS_NOTE = (
    "**biased_digits** is built by this project from scikit-learn's real 8×8 digits: the label is "
    "*digit ≥ 5* (low 0-4 vs high 5-9), and each image is inked red or green; for a `bias` fraction of the "
    "training images (90% by default) the ink colour agrees with the label (high → red, low → green), for the "
    "rest it is the other colour. The ink colour is the spurious attribute `red_ink`. It is an offline stand-in "
    "for CelebA (Blond × Male), which is used instead when its files are present.")


def active_results(pipe) -> pd.DataFrame:
    """Finished unlearning runs of the active setup (data set + model + recipe)."""
    df = readers.results()
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
    pipe = readers._pipeline(root, setup_js)
    m = model if model == "original" else tuple(model)
    # PCA of a stored model is cheap (well under a second on digits): computed here and stored. UMAP is only
    # read from the store (a view_embedding job computes it).
    return embedding(pipe, m, reducer, "train", seed, None, max_points, compute_if_missing=reducer == "pca")


def embedding_frame(model, reducer: str, max_points: int | None = 10000):
    """Coordinates of ``model`` (``"original"`` or a tuple) from the store, or None when a job must compute them."""
    pipe, _ = readers.pipeline()
    if pipe is None:
        return None
    ref = ModelRef(seed=common.seed()) if model == "original" else ModelRef(*model[:3], int(model[3]),
                                                                            model[4] if len(model) > 4 else None)
    if not ref.is_available(pipe):
        return None
    m = "original" if model == "original" else tuple(model)
    return _embedding(common.cache_root(), common.setup_json(), m, reducer, common.seed(), max_points,
                      readers.version())


@st.cache_data(show_spinner=False, max_entries=64)
def _sample_report(root: str, setup_js: str, index: int, seed: int, sets: tuple, models: tuple, ver: tuple):
    pipe = readers._pipeline(root, setup_js)
    fs = {name: readers._forget_idx(root, key) for name, key in sets}
    fs = {k: v for k, v in fs.items() if v is not None}
    return inspect_sample(pipe, index, seed, forget_sets=fs, models=list(models), include_retrain=False)


def sample_report(index: int, models: dict[str, tuple]):
    """The inspector's report of one training sample (scores, built forget sets, stored models' predictions)."""
    cat = readers.catalog()
    sets = tuple(zip(cat["name"], cat["key"])) if not cat.empty else ()
    return _sample_report(common.cache_root(), common.setup_json(), int(index), common.seed(), sets,
                          tuple(models.values()), readers.version())


def membership(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with an ``index`` column) plus an ``in:<set>`` bool column per catalogued forget set."""
    cat = readers.catalog()
    out = frame.copy()
    out.attrs.update(frame.attrs)
    for name, key in zip(cat["name"], cat["key"]) if not cat.empty else []:
        idx = readers.forget_idx(key)
        if idx is not None:
            out[f"in:{name}"] = np.isin(out["index"].to_numpy(), idx)
    return out


def with_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` joined with the per-sample score columns of the active setup (by sample index)."""
    s = readers.samples()
    cols = [e["column"] for e in readers.score_entries() if e["per_sample"] and e["column"] in s]
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
    from unlearn_core.analysis._inputs import penultimate_features

    pipe = readers._pipeline(root, setup_js)
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
    s = readers.samples()
    out = s.set_index("index").loc[pos[near]].reset_index()
    out.insert(1, "distance", d[near])
    out.attrs["space"] = space
    return out, space


def runs_on_sets(pipe, index: int) -> pd.DataFrame:
    """Every built forget set of the active setup: whether it holds sample ``index`` and the unlearning runs (methods
    and their count) stored for it."""
    cat = readers.catalog()
    if cat.empty:
        return pd.DataFrame(columns=["forget set", "holds this sample", "size", "runs on it", "methods"])
    runs = active_results(pipe)
    rows = []
    for r in cat.itertuples():
        idx = readers.forget_idx(r.key)
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


# ---------------------------------------------------------------------------------------------- beyond the papers
# Readers for the panels of docs/beyond.md: entanglement, "Why is it hard?", score correlations, tunings. All
# read-only (``compute_if_missing=False``); the job kinds view_entanglement, view_why_hard, score and tune compute.
def _quiet(fn, default):
    """``fn()``, or ``default`` when the store cannot answer (a setup that no longer loads, a damaged run)."""
    from unlearn_core.errors import ForgetsetError

    try:
        return fn()
    except (ForgetsetError, LookupError, OSError):
        return default


@st.cache_data(show_spinner=False, max_entries=16)
def _entanglement_frame(root: str, setup_js: str, ver: tuple) -> pd.DataFrame:
    from unlearn_core.analysis.entanglement import entanglement_frame

    return entanglement_frame(readers._pipeline(root, setup_js), compute_if_missing=False)


def entanglement_by_key() -> dict[str, float]:
    """{forget-set key: ES} of the active setup's stored sets whose entanglement is stored (others are absent)."""
    df = _quiet(lambda: _entanglement_frame(common.cache_root(), common.setup_json(), readers.version()), None)
    if df is None or df.empty:
        return {}
    return {k: float(v) for k, v in zip(df["key"], df["es"]) if v == v}


@st.cache_data(show_spinner=False, max_entries=32)
def _why_hard(root: str, setup_js: str, key: str, ver: tuple):
    from unlearn_core.analysis.hardness import why_hard as _why

    return _why(readers._pipeline(root, setup_js), key, compute_if_missing=False)


def why_hard(key: str):
    """The "Why is it hard?" frames (``WhyHard``) of a stored forget set, read-only; None if the set is gone."""
    return _quiet(lambda: _why_hard(common.cache_root(), common.setup_json(), key, readers.version()), None)


@st.cache_data(show_spinner=False, max_entries=32)
def _set_entanglement(root: str, setup_js: str, rows_json: str, ver: tuple) -> pd.DataFrame:
    from unlearn_core.analysis.entanglement import entanglement_for_results

    rows = pd.DataFrame(json.loads(rows_json), columns=["selector", "ratio", "seed"])
    return entanglement_for_results(readers._pipeline(root, setup_js), rows, compute_if_missing=False)


def set_entanglement(runs: pd.DataFrame, selectors: list[str]) -> pd.DataFrame:
    """ES of the forget sets behind ``runs`` (rows of the active setup's results: selector, ratio, seed) for
    ``selectors``: columns selector, ratio, seed, ES (NaN = not stored)."""
    d = runs[runs["selector"].isin(selectors)][["selector", "ratio", "seed"]].drop_duplicates()
    rows = [[s, None if r != r else float(r), int(k)] for s, r, k in zip(d["selector"], d["ratio"], d["seed"])]
    empty = pd.DataFrame(columns=["selector", "ratio", "seed", "ES"])
    if not rows:
        return empty
    return _quiet(lambda: _set_entanglement(common.cache_root(), common.setup_json(), json.dumps(rows),
                                            readers.version()), empty)


def original_seeds(pipe) -> list[int]:
    """Seeds whose θ_o is stored for the active setup (ascending)."""
    seeds = set()
    for r in pipe.store.list_runs("original", "done"):
        s = (r.get("config") or {}).get("seed")
        if isinstance(s, int) and r["key"] == pipe.original_key(s) and pipe.find_original(s) is not None:
            seeds.add(s)
    return sorted(seeds)


@st.cache_data(show_spinner=False, max_entries=16)
def _correlation(root: str, setup_js: str, seeds: tuple, ratio: float | None, ver: tuple):
    from unlearn_core.analysis.hardness import hardness_correlation

    return hardness_correlation(readers._pipeline(root, setup_js), list(seeds), ratio=ratio, compute_if_missing=False)


def correlation(seeds: list[int], ratio: float | None):
    """Spearman matrices of memorization, the learning-event proxies, loss, LiRA ASR and the BLO weight (at
    ``ratio``) over ``seeds`` (``CorrelationResult``), read-only; None when the store cannot answer."""
    return _quiet(lambda: _correlation(common.cache_root(), common.setup_json(), tuple(int(s) for s in seeds), ratio,
                                       readers.version()), None)


def estimate_text(jobs: list[tuple[str, dict]]) -> str:
    """'Estimate: ≈ 40 s on this CPU (cost model …)' for one or more jobs about to be submitted."""
    parts = [estimates.job_estimate(k, c) for k, c in jobs]
    parts = [p for p in parts if p is not None]
    if not parts:
        return "No estimate available."
    total = JobEstimate(sum(p.total_s for p in parts), device=parts[0].device, units=sum(p.units for p in parts))
    return "Estimate: " + estimates.job_text(total, estimates.estimate_correction()) + "."


@st.cache_data(show_spinner=False, max_entries=16)
def _tunings(root: str, setup_id: str, ver: tuple) -> pd.DataFrame:
    from unlearn_core.tuning import find_tunings

    return find_tunings(common.store(), setup_id)


def tunings(setup_id: str) -> pd.DataFrame:
    """Finished tunings of a setup, newest first (``unlearn_core.tuning.find_tunings``)."""
    found = _quiet(lambda: _tunings(common.cache_root(), setup_id, readers.version()), None)
    return found if found is not None else pd.DataFrame(columns=["key", "setup_id", "method", "chosen_params",
                                                                 "label"])


def tuned_lookup(setup_id: str) -> dict[tuple[str, str], str]:
    """{(method, chosen params JSON): tuning label} of a setup's tunings (the newest label wins), for marking
    Table-3 rows that ran with tuned values."""
    out: dict[tuple[str, str], str] = {}
    t = tunings(setup_id)
    for r in t.iloc[::-1].itertuples(index=False) if not t.empty else []:
        out[(r.method, r.chosen_params)] = r.label
    return out


@st.cache_data(show_spinner=False, max_entries=32)
def _tuning_record(root: str, key: str) -> dict | None:
    from unlearn_core.tuning import load_tuning

    return load_tuning(common.store(), key)


def tuning_record(key: str) -> dict | None:
    return _quiet(lambda: _tuning_record(common.cache_root(), key), None)


@st.cache_data(show_spinner=False, max_entries=32)
def _tuning_estimate(root: str, setup_js: str, spec_json: str, ver: tuple) -> str:
    from unlearn_core.tuning import TuneSpec, estimate_tuning

    pipe = readers._pipeline(root, setup_js)
    ts = TuneSpec.from_dict(json.loads(spec_json))
    return estimate_tuning(ts, pipe.store, pipe).summary()


def tuning_estimate(spec: dict) -> str:
    """The cost model's estimate of a tuning (``estimate_tuning(...).summary()``); raises ForgetsetError for a bad
    spec (the page shows it)."""
    return _tuning_estimate(common.cache_root(), common.setup_json(), json.dumps(spec, sort_keys=True),
                            readers.version())


def _why_n_reference() -> int:
    import inspect

    from unlearn_core.analysis.hardness import why_hard as _why

    return int(inspect.signature(_why).parameters["n_reference"].default)


WHY_N_REFERENCE = _why_n_reference()  # random reference sets the "Why is it hard?" panel compares ES against


# ---------------------------------------------------------------------------------------------- attack view
@st.cache_data(show_spinner=False, max_entries=16)
def _attack(root: str, setup_js: str, method: str, selector: str, ratio: float | None, seed: int, params_js: str,
            ver: tuple):
    from unlearn_core.analysis.attack import attack_view

    return attack_view(readers._pipeline(root, setup_js), method, selector, ratio, seed,
                       json.loads(params_js) or None)


def attack(method: str, selector: str, ratio: float | None, seed: int, params: dict | None = None):
    """The attack view (``unlearn_core.analysis.attack.AttackView``) of a stored run and Retrain on its set;
    raises ConfigError when a model is missing."""
    return _attack(common.cache_root(), common.setup_json(), method, selector, ratio, int(seed),
                   json.dumps(params or {}, sort_keys=True), readers.version())


def attack_candidates(pipe) -> pd.DataFrame:
    """Runs of the active setup (not Retrain) whose model, Retrain's model on the same set and θ_o are stored."""
    runs = active_results(pipe)
    if runs.empty:
        return runs
    retrain = {(r.selector, None if r.ratio != r.ratio else round(float(r.ratio), 9), int(r.seed)): r
               for r in runs[runs["method"] == "retrain"].itertuples()}
    out = []
    for r in runs[runs["method"] != "retrain"].itertuples():
        ratio = None if r.ratio != r.ratio else float(r.ratio)
        params = json.loads(r.params) if isinstance(r.params, str) and r.params else None
        try:
            ok = (ModelRef(r.method, r.selector, ratio, int(r.seed), params).is_available(pipe)
                  and ModelRef("retrain", r.selector, ratio, int(r.seed)).is_available(pipe)
                  and ModelRef(seed=int(r.seed)).is_available(pipe))
        except Exception:  # noqa: BLE001 - an unreadable run is left out of the menu
            ok = False
        ref = retrain.get((r.selector, None if ratio is None else round(ratio, 9), int(r.seed)))
        if ok and ref is not None:
            out.append({"method": r.method, "selector": r.selector, "ratio": ratio, "seed": int(r.seed),
                        "params": params, "MIA": float(r.MIA), "UA": float(r.UA),
                        "MIA_retrain": float(ref.MIA), "UA_retrain": float(ref.UA)})
    return pd.DataFrame(out)


def informative_attack_run(cands: pd.DataFrame) -> tuple[int, str]:
    """(row of ``cands``, why) of the run the attack view opens on: among the runs whose prediction matrix is not
    uniform (some forget sample is misclassified by the unlearned model or by Retrain: UA > 0 for either, so the
    matrix shows who gets what right), the one whose membership signal differs most from Retrain's on the same set
    (|MIA-efficacy − Retrain's|); the first run when all matrices are uniform. A worst-case set that every model
    still classifies right draws a one-colour matrix and identical histograms: nothing to read."""
    gap = (cands["MIA"] - cands["MIA_retrain"]).abs().to_numpy()
    mixed = ((cands["UA"] > 0) | (cands["UA_retrain"] > 0)).to_numpy()
    pool = [i for i in range(len(cands)) if mixed[i]]
    if not pool:
        return 0, ("Every run's forget set is classified right by the unlearned model and by Retrain alike (UA = 0): "
                   "the prediction matrix is one colour whichever run is chosen.")
    i = max(pool, key=lambda k: (gap[k], -k))
    r = cands.iloc[i]
    return i, (f"Opened on the run whose membership signal differs most from Retrain's: MIA-efficacy "
               f"{r['MIA']:.1f}% vs Retrain's {r['MIA_retrain']:.1f}% on the same set (|gap| {gap[i]:.1f} points), "
               f"among the {len(pool)} of {len(cands)} runs whose prediction matrix is not uniform (UA "
               f"{r['UA']:.1f}% vs Retrain's {r['UA_retrain']:.1f}%). Runs where every model still gets every forget "
               "sample right draw a one-colour matrix.")


def why_one_line(rep, sets: pd.DataFrame, n: int) -> str:
    """The inspector's answer first: '**Why is #12 hard to forget?** #3 of 1437 by BLO worst-case weight (10%), #40
    by loss · in worst-case 10% · seed 0 · Retrain on that set, which never saw it, still predicts it right (p = 0.97):
    the rest of the data teaches it.' (its rank by each score, its set memberships, Retrain's verdict)."""
    parts = []
    if rep.scores is not None and not rep.scores.empty:
        sc = rep.scores.dropna(subset=["hard_rank"]).sort_values("hard_rank")
        parts.append(", ".join(f"#{int(r.hard_rank)} of {n} by {style.score_label(r.score)}"
                               for r in sc.head(3).itertuples()))
        top = sc.iloc[0] if len(sc) else None
        hard = top is not None and int(top.hard_rank) <= max(1, n // 10)
    else:
        hard = None
    inside_f = sets[sets["key_holds"].astype(bool)] if sets is not None and not sets.empty else pd.DataFrame()
    inside = list(inside_f.itertuples()) if len(inside_f) else []
    parts.append(("in " + md_escape(", ".join(inside_f["forget set"].astype(str)))) if inside
                 else "in none of the built forget sets")
    verdict = ""
    p = rep.predictions
    if p is not None and len(p) and inside:
        def rkey(sel, ratio, seed_):
            return sel, None if ratio is None or ratio != ratio else round(float(ratio), 6), int(seed_)

        keys = {rkey(r.key_selector, r.key_ratio, r.key_seed) for r in inside}
        on_set = np.array([rkey(s_, r_, sd) in keys for s_, r_, sd in zip(p["selector"], p["ratio"], p["seed"])],
                          dtype=bool)
        rt = p[(p["method"] == "retrain").to_numpy() & p["available"].astype(bool).to_numpy() & on_set]
        if len(rt):
            right = rt["correct"].astype(bool)
            ptrue = float(rt["p_true"].astype(float).mean())
            if right.all():
                verdict = (f"Retrain on {'that set' if len(rt) == 1 else f'those {len(rt)} sets'}, which never saw it, "
                           f"still predicts it right (p(true label) = {ptrue:.2f}): the rest of the data teaches it, "
                           "so unlearning has little to remove — that is what makes it hard to forget")
            elif not right.any():
                verdict = (f"Retrain without it gets it wrong (p(true label) = {ptrue:.2f}): forgetting it is "
                           "visible, so a method that still gets it right has not unlearned it")
            else:
                verdict = f"Retrain gets it right on {int(right.sum())} of {len(rt)} sets (mean p(true label) {ptrue:.2f})"
    if not verdict:
        verdict = ("no Retrain run on a set holding it yet (run one on Experiments to get Retrain's verdict)"
                   if inside else "Retrain's verdict needs a forget set holding it")
    head = (f"**Why is #{rep.index} {'hard' if hard else 'not especially hard' if hard is False else 'hard or easy'} "
            f"to forget?** ")
    return head + " · ".join(parts) + ". " + verdict[0].upper() + verdict[1:] + "."
