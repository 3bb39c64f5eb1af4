"""The bank metrics (kind ``bank`` of the metric registry): F, score, KLoM P95, U-LiRA over an unlearned and a
retrained model bank. ``compare_banks`` computes its columns by iterating over the registered bank metrics; its
numbers are the kernels' (forget_quality.py), bit for bit, as before the metrics were registered."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from unlearn_core import forget_quality as fq
from unlearn_core.metrics import Metric, bank_evaluation, registry
from unlearn_core.metrics.bank_evaluation import BankView, Estimate, compare_banks
from unlearn_core.results import table3

SPLITS = ("forget", "retain", "test")


def _centres(rng: np.random.Generator, sizes=(24, 30, 28)) -> dict[str, np.ndarray]:
    """Per split, each example's mean margin (what the training data makes of it)."""
    return {s: 3 * rng.normal(0, 1, k) for s, k in zip(SPLITS, sizes)}


def _bank(rng: np.random.Generator, n: int, centres: dict[str, np.ndarray], shift: float = 0.0,
          spread: float = 1.0, acc: float = 0.9):
    """A bank of ``n`` models: per split (n, size) margins = centre + ``shift`` (on the forget split only: what
    unlearning failed to remove) + seed noise of sd ``spread``; per split (n,) accuracies around ``acc``."""
    marg = {s: c + (shift if s == "forget" else 0.0) + spread * rng.normal(0, 1, (n, c.size))
            for s, c in centres.items()}
    return marg, {s: np.clip(acc + 0.02 * rng.normal(0, 1, n), 0, 1) for s in SPLITS}


def _old_compare_banks_metrics(u, r, acc_u, acc_r, estimator):
    """The metrics dict as ``forget_quality.compare_banks`` computed it before the bank metrics were registered,
    from the kernels directly (frozen here so that the registry's version can be compared with it bit for bit)."""
    n = min(u["forget"].shape[0], r["forget"].shape[0])
    eps_t = fq.epsilons(u["forget"], r["forget"], "threshold")
    eps = eps_t if estimator == "threshold" else fq.epsilons(u["forget"], r["forget"], estimator)
    f, f_se = fq.forget_quality(eps, n)
    f_t, f_t_se = fq.forget_quality(eps_t, n)
    ratio = (acc_u["retain"].mean() / max(acc_r["retain"].mean(), 1e-12)) * \
        (acc_u["test"].mean() / max(acc_r["test"].mean(), 1e-12))
    out = {"forget_quality": f, "forget_quality_se": f_se, "score": f * ratio, "score_se": f_se * ratio,
           "forget_quality_threshold": f_t, "forget_quality_threshold_se": f_t_se, "score_threshold": f_t * ratio,
           "eps_mean": float(eps.mean()), "eps_threshold_mean": float(eps_t.mean()), "n_models": float(n),
           "fq_estimator": estimator}
    ul = fq.ulira_accuracy(u["forget"], r["forget"])
    out["ulira_forget_acc"] = float(np.mean(ul)) if np.isfinite(ul).all() else float("nan")
    out["ulira_forget_acc_se"] = (float(np.std(ul, ddof=1) / np.sqrt(len(ul))) if len(ul) > 1
                                  and np.isfinite(ul).all() else float("nan"))
    for split in SPLITS:
        p, lo, hi = fq.p95_interval(fq.klom(u[split], r[split]))
        out[f"klom_{split}_p95"], out[f"klom_{split}_p95_lo"], out[f"klom_{split}_p95_hi"] = p, lo, hi
    return out


