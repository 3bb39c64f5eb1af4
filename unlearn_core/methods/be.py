"""BE: boundary expanding (Chen et al. 2023, "Boundary unlearning"; Fan et al., Challenging Forgets Table 1).

The head is widened by one randomly initialised "shadow" output neuron (class K); the widened model is fine-tuned
on D_f with every forget sample labelled K, which pushes the forget samples across the decision boundary into the
shadow class; then the shadow neuron is dropped. The returned model has exactly the original head shape (K outputs)
and is a plain :class:`Classifier` of the original architecture.
"""
from __future__ import annotations

import torch
from torch import nn

from ..budget import effective_epochs
from ..models import Classifier
from ..training import seeded_init, train_loop
from ._building_blocks import method_cfg
from .base import UnlearnInput, UnlearnMethod, register_method


def widen_head(head: nn.Linear, extra: int, seed: int) -> nn.Linear:
    """A copy of ``head`` with ``extra`` new, randomly initialised output neurons appended."""
    with seeded_init(seed):
        new = nn.Linear(head.in_features, head.out_features + extra, bias=head.bias is not None)
    new = new.to(device=head.weight.device, dtype=head.weight.dtype)
    with torch.no_grad():
        new.weight[: head.out_features].copy_(head.weight)
        if head.bias is not None:
            new.bias[: head.out_features].copy_(head.bias)
    return new


def narrow_head(head: nn.Linear, keep: int) -> nn.Linear:
    """A copy of ``head`` keeping only its first ``keep`` output neurons."""
    new = nn.Linear(head.in_features, keep, bias=head.bias is not None)
    new = new.to(device=head.weight.device, dtype=head.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(head.weight[:keep])
        if head.bias is not None:
            new.bias.copy_(head.bias[:keep])
    return new


@register_method
class BoundaryExpanding(UnlearnMethod):
    name = "be"
    label = "BE"
    description = ("Boundary expanding: add a shadow output class, train D_f into it, then drop the shadow neuron "
                   "(Chen et al. 2023; Fan et al., Challenging Forgets Table 1).")
    relabeling = True
    reinit = True
    uses_lambda = "λ → ∞ (forget loss only: D_f relabelled to the shadow class)"
    presets = {"small": {"epochs": 5, "lr": 0.002}, "image": {"epochs": 10, "lr": 1e-4}}
    preset_notes = ("Trains on D_f only; lr chosen on digits random 10% sets (too large a step drags retain "
                    "samples into the shadow class too). The image preset follows the reference code's small lr.")

    def cost_passes(self, params: dict, n_forget: int, n_retain: int, recipe) -> float:
        """BE trains on D_f only (relabelled to the shadow class): ``epochs`` passes over the forget set."""
        return effective_epochs(params) * n_forget * 1.0

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        k = inp.ds.num_classes
        model.head = widen_head(model.head, 1, inp.seed + 31)
        labels = torch.full_like(inp.ds.y_train, k)  # every forget sample -> shadow class K
        train_loop(model, inp.ds, inp.forget_idx, method_cfg(inp.train_cfg, params), inp.seed, labels=labels,
                   ctx=inp.ctx, what="BE")
        model.head = narrow_head(model.head, k)
        for p in model.parameters():
            p.requires_grad_(True)
        model.eval()
        return model
