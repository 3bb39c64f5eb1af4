"""Per-example forgetting quality (Triantafillou et al. ε / F / score, KLoM) and the model banks behind it."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from unlearn_core import forget_quality as fq


# ---------------------------------------------------------------------------------------------- the statistics
def test_margin_is_the_logit_scaled_confidence():
    logits = torch.tensor([[4.0, 1.0, -2.0], [0.0, 30.0, 0.0]])
    y = torch.tensor([0, 2])
    p = torch.softmax(logits.double(), 1)[torch.arange(2), y]
    want = torch.log(p) - torch.log1p(-p)
    assert torch.allclose(fq.margins(logits, y).double(), want, atol=1e-5)


def test_points_follow_the_competition_buckets():
    eps = np.array([0.0, 0.49, 0.5, 0.99, 1.2, 3.6, 4.0, 50.0])
    # N = 32: buckets up to ceil(log 31) = 4 -> 1, 1, 1/2, 1/2, 1/4, 2^-7, 0, 0
    assert fq.points(eps, 32).tolist() == [1, 1, 0.5, 0.5, 0.25, 2.0 ** -7, 0, 0]


def _grid_reference_eps(u: np.ndarray, r: np.ndarray, step: float = 0.01) -> float:
    """A rival: the reference's grid search (thresholds every 0.01; intervals r − l = w ± 2 on the same grid)."""
    pos, neg = (r, u) if np.median(r) > np.median(u) else (u, r)
    ts = np.arange(min(u.min(), r.min()) - step, max(u.max(), r.max()) + 2 * step, step)
    fpr = [(neg >= ts[:, None]).mean(1)]
    fnr = [(pos < ts[:, None]).mean(1)]
    peak, other = (pos, neg) if np.ptp(pos) < np.ptp(neg) else (neg, pos)
    w = np.ptp(peak)
    for right in ts:
        left = np.arange(right - w - 2, right - w + 2 + step, step)[:, None]
        fpr.append(((other >= left) & (other <= right)).mean(1))
        fnr.append(1 - ((peak >= left) & (peak <= right)).mean(1))
    return fq._eps_of_rates(np.concatenate(fpr), np.concatenate(fnr), fq.DELTA)


def test_exact_threshold_search_matches_a_grid_search():
    rng = np.random.default_rng(3)
    for _ in range(2):
        u, r = rng.normal(0.6, 1.0, 10), rng.normal(0.0, 1.3, 10)
        exact = fq.epsilon_threshold_one(u, r)
        grid = _grid_reference_eps(u, r)
        # the grid can only miss tests (never find more), and misses little at 0.01 spacing
        assert grid <= exact + 1e-9
        assert exact - grid < 0.15


def test_perfect_separation_and_a_peaky_bank_get_the_cap():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 1, (16, 5))
    assert (fq.epsilons(r + 20, r, "threshold") == fq.EPSILON_CAP).all()
    copies = np.repeat(r[:1] + 0.1, 16, axis=0)  # the same model 16 times: zero spread
    for est in fq.ESTIMATORS:
        assert (fq.epsilons(copies, r, est) == fq.EPSILON_CAP).all()
        assert fq.forget_quality(fq.epsilons(copies, r, est), 16)[0] == 0.0


def test_threshold_test_is_biased_up_at_small_n_and_the_gaussian_fit_is_not():
    """Two banks of the *same* distribution (the retrain-vs-retrain control): the threshold test finds chance
    extremes (F far below 1); the Gaussian fit stays near 1, and both still see a planted shift."""
    rng = np.random.default_rng(1)
    n, s = 32, 150
    u, r = rng.normal(0, 1, (n, s)), rng.normal(0, 1, (n, s))
    f_thr = fq.forget_quality(fq.epsilons(u, r, "threshold"), n)[0]
    f_gauss = fq.forget_quality(fq.epsilons(u, r, "gauss"), n)[0]
    assert f_gauss >= 0.9
    assert f_thr < 0.5 < f_gauss
    shifted = rng.normal(2.0, 1, (n, s))
    for est in fq.ESTIMATORS:
        assert fq.forget_quality(fq.epsilons(shifted, r, est), n)[0] < 0.3


