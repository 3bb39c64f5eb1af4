"""RL: random labeling (Golatkar et al. 2020; Fan et al., Challenging Forgets Table 1). Fine-tune on D_f with random labels mixed with D_r.

Forget samples get uniformly random labels, the true class allowed, redrawn every epoch — as the reference code
(SalUn / Unlearn-Sparse / Unlearn-WorstCase ``unlearn/RL.py``: ``np.random.randint(0, num_classes)`` over the forget
set at each epoch, forget and retain samples concatenated and shuffled). ``redraw_labels = false`` draws them once
and keeps them, ``exclude_true_class = true`` draws among the K − 1 wrong classes only (both false/true: this
project's earlier behaviour).
"""
from __future__ import annotations

import torch

from ..budget import effective_epochs
from ..models import Classifier
from ..training import train_loop
from ._building_blocks import ForgetRelabeler, method_cfg, relabel_loss
from .base import UnlearnInput, UnlearnMethod, register_method


def rl_relabeler(inp: UnlearnInput, params: dict) -> ForgetRelabeler:
    """RL's forget-label draws for ``inp`` (shared with SalUn), seeded by ``inp.seed``."""
    gen = torch.Generator().manual_seed(int(inp.seed))
    return ForgetRelabeler(inp.ds.y_train, inp.forget_idx, inp.ds.num_classes, gen,
                           redraw=bool(params["redraw_labels"]), exclude_true=bool(params["exclude_true_class"]))


def rl_loss(inp: UnlearnInput, params: dict):
    """The RL loss for ``inp``: CE on mixed D_f ∪ D_r batches with the forget labels from :func:`rl_relabeler`."""
    return relabel_loss(rl_relabeler(inp, params))


@register_method
class RandomLabel(UnlearnMethod):
    name = "rl"
    label = "RL"
    description = ("Fine-tune on D_f relabeled with random classes (redrawn every epoch), mixed with D_r "
                   "(Fan et al., Challenging Forgets Table 1).")
    relabeling = True
    presets = {"small": {"epochs": 10, "lr": 0.02, "redraw_labels": True, "exclude_true_class": False},
               "image": {"epochs": 10, "lr": 0.01, "redraw_labels": True, "exclude_true_class": False}}
    preset_notes = ("Labels redrawn every epoch, true class allowed: the reference code (SalUn's unlearn/RL.py). "
                    "Image: 10 epochs, lr 0.01 (SalUn's unlearn_lr default; Chen et al., Forgetting Sequence: lr in [0.01, 0.1]); small: lr "
                    "0.02 chosen on digits random 10% sets.")

    def cost_passes(self, params: dict, n_forget: int, n_retain: int, recipe) -> float:
        """RL fine-tunes on D_f (relabelled) + D_r: ``epochs`` passes over both."""
        return 1.0 * effective_epochs(params) * (n_forget + n_retain) + 0.0

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        idx = torch.cat([inp.forget_idx, inp.retain_idx])
        return train_loop(model, inp.ds, idx, method_cfg(inp.train_cfg, params), inp.seed, loss_fn=rl_loss(inp, params),
                          ctx=inp.ctx, what="RL")
