"""The reproduction's verdicts: seed-paired differences with 95% t-intervals, fed synthetic numbers so that each
verdict must flip when the numbers do; the not-applicable cases; the report written by the CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from unlearn_core import reproduce as rp
from unlearn_core.cli import main
from unlearn_core.reproduce import (FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, PARTLY, Comparison, combine,
                                    t_interval, verdict_kind)

SEEDS = [0, 1, 2]


# ------------------------------------------------------------------------------------------- the statistics
def test_t_interval_is_students_t_on_the_paired_differences():
    lo, hi = t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, n 3: half-width t(0.975, 2)·1/√3 = 2.484
    assert lo == pytest.approx(2 - 4.302653 / np.sqrt(3), abs=1e-5) and hi == pytest.approx(2 + 4.302653 / np.sqrt(3), abs=1e-5)
    ref = stats.ttest_1samp([0.3, 1.1, 0.9, 1.7], 0.0).confidence_interval(0.95)
    assert t_interval([0.3, 1.1, 0.9, 1.7]) == pytest.approx((ref.low, ref.high))
    assert t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0)  # no spread: the interval is the value


def test_the_rule_calls_noise_a_finding_at_its_nominal_rate_not_the_old_one():
    """Two identical distributions, n = 3 seeds, paired: the one-sided claim 'a > b' must be declared about 2.5% of
    the time (95% two-sided interval). The old rule (mean ± 1 std bands separate) did it far more often."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3))
    new = np.mean([Comparison("d", 1, list(x - y), SEEDS).status == HOLDS for x, y in zip(a, b)])
    old = np.mean([(x.mean() - x.std(ddof=1)) > (y.mean() + y.std(ddof=1)) for x, y in zip(a, b)])
    assert 0.01 < new < 0.045 and old > 1.3 * new


def test_comparison_status_flips_with_the_numbers():
    assert Comparison("d", 1, [1.0, 1.2, 0.9], SEEDS).status == HOLDS
    assert Comparison("d", -1, [1.0, 1.2, 0.9], SEEDS).status == FAILS + " (opposite direction)"
    assert Comparison("d", 1, [1.0, -1.2, 0.9], SEEDS).status == FAILS + " (interval contains 0)"
    assert Comparison("d", 1, [1.0, 1.2], [0, 1]).status == INCONCLUSIVE  # n < 3
    assert Comparison("d", 1, [1.0, float("nan"), 1.1], SEEDS).n == 2  # a missing seed is not a zero


def test_combine_and_sub_verdicts():
    good, bad = Comparison("a", 1, [1, 1.1, 0.9], SEEDS, "RL"), Comparison("b", 1, [0, 0.1, -0.1], SEEDS, "BS")
    assert combine([good, good]) == HOLDS and combine([good, bad]) == PARTLY and combine([bad]) == FAILS
    assert combine([good, Comparison("c", 1, [1, 1], [0, 1])]) == INCONCLUSIVE
    assert rp.verdict_sentence([good, bad]) == "Sub-verdicts: RL holds; BS does not."
    assert verdict_kind(f"{NOT_APPLICABLE}: θ_o does not fit") == NOT_APPLICABLE and verdict_kind(INCONCLUSIVE) == INCONCLUSIVE


# ------------------------------------------------------------------------------------------- each finding
def _rows(method: str, selector: str, **cols) -> list[dict]:
    return [{"method": method, "selector": selector, "seed": s, **{k: v[i] for k, v in cols.items()}}
            for i, s in enumerate(SEEDS)]


def _retrain(sel_values: dict[str, tuple[list, list]]) -> pd.DataFrame:
    rows = []
    for sel, (ua, mia) in sel_values.items():
        rows += _rows("retrain", sel, UA=ua, MIA=mia, RA=[99.0] * 3, TA=[97.0] * 3)
    return pd.DataFrame(rows)


def test_finding_1_flips():
    low, high = [0.0, 0.0, 0.1], [5.0, 6.0, 5.5]
    assert rp.judge_1(_retrain({"worst": (low, low), "random": (high, high)}), {}).verdict == HOLDS
    assert rp.judge_1(_retrain({"worst": (low, high), "random": (high, high)}), {}).verdict == PARTLY
    assert rp.judge_1(_retrain({"worst": (high, high), "random": (low, low)}), {}).verdict == FAILS
    two = _retrain({"worst": (low, low), "random": (high, high)})
    assert rp.judge_1(two[two["seed"] < 2], {}).verdict == INCONCLUSIVE


