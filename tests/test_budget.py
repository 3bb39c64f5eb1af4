"""Unlearning budgets relative to the training recipe (unlearn_core/budget.py): the papers' fraction of 182 epochs."""
from __future__ import annotations

import pytest

from unlearn_core.budget import paper_budget_epochs
from unlearn_core.config import config_key
from unlearn_core.errors import ConfigError
from unlearn_core.methods import get_method
from unlearn_core.training import TRAIN_PRESETS, recipe_with


def test_paper_budget_is_the_papers_fraction_of_the_recipe_with_a_floor(digits):
    ft, ga = get_method("ft"), get_method("ga")
    small = TRAIN_PRESETS["small"]  # 30 epochs
    assert ft.resolve_params(digits, None, small)["epochs"] == 2  # round(10 · 30 / 182)
    assert ft.resolve_params(digits, None, TRAIN_PRESETS["paper"])["epochs"] == 10  # the papers' own regime
    assert ft.resolve_params(digits, None, recipe_with(small, {"epochs": 91}))["epochs"] == 5
    assert ft.resolve_params(digits, None, recipe_with(small, {"epochs": 5}))["epochs"] == 1  # the floor
    assert ga.resolve_params(digits, None, small)["epochs"] == ga.min_epochs == 3  # 5·30/182 < the measured floor
    assert paper_budget_epochs(10, 1000) == 10  # never above the preset's count


def test_fixed10_keeps_the_presets_epochs_and_an_epochs_override_is_custom(digits):
    ft = get_method("ft")
    small = TRAIN_PRESETS["small"]
    fixed = ft.resolve_params(digits, {"budget": "fixed10"}, small)
    assert fixed["epochs"] == 10 and fixed["budget"] == "fixed10"
    custom = ft.resolve_params(digits, {"epochs": 7}, small)
    assert custom["epochs"] == 7 and custom["budget"] == "custom"
    with pytest.raises(ConfigError):
        ft.resolve_params(digits, {"budget": "tiny"}, small)
    for p in (fixed, custom, ft.resolve_params(digits, None, small)):
        assert ft.resolve_params(digits, p, small) == p  # resolving resolved parameters changes nothing


def test_the_run_key_changes_with_the_recipe_under_the_paper_budget(quick_pipeline):
    from unlearn_core.pipeline import Pipeline

    other = Pipeline(quick_pipeline.store, dataset="digits", model="mlp", device="cpu", train={"epochs": 60},
                     blo={"upper_iters": 8, "K": 3})
    a = quick_pipeline.run_config("ft", "random", 0.1, 0, None, "fs", "o")
    b = other.run_config("ft", "random", 0.1, 0, None, "fs", "o")
    assert a["params"]["epochs"] == 1 and b["params"]["epochs"] == 3  # 10·12/182 → floor 1; 10·60/182 = 3.3
    a_fixed = quick_pipeline.run_config("ft", "random", 0.1, 0, {"budget": "fixed10"}, "fs", "o")
    assert a_fixed["params"]["epochs"] == 10
    assert len({config_key(a), config_key(b), config_key(a_fixed)}) == 3


def test_each_run_stores_its_planned_cost_vs_retrain(quick_pipeline):
    row = quick_pipeline.run("ft", "random", 0.1, 0)
    n = quick_pipeline.ds.n_train
    # FT trains 1 epoch on D_r; Retrain 12 epochs on D_r: the plan is 1/12 whatever the set sizes
    assert row["cost_vs_retrain_plan"] == pytest.approx(1 / 12)
    rl = quick_pipeline.run("rl", "random", 0.1, 0)
    m = round(0.1 * n)
    assert rl["cost_vs_retrain_plan"] == pytest.approx(1 * n / (12 * (n - m)))  # RL trains on D_f ∪ D_r
