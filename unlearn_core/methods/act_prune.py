"""Activation pruning (seed 002 §3.3).

1. Forward hooks measure, over D_f (batched, no backward pass), the mean activation of every *pruning site*: an
   activation function (ReLU, GELU, ...; f(0) = 0) whose input is directly the output of a Linear / Conv /
   BatchNorm layer that runs once per forward pass (MLP: both hidden ReLUs; ResNet: the stem and every block's
   inner ReLU after ``bn1`` — a block's output ReLU acts on ``bn2(·) + shortcut`` and cannot be baked, see 3).
2. In site n (forward order, n = 0..S−1) the units whose mean forget activation exceeds the q_n-th quantile are
   pruned, q_n going linearly from ``q_early`` = 0.99 (first site) to ``q_deep`` = 0.90 (last site), as the paper
   sets q high in early layers and lower in deep ones.
3. The hooks are removed (the returned model carries none) and the pruning is *baked into the weights*: the
   producing layer's output unit / channel is zeroed (Linear row + bias, Conv filter + bias, or BatchNorm γ and β),
   so the activation of that unit is exactly 0 for every input. The model keeps its architecture and state-dict
   keys (checkpoints round-trip).
4. Fine-tune on D_r with the pruned weights held at 0 (gradient masked + re-zeroed after every step).

Granularity: for dense layers the mean is per unit, exactly the paper's A ∈ R^C. For conv maps the paper averages
per element (C×H×W); an element mask cannot be expressed in the weights, so we prune per channel (the mean over
H×W as well) — the closest weight-baked equivalent.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models import Classifier
from ..training import get_batch, shuffled_batches, train_loop
from ._common import masked_optimizer, method_cfg, restore_masked
from .base import UnlearnInput, UnlearnMethod, register_method

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Tanh, nn.Hardswish)
PRODUCERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)


@torch.no_grad()
def find_sites(model: nn.Module, x: torch.Tensor) -> list[tuple[nn.Module, nn.Module]]:
    """(producer, activation) pairs in forward order where the activation's input is the producer's untouched
    output and the producer runs once per forward. Temporary hooks, always removed."""
    outputs: dict[int, tuple[nn.Module, int, torch.Tensor]] = {}
    calls: dict[nn.Module, int] = {}
    pairs: list[tuple[nn.Module, nn.Module]] = []

    def on_producer(mod, args, out):
        calls[mod] = calls.get(mod, 0) + 1
        if isinstance(out, torch.Tensor):
            outputs[id(out)] = (mod, out._version, out)  # keep `out` alive so ids are not reused

    def before_activation(mod, args):
        t = args[0] if args else None
        if isinstance(t, torch.Tensor) and id(t) in outputs:
            src, version, _ = outputs[id(t)]
            if t._version == version:  # not modified in place since (e.g. `out += identity` in ResNet blocks)
                pairs.append((src, mod))

    handles = []
    try:
        for m in model.modules():
            if isinstance(m, PRODUCERS):
                handles.append(m.register_forward_hook(on_producer))
            elif isinstance(m, ACTIVATIONS):
                handles.append(m.register_forward_pre_hook(before_activation))
        was = model.training
        model.eval()
        model(x)
        model.train(was)
    finally:
        for h in handles:
            h.remove()
    seen, sites = set(), []
    for src, act in pairs:
        if calls.get(src, 0) == 1 and src not in seen:
            seen.add(src)
            sites.append((src, act))
    return sites


@torch.no_grad()
def mean_site_activations(model: nn.Module, sites, ds, idx: torch.Tensor, batch_size: int = 512
                          ) -> list[torch.Tensor]:
    """Per-unit mean activation act(producer output) over ``idx`` for each site (channels: mean over H, W too)."""
    sums = [None] * len(sites)

    def make_hook(i, act):
        def hook(mod, args, out):
            a = act(out.detach().float().clone())
            a = a.flatten(2).mean(2) if a.ndim > 2 else a  # (B, C)
            s = a.sum(0)
            sums[i] = s if sums[i] is None else sums[i] + s
        return hook

    handles = []
    try:
        for i, (prod, act) in enumerate(sites):
            handles.append(prod.register_forward_hook(make_hook(i, act)))
        was = model.training
        model.eval()
        for ib in shuffled_batches(idx, batch_size, None, shuffle=False):
            xb, _ = get_batch(ds, ib)
            model(xb)
        model.train(was)
    finally:
        for h in handles:
            h.remove()
    n = max(idx.numel(), 1)
    return [s / n for s in sums]


def site_quantiles(n_sites: int, q_early: float, q_deep: float) -> list[float]:
    if n_sites <= 1:
        return [q_deep] * n_sites
    return [q_early + (q_deep - q_early) * i / (n_sites - 1) for i in range(n_sites)]


def producer_unit_params(prod: nn.Module) -> list[torch.nn.Parameter]:
    """Parameters whose first axis indexes the producer's output units / channels."""
    return [p for p in (getattr(prod, "weight", None), getattr(prod, "bias", None)) if p is not None]


@register_method
class ActivationPruning(UnlearnMethod):
    name = "act_prune"
    label = "Act. pruning"
    description = ("Zero the units whose mean activation on D_f is above the q-th quantile (q 0.99 early → 0.90 deep "
                   "layers), baked into the weights, then fine-tune on D_r (seed 002 §3.3).")
    partial_update = False
    presets = {"small": {"q_early": 0.99, "q_deep": 0.90, "epochs": 5, "lr": 0.05},
               "image": {"q_early": 0.99, "q_deep": 0.90, "epochs": 5, "lr": 0.01}}
    preset_notes = "q values are the paper's; fine-tuning epochs/lr chosen on digits random 10% sets."

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        probe_x, _ = get_batch(inp.ds, inp.forget_idx[: min(8, inp.forget_idx.numel())])
        sites = find_sites(model, probe_x)
        means = mean_site_activations(model, sites, inp.ds, inp.forget_idx)
        qs = site_quantiles(len(sites), float(params["q_early"]), float(params["q_deep"]))
        masks: dict[int, torch.Tensor] = {}
        pruned = []  # (number of pruned units, units) per site
        with torch.no_grad():
            for (prod, _), mu, q in zip(sites, means, qs):
                prune = mu > torch.quantile(mu, q)
                pruned.append((int(prune.sum().item()), mu.numel()))
                for p in producer_unit_params(prod):
                    keep = (~prune).view(-1, *([1] * (p.ndim - 1))).expand_as(p).to(p.dtype)
                    masks[id(p)] = keep if id(p) not in masks else masks[id(p)] * keep
                    p.mul_(masks[id(p)])
        inp.ctx.log("Activation pruning: pruned " + ", ".join(f"{a}/{b}" for a, b in pruned) + " units per site")
        inp.ctx.progress(0.05, f"Activation pruning: pruned {sum(a for a, _ in pruned)} units")
        plist = list(model.parameters())
        cfg = method_cfg(inp.train_cfg, params)
        opt = masked_optimizer(plist, masks, cfg)
        masked = [p for p in plist if id(p) in masks]
        after = restore_masked(masked, [masks[id(p)] for p in masked], [torch.zeros_like(p) for p in masked])
        return train_loop(model, inp.ds, inp.retain_idx, cfg, inp.seed, optimizer=opt, after_step=after,
                          ctx=inp.ctx.sub(0.05, 1.0), what="Activation pruning (fine-tune)")
