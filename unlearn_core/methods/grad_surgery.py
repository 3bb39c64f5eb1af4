"""Gradient surgery (seed 002 §3.2).

Phase 1 (ascent, ``ascent_epochs`` passes over D_f): for each forget batch and a random retain batch, the forget
gradient g_F and retain gradient g_R of the cross-entropy are computed and g_F's component along g_R is removed
(one Gram-Schmidt step, Eq. 3): g_⊥ = g_F − (g_F·g_R / g_R·g_R)·g_R; then θ ← θ + η_a·g_⊥ (plain SGD ascent, no
momentum, no weight decay). Ascending g_⊥ raises the forget loss while, to first order, leaving the retain loss
unchanged. Safeguard (ours): g_⊥ is clipped to norm ``ascent_clip`` per step. Gradient ascent feeds on itself (a
growing forget loss gives a growing gradient: on digits random sets ||g_⊥|| grows ~50× over 9 steps); without the
clip the class-wise runs diverge to NaN. With the digits preset it binds only in the last ascent steps.

Phase 2 (descent): fine-tune on D_r with a comparatively large initial lr (cosine-decayed) and an elastic-net
penalty ``l1``·||w||₁ + ``l2``·||w||₂² on the weight matrices / kernels, which confines the re-learning to a
sparse part of the model (the paper's "soft pruning").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..device import autocast
from ..models import Classifier
from ..training import check_finite, get_batch, make_generator, shuffled_batches, train_loop, wants_augmentation
from ._common import cycle_batches, method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


def orthogonal_ascent_direction(g_f: list[torch.Tensor], g_r: list[torch.Tensor]) -> list[torch.Tensor]:
    """g_F minus its projection on g_R (over all parameters jointly)."""
    dot = sum((a.float() * b.float()).sum() for a, b in zip(g_f, g_r))
    nr = sum((b.float() * b.float()).sum() for b in g_r)
    coef = dot / nr.clamp_min(1e-20)
    return [a - coef.to(a.dtype) * b for a, b in zip(g_f, g_r)]


@register_method
class GradientSurgery(UnlearnMethod):
    name = "grad_surgery"
    label = "Grad. surgery"
    description = ("Ascend the forget gradient with its component along the retain gradient removed, then fine-tune "
                   "on D_r with an elastic-net penalty (seed 002 §3.2).")
    uses_lambda = "l1, l2 (elastic-net weights in the descent phase)"
    presets = {"small": {"ascent_epochs": 3, "ascent_lr": 0.3, "ascent_clip": 2.0, "epochs": 5, "lr": 0.05,
                         "l1": 1e-5, "l2": 5e-4, "batch_size": 64},
               "image": {"ascent_epochs": 2, "ascent_lr": 1e-3, "ascent_clip": 2.0, "epochs": 10, "lr": 0.05,
                         "l1": 1e-6, "l2": 5e-4, "batch_size": 128}}
    preset_notes = ("Ascent lr/epochs and descent lr chosen on digits random 10% sets (the forget gradient of a "
                    "model that fits D_f is tiny, so the ascent needs a large step: 0.01-0.1 change nothing, 0.5 "
                    "costs 3 points of TA); descent uses a cosine schedule from the larger initial lr, as the paper "
                    "describes. The image ascent lr is untuned.")

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        device = inp.device
        plist = [p for p in model.parameters() if p.requires_grad]
        bs = int(params["batch_size"])
        gen = make_generator(inp.seed)
        augment = wants_augmentation(inp.ds, inp.train_cfg.augment)
        retain_stream = cycle_batches(inp.retain_idx, bs, gen)
        asc_epochs, eta = int(params["ascent_epochs"]), float(params["ascent_lr"])
        clip = float(params["ascent_clip"])
        total = asc_epochs + 1
        model.train()
        for e in range(asc_epochs):
            loss_f = None
            for ib_f in shuffled_batches(inp.forget_idx, bs, gen):
                xf, yf = get_batch(inp.ds, ib_f, augment=augment, generator=gen)
                xr, yr = get_batch(inp.ds, next(retain_stream), augment=augment, generator=gen)
                with autocast(device):
                    loss_f = F.cross_entropy(model(xf), yf)
                g_f = torch.autograd.grad(loss_f, plist)
                with autocast(device):
                    loss_r = F.cross_entropy(model(xr), yr)
                g_r = torch.autograd.grad(loss_r, plist)
                direction = orthogonal_ascent_direction(list(g_f), list(g_r))
                if clip > 0:
                    norm = torch.sqrt(sum((d.float() ** 2).sum() for d in direction))
                    factor = (clip / (norm + 1e-12)).clamp(max=1.0)
                    direction = [d * factor.to(d.dtype) for d in direction]
                with torch.no_grad():
                    for p, d in zip(plist, direction):
                        p.add_(d.to(p.dtype), alpha=eta)
            if loss_f is not None:
                check_finite(loss_f.detach().float(), "Gradient surgery (ascent)")
            inp.ctx.progress((e + 1) / total, f"Gradient surgery: ascent epoch {e + 1}/{asc_epochs}")

        weights = [p for p in model.parameters() if p.ndim > 1]
        l1, l2 = float(params["l1"]), float(params["l2"])

        def elastic_loss(m, x, y, i):
            pen = torch.stack([w.abs().sum() for w in weights]).sum() * l1 + \
                torch.stack([w.pow(2).sum() for w in weights]).sum() * l2
            return F.cross_entropy(m(x), y) + pen

        cfg = method_cfg(inp.train_cfg, {**params, "weight_decay": 0.0}, schedule="cosine")
        return train_loop(model, inp.ds, inp.retain_idx, cfg, inp.seed + 1, loss_fn=elastic_loss,
                          ctx=inp.ctx.sub(asc_epochs / total, 1.0), what="Gradient surgery (descent)")
