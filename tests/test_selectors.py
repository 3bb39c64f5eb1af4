"""Forget-set selectors: worst-case / easiest differ from random and each other; bad input is refused."""
from __future__ import annotations

import numpy as np
import pytest

from unlearn_core.errors import ConfigError
from unlearn_core.selectors import overlap, parse_selector, select_forget_set


def test_worst_easiest_random_differ(quick_pipeline):
    p = quick_pipeline
    worst = p.forget_set("worst", 0.1, 0).forget_idx
    easiest = p.forget_set("easiest", 0.1, 0).forget_idx
    rand = p.forget_set("random", 0.1, 0).forget_idx
    m = round(0.1 * p.ds.n_train)
    assert len(worst) == len(easiest) == len(rand) == m
    assert len(np.unique(worst)) == m
    # Top-m and bottom-m of the same weights are disjoint; both are far from a random draw.
    assert overlap(worst, easiest) == 0.0
    assert overlap(worst, rand) < 0.5 and overlap(easiest, rand) < 0.5
    # The worst-case set holds low-loss (hard to forget) samples, the easiest set high-loss ones.
    loss = p.score("loss", 0).values
    assert loss[worst].mean() < loss[easiest].mean()


def test_blo_trace_is_recorded(quick_pipeline):
    res = quick_pipeline.score("blo", 0, 0.1)
    trace = res.extras["trace"]
    assert 1 <= len(trace) == res.extras["iterations"] <= 8  # upper_iters=8 caps it; convergence may stop earlier
    assert {"objective", "overlap_prev", "overlap_start", "overlap_lowloss", "sample_passes", "topm_overlap",
            "mean_loss_topm"} <= set(trace[0])
    assert float(np.asarray(res.values).sum()) == pytest.approx(round(0.1 * quick_pipeline.ds.n_train), abs=1e-2)


def test_random_is_seeded_and_score_selectors(quick_pipeline, digits):
    a = quick_pipeline.forget_set("random", 0.05, 3).forget_idx
    b = quick_pipeline.forget_set("random", 0.05, 3).forget_idx
    c = quick_pipeline.forget_set("random", 0.05, 4).forget_idx
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    loss = quick_pipeline.score("loss", 0).values
    top = quick_pipeline.forget_set("top:loss", 0.05, 0).forget_idx
    bottom = quick_pipeline.forget_set("bottom:loss", 0.05, 0).forget_idx
    assert loss[top].min() >= loss[bottom].max()
    strat = quick_pipeline.forget_set("random+strat", 0.1, 0)
    hist = np.array(strat.info["class_histogram"])
    assert hist.sum() == strat.size and hist.min() >= 13  # ~14 per class of ~144


def test_class_selectors(quick_pipeline, digits):
    fs = quick_pipeline.forget_set("class:3", None, 0)
    y = digits.y_train.numpy()
    assert fs.forget_classes == [3]
    assert np.array_equal(fs.forget_idx, np.flatnonzero(y == 3))
    wc = quick_pipeline.forget_set("worst_class:2", None, 0)
    assert len(wc.forget_classes) == 2
    assert set(np.unique(y[wc.forget_idx])) == set(wc.forget_classes)


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.0, 1.5, float("nan")])
def test_invalid_ratio_is_refused(ratio, digits):
    with pytest.raises(ConfigError, match="ratio"):
        select_forget_set("random", digits, ratio, 0, lambda *a: None)


def test_empty_forget_set_is_refused(digits):
    with pytest.raises(ConfigError, match="empty"):
        select_forget_set("random", digits, 1e-6, 0, lambda *a: None)


@pytest.mark.parametrize("name", ["worse", "top:nosuchscore", "class:", "class:x", "mixed:2", "worst_class:0", ""])
def test_unknown_or_malformed_selector(name):
    with pytest.raises(ConfigError):
        parse_selector(name)


def test_class_out_of_range(digits):
    with pytest.raises(ConfigError, match="out of range"):
        select_forget_set("class:12", digits, None, 0, lambda *a: None)


def test_worst_case_is_reported_beside_the_lowest_loss_set(quick_pipeline):
    """The sort is a standing rival: the overlap of the worst case with bottom:loss and BLO's objective of the random,
    worst-case and lowest-loss sets under BLO's own lower level; the plain-words verdict follows the overlap."""
    from unlearn_core.grid import DEFAULT_SELECTORS, worst_vs_lowloss
    from unlearn_core.scores.blo import SORT_COSTS_NOTHING, SORT_COSTS_NOTHING_TEXT

    assert {"worst", "bottom:loss"} <= set(DEFAULT_SELECTORS)
    rep = worst_vs_lowloss(quick_pipeline, 0.1, [0])
    row = rep["per_seed"][0]
    worst = quick_pipeline.forget_set("worst", 0.1, 0).forget_idx
    low = quick_pipeline.forget_set("bottom:loss", 0.1, 0).forget_idx
    assert row["overlap"] == pytest.approx(overlap(worst, low))
    assert set(row["objective"]) == {"random", "worst", "lowest loss"}
    # both hard sets stay far easier than a random one after BLO's lower level unlearns them
    assert max(row["objective"]["worst"], row["objective"]["lowest loss"]) < row["objective"]["random"]
    assert (rep["verdict"] is not None) == (rep["overlap_mean"] >= SORT_COSTS_NOTHING)
    if rep["verdict"]:
        assert rep["verdict"].startswith(SORT_COSTS_NOTHING_TEXT)
