"""BLO worst-case forget weights (seed 000 Sec. 4, Eqs. 2-8).

Upper level:  min_w f(w) = Σ_i w_i ℓ(θ_u(w); z_i) + γ||w||²   s.t. w ∈ [0,1]^N, 1ᵀw = m.
Lower level:  θ_u(w) = K epochs of signSGD  θ ← θ − β·sign(∇_θ Σ_i [w_i ℓ_f(θ; z_i) + (1 − w_i) ℓ(θ; z_i)]).

sign() has zero derivative almost everywhere, so the implicit gradient through θ_u vanishes and the upper
gradient is ℓ_i(θ_u(w)) + 2γw_i. We take projected gradient steps w ← Proj_S(w − α·g) with the exact
Euclidean projection onto the capped simplex (bisection on the shift μ).

Three lower levels (science.md): "ft" (ℓ_f = 0, start at θ_o; the public reference code's default),
"ft_ga" (ℓ_f = −ℓ, start at θ_o; the paper's text) and "retrain" (ℓ_f = 0, start from a random init).

Step size: the paper's α = 1e-3 applies to raw losses, which on a well-fit model are ~1e-3..1e-1, so w would
barely move from its random start. With ``step_scale="std"`` (default) g is divided by its standard deviation
first, making α a dimensionless step (0.2 = a sample one std below the mean gains 0.2 weight per iteration).
``step_scale="none"`` reproduces the paper's literal update.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import forget_count
from ..data import ImageDataset
from ..device import autocast
from ..errors import ConfigError
from ..training import (clone_model, get_batch, new_model, per_sample_loss, make_generator,
                        shuffled_batches, wants_augmentation)
from .base import ScoreInput, ScoreResult, register_score, to_numpy

BLO_DEFAULTS = {
    "lower": "ft",  # ft | ft_ga | retrain (see module docstring and README for why ft is the default)
    "upper_iters": 20,
    "K": 10,  # lower-level epochs
    "beta": 1e-3,  # signSGD step
    "alpha": 0.2,
    "gamma": 1e-4,
    "step_scale": "std",  # std | none
    "granularity": "sample",  # sample | class (w over classes: class-wise worst case)
    "n_classes": 1,  # class granularity only: how many classes to forget
    "batch_size": 0,  # 0 = the training recipe's batch size
}


def project_capped_simplex(a: torch.Tensor, m: float, iters: int = 60) -> torch.Tensor:
    """Euclidean projection of ``a`` onto {w ∈ [0,1]^N : Σw = m}.

    The KKT conditions give w = clip(a − μ, 0, 1) for a scalar μ; Σ clip(a − μ, 0, 1) is non-increasing in μ,
    so μ is found by bisection on [min(a) − 1, max(a)], then refined exactly on the free coordinates.
    """
    n = a.numel()
    if not 0 <= m <= n:
        raise ConfigError(f"Projection needs 0 <= m <= N, got m={m}, N={n}.")
    a = a.double()
    lo, hi = a.min() - 1.0, a.max()
    for _ in range(iters):
        mid = (lo + hi) / 2
        s = (a - mid).clamp(0, 1).sum()
        lo, hi = torch.where(s > m, mid, lo), torch.where(s > m, hi, mid)
    mu = (lo + hi) / 2
    # Exact refinement: with the set of clipped coordinates fixed, μ solves a linear equation.
    w = (a - mu).clamp(0, 1)
    free = (w > 0) & (w < 1)
    n_free = free.sum()
    if n_free > 0:
        ones = (w >= 1).sum()
        mu_exact = (a[free].sum() + ones - m) / n_free
        w2 = (a - mu_exact).clamp(0, 1)
        if torch.abs(w2.sum() - m) <= torch.abs(w.sum() - m):
            w = w2
    return w.float()


def _lower_level(inp: ScoreInput, w_sample: torch.Tensor, p: dict, gen: torch.Generator) -> torch.nn.Module:
    """θ_u(w): K epochs of signSGD on the w-weighted objective."""
    ds: ImageDataset = inp.ds
    device = ds.device
    if p["lower"] == "retrain":
        model = new_model(inp.model_name, ds, int(torch.randint(0, 2**31 - 1, (1,), generator=gen)), device)
    else:
        model = clone_model(inp.original)
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    forget_sign = -1.0 if p["lower"] == "ft_ga" else 0.0
    bs = int(p["batch_size"]) or inp.train_cfg.batch_size
    augment = wants_augmentation(ds, inp.train_cfg.augment)
    all_idx = torch.arange(ds.n_train, device=device)
    for _ in range(int(p["K"])):
        inp.ctx.check_cancel()  # once per lower-level epoch: cancelling stays responsive on large data
        for ib in shuffled_batches(all_idx, bs, gen):
            xb, yb = get_batch(ds, ib, augment=augment, generator=gen)
            wb = w_sample[ib]
            with autocast(device):
                losses = F.cross_entropy(model(xb), yb, reduction="none").float()
            # Σ_i [w_i ℓ_f + (1 − w_i) ℓ]: ℓ_f = −ℓ (ft_ga) or 0 (ft, retrain).
            obj = ((1 - wb) * losses + forget_sign * wb * losses).sum() / len(ib)
            grads = torch.autograd.grad(obj, params, allow_unused=True)
            with torch.no_grad():
                for q, g in zip(params, grads):
                    if g is not None:
                        q.sub_(p["beta"] * torch.sign(g))
    model.eval()
    return model


def blo_weights(inp: ScoreInput, m: int, params: dict | None = None) -> ScoreResult:
    """Run the BLO and return w (continuous, Σw = m) with its convergence trace."""
    p = {**BLO_DEFAULTS, **(params or {})}
    if p["lower"] not in ("ft", "ft_ga", "retrain"):
        raise ConfigError(f"Unknown BLO lower level '{p['lower']}' (use ft, ft_ga or retrain).")
    if p["step_scale"] not in ("std", "none"):
        raise ConfigError("step_scale must be 'std' or 'none'.")
    ds = inp.ds
    device = ds.device
    by_class = p["granularity"] == "class"
    n = ds.num_classes if by_class else ds.n_train
    if not 1 <= m < n:
        raise ConfigError(f"The forget set must hold between 1 and {n - 1} {'classes' if by_class else 'samples'}, "
                          f"got m={m}.")
    gen = make_generator(inp.seed + 7919)
    # Start from a random binary w (seed 000 Sec. 4).
    w = torch.zeros(n, device=device)
    w[torch.randperm(n, generator=gen)[:m].to(device)] = 1.0
    y = ds.y_train
    counts = torch.bincount(y, minlength=ds.num_classes).clamp_min(1).float()
    trace: list[dict] = []
    prev_top = None
    iters = int(p["upper_iters"])
    for t in range(iters):
        w_sample = w[y] if by_class else w
        theta_u = _lower_level(inp, w_sample, p, gen)
        losses = per_sample_loss(theta_u, ds, "train").float()
        if by_class:  # per-class mean loss (sums scale with class size; means keep classes comparable)
            losses = torch.zeros(n, device=device).index_add_(0, y, losses) / counts
        if not torch.isfinite(losses).all():
            raise ConfigError("BLO lower level diverged (non-finite losses); lower beta.")
        objective = (w * losses).sum() + p["gamma"] * (w * w).sum()
        g = losses + 2 * p["gamma"] * w
        if p["step_scale"] == "std":
            g = g / g.std().clamp_min(1e-12)
        w = project_capped_simplex(w - p["alpha"] * g, m).to(device)
        top = torch.topk(w, m).indices
        top_mask = torch.zeros(n, dtype=torch.bool, device=device)
        top_mask[top] = True
        overlap = float((top_mask & prev_top).sum().item() / m) if prev_top is not None else float("nan")
        prev_top = top_mask
        trace.append({"iteration": t + 1, "objective": float(objective.item()),
                      "topm_overlap": overlap, "mean_loss_topm": float(losses[top].mean().item()),
                      "mean_loss_all": float(losses.mean().item()),
                      "w_binary_fraction": float(((w < 1e-6) | (w > 1 - 1e-6)).float().mean().item())})
        inp.ctx.progress((t + 1) / iters, f"BLO iteration {t + 1}/{iters}")
    return ScoreResult(to_numpy(w), extras={"trace": trace, "m": m, "params": p, "granularity": p["granularity"]})


@register_score("blo", label="BLO worst-case weight", hard_end="high", defaults=BLO_DEFAULTS, depends_on_ratio=True,
                description="Bi-level optimisation weight w_i (seed 000): top-m = worst-case (hardest to forget) "
                            "set, bottom-m = easiest set. Depends on the forget ratio (m = ratio·N).")
def blo_score(inp: ScoreInput) -> ScoreResult:
    p = {**BLO_DEFAULTS, **inp.params}
    if p["granularity"] == "class":
        return blo_weights(inp, int(p["n_classes"]), p)
    if inp.ratio is None:
        raise ConfigError("The BLO score needs a forget ratio.")
    return blo_weights(inp, forget_count(inp.ratio, inp.ds.n_train), p)
