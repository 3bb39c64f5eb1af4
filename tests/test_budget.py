"""Unlearning budgets relative to the training recipe (unlearn_core/budget.py): the papers' fraction of 182 epochs."""
from __future__ import annotations

import math

import pytest
import torch

from unlearn_core.budget import paper_budget, paper_budget_epochs, planned_steps
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
    assert ft.resolve_params(digits, None, recipe_with(small, {"epochs": 5}))["epochs"] == 1  # a partial pass
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
    assert a["params"]["epochs"] == 1 and b["params"]["epochs"] == 3  # 10·12/182 = 0.66 of one pass; 10·60/182 = 3.3
    assert a["params"]["epoch_fraction"] == pytest.approx(10 * 12 / 182, abs=1e-4) and "epoch_fraction" not in b["params"]
    a_fixed = quick_pipeline.run_config("ft", "random", 0.1, 0, {"budget": "fixed10"}, "fs", "o")
    assert a_fixed["params"]["epochs"] == 10
    assert len({config_key(a), config_key(b), config_key(a_fixed)}) == 3


def test_each_run_stores_its_planned_cost_vs_retrain(quick_pipeline):
    row = quick_pipeline.run("ft", "random", 0.1, 0)
    n = quick_pipeline.ds.n_train
    m = round(0.1 * n)
    f = round(10 * 12 / 182, 4)
    # FT trains 0.66 of an epoch on D_r; Retrain 12 epochs on D_r: the plan is 0.66/12 whatever the set sizes
    assert row["cost_vs_retrain_plan"] == pytest.approx(f / 12)
    # the resolved budget in optimizer steps is stored with the run: ceil(f · batches of D_r), batch 128
    assert row["unlearn_steps"] == max(8, math.ceil(f * math.ceil((n - m) / 128)))
    rl = quick_pipeline.run("rl", "random", 0.1, 0)
    assert rl["cost_vs_retrain_plan"] == pytest.approx(f * n / (12 * (n - m)))  # RL trains on D_f ∪ D_r
    assert rl["unlearn_steps"] == max(8, math.ceil(f * math.ceil(n / 128)))


def test_a_partial_epoch_budget_takes_the_papers_fraction_in_steps_with_a_floor():
    # gray_small: 4 epochs. FT's 10 of 182 epochs → 0.22 of one pass (the papers' 5.5% of Retrain), not a whole epoch
    epochs, frac = paper_budget(10, 4)
    assert epochs == 1 and frac == pytest.approx(10 * 4 / 182, abs=1e-4)
    assert planned_steps(epochs, frac, 141) == math.ceil(frac * 141)  # 9,000 retain samples, batch 64
    assert planned_steps(epochs, frac, 10, min_steps=8) == 8  # the floor binds on a small set
    assert planned_steps(epochs, frac, 5, min_steps=8) == 5  # never more than one epoch
    assert planned_steps(3, 1.0, 7) == 21 and paper_budget(10, 182) == (10, 1.0)
    assert paper_budget(5, 4, min_epochs=3) == (3, 1.0)  # a whole-epoch floor where a partial pass was measured inert


def test_train_loop_stops_after_the_planned_steps_mid_epoch(digits):
    from unlearn_core.methods._building_blocks import method_cfg
    from unlearn_core.training import count_steps, new_model, steps_of, train_loop

    idx = torch.arange(600)
    cfg = method_cfg(TRAIN_PRESETS["small"], {"epochs": 1, "epoch_fraction": 0.3, "min_steps": 0, "lr": 0.02})
    assert steps_of(cfg, 600) == 2  # ceil(0.3 · 5 batches of 128)
    model = new_model("mlp", digits, 0, torch.device("cpu"))
    start = [p.detach().clone() for p in model.parameters()]
    with count_steps() as outer:
        with count_steps() as inner:
            train_loop(model, digits, idx, cfg, 0)
        assert inner[0] == 2
    assert outer[0] == 2  # nested counters pass their steps on
    assert any(not torch.equal(a, b) for a, b in zip(start, model.parameters()))


def test_custom_partial_budget_is_validated(digits):
    ft = get_method("ft")
    p = ft.resolve_params(digits, {"epoch_fraction": 0.5}, TRAIN_PRESETS["small"])
    assert p["budget"] == "custom" and p["epoch_fraction"] == 0.5 and p["min_steps"] == ft.min_steps
    assert ft.resolve_params(digits, p, TRAIN_PRESETS["small"]) == p
    for bad in ({"epoch_fraction": 0}, {"epoch_fraction": 1.5}, {"epoch_fraction": "x"}, {"min_steps": -1}):
        with pytest.raises(ConfigError):
            ft.resolve_params(digits, bad, TRAIN_PRESETS["small"])


def test_staged_wrappers_keep_the_inner_methods_floor_and_explicit_stage_epochs():
    """RSU around GA keeps GA's measured 3-epoch floor at the papers' budget (a 0.82-epoch partial pass of GA does
    not act), and explicit per-stage epochs (finding 6's equal budgets) are whole epochs, never a partial pass."""
    from unlearn_core.config import Setup
    from unlearn_core.methods import get_method

    r = Setup().resolve()
    ga = get_method("ga")
    for name in ("rsu:ga", "rsu_reverse:ga"):
        p = get_method(name).resolve_params(r.ds, {"rsu_stages": 3, "rsu_stage_epochs": 2}, r.recipe)
        assert p["epochs"] == ga.min_epochs >= 3 and "epoch_fraction" not in p