def _f2_frame(gaps: dict[str, list[float]]) -> pd.DataFrame:
    rows = _rows("retrain", "worst", MIA=[10.0] * 3)
    for m, g in gaps.items():
        rows += _rows(m, "worst", MIA=[10.0 + x for x in g], gap_MIA=g)
    return pd.DataFrame(rows)


def test_finding_2_judges_each_relabeling_method_against_fan_et_als_relabeling_free_group():
    free = {m: [0.5, 0.2, 0.4] for m in rp.RELABEL_FREE}
    big = [20.0, 25.0, 22.0]
    f = rp.judge_2(_f2_frame({**free, **{m: big for m in rp.RELABELING}}), {},
                   pd.Series({0: 0.4, 1: 0.5, 2: 0.45}))
    assert f.verdict == HOLDS and "BS's adversarial label differs from y for 45.00 ± 5.00%" in f.why
    f = rp.judge_2(_f2_frame({**free, **{m: big for m in ("rl", "be", "salun")}, "bs": [0.4, 0.3, 0.5]}), {})
    assert f.verdict == PARTLY and "RL, BE, SalUn hold; BS does not" in f.why
    f = rp.judge_2(_f2_frame({**free, **{m: [0.4, 0.3, 0.5] for m in rp.RELABELING}}), {})
    assert f.verdict == FAILS
    # GA is not in the relabeling-free group: a huge GA gap changes nothing
    f = rp.judge_2(_f2_frame({**free, "ga": [90.0] * 3, **{m: big for m in rp.RELABELING}}), {})
    assert f.verdict == HOLDS
    # centre and spread are of the same quantity: the per-seed gap
    g = f.tables["gaps"].set_index("method")
    assert g.at["rl", "paired_gap_MIA_mean"] == pytest.approx(np.mean(big))
    assert g.at["rl", "paired_gap_MIA_std"] == pytest.approx(np.std(big, ddof=1))


def test_finding_3_flips_per_kept_fraction():
    def pts(worst):
        rows = []
        for f, w in zip([0.5, 0.9], worst):
            rows += [{"strategy": "worst", "kept_fraction": f, "seed": s, "test_acc": w + 0.1 * s} for s in SEEDS]
            rows += [{"strategy": "random", "kept_fraction": f, "seed": s, "test_acc": 90 + 0.12 * s} for s in SEEDS]
        return pd.DataFrame(rows)

    assert rp.judge_3(pts([95, 95]), [0.5, 0.9], {}).verdict == HOLDS
    assert rp.judge_3(pts([95, 90]), [0.5, 0.9], {}).verdict == PARTLY
    assert rp.judge_3(pts([85, 85]), [0.5, 0.9], {}).verdict == FAILS


def test_finding_4_flips_and_is_not_applicable_without_a_group_attribute(tmp_path):
    def maj(w):
        return pd.DataFrame([{"set": "worst", "seed": s, "percent": w + s} for s in SEEDS]
                            + [{"set": "random", "seed": s, "percent": 60.0 + 0.5 * s} for s in SEEDS])

    assert rp.judge_4(maj(90.0), 60.0, {}).verdict == HOLDS
    assert rp.judge_4(maj(40.0), 60.0, {}).verdict == FAILS
    from unlearn_core.data import load_dataset

    assert rp.group_reason(load_dataset("biased_digits"), rp.Setup(dataset="biased_digits")) is None
    assert "no group attribute" in rp.group_reason(load_dataset("digits"), rp.Setup())


def test_finding_5_compares_high_asr_with_random_sets():
    rhos = pd.Series({0: 0.3, 1: 0.32, 2: 0.28})
    df = _retrain({"top:lira_asr": ([20.0, 25.0, 22.0], [0] * 3), "random": ([2.0, 1.0, 1.5], [0] * 3)})
    assert rp.judge_5(rhos, df, {}, 16).verdict == HOLDS
    assert rp.judge_5(-rhos, df, {}, 16).verdict == PARTLY
    df2 = _retrain({"top:lira_asr": ([1.0, 0.5, 0.8], [0] * 3), "random": ([2.0, 1.0, 1.5], [0] * 3)})
    assert rp.judge_5(-rhos, df2, {}, 16).verdict == FAILS


def _tow(selector: str, methods, h2e, one, e2h) -> list[dict]:
    rows = []
    for m in methods:
        for prefix, vals in (("rsu:", h2e), ("", one), ("rsu_reverse:", e2h)):
            rows += _rows(prefix + m, selector, ToW=vals)
    return rows


