"""Analyses: coreset curves, group composition, embeddings, sample inspector (and their figures).

Small and fast: digits / biased_digits, 5 training epochs, a 3-iteration BLO with K = 2.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from unlearn_core.context import RunContext
from unlearn_core.errors import CancelledError, ConfigError
from dashboard import analysis_charts, captions
from unlearn_core import analysis as views
from unlearn_core.analysis import coreset as coreset_mod
from unlearn_core.analysis import embeddings as emb_mod
from unlearn_core.pipeline import Pipeline
from unlearn_core.scores import score_names
from unlearn_core.store import Store
from unlearn_core.training import predict_logits

FAST = {"epochs": 5}
BLO = {"upper_iters": 3, "K": 2}
FT = {"epochs": 2}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("views_store"))


@pytest.fixture(scope="module")
def pipe(store):
    return Pipeline(store, dataset="digits", device="cpu", train=FAST, blo=BLO)


@pytest.fixture(scope="module")
def biased(store):
    return Pipeline(store, dataset="biased_digits", device="cpu", train=FAST, blo=BLO)


# ---------------------------------------------------------------------- coreset
def test_default_strategies_follow_the_score_registry():
    d = views.default_strategies()
    assert d[:2] == ["worst", "random"]
    for s in ("el2n", "grand"):
        assert (s in d) == (s in score_names())


def test_coreset_curves_points_resume_and_figure(pipe):
    fractions, strategies = (0.8, 0.9), ["worst", "random", "bottom:loss"]
    n = pipe.ds.n_train

    # Cancel while the first coreset model trains: that point is recorded as cancelled, not done.
    cancel = threading.Event()

    def on_progress(f, msg):
        if msg.startswith("coreset") and "epoch" in msg:
            cancel.set()

    with pytest.raises(CancelledError):
        views.coreset_curves(pipe, fractions, seeds=(0,), strategies=strategies,
                             ctx=RunContext(on_progress=on_progress, cancel_event=cancel))
    assert any(r["status"] == "cancelled" for r in pipe.store.list_runs("view_coreset_point"))

    # One point computed on its own is reused by the full curve.
    part = views.coreset_curves(pipe, (0.9,), seeds=(0,), strategies=["random"])
    assert part.n_trained == 1
    res = views.coreset_curves(pipe, fractions, seeds=(0,), strategies=strategies)
    assert res.n_trained == len(fractions) * len(strategies) - 1

    pts = res.points
    assert len(pts) == len(fractions) * len(strategies)
    assert set(pts["strategy"]) == set(strategies)
    assert sorted(set(pts["kept_fraction"])) == list(fractions)
    assert pts["test_acc"].between(0, 100).all()
    for f, k in zip(pts["kept_fraction"], pts["n_kept"]):
        assert k == n - int(round((1 - f) * n))
    assert len(res.summary) == len(fractions) * len(strategies)
    assert (res.summary["n_seeds"] == 1).all() and res.summary["test_acc_std"].isna().all()  # one seed: no spread
    assert 0 <= res.full_acc_mean <= 100 and list(res.full["seed"]) == [0]

    again = views.coreset_curves(pipe, fractions, seeds=(0,), strategies=strategies)
    assert again.n_trained == 0
    assert np.allclose(again.points["test_acc"], pts["test_acc"])

    fig = analysis_charts.coreset_figure(res)
    assert len(fig.data) == 2 * len(strategies)  # a std band + a mean line per strategy
    assert any(s.line.dash == "dash" for s in fig.layout.shapes)  # the full-data line
    assert captions.CORESET_CAPTION
    stored = coreset_mod.stored_result(pipe)  # what the page draws: read from the store, no job payload
    assert len(stored.points) == len(pts) and np.allclose(sorted(stored.points["test_acc"]), sorted(pts["test_acc"]))


def test_coreset_rejects_bad_input(pipe):
    with pytest.raises(ConfigError):
        views.coreset_curves(pipe, (1.0,), seeds=(0,), strategies=["random"])
    with pytest.raises(ConfigError):
        views.coreset_curves(pipe, (0.9,), seeds=(0,), strategies=["class:3"])
    if "el2n" not in score_names():
        with pytest.raises(ConfigError, match="el2n"):
            coreset_mod.strategy_selector("el2n")


# ---------------------------------------------------------------------- composition
def test_composition_counts_and_cache(biased):
    ds = biased.ds
    res = views.composition(biased, ("worst", "easiest", "random"), ratio=0.1, seeds=(0,))
    t = res.table
    m = int(round(0.1 * ds.n_train))
    train = t[t["set"] == "training set"]
    assert train["count"].sum() == ds.n_train
    assert len(train) == 4  # 2 labels x 2 ink colours
    assert train["percent"].sum() == pytest.approx(100.0)
    for name in ("worst", "easiest", "random"):
        d = t[t["set"] == name]
        assert d["count"].sum() == m and (d["set_size"] == m).all()
        assert d["percent"].sum() == pytest.approx(100.0)
    # per-group counts agree with the forget sets themselves
    fs = biased.forget_set("worst", 0.1, 0)
    y, red = ds.y_train.numpy()[fs.forget_idx], ds.attributes["red_ink"][fs.forget_idx]
    row = t[(t["set"] == "worst") & (t["group"] == "high (5-9) + red ink")]
    assert row["count"].item() == np.sum((y == 1) & (red == 1))
    # majority = bias-aligned groups
    maj = set(train.loc[train["majority"], "group"])
    assert maj == {"low (0-4) + green ink", "high (5-9) + red ink"}
    assert not res.cache_hit
    assert views.composition(biased, ("worst", "easiest", "random"), ratio=0.1, seeds=(0,)).cache_hit
    read = views.composition(biased, ("worst", "easiest", "random"), ratio=0.1, seeds=(0,), compute_if_missing=False)
    assert read is not None and read.table.equals(views.composition(biased, ("worst", "easiest", "random"), 0.1,
                                                                     (0,)).table)
    assert views.composition(biased, ("worst",), ratio=0.2, seeds=(0,), compute_if_missing=False) is None
    assert res.wide().shape == (4, 4)
    fig = analysis_charts.composition_figure(res)
    assert len(fig.data) == 4


def test_composition_needs_an_attribute(pipe):
    with pytest.raises(ConfigError, match="spurious attribute"):
        views.composition(pipe, ("random",), ratio=0.1)


# ---------------------------------------------------------------------- embeddings
def test_embeddings_pca_umap_cached(pipe, monkeypatch):
    fs = pipe.forget_set("random", 0.1, 0)
    loss = pipe.score("loss", 0)
    df = views.embedding(pipe, "original", "pca", scores={"loss": loss}, forget_sets={"random": fs})
    n = pipe.ds.n_train
    assert len(df) == n and list(df["index"]) == list(range(n))
    assert {"x", "y", "label", "prediction", "confidence", "correct", "loss", "in:random"} <= set(df.columns)
    assert df["in:random"].sum() == fs.size
    assert np.allclose(df["loss"], loss.values, atol=1e-6)
    logits = predict_logits(pipe.original(0), pipe.ds, "train")
    assert (df["prediction"].to_numpy() == logits.argmax(1).numpy()).all()
    assert not df.attrs["cache_hit"] and len(df.attrs["info"]["explained_variance_ratio"]) == 2
    assert views.embedding(pipe, "original", "pca").attrs["cache_hit"]

    first = views.embedding(pipe, "original", "umap", max_points=300)
    assert len(first) == 300 and not first.attrs["cache_hit"]
    assert np.isfinite(first[["x", "y"]].to_numpy()).all()

    def boom(*a, **k):
        raise AssertionError("UMAP recomputed instead of served from the cache")

    monkeypatch.setitem(emb_mod.REDUCER_FNS, "umap", boom)
    second = views.embedding(pipe, "original", "umap", max_points=300)
    assert second.attrs["cache_hit"]
    assert np.array_equal(second[["index", "x", "y"]].to_numpy(), first[["index", "x", "y"]].to_numpy())
    with pytest.raises(AssertionError):  # other parameters are another cache entry
        views.embedding(pipe, "original", "umap", max_points=300, params={"n_neighbors": 5})

    fig = analysis_charts.embedding_figure(df, "label")
    assert len(fig.data) == 10 and all(tr.type == "scattergl" for tr in fig.data)
    assert len(analysis_charts.embedding_figure(df, "loss").data) == 1
    assert len(analysis_charts.embedding_figure(df, "in:random").data) == 2


def test_embedding_of_unlearned_model(pipe):
    pipe.run("ft", "random", 0.1, 0, FT)
    df = views.embedding(pipe, views.ModelRef("ft", "random", 0.1, 0, FT), "pca")
    assert len(df) == pipe.ds.n_train and "ft on random" in df.attrs["model"]
    with pytest.raises(ConfigError, match="No stored model"):
        views.embedding(pipe, ("ga", "random", 0.1), "pca")


# ---------------------------------------------------------------------- inspector
def test_inspector_ranks_sets_predictions(pipe):
    fs = pipe.forget_set("random", 0.1, 0)
    pipe.run("retrain", "random", 0.1, 0)
    pipe.run("ft", "random", 0.1, 0, FT)
    loss = pipe.score("loss", 0).values.astype(np.float64)
    i = int(fs.forget_idx[0])
    rep = views.inspect_sample(pipe, i, forget_sets=[fs], models=[("ft", "random", 0.1, 0, FT)],
                               scores={"custom": np.arange(pipe.ds.n_train, dtype=float)})
    assert rep.index == i and rep.label == int(pipe.ds.y_train[i])
    assert rep.image.shape == (8, 8, 1)
    s = rep.scores.set_index("score")
    assert "loss" in s.index  # found in the store
    assert s.loc["loss", "value"] == pytest.approx(loss[i], rel=1e-5)
    assert s.loc["loss", "rank"] == 1 + np.sum(loss > loss[i])
    assert s.loc["loss", "hard_rank"] == 1 + np.sum(loss < loss[i])  # low loss = hard
    assert s.loc["custom", "rank"] == pipe.ds.n_train - i
    assert s.loc["custom", "percentile"] == pytest.approx(100 * (i + 0.5) / pipe.ds.n_train)
    # ranks are consistent across samples: the lowest-loss sample is the hardest
    j = int(np.argmin(loss))
    rj = views.inspect_sample(pipe, j).scores.set_index("score")
    assert rj.loc["loss", "hard_rank"] == 1 and rj.loc["loss", "rank"] == pipe.ds.n_train
    assert rj.loc["loss", "percentile"] < s.loc["loss", "percentile"] or loss[j] == loss[i]

    assert rep.forget_sets["contains"].tolist() == [True]
    p = rep.predictions.set_index("method")
    assert set(p.index) == {"original", "retrain", "ft"} and p["available"].all()
    assert bool(p.loc["retrain", "in_forget_set"]) is True
    logits = predict_logits(pipe.original(0), pipe.ds, "train", [i])
    assert p.loc["original", "prediction"] == int(logits.argmax(1))
    assert p.loc["original", "confidence"] == pytest.approx(float(torch.softmax(logits, 1).max()), rel=1e-4)
    assert ((p["confidence"] >= 0) & (p["confidence"] <= 1)).all()

    missing = views.inspect_sample(pipe, i, models=[("ga", "worst", 0.3)])
    assert not missing.predictions.set_index("method").loc["ga", "available"] and missing.notes
    with pytest.raises(ConfigError):
        views.inspect_sample(pipe, pipe.ds.n_train)
