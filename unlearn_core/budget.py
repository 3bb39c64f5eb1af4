"""Unlearning budgets relative to the training recipe (no torch; imported by the methods and by validation).

The papers run FT/RL/SalUn/BE/BS/SCRUB/ℓ1-sparse for 10 epochs and GA for 5 against a 182-epoch training (Fan et
al., *Challenging Forgets*, public code; Chen et al., *Machine Unlearning in Forgetting Sequence*), i.e. ≈ 5.5%
(GA 2.7%) of Retrain's cost. A method preset's ``epochs`` is that count *at the papers' training length*. Under the
default budget ``paper`` a run resolves it to the same fraction of the recipe it unlearns,
f = epochs · recipe_epochs / 182:

* f ≥ 1: round(f) whole epochs (at most the preset's own count);
* f < 1: one partial pass, ``epoch_fraction`` = f of an epoch, i.e. ceil(f · steps per epoch) optimizer steps over
  the set the method trains on, at least ``min_steps`` (the measured floor at which the method still acts;
  stored in the parameters with the fraction) and at most one epoch. A 4-epoch recipe thus gives FT 0.22 of an
  epoch (≈ 5.5% of Retrain, the papers' ratio) instead of a whole epoch (25%).

A method may also declare ``min_epochs`` (a floor in whole epochs measured where a partial pass does not act,
e.g. GA at its small-family learning rate). ``fixed10`` keeps the preset's epochs as they are (10, GA 5: this
project's earlier behaviour); ``custom`` is whatever a user gives (an ``epochs`` override without a budget means
custom). The resolved epochs (and fraction) are part of a run's parameters, hence of its key: the key changes when
the recipe does. Runs whose budget is whole epochs carry no ``epoch_fraction`` key, so their keys are unchanged.
"""
from __future__ import annotations

import math
from typing import Any

PAPER_TRAIN_EPOCHS = 182
BUDGETS = ("paper", "fixed10", "custom")
DEFAULT_BUDGET = "paper"
# The fewest optimizer steps of a partial-epoch budget (methods override ``min_steps``), measured with
# benchmarks/budget_floor.py (random 10% sets, custom partial passes from θ_o): on the 10k gray-28 set (batch 64,
# seed 0) RL leaves θ_o's UA/MIA (0.10/1.90) nearly as they are at 2 and 4 steps (0.20/2.70, 0.20/3.10) and acts
# from 8 (2.70/10.70; 16: 4.90/15.00); FT moves MIA by +0.1 to +0.5 at 2–16 steps. On digits (batch 128, 3 seeds)
# RL's MIA moves from 8 steps (+1.16 ± 1.06), FT's by +0.46 ± 0.40 at 8, nothing at 1–2. So 8 steps.
DEFAULT_MIN_STEPS = 8
FRACTION_DIGITS = 4  # the stored fraction is rounded, so resolving twice gives identical parameters


def paper_fraction(preset_epochs: float, recipe_epochs: int) -> float:
    """The papers' epochs scaled to the recipe: preset_epochs · recipe_epochs / 182 (in epochs of the method)."""
    return float(preset_epochs) * int(recipe_epochs) / PAPER_TRAIN_EPOCHS


def paper_budget(preset_epochs: int, recipe_epochs: int, min_epochs: int = 0) -> tuple[int, float]:
    """(epochs, epoch_fraction) of the ``paper`` budget; epoch_fraction < 1 means one partial pass."""
    f = min(paper_fraction(preset_epochs, recipe_epochs), float(preset_epochs))
    if int(min_epochs) >= 1 and f < int(min_epochs):
        return int(min_epochs), 1.0
    if f >= 1.0:
        return int(min(max(int(round(f)), 1), max(int(preset_epochs), 1))), 1.0
    return 1, max(round(f, FRACTION_DIGITS), 10.0 ** -FRACTION_DIGITS)


def paper_budget_epochs(preset_epochs: int, recipe_epochs: int, min_epochs: int = 1) -> int:
    """Whole epochs of the ``paper`` budget (a partial pass counts as its 1 epoch); see :func:`paper_budget`."""
    return paper_budget(preset_epochs, recipe_epochs, min_epochs)[0]


def planned_steps(epochs: int, epoch_fraction: float, steps_per_epoch: int, min_steps: int = 0) -> int:
    """Optimizer steps of a budget over a set of ``steps_per_epoch`` batches: every batch of ``epochs`` epochs, or
    for a partial pass ceil(fraction · steps_per_epoch), at least ``min_steps``, at most one epoch."""
    spe = max(int(steps_per_epoch), 0)
    if float(epoch_fraction) >= 1.0:
        return int(epochs) * spe
    return min(spe, max(int(min_steps), math.ceil(float(epoch_fraction) * spe)))


def effective_epochs(params: dict[str, Any]) -> float:
    """Epochs a method's parameters ask for, a partial pass counted as its fraction (the floor in steps aside)."""
    return float(params.get("epochs", 0) or 0) * float(params.get("epoch_fraction", 1.0))


def budget_text(params: dict[str, Any] | None) -> str:
    """'paper · 2 ep', 'paper · 0.22 ep' — a run's budget and its resolved epochs; '—' if it has none."""
    p = params or {}
    if "epochs" not in p:
        return "—"
    frac = float(p.get("epoch_fraction", 1.0))
    ep = f"{frac:.2g} ep" if frac < 1.0 else f"{p['epochs']} ep"
    return f"{p.get('budget', 'custom')} · {ep}"
