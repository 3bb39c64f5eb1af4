"""Per-example forgetting quality over model banks, as registered metrics of kind ``bank``: N unlearned models
(one θ_o, different method seeds) against N retrained models of the same forget set, per example.

- F and the final score (Triantafillou et al., "Are we making progress in unlearning? Findings from the first
  NeurIPS unlearning competition", 2024): ε per forget example from the best single/double threshold test, points by
  ε bucket, F = mean points; score = F × (RA_u / RA_r) × (TA_u / TA_r). Default ε estimator: the per-example
  Gaussian fit (usable at small N); ``*_threshold``: the competition's empirical test, biased upwards at small N.
- KLoM P95 per split (Georgiev et al., "Attribute-to-Delete: Machine Unlearning via Datamodel Matching", 2024).
- U-LiRA accuracy (Hayes et al., "Inexact unlearning needs more careful evaluations to avoid a false sense of
  privacy", 2024), from N ≥ ``ULIRA_MIN_MODELS`` models per bank.

Definitions and estimators in :mod:`unlearn_core.forget_quality` (the kernels, called here); the view and the
return type in :mod:`.bank_evaluation`. Adding a bank metric: one function here + a test; it becomes a column of
every bank comparison (CLI, grid CSV, dashboard tables).
"""
from __future__ import annotations

import math

import numpy as np

from ..forget_quality import ULIRA_MIN_MODELS, p95_interval
from .bank_evaluation import BankView, Estimate, mean_estimate
from .registry import register_metric

TRIANTAFILLOU = ("Triantafillou et al., Are we making progress in unlearning? Findings from the first NeurIPS "
                 "unlearning competition (2024)")
GEORGIEV = "Georgiev et al., Attribute-to-Delete: Machine Unlearning via Datamodel Matching (2024)"
HAYES = ("Hayes et al., Inexact unlearning needs more careful evaluations to avoid a false sense of privacy "
         "(2024)")
EPS_TEST = ("ε of the best single/double threshold test between N unlearned and N retrained models' logit-scaled "
            "confidence log p_y − log(1 − p_y) (δ = 1e-5)")


def _f(view: BankView, estimator: str) -> Estimate:
    f, se = view.forget_quality(estimator)
    return Estimate(f, se)


def _score(view: BankView, estimator: str) -> Estimate:
    f, se = view.forget_quality(estimator)
    ratio = view.utility_ratio
    return Estimate(f * ratio, se * ratio)


@register_metric("forget_quality", label="F (forgetting quality)", direction="higher", unit="", kind="bank",
                 formula="mean over D_f of 2^−⌊ε/0.5⌋ (0 from ε ≥ ⌈log(N − 1)⌉); ε: Gaussian fit",
                 help=f"Mean over the forget set of the points of each example's ε (1 for ε < 0.5, ½ for [0.5, 1), "
                      f"¼ ...), {EPS_TEST}, estimated from a per-example Gaussian fit (the default; the empirical "
                      f"test, biased upwards at small N, is forget_quality_threshold). 1 = indistinguishable from "
                      f"Retrain. ± = std error over examples.", paper=TRIANTAFILLOU)
def forget_quality(view: BankView) -> Estimate:
    return _f(view, view.estimator)


@register_metric("score", label="final score", direction="higher", unit="", kind="bank",
                 formula="F × (RA_u / RA_r) × (TA_u / TA_r)",
                 help="F × (RA_u / RA_r) × (TA_u / TA_r), accuracies averaged over each bank's models. ± = F's "
                      "std error × the accuracy ratio (the ratio's own spread over models is not included).",
                 paper=TRIANTAFILLOU)
def score(view: BankView) -> Estimate:
    return _score(view, view.estimator)


@register_metric("forget_quality_threshold", label="F (threshold test)", direction="higher", unit="", kind="bank",
                 formula="mean over D_f of 2^−⌊ε/0.5⌋, ε by the empirical threshold tests",
                 help=f"F as the competition computes it: {EPS_TEST}, from the empirical rates of the N models "
                      f"(biased upwards at small N: two retrain banks already score well below 1). ± = std error "
                      f"over examples.", paper=TRIANTAFILLOU)
def forget_quality_threshold(view: BankView) -> Estimate:
    return _f(view, "threshold")


