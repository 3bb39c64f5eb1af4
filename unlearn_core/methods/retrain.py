"""Retrain: exact unlearning, train from scratch on D_r with the original recipe (the gold standard)."""
from __future__ import annotations

from ..models import Classifier
from ..training import train_model
from .base import UnlearnInput, UnlearnMethod, register_method


@register_method
class Retrain(UnlearnMethod):
    name = "retrain"
    label = "Retrain"
    description = "Train from scratch on the retain set with the original recipe (exact unlearning; Fan et al., Challenging Forgets Table 1)."
    reinit = True
    exact = True
    presets = {"small": {}, "image": {}}

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        return train_model(inp.model_name, inp.ds, inp.retain_idx, inp.train_cfg, seed=inp.seed + 1000,
                           ctx=inp.ctx, what="Retrain")
