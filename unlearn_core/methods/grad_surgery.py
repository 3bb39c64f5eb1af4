"""Gradient surgery (Akbari et al., Machine Unlearning §3.2; reference: Akbari et al.'s code, github.com/sachit3022/unlearning,
``unl_algorithms/surgery.py``, function ``unlearning``).

Phase 1 (ascent, ``ascent_epochs`` passes over D_f in batches of ``ascent_batch_size``): for each forget batch and
a retain batch of the same size, the forget gradient g_F and retain gradient g_R of the cross-entropy (train mode)
are computed and g_F's component along g_R is removed (one Gram-Schmidt step, Eq. 3):
g_⊥ = g_F − (g_F·g_R / g_R·g_R)·g_R; then θ ascends g_⊥ with SGD at ``ascent_lr`` and momentum
``ascent_momentum`` (no weight decay), as the reference (which sets −g_⊥ as the gradient of an SGD(0.09, momentum
0.95) step). Ascending g_⊥ raises the forget loss while, to first order, leaving the retain loss unchanged.
Safeguard (ours, ``ascent_clip`` > 0; 0 = off as the reference): g_⊥ is clipped to that norm per step. Gradient
ascent feeds on itself (a growing forget loss gives a growing gradient: on digits random sets ||g_⊥|| grows ~50×
over 9 steps); without the clip the digits class-wise runs diverge to NaN.

Phase 2 (descent): fine-tune on D_r (``epochs``, ``batch_size``, initial ``lr``) with ``optimizer`` "sgd" (the
recipe's momentum) or "adamw" (the reference's), ``weight_decay`` (decoupled in AdamW), the lr decayed by
``schedule`` "cosine" or "exponential" (× ``lr_decay`` after each epoch, the reference's ExponentialLR(0.5)), and
an elastic-net penalty ``l1``·L1 + ``l2``·Σ w² (``l2`` on the weight matrices / kernels). ``l1_reduction``: "sum" =
Σ|w| over the weight matrices / kernels; "mean" = Σ over *all* parameter tensors of mean|θ| (the reference's
``get_l1_loss``: ``F.l1_loss(θ, 0)`` per tensor). The penalty confines the re-learning to a sparse part of the
model (the paper's "soft pruning"); the paper's "rather large initial learning rate" is the decayed schedule.
"""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from ..budget import effective_epochs
from ..device import autocast
from ..errors import ConfigError
from ..models import Classifier
from ..training import check_finite, get_batch, make_generator, shuffled_batches, train_loop, wants_augmentation
from ._building_blocks import cycle_batches, method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


def orthogonal_ascent_direction(g_f: list[torch.Tensor], g_r: list[torch.Tensor]) -> list[torch.Tensor]:
    """g_F minus its projection on g_R (over all parameters jointly), in float32."""
    g_f = [a.float() for a in g_f]
    g_r = [b.float() for b in g_r]
    dot = sum((a * b).sum() for a, b in zip(g_f, g_r))
    nr = sum((b * b).sum() for b in g_r)
    coef = dot / nr.clamp_min(1e-20)
    return [a - coef * b for a, b in zip(g_f, g_r)]


def elastic_net(model: torch.nn.Module, l1: float, l2: float, l1_reduction: str) -> torch.Tensor:
    """``l1``·L1 + ``l2``·Σ w² (see the module docstring for ``l1_reduction``)."""
    weights = [p for p in model.parameters() if p.ndim > 1]
    pen = torch.zeros((), device=weights[0].device)
    if l1:
        if l1_reduction == "mean":
            pen = pen + l1 * torch.stack([p.abs().mean() for p in model.parameters()]).sum()
        else:
            pen = pen + l1 * torch.stack([w.abs().sum() for w in weights]).sum()
    if l2:
        pen = pen + l2 * torch.stack([w.pow(2).sum() for w in weights]).sum()
    return pen


