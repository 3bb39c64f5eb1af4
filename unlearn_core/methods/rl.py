"""RL: random labeling. Train on D_f with random wrong labels together with D_r (Golatkar et al. 2020)."""
from __future__ import annotations

import torch

from ..models import Classifier
from ..training import train_loop
from ._common import method_cfg, random_other_labels
from .base import UnlearnInput, UnlearnMethod, register_method


@register_method
class RandomLabel(UnlearnMethod):
    name = "rl"
    label = "RL"
    description = "Fine-tune on D_f relabeled with random wrong classes, mixed with D_r (seed 000 Table 1)."
    relabeling = True
    presets = {"small": {"epochs": 10, "lr": 0.02}, "image": {"epochs": 10, "lr": 0.01}}

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        g = torch.Generator().manual_seed(inp.seed)
        labels = inp.ds.y_train.clone()
        labels[inp.forget_idx] = random_other_labels(labels[inp.forget_idx], inp.ds.num_classes, g)
        idx = torch.cat([inp.forget_idx, inp.retain_idx])
        return train_loop(model, inp.ds, idx, method_cfg(inp.train_cfg, params), inp.seed, labels=labels,
                          ctx=inp.ctx, what="RL")