@register_metric("score_threshold", label="final score (threshold test)", direction="higher", unit="", kind="bank",
                 formula="F_threshold × (RA_u / RA_r) × (TA_u / TA_r)",
                 help="The final score from the threshold test's F: F_threshold × (RA_u / RA_r) × (TA_u / TA_r). "
                      "± = F_threshold's std error × the accuracy ratio.", paper=TRIANTAFILLOU)
def score_threshold(view: BankView) -> Estimate:
    return _score(view, "threshold")


@register_metric("eps_mean", label="mean ε", direction="lower", unit="", kind="bank",
                 formula="mean over D_f of ε (the chosen estimator; capped at 50)",
                 help=f"Mean over the forget set of {EPS_TEST}, by the chosen estimator (the Gaussian fit by "
                      f"default); 0 = indistinguishable. ± = std error over examples.", paper=TRIANTAFILLOU)
def eps_mean(view: BankView) -> Estimate:
    return mean_estimate(view.eps)


@register_metric("eps_threshold_mean", label="mean ε (threshold test)", direction="lower", unit="", kind="bank",
                 formula="mean over D_f of ε (the empirical threshold tests; capped at 50)",
                 help=f"Mean over the forget set of {EPS_TEST}, from the empirical rates (about 1.6 for two banks "
                      f"of the same distribution at N ≤ 64). ± = std error over examples.", paper=TRIANTAFILLOU)
def eps_threshold_mean(view: BankView) -> Estimate:
    return mean_estimate(view.eps_threshold)


@register_metric("n_models", label="n models", direction="higher", unit="models", kind="bank",
                 formula="N = min(models in the unlearned bank, models in the retrained bank)",
                 help="Models per bank (N unlearned, N retrained): the resolution of every bank metric (a finite "
                      "ε is at most ≈ log(N − 1)). A count: no uncertainty.")
def n_models(view: BankView) -> Estimate:
    return Estimate(float(view.n))


@register_metric("ulira_forget_acc", label="U-LiRA accuracy (forget)", direction="lower", unit="", kind="bank",
                 formula="mean over D_f of the leave-one-out accuracy of a Gaussian likelihood-ratio test "
                         "(unlearned vs retrained)",
                 help=f"Per forget example, a likelihood-ratio attack from Gaussians fit to the logit-scaled "
                      f"confidence under the 'trained then unlearned' and the 'never trained' (Retrain) bank decides, "
                      f"for each held-out model of either bank, which bank it came from (leave-one-out); mean accuracy "
                      f"over examples. 0.5 = the attack cannot tell (forgotten); 1 = always tells. Needs N ≥ "
                      f"{ULIRA_MIN_MODELS}. ± = std error over examples.", paper=HAYES)
def ulira_forget_acc(view: BankView) -> Estimate:
    if view.n < ULIRA_MIN_MODELS:
        return Estimate(math.nan, math.nan,
                        reason=f"U-LiRA needs at least {ULIRA_MIN_MODELS} models per bank; this bank has {view.n}")
    acc = view.ulira()
    if not np.isfinite(acc).all():
        return Estimate(math.nan, math.nan, reason="U-LiRA is undefined on some forget example")
    return mean_estimate(acc)


KLOM_SPLITS = {"forget": "the forget set", "retain": "a fixed random sample of the retain set",
               "test": "the test set (a fixed random sample of it where it is large)"}


def _register_klom(split: str) -> None:
    def fn(view: BankView) -> Estimate:
        p, lo, hi = p95_interval(view.klom(split))
        return Estimate(p, lo=lo, hi=hi)

    register_metric(f"klom_{split}_p95", label=f"KLoM P95 ({split})", direction="lower", unit="nats", kind="bank",
                    formula=f"95th percentile over {split} examples of KL(unlearned ‖ retrained) of 20-bin margin "
                            f"histograms",
                    help=f"95th percentile over {KLOM_SPLITS[split]} of KL(unlearned ‖ retrained) between 20-bin "
                         f"histograms of the margin z_y − logsumexp(z_others) under N models each. 0 = identical. "
                         f"[bootstrap 95% interval over examples]", paper=GEORGIEV)(fn)


for _split in KLOM_SPLITS:
    _register_klom(_split)
