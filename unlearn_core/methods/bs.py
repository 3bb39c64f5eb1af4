"""BS: boundary shrinking (Chen et al. 2023, "Boundary unlearning"; seed 000 Table 1).

Each forget sample is relabelled to the class θ_o predicts on its FGSM neighbour
``x + bound·sign(∇_x CE(θ_o(x), y))`` (``bound`` in normalised-input units, default 0.1); if that prediction is still
the true class, the neighbour's best *other* class is used ("nearest but incorrect" label). The model is then
fine-tuned on D_f with these labels, shrinking the forget samples' decision region.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from ..device import autocast
from ..models import Classifier
from ..training import get_batch, shuffled_batches, train_loop
from ._common import method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


def fgsm_neighbour_labels(model: torch.nn.Module, ds, idx: torch.Tensor, bound: float, batch_size: int = 512
                          ) -> torch.Tensor:
    """Label of the FGSM neighbour of each sample in ``idx`` (never the true label). Batched; eval mode."""
    model.eval()
    out = []
    for ib in shuffled_batches(idx, batch_size, None, shuffle=False):
        xb, yb = get_batch(ds, ib)
        xb = xb.detach().requires_grad_(True)
        with autocast(ds.device):
            loss = F.cross_entropy(model(xb).float(), yb)
        (gx,) = torch.autograd.grad(loss, xb)
        with torch.no_grad(), autocast(ds.device):
            logits = model(xb + bound * gx.sign()).float()
        logits = logits.scatter(1, yb[:, None], float("-inf"))  # nearest *incorrect* class
        out.append(logits.argmax(1))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=ds.device)


@register_method
class BoundaryShrinking(UnlearnMethod):
    name = "bs"
    label = "BS"
    description = ("Boundary shrinking: relabel each forget sample to the class of its FGSM neighbour, fine-tune on "
                   "them (Chen et al. 2023; seed 000 Table 1).")
    relabeling = True
    uses_lambda = "λ → ∞ (forget loss only: D_f with neighbour labels)"
    presets = {"small": {"epochs": 5, "lr": 0.001, "bound": 0.1}, "image": {"epochs": 10, "lr": 1e-4, "bound": 0.1}}
    preset_notes = ("bound = 0.1 (paper); trains on D_f only; lr chosen on digits random 10% sets. The image preset "
                    "follows the reference code's small lr.")

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        attacker = copy.deepcopy(inp.original)
        for p in attacker.parameters():
            p.requires_grad_(False)
        labels = inp.ds.y_train.clone()
        labels[inp.forget_idx] = fgsm_neighbour_labels(attacker, inp.ds, inp.forget_idx, float(params["bound"]))
        del attacker
        model = inp.copy_original()
        return train_loop(model, inp.ds, inp.forget_idx, method_cfg(inp.train_cfg, params), inp.seed, labels=labels,
                          ctx=inp.ctx, what="BS")
