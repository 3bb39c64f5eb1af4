"""ℓ1-sparse: fine-tune on D_r with an ℓ1 penalty α_t·||θ||_1, α_t decaying linearly to 0 (Jia et al. 2023).

As the reference (Unlearn-Sparse / SalUn / Unlearn-WorstCase ``unlearn/FT.py``, ``FT_iter(with_l1=True)``):
α_t = α·(1 − e/E) for every step of epoch e = 0..E−1 (constant within an epoch; the last epoch still carries α/E)
and ||θ||_1 over *all* parameters (``l1_regularization``: biases and BatchNorm included). ``alpha_schedule = "step"``
decays per optimizer step instead and ``l1_params = "weights"`` restricts the norm to the weight matrices / kernels
(this project's earlier form).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..models import Classifier
from ..training import train_loop
from ._building_blocks import method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


def l1_weight(alpha: float, step: int, steps_per_epoch: int, epochs: int, schedule: str) -> float:
    """α_t at optimizer step ``step`` (0-based): linear decay from α, per epoch ("epoch") or per step ("step")."""
    if schedule == "epoch":
        return alpha * (1 - (step // max(steps_per_epoch, 1)) / max(epochs, 1))
    return alpha * (1 - step / max(epochs * steps_per_epoch, 1))


@register_method
class L1Sparse(UnlearnMethod):
    name = "l1_sparse"
    label = "ℓ1-sparse"
    description = "FT with an ℓ1 sparsity penalty whose weight decays linearly (Jia et al. 2023, 'model sparsity')."
    uses_lambda = "alpha (ℓ1 weight)"
    presets = {"small": {"epochs": 10, "lr": 0.02, "alpha": 5e-4, "alpha_schedule": "epoch", "l1_params": "all"},
               "image": {"epochs": 10, "lr": 0.01, "alpha": 5e-4, "alpha_schedule": "epoch", "l1_params": "all"}}
    preset_notes = ("α_t = α(1 − epoch/E) and ||θ||_1 over all parameters as the reference FT.py. Image: 10 epochs, lr "
                    "0.01 (the Unlearn-Sparse README's FT_prune command); α = 5e-4 not verified against the paper's "
                    "appendix (the README leaves it open; Unlearn-WorstCase's argparse default is 1e-3, Chen et al., Forgetting Sequence "
                    "quotes 1e-5). Small: lr 0.02 chosen on digits random 10% sets.")

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        schedule, which = str(params["alpha_schedule"]), str(params["l1_params"])
        if schedule not in ("epoch", "step"):
            raise ConfigError(f"l1_sparse alpha_schedule must be epoch or step, got '{schedule}'.")
        if which not in ("all", "weights"):
            raise ConfigError(f"l1_sparse l1_params must be all or weights, got '{which}'.")
        model = inp.copy_original()
        cfg = method_cfg(inp.train_cfg, params)
        spe = math.ceil(inp.retain_idx.numel() / cfg.batch_size)
        step = [0]
        penalised = [p for p in model.parameters() if which == "all" or p.ndim > 1]
        alpha = float(params["alpha"])

        def loss_fn(m, x, y, i):
            alpha_t = l1_weight(alpha, step[0], spe, cfg.epochs, schedule)
            step[0] += 1
            l1 = torch.stack([w.abs().sum() for w in penalised]).sum()
            return F.cross_entropy(m(x), y) + alpha_t * l1

        return train_loop(model, inp.ds, inp.retain_idx, cfg, inp.seed, loss_fn=loss_fn, ctx=inp.ctx,
                          what="l1-sparse")
