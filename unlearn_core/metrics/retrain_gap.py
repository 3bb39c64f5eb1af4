"""Metrics against Retrain (computed when results are read, from a run's row and Retrain's on the same forget set).

- Gap to Retrain: |m_u − m_retrain| per Table-3 metric; Avg. gap = mean over UA, MIA, RA, TA (Fan et al.,
  Challenging Forgets, Table 3).
- ToW = (1 − da_f)(1 − da_r)(1 − da_t), da = |acc_u − acc_retrain| as a fraction (Chen et al., Machine Unlearning
  in Forgetting Sequence, Eq. 2).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .registry import register_metric

GAP_METRICS = ("UA", "MIA", "RA", "TA")  # the Table-3 metrics, in the paper's column order


def gap_to_retrain(metrics: Mapping[str, float], retrain: Mapping[str, float]) -> dict[str, float]:
    """|m_u − m_retrain| per metric and their mean over UA, MIA, RA, TA ("avg_gap")."""
    gaps = {f"gap_{k}": abs(metrics[k] - retrain[k]) for k in GAP_METRICS}
    gaps["avg_gap"] = float(np.mean([gaps[f"gap_{k}"] for k in GAP_METRICS]))
    return gaps


def tug_of_war(metrics: Mapping[str, float], retrain: Mapping[str, float]) -> float:
    """ToW = Π_{s∈{f,r,t}} (1 − |acc_u(s) − acc_retrain(s)|), accuracies as fractions (Chen et al., Forgetting
    Sequence Eq. 2)."""
    acc_f_u, acc_f_r = 1 - metrics["UA"] / 100, 1 - retrain["UA"] / 100
    da_f = abs(acc_f_u - acc_f_r)
    da_r = abs(metrics["RA"] - retrain["RA"]) / 100
    da_t = abs(metrics["TA"] - retrain["TA"]) / 100
    return float((1 - da_f) * (1 - da_r) * (1 - da_t))


def _register_gap(metric: str) -> None:
    def fn(row: Mapping[str, Any], retrain: Mapping[str, Any]) -> float:
        return abs(row[metric] - retrain[metric])

    register_metric(f"gap_{metric}", label=f"gap {metric}", direction="lower", unit="%", kind="vs_retrain",
                    formula=f"|{metric}_u − {metric}_Retrain| (same forget set and seed)",
                    paper="Fan et al., Challenging Forgets, Table 3")(fn)


for _m in GAP_METRICS:
    _register_gap(_m)


@register_metric("avg_gap", label="Avg. gap", direction="lower", unit="%", kind="vs_retrain",
                 formula="mean over UA, MIA, RA, TA of |m_u − m_Retrain|",
                 help="Avg. gap: mean over UA, MIA, RA, TA of |mean − Retrain's mean| (Fan et al., Table 3). Lower = "
                      "closer to Retrain.", paper="Fan et al., Challenging Forgets, Table 3")
def average_gap(row: Mapping[str, Any], retrain: Mapping[str, Any]) -> float:
    return float(np.mean([abs(row[m] - retrain[m]) for m in GAP_METRICS]))


@register_metric("ToW", label="ToW", direction="higher", unit="", kind="vs_retrain",
                 formula="Π over forget, retain, test of (1 − |acc_u − acc_Retrain|)",
                 help="Tug of war (Chen et al., Machine Unlearning in Forgetting Sequence, Eq. 2): Π(1 − |Δacc|) over "
                      "forget, retain and test accuracy vs Retrain; 1 = matches Retrain. Mean over seeds of the "
                      "per-seed value.", paper="Chen et al., Machine Unlearning in Forgetting Sequence, Eq. 2")
def tow(row: Mapping[str, Any], retrain: Mapping[str, Any]) -> float:
    return tug_of_war({m: row[m] for m in ("UA", "RA", "TA")}, retrain)
