"""Unlearning budgets relative to the training recipe (no torch; imported by the methods and by validation).

The papers run FT/RL/SalUn/BE/BS/SCRUB/ℓ1-sparse for 10 epochs and GA for 5 against a 182-epoch training (Fan et
al., *Challenging Forgets*, public code; Chen et al., *Machine Unlearning in Forgetting Sequence*), i.e. ≈ 5.5%
(GA 2.7%) of Retrain's cost. A method preset's ``epochs`` is that count *at the papers' training length*. Under the
default budget ``paper`` a run resolves it to the same fraction of the recipe it unlearns,
round(epochs · recipe_epochs / 182), at least the method's ``min_epochs`` (the floor at which it still acts), so a
short CPU recipe keeps the papers' cost ratio instead of turning FT into a warm-started retraining. ``fixed10``
keeps the preset's epochs as they are (10, GA 5: this project's earlier behaviour); ``custom`` is whatever epochs a
user gives (an ``epochs`` override without a budget means custom). The resolved epochs are part of a run's
parameters, hence of its key: the key changes when the recipe does.
"""
from __future__ import annotations

PAPER_TRAIN_EPOCHS = 182
BUDGETS = ("paper", "fixed10", "custom")
DEFAULT_BUDGET = "paper"


def paper_budget_epochs(preset_epochs: int, recipe_epochs: int, min_epochs: int = 1) -> int:
    """round(preset_epochs · recipe_epochs / 182), at least ``min_epochs``, at most the preset's own count."""
    scaled = int(round(float(preset_epochs) * int(recipe_epochs) / PAPER_TRAIN_EPOCHS))
    return int(min(max(scaled, int(min_epochs)), max(int(preset_epochs), int(min_epochs))))
