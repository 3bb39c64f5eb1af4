"""EU-k: exact unlearning restricted to the last k layers (Goel et al. 2022; Fan et al., Challenging Forgets Table 1).

The last ``k`` layer groups of the model (``model.layer_groups()``; the head is the last group) are
re-initialised and trained on D_r; every other parameter stays frozen at θ_o. Frozen BatchNorm layers are kept in
eval mode, so the frozen part computes exactly what it computed in θ_o (running statistics included).
"""
from __future__ import annotations

from torch import nn

from ..models import Classifier
from ..training import seeded_init, train_loop
from ._building_blocks import PartialTrain, all_trainable, last_k_groups, method_cfg, train_only
from .base import UnlearnInput, UnlearnMethod, register_method


def reinit_modules(modules: list[nn.Module], seed: int) -> None:
    """Re-initialise every sub-module that has ``reset_parameters`` (Linear, Conv, BatchNorm incl. running stats)."""
    with seeded_init(seed):
        for group in modules:
            for m in group.modules():
                if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
                    m.reset_parameters()


@register_method
class EUk(UnlearnMethod):
    name = "eu_k"
    label = "EU-k"
    description = ("Re-initialise the last k layer groups and train only them on the retain set, rest frozen "
                   "(Goel et al. 2022; Fan et al., Challenging Forgets Table 1).")
    reinit = True
    partial_update = True
    presets = {"small": {"k": 1, "epochs": 10, "lr": 0.05},
               "image": {"k": 1, "epochs": 10, "lr": 0.05}}
    preset_notes = ("k = 1 (the head) by default for both families; raise k to re-learn more of the network. "
                    "lr chosen on digits random 10% forget sets so that the re-learnt head reaches the original's "
                    "retain accuracy in 10 epochs.")

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        last, rest = last_k_groups(model, int(params["k"]))
        reinit_modules(last, inp.seed + 17)
        trainable = train_only(model, last)
        wrapped = PartialTrain(model, rest)
        train_loop(wrapped, inp.ds, inp.retain_idx, method_cfg(inp.train_cfg, params), inp.seed, params=trainable,
                   ctx=inp.ctx, what=f"EU-{int(params['k'])}")
        return all_trainable(model)
