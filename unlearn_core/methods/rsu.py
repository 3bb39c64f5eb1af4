"""RSU: Ranking and Sequential Unlearning (Chen et al., Forgetting Sequence, Algorithm 1) — a wrapper around any unlearning method.

Ranking module: every forget sample gets a difficulty score, by default the cross-entropy loss of θ_o (low loss =
hard to forget; Chen et al., Forgetting Sequence Fig. 5), or any registered per-sample score (``rsu_score``; e.g. "entropy"; scores with
``hard_end = "high"`` are negated so that low always means hard).

SeqUnlearn module: T stages. With the self-paced weights of Eq. 5, v_i = 1[l_i < λ_t], and the age parameter λ_t
raised each stage (λ_t = the (t/T)-quantile of the forget scores), stage t unlearns the nested subset
D_1 ⊂ D_2 ⊂ … ⊂ D_T = D_f (paper: "D_i ⊂ D_{i+1}, D_n = D_u"), starting from the model the previous stage returned.
θ_o stays the anchor of every stage: the stage's ``UnlearnInput`` has ``original`` = the previous stage's model (what
the method starts from) and ``anchor`` = the true θ_o, so methods that use θ_o itself — SCRUB's and Bad-T's
teacher, BS's attacker — see θ_o at every stage, never an intermediate model.
``rsu_cumulative = false`` uses the disjoint slices D_t \\ D_{t−1} instead. Each stage calls the wrapped method
with forget set D_t and the full retain set D_r (samples of D_f not yet scheduled are never trained on). Scores are
computed once, at the beginning, with θ_o ("the loss can be obtained at the beginning of unlearning").

Stage budget (the paper does not fix one): T = ``rsu_stages`` = 3 stages by default, each running the wrapped
method with ⌈E/T⌉ of its E epochs (``rsu_stage_epochs`` > 0 overrides), so RSU costs about one run of the method:
with nested stages the forget set is visited 2·⌈E/3⌉·|D_f| times (GA, E = 5: 4·|D_f| vs one-shot's 5·|D_f|), the
retain set T·⌈E/T⌉ times (RL, E = 10: 12 epochs vs 10). ``rsu_stages = 0`` makes every epoch an iteration of
Algorithm 1 (T = E stages of one epoch, the self-paced-learning reading; fewer optimizer steps than one-shot when
the early subsets are smaller than a batch). Methods without an ``epochs`` knob run in full at every stage. Only the
knob named ``epochs`` is split (e.g. gradient surgery's ``ascent_epochs`` runs in full at every stage). RSU and
its reverse always have identical budgets, which makes them the clean comparison of orders.

Orders (Chen et al., Forgetting Sequence Fig. 7) — one wrapper prefix each, usable with any method name:

* ``rsu:METHOD``          hard → easy (RSU proper: v_i = 1[l_i < λ], λ increasing);
* ``rsu_reverse:METHOD``  easy → hard (the "Reverse" ablation: v_i = 1[l_i > λ], λ decreasing);
* ``rsu_oneshot:METHOD``  one stage with all of D_f (the "Original" ablation; identical to plain METHOD).

``method_names()`` lists ``rsu:`` and ``rsu_reverse:`` for the three methods Chen et al., Forgetting Sequence evaluates (GA, RL, Bad-T);
every other combination (e.g. ``rsu:salun``) is built on demand by ``get_method``.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..models import Classifier
from ..training import get_batch, shuffled_batches
from ._building_blocks import fp32_logits
from . import bad_t as _bad_t, ga as _ga, rl as _rl  # noqa: F401  (the featured inner methods must be registered)
from .base import METHODS, UnlearnInput, UnlearnMethod, register_instance, register_wrapper

ORDERS = {"rsu": "hard_to_easy", "rsu_reverse": "reverse", "rsu_oneshot": "one_shot"}
FEATURED = ("ga", "rl", "bad_t")  # Chen et al., Forgetting Sequence Tables 5-6 / Fig. 7


def rsu_stages(scores: torch.Tensor, forget_idx: torch.Tensor, stages: int, order: str,
               cumulative: bool = True) -> list[torch.Tensor]:
    """Forget-index subsets per stage. ``scores`` (|D_f|,) aligned with ``forget_idx``; low score = hard.

    hard_to_easy: ascending scores; reverse: descending; one_shot: one stage with everything. Ties are broken by
    sample index, so the schedule is deterministic.
    """
    if order not in ("hard_to_easy", "reverse", "one_shot"):
        raise ConfigError(f"Unknown RSU order '{order}' (hard_to_easy, reverse or one_shot).")
    n = forget_idx.numel()
    if order == "one_shot" or n == 0:
        return [forget_idx]
    stages = max(1, min(int(stages), n))
    s = scores.detach().double().cpu().numpy()
    ids = forget_idx.detach().cpu().numpy()
    key = s if order == "hard_to_easy" else -s
    ranked = torch.as_tensor(np.lexsort((ids, key)), device=forget_idx.device)
    ordered = forget_idx[ranked]
    ends = [math.ceil(n * (t + 1) / stages) for t in range(stages)]
    starts = [0] + ends[:-1]
    return [ordered[: e] if cumulative else ordered[b:e] for b, e in zip(starts, ends)]


@torch.no_grad()
def fp32_losses(model: torch.nn.Module, ds, idx: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Per-sample cross-entropy of ``model`` (eval mode) in float32 with autocast off: the loss of a well-fit
    sample is ~1e-4, far below bf16's resolution of the logits, and it decides the RSU order."""
    was = model.training
    model.eval()
    out = []
    for ib in shuffled_batches(idx, batch_size, None, shuffle=False):
        xb, yb = get_batch(ds, ib)
        out.append(F.cross_entropy(fp32_logits(model, xb), yb, reduction="none"))
    model.train(was)
    return torch.cat(out) if out else torch.empty(0, device=ds.device)


