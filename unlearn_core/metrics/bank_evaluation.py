"""What the bank metrics (kind ``bank``, :mod:`.bank_quality`) are computed from and what they return, and the
comparison of one unlearned bank with one retrained bank that computes every registered bank metric.

- :class:`BankView`: per split (forget, retain sample, test sample) the (N, n_split) margins of the N unlearned and
  N retrained models and their (N,) accuracies, the ε estimator, N; the expensive per-example intermediates (ε per
  estimator, KLoM per split, U-LiRA per example, F) are computed once per view, so F, the score and the mean ε
  share one ε computation. The numeric kernels are :mod:`unlearn_core.forget_quality`'s.
- :class:`Estimate`: a metric's value and its uncertainty. A measure that is a mean over examples carries its
  standard error (``se``: sample std / √S over the examples, the models held fixed); a percentile carries a 95%
  bootstrap interval over examples (``lo``, ``hi``); a count (N) carries neither. ``reason`` says why a value is
  NaN (U-LiRA below its minimum N). As columns: ``<name>``, ``<name>_se``, ``<name>_lo``, ``<name>_hi`` — only the
  parts the estimate has (a NaN standard error where it is undefined is still a column).
- :func:`compare_banks`: one :class:`BankComparison`, its ``metrics`` one entry per registered bank metric (in
  registration order) plus ``fq_estimator``; a bank metric registered anywhere in this package appears in it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..forget_quality import DEFAULT_ESTIMATOR, ESTIMATORS, epsilons, forget_quality, klom, ulira_accuracy
from .registry import metrics as registered_metrics

SPLITS = ("forget", "retain", "test")


@dataclass(frozen=True)
class Estimate:
    """A bank metric's value with its standard error (``se``) or 95% interval (``lo``, ``hi``); None = this measure
    does not report that kind of uncertainty (NaN = it does, but it is undefined here)."""

    value: float
    se: float | None = None
    lo: float | None = None
    hi: float | None = None
    reason: str = ""  # why ``value`` is NaN, for users

    def __post_init__(self) -> None:
        if (self.lo is None) != (self.hi is None):
            raise ValueError("an interval needs both ends (lo and hi)")

    def columns(self, name: str) -> dict[str, float]:
        """``{name: value, name_se: se, name_lo: lo, name_hi: hi}``, the parts this estimate has."""
        out = {name: self.value}
        if self.se is not None:
            out[f"{name}_se"] = self.se
        if self.lo is not None:
            out[f"{name}_lo"], out[f"{name}_hi"] = self.lo, self.hi
        return out


@dataclass(frozen=True)
class BankView:
    """An unlearned bank against a retrained bank of the same forget set (module docstring).

    ``unlearned`` / ``retrained``: split -> (N, n_split) margins φ = z_y − logsumexp(z_others); ``acc_unlearned`` /
    ``acc_retrained``: split -> (N,) accuracies in [0, 1] (retain and test over the whole split)."""

    unlearned: Mapping[str, np.ndarray]
    retrained: Mapping[str, np.ndarray]
    acc_unlearned: Mapping[str, np.ndarray]
    acc_retrained: Mapping[str, np.ndarray]
    estimator: str = DEFAULT_ESTIMATOR
    _cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator {self.estimator!r} (use {', '.join(ESTIMATORS)})")
        for what, d in (("unlearned", self.unlearned), ("retrained", self.retrained),
                        ("acc_unlearned", self.acc_unlearned), ("acc_retrained", self.acc_retrained)):
            missing = [s for s in SPLITS if s not in d]
            if missing:
                raise ValueError(f"{what} lacks the split(s) {', '.join(missing)} (need {', '.join(SPLITS)})")

    def _cached(self, key: Any, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def n(self) -> int:
        """N: models per bank (the smaller bank's size on the forget split)."""
        return min(self.unlearned["forget"].shape[0], self.retrained["forget"].shape[0])

    def epsilons(self, estimator: str | None = None) -> np.ndarray:
        """(S,) ε per forget example by ``estimator`` (default: the view's), computed once."""
        est = self.estimator if estimator is None else estimator
        return self._cached(("eps", est), lambda: epsilons(self.unlearned["forget"], self.retrained["forget"], est))

    @property
    def eps(self) -> np.ndarray:
        return self.epsilons()

    @property
    def eps_threshold(self) -> np.ndarray:
        return self.epsilons("threshold")

    def forget_quality(self, estimator: str | None = None) -> tuple[float, float]:
        """(F, standard error over examples) from the ε of ``estimator`` (default: the view's)."""
        est = self.estimator if estimator is None else estimator
        return self._cached(("F", est), lambda: forget_quality(self.epsilons(est), self.n))

    @property
    def utility_ratio(self) -> float:
        """(RA_u / RA_r) × (TA_u / TA_r), mean accuracies over each bank's models (the final score's factor)."""
        au, ar = self.acc_unlearned, self.acc_retrained
        return self._cached("ratio", lambda: (au["retain"].mean() / max(ar["retain"].mean(), 1e-12))
                            * (au["test"].mean() / max(ar["test"].mean(), 1e-12)))

    def klom(self, split: str) -> np.ndarray:
        """(n_split,) KLoM per example of ``split``, computed once."""
        return self._cached(("klom", split), lambda: klom(self.unlearned[split], self.retrained[split]))

    def ulira(self) -> np.ndarray:
        """(S,) U-LiRA leave-one-out accuracy per forget example (NaN below ``ULIRA_MIN_MODELS`` models)."""
        return self._cached("ulira", lambda: ulira_accuracy(self.unlearned["forget"], self.retrained["forget"]))


def mean_estimate(values: np.ndarray) -> Estimate:
    """The mean over examples with its standard error (sample std / √S; NaN for one example)."""
    v = np.asarray(values, np.float64)
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return Estimate(float(v.mean()), se)


@dataclass
class BankComparison:
    """Everything measured between an unlearned bank and a retrained bank of the same forget set."""

    eps: np.ndarray  # (S,) per forget example (the chosen estimator)
    eps_threshold: np.ndarray  # (S,) the competition's threshold test, always reported
    klom: dict[str, np.ndarray]  # split -> (n_split,) per example
    metrics: dict[str, float]  # every registered bank metric's columns (Estimate.columns) and fq_estimator
    notes: dict[str, str] = field(default_factory=dict)  # metric -> why its value is NaN


def compare_banks(u: Mapping[str, np.ndarray], r: Mapping[str, np.ndarray], acc_u: Mapping[str, np.ndarray],
                  acc_r: Mapping[str, np.ndarray], estimator: str = DEFAULT_ESTIMATOR) -> BankComparison:
    """Every registered bank metric of one unlearned bank against one retrained bank (arguments as
    :class:`BankView`'s), in registration order, then ``fq_estimator`` (the ε estimator F and score used)."""
    view = BankView(u, r, acc_u, acc_r, estimator)
    out: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for m in registered_metrics("bank"):
        est = m.fn(view)
        if not isinstance(est, Estimate):
            raise TypeError(f"bank metric '{m.name}' returned {type(est).__name__}, not an Estimate")
        out.update(est.columns(m.name))
        if est.reason:
            notes[m.name] = est.reason
    out["fq_estimator"] = estimator
    return BankComparison(view.eps, view.eps_threshold, {s: view.klom(s) for s in SPLITS}, out, notes)
