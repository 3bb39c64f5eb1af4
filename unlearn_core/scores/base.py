"""The per-sample score interface and its registry.

A score is one file in this package: a function decorated with ``@register_score(...)`` that takes a
:class:`ScoreInput` and returns a :class:`ScoreResult` with one value per training sample (indexed like
``ds.y_train``). ``hard_end`` says which end of the score marks samples that are hard to forget ("low" for
loss: Chen et al., Forgetting Sequence; "high" for BLO weights: Fan et al., Challenging Forgets), so selectors and views can orient themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..context import NULL_CONTEXT, RunContext
from ..data import ImageDataset
from ..errors import unknown_name
from ..models import Classifier
from ..passes import EVAL_PASS
from ..training import TrainConfig
from ..validation import check_params
from ..discovery import import_submodules


@dataclass
class ScoreInput:
    original: Classifier  # θ_o, eval mode; do not modify
    model_name: str
    ds: ImageDataset
    train_cfg: TrainConfig
    seed: int = 0
    ratio: float | None = None  # only for scores that depend on the forget-set size (BLO)
    params: dict[str, Any] = field(default_factory=dict)
    ctx: RunContext = field(default_factory=lambda: NULL_CONTEXT)
    # The store, where an expensive score keeps resumable partial results (LiRA shadow models, EL2N/GraNd early
    # models) as runs of their own (``store.lookup`` / ``store.put``). None = nothing is kept between calls.
    store: Any = None


@dataclass
class ScoreResult:
    values: np.ndarray  # (N,) float
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. BLO trace, LiRA AUC (JSON-serialisable)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # extra per-sample arrays worth caching


@dataclass
class ScoreSpec:
    name: str
    fn: Callable[[ScoreInput], ScoreResult]
    label: str
    description: str
    hard_end: str  # "low" or "high": which end is hard to forget
    defaults: dict[str, Any]
    depends_on_ratio: bool = False
    expensive: bool = False  # trains extra models (LiRA, EL2N, GraNd): run as a background job
    # Sample passes of one computation, cost(params, n_train, recipe, m) (see unlearn_core.cost); None = one
    # evaluation pass over the training set.
    cost: Callable[[dict, int, Any, "int | None"], float] | None = None
    # Ranges / choices of parameters: {name: {"min": 1, "max": 100} | {"choices": [...]} | validation.Rule}. Types
    # come from ``defaults``; undeclared parameters get the rules by name (validation.name_rule) and the generic
    # ones (finite, >= 0). See :mod:`unlearn_core.validation`.
    param_rules: dict[str, Any] = field(default_factory=dict)
    # Parameters added after results were cached, at the value that reproduces the earlier behaviour: left out of
    # the resolved parameters (hence of every cache key) when they have that value, so old results stay valid.
    key_neutral: dict[str, Any] = field(default_factory=dict)

    def cost_passes(self, params: dict[str, Any], n: int, recipe: Any, m: int | None = None) -> float:
        """Sample passes of one computation on ``n`` training samples (:mod:`unlearn_core.cost`): the score's
        declared ``cost``, else one evaluation pass over the training set. ``m`` = the forget-set size when the score
        depends on it (BLO)."""
        if self.cost is not None:
            return float(self.cost(params, n, recipe, m))
        return n * EVAL_PASS

    def resolve_params(self, overrides: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults updated with validated overrides (unknown names, wrong types and out-of-range values are a
        ConfigError before anything is computed); a :attr:`key_neutral` parameter at its neutral value is left out."""
        p = check_params(f"Score '{self.name}'", overrides, self.defaults, self.param_rules)
        return {k: v for k, v in p.items() if not (k in self.key_neutral and v == self.key_neutral[k])}


SCORES: dict[str, ScoreSpec] = {}


def register_score(name: str, *, label: str, description: str, hard_end: str, defaults: dict[str, Any] | None = None,
                   depends_on_ratio: bool = False, expensive: bool = False,
                   cost: Callable[[dict, int, Any, "int | None"], float] | None = None,
                   param_rules: dict[str, Any] | None = None, key_neutral: dict[str, Any] | None = None):
    """Register a score function. ``cost(params, n_train, recipe, m)`` = sample passes of one computation (see
    :mod:`unlearn_core.cost`; None = one evaluation pass). ``param_rules`` declares ranges / choices of its
    parameters, e.g. ``{"K": {"min": 1, "max": 1000}, "lower": {"choices": ["ft", "ft_ga"]}}`` (validation.Rule
    fields); each score owns its rules. ``key_neutral`` = parameters added later, left out of cache keys at the
    value that reproduces the earlier behaviour."""
    if hard_end not in ("low", "high"):
        raise ValueError("hard_end must be 'low' or 'high'")

    def deco(fn: Callable[[ScoreInput], ScoreResult]):
        if name in SCORES:
            raise ValueError(f"score '{name}' registered twice")
        SCORES[name] = ScoreSpec(name, fn, label, description, hard_end, dict(defaults or {}), depends_on_ratio,
                                 expensive, cost, dict(param_rules or {}), dict(key_neutral or {}))
        return fn

    return deco


_LOADED = False


def load_all() -> None:
    """Import every score module of this package (discovery: each registers itself with @register_score)."""
    global _LOADED
    if _LOADED:
        return
    import_submodules(__name__.rpartition(".")[0], {"base"})
    _LOADED = True


def get_score(name: str) -> ScoreSpec:
    load_all()
    if name not in SCORES:
        raise unknown_name("score", name, list(SCORES))
    return SCORES[name]


def score_names() -> list[str]:
    load_all()
    return list(SCORES)


def to_numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    return t.detach().float().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
