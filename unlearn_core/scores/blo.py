"""BLO worst-case forget weights (Fan, Liu, Hero, Liu — *Challenging Forgets: Unveiling the Worst-Case Forget
Sets in Machine Unlearning*, ECCV 2024, Sec. 4, Eqs. 2-8), built as a search that can leave θ_o's loss ranking.

Upper level:  min_w f(w) = Σ_i w_i ℓ(θ_u(w); z_i) + γ||w||²   s.t. w ∈ [0,1]^N, 1ᵀw = m.
Lower level:  θ_u(w) = K epochs from θ_o on Σ_i [(1 − w_i) ℓ(θ; z_i) + w_i ℓ_f(θ; z_i)] (signSGD by default).

The cheap rival is the sort: θ_o's m lowest-loss samples. A BLO whose first step fixes that set (the earlier
design: iteration 1 used θ_o's losses with a unit step from the uniform w, later steps decayed as 1/t² and the
stop rule fired when the set stopped changing) returns the sort whatever the lower level says. Here:

* **The lower level unlearns the candidate set** (``lower_weights: set``): each iteration fine-tunes θ_o for ``K``
  (default 1) epochs on the retain objective with weights 1 − 1_S, S = top-m(w) — the set is really removed, not
  kept at a partial weight under which a memorized sample stays memorized. Without ``warm_start`` every call
  starts at θ_o with the same batch order (common random numbers), so θ_u is a function of the set only.
  ``optimizer: sign`` (the paper's signSGD, step β) raised a random 10% set's loss by 67% in one digits epoch,
  ``recipe`` (the recipe's SGD at its base lr) by 5% (docs/blo.md): sign is the default.
* **The upper gradient is the loss when unlearned**: e_i = the loss of θ_u(S) on i at the latest iteration with
  i ∈ S (its current loss if i was never unlearned). The implicit term the paper drops (sign() has no derivative)
  is exactly the rise of a sample's own loss when it is unlearned; a memorized sample (lowest θ_o loss, forgotten
  once removed) is recognised after one try. ``lower_weights: soft`` keeps the paper's relaxation (e = ℓ(θ_u(w))).
* **No first step fixes the answer** (``upper: fw``): Frank-Wolfe steps 1/(t+1) towards the response R = the m
  smallest e: w is the running mean of the responses, the first one weighs 1/(T+1) after T iterations and the total
  movement Σ 1/(t+1) diverges, so a ranking the lower level stops returning is overtaken. ``upper: pgd`` keeps
  the projected rank steps (α/t^decay, exact capped-simplex projection); docs/blo.md measures both.
* **Stop on a fixed point**: the set that defined θ_u equals its response (overlap ≥ ``tol_overlap``, or an
  ε-fixed point: the response would lower the mean loss on the set by at most ``tol_gap`` × the mean loss over all
  samples) for ``patience`` consecutive iterations AND the objective (the mean loss on the set once unlearned) has
  not improved by more than ``tol_objective`` × that mean loss during them. The budget ``max_cost`` (in trainings)
  is a separate, reported stop reason; ``max_iters`` another.

Cost is counted in sample passes: 1 per training forward+backward, 1/3 per eval forward (each iteration's loss
pass and one pass of θ_o); ``cost_vs_training`` = passes / (recipe epochs × N). Losses are computed in float64
from the logit margins (:func:`precise_loss`): float32 cross-entropies of a well-fit model are quantised near 0.

Trace (``extras["trace"]``, one dict per iteration, JSON-safe): ``iteration``; ``objective`` (the mean loss of
θ_u on the set that defined it; iteration 1, whose w is uniform, on its response); ``gap`` (how much the response
would lower the mean estimate on the set, in units of the mean loss over all samples; None at iteration 1);
``step``; ``overlap_prev`` (top-m overlap with the previous iteration); ``overlap_start`` (with the random set
``init: random`` would have drawn: the chance reference); ``overlap_lowloss`` (with θ_o's m lowest-loss set);
``overlap_response`` (the set that defined θ_u vs its response; 1.0 = a fixed point; None at iteration 1);
``overlap_response_lowloss``; ``seconds``; ``sample_passes`` (cumulative); ``topm_overlap`` (= overlap_prev, for
older readers); ``mean_loss_topm``; ``mean_loss_all``. ``extras``: ``stop_reason`` ("fixed_point" | "max_cost" |
"max_iters"), ``converged`` (= fixed point), ``iterations``, ``cost_sample_passes``, ``cost_vs_training``,
``seconds``, ``overlap_lowloss`` and ``sort_costs_nothing`` (overlap ≥ 0.9: :func:`sort_verdict`). ``values`` = w
with ties broken by the latest estimates. :func:`blo_objective` gives the objective of any given sets (worst,
lowest-loss, random) under the same lower level.

Class-wise BLO (``granularity: class``): w over classes, m = ``n_classes``; every sample of class c carries
weight w_c in the lower level and the upper gradient is the per-class loss SUM (``class_loss: sum``, science.md)
or mean (``class_loss: mean``).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..budget import paper_fraction
from ..context import NULL_CONTEXT, RunContext
from ..device import autocast
from ..errors import ConfigError, DivergenceError
from ..methods.base import UnlearnInput, get_method
from ..training import (
    clone_model,
    count_steps,
    get_batch,
    make_generator,
    make_optimizer,
    new_model,
    predict_logits,
    shuffled_batches,
    wants_augmentation,
    with_overrides,
)
from ..validation import forget_count
from ._blo_params import (BLO_DEFAULTS, BLO_PARAM_RULES, BUILTIN_LOWER_LEVEL, DEFAULT_ALPHA, EVAL_PASS_COST, TIE_EPS,
                          validate_params)
from ._projection import project_capped_simplex
from .base import ScoreInput, ScoreResult, register_score, to_numpy

__all__ = ["BLO_DEFAULTS", "DEFAULT_ALPHA", "SORT_COSTS_NOTHING", "SORT_COSTS_NOTHING_TEXT", "LowerLevel",
           "blo_objective", "blo_score", "blo_weights", "class_losses", "precise_loss", "project_capped_simplex",
           "sort_verdict", "upper_loop", "validate_params"]

# ------------------------------------------------------------------------------------------------ upper level
def _scaled(g: torch.Tensor, scale: str) -> torch.Tensor:
    """The upper gradient in the units α applies to (constant shifts do not matter: Proj_S absorbs them)."""
    if scale == "none":
        return g
    if scale == "std":
        return g / g.std().clamp_min(1e-12)
    if scale == "mad":
        med = g.median()
        return (g - med) / (1.4826 * (g - med).abs().median()).clamp_min(1e-12)
    return centred_ranks(g)


def centred_ranks(v: torch.Tensor) -> torch.Tensor:
    """(rank + ½)/N − ½ ∈ (−½, ½): the smallest value gets the most negative rank; ties by index."""
    n = v.numel()
    r = torch.empty(n, dtype=torch.float64, device=v.device)
    r[torch.argsort(v.double(), stable=True)] = torch.arange(n, dtype=torch.float64, device=v.device)
    return ((r + 0.5) / n - 0.5).to(v.dtype)


def _top_mask(v: torch.Tensor, m: int) -> torch.Tensor:
    mask = torch.zeros(v.numel(), dtype=torch.bool, device=v.device)
    mask[torch.topk(v, m).indices] = True
    return mask


def _overlap(a: torch.Tensor, b: torch.Tensor, m: int) -> float:
    return float((a & b).sum().item()) / m


LowerFn = Callable[[torch.Tensor], torch.Tensor]


def upper_loop(lower: LowerFn, n: int, m: int, p: dict, start_mask: torch.Tensor,
               lowloss_mask: torch.Tensor | None = None, cost: Callable[[], float] = lambda: 0.0,
               ctx: RunContext = NULL_CONTEXT, iteration_cost: float | Callable[[], float] = 0.0,
               budget: float | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, list[dict], str]:
    """The upper level: move w towards the lower level's best responses until the set is a fixed point.

    ``lower(w)`` returns the per-coordinate losses of θ_u(w) (the real lower level, or a stub in tests). Every
    iteration — the first included — calls it: no iteration uses θ_o's losses. With ``lower_weights: set`` (default)
    it is called with 1_S, S = top-m(w) the current set (ties broken by the latest losses), so the lower level
    unlearns exactly the candidate set; iteration 1 has no set yet (w = m/N) and calls it with the uniform w.
    ``soft`` passes w itself (the paper's relaxation).

    Upper gradient g_i = e_i + 2γw_i, e_i = sample i's loss *when unlearned*: the loss of θ_u(S) on i at the latest
    iteration with i ∈ S, and its current loss for samples never unlearned yet (``soft``: e = the current loss).
    A memorized sample has a low loss until it is unlearned, so ranking by current losses alone (the first-order
    step with the implicit term dropped) keeps proposing it. The response R = the m smallest g (the linear minimiser
    of the upper objective over the capped simplex). Steps:

    * ``upper: fw`` (default): Frank-Wolfe with step 1/(t+1), w_t = (1 − 1/(t+1))·w_{t−1} + 1/(t+1)·1_R: w is the
      running mean of the responses (fictitious play). The first response weighs 1/(T+1) after T iterations and the
      total movement Σ 1/(t+1) diverges, so a ranking the lower level stops returning is overtaken.
    * ``upper: pgd``: w ← Proj_S(w − α_t·scale(g)), α_t = α/t^decay (decay ≤ 1: unbounded total movement).

    Stop reasons: "fixed_point" when, for ``patience`` consecutive iterations, the set that defined θ_u overlaps
    its response by ≥ ``tol_overlap`` (or swapping to the response would lower the mean estimate on the set by at
    most ``tol_gap`` × the mean loss over all samples: an ε-fixed point) AND none of those iterations lowered the
    best objective by more than ``tol_objective`` × that mean loss; "max_cost" before an iteration that would take
    ``cost()`` above ``budget`` (``iteration_cost`` sample passes each, or a callable giving the latest estimate; one
    iteration always runs); "max_iters" at the cap.
    Objective of an iteration: the mean loss of θ_u on the set that defined it (iteration 1: on its response).
    Returns (w, last losses, trace, stop reason).
    """
    p = validate_params(p)
    device = start_mask.device
    fw = p["upper"] == "fw"
    as_set = p["lower_weights"] == "set"
    random_start = not fw and p["init"] == "random"
    w = start_mask.double() if random_start else torch.full((n,), m / n, dtype=torch.float64, device=device)
    alpha = p["alpha"] if p["alpha"] is not None else DEFAULT_ALPHA[p["step_scale"]]
    cap = p["upper_iters"] or p["max_iters"]
    defined = start_mask if random_start else None  # the set the next θ_u unlearns (None: w is still uniform)
    forgotten = torch.full((n,), math.nan, dtype=torch.float64, device=device)  # loss when last unlearned
    prev, streak, reason = start_mask, 0, "max_iters"
    best, since_best = math.inf, 0
    trace: list[dict] = []
    losses = torch.zeros(n, dtype=torch.float64, device=device)
    for t in range(1, cap + 1):
        t0 = time.perf_counter()
        ctx.check_cancel()
        per_iteration = iteration_cost() if callable(iteration_cost) else iteration_cost
        if budget is not None and trace and cost() + per_iteration > budget * (1 + 1e-9):
            reason = "max_cost"
            break
        w_in = defined.double() if (as_set and defined is not None) else w
        losses = lower(w_in.float()).double()
        if not torch.isfinite(losses).all():
            raise DivergenceError("BLO lower level diverged (non-finite losses); lower beta, lr or K.")
        if as_set and defined is not None:
            forgotten[defined] = losses[defined]
        estimate = torch.where(torch.isnan(forgotten), losses, forgotten) if as_set else losses
        g = estimate + 2 * p["gamma"] * w
        response = _top_mask(-g, m)
        objective = float(losses[defined if defined is not None else response].mean().item())
        ov_response = _overlap(defined, response, m) if defined is not None else None
        # How much the response would lower the objective, in units of the mean loss over all samples (the level of a
        # random set): an ε-fixed point when swapping to the response gains less than tol_gap of that scale.
        scale = max(float(losses.mean().item()), 1e-12)
        gap = float((estimate[defined].mean() - estimate[response].mean()).item()) / scale \
            if defined is not None else None
        step = 1.0 / (t + 1) if fw else alpha * t ** (-p["decay"])
        if fw:
            w = (1 - step) * w + step * response.double()
        else:
            w = project_capped_simplex(w - step * _scaled(g, p["step_scale"]), m).to(device).double()
        top = _top_mask(w - TIE_EPS * centred_ranks(g), m)
        ov_prev = _overlap(top, prev, m)
        improved = objective < best - p["tol_objective"] * scale
        since_best = 0 if improved else since_best + 1
        best = min(best, objective)
        if ov_response is not None:  # iteration 1 (uniform w) has no set of its own to compare with its response
            fixed = ov_response >= p["tol_overlap"] or (gap is not None and gap <= p["tol_gap"])
            streak = streak + 1 if fixed else 0
        prev, defined = top, top
        trace.append({
            "iteration": t,
            "objective": objective,
            "gap": gap,
            "step": step,
            "overlap_prev": ov_prev,
            "overlap_start": _overlap(top, start_mask, m),
            "overlap_lowloss": _overlap(top, lowloss_mask, m) if lowloss_mask is not None else None,
            "overlap_response": ov_response,
            "overlap_response_lowloss": _overlap(response, lowloss_mask, m) if lowloss_mask is not None else None,
            "seconds": time.perf_counter() - t0,
            "sample_passes": float(cost()),
            "topm_overlap": ov_prev,
            "mean_loss_topm": float(losses[top].mean().item()),
            "mean_loss_all": float(losses.mean().item()),
        })
        resp = "–" if ov_response is None else f"{ov_response:.3f}"
        ctx.progress(t / cap, f"BLO iteration {t}/{cap}: set vs its response {resp}, objective {objective:.4g}")
        if streak >= p["patience"] and since_best >= p["patience"]:
            reason = "fixed_point"
            break
    # Final ranking: w, ties broken by the latest estimates (lower = more worst-case-like).
    return w - TIE_EPS * centred_ranks(torch.where(torch.isnan(forgotten), losses, forgotten) if as_set else losses), \
        losses, trace, reason


# ------------------------------------------------------------------------------------------------ lower level
@torch.no_grad()
def precise_loss(model: torch.nn.Module, ds, batch_size: int = 256) -> torch.Tensor:
    """Per-sample cross-entropy of ``model`` (eval mode) on the training set, in float64 from the logit margins.

    A well-fit model's float32 losses are quantised near 0 (multiples of ~1.2e-7, many exact 0s), so the ranks of
    the easiest samples — exactly the ones the worst case is made of — would be ties broken by sample index.
    ℓ = log(1 + Σ_{j≠y} exp(z_j − z_y)), with log1p when every margin is negative, keeps them distinct.
    Batches of ``batch_size`` (the training batch): on a CPU a forward pass of a small CNN in batches of 2048 takes
    as long as a whole training epoch, in batches of 256 about half of it.
    """
    z = predict_logits(model, ds, "train", batch_size=batch_size).double()
    y = ds.y_train.to(z.device)
    d = z - z.gather(1, y[:, None])
    d.scatter_(1, y[:, None], float("-inf"))  # drop the true class: d holds z_j − z_y for j ≠ y
    top = d.max(1).values
    small = torch.log1p(torch.exp(d.clamp(max=0)).sum(1))
    large = torch.logsumexp(torch.cat([torch.zeros_like(top)[:, None], d], 1), 1)
    return torch.where(top < 0, small, large)


def class_losses(losses: torch.Tensor, y: torch.Tensor, num_classes: int, how: str = "sum") -> torch.Tensor:
    """Per-class loss sum (``how="sum"``, science.md) or mean of per-sample ``losses`` with labels ``y``."""
    sums = torch.zeros(num_classes, dtype=losses.dtype, device=losses.device).index_add_(0, y, losses)
    if how == "sum":
        return sums
    return sums / torch.bincount(y, minlength=num_classes).clamp_min(1).to(losses.dtype)


class LowerLevel:
    """θ_u(w): ``K`` epochs (fractions allowed) from θ_o of signSGD (``optimizer: sign``, step β) or of the recipe's
    optimizer at its base lr (``optimizer: recipe``) on Σ_i [w_i ℓ_f + (1 − w_i) ℓ_i] / batch, then the per-sample
    (or per-class) losses of θ_u on the training set. Without ``warm_start`` every call starts at θ_o with the same
    batch order and augmentation draws (common random numbers), so θ_u depends on w only. Counts its cost in
    ``sample_passes``."""

    def __init__(self, inp: ScoreInput, p: dict, seed: int, by_class: bool):
        self.inp, self.p, self.seed, self.by_class = inp, p, seed, by_class
        ds = inp.ds
        self.n_train = ds.n_train
        self.bs = p["batch_size"] or inp.train_cfg.batch_size
        self.steps = max(1, round(p["K"] * self.n_train / self.bs))  # K·N samples, at least one batch
        # Sample passes of one lower level + its eval pass (the last batch of an epoch may be smaller).
        self.iteration_cost = min(self.steps * self.bs, self.steps * self.n_train) + EVAL_PASS_COST * self.n_train
        self.augment = wants_augmentation(ds, inp.train_cfg.augment)
        self.forget_sign = -1.0 if p["lower"] == "ft_ga" else 0.0
        self.model: torch.nn.Module | None = None
        self.sample_passes = 0.0
        self.gen = make_generator(seed)
        self._stream = self._batches(self.gen)

    def _batches(self, gen: torch.Generator) -> Iterator[torch.Tensor]:
        all_idx = torch.arange(self.n_train, device=self.inp.ds.device)
        while True:  # one continuing stream of shuffled epochs: fractional budgets visit new samples each time
            yield from shuffled_batches(all_idx, self.bs, gen)

    def _start_model(self) -> torch.nn.Module:
        inp = self.inp
        if self.p["lower"] == "retrain":
            return new_model(inp.model_name, inp.ds, self.seed, inp.ds.device)
        return clone_model(inp.original)

    def aggregate(self, losses: torch.Tensor) -> torch.Tensor:
        """Per-sample losses → the upper level's coordinates (per-class sums/means for class granularity)."""
        if not self.by_class:
            return losses
        ds = self.inp.ds
        return class_losses(losses, ds.y_train, ds.num_classes, self.p["class_loss"])

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        ds, p = self.inp.ds, self.p
        w_sample = (w[ds.y_train] if self.by_class else w).to(torch.float32)
        if self.model is None or not p["warm_start"]:
            self.model = self._start_model()
            if not p["warm_start"]:  # common random numbers: the same batches and draws for every w
                self.gen = make_generator(self.seed)
                self._stream = self._batches(self.gen)
        model = self.model
        model.train()
        params = [q for q in model.parameters() if q.requires_grad]
        opt = make_optimizer(params, with_overrides(self.inp.train_cfg, schedule="constant")) \
            if p["optimizer"] == "recipe" else None
        for s in range(self.steps):
            if s % 32 == 0:
                self.inp.ctx.check_cancel()
            ib = next(self._stream)
            xb, yb = get_batch(ds, ib, augment=self.augment, generator=self.gen)
            wb = w_sample[ib]
            with autocast(ds.device):
                losses = F.cross_entropy(model(xb), yb, reduction="none").float()
            obj = ((1 - wb) * losses + self.forget_sign * wb * losses).sum() / len(ib)
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                obj.backward()
                opt.step()
            else:
                grads = torch.autograd.grad(obj, params, allow_unused=True)
                with torch.no_grad():
                    for q, g in zip(params, grads):
                        if g is not None:
                            q.sub_(p["beta"] * torch.sign(g))
            self.sample_passes += len(ib)
        model.eval()
        self.sample_passes += EVAL_PASS_COST * self.n_train
        return self.aggregate(precise_loss(model, ds, self.bs))


SignSGDLowerLevel = LowerLevel  # older name


class MethodLowerLevel:
    """θ_u(S) = a registered unlearning method (``lower_level``) run from θ_o on forget set S (retain = the rest) at
    its preset under the ``paper`` budget (unlearn_core/budget.py) for the recipe being unlearned; returns the
    per-sample losses of the unlearned model (float64, :func:`precise_loss`). ``w`` must be a set (1_S); the
    uniform w of the first upper iteration has no set, so that call unlearns ``start_set`` (the random set that
    ``init: random`` would draw: the chance reference). Every call uses the same seed (common random numbers).
    Cost: optimizer steps × batch size (counted by training.count_steps) + one eval pass, in ``sample_passes``;
    ``iteration_cost`` is the latest call's (the cost cap's estimate)."""

    def __init__(self, inp: ScoreInput, p: dict, seed: int, start_set: torch.Tensor):
        self.inp, self.p, self.seed = inp, p, seed
        self.method = get_method(p["lower_level"])
        self.params = self.method.resolve_params(inp.ds, None, inp.train_cfg)
        self.bs = p["batch_size"] or inp.train_cfg.batch_size
        self.n_train = inp.ds.n_train
        self.start_set = start_set
        self.sample_passes = 0.0
        self.iteration_cost = 0.0
        self.by_class = False

    def aggregate(self, losses: torch.Tensor) -> torch.Tensor:
        return losses

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        ds, inp = self.inp.ds, self.inp
        binary = bool(((w == 0) | (w == 1)).all().item())
        forget = (w > 0.5) if binary else self.start_set
        forget_idx = torch.nonzero(forget.to(ds.device)).squeeze(1)
        retain_idx = torch.nonzero(~forget.to(ds.device)).squeeze(1)
        unlearn_in = UnlearnInput(inp.original, inp.model_name, ds, forget_idx, retain_idx, inp.train_cfg, self.seed,
                                  inp.ctx.sub(0.0, 0.0))
        before = self.sample_passes
        with count_steps() as steps:
            model = self.method.unlearn(unlearn_in, self.params)
        model.eval()
        self.sample_passes += steps[0] * self.bs + EVAL_PASS_COST * self.n_train
        self.iteration_cost = self.sample_passes - before
        return precise_loss(model, ds, self.bs)


# ------------------------------------------------------------------------------------------------ entry points
def _one_training(inp: ScoreInput) -> float:
    return float(inp.train_cfg.epochs * inp.ds.n_train)


def blo_weights(inp: ScoreInput, m: int, params: dict | None = None) -> ScoreResult:
    """Run the BLO and return w (continuous, Σw = m; ties broken by the last losses) with its trace."""
    p = validate_params(params)
    ds = inp.ds
    device = ds.device
    by_class = p["granularity"] == "class"
    n = ds.num_classes if by_class else ds.n_train
    what = "classes" if by_class else "samples"
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m < n:
        raise ConfigError(f"The forget set must hold between 1 and {n - 1} {what}, got m={m}.")
    t_start = time.perf_counter()
    gen = make_generator(inp.seed + 7919)
    # The random start (pgd, init: random) or, otherwise, the set it would have drawn: the chance reference.
    start_mask = torch.zeros(n, dtype=torch.bool, device=device)
    start_mask[torch.randperm(n, generator=gen)[:m].to(device)] = True
    lower = LowerLevel(inp, p, inp.seed + 7919, by_class) if p["lower_level"] == BUILTIN_LOWER_LEVEL \
        else MethodLowerLevel(inp, p, inp.seed + 7919, start_mask)
    theta_o_losses = lower.aggregate(precise_loss(inp.original, ds, lower.bs))
    lower.sample_passes += EVAL_PASS_COST * ds.n_train
    lowloss_mask = _top_mask(-theta_o_losses, m)
    one_training = _one_training(inp)
    budget = p["max_cost"] * one_training if p["max_cost"] > 0 and one_training > 0 else None
    w, losses, trace, reason = upper_loop(lower, n, m, p, start_mask, lowloss_mask, cost=lambda: lower.sample_passes,
                                          ctx=inp.ctx, iteration_cost=lambda: lower.iteration_cost, budget=budget)
    values = w.double()  # w with ties broken by the latest estimates (centred ranks sum to 0: Σ values = m)
    final = _top_mask(values, m)
    extras = {
        "trace": trace, "m": m, "params": p, "granularity": p["granularity"], "converged": reason == "fixed_point",
        "stop_reason": reason,
        "iterations": len(trace), "cost_sample_passes": float(lower.sample_passes),
        "cost_vs_training": float(lower.sample_passes / one_training) if one_training > 0 else None,
        "seconds": time.perf_counter() - t_start,
        "overlap_lowloss": _overlap(final, lowloss_mask, m),
        "sort_costs_nothing": _overlap(final, lowloss_mask, m) >= SORT_COSTS_NOTHING,
    }
    return ScoreResult(to_numpy(values), extras=extras,
                       arrays={"final_loss": to_numpy(losses), "theta_o_loss": to_numpy(theta_o_losses)})


# When the worst-case set overlaps θ_o's lowest-loss set at least this much, BLO found nothing the sort did not.
SORT_COSTS_NOTHING = 0.9
SORT_COSTS_NOTHING_TEXT = "on these data the worst case is almost exactly the lowest-loss set; the sort costs nothing"


def sort_verdict(overlap_lowloss: float | None) -> str | None:
    """The plain-words caption when the worst case is (almost) the lowest-loss set, else None."""
    if overlap_lowloss is None or overlap_lowloss < SORT_COSTS_NOTHING:
        return None
    return f"{SORT_COSTS_NOTHING_TEXT} (overlap {overlap_lowloss:.2f})."


def blo_objective(inp: ScoreInput, sets: dict[str, "np.ndarray | list[int]"], params: dict | None = None
                  ) -> dict[str, dict]:
    """BLO's objective for given forget sets: the mean loss on the set of θ_u(1_S), the model that BLO's own lower
    level (same ``params``: lower, optimizer, K, batch, seed) returns when it unlearns exactly S from θ_o — lower =
    the set stays easy after unlearning = a stronger worst case. Also θ_o's mean loss on the set (before).
    Returns {name: {"objective", "theta_o_loss", "size", "cost_vs_training"}} (sample granularity only)."""
    p = validate_params(params)
    if p["granularity"] != "sample":
        raise ConfigError("blo_objective compares sample-level forget sets (granularity: sample).")
    ds = inp.ds
    n = ds.n_train
    theta_o_losses = precise_loss(inp.original, ds, p["batch_size"] or inp.train_cfg.batch_size)
    out: dict[str, dict] = {}
    for name, idx in sets.items():
        idx_t = torch.as_tensor(np.asarray(idx, dtype=np.int64), device=ds.device)
        if idx_t.numel() == 0 or int(idx_t.min()) < 0 or int(idx_t.max()) >= n:
            raise ConfigError(f"Forget set '{name}' must hold indices in 0..{n - 1}.")
        lower = LowerLevel(inp, p, inp.seed + 7919, False) if p["lower_level"] == BUILTIN_LOWER_LEVEL \
            else MethodLowerLevel(inp, p, inp.seed + 7919, torch.zeros(n, dtype=torch.bool, device=ds.device))
        w = torch.zeros(n, device=ds.device)  # the seed blo_weights' lower level uses
        w[idx_t] = 1.0
        losses = lower(w)
        out[name] = {"objective": float(losses[idx_t].mean().item()),
                     "theta_o_loss": float(theta_o_losses[idx_t].mean().item()), "size": int(idx_t.numel()),
                     "cost_vs_training": float(lower.sample_passes / _one_training(inp))}
    return out


def blo_cost(params: dict, n: int, recipe, m: int | None) -> float:
    """Expected sample passes (unlearn_core.cost): θ_o's loss pass, then every iteration trains K·N samples and
    evaluates N (1/3 pass each); a fixed point needs at least 2 + patience iterations, never above ``max_cost`` of
    one training (plus the iteration that crosses it is not started)."""
    p = validate_params(params)
    iters = p["upper_iters"] or p["max_iters"]
    expected = min(iters, 2 + 2 * p["patience"])
    per_iter = p["K"] * n + n / 3
    if p["lower_level"] != BUILTIN_LOWER_LEVEL:  # a method at its paper budget: its epochs of the papers' 182, scaled
        preset = max((int(v.get("epochs", 1)) for v in get_method(p["lower_level"]).presets.values()), default=1)
        per_iter = max(paper_fraction(preset, recipe.epochs), 1.0 / max(n, 1)) * n + n / 3
    passes = expected * per_iter + n / 3
    if p["max_cost"] > 0:
        passes = min(passes, p["max_cost"] * recipe.epochs * n + per_iter)
    return passes


@register_score("blo", label="BLO worst-case weight", hard_end="high", defaults=BLO_DEFAULTS, depends_on_ratio=True,
                cost=blo_cost, param_rules=BLO_PARAM_RULES, key_neutral={"lower_level": BUILTIN_LOWER_LEVEL},
                description="Bi-level optimisation weight w_i (Fan et al., Challenging Forgets): top-m = worst-case "
                            "(hardest to forget) set, bottom-m = easiest set. Depends on the forget ratio (m = ratio·N).")
def blo_score(inp: ScoreInput) -> ScoreResult:
    p = validate_params(inp.params)
    if p["granularity"] == "class":
        return blo_weights(inp, p["n_classes"], p)
    if inp.ratio is None:
        raise ConfigError("The BLO score needs a forget ratio.")
    return blo_weights(inp, forget_count(inp.ratio, inp.ds.n_train), p)
