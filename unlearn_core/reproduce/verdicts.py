"""How a finding is judged: seed-paired comparisons with Student-t intervals, the verdict they combine into, and
the :class:`Finding` that carries it (see :mod:`unlearn_core.reproduce`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..stats import mean_std

HOLDS, PARTLY, FAILS = "holds", "partly holds", "does not hold"
INCONCLUSIVE = "inconclusive (n < 3)"
NOT_APPLICABLE = "not applicable"
NOT_RUN = "not run"
VERDICTS = (HOLDS, PARTLY, FAILS, INCONCLUSIVE, NOT_APPLICABLE)
CONFIDENCE = 0.95
MIN_SEEDS = 3
MIN_FIT_RA = 95.0  # θ_o must fit its training set (RA, %) for the papers' claims to apply
N_FINDINGS = 7

PAPERS = {
    "fan": "Fan, Liu, Hero, Liu — Challenging Forgets: Unveiling the Worst-Case Forget Sets in Machine Unlearning "
           "(ECCV 2024)",
    "chen": "Chen et al. — Machine Unlearning in Forgetting Sequence",
}


def verdict_kind(verdict: str) -> str:
    """The verdict category of a verdict text ("not applicable: θ_o does not fit …" → "not applicable")."""
    for v in VERDICTS:
        if verdict == v or verdict.startswith(v + ":") or verdict.startswith(v + " ("):
            return v
    return verdict


@dataclass
class Comparison:
    """One seed-paired comparison: d_s = a_s − b_s over the seeds where both were measured; the claim is that d
    lies on the ``expected`` side of zero (+1: a above b, −1: a below b)."""

    label: str  # what d is, e.g. "Retrain UA: worst − random"
    expected: int
    diffs: list[float]
    seeds: list[int]
    group: str = ""  # sub-verdict name (e.g. a method) when a finding has several
    mean: float = float("nan")
    lo: float = float("nan")
    hi: float = float("nan")

    def __post_init__(self) -> None:
        if self.expected not in (1, -1):
            raise ValueError("expected must be +1 or -1")
        d = np.asarray([v for v in self.diffs if v == v], dtype=float)
        self.diffs = [float(v) for v in d]
        if len(d):
            self.mean = float(d.mean())
        if len(d) >= 2:
            self.lo, self.hi = t_interval(d)

    @property
    def n(self) -> int:
        return len(self.diffs)

    @property
    def status(self) -> str:
        """holds / does not hold (interval contains 0 or lies on the other side) / inconclusive (n < 3)."""
        if self.n < MIN_SEEDS:
            return INCONCLUSIVE
        if (self.lo > 0 if self.expected == 1 else self.hi < 0):
            return HOLDS
        if (self.hi < 0 if self.expected == 1 else self.lo > 0):
            return FAILS + " (opposite direction)"
        return FAILS + " (interval contains 0)"

    def text(self) -> str:
        side = "> 0" if self.expected == 1 else "< 0"
        if self.n < 2:
            ci = "no interval"
        else:
            ci = f"95% CI [{self.lo:+.2f}, {self.hi:+.2f}]"
        return f"{self.label} = {self.mean:+.2f}, {ci}, n = {self.n} (claim: {side}) → {self.status}"

    def row(self) -> dict:
        return {"group": self.group, "comparison": self.label, "claim": "> 0" if self.expected == 1 else "< 0",
                "mean_diff": self.mean, "ci_low": self.lo, "ci_high": self.hi, "n": self.n,
                "seeds": ",".join(map(str, self.seeds)), "status": self.status}


def t_interval(d: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided Student-t confidence interval of the mean of ``d`` (n − 1 degrees of freedom). Differences that
    are all equal have a zero-width interval at their value."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n < 2:
        return float("nan"), float("nan")
    m = float(d.mean())
    sem = float(d.std(ddof=1)) / math.sqrt(n)
    if sem == 0.0:
        return m, m
    h = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sem
    return m - h, m + h


def paired(label: str, a: pd.Series, b: pd.Series, expected: int, group: str = "") -> Comparison:
    """Seed-paired comparison of two per-seed series (indexed by seed); seeds missing in either are left out."""
    both = a.dropna().index.intersection(b.dropna().index)
    seeds = sorted(int(s) for s in both)
    return Comparison(label, expected, [float(a[s]) - float(b[s]) for s in seeds], seeds, group)


def combine(comparisons: list[Comparison]) -> str:
    """The finding's verdict from its comparisons (module docstring)."""
    if not comparisons:
        return INCONCLUSIVE
    if any(c.n < MIN_SEEDS for c in comparisons):
        return INCONCLUSIVE
    held = [c.status == HOLDS for c in comparisons]
    return HOLDS if all(held) else PARTLY if any(held) else FAILS


def sub_verdicts(comparisons: list[Comparison]) -> dict[str, str]:
    """Per group (e.g. per method): its own verdict by :func:`combine`."""
    groups: dict[str, list[Comparison]] = {}
    for c in comparisons:
        groups.setdefault(c.group or "", []).append(c)
    return {g: combine(cs) for g, cs in groups.items()}


def verdict_sentence(comparisons: list[Comparison]) -> str:
    """'RL, SalUn hold; BS, BE do not.' (only when the comparisons have groups)."""
    sv = sub_verdicts(comparisons)
    if len(sv) < 2:
        return ""
    hold = [g for g, v in sv.items() if v == HOLDS]
    part = [g for g, v in sv.items() if v == PARTLY]
    no = [g for g, v in sv.items() if v == FAILS]
    parts = []
    if hold:
        parts.append(f"{', '.join(hold)} {'holds' if len(hold) == 1 else 'hold'}")
    if part:
        parts.append(f"{', '.join(part)} partly")
    if no:
        parts.append(f"{', '.join(no)} {'does' if len(no) == 1 else 'do'} not")
    return "Sub-verdicts: " + "; ".join(parts) + "."


def comparisons_frame(comparisons: list[Comparison]) -> pd.DataFrame:
    return pd.DataFrame([c.row() for c in comparisons],
                        columns=["group", "comparison", "claim", "mean_diff", "ci_low", "ci_high", "n", "seeds",
                                 "status"])


def _ms(v: pd.Series) -> tuple[float, float]:
    v = v.astype(float).dropna()
    return mean_std(v)


def _fmt(m: float, s: float) -> str:
    return "—" if m != m else f"{m:.2f} ± " + ("—" if s != s else f"{s:.2f}")


def _per_seed(df: pd.DataFrame, col: str, **where) -> pd.Series:
    """``col`` per seed among the rows matching ``where`` (one row per seed expected; the mean otherwise)."""
    d = df
    for k, v in where.items():
        d = d[d[k] == v]
    return d.groupby("seed")[col].mean().astype(float)


@dataclass
class Finding:
    number: int
    title: str
    claim: str
    source: str
    verdict: str
    why: str  # the comparisons and their intervals, in words
    config: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: float = 0.0
    comparisons: list[Comparison] = field(default_factory=list)


def _judged(number: int, title: str, claim: str, source: str, comparisons: list[Comparison], lead: str,
            config: dict, tables: dict[str, pd.DataFrame]) -> Finding:
    """A finding whose verdict and text come from its comparisons."""
    verdict = combine(comparisons)
    body = "; ".join(c.text() for c in comparisons)
    why = " ".join(p for p in (lead, body + ".", verdict_sentence(comparisons)) if p)
    tables = {"verdict": comparisons_frame(comparisons), **tables}
    return Finding(number, title, claim, source, verdict, why, config, tables, comparisons=comparisons)