def test_detectable_shift_is_where_the_gaussian_estimator_starts_to_take_points():
    """detectable_shift(N) against the estimator itself: banks whose sample means differ by just under it give
    ε < 0.5 (full points), just over it ε ≥ 0.5; it shrinks as N grows. standardized_shifts reads a known shift."""
    rng = np.random.default_rng(3)
    prev = np.inf
    for n in (8, 16, 32, 64):
        base = rng.normal(0, 1, n)
        base = (base - base.mean()) / base.std(ddof=1)  # sample mean 0, sample sd 1 exactly
        t = fq.detectable_shift(n)
        assert t < prev
        prev = t
        assert fq.epsilon_gauss_one(base + t - 0.02, base) < 0.5 <= fq.epsilon_gauss_one(base + t + 0.02, base)
    r = rng.normal(0, 2, (8, 5))
    assert np.allclose(fq.standardized_shifts(r + 3.0, r), 3.0 / r.std(0, ddof=1))
    assert np.allclose(fq.spread_ratios(0.1 * r, r), 0.1)


def test_detectable_spread_ratio_is_where_the_fit_starts_to_see_a_narrower_bank():
    """Equal means, the unlearned bank's sd a factor c of the retrained one's: c just above detectable_spread_ratio
    (N) gives the fit nothing to see (ε = 0); well below it the example loses points; the band narrows with N."""
    rng = np.random.default_rng(5)
    prev = 0.0
    for n in (8, 16, 32, 64):
        base = rng.normal(0, 1, n)
        base = (base - base.mean()) / base.std(ddof=1)
        c = fq.detectable_spread_ratio(n)
        assert c > prev
        prev = c
        assert fq.epsilon_gauss_one((c + 0.02) * base, base) == 0.0
        assert fq.epsilon_gauss_one(0.2 * c * base, base) >= 0.5
    with pytest.raises(ValueError, match="at least 4"):
        fq.detectable_spread_ratio(3)
    with pytest.raises(ValueError, match="at least 4"):
        fq.detectable_shift(3)


def test_klom_is_zero_for_identical_banks_and_large_for_disjoint_ones():
    rng = np.random.default_rng(2)
    r = rng.normal(0, 1, (20, 30))
    assert np.allclose(fq.klom(r, r), 0.0)
    far = fq.klom(r + 50, r)
    assert (far > 10).all()  # all mass where the oracle has none: log(1 / 1e-5) = 11.5
    mid = fq.klom(r + 1.0, r)
    assert (mid < far).all() and mid.mean() > fq.klom(rng.normal(0, 1, (20, 30)), r).mean()


# ---------------------------------------------------------------------------------------------- banks on digits
@pytest.fixture(scope="module")
def bank_pipe(tmp_path_factory):
    from unlearn_core.pipeline import Pipeline
    from unlearn_core.store import Store

    return Pipeline(Store(tmp_path_factory.mktemp("banks")), dataset="digits", model="mlp", device="cpu",
                    train={"epochs": 10})


def test_controls_on_digits_retrain_near_top_original_clearly_lower(bank_pipe):
    """Retrain evaluated against an independent retrain bank scores near the top; θ_o unchanged scores 0 and θ_o's
    recipe over seeds (no unlearning) clearly lower than the control."""
    from unlearn_core.banks import bank_comparison

    n = 8
    got = {m: bank_comparison(bank_pipe, m, "random", 0.1, 0, n, compute_if_missing=True).comparison.metrics
           for m in ("retrain", "original", "original_seeds")}
    assert got["retrain"]["forget_quality"] >= 0.9
    assert got["retrain"]["score"] >= 0.85
    assert got["original"]["forget_quality"] == 0.0
    assert got["original_seeds"]["forget_quality"] < got["retrain"]["forget_quality"] - 0.1
    assert got["retrain"]["klom_forget_p95"] < got["original"]["klom_forget_p95"]
    assert got["retrain"]["n_models"] == n


