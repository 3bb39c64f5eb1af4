"""GA: gradient ascent on the forget set, θ ← θ + η ∇ℓ(θ; D_f) (Thudi et al. 2022)."""
from __future__ import annotations

import torch.nn.functional as F

from ..models import Classifier
from ..training import train_loop
from ._common import method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


@register_method
class GradientAscent(UnlearnMethod):
    name = "ga"
    label = "GA"
    description = "Gradient ascent on the forget set for a few epochs with a small learning rate (Thudi et al. 2022)."
    presets = {"small": {"epochs": 5, "lr": 0.005}, "image": {"epochs": 5, "lr": 1e-4}}

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        cfg = method_cfg(inp.train_cfg, params)

        def ascent(m, x, y, i):
            return -F.cross_entropy(m(x), y)

        return train_loop(model, inp.ds, inp.forget_idx, cfg, inp.seed, loss_fn=ascent, ctx=inp.ctx, what="GA")
