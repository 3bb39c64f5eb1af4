"""Bad-T: bad teacher (Chundawat et al. 2023, "Can bad teaching induce forgetting?"; seeds 001, 003).

The student starts at θ_o and distils, on a mix of D_f and a random subset of D_r, from two teachers: the
competent teacher θ_o on retain samples and a randomly initialised ("incompetent") model of the same architecture
on forget samples. Loss: KL(teacher ‖ student) with the teacher chosen per sample (temperature ``kd_t``).
"""
from __future__ import annotations


import torch

from ..budget import effective_epochs
from ..passes import EVAL_PASS
from ..models import Classifier
from ..training import new_model, train_loop
from ._building_blocks import forget_mask, fp32_logits, kl_to_teacher, method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


def incompetent_teacher(inp: UnlearnInput) -> Classifier:
    """The randomly initialised teacher Bad-T uses for ``inp`` (deterministic in ``inp.seed``)."""
    model = new_model(inp.model_name, inp.ds, inp.seed + 9173, inp.device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@register_method
class BadTeacher(UnlearnMethod):
    name = "bad_t"
    label = "Bad-T"
    description = ("Student θ_o distils from θ_o on D_r and from a randomly initialised teacher on D_f "
                   "(Chundawat et al. 2023; Chen et al., Forgetting Sequence).")
    uses_lambda = "1 (forget and retain samples mixed in one KL loss)"
    presets = {"small": {"epochs": 5, "lr": 2e-4, "optimizer": "adam", "retain_fraction": 0.3, "kd_t": 1.0,
                         "weight_decay": 0.0},
               "image": {"epochs": 5, "lr": 1e-4, "optimizer": "adam", "retain_fraction": 0.3, "kd_t": 1.0,
                         "weight_decay": 0.0}}
    preset_notes = ("Seed 001's setting (5 epochs, lr in [1e-4, 1e-3]; RSU splits these epochs into stages) with the "
                    "reference code's (vikram2000b/bad-teaching-unlearning, unlearn.py blindspot_unlearner) Adam "
                    "without weight decay, KL temperature 1 and 30% of D_r. Small: lr 2e-4 chosen on digits random 10% "
                    "sets (3e-4: UA ≈ Retrain's but RA −1.3). Image: lr 1e-4 (the reference notebook's).")

    def cost_passes(self, params: dict, n_forget: int, n_retain: int, recipe) -> float:
        """Bad-T: ``epochs`` over D_f + ``retain_fraction`` of D_r, each step with two teacher forwards (competent
        and incompetent) on top of the student's forward + backward."""
        epochs = effective_epochs(params)
        return epochs * (n_forget + float(params.get("retain_fraction", 1.0)) * n_retain) * (1 + 2 * EVAL_PASS)

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        student = inp.copy_original()
        good = inp.frozen_original()
        bad = incompetent_teacher(inp)
        frac = float(params["retain_fraction"])
        g = torch.Generator().manual_seed(inp.seed)
        n_r = inp.retain_idx.numel()
        n_keep = max(1, int(round(frac * n_r))) if frac > 0 else 0
        sub = inp.retain_idx[torch.randperm(n_r, generator=g)[:n_keep].to(inp.retain_idx.device)]
        idx = torch.cat([inp.forget_idx, sub])
        is_f = forget_mask(inp.ds.n_train, inp.forget_idx)
        T = float(params["kd_t"])

        def loss_fn(m, x, y, ib):
            with torch.no_grad():  # teacher targets in float32 even under the training forward's autocast
                t = torch.where(is_f[ib][:, None], fp32_logits(bad, x), fp32_logits(good, x))
            return kl_to_teacher(m(x), t, T)

        return train_loop(student, inp.ds, idx, method_cfg(inp.train_cfg, params), inp.seed, loss_fn=loss_fn,
                          ctx=inp.ctx, what="Bad-T")