def test_bank_members_are_stored_and_reused(bank_pipe):
    from unlearn_core.banks import BankContext, ensure_members, find_members

    bc = BankContext.of(bank_pipe)
    fs = bank_pipe.forget_set("random", 0.1, 0)
    theta = bank_pipe.original(0)
    outs, trained = ensure_members(bc, "unlearn", [0, 1], fs.forget_idx, "ga", None, theta)
    again, trained_again = ensure_members(bc, "unlearn", [0, 1], fs.forget_idx, "ga", None, theta)
    assert trained == 2 and trained_again == 0
    assert np.array_equal(outs[1]["train"], again[1]["train"])
    assert not np.array_equal(outs[0]["train"], outs[1]["train"])  # different method seeds
    # another forget set or another method is another bank
    assert find_members(bc, "unlearn", [0], np.arange(10), "ga") is None
    assert find_members(bc, "unlearn", [0], fs.forget_idx, "ft") is None


def test_grid_plans_bank_units_with_a_cost_and_checks_eval_models(bank_pipe):
    from unlearn_core.errors import ConfigError
    from unlearn_core.grid import ExperimentSpec, plan

    spec = ExperimentSpec(setup=bank_pipe.setup, selectors=["random"], methods=["retrain", "ga"], seeds=[0],
                          eval_models=20)
    banks = [u for u in plan(spec) if u.stage == "bank"]
    members = {(u.method, u.members) for u in banks}
    assert members == {("retrain", "0-16"), ("retrain", "16-32"), ("retrain", "32-40"), ("ga", "0-16"),
                       ("ga", "16-20"), ("original_seeds", "0-16"), ("original_seeds", "16-20")}
    for bad in (2, -1, 10_000, True):
        with pytest.raises(ConfigError):
            ExperimentSpec(setup=bank_pipe.setup, eval_models=bad).validate()
    from unlearn_core.grid_estimate import estimate_grid

    est = estimate_grid(spec, bank_pipe.store, bank_pipe)
    by = {u.unit_id: u for u in est.units}
    ga = next(u for u in banks if u.method == "ga" and u.members == "16-20")
    rt = next(u for u in banks if u.method == "retrain" and u.members == "32-40")
    assert by[ga.id].passes > 0 and by[rt.id].passes > by[ga.id].passes  # 8 retrains cost more than 4 GA runs
    assert math.isfinite(est.seconds)


def test_eps_hardness_score_is_each_samples_eps_in_its_fold(bank_pipe):
    from unlearn_core.banks import BankContext, find_members
    from unlearn_core.scores.eps_hardness import fold_of

    params = {"method": "ft", "n_models": 4, "folds": 2}
    res = bank_pipe.score("eps_hardness", 0, params=params)
    v = np.asarray(res.values)
    assert v.shape == (bank_pipe.ds.n_train,) and np.isfinite(v).all() and (v >= 0).all()
    fold = fold_of(bank_pipe.ds.n_train, 2, 0)
    idx = np.flatnonzero(fold == 1)
    bc = BankContext(bank_pipe.ds, bank_pipe.model_name, bank_pipe.train_cfg, bank_pipe.store,
                     {"dataset": bank_pipe.ds.name, "data_fingerprint": bank_pipe.ds.fingerprint(),
                      "model": bank_pipe.model_name, "train": bank_pipe.train_cfg.to_dict()})
    from unlearn_core.banks import digest_weights

    u = find_members(bc, "unlearn", range(4), idx, "ft", None, digest_weights(bank_pipe.original(0)))
    r = find_members(bc, "retrain", range(4), idx)
    assert u is not None and r is not None  # the score stored its banks
    want = fq.epsilons(np.stack([o["train"][idx] for o in u]), np.stack([o["train"][idx] for o in r]), "gauss")
    assert np.allclose(v[idx], want)
    assert res.extras["method"] == "ft" and len(res.extras["forget_quality_per_fold"]) == 2


def test_ulira_is_chance_for_one_distribution_and_finds_a_shift():
    """Hayes et al.'s U-LiRA: two banks from one distribution -> ≈ 0.5 (the attack cannot tell); a planted shift of
    2σ on half the examples -> those examples near 0.84 (Φ(1), the Bayes accuracy), the others still ≈ 0.5; too small
    a bank -> NaN, never a number."""
    import numpy as np

    from unlearn_core.forget_quality import ulira_accuracy

    rng = np.random.default_rng(0)
    u, r = rng.normal(size=(64, 400)), rng.normal(size=(64, 400))
    same = ulira_accuracy(u, r)
    assert abs(same.mean() - 0.5) < 0.03
    u[:, :200] += 2.0
    acc = ulira_accuracy(u, r)
    assert abs(acc[:200].mean() - 0.84) < 0.04 and abs(acc[200:].mean() - 0.5) < 0.04
    assert np.isnan(ulira_accuracy(u[:4], r[:4])).all()