def _same(a, b) -> bool:
    """Bitwise equality of two values (NaN equals NaN; strings compared as strings)."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return np.float64(a).tobytes() == np.float64(b).tobytes()


def test_compare_banks_gives_the_kernels_numbers_bit_for_bit():
    """The old dict against the new one on synthetic banks: both estimators, a bank large enough for U-LiRA
    (N = 10) and one below it (N = 5, U-LiRA NaN); unlearned and retrained banks of different sizes."""
    rng = np.random.default_rng(19)
    for n_u, n_r, shift in ((10, 10, 0.8), (5, 6, 0.0)):
        c = _centres(rng)
        u, acc_u = _bank(rng, n_u, c, shift=shift, acc=0.85)
        r, acc_r = _bank(rng, n_r, c)
        for est in fq.ESTIMATORS:
            old = _old_compare_banks_metrics(u, r, acc_u, acc_r, est)
            new = compare_banks(u, r, acc_u, acc_r, est).metrics
            # every old column, same numbers; the new ones are the standard errors the old dict lacked
            assert set(new) - set(old) == {"score_threshold_se", "eps_mean_se", "eps_threshold_mean_se"}
            diff = {k: (old[k], new.get(k)) for k in old if k not in new or not _same(old[k], new[k])}
            assert not diff, diff
            # and in the old order (fq_estimator, configuration rather than a metric, now comes last)
            assert [k for k in new if k in old] == [k for k in old if k != "fq_estimator"] + ["fq_estimator"]


BANK_METRICS = ("forget_quality", "score", "forget_quality_threshold", "score_threshold", "eps_mean",
                "eps_threshold_mean", "n_models", "ulira_forget_acc", "klom_forget_p95", "klom_retain_p95",
                "klom_test_p95")


def test_the_registry_lists_the_bank_metrics_with_their_papers_and_formulas():
    assert registry.names("bank") == list(BANK_METRICS)
    for name in BANK_METRICS:
        m = registry.get(name)
        assert m.kind == "bank" and m.label and m.formula and m.help and m.direction in ("higher", "lower")
        if name != "n_models":  # a count, no paper
            assert " et al., " in m.paper and m.paper in m.cited()
    assert registry.get("forget_quality").paper.startswith("Triantafillou et al., Are we making progress")
    assert registry.get("klom_forget_p95").paper.startswith("Georgiev et al., Attribute-to-Delete")
    assert registry.get("ulira_forget_acc").paper.startswith("Hayes et al., Inexact unlearning")
    # bank metrics are never taken for per-run model metrics (evaluate, Pipeline.run_metrics, the runs table)
    assert not set(BANK_METRICS) & set(registry.names("model")) and not set(BANK_METRICS) & set(
        registry.names("vs_retrain"))
    import dataclasses

    with registry.replaced(dataclasses.replace(registry.get("forget_quality"), version=2)):
        assert registry.versions_record({"forget_quality": 0.5, "UA": 1.0}) == {}


def _three_banks(n: int = 128, seed: int = 5):
    """A retrained bank, an independent bank of the *same* distribution, and one whose forget margins are shifted
    by 6 seed-sds (unlearning left the forget set clearly visible); retain and test splits identical in law."""
    rng = np.random.default_rng(seed)
    c = _centres(rng, (40, 40, 40))
    r, acc_r = _bank(rng, n, c)
    same, acc_same = _bank(rng, n, c)
    apart, acc_apart = _bank(rng, n, c, shift=6.0)
    return (r, acc_r), (same, acc_same), (apart, acc_apart)


def test_each_bank_metric_sees_the_same_distribution_as_forgotten_and_a_separated_one_as_not():
    (r, acc_r), (same, acc_same), (apart, acc_apart) = _three_banks()
    m_same = compare_banks(same, r, acc_same, acc_r).metrics
    m_apart = compare_banks(apart, r, acc_apart, acc_r).metrics
    assert m_same["forget_quality"] >= 0.9 and m_apart["forget_quality"] <= 0.05
    assert m_same["eps_mean"] < 0.2 and m_apart["eps_mean"] > 10
    assert m_same["klom_forget_p95"] < 1.0 and m_apart["klom_forget_p95"] > 5.0
    for split in ("retain", "test"):  # only the forget margins moved: the other splits stay indistinguishable
        assert m_same[f"klom_{split}_p95"] < 1.0 and m_apart[f"klom_{split}_p95"] < 1.0
    assert abs(m_same["ulira_forget_acc"] - 0.5) < 0.05 and m_apart["ulira_forget_acc"] > 0.95
    assert m_same["n_models"] == 128.0
    # the threshold test also separates them (at N = 128 its chance extremes no longer sink F to ~0.2)
    assert m_apart["forget_quality_threshold"] <= 0.05 < m_same["forget_quality_threshold"]
    # the score is F times the utility ratio: an unlearned bank at half the retain accuracy halves it
    half = {**acc_same, "retain": acc_same["retain"] / 2}
    m_half = compare_banks(same, r, half, acc_r).metrics
    ratio = (half["retain"].mean() / acc_r["retain"].mean()) * (half["test"].mean() / acc_r["test"].mean())
    assert m_half["score"] == pytest.approx(m_same["forget_quality"] * ratio)
    assert ratio == pytest.approx(0.5, abs=0.02)
    # every value comes with its uncertainty: a standard error, or an interval around it
    for m in (m_same, m_apart):
        for name in ("forget_quality", "score", "ulira_forget_acc"):
            assert math.isfinite(m[f"{name}_se"]) and m[f"{name}_se"] >= 0
        for split in ("forget", "retain", "test"):
            assert m[f"klom_{split}_p95_lo"] <= m[f"klom_{split}_p95"] <= m[f"klom_{split}_p95_hi"]
    assert m_same["forget_quality_threshold_se"] > 0  # examples that lose points by chance: the error is not 0


def test_ulira_below_its_minimum_n_is_nan_with_a_reason():
    (r, acc_r), (same, acc_same), _ = _three_banks(n=fq.ULIRA_MIN_MODELS - 1)
    comp = compare_banks(same, r, acc_same, acc_r)
    assert math.isnan(comp.metrics["ulira_forget_acc"]) and math.isnan(comp.metrics["ulira_forget_acc_se"])
    assert str(fq.ULIRA_MIN_MODELS) in comp.notes["ulira_forget_acc"]
    assert math.isfinite(comp.metrics["forget_quality"])  # the other metrics are still reported


def test_the_view_computes_each_epsilon_once(monkeypatch):
    """F, the score and mean ε share one ε per estimator (the expensive part: a test per example)."""
    calls = []
    real = bank_evaluation.epsilons

    def counted(u, r, estimator):
        calls.append(estimator)
        return real(u, r, estimator)

    monkeypatch.setattr(bank_evaluation, "epsilons", counted)
    (r, acc_r), (same, acc_same), _ = _three_banks(n=16)
    compare_banks(same, r, acc_same, acc_r, "gauss")
    assert sorted(calls) == ["gauss", "threshold"]
    calls.clear()
    compare_banks(same, r, acc_same, acc_r, "threshold")
    assert calls == ["threshold"]


def test_a_registered_bank_metric_appears_in_compare_banks_and_leaves_with_its_registration():
    (r, acc_r), (same, acc_same), _ = _three_banks(n=16)

    def forget_margin_gap(view: BankView) -> Estimate:  # a throwaway: |mean margin difference| on D_f
        d = np.abs(view.unlearned["forget"].mean(0) - view.retrained["forget"].mean(0))
        return Estimate(float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)))

    registry.register_metric("forget_margin_gap", label="margin gap", direction="lower", unit="", kind="bank",
                             formula="mean over D_f of |mean φ_u − mean φ_r|")(forget_margin_gap)
    try:
        got = compare_banks(same, r, acc_same, acc_r).metrics
        want = np.abs(same["forget"].mean(0) - r["forget"].mean(0))
        assert got["forget_margin_gap"] == pytest.approx(want.mean()) and "forget_margin_gap_se" in got
        assert "forget_margin_gap" not in registry.names("model")
        # ... and in Table 3's statistics over seeds, with no list to update (results.table3.bank_stat_columns)
        rows = pd.DataFrame([{"dataset": "digits", "model": "mlp", "selector": "random", "ratio": 0.1, "seed": s,
                              "method": "ft", "UA": 1.0, "forget_margin_gap": g} for s, g in ((0, 0.2), (1, 0.4))])
        t3 = table3(rows)
        assert t3.loc[0, "forget_margin_gap_mean"] == pytest.approx(0.3)
        assert t3.loc[0, "forget_margin_gap_std"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    finally:
        registry.unregister("forget_margin_gap")
    assert "forget_margin_gap" not in compare_banks(same, r, acc_same, acc_r).metrics

    with registry.replaced(Metric("bad", "bad", "lower", "", "—", 1, lambda view: 0.5, kind="bank")):
        with pytest.raises(TypeError, match="Estimate"):
            compare_banks(same, r, acc_same, acc_r)


def test_a_bank_view_refuses_a_missing_split_and_an_unknown_estimator():
    (r, acc_r), (same, acc_same), _ = _three_banks(n=8)
    with pytest.raises(ValueError, match="test"):
        BankView({k: v for k, v in same.items() if k != "test"}, r, acc_same, acc_r)
    with pytest.raises(ValueError, match="estimator"):
        BankView(same, r, acc_same, acc_r, "median")
    with pytest.raises(ValueError, match="both ends"):
        Estimate(1.0, lo=0.5)
