"""One estimate for everything (issue 22): jobs are estimated by the CLI's cost model and keep estimate vs actual."""
from __future__ import annotations

import pytest

from unlearn_core import cost
from unlearn_core.config import Setup
from unlearn_core.grid import ExperimentSpec
from unlearn_core.grid_estimate import estimate_grid
from unlearn_core.jobs import JobManager
from unlearn_core.jobs.demo import DEMO_DEFAULTS, DEMO_STAGES
from unlearn_core.jobs.estimate import estimate_job
from unlearn_core.store import Store

SETUP = {"dataset": "digits", "train": {"epochs": 2}}


def test_experiment_and_demo_estimates_are_the_cost_model_s(tmp_path):
    store = Store(tmp_path)
    spec = ExperimentSpec(setup=Setup.from_dict(SETUP), methods=["retrain", "ft"], selectors=["random"],
                          ratios=[0.1], seeds=[0, 1])
    job = estimate_job("experiment", {"spec": spec.to_dict()}, store)
    assert job.total_s == pytest.approx(estimate_grid(spec, store).seconds)  # the CLI's number
    demo = estimate_job("teaching_demo", {**DEMO_DEFAULTS, "setup": SETUP}, store)
    assert set(demo.stages) == {name for name, *_ in DEMO_STAGES}
    assert demo.stages["seeds"] > 0 and demo.stages["sweep"] > demo.stages["seed0"] > 0  # 2 ratios × 3 seeds > 1 × 1
    one_seed = estimate_job("teaching_demo", {**DEMO_DEFAULTS, "setup": SETUP, "seeds": [0]}, store)
    assert one_seed.stages["seeds"] == 0 and one_seed.total_s < demo.total_s
    assert estimate_job("checkpoint", {}, store) is None  # kinds the model does not know say so


def test_a_finished_job_keeps_its_estimate_and_actual_time(tmp_path):
    store = Store(tmp_path)
    mgr = JobManager(store)
    try:
        jid = mgr.submit("train_original", {"setup": SETUP, "seed": 0})
        job = mgr.wait(jid, timeout=120)
        assert job["status"] == "done", job.get("error")
        res = job["result"]
        assert res["estimate"]["total_s"] > 0 and res["actual_s"] > 0
        assert any("estimate: " in line and "cost model" in line for line in mgr.get(jid)["log"])
        # once θ_o is stored, the same job costs nothing
        assert estimate_job("train_original", {"setup": SETUP, "seed": 0}, store).total_s == 0
    finally:
        mgr.shutdown(wait=True)


def test_coreset_estimate_is_the_cost_model_s_and_scales_with_the_points(tmp_path):
    """The coreset curves are estimated like every other job (no history of earlier runs needed): more kept fractions
    or seeds cost more, and each point is one model trained on its kept fraction."""
    store = Store(tmp_path)
    one = estimate_job("view_coreset", {"setup": SETUP, "fractions": [0.5], "seeds": [0],
                                        "strategies": ["random"]}, store)
    more = estimate_job("view_coreset", {"setup": SETUP, "fractions": [0.5, 0.9], "seeds": [0, 1],
                                         "strategies": ["random", "worst"]}, store)
    assert one.units == 1 and more.units == 8
    assert 0 < one.stages["coreset models"] < more.stages["coreset models"]
    assert more.stages["scores"] > 0  # the worst-case strategy needs BLO per kept fraction
    assert more.total_s == pytest.approx(sum(more.stages.values()))


def test_composition_and_embedding_are_estimated_before_the_first_run(tmp_path):
    """Every job kind has an estimate before it first runs (issue 22): a composition costs the forget sets it needs
    (a random set only θ_o; the worst case adds BLO), an embedding θ_o + one forward pass + its projection (UMAP
    grows with the points, PCA is free); both cost nothing once stored."""
    from unlearn_core.analysis.embeddings import embedding
    from unlearn_core.jobs import estimate as E
    from unlearn_core.pipeline import Pipeline

    store = Store(tmp_path)
    setup = {"dataset": "biased_digits", "train": {"epochs": 2}}
    theta = estimate_job("train_original", {"setup": setup, "seed": 0}, store).total_s
    comp = {"setup": setup, "selectors": ["random"], "ratio": 0.1, "seeds": [0]}
    one = estimate_job("view_composition", comp, store)
    both = estimate_job("view_composition", {**comp, "selectors": ["worst", "random"], "seeds": [0, 1]}, store)
    assert theta > 0 and one.total_s == pytest.approx(theta)  # a random set needs θ_o only
    assert both.total_s > 2 * theta and set(both.stages) == {"seed 0", "seed 1"}  # BLO for the worst case, 2 seeds

    emb = {"setup": setup, "seed": 0, "model": "original"}
    pca = estimate_job("view_embedding", {**emb, "reducer": "pca", "max_points": 300}, store)
    small = estimate_job("view_embedding", {**emb, "reducer": "umap", "max_points": 300}, store)
    big = estimate_job("view_embedding", {**emb, "reducer": "umap", "max_points": 900}, store)
    assert pca.stages["θ_o"] == pytest.approx(theta) and pca.stages["projection"] == 0 and pca.stages["features"] > 0
    first = 0.0 if "umap" in __import__("sys").modules else E.UMAP_FIRST_PROBES
    ratio = (big.stages["projection"] / small.stages["projection"])
    assert ratio == pytest.approx((E.UMAP_PER_POINT_PROBES * 900 ** E.UMAP_EXPONENT + first)
                                  / (E.UMAP_PER_POINT_PROBES * 300 ** E.UMAP_EXPONENT + first), rel=0.05)
    assert big.total_s > small.total_s > pca.total_s

    pipe = Pipeline(store, Setup.from_dict(setup))
    embedding(pipe, "original", "pca", seed=0, max_points=300)  # trains θ_o, stores the projection
    assert estimate_job("view_embedding", {**emb, "reducer": "pca", "max_points": 300}, store).total_s == 0
    after = estimate_job("view_embedding", {**emb, "reducer": "umap", "max_points": 300}, store)
    assert after.stages["θ_o"] == 0 and after.total_s > 0
    assert estimate_job("view_composition", comp, store).total_s == 0  # θ_o stored; a random set is free to build