# ---------------------------------------------------------------------------------------------- ε as a score
def test_selector_grammar_takes_the_method_an_eps_score_is_measured_under():
    from unlearn_core.errors import ConfigError
    from unlearn_core.selectors import ForgetSet, parse_selector, select_forget_set, selector_label

    spec = parse_selector("top:eps_hardness:ga")
    assert (spec.kind, spec.arg, spec.score_params()) == ("top", "eps_hardness", {"method": "ga"})
    assert parse_selector("top:eps_hardness").score_params() == {}  # the score's default method
    assert parse_selector("bottom:eps_hardness:rsu:ga").score_params() == {"method": "rsu:ga"}
    assert selector_label("top:eps_hardness:ga") == "highest eps_hardness under ga"
    with pytest.raises(ConfigError, match="takes no method"):
        parse_selector("top:loss:ga")

    class _DS:  # what select_forget_set reads of a data set
        n_train, num_classes = 40, 2
        y_train = torch.arange(40) % 2

    asked = []
    planted = np.random.default_rng(0).permutation(40).astype(float)

    def score_fn(name, ratio, params):
        asked.append((name, params))
        return planted

    fs = select_forget_set("top:eps_hardness:ga", _DS(), 0.1, 0, score_fn)
    assert isinstance(fs, ForgetSet) and asked == [("eps_hardness", {"method": "ga"})]
    assert set(fs.forget_idx) == set(np.argsort(-planted)[:4])  # the 4 highest ε under GA


def test_eps_under_a_method_is_a_selector_input_and_a_why_is_it_hard_quantity(bank_pipe):
    from unlearn_core.analysis.hardness import why_hard

    inputs = bank_pipe._selector_inputs("top:eps_hardness:ga", 0.1, 0, lambda n, r, p: f"{n}{sorted(p.items())}")
    assert inputs == {"eps_hardness[method=ga]": "eps_hardness[('method', 'ga')]"}  # the forget set's key names it
    params = {"method": "ga", "n_models": 4, "folds": 2}
    eps = np.asarray(bank_pipe.score("eps_hardness", 0, params=params).values)
    bank_pipe.forget_set("random", 0.1, 0)
    why = why_hard(bank_pipe, ("random", 0.1, 0))
    col = "eps_hardness folds=2,method=ga,n_models=4"
    assert col in set(why.summary["quantity"])
    row = why.summary.set_index("quantity").loc[col]
    idx = bank_pipe.forget_set("random", 0.1, 0).forget_idx
    assert row["hard_end"] == "high" and np.isclose(row["set_mean"], eps[idx].mean())
    from dashboard.style import score_label

    assert score_label(col) == "hardest to forget by ε under GA (folds=2, n_models=4)"


