"""Activation pruning (Akbari et al., Machine Unlearning §3.3).

1. Forward hooks measure, over D_f (batched, no backward pass), the mean activation of every *pruning site*: an
   activation function (ReLU, GELU, ...; f(0) = 0) whose input is directly the output of a Linear / Conv /
   BatchNorm layer that runs once per forward pass (MLP: both hidden ReLUs; ResNet: the stem and every block's
   inner ReLU after ``bn1`` — a block's output ReLU acts on ``bn2(·) + shortcut`` and cannot be baked, see 3).
2. In site n (forward order, n = 0..S−1) the units whose mean forget activation exceeds the q_n-th quantile are
   pruned, q_n going linearly from ``q_early`` = 0.99 (first site) to ``q_deep`` = 0.90 (last site), as the paper
   sets q high in early layers and lower in deep ones. ``mask``: "mean" — one mask from the mean over all of D_f;
   "union" — the reference code's (``MaskedActivation._elementwise_mask``: the mask of each forget batch of
   ``prune_batch_size`` is multiplied into the running mask), i.e. a unit is pruned when its batch mean exceeds
   that batch's q-th quantile in *any* forget batch. With one batch (|D_f| ≤ ``prune_batch_size``) both agree.
3. The hooks are removed (the returned model carries none) and the pruning is *baked into the weights*: the
   producing layer's output unit / channel is zeroed (Linear row + bias, Conv filter + bias, or BatchNorm γ and β),
   so the activation of that unit is exactly 0 for every input. The model keeps its architecture and state-dict
   keys (checkpoints round-trip).
4. Fine-tune on D_r with the pruned weights held at 0 (gradient masked + re-zeroed after every step).

Granularity: for dense layers the mean is per unit, exactly the paper's A ∈ R^C. For conv maps the paper averages
per element (C×H×W; the reference takes the quantile over channels at each position); an element mask cannot be
expressed in the weights, so we prune per channel (the mean over H×W as well) — the closest weight-baked
equivalent. The reference also interleaves its pruning passes with the retain fine-tuning (forget batches mixed
into the first and third of 4 AdamW epochs) while we prune once, on θ_o, before fine-tuning.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..models import Classifier
from ..training import get_batch, shuffled_batches, train_loop
from ._building_blocks import full_precision, masked_optimizer, method_cfg, restore_masked
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
def batch_site_activations(model: nn.Module, sites, ds, idx: torch.Tensor, batch_size: int = 512
                           ) -> list[tuple[int, list[torch.Tensor]]]:
    """For each batch of ``idx``: (batch size, per-site *sum* over the batch of act(producer output) per unit;
    channels: mean over H, W). Eval mode, float32, autocast off; temporary hooks, always removed."""
    out: list[tuple[int, list[torch.Tensor]]] = []
    cur: list[torch.Tensor | None] = [None] * len(sites)

    def make_hook(i, act):
        def hook(mod, args, o):
            a = act(o.detach().float().clone())
            a = a.flatten(2).mean(2) if a.ndim > 2 else a  # (B, C)
            cur[i] = a.sum(0)
        return hook

    handles = []
    try:
        for i, (prod, act) in enumerate(sites):
            handles.append(prod.register_forward_hook(make_hook(i, act)))
        was = model.training
        model.eval()
        with full_precision():
            for ib in shuffled_batches(idx, batch_size, None, shuffle=False):
                xb, _ = get_batch(ds, ib)
                model(xb.float())
                out.append((ib.numel(), list(cur)))
        model.train(was)
    finally:
        for h in handles:
            h.remove()
    return out


@torch.no_grad()
def mean_site_activations(model: nn.Module, sites, ds, idx: torch.Tensor, batch_size: int = 512
                          ) -> list[torch.Tensor]:
    """Per-unit mean activation act(producer output) over ``idx`` for each site (channels: mean over H, W too)."""
    per_batch = batch_site_activations(model, sites, ds, idx, batch_size)
    n = max(idx.numel(), 1)
    return [sum(sums[i] for _, sums in per_batch) / n for i in range(len(sites))]


@torch.no_grad()
def prune_masks(model: nn.Module, sites, ds, idx: torch.Tensor, qs: list[float], mode: str = "mean",
                batch_size: int = 512) -> list[torch.Tensor]:
    """Bool (units,) per site, True = pruned. "mean": mean over all of ``idx`` above its q-quantile; "union":
    pruned in any batch of ``batch_size`` whose batch mean is above that batch's q-quantile (the reference)."""
    if mode == "mean":
        means = mean_site_activations(model, sites, ds, idx)
        return [mu > torch.quantile(mu, q) for mu, q in zip(means, qs)]
    if mode != "union":
        raise ConfigError(f"act_prune mask must be mean or union, got '{mode}'.")
    pruned = [None] * len(sites)
    for nb, sums in batch_site_activations(model, sites, ds, idx, batch_size):
        for i, (s, q) in enumerate(zip(sums, qs)):
            mu = s / nb
            p = mu > torch.quantile(mu, q)
            pruned[i] = p if pruned[i] is None else pruned[i] | p
    return pruned


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
                   "layers), baked into the weights, then fine-tune on D_r (Akbari et al., Machine Unlearning §3.3).")
    partial_update = False
    presets = {"small": {"q_early": 0.99, "q_deep": 0.90, "mask": "mean", "prune_batch_size": 512, "epochs": 5,
                         "lr": 0.05},
               "image": {"q_early": 0.99, "q_deep": 0.90, "mask": "mean", "prune_batch_size": 512, "epochs": 5,
                         "lr": 0.01}}
    preset_notes = ("q values are the paper's (the reference code: 0.99 for the stem down to 0.9 for layer4); "
                    "mask = mean (one mask from the mean over D_f; 'union' = the reference code's per-batch masks "
                    "combined, batches of 512 as its loaders); fine-tuning epochs/lr chosen on digits random 10% sets "
                    "(the reference fine-tunes with AdamW 1e-3, weight decay 1e-3, cosine, 4 epochs).")

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        model = inp.copy_original()
        probe_x, _ = get_batch(inp.ds, inp.forget_idx[: min(8, inp.forget_idx.numel())])
        sites = find_sites(model, probe_x)
        qs = site_quantiles(len(sites), float(params["q_early"]), float(params["q_deep"]))
        prunes = prune_masks(model, sites, inp.ds, inp.forget_idx, qs, str(params["mask"]),
                             int(params["prune_batch_size"]))
        masks: dict[int, torch.Tensor] = {}
        pruned = []  # (number of pruned units, units) per site
        with torch.no_grad():
            for (prod, _), prune in zip(sites, prunes):
                pruned.append((int(prune.sum().item()), prune.numel()))
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
