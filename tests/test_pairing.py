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


def test_dau_is_compared_with_retrain_on_the_same_test_samples(tmp_path):
    """DAU looks at D_v (half of the test split), so its TA and MIA leave D_v out; its gap to Retrain must use
    Retrain's TA and MIA on the same remaining test samples, not on the whole split."""
    import torch

    from unlearn_core.methods import get_method
    from unlearn_core.metrics import evaluate

    store = Store(tmp_path / "cache")
    setup = Setup(**SETUP)
    df = run_experiment(ExperimentSpec(setup=setup, selectors=["random"], methods=["retrain", "dau"], ratios=[0.1],
                                       seeds=[0], method_params={"dau": {"epochs": 1, "attacker_pretrain_steps": 5}}),
                        store)
    pipe = Pipeline(store, setup)
    dau, rt = (df[df["method"] == m].iloc[0] for m in ("dau", "retrain"))
    params = get_method("dau").resolve_params(pipe.ds, {"epochs": 1, "attacker_pretrain_steps": 5})
    keep = np.ones(pipe.ds.x_test.shape[0], dtype=bool)
    keep[get_method("dau").test_indices_used(pipe.ds, params, 0).cpu().numpy()] = False
    fs = pipe.forget_set("random", 0.1, 0)
    retain = np.setdiff1d(np.arange(pipe.ds.n_train), fs.forget_idx)
    want = evaluate(pipe.unlearned_model("retrain", "random", 0.1, 0), pipe.ds, torch.as_tensor(fs.forget_idx),
                    torch.as_tensor(retain), seed=0, test_idx=np.flatnonzero(keep))
    assert dau["retrain_same_split_TA"] == want["TA"] and dau["retrain_same_split_MIA"] == want["MIA"]
    assert dau["test_split_size"] == keep.sum() < pipe.ds.x_test.shape[0]
    assert dau["gap_TA"] == abs(dau["TA"] - want["TA"]) and dau["gap_MIA"] == abs(dau["MIA"] - want["MIA"])
    agg = res.aggregate(df).set_index("method")
    assert agg.at["dau", "gap_TA"] == abs(dau["TA"] - want["TA"])
    assert rt["TA"] != want["TA"] or rt["MIA"] != want["MIA"]  # the whole split would have been another number
