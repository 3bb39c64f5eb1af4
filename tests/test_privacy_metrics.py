"""Relearn time, F-score/epsilon (Akbari et al., Machine Unlearning §2.1) and the score-analysis tables (offline, CPU, seconds)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from unlearn_core.analysis import binned_relation, score_correlation
from unlearn_core.data import _from_numpy
from unlearn_core.errors import ConfigError
from unlearn_core.privacy_metrics import (epsilon_bucket_score, epsilon_from_rates, forget_fscore,
                                          fscore_from_models, relearn_time, threshold_attack_rates, utility_factor)
from unlearn_core.training import TrainConfig, accuracy, train_model

from _synthetic import blob_arrays

CFG = TrainConfig(epochs=30, batch_size=32, lr=0.05, weight_decay=0.0)  # memorises the mislabeled points


def blobs(n_train: int = 160, n_test: int = 60, seed: int = 0):
    """Two Gaussian blobs as 8x8 uint8 images; labels 0 (bright left half) / 1 (bright right half)."""
    _, xtr, ytr, xte, yte = blob_arrays(n_train, n_test, seed)
    # A handful of mislabeled training points: only a model that saw them predicts their (wrong) label.
    ytr[:10] = 1 - ytr[:10]
    return _from_numpy("blobs", xtr, ytr, xte, yte, ["left", "right"])


@pytest.fixture(scope="module")
def models():
    ds = blobs()
    forget = torch.arange(10)  # the mislabeled points
    retain = torch.arange(10, ds.n_train)
    original = train_model("mlp", ds, torch.arange(ds.n_train), CFG, seed=0)
    retrained = train_model("mlp", ds, retain, CFG, seed=1)
    return ds, forget, retain, original, retrained


def test_relearn_time_positive_and_finite(models):
    ds, forget, _, original, retrained = models
    target = accuracy(original, ds, "train", forget)
    assert target > accuracy(retrained, ds, "train", forget)  # the retrained model really forgot D_f
    before = [p.detach().clone() for p in retrained.parameters()]
    res = relearn_time(retrained, original, ds, forget, lr=0.01, batch_size=10, max_steps=500, check_every=7)
    assert res.reached and 0 < res.steps < 500 and math.isfinite(res.steps)
    assert res.final_accuracy >= res.target_accuracy == pytest.approx(target)
    assert len(res.curve) == res.steps and res.curve[-1] >= target > max(res.curve[:-1], default=-1)
    assert all(torch.equal(a, b) for a, b in zip(before, retrained.parameters()))  # the input model is untouched
    # The original itself needs no relearning.
    assert relearn_time(original, original, ds, forget).steps == 0


def test_relearn_time_cap_flag(models):
    ds, forget, _, original, retrained = models
    res = relearn_time(retrained, original, ds, forget, lr=1e-9, batch_size=10, max_steps=6, check_every=4)
    assert res.steps == 6 and not res.reached and len(res.curve) == 6
    with pytest.raises(ConfigError):
        relearn_time(retrained, original, ds, [], max_steps=5)


def test_threshold_rates_and_epsilon_formula():
    # One sample, 4 unlearned outputs all above 4 retrained ones: a perfect threshold attack exists -> ε = ∞.
    u = torch.tensor([[5.0], [6.0], [7.0], [8.0]])
    r = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    fpr, fnr = threshold_attack_rates(u, r)
    assert ((fpr == 0) & (fnr == 0)).any()
    assert math.isinf(epsilon_from_rates(fpr, fnr, 0.01)[0].item())
    # Eq. 2 for a single attack with FPR = 0.2, FNR = 0.3, δ = 0.01.
    e = epsilon_from_rates(torch.tensor([[0.2]]), torch.tensor([[0.3]]), 0.01)[0].item()
    assert e == pytest.approx(max(math.log(1 - 0.01 - 0.2) - math.log(0.3), math.log(1 - 0.01 - 0.3) - math.log(0.2)))
    s = epsilon_bucket_score(torch.tensor([0.0, 0.49, 0.5, 1.2, math.inf]))
    torch.testing.assert_close(s, torch.tensor([1.0, 1.0, 0.5, 0.25, 2.0 / 2 ** 13]))


def test_fscore_warns_with_too_few_models():
    rng = np.random.default_rng(0)
    u, r = rng.normal(size=(4, 20)), rng.normal(size=(4, 20))
    with pytest.warns(UserWarning, match="fewer than 32"):
        res = forget_fscore(u, r)
    assert not res.reliable and res.warning
    with pytest.raises(ConfigError):
        forget_fscore(u[:1], r)


def test_fscore_epsilon_higher_when_distributions_differ():
    rng = np.random.default_rng(1)
    k, n = 64, 40
    retrained = rng.normal(0.0, 1.0, size=(k, n))
    same = rng.normal(0.0, 1.0, size=(k, n))  # unlearned models equal in distribution to the retrained ones
    shifted = rng.normal(1.5, 1.0, size=(k, n))  # unlearned models that still differ
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 64 >= min_models: no warning
        good = forget_fscore(same, retrained, utility=0.9)
        bad = forget_fscore(shifted, retrained, utility=0.9)
    assert good.reliable and bad.reliable
    assert np.median(bad.epsilons) > np.median(good.epsilons) + 0.5
    assert bad.forget_quality < good.forget_quality
    assert good.score == pytest.approx(0.9 * good.forget_quality)
    assert 0 <= bad.score <= good.score <= 1
    assert utility_factor(0.9, 0.8, 1.0, 0.8) == pytest.approx(0.9)


def test_fscore_from_models_end_to_end(models):
    ds, forget, retain, original, retrained = models
    retrained_set = [retrained, train_model("mlp", ds, retain, CFG, seed=2)]
    not_unlearned = [original, train_model("mlp", ds, torch.arange(ds.n_train), CFG, seed=3)]
    with pytest.warns(UserWarning):
        res = fscore_from_models(not_unlearned, retrained_set, ds, forget, min_models=32)
    d = res.to_dict()
    assert res.epsilons.shape == (10,) and not d["reliable"]
    assert 0 <= d["forget_quality"] <= 1 and d["utility"] > 0 and d["statistic"] == "loss"


def test_spearman_table_symmetric_with_unit_diagonal():
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    scores = {"loss": a, "lira_asr": a + rng.normal(scale=0.5, size=200), "noise": rng.normal(size=200),
              "neg": -a}
    table = score_correlation(scores)
    assert list(table.index) == list(table.columns) == list(scores)
    np.testing.assert_allclose(table.values, table.values.T)
    np.testing.assert_allclose(np.diag(table.values), 1.0)
    assert table.loc["loss", "neg"] == pytest.approx(-1.0)
    assert table.loc["loss", "lira_asr"] > 0.7 and abs(table.loc["loss", "noise"]) < 0.2
    rho, p = score_correlation({"x": a, "y": 2 * a}, with_pvalues=True)
    assert rho.loc["x", "y"] == pytest.approx(1.0) and p.loc["x", "y"] < 1e-10
    with pytest.raises(ConfigError):
        score_correlation({"x": a, "short": a[:10]})


def test_binned_relation():
    rng = np.random.default_rng(0)
    x = rng.exponential(size=1000)
    y = 0.5 * x + rng.normal(scale=0.1, size=1000)
    df = binned_relation(x, y, bins=10)
    assert len(df) == 10 and df["count"].sum() == 1000
    assert np.all(np.diff(df["y_mean"].values) > 0)  # y increases with x
    assert {"left", "right", "centre", "y_std", "y_sem"} <= set(df.columns)
    uni = binned_relation(x, y, bins=5, strategy="uniform")
    assert len(uni) == 5 and uni["count"].sum() == 1000
    np.testing.assert_allclose(uni["right"].values[:-1], uni["left"].values[1:])
