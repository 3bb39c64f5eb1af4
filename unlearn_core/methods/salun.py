"""SalUn: saliency unlearning (Fan et al. 2024; Table 1 of Fan et al., Challenging Forgets).

1. Saliency: the gradient of the forget loss (cross-entropy on D_f, θ_o in eval mode, batched) w.r.t. every
   parameter; the mask keeps the top ``sparsity`` fraction of |∇| over *all* parameters (one global threshold).
2. RL restricted to the mask: fine-tune on D_f with random labels together with D_r (exactly ``rl``'s loss:
   labels redrawn every epoch, true class allowed, as the reference SalUn code; ``redraw_labels`` /
   ``exclude_true_class`` as in ``rl``), updating only masked weights. Masked-out weights stay exactly at θ_o: their gradients are zeroed before each optimizer
   step (no momentum builds up) and their values are re-imposed from θ_o after each step (so weight decay or Adam
   cannot make them drift either). BatchNorm running statistics are buffers, not parameters, and do update.
"""
from __future__ import annotations

import torch

from ..budget import effective_epochs
from ..models import Classifier
from ..training import train_loop
from ._building_blocks import batch_mean_grad, full_precision, masked_optimizer, method_cfg, restore_masked
from .base import UnlearnInput, UnlearnMethod, register_method
from .rl import rl_loss


def saliency_masks(model: torch.nn.Module, ds, forget_idx: torch.Tensor, fraction: float, batch_size: int = 512
                   ) -> list[torch.Tensor]:
    """0/1 masks (one per parameter, same order as ``model.parameters()``) selecting the top ``fraction`` of
    |∇ forget loss| over all parameters."""
    params = list(model.parameters())
    was_training = model.training
    model.eval()
    with full_precision():
        g = batch_mean_grad(model, ds, forget_idx, batch_size, params).abs()
    model.train(was_training)
    n_keep = int(round(float(fraction) * g.numel()))
    flat = torch.zeros_like(g, dtype=torch.bool)
    if n_keep > 0:
        flat[torch.topk(g, n_keep, sorted=False).indices] = True
    masks, off = [], 0
    for p in params:
        masks.append(flat[off:off + p.numel()].view_as(p).to(p.dtype))
        off += p.numel()
    return masks


@register_method
class SalUn(UnlearnMethod):
    name = "salun"
    label = "SalUn"
    description = ("Gradient-saliency mask (top fraction of |∇ forget loss|) + random labeling updating only the "
                   "masked weights (Fan et al. 2024; Table 1 of Fan et al., Challenging Forgets).")
    relabeling = True
    partial_update = True
    uses_lambda = "1 (D_f with random labels and D_r mixed, as RL)"
    presets = {"small": {"epochs": 10, "lr": 0.02, "sparsity": 0.5, "redraw_labels": True,
                         "exclude_true_class": False},
               "image": {"epochs": 10, "lr": 0.013, "sparsity": 0.5, "redraw_labels": True,
                         "exclude_true_class": False}}
    preset_notes = ("sparsity = fraction of weights that may change: 0.5, the mask the SalUn README uses "
                    "(mask/with_0.5.pt); global top-k of |∇ forget loss| in eval mode, as generate_mask.py. "
                    "Random labels redrawn every epoch, true class allowed (reference unlearn/RL.py). Image: 10 "
                    "epochs, lr 0.013 (the README's CIFAR-10 10% example); small: lr 0.02 as RL, chosen on digits "
                    "random 10% sets.")

    def cost_passes(self, params: dict, n_forget: int, n_retain: int, recipe) -> float:
        """SalUn: RL's ``epochs`` passes over D_f + D_r, plus the saliency map (2 passes over D_f)."""
        return 1.0 * effective_epochs(params) * (n_forget + n_retain) + 2.0 * n_forget

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        frac = float(params["sparsity"])
        if not 0.0 <= frac <= 1.0:
            from ..errors import ConfigError
            raise ConfigError(f"SalUn sparsity must be in [0, 1], got {frac}.")
        model = inp.copy_original()
        masks = saliency_masks(model, inp.ds, inp.forget_idx, frac)
        params_list = list(model.parameters())
        frozen = [p.detach().clone() for p in params_list]
        cfg = method_cfg(inp.train_cfg, params)
        opt = masked_optimizer(params_list, {id(p): m for p, m in zip(params_list, masks)}, cfg)
        idx = torch.cat([inp.forget_idx, inp.retain_idx])
        train_loop(model, inp.ds, idx, cfg, inp.seed, loss_fn=rl_loss(inp, params), optimizer=opt,
                   after_step=restore_masked(params_list, masks, frozen), ctx=inp.ctx, what="SalUn")
        return model