def test_finding_6_is_judged_on_the_class_wise_ga_ablation():
    hi, lo = [0.9, 0.85, 0.88], [0.5, 0.55, 0.52]
    t6 = pd.DataFrame(_tow("random", rp.RSU_METHODS, lo, hi, hi))  # the random-set analogue says the opposite
    assert rp.judge_6(pd.DataFrame(_tow("class:9", ["ga"], hi, lo, lo)), "class:9", {}, t6).verdict == HOLDS
    f = rp.judge_6(pd.DataFrame(_tow("class:9", ["ga"], hi, lo, hi)), "class:9", {}, t6)
    assert f.verdict == PARTLY and "Table-6 analogue" in f.why and "GA (random): does not hold" in f.why
    assert rp.judge_6(pd.DataFrame(_tow("class:9", ["ga"], lo, hi, hi)), "class:9", {}).verdict == FAILS


def test_rsu_budgets_are_equal_in_forget_set_visits():
    for e in (1, 4, 5, 10):
        one, staged = rp.rsu_budgets(e, 3)
        k, t = staged["rsu_stage_epochs"], staged["rsu_stages"]
        assert one["epochs"] == pytest.approx(sum(k * (i + 1) / t for i in range(t)))  # Σ_t k·|D_t|/|D_f|


def test_finding_7_flips_worst_against_the_lowest_loss_set():
    def frame(worst_ua, low_ua, worst_gap, low_gap):
        rows = _rows("retrain", "worst", UA=worst_ua, MIA=worst_ua) + _rows("retrain", rp.LOWEST_LOSS, UA=low_ua,
                                                                             MIA=low_ua)
        for m in rp.F7_METHODS:
            rows += _rows(m, "worst", avg_gap=worst_gap) + _rows(m, rp.LOWEST_LOSS, avg_gap=low_gap)
        return pd.DataFrame(rows)

    z, hi = [0.0, 0.1, 0.0], [3.0, 4.0, 3.5]
    assert rp.judge_7(frame(z, hi, hi, z), {}).verdict == HOLDS
    f = rp.judge_7(frame(z, z, z, z), {}, pd.Series({0: 0.95, 1: 0.93, 2: 0.96}))
    assert f.verdict == FAILS and "almost exactly the lowest-loss set; the sort costs nothing" in f.why
    assert rp.judge_7(frame(z, hi, z, z), {}).verdict == PARTLY


def test_fit_gate():
    assert rp.fit_reason(pd.Series([99.0, 98.0, 99.5])) is None
    assert rp.fit_reason(pd.Series([64.0, 63.0, 65.0])) == "θ_o does not fit its training set (RA 64.0%, below 95%)"


# ------------------------------------------------------------------------------------------- end to end
def test_reproduce_on_an_unfit_theta_o_says_not_applicable_and_computes_nothing_else(tmp_path, capsys):
    from unlearn_core.store import Store

    code = main(["reproduce", "--cache-dir", str(tmp_path / "c"), "--seeds", "3", "--epochs", "1",
                 "--findings", "1,4,7", "--out", str(tmp_path / "report"), "--quiet"])
    assert code == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    v = {f["number"]: f["verdict"] for f in summary["findings"]}
    assert v[1].startswith(f"{NOT_APPLICABLE}: θ_o does not fit its training set (RA ") and v[7] == v[1]
    assert v[4].startswith(f"{NOT_APPLICABLE}: the data set 'digits' has no group attribute")
    assert not Store(tmp_path / "c").list_runs("unlearn")  # nothing beyond θ_o was trained
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Challenging Forgets" in html and "seed 000" not in html and "t-intervals" in html


def test_reproduce_writes_a_report_with_computed_verdicts(tmp_path, capsys):
    code = main(["reproduce", "--cache-dir", str(tmp_path / "c"), "--seeds", "2", "--epochs", "12",
                 "--findings", "1", "--blo", '{"upper_iters": 3}', "--out", str(tmp_path / "report"), "--quiet"])
    assert code == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    (f,) = summary["findings"]
    assert f["verdict"] == INCONCLUSIVE and "n = 2" in f["why"]  # two seeds: no verdict
    assert "Retrain" in (tmp_path / "report" / "report.md").read_text()


def test_reproduce_refuses_bad_input_before_computing(tmp_path, capsys):
    assert main(["reproduce", "--cache-dir", str(tmp_path), "--findings", "8"]) == 2
    assert "1-7" in capsys.readouterr().err
