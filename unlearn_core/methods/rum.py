"""RUM: the Refined-Unlearning Meta-algorithm (Zhao et al., NeurIPS 2024, *What makes unlearning hard and what to do
about it*, §5) — a wrapper around any unlearning method.

Refinement: the forget set is split into k homogeneous groups (``rum_groups``, default 3: low / medium / high) by a
per-sample score (``rum_score``, with ``rum_score_params`` such as {"n_shadow": 64}; ``rum_n_shadow`` sets the
shadow-bank size directly — 16 is the LiRA default, 64 or more research grade, and memorization from S models has a
resolution of 2/S, logged next to the groups): Feldman & Zhang memorization from the LiRA shadow bank by default
(the paper's choice), or a cheap proxy when no LiRA bank is wanted — the learning-event confidence
``le_confidence`` (recorded while θ_o trained; Zhao & Triantafillou 2024), ``loss``, or any registered per-sample
score. Scores are oriented by the registry's ``hard_end`` so that group 1 is always the easiest (lowest
memorization) and group k the hardest.

Groups (``rum_grouping``):

* ``"dataset"`` (default) — as Zhao et al.'s public code builds them (``main_forget.py``, reading of the code, not a
  copy): the groups are defined on the *whole training set*: ``high`` = the samples with the highest memorization,
  ``low`` = the lowest, ``mid`` = those closest to 0.5 (the median for a proxy score, as their proxy code does), each
  of |D_f|/3 samples (:func:`unlearn_core.scores.memorization.memorization_groups`, with the forget-set selector's
  seeded tie-breaking, so on a ``mem:mix`` forget set — a third drawn from each group, their "mix" set — the groups
  are exactly the ones the set was drawn from). A forget sample outside all three (e.g. of a random forget set) joins
  the group whose mean score is nearest. With k ≠ 3: equal-count quantile bins of the whole training set.
* ``"forget_set"`` (ablation, this project's earlier reading) — equal-count quantiles *of the forget set*, ties — the
  rule with memorization from 16 shadow models, which takes 17 values and is 0 for most samples — broken by θ_o's
  loss (higher = treated as more memorized: the two correlate positively), then by sample index.

Meta-unlearning: a method per group (``rum_methods``: one name per group, "" = the wrapped method, "none" = leave
the group alone — the paper's best CIFAR-10 pipeline is "nothing → FT → SalUn" from low to high memorization) with
per-group hyperparameter overrides (``rum_group_params``: one JSON object per group), applied to the groups in
sequence, each starting from the previous group's model. θ_o stays the anchor/teacher of every step
(``UnlearnInput.anchor``), as in RSU. Retain set of each step (``rum_retain``): "final" (default) = D \\ D_f at every
step, so samples of later groups are never trained on; "sequential" = the public code's sequential runs, where
step t retains D minus the groups unlearned so far (later groups of D_f are still trained on as retain data).
Each group runs its method with its full hyperparameters (epochs included), as in the paper: RUM with k groups
costs about k runs of the method on |D_f|/k samples each.

Orders — one wrapper prefix each, usable with any method name (``get_method("rum:ft")``):

* ``rum:METHOD``          groups from low to high memorization (easy → hard: the paper's order);
* ``rum_reverse:METHOD``  high to low (ablation; every group keeps its method);
* ``rum_oneshot:METHOD``  the wrapped method on the whole forget set at once (ablation; identical to METHOD).

The wrappers are not listed by ``method_names()`` (by default they need the LiRA bank, which only a run through the
pipeline can reach: the pipeline hands the store to the method); ``get_method`` builds any combination.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..models import Classifier
from .base import UnlearnInput, UnlearnMethod, get_method, register_wrapper

ORDERS = {"rum": "easy_to_hard", "rum_reverse": "hard_to_easy", "rum_oneshot": "one_shot"}
RUM_DEFAULTS: dict[str, Any] = {"rum_groups": 3, "rum_score": "memorization", "rum_score_params": {},
                                "rum_methods": [], "rum_group_params": [], "rum_retain": "final",
                                "rum_grouping": "dataset", "rum_n_shadow": 0}
GROUPINGS = ("dataset", "forget_set")
SHADOW_CHOICES = (0, 16, 32, 64, 128, 256)  # 0 = the score's default (16); ≥ 64 research grade
SKIP = ("none", "nothing", "skip")
MAX_GROUPS = 10


def _as_list(value: Any, what: str) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            try:
                value = json.loads(s)
            except json.JSONDecodeError as err:
                raise ConfigError(f"RUM: {what} is not valid JSON ({err.msg}).") from None
        else:
            return [x.strip() for x in s.split(",")]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"RUM: {what} must be a list (one entry per group), got {value!r}.")
    return list(value)


def rum_groups(hardness: np.ndarray, forget_idx: np.ndarray, k: int, tiebreak: np.ndarray | None = None
               ) -> list[np.ndarray]:
    """Split ``forget_idx`` into ``k`` equal-count groups by ``hardness`` (aligned; higher = harder), easiest
    first; ties broken by ``tiebreak`` (higher = harder), then by sample index."""
    n = len(forget_idx)
    k = max(1, min(int(k), n))
    keys = [np.asarray(forget_idx)]
    if tiebreak is not None:
        keys.append(np.asarray(tiebreak, dtype=np.float64))
    order = np.lexsort((*keys, np.asarray(hardness, dtype=np.float64)))
    ordered = np.asarray(forget_idx)[order]
    ends = [math.ceil(n * (t + 1) / k) for t in range(k)]
    starts = [0] + ends[:-1]
    return [ordered[b:e] for b, e in zip(starts, ends)]


def dataset_groups(hardness: np.ndarray, forget_idx: np.ndarray, k: int, seed: int, memorization: bool
                   ) -> list[np.ndarray]:
    """Split ``forget_idx`` by data-set-level groups of ``hardness`` (all N training samples, higher = harder),
    easiest group first (module docstring, ``rum_grouping = "dataset"``)."""
    from ..scores.memorization import MEM_GROUPS, memorization_groups, mix_sizes

    f = np.asarray(forget_idx, dtype=np.int64)
    h = np.asarray(hardness, dtype=np.float64)
    if k == 3:
        rng = np.random.default_rng(seed + 104729)  # the forget-set selectors' generator: same tie-breaking
        ref = memorization_groups(h, mix_sizes(len(f)), rng, 0.5 if memorization else None)
        label = np.full(len(h), -1, dtype=np.int64)
        for g, name in enumerate(MEM_GROUPS):  # low = easiest … high = hardest
            label[ref[name]] = g
        centres = np.array([h[ref[name]].mean() for name in MEM_GROUPS])
    else:
        edges = np.quantile(h, np.linspace(0, 1, k + 1)[1:-1])
        label = np.searchsorted(edges, h, side="right").astype(np.int64)  # every sample falls in a bin
        centres = np.zeros(k)
    lf = label[f]
    free = lf < 0
    if free.any():  # outside every data-set-level group: the group whose mean score is nearest
        lf[free] = np.nanargmin(np.abs(h[f[free]][:, None] - centres[None, :]), axis=1)
    return [np.sort(f[lf == g]) for g in range(k)]


def score_values(inp: UnlearnInput, score: str, score_params: dict | None = None) -> tuple[np.ndarray, dict]:
    """(scores of every training sample oriented so that higher = harder, the score's extras)."""
    from ..scores import ScoreInput, get_score

    spec = get_score(score)
    if spec.depends_on_ratio:
        raise ConfigError(f"RUM cannot split by '{score}': it depends on the forget ratio. Use a per-sample score "
                          f"such as memorization, le_confidence or loss.")
    store = getattr(inp, "store", None)
    if spec.expensive and store is None:
        raise ConfigError(f"RUM by '{score}' needs the store holding its shadow models: run it through the pipeline "
                          f"(CLI unlearn/compare, a dashboard job), or choose rum_score='le_confidence' or 'loss'.")
    res = spec.fn(ScoreInput(inp.theta_o, inp.model_name, inp.ds, inp.train_cfg, seed=inp.seed, ratio=None,
                             params=spec.resolve_params(score_params), ctx=inp.ctx.sub(0.0, 0.05), store=store))
    vals = np.asarray(res.values, dtype=np.float64)
    return (vals if spec.hard_end == "high" else -vals), dict(res.extras or {})


def forget_hardness(inp: UnlearnInput, score: str, score_params: dict | None = None) -> np.ndarray:
    """Per-forget-sample scores of θ_o oriented so that higher = harder to unlearn (by the score's ``hard_end``).

    Scores that train models (memorization, LiRA) read the store the pipeline hands to the method; without one
    they are refused rather than silently retrained.
    """
    vals, _ = score_values(inp, score, score_params)
    return vals[inp.forget_idx.detach().cpu().numpy()]


class RUM(UnlearnMethod):
    """RUM around ``inner`` with a fixed group order (see module docstring)."""

    def __init__(self, prefix: str, inner: UnlearnMethod):
        if prefix not in ORDERS:
            raise ConfigError(f"Unknown RUM prefix '{prefix}'.")
        if isinstance(inner, RUM):
            raise ConfigError("RUM cannot wrap RUM.")
        if inner.exact:
            raise ConfigError("RUM wraps approximate methods; Retrain retrains from scratch whatever the groups.")
        self.inner = inner
        self.order = ORDERS[prefix]
        self.name = f"{prefix}:{inner.name}"
        tag = {"easy_to_hard": "RUM", "hard_to_easy": "RUM-reverse", "one_shot": "one-shot"}[self.order]
        self.label = f"{inner.label or inner.name} + {tag}"
        what = {"easy_to_hard": "in groups from low to high memorization",
                "hard_to_easy": "in groups from high to low memorization (ablation)",
                "one_shot": "in one shot (ablation; same as the plain method)"}[self.order]
        self.description = (f"{inner.label or inner.name} applied to the forget set {what}, a method per group "
                            f"(RUM, Zhao et al. 2024).")
        self.relabeling, self.reinit = inner.relabeling, inner.reinit
        self.partial_update, self.uses_lambda = inner.partial_update, inner.uses_lambda
        self.lowers_forget_accuracy, self.why_not_lower = inner.lowers_forget_accuracy, inner.why_not_lower
        self.uses_test_data = inner.uses_test_data
        self.presets = {fam: {**p, **RUM_DEFAULTS} for fam, p in inner.presets.items()}
        self.preset_notes = (f"The wrapped method's preset in every group; RUM: 3 memorization groups, low → high. "
                             f"{inner.preset_notes}")

    # ------------------------------------------------------------------ parameters
    def default_params(self, ds) -> dict[str, Any]:
        return {**self.inner.default_params(ds), **json.loads(json.dumps(RUM_DEFAULTS))}

    def resolve_params(self, ds, overrides: dict[str, Any] | None, recipe=None) -> dict[str, Any]:
        """The wrapped method's resolved preset + RUM's knobs, normalised: ``rum_methods`` and
        ``rum_group_params`` become one entry per group (a group running another method carries that method's
        fully resolved hyperparameters, so the run's key changes with its preset)."""
        from ..scores import get_score

        ov = dict(overrides or {})
        rum = {k: ov.pop(k) for k in list(ov) if k in RUM_DEFAULTS}
        unknown = [k for k in rum if k not in RUM_DEFAULTS]
        if unknown:  # pragma: no cover - filtered above
            raise ConfigError(f"RUM has no parameter {unknown}.")
        inner = self.inner.resolve_params(ds, ov, recipe)
        p = {**RUM_DEFAULTS, **rum}
        try:
            k = int(p["rum_groups"])
        except (TypeError, ValueError):
            raise ConfigError(f"rum_groups must be an integer, got {p['rum_groups']!r}.") from None
        if isinstance(p["rum_groups"], bool) or not 1 <= k <= MAX_GROUPS:
            raise ConfigError(f"rum_groups must be between 1 and {MAX_GROUPS}, got {p['rum_groups']!r}.")
        score = str(p["rum_score"])
        sp = p["rum_score_params"]
        if isinstance(sp, str):
            try:
                sp = json.loads(sp) if sp.strip() else {}
            except json.JSONDecodeError as err:
                raise ConfigError(f"rum_score_params: not valid JSON ({err.msg}).") from None
        if not isinstance(sp, dict):
            raise ConfigError(f"rum_score_params must be a JSON object, got {sp!r}.")
        score_params = get_score(score).resolve_params(sp)  # unknown score or parameter: a clear error
        if p["rum_retain"] not in ("final", "sequential"):
            raise ConfigError(f"rum_retain must be 'final' or 'sequential', got {p['rum_retain']!r}.")
        if p["rum_grouping"] not in GROUPINGS:
            raise ConfigError(f"rum_grouping must be one of {', '.join(GROUPINGS)}, got {p['rum_grouping']!r}.")
        try:
            n_shadow = int(p["rum_n_shadow"])
        except (TypeError, ValueError):
            raise ConfigError(f"rum_n_shadow must be an integer, got {p['rum_n_shadow']!r}.") from None
        if isinstance(p["rum_n_shadow"], bool) or n_shadow not in SHADOW_CHOICES:
            raise ConfigError(f"rum_n_shadow must be one of {SHADOW_CHOICES} (0 = the score's default; 64 or more "
                              f"is research grade), got {p['rum_n_shadow']!r}.")
        if n_shadow:
            if "n_shadow" not in get_score(score).defaults:
                raise ConfigError(f"rum_n_shadow applies to scores built on shadow models (memorization, LiRA), "
                                  f"not to '{score}'.")
            score_params = get_score(score).resolve_params({**sp, "n_shadow": n_shadow})
        methods = _as_list(p["rum_methods"], "rum_methods")
        gparams = _as_list(p["rum_group_params"], "rum_group_params")
        if methods and len(methods) != k:
            raise ConfigError(f"rum_methods names {len(methods)} methods for {k} groups; give one per group "
                              f"(\"\" = {self.inner.name}, \"none\" = leave the group alone).")
        if gparams and len(gparams) != k:
            raise ConfigError(f"rum_group_params holds {len(gparams)} entries for {k} groups; give one per group.")
        methods = [str(m).strip() or self.inner.name for m in methods] or [self.inner.name] * k
        gparams = gparams or [{} for _ in range(k)]
        out_methods, out_params = [], []
        for name, gp in zip(methods, gparams):
            if isinstance(gp, str):
                try:
                    gp = json.loads(gp) if gp.strip() else {}
                except json.JSONDecodeError as err:
                    raise ConfigError(f"rum_group_params: not valid JSON ({err.msg}).") from None
            if not isinstance(gp, dict):
                raise ConfigError(f"rum_group_params entries must be JSON objects, got {gp!r}.")
            if name.lower() in SKIP:
                out_methods.append("none")
                out_params.append({})
                continue
            m = self._method(name)
            if isinstance(m, RUM) or ":" in name:
                raise ConfigError(f"RUM groups take plain methods, not wrappers ('{name}').")
            if m.exact:
                raise ConfigError("Retrain cannot unlearn one group of a forget set; choose an approximate method.")
            if m is self.inner:
                self.inner.resolve_params(ds, {**inner, **gp}, recipe)  # validates the overrides' names and types
                out_params.append(dict(gp))
            else:
                out_params.append(m.resolve_params(ds, gp, recipe))
            out_methods.append(m.name)
        return {**inner, "rum_groups": k, "rum_score": score, "rum_score_params": score_params,
                "rum_methods": out_methods,
                "rum_group_params": out_params, "rum_retain": p["rum_retain"], "rum_grouping": p["rum_grouping"],
                "rum_n_shadow": n_shadow}

    def metadata(self) -> dict[str, Any]:  # type: ignore[override]
        return {
            "name": self.name, "label": self.label, "description": self.description, "relabeling": self.relabeling,
            "reinit": self.reinit, "partial_update": self.partial_update, "lambda": self.uses_lambda,
            "exact": False, "lowers_forget_accuracy": self.lowers_forget_accuracy,
            "why_not_lower": self.why_not_lower, "presets": self.presets, "preset_notes": self.preset_notes,
            "uses_test_data": self.uses_test_data, "wraps": self.inner.name, "order": self.order,
        }

    def _method(self, name: str) -> UnlearnMethod:
        return self.inner if name == self.inner.name else get_method(name)

    def _group_steps(self, params: dict) -> list[tuple[str, dict]]:
        """(method name, its params) per group, easiest group first ("none" = skip)."""
        inner = {k: v for k, v in params.items() if k not in RUM_DEFAULTS}
        steps = []
        for name, gp in zip(params["rum_methods"], params["rum_group_params"]):
            if name == "none":
                steps.append(("none", {}))
            elif name == self.inner.name:
                steps.append((name, {**inner, **gp}))
            else:
                steps.append((name, dict(gp)))
        return steps

    def test_indices_used(self, ds, params, seed):
        inner = {k: v for k, v in params.items() if k not in RUM_DEFAULTS}
        if self.order == "one_shot" or "rum_methods" not in params:
            return self.inner.test_indices_used(ds, inner, seed)
        used = [self._method(n).test_indices_used(ds, p, seed) for n, p in self._group_steps(params) if n != "none"]
        used = [torch.as_tensor(u).reshape(-1).cpu() for u in used if u is not None]
        return torch.unique(torch.cat(used)) if used else None

    def cost_passes(self, params: dict, n_forget: int, n_retain: int, recipe) -> float:
        """Sample passes for the cost model: the sum of each group's method on its share of the forget set."""
        inner = {k: v for k, v in params.items() if k not in RUM_DEFAULTS}
        if self.order == "one_shot":
            return float(self.inner.cost_passes(inner, n_forget, n_retain, recipe))
        k = int(params["rum_groups"])
        return float(sum(float(self._method(n).cost_passes(p, max(1, n_forget // k), n_retain, recipe))
                         for n, p in self._group_steps(params) if n != "none"))

    # ------------------------------------------------------------------ unlearning
    def plan(self, inp: UnlearnInput, params: dict) -> list[tuple[int, np.ndarray]]:
        """(group number 0 = easiest, forget indices) in execution order."""
        f = inp.forget_idx.detach().cpu().numpy()
        if self.order == "one_shot":
            return [(0, f)]
        score = str(params["rum_score"])
        values, extras = score_values(inp, score, params.get("rum_score_params") or None)
        k = int(params["rum_groups"])
        if params.get("rum_grouping", "forget_set") == "dataset":
            groups = dataset_groups(values, f, k, inp.seed, score == "memorization")
        else:
            hard = values[f]
            tiebreak = None
            if score != "loss":  # memorization from 16 models is mostly ties at 0: θ_o's loss orders them
                from .rsu import fp32_losses

                tiebreak = fp32_losses(inp.theta_o, inp.ds, inp.forget_idx).detach().cpu().numpy()
            groups = rum_groups(hard, f, k, tiebreak)
        res_note = f", {extras['resolution_text']}" if extras.get("resolution_text") else ""
        for g, idx in enumerate(groups):
            h = values[idx]
            span = f"{h.min():.3g} .. {h.max():.3g}" if len(idx) else "—"
            inp.ctx.log(f"{self.name}: group {g + 1}/{len(groups)} ({params['rum_methods'][g]}): {len(idx)} samples, "
                        f"{score} hardness {span}{res_note}")
        order = list(enumerate(groups))
        return order[::-1] if self.order == "hard_to_easy" else order

    def unlearn(self, inp: UnlearnInput, params: dict) -> Classifier:
        inner_params = {k: v for k, v in params.items() if k not in RUM_DEFAULTS}
        if self.order == "one_shot":
            return self.inner.unlearn(inp, inner_params)
        plan = self.plan(inp, params)
        steps = self._group_steps(params)
        model = inp.original
        dev = inp.forget_idx.device
        for t, (g, idx) in enumerate(plan):
            name, gp = steps[g]
            sub = inp.ctx.sub(0.05 + 0.95 * t / len(plan), 0.05 + 0.95 * (t + 1) / len(plan))
            if name == "none" or len(idx) == 0:
                inp.ctx.log(f"{self.name}: group {g + 1} left alone")
                continue
            retain = inp.retain_idx
            if params["rum_retain"] == "sequential":  # later groups still count as retain data (the public code)
                later = [plan[u][1] for u in range(t + 1, len(plan))]
                if later:
                    retain = torch.cat([retain, torch.as_tensor(np.concatenate(later), device=dev)]).sort().values
            step_inp = replace(inp, original=model, anchor=inp.theta_o,
                               forget_idx=torch.as_tensor(np.sort(idx), device=dev), retain_idx=retain,
                               seed=inp.seed + 101 * t, ctx=sub)
            model = self._method(name).unlearn(step_inp, gp)
            inp.ctx.progress(0.05 + 0.95 * (t + 1) / len(plan), f"{self.label}: group {g + 1} done")
        if model is inp.original:  # every group left alone: hand back a copy, never θ_o itself
            model = inp.copy_original()
        return model


for _p in ORDERS:
    register_wrapper(_p, RUM)  # the class is the factory: RUM(prefix, inner)
