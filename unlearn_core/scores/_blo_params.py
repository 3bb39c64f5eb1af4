"""BLO's parameters (Fan et al., Challenging Forgets, Sec. 4, and this project's search choices): defaults with what
each buys, and their validation. Used by :mod:`unlearn_core.scores.blo`."""
from __future__ import annotations

import math

from ..errors import ConfigError
from ..methods.base import get_method

BLO_DEFAULTS = {
    # --- lower level: θ_u(w) = K epochs of fine-tuning from θ_o on Σ_i (1 − w_i)·ℓ_i (+ w_i·ℓ_f,i)
    "lower_level": "ft",  # ft: the built-in lower level below (lower, optimizer, K, beta) | the name of any registered
    #                       unlearning method: θ_u(S) = that method run at its paper budget on S from θ_o (issue 18)
    "lower": "ft",  # ft (ℓ_f = 0: fine-tune on the (1 − w)-weighted retain objective) | ft_ga (ℓ_f = −ℓ, the paper's
    #                 text) | retrain (from a random init; learns nothing in a budget, docs/blo.md)
    "optimizer": "sign",  # sign (signSGD with step beta, the paper) | recipe (the training recipe's optimizer and lr,
    #                       constant). docs/blo.md: which one actually raises the loss of the set it unlearns
    "K": 1.0,  # lower-level epochs per upper iteration (≥ 1 epoch: the lower level must unlearn the candidate set)
    "warm_start": False,  # False: every lower level starts at θ_o with the same batch order (common random numbers),
    #                       so θ_u is a function of w and a fixed point is well defined. True: continue θ_u (older)
    "beta": 1e-3,  # signSGD step (paper)
    "batch_size": 0,  # 0 = the training recipe's batch size
    # --- upper level
    "lower_weights": "set",  # set: the lower level unlearns the current set top-m(w) (weights 1_S) | soft: w itself
    #                          (the paper's relaxation; a memorized sample kept at partial weight stays memorized)
    "upper": "fw",  # fw: w = running mean of the lower level's best responses (Frank-Wolfe, step 1/(t+1)) |
    #                 pgd: projected steps on scaled gradients (alpha, decay, step_scale, init below)
    "init": "uniform",  # pgd only: uniform (w = m/N) | random (the paper's random binary w)
    "step_scale": "rank",  # pgd only: rank | mad | std | none (paper's literal step)
    "alpha": None,  # pgd only: upper step; None = DEFAULT_ALPHA[step_scale]
    "decay": 1.0,  # pgd only: α_t = α / t^decay (≤ 1: unbounded total movement, the first ranking can be left)
    "gamma": 1e-4,  # ℓ2 regulariser of the upper objective (paper); only breaks ties
    "max_iters": 20,  # cap on upper iterations
    "max_cost": 1.0,  # cost cap in units of one original training (sample passes / (epochs·N)); no iteration
    #                   starts that would exceed it; 0 = no cap. A reported stop reason of its own ("max_cost")
    "upper_iters": None,  # deprecated alias of max_iters (older configurations); None = use max_iters
    "tol_overlap": 0.98,  # fixed point: the set that defined θ_u overlaps its response (the m lowest losses of θ_u)
    #                       by at least this ...
    "patience": 2,  # ... for this many consecutive iterations, and the objective did not improve during them
    "tol_gap": 0.01,  # ... or (an ε-fixed point) swapping to the response would lower the mean loss on the set by at
    #                   most this fraction of the mean loss over all samples (many near-zero losses: ranks churn)
    "tol_objective": 0.01,  # "improved" = the best objective dropped by more than this fraction of that mean loss
    # --- granularity
    "granularity": "sample",  # sample | class (w over classes: class-wise worst case)
    "n_classes": 1,  # class granularity only: how many classes to forget
    "class_loss": "sum",  # class granularity: per-class loss sum (science.md) | mean
}

# Default α per step scale. rank: u ∈ (−½, ½), so the lowest-loss sample gains α/2 and the highest loses α/2
# relative to the median per iteration; α = 1 takes a uniform-start sample to 0 or 1 in about two iterations of a
# consistent rank. mad/std: α in units of the robust/plain scale. none: the paper's 1e-3 on raw losses.
DEFAULT_ALPHA = {"rank": 1.0, "mad": 0.2, "std": 0.2, "none": 1e-3}

EVAL_PASS_COST = 1.0 / 3.0  # one eval forward ≈ a third of a training forward+backward (in sample passes)
TIE_EPS = 1e-6  # ties in w (at 0 or 1) are broken by the last losses: values = w − TIE_EPS·centred_rank(loss)

_CHOICES = {"lower": ("ft", "ft_ga", "retrain"), "optimizer": ("sign", "recipe"), "upper": ("fw", "pgd"),
            "lower_weights": ("set", "soft"),
            "init": ("uniform", "random"),
            "step_scale": ("rank", "mad", "std", "none"), "granularity": ("sample", "class"),
            "class_loss": ("sum", "mean")}