@register_method
class GradientSurgery(UnlearnMethod):
    name = "grad_surgery"
    label = "Grad. surgery"
    description = ("Ascend the forget gradient with its component along the retain gradient removed, then fine-tune "
                   "on D_r with an elastic-net penalty (Akbari et al., Machine Unlearning §3.2).")
    uses_lambda = "l1, l2 (elastic-net weights in the descent phase)"
    presets = {"small": {"ascent_epochs": 3, "ascent_lr": 0.3, "ascent_momentum": 0.0, "ascent_batch_size": 64,
                         "ascent_clip": 2.0, "epochs": 5, "lr": 0.05, "batch_size": 64, "optimizer": "sgd",
                         "schedule": "cosine", "lr_decay": 0.5, "weight_decay": 0.0, "l1": 1e-5,
                         "l1_reduction": "sum", "l2": 5e-4},
               "image": {"ascent_epochs": 3, "ascent_lr": 0.09, "ascent_momentum": 0.95, "ascent_batch_size": 2048,
                         "ascent_clip": 0.0, "epochs": 4, "lr": 2e-3, "batch_size": 1024, "optimizer": "adamw",
                         "schedule": "exponential", "lr_decay": 0.5, "weight_decay": 5e-4, "l1": 1e-3,
                         "l1_reduction": "mean", "l2": 0.0}}
    preset_notes = ("Image: the reference code's values (sachit3022/unlearning, unl_algorithms/surgery.py, CIFAR-10 "
                    "ResNet-18): ascent 3 passes over D_f, forget batch 2048 with a retain batch of the same size, SGD "
                    "lr 0.09, momentum 0.95, no clip; descent 4 epochs of AdamW lr 2e-3, weight decay 5e-4, lr × 0.5 "
                    "per epoch, retain batch 1024, l1 1e-3 on the per-tensor mean |θ|, no explicit l2. Small: ascent "
                    "lr/epochs and descent lr chosen on digits random 10% sets (the forget gradient of a model that fits "
                    "D_f is tiny, so plain SGD ascent needs a large step: 0.01-0.1 change nothing, 0.5 costs 3 points of "
                    "TA; the clip keeps class-wise runs finite), descent SGD with a cosine schedule and l1 1e-5 (Σ|w|) / "
                    "l2 5e-4.")

    def cost_passes(self, params: dict, n_forget: int, n_retain: int, recipe) -> float:
        """Gradient surgery: a forget and a retain gradient per step (projected): 1.5 × ``epochs`` over D_f + D_r."""
        return 1.5 * effective_epochs(params) * (n_forget + n_retain) + 0.0

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        opt_name, schedule = str(params["optimizer"]), str(params["schedule"])
        l1_red = str(params["l1_reduction"])
        if opt_name not in ("sgd", "adamw"):
            raise ConfigError(f"grad_surgery optimizer must be sgd or adamw, got '{opt_name}'.")
        if schedule not in ("cosine", "exponential"):
            raise ConfigError(f"grad_surgery schedule must be cosine or exponential, got '{schedule}'.")
        if l1_red not in ("sum", "mean"):
            raise ConfigError(f"grad_surgery l1_reduction must be sum or mean, got '{l1_red}'.")
        model = inp.copy_original()
        device = inp.device
        plist = [p for p in model.parameters() if p.requires_grad]
        abs_ = int(params["ascent_batch_size"])
        gen = make_generator(inp.seed)
        augment = wants_augmentation(inp.ds, inp.train_cfg.augment)
        retain_stream = cycle_batches(inp.retain_idx, abs_, gen)
        asc_epochs, eta = int(params["ascent_epochs"]), float(params["ascent_lr"])
        mom, clip = float(params["ascent_momentum"]), float(params["ascent_clip"])
        n_desc = max(int(params["epochs"]), 0)
        total = asc_epochs + max(n_desc, 1)
        bufs = [torch.zeros_like(p) for p in plist] if mom > 0 else None
        model.train()
        for e in range(asc_epochs):
            loss_f = None
            for ib_f in shuffled_batches(inp.forget_idx, abs_, gen):
                xf, yf = get_batch(inp.ds, ib_f, augment=augment, generator=gen)
                xr, yr = get_batch(inp.ds, next(retain_stream)[: ib_f.numel()], augment=augment, generator=gen)
                with autocast(device):
                    loss_f = F.cross_entropy(model(xf), yf)
                g_f = torch.autograd.grad(loss_f, plist)
                with autocast(device):
                    loss_r = F.cross_entropy(model(xr), yr)
                g_r = torch.autograd.grad(loss_r, plist)
                direction = orthogonal_ascent_direction(list(g_f), list(g_r))
                if clip > 0:
                    norm = torch.sqrt(sum((d ** 2).sum() for d in direction))
                    factor = (clip / (norm + 1e-12)).clamp(max=1.0)
                    direction = [d * factor for d in direction]
                with torch.no_grad():
                    for i, (p, d) in enumerate(zip(plist, direction)):
                        if bufs is not None:  # SGD momentum on the ascent direction (torch.optim.SGD semantics)
                            bufs[i].mul_(mom).add_(d.to(p.dtype))
                            d = bufs[i]
                        p.add_(d.to(p.dtype), alpha=eta)
            if loss_f is not None:
                check_finite(loss_f.detach().float(), "Gradient surgery (ascent)")
            inp.ctx.progress((e + 1) / total, f"Gradient surgery: ascent epoch {e + 1}/{asc_epochs}")

        l1, l2 = float(params["l1"]), float(params["l2"])

        def elastic_loss(m, x, y, i):
            return F.cross_entropy(m(x), y) + elastic_net(m, l1, l2, l1_red)

        wd = float(params["weight_decay"])
        cfg = method_cfg(inp.train_cfg, {**{k: v for k, v in params.items() if k != "optimizer"},
                                         "weight_decay": wd, "schedule": "cosine" if schedule == "cosine" else "constant"})
        lr0 = cfg.lr
        if opt_name == "adamw":
            opt = torch.optim.AdamW(model.parameters(), lr=lr0, weight_decay=wd)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=cfg.momentum, weight_decay=wd)
        ctx = inp.ctx.sub(asc_epochs / total, 1.0)
        if schedule == "cosine" or n_desc == 0:
            return train_loop(model, inp.ds, inp.retain_idx, cfg, inp.seed + 1, loss_fn=elastic_loss, optimizer=opt,
                              ctx=ctx, what="Gradient surgery (descent)")
        one = replace(cfg, epochs=1)
        decay = float(params["lr_decay"])
        for e in range(n_desc):  # ExponentialLR stepped once per epoch
            for group in opt.param_groups:
                group["lr"] = lr0 * decay ** e
            train_loop(model, inp.ds, inp.retain_idx, one, inp.seed + 1 + e, loss_fn=elastic_loss, optimizer=opt,
                       ctx=ctx.sub(e / n_desc, (e + 1) / n_desc), what="Gradient surgery (descent)")
        model.eval()
        return model