def difficulty_scores(inp: UnlearnInput, score: str) -> torch.Tensor:
    """Per-forget-sample scores of θ_o, oriented so that low = hard to forget."""
    if score == "loss":
        return fp32_losses(inp.theta_o, inp.ds, inp.forget_idx)
    from ..scores.base import ScoreInput, get_score

    spec = get_score(score)
    res = spec.fn(ScoreInput(inp.theta_o, inp.model_name, inp.ds, inp.train_cfg, seed=inp.seed,
                             ratio=inp.forget_idx.numel() / inp.ds.n_train, params=spec.resolve_params(None)))
    vals = torch.as_tensor(np.asarray(res.values, dtype=np.float64), device=inp.device)[inp.forget_idx]
    return vals if spec.hard_end == "low" else -vals


class RSU(UnlearnMethod):
    """RSU around ``inner`` with a fixed order (see module docstring)."""

    rsu_defaults: dict[str, Any] = {"rsu_stages": 3, "rsu_score": "loss", "rsu_stage_epochs": 0,
                                    "rsu_cumulative": True}

    def __init__(self, prefix: str, inner: UnlearnMethod):
        if prefix not in ORDERS:
            raise ConfigError(f"Unknown RSU prefix '{prefix}'.")
        if isinstance(inner, RSU):
            raise ConfigError("RSU cannot wrap RSU.")
        self.inner = inner
        self.order = ORDERS[prefix]
        self.name = f"{prefix}:{inner.name}"
        tag = {"hard_to_easy": "RSU", "reverse": "RSU-reverse", "one_shot": "one-shot"}[self.order]
        self.label = f"{inner.label or inner.name} + {tag}"
        what = {"hard_to_easy": "in stages from hard (low loss) to easy",
                "reverse": "in stages from easy to hard (ablation)",
                "one_shot": "in one shot (ablation; same as the plain method)"}[self.order]
        self.description = f"{inner.label or inner.name} applied to the forget set {what} (RSU, Chen et al., Forgetting Sequence Alg. 1)."
        self.relabeling, self.reinit = inner.relabeling, inner.reinit
        self.partial_update, self.uses_lambda = inner.partial_update, inner.uses_lambda
        self.lowers_forget_accuracy, self.why_not_lower = inner.lowers_forget_accuracy, inner.why_not_lower
        self.uses_test_data = inner.uses_test_data
        # the inner method's measured budget floors (GA: 3 whole epochs) hold for its staged runs too
        self.min_epochs, self.min_steps = inner.min_epochs, inner.min_steps
        self.presets = {fam: {**p, **self.rsu_defaults} for fam, p in inner.presets.items()}
        self.preset_notes = (f"The wrapped method's preset; RSU: θ_o loss ranking, 3 nested stages of ⌈E/3⌉ epochs. "
                             f"{inner.preset_notes}")

    def metadata(self) -> dict[str, Any]:  # type: ignore[override]  (instance-level, the class is generic)
        return {
            "name": self.name, "label": self.label, "description": self.description, "relabeling": self.relabeling,
            "reinit": self.reinit, "partial_update": self.partial_update, "lambda": self.uses_lambda,
            "exact": False, "lowers_forget_accuracy": self.lowers_forget_accuracy,
            "why_not_lower": self.why_not_lower, "presets": self.presets, "preset_notes": self.preset_notes,
            "uses_test_data": self.uses_test_data, "wraps": self.inner.name, "order": self.order,
        }

    def test_indices_used(self, ds, params, seed):
        inner_params = {k: v for k, v in params.items() if k not in self.rsu_defaults}
        return self.inner.test_indices_used(ds, inner_params, seed)

    def default_params(self, ds) -> dict[str, Any]:
        return {**self.inner.default_params(ds), **self.rsu_defaults}

    def cost_passes(self, params: dict, n_forget: int, n_retain: int, recipe) -> float:
        """The wrapped method's passes with the run's parameters (the stages split its epochs over the forget set;
        cumulative stages re-visit earlier samples, which this planning number ignores). Around an exact method
        the wrapper counts like a fine-tuning method (``epochs`` over D_r)."""
        if self.inner.exact:
            return super().cost_passes(params, n_forget, n_retain, recipe)
        return self.inner.cost_passes(params, n_forget, n_retain, recipe)

    @staticmethod
    def n_stages(params: dict) -> int:
        """T: ``rsu_stages`` if > 0, else one stage per epoch of the wrapped method (3 if it has no epochs)."""
        t = int(params["rsu_stages"])
        if t > 0:
            return t
        e = int(params.get("epochs", 0) or 0)
        return e if e >= 2 else 3

    def stage_plan(self, inp: UnlearnInput, params: dict) -> list[torch.Tensor]:
        if self.order == "one_shot":
            return [inp.forget_idx]
        scores = difficulty_scores(inp, str(params["rsu_score"]))
        plan = rsu_stages(scores, inp.forget_idx, self.n_stages(params), self.order, bool(params["rsu_cumulative"]))
        pos = {int(i): k for k, i in enumerate(inp.forget_idx.tolist())}
        for t, stage in enumerate(plan):  # the age parameter λ_t of each stage, for the log
            s = scores[torch.as_tensor([pos[int(i)] for i in stage.tolist()], device=scores.device)]
            lam = s.max() if self.order == "hard_to_easy" else s.min()
            inp.ctx.log(f"{self.name}: stage {t + 1}/{len(plan)} admits {stage.numel()} samples, "
                        f"score {'<=' if self.order == 'hard_to_easy' else '>='} {float(lam):.4g}")
        return plan

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        inner_params = {k: v for k, v in params.items() if k not in self.rsu_defaults}
        plan = self.stage_plan(inp, params)
        n_st = len(plan)
        if "epochs" in inner_params and n_st > 1:
            se = int(params["rsu_stage_epochs"])
            inner_params["epochs"] = se if se > 0 else max(1, math.ceil(int(inner_params["epochs"]) / n_st))
            if se > 0:  # explicit whole epochs per stage (e.g. finding 6's equal budgets): no partial pass
                inner_params.pop("epoch_fraction", None)
                inner_params.pop("min_steps", None)
        model = inp.original
        for t, stage_idx in enumerate(plan):
            # Start from the previous stage's model; θ_o stays the teacher / anchor (UnlearnInput.theta_o).
            stage_inp = replace(inp, original=model, anchor=inp.theta_o, forget_idx=stage_idx,
                                seed=inp.seed + 101 * t, ctx=inp.ctx.sub(t / n_st, (t + 1) / n_st))
            model = self.inner.unlearn(stage_inp, inner_params)
            inp.ctx.progress((t + 1) / n_st, f"{self.label}: stage {t + 1}/{n_st}")
        if model is inp.original:  # defensive: never hand back θ_o itself
            model = inp.copy_original()
        return model


for _p in ORDERS:
    register_wrapper(_p, RSU)  # the class is the factory: RSU(prefix, inner)

for _prefix in ("rsu", "rsu_reverse"):
    for _m in FEATURED:
        register_instance(RSU(_prefix, METHODS[_m]))
