"""CF-k: catastrophically forget with the last k layers (Goel et al. 2022; Fan et al., Challenging Forgets Table 1).

Fine-tune only the last ``k`` layer groups (``model.layer_groups()``, head last) of θ_o on D_r; the rest is frozen
(frozen BatchNorm layers stay in eval mode, so their running statistics are untouched too).
"""
from __future__ import annotations

from ..models import Classifier
from ..training import train_loop
from ._building_blocks import PartialTrain, all_trainable, last_k_groups, method_cfg, train_only
from .base import UnlearnInput, UnlearnMethod, register_method


@register_method
class CFk(UnlearnMethod):
    name = "cf_k"
    label = "CF-k"
    description = ("Fine-tune only the last k layer groups of the original model on the retain set "
                   "(Goel et al. 2022; Fan et al., Challenging Forgets Table 1).")
    partial_update = True
    presets = {"small": {"k": 1, "epochs": 10, "lr": 0.05},
               "image": {"k": 1, "epochs": 10, "lr": 0.01}}
    preset_notes = "k = 1 (the head) by default; lr as EU-k (digits random 10% sets)."

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        last, rest = last_k_groups(model, int(params["k"]))
        trainable = train_only(model, last)
        wrapped = PartialTrain(model, rest)
        train_loop(wrapped, inp.ds, inp.retain_idx, method_cfg(inp.train_cfg, params), inp.seed, params=trainable,
                   ctx=inp.ctx, what=f"CF-{int(params['k'])}")
        return all_trainable(model)
