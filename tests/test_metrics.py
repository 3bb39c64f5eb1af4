"""Metrics against hand-computed values on a tiny model, and MIA sanity on a real model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unlearn_core.data import _from_numpy
from unlearn_core.metrics import (evaluate, gap_to_retrain, mia_efficacy_from_logits, mia_features,
                                  tug_of_war)
from unlearn_core.training import predict_logits, preset_for, train_model, with_overrides


class SignModel(nn.Module):
    """Predicts class 1 iff the (normalised) single pixel is positive, i.e. the raw pixel is 255."""

    def forward(self, x):
        z = x.flatten(1)[:, 0]
        return torch.stack([-z, z], 1) * 10


def tiny_dataset():
    px_tr = np.array([255] * 6 + [0] * 4, dtype=np.uint8).reshape(-1, 1, 1, 1)
    y_tr = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    px_te = np.array([255, 0, 0, 255], dtype=np.uint8).reshape(-1, 1, 1, 1)
    y_te = np.array([1, 0, 1, 0])
    return _from_numpy("tiny", px_tr, y_tr, px_te, y_te, ["a", "b"])


def test_ua_ra_ta_match_hand_computation():
    ds = tiny_dataset()
    forget, retain = [0, 4, 9], [1, 2, 3, 5, 6, 7, 8]
    m = evaluate(SignModel(), ds, forget, retain, mia_variants=("confidence",))
    # predictions: train [1,1,1,1,1,1,0,0,0,0], test [1,0,0,1]
    assert m["UA"] == pytest.approx(100 * (1 - 1 / 3))  # forget: labels 1,0,1 vs preds 1,1,0
    assert m["RA"] == pytest.approx(100 * 6 / 7)  # sample 5 (label 0, pred 1) is the only error
    assert m["TA"] == pytest.approx(50.0)
    assert 0.0 <= m["MIA"] <= 100.0


def test_mia_features_by_hand():
    logits = torch.tensor([[0.0, 0.0], [np.log(3.0), 0.0]])
    y = torch.tensor([0, 1])
    conf = mia_features(logits, y, "confidence")[:, 0]
    np.testing.assert_allclose(conf, [0.5, 0.25], atol=1e-6)
    ent = mia_features(logits, y, "entropy")[:, 0]
    np.testing.assert_allclose(ent, [np.log(2), -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))], atol=1e-6)
    corr = mia_features(logits, y, "correctness")[:, 0]
    np.testing.assert_allclose(corr, [1.0, 0.0])
    # modified entropy for sample 2: −(1−p_y) log p_y − p_other log(1 − p_other), p_y = .25, p_other = .75
    mentr = mia_features(logits, y, "m_entropy")[1, 0]
    assert mentr == pytest.approx(-(0.75) * np.log(0.25) - 0.75 * np.log(0.25), abs=1e-5)
    assert mia_features(logits, y, "prob").shape == (2, 2)


def test_gaps_and_tow_by_hand():
    u = {"UA": 10.0, "MIA": 20.0, "RA": 95.0, "TA": 90.0}
    r = {"UA": 5.0, "MIA": 30.0, "RA": 99.0, "TA": 92.0}
    g = gap_to_retrain(u, r)
    assert g["gap_UA"] == 5 and g["gap_MIA"] == 10 and g["gap_RA"] == pytest.approx(4) and g["gap_TA"] == 2
    assert g["avg_gap"] == pytest.approx(21 / 4)
    assert tug_of_war(u, r) == pytest.approx((1 - 0.05) * (1 - 0.04) * (1 - 0.02))
    assert tug_of_war(r, r) == 1.0


def test_mia_low_on_train_high_on_test(digits):
    """θ_o's own training samples look like members (efficacy ~0); unseen samples are called non-members
    far more often. A model fit on 300 samples has the generalisation gap that makes this visible."""
    n_tr = 300
    model = train_model("mlp", digits, torch.arange(n_tr),
                        with_overrides(preset_for(digits), epochs=60, weight_decay=0.0), seed=0)
    lt, lte = predict_logits(model, digits, "train"), predict_logits(model, digits, "test")
    yt, yte = digits.y_train, digits.y_test
    half = len(yte) // 2
    perm = torch.as_tensor(np.random.default_rng(0).permutation(n_tr))
    members, held_members = perm[:200], perm[200:]
    on_train = mia_efficacy_from_logits(lt[members], yt[members], lte[:half], yte[:half], lt[held_members],
                                        yt[held_members], "confidence")
    on_test = mia_efficacy_from_logits(lt[members], yt[members], lte[:half], yte[:half], lte[half:], yte[half:],
                                       "confidence")
    assert on_train < 5.0
    assert on_test > 15.0 and on_test > 4 * on_train


def test_table3_gap_is_the_papers_definition():
    """Fan et al. (Challenging Forgets) Table 3: gap = |mean_u − mean_Retrain| over seeds; Avg. gap = the mean of the
    four gaps. Their FT row on random 10% sets: UA 5.08 vs Retrain 5.28 → gap 0.20. The mean over seeds of per-seed
    |Δ| is another, larger quantity, kept in its own 'paired_' columns. Std is the sample std (ddof=1)."""
    import pandas as pd

    from unlearn_core.results import aggregate, fmt_mean_std, table3

    retrain = {"UA": [5.08, 5.48, 5.28], "MIA": [12.0, 13.0, 14.0], "RA": [100.0, 100.0, 100.0], "TA": [94.0, 94.2, 94.4]}
    ft = {"UA": [5.48, 4.68, 5.08], "MIA": [11.0, 12.0, 16.0], "RA": [99.0, 99.2, 99.4], "TA": [93.0, 93.0, 93.3]}
    rows = []
    for method, vals in (("retrain", retrain), ("ft", ft)):
        for s in range(3):
            rows.append({"dataset": "d", "model": "m", "selector": "random", "ratio": 0.1, "method": method, "seed": s,
                         "params": "{}", **{k: v[s] for k, v in vals.items()}, "ToW": 1.0, "runtime_s": 1.0})
    from unlearn_core.results import with_gaps

    agg = aggregate(with_gaps(pd.DataFrame(rows))).set_index("method")
    assert agg.loc["ft", "UA_mean"] == pytest.approx(5.08) and agg.loc["retrain", "UA_mean"] == pytest.approx(5.28)
    assert agg.loc["ft", "gap_UA"] == pytest.approx(0.20)
    assert agg.loc["ft", "gap_MIA"] == pytest.approx(0.0)  # means 13 vs 13
    assert agg.loc["ft", "gap_RA"] == pytest.approx(0.8) and agg.loc["ft", "gap_TA"] == pytest.approx(1.1)
    assert agg.loc["ft", "avg_gap"] == pytest.approx((0.20 + 0.0 + 0.8 + 1.1) / 4)
    # paired: mean of |5.48-5.08|, |4.68-5.48|, |5.08-5.28| = (0.40 + 0.80 + 0.20) / 3
    assert agg.loc["ft", "paired_gap_UA"] == pytest.approx(1.40 / 3)
    assert agg.loc["ft", "paired_gap_MIA"] == pytest.approx((1 + 1 + 2) / 3)
    assert agg.loc["ft", "paired_gap_UA"] >= agg.loc["ft", "gap_UA"]
    # sample std over n = 3 seeds
    assert agg.loc["ft", "UA_std"] == pytest.approx(np.std([5.48, 4.68, 5.08], ddof=1))
    assert agg.loc["ft", "n"] == 3 and agg.loc["ft", "seeds"] == "0,1,2"
    # one seed: the spread is undefined and shown as "—", never "±0.00"
    one = aggregate(with_gaps(pd.DataFrame([r for r in rows if r["seed"] == 0]))).set_index("method")
    assert np.isnan(one.loc["ft", "UA_std"]) and one.loc["ft", "n"] == 1
    assert fmt_mean_std(one.loc["ft", "UA_mean"], one.loc["ft", "UA_std"], 1) == "5.48 ± —"
    assert list(table3(with_gaps(pd.DataFrame(rows)))["method"]) == ["retrain", "ft"]


def test_metrics_are_fp32_even_under_an_outer_autocast(digits):
    """Logits for metrics and scores are computed in fp32 even if a caller runs them under bf16 autocast."""
    model = train_model("mlp", digits, torch.arange(200), with_overrides(preset_for(digits), epochs=1), seed=0)
    ref = predict_logits(model, digits, "train")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = predict_logits(model, digits, "train")
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, ref, rtol=0, atol=0)