# ---------------------------------------------------------------------------------------------- the report
def test_report_section_reads_the_banks_or_says_how_to_get_them(bank_pipe, tmp_path):
    from unlearn_core.analysis.fq_question import question_tables
    from unlearn_core.banks import bank_comparison
    from unlearn_core.report import write_report
    from unlearn_core.reproduce import forget_quality_section

    ga = bank_comparison(bank_pipe, "ga", "random", 0.1, 0, 8, compute_if_missing=True).comparison.metrics
    loss = np.asarray(bank_pipe.score("loss", 0).values)  # the one θ_o quantity computed here (cheap)
    q = question_tables(bank_pipe, [0], 0.1, n=8, kinds=("random",), methods=("ga",))
    by = q.table.set_index("method")
    assert {"retrain", "original", "original_seeds", "ga"} <= set(by.index)
    assert np.isclose(by.at["ga", "F"], ga["forget_quality"]) and by.at["original", "F"] == 0.0
    assert by.at["retrain", "F"] > by.at["original_seeds", "F"]  # the control on top
    res_n = q.resolution.set_index("method")
    assert set(res_n.index) == {"retrain", "ga"}
    for m in res_n.index:  # a smaller detectable shift at a larger N sees at least as many examples
        pct = [res_n.at[m, f"pct_seen_at_N{k}"] for k in (8, 16, 32, 64)]
        assert pct == sorted(pct) and 0 <= pct[0] and pct[-1] <= 100
    assert res_n.at["ga", "median_shift"] > res_n.at["retrain", "median_shift"]  # GA leaves more than noise
    # one forget set's comparisons (what the dashboard page shows) give the same rows; θ_o unchanged is left out
    from unlearn_core.analysis.fq_question import bank_resolution

    one = {m: bank_comparison(bank_pipe, m, "random", 0.1, 0, 8) for m in ("retrain", "ga", "original")}
    page = bank_resolution(one, 8).set_index("method")
    assert set(page.index) == {"retrain", "ga"}
    pd.testing.assert_frame_equal(page.loc[["retrain", "ga"]], res_n.loc[["retrain", "ga"]])
    # two independent retrain banks: no true spread difference, so the median ratio of their sds is near 1
    assert 0.75 < res_n.at["retrain", "median_sd_ratio"] < 1.33
    for m in res_n.index:
        pct = [res_n.at[m, f"pct_spread_seen_at_N{k}"] for k in (8, 16, 32, 64)]
        assert pct == sorted(pct)
    rho = q.rho.set_index("quantity")
    assert set(rho.index) == {"loss"}  # only what is stored: BLO and memorization are not
    res = bank_comparison(bank_pipe, "ga", "random", 0.1, 0, 8)
    from scipy import stats

    assert np.isclose(rho.at["loss", "rho_mean"], stats.spearmanr(res.comparison.eps, loss[res.forget_idx]).statistic)

    # θ_o's scores read from another store of the same setup (where LiRA's shadow models may already give
    # memorization): the same ρ; a store of another setup (another θ_o) is refused, not silently mixed in
    from unlearn_core.errors import ConfigError
    from unlearn_core.pipeline import Pipeline
    from unlearn_core.store import Store

    other = Pipeline(Store(tmp_path / "scores"), dataset="digits", model="mlp", device="cpu", train={"epochs": 10})
    other.score("loss", 0)
    q2 = question_tables(bank_pipe, [0], 0.1, n=8, kinds=("random",), methods=("ga",), score_pipe=other)
    assert q2.rho.set_index("quantity").at["loss", "rho_mean"] == rho.at["loss", "rho_mean"]
    wrong = Pipeline(Store(tmp_path / "wrong"), dataset="digits", model="mlp", device="cpu", train={"epochs": 11})
    with pytest.raises(ConfigError, match="another θ_o"):
        question_tables(bank_pipe, [0], 0.1, n=8, kinds=("random",), methods=("ga",), score_pipe=wrong)

    # the reproduction report: this store has no worst-case / lowest-loss banks for seed 1 -> how to get them and
    # the documented digits numbers, never made-up ones
    sec = forget_quality_section(bank_pipe.setup, bank_pipe.store, [1], 0.1)
    assert sec.text.startswith("Not computed") and "--eval-models" in sec.text and not sec.tables
    assert "The product's question" in sec.markdown and "| worst |" in sec.markdown
    sec0 = forget_quality_section(bank_pipe.setup, bank_pipe.store, [0], 0.1)
    assert "N = 8" in sec0.text and "F, score, KLoM P95 per set and method" in sec0.tables
    assert any(k.startswith("What N the estimator needs") for k in sec0.tables)
    write_report([], tmp_path, "t", {"wall_s": 1.0}, sections=[sec0, sec])
    md = (tmp_path / "report.md").read_text()
    assert "Forgetting quality over model banks" in md and "klom_forget_p95" in md and "Not computed" in md


def test_klom_of_all_examples_at_once_equals_the_per_example_histograms():
    """The vectorised KLoM (speed) against its rival, np.histogram per example: bitwise equal, also with ties on
    bin edges, a constant column and values beyond the clip."""
    rng = np.random.default_rng(5)
    u = np.round(rng.normal(2, 3, (16, 60)), 1)
    r = np.round(rng.normal(2.5, 2, (16, 60)), 1)
    u[:, 0] = r[:, 0] = 1.0
    u[:3, 1] = 500.0
    want = np.array([fq.klom_one(u[:, s], r[:, s]) for s in range(u.shape[1])])
    assert np.array_equal(fq.klom(u, r), want)
