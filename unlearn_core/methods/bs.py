"""BS: boundary shrinking (Chen et al. 2023, "Boundary unlearning"; Fan et al., Challenging Forgets Table 1).

Each forget sample x is relabelled to the class θ_o predicts on its FGSM neighbour, computed in *pixel space*
(images in [0, 1], as both reference implementations feed their models):

    x' = round255(clip(x + bound·sign(∇_x CE(θ_o(x), y)), 0, 1)),   label = argmax θ_o(x')

with ``bound`` = 0.1 in pixel units (the paper's and both reference codes' hard-coded value) and ``round255`` the
reference's re-quantisation to the 1/255 grid (``discretize``). Our batches are standardised inside ``get_batch``;
the attack maps them to pixels (x·std + mean), perturbs, clamps and maps back. The neighbour label is whatever θ_o
predicts, the true class included, as in both reference codes (``exclude_true_class`` = true takes the best *other*
class instead — the "nearest but incorrect" reading of the paper's text, and this project's earlier behaviour).
The attacker is θ_o throughout (in RSU stages too: ``UnlearnInput.theta_o``), in eval mode, in float32.

The model is then fine-tuned on D_f with these labels, shrinking the forget samples' decision region. Labels are
computed per training batch (on the augmented images when the recipe augments), as the reference codes do.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from ..budget import effective_epochs
from ..models import Classifier
from ..training import get_batch, shuffled_batches, train_loop
from ._building_blocks import fp32_logits, from_pixels, full_precision, method_cfg, to_pixels
from .base import UnlearnInput, UnlearnMethod, register_method


def fgsm_neighbours(model: torch.nn.Module, ds, xb: torch.Tensor, yb: torch.Tensor, bound: float,
                    discretize: bool = True) -> torch.Tensor:
    """FGSM neighbours of the standardised batch ``xb`` with an L∞ bound in [0, 1] *pixel* units, returned
    standardised. ``model`` should be in eval mode; float32, autocast off."""
    with full_precision(), torch.enable_grad():
        x_pix = to_pixels(ds, xb.detach()).requires_grad_(True)
        loss = F.cross_entropy(model(from_pixels(ds, x_pix)).float(), yb)
        (g,) = torch.autograd.grad(loss, x_pix)
    with torch.no_grad():
        x_adv = (x_pix.detach() + float(bound) * g.sign()).clamp_(0.0, 1.0)
        if discretize:
            x_adv = torch.round(x_adv * 255.0) / 255.0
        return from_pixels(ds, x_adv)


@torch.no_grad()
def neighbour_labels_of(model: torch.nn.Module, x_adv: torch.Tensor, yb: torch.Tensor,
                        exclude_true_class: bool = False) -> torch.Tensor:
    """argmax of ``model`` on the neighbours (float32); with ``exclude_true_class`` the best class other than y."""
    logits = fp32_logits(model, x_adv)
    if exclude_true_class:
        logits = logits.scatter(1, yb[:, None], float("-inf"))
    return logits.argmax(1)


def fgsm_neighbour_labels(model: torch.nn.Module, ds, idx: torch.Tensor, bound: float, batch_size: int = 512,
                          exclude_true_class: bool = False, discretize: bool = True) -> torch.Tensor:
    """Label of the FGSM neighbour of each (un-augmented) training sample in ``idx``. Batched; eval mode."""
    model.eval()
    out = []
    for ib in shuffled_batches(idx, batch_size, None, shuffle=False):
        xb, yb = get_batch(ds, ib)
        x_adv = fgsm_neighbours(model, ds, xb, yb, bound, discretize)
        out.append(neighbour_labels_of(model, x_adv, yb, exclude_true_class))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=ds.device)


@register_method
class BoundaryShrinking(UnlearnMethod):
    name = "bs"
    label = "BS"
    description = ("Boundary shrinking: relabel each forget sample to the class θ_o predicts on its FGSM neighbour "
                   "(bound 0.1 in [0, 1] pixel units), fine-tune on them (Chen et al. 2023; Fan et al., Challenging Forgets Table 1).")
    relabeling = True
    uses_lambda = "λ → ∞ (forget loss only: D_f with neighbour labels)"
    presets = {"small": {"epochs": 5, "lr": 0.001, "bound": 0.1, "exclude_true_class": False, "discretize": True},
               "image": {"epochs": 10, "lr": 1e-4, "bound": 0.1, "exclude_true_class": False, "discretize": True}}
    preset_notes = ("bound = 0.1 in [0, 1] pixel units, neighbour label = θ_o's prediction (true class allowed) and "
                    "re-quantisation to 1/255: the paper's value and both reference codes (Chen et al.'s "
                    "adv_generator.FGSM, SalUn's boundary_sh.FGSM_perturb). 10 epochs on D_f: Chen et al.'s "
                    "poison_epoch. Image lr 1e-4: SalUn's code runs BS with its unlearn_lr (Chen et al. use SGD 1e-5). "
                    "Small: 5 epochs, lr 0.001 chosen on digits random 10% sets.")

    def cost_passes(self, params: dict, n_forget: int, n_retain: int, recipe) -> float:
        """BS trains on D_f only, with an FGSM step per sample as well: 2 × ``epochs`` passes over the forget set."""
        return effective_epochs(params) * n_forget * 2.0

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        attacker = copy.deepcopy(inp.theta_o).eval()
        for p in attacker.parameters():
            p.requires_grad_(False)
        bound, excl, disc = float(params["bound"]), bool(params["exclude_true_class"]), bool(params["discretize"])
        ds = inp.ds

        def loss_fn(m, x, y, ib):
            x_adv = fgsm_neighbours(attacker, ds, x, y, bound, disc)
            target = neighbour_labels_of(attacker, x_adv, y, excl)
            return F.cross_entropy(m(x), target)

        model = inp.copy_original()
        return train_loop(model, ds, inp.forget_idx, method_cfg(inp.train_cfg, params), inp.seed, loss_fn=loss_fn,
                          ctx=inp.ctx, what="BS")
