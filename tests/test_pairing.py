"""Pairing by content: a method is compared with the Retrain of the very forget set it used, and nothing made
with a θ_o that is no longer current is paired or shown as current (the import-then-compare sequence)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from unlearn_core import results as res
from unlearn_core.config import Setup
from unlearn_core.grid import ExperimentSpec, run_experiment
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store, save_state_dict

SETUP = dict(dataset="digits", model="mlp", device="cpu", train={"epochs": 3})


def test_import_then_compare_never_pairs_or_shows_rows_of_the_old_theta_o(tmp_path):
    store = Store(tmp_path / "cache")
    setup = Setup(**SETUP)
    fast = {"ft": {"epochs": 1}, "ga": {"epochs": 1}}
    run_experiment(ExperimentSpec(setup=setup, selectors=["random", "worst"], methods=["retrain", "ft", "ga"],
                                  ratios=[0.1], seeds=[0], method_params=fast), store)
    pipe = Pipeline(store, setup)
    old_theta = pipe.original_digest(0)
    before = res.results_frame(store)
    assert len(before) == 6 and not before["superseded"].any() and before["avg_gap"].notna().all()

    # another θ_o (trained with another seed) imported as seed 0's θ_o; then one method is re-run
    ckpt = tmp_path / "other.safetensors"
    save_state_dict(ckpt, pipe.original(1).state_dict(), pipe._checkpoint_meta())
    pipe.import_checkpoint(str(ckpt), 0)
    new_theta = Pipeline(store, setup).original_digest(0)
    assert new_theta != old_theta
    run_experiment(ExperimentSpec(setup=setup, selectors=["random", "worst"], methods=["retrain", "ga"],
                                  ratios=[0.1], seeds=[0], method_params={"ga": fast["ga"]}), store)

    shown = res.results_frame(store)  # what every table, chart and export reads by default
    assert not shown["superseded"].any()
    assert set(shown["method"]) == {"retrain", "ga"}  # FT was made with the old θ_o: not shown as current
    assert all(old_theta not in t for t in shown["theta_o"])
    ga_worst = shown[(shown["method"] == "ga") & (shown["selector"] == "worst")].iloc[0]
    rt_worst = shown[(shown["method"] == "retrain") & (shown["selector"] == "worst")].iloc[0]
    assert ga_worst["forget_set_digest"] == rt_worst["forget_set_digest"]  # paired on the very same forget set
    assert ga_worst["avg_gap"] == np.mean([abs(ga_worst[m] - rt_worst[m]) for m in ("UA", "MIA", "RA", "TA")])

    everything = res.results_frame(store, include_superseded=True)
    old = everything[everything["superseded"]]
    # old FT (random, worst), old GA (random, worst) and the old worst-case Retrain; Retrain on a random set does
    # not depend on θ_o and stays current
    assert sorted(zip(old["method"], old["selector"])) == [("ft", "random"), ("ft", "worst"), ("ga", "random"),
                                                           ("ga", "worst"), ("retrain", "worst")]
    assert old["avg_gap"].isna().all() and (old["superseded_why"] == "made with a θ_o that is no longer current").all()
    t3 = res.table3(res.results_for_setup(everything, pipe.setup_key))
    assert t3[t3["superseded"]]["avg_gap"].isna().all() and t3[~t3["superseded"]]["avg_gap"].notna().all()
    assert "ft" not in set(res.table3(res.results_for_setup(shown, pipe.setup_key))["method"])


def test_pairing_requires_the_same_forget_set():
    """Two Retrain rows of the same (setup, selector, ratio, seed) but different forget sets: each method row is
    paired with the Retrain of its own forget set; a method whose forget set has no Retrain gets no gap."""
    base = {"setup_id": "s", "dataset": "d", "model": "m", "selector": "worst", "ratio": 0.1, "seed": 0,
            "RA": 99.0, "TA": 97.0, "MIA": 0.0}
    df = pd.DataFrame([{**base, "method": "retrain", "forget_set_digest": "A", "UA": 0.0},
                       {**base, "method": "retrain", "forget_set_digest": "B", "UA": 10.0},
                       {**base, "method": "ft", "forget_set_digest": "A", "UA": 1.0},
                       {**base, "method": "ga", "forget_set_digest": "C", "UA": 1.0}])
    g = res.with_gaps(df).set_index("method")
    assert g.at["ft", "gap_UA"] == 1.0 and np.isnan(g.at["ga", "gap_UA"])
    agg = res.aggregate(res.with_gaps(df)).set_index("method")
    assert agg.at["ft", "gap_UA"] == 1.0 and np.isnan(agg.at["ga", "gap_UA"])
