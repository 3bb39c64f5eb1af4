"""ℓ1-sparse: fine-tune on D_r with an ℓ1 penalty α_t·||θ||_1, α_t decaying linearly to 0 (Jia et al. 2023)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..models import Classifier
from ..training import train_loop
from ._common import method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


@register_method
class L1Sparse(UnlearnMethod):
    name = "l1_sparse"
    label = "ℓ1-sparse"
    description = "FT with an ℓ1 sparsity penalty whose weight decays linearly (Jia et al. 2023, 'model sparsity')."
    uses_lambda = "alpha (ℓ1 weight)"
    presets = {"small": {"epochs": 10, "lr": 0.02, "alpha": 5e-4}, "image": {"epochs": 10, "lr": 0.01, "alpha": 5e-4}}

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        cfg = method_cfg(inp.train_cfg, params)
        total = cfg.epochs * math.ceil(inp.retain_idx.numel() / cfg.batch_size)
        step = [0]
        weights = [p for n, p in model.named_parameters() if p.ndim > 1]

        def loss_fn(m, x, y, i):
            alpha_t = params["alpha"] * (1 - step[0] / max(total, 1))
            step[0] += 1
            l1 = torch.stack([w.abs().sum() for w in weights]).sum()
            return F.cross_entropy(m(x), y) + alpha_t * l1

        return train_loop(model, inp.ds, inp.retain_idx, cfg, inp.seed, loss_fn=loss_fn, ctx=inp.ctx,
                          what="l1-sparse")
