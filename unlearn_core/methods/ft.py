"""FT: fine-tune θ_o on the retain set D_r (catastrophic forgetting of D_f; Warnecke et al. 2021)."""
from __future__ import annotations

from ..models import Classifier
from ..training import train_loop
from ._building_blocks import method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


@register_method
class FineTune(UnlearnMethod):
    name = "ft"
    label = "FT"
    description = "Fine-tune the original model on the retain set only (Fan et al., Challenging Forgets Table 1; Warnecke et al. 2021)."
    presets = {"small": {"epochs": 10, "lr": 0.02}, "image": {"epochs": 10, "lr": 0.01}}
    preset_notes = ("Image: 10 epochs, lr 0.01 (the Unlearn-Sparse README's FT command; Chen et al., Forgetting Sequence: lr in [0.01, 0.1]). "
                    "Small: lr 0.02 chosen on digits random 10% sets.")

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        return train_loop(model, inp.ds, inp.retain_idx, method_cfg(inp.train_cfg, params), inp.seed,
                          ctx=inp.ctx, what="FT")