# ------------------------------------------------------------------------------------------------ parameters
def _number(p: dict, key: str, *, integer: bool = False, lo: float | None = None, lo_open: bool = False,
            hi: float | None = None, allow_none: bool = False):
    v = p[key]
    if v is None and allow_none:
        return None
    kind = "an integer" if integer else "a number"
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
        raise ConfigError(f"BLO parameter '{key}' must be {kind}, got {v!r}.")
    if not math.isfinite(v):
        raise ConfigError(f"BLO parameter '{key}' must be finite, got {v!r}.")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise ConfigError(f"BLO parameter '{key}' must be {'>' if lo_open else '>='} {lo}, got {v!r}.")
    if hi is not None and v > hi:
        raise ConfigError(f"BLO parameter '{key}' must be <= {hi}, got {v!r}.")
    return int(v) if integer else float(v)


def validate_params(params: dict | None) -> dict:
    """Defaults merged with ``params``, every value checked (ConfigError with a clear message otherwise)."""
    p = {**BLO_DEFAULTS, **(params or {})}
    unknown = set(p) - set(BLO_DEFAULTS)
    if unknown:
        raise ConfigError(f"Unknown BLO parameter(s) {sorted(unknown)}. Known: {', '.join(sorted(BLO_DEFAULTS))}.")
    for key, choices in _CHOICES.items():
        if p[key] not in choices:
            raise ConfigError(f"Unknown BLO {key} {p[key]!r} (use {', '.join(choices)}).")
    p["lower_level"] = _lower_level_name(p["lower_level"])
    if p["lower_level"] != BUILTIN_LOWER_LEVEL and (p["granularity"] != "sample" or p["lower_weights"] != "set"):
        raise ConfigError(f"BLO lower_level '{p['lower_level']}' (an unlearning method) needs granularity: sample and "
                          f"lower_weights: set (a method unlearns a set of samples).")
    if not isinstance(p["warm_start"], bool):
        raise ConfigError(f"BLO parameter 'warm_start' must be true or false, got {p['warm_start']!r}.")
    p["K"] = _number(p, "K", lo=0, lo_open=True)
    p["beta"] = _number(p, "beta", lo=0, lo_open=True)
    p["alpha"] = _number(p, "alpha", lo=0, lo_open=True, allow_none=True)
    p["gamma"] = _number(p, "gamma", lo=0)
    p["decay"] = _number(p, "decay", lo=0)
    p["batch_size"] = _number(p, "batch_size", integer=True, lo=0)
    p["max_iters"] = _number(p, "max_iters", integer=True, lo=1)
    p["max_cost"] = _number(p, "max_cost", lo=0)
    p["upper_iters"] = _number(p, "upper_iters", integer=True, lo=1, allow_none=True)
    p["tol_overlap"] = _number(p, "tol_overlap", lo=0, lo_open=True, hi=1)
    p["patience"] = _number(p, "patience", integer=True, lo=1)
    p["tol_objective"] = _number(p, "tol_objective", lo=0, hi=1)
    p["tol_gap"] = _number(p, "tol_gap", lo=0, hi=1)
    p["n_classes"] = _number(p, "n_classes", integer=True, lo=1)
    return p


BUILTIN_LOWER_LEVEL = "ft"


def _lower_level_name(v) -> str:
    """``ft`` (the built-in lower level) or a registered unlearning method's name (unknown → ConfigError listing them)."""
    if not isinstance(v, str) or not v:
        raise ConfigError(f"BLO parameter 'lower_level' must be 'ft' or an unlearning method's name, got {v!r}.")
    if v == BUILTIN_LOWER_LEVEL:
        return v
    try:
        get_method(v)
    except ConfigError as e:
        raise ConfigError(f"BLO lower_level {v!r}: {e} Use 'ft' (the built-in lower level) or a method name.") from None
    return v


# Ranges checked at submit time by the shared validation layer (validate_params re-checks when the score runs).
BLO_PARAM_RULES = {
    **{key: {"choices": list(choices)} for key, choices in _CHOICES.items()},
    "lower_level": {"hint": "'ft' (built-in) or an unlearning method's name"},
    "K": {"min": 0, "max": 1000, "min_open": True, "hint": "lower-level epochs per iteration (fractions allowed)"},
    "beta": {"min": 0, "max": 1e3, "min_open": True, "hint": "the signSGD step"},
    "alpha": {"min": 0, "max": 1e6, "min_open": True, "hint": "the upper-level step; null = the step scale's default"},
    "gamma": {"min": 0, "max": 1e6}, "decay": {"min": 0, "max": 10},
    "batch_size": {"min": 0, "max": 1_000_000, "hint": "a batch size; 0 = the training recipe's"},
    "max_iters": {"min": 1, "max": 10_000}, "upper_iters": {"min": 1, "max": 10_000},
    "max_cost": {"min": 0, "max": 1000, "hint": "units of one original training; 0 = no cap"},
    "tol_overlap": {"min": 0, "max": 1, "min_open": True}, "patience": {"min": 1, "max": 1000},
    "tol_objective": {"min": 0, "max": 1}, "tol_gap": {"min": 0, "max": 1},
    "n_classes": {"min": 1, "max": 10_000},
}
