"""GraNd score (Paul et al. 2021, "Deep learning on a data diet", §2): GraNd(x) = ||∇_θ ℓ(f_t(x), y)||_2 for a
model f_t early in training, averaged over seeds. The early models are the ones EL2N uses (see el2n.py; same
parameters = the same checkpointed models).

Per-sample gradients come from ``vmap(grad(functional_call))`` over chunks of samples (one batched call per chunk,
not one backward per sample); the squared norms of all parameter blocks are summed on the device. The model is
evaluated in eval mode (BatchNorm with running statistics: a per-sample gradient through batch statistics of a
batch of one is meaningless). ``params="head"`` restricts θ to the last linear layer (much cheaper for ResNets).

Orientation as EL2N: high GraNd = important to learn; hard_end="low" (loss-like, Chen et al., Forgetting Sequence).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from ..data import ImageDataset
from ..errors import ConfigError
from ..training import as_index_tensor, get_batch
from .base import ScoreInput, ScoreResult, register_score, to_numpy
from .el2n import EARLY_DEFAULTS, EARLY_PARAM_RULES, early_models

GRAND_DEFAULTS: dict[str, Any] = {**EARLY_DEFAULTS, "params": "all", "chunk_size": 0}

# Per-sample gradients of a chunk take chunk × n_params floats; keep that under this many elements.
GRAD_ELEMENT_BUDGET = {"cuda": 500_000_000, "cpu": 50_000_000}


def per_sample_grad_norms(model: torch.nn.Module, ds: ImageDataset, split: str = "train", idx=None,
                          params: str = "all", chunk_size: int = 0) -> torch.Tensor:
    """||∇_θ CE(f(x_i), y_i)||_2 for every sample (eval mode), via vmap(grad(functional_call)); on the device."""
    if params not in ("all", "head"):
        raise ConfigError(f"GraNd params must be 'all' or 'head' (got '{params}').")
    x_all, _ = ds.split(split)
    device = x_all.device
    idx_t = torch.arange(x_all.shape[0], device=device) if idx is None else as_index_tensor(idx, device)
    was_training = model.training
    model.eval()
    theta = {k: v.detach() for k, v in model.named_parameters()
             if v.requires_grad and (params == "all" or k.startswith("head."))}
    if not theta:
        raise ConfigError("GraNd: the model has no trainable parameters to differentiate.")
    frozen = {k: v.detach() for k, v in model.named_parameters() if k not in theta}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    n_params = sum(v.numel() for v in theta.values())
    if chunk_size <= 0:
        budget = GRAD_ELEMENT_BUDGET["cuda" if device.type == "cuda" else "cpu"]
        chunk_size = int(max(1, min(1024, budget // n_params)))

    def loss_one(th: dict, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, ({**frozen, **th}, buffers), (xi[None],))
        return F.cross_entropy(out.float(), yi[None])

    g_fn = vmap(grad(loss_one), in_dims=(None, 0, 0))
    norms = []
    for s in range(0, idx_t.numel(), chunk_size):
        xb, yb = get_batch(ds, idx_t[s:s + chunk_size], split=split)
        grads = g_fn(theta, xb, yb)  # fp32: a score is never computed under bf16 autocast
        sq = sum(g.float().flatten(1).pow(2).sum(1) for g in grads.values())
        norms.append(sq.sqrt())
    model.train(was_training)
    if not norms:
        return torch.empty(0, device=device)
    return torch.cat(norms)


def grand_cost(params: dict, n: int, recipe, m: int | None) -> float:
    """Sample passes: the early models (shared with EL2N) plus a per-sample gradient per sample and model."""
    return int(params["n_seeds"]) * (int(params["epochs"]) * n + 3 * n)


@register_score("grand", label="GraNd", hard_end="low", defaults=GRAND_DEFAULTS, expensive=True, cost=grand_cost,
                param_rules=EARLY_PARAM_RULES,
                description="Per-sample gradient norm ||∇θ loss|| early in training (Paul et al. 2021), mean over "
                            "seeds. High = important to LEARN (coreset baselines keep the top); low = hard to forget "
                            "(loss-like, Chen et al.'s orientation).")
def grand_score(inp: ScoreInput) -> ScoreResult:
    p = {**GRAND_DEFAULTS, **inp.params}
    early = {k: p[k] for k in EARLY_DEFAULTS}
    models, info = early_models(inp, early, what="GraNd early training", ctx=inp.ctx.sub(0.0, 0.5))
    per_seed = []
    for i, m in enumerate(models):
        per_seed.append(per_sample_grad_norms(m, inp.ds, "train", params=p["params"], chunk_size=int(p["chunk_size"])))
        inp.ctx.progress(0.5 + 0.5 * (i + 1) / len(models), f"GraNd: seed {i + 1}/{len(models)}")
    stacked = torch.stack(per_seed)
    return ScoreResult(to_numpy(stacked.mean(0)), extras={**info, "params": p["params"]},
                       arrays={"std_over_seeds": to_numpy(stacked.std(0, correction=0))})
