"""The attack view (unlearn_core.analysis.attack): its numbers are the stored metrics' own, recomputed per sample."""
from __future__ import annotations

import numpy as np
import pytest

from unlearn_core.analysis.attack import attack_view
from unlearn_core.config import Setup
from unlearn_core.errors import ConfigError
from unlearn_core.grid import ExperimentSpec, run_experiment
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("attack"))
    setup = Setup(train={"epochs": 4})
    run_experiment(ExperimentSpec(setup=setup, methods=["retrain", "ga"], selectors=["random"], ratios=[0.1],
                                  seeds=[0]), store)
    return Pipeline(store, setup)


def test_attack_view_reproduces_the_stored_metrics(pipe):
    v = attack_view(pipe, "ga", "random", 0.1, 0)
    runs = {m: pipe.find_run(m, "random", 0.1, 0)["metrics"] for m in ("ga", "retrain")}
    s = v.summary.set_index("model")
    # the SVC's per-sample calls give exactly the stored MIA-efficacy (same members draw, same SVC)
    assert s.at["unlearned", "mia_efficacy"] == pytest.approx(runs["ga"]["MIA"], abs=1e-9)
    assert s.at["retrain", "mia_efficacy"] == pytest.approx(runs["retrain"]["MIA"], abs=1e-9)
    # the prediction matrix's columns are the models' per-sample correctness: UA = 100 · share wrong
    pm = v.prediction_matrix
    assert 100 * (1 - pm["unlearned_correct"].mean()) == pytest.approx(runs["ga"]["UA"], abs=1e-6)
    assert 100 * (1 - pm["retrain_correct"].mean()) == pytest.approx(runs["retrain"]["UA"], abs=1e-6)
    assert int(v.pattern_counts["count"].sum()) == len(pm) == v.info["n_forget"]
    # class-wise accuracy averages back to TA (weights = class sizes)
    cw = v.classwise[(v.classwise["group"] == "test") & (v.classwise["model"] == "unlearned")]
    assert np.average(cw["accuracy"], weights=cw["n"]) == pytest.approx(runs["ga"]["TA"], abs=1e-6)
    # the threshold sweep: a proper ROC; θ_o, which trained on the forget set, separates it from the test set at
    # least as well as Retrain, which never saw it
    for m in ("original", "unlearned", "retrain"):
        r = v.roc[v.roc["model"] == m]
        assert r["fpr"].is_monotonic_increasing and r["tpr"].is_monotonic_increasing
        assert 0 <= s.at[m, "tpr@0.01"] <= 1 and 0 <= s.at[m, "auc"] <= 1
    assert s.at["original", "auc"] >= s.at["retrain", "auc"] - 0.02
    # risk flags: a forget sample is flagged only where the unlearned model and Retrain disagree
    r = v.risk
    assert not (r["flag_svc"] & r["svc_member_retrain"]).any()
    assert (r["flag_svc"] == (r["svc_member_unlearned"] & ~r["svc_member_retrain"])).all()
    assert r["risk"].is_monotonic_decreasing


def test_attack_view_needs_the_stored_models(pipe):
    with pytest.raises(ConfigError, match="missing"):
        attack_view(pipe, "ft", "random", 0.1, 0)  # FT never ran here
