"""Table 3 of Fan et al. (Challenging Forgets) as numbers: statistics over seeds per cell, gaps to Retrain.

Per cell the mean and the **sample** standard deviation (ddof = 1) over the seeds actually present (``n``; the std is
undefined, NaN, for n = 1); the gap to Retrain is ``|mean_u − mean_Retrain|`` with Retrain's mean over the same
seeds; Avg. gap is the mean of the four gaps. The mean over seeds of the per-seed ``|Δ|`` ("paired gap") is a
different, never smaller quantity and is kept in its own, labelled columns.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..budget import budget_text
from ..stats import mean_std, sample_std
from ..methods import method_names
from ..metrics import GAP_METRICS, registry as metric_registry
from .runs import SAME_SPLIT, _pairable

METRICS = list(GAP_METRICS)  # UA, MIA, RA, TA: the Table-3 metrics (Fan et al., Challenging Forgets)


# Tooltips of the Table-3 columns, from the metric registry (label, formula, help)
METRIC_HELP = {n: metric_registry.get(n).describe() for n in (*METRICS, "avg_gap", "ToW")}
STD_LABEL = "sample std over n seeds (ddof = 1)"


def bank_stat_columns() -> list[str]:
    """The per-example distribution tests over model banks (every registered metric of kind ``bank``, registration
    order), present when a grid ran with eval_models. Read at call time, so a bank metric registered later (one
    function in metrics/bank_quality.py) reaches Table 3 without a list to update here."""
    return metric_registry.names("bank")


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (setup, selector, ratio, method, hyperparameters): statistics over seeds (module docstring).

    Columns: ``<m>_mean``, ``<m>_std`` (sample std, NaN when n = 1) for UA, MIA, RA, TA, ToW, runtime_s;
    ``n`` and ``seeds``; ``gap_<m>`` = |mean − Retrain's mean over the same seeds| and ``avg_gap`` (the paper's
    Table-3 gap); ``paired_gap_<m>`` and ``paired_avg_gap`` = the mean over seeds of the per-seed |Δ|.
    """
    if df.empty:
        return df
    d = df.copy()
    if "setup_id" not in d:
        d["setup_id"] = d["dataset"]
    if "params" not in d:
        d["params"] = ""
    d["_rk"] = d["ratio"].fillna(-1.0)
    keys = ["setup_id", "dataset", "model", "selector", "_rk", "method", "params"]
    if "superseded" in d:  # superseded rows are their own groups, never averaged with current ones nor paired
        keys.append("superseded")
    stat_cols = [c for c in METRICS + ["ToW", "runtime_s", "cost_vs_retrain_plan", "unlearn_steps"]
                 + bank_stat_columns() if c in d]
    out_rows = []
    retrain = d[(d["method"] == "retrain") & _pairable(d)]
    for ident, g in d.groupby(keys, sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(keys, ident))
        seeds = sorted(int(s) for s in g["seed"])
        row["n"] = len(seeds)
        row["seeds"] = ",".join(map(str, seeds))
        for c in stat_cols:
            v = g[c].astype(float)
            row[f"{c}_mean"] = float(v.mean())
            row[f"{c}_std"] = sample_std(v.dropna())
        for m in METRICS:
            col = f"gap_{m}"
            row[f"paired_{col}"] = float(g[col].mean()) if col in g and g[col].notna().any() else np.nan
        r = retrain[(retrain["setup_id"] == row["setup_id"]) & (retrain["model"] == row["model"])
                    & (retrain["selector"] == row["selector"]) & (retrain["_rk"] == row["_rk"])
                    & (retrain["seed"].isin(seeds))]
        if "forget_set_digest" in g:  # Retrain on the very forget sets this group used
            r = r[r["forget_set_digest"].isin(set(g["forget_set_digest"]))]
        if not _pairable(g).all():
            r = r.iloc[0:0]
        for m in METRICS:
            ref = float(r[m].mean()) if len(r) else np.nan
            same = g[SAME_SPLIT + m].astype(float) if SAME_SPLIT + m in g else None
            if same is not None and same.notna().all() and len(r):
                ref = float(same.mean())  # Retrain on this method's own test samples (same seeds, same sets)
            row[f"gap_{m}"] = abs(row[f"{m}_mean"] - ref) if len(r) else np.nan
        row["n_retrain"] = int(len(r))
        # measured cost: mean runtime over Retrain's mean runtime on the same sets (the papers' run-time efficiency)
        r_time = float(r["runtime_s"].astype(float).mean()) if len(r) and "runtime_s" in r else np.nan
        row["cost_vs_retrain"] = (row["runtime_s_mean"] / r_time if "runtime_s_mean" in row and r_time > 0
                                  else np.nan)
        gaps = [row[f"gap_{m}"] for m in METRICS]
        row["avg_gap"] = float(np.mean(gaps)) if len(r) else np.nan
        paired = [row[f"paired_gap_{m}"] for m in METRICS]
        row["paired_avg_gap"] = float(np.mean(paired)) if not any(np.isnan(paired)) else np.nan
        out_rows.append(row)
    out = pd.DataFrame(out_rows)
    out["ratio"] = out["_rk"].replace(-1.0, np.nan)
    return out.drop(columns="_rk")


def fmt_mean_std(mean: float, std: float, n: int, digits: int = 2) -> str:
    """'5.08 ± 0.31' — or '5.08 ± —' when one seed gives no spread; '—' for a missing value."""
    if mean != mean:
        return "—"
    spread = "—" if n < 2 or std != std else f"{std:.{digits}f}"
    return f"{mean:.{digits}f} ± {spread}"


def table3(df: pd.DataFrame, selectors: Iterable[str] | None = None, ratio: float | None = None) -> pd.DataFrame:
    """Table 3 of Fan et al. as numbers: one row per (selector, ratio, method) with mean, std, n and gap columns."""
    d = df
    if selectors is not None:
        d = d[d["selector"].isin(list(selectors))]
    if ratio is not None and not d.empty:
        d = d[np.isclose(d["ratio"].astype(float), float(ratio))]
    agg = aggregate(d)
    if agg.empty:
        return agg
    cols = ["selector", "ratio", "method", "params", "n", "seeds"]
    for m in METRICS:
        cols += [f"{m}_mean", f"{m}_std", f"gap_{m}"]
    cols += ["avg_gap", "ToW_mean", "ToW_std"] + [f"paired_gap_{m}" for m in METRICS] + ["paired_avg_gap",
                                                                                         "runtime_s_mean",
                                                                                         "superseded"]
    cols += [f"{c}_{s}" for c in bank_stat_columns() for s in ("mean", "std")]
    cols += ["cost_vs_retrain", "cost_vs_retrain_plan_mean", "unlearn_steps_mean"]
    order = method_order(agg["method"].unique())
    agg = agg.assign(_m=agg["method"].map({m: i for i, m in enumerate(order)}))
    sel_order = list(selectors) if selectors is not None else list(dict.fromkeys(agg["selector"]))
    agg = agg.assign(_s=agg["selector"].map({s: i for i, s in enumerate(sel_order)}))
    agg = agg.sort_values(["_s", "ratio", "_m"]).reset_index(drop=True)
    return agg[[c for c in cols if c in agg]]


def format_table3(t3: pd.DataFrame) -> pd.DataFrame:
    """Strings for printing: 'mean ± std (gap)' per metric, Avg. gap, ToW, n and seeds."""
    if t3.empty:
        return t3
    out = t3[["selector", "ratio", "method"]].copy()
    for m in METRICS:
        out[m] = [fmt_mean_std(a, s, n) + ("" if g != g else f" ({g:.2f})")
                  for a, s, n, g in zip(t3[f"{m}_mean"], t3[f"{m}_std"], t3["n"], t3[f"gap_{m}"])]
    out[metric_registry.get("avg_gap").label] = t3["avg_gap"].map(lambda v: "—" if v != v else f"{v:.2f}")
    out[metric_registry.get("ToW").label] = [fmt_mean_std(a, s, n, 3) for a, s, n in zip(t3["ToW_mean"], t3["ToW_std"], t3["n"])]
    out["time (s)"] = t3["runtime_s_mean"].map(lambda v: "—" if v != v else f"{v:.2f}")
    plan = t3["cost_vs_retrain_plan_mean"] if "cost_vs_retrain_plan_mean" in t3 else pd.Series(np.nan, t3.index)
    out["cost vs Retrain"] = [("—" if c != c else f"{c:.2f}×") + ("" if p != p else f" (plan {p:.2f})")
                              for c, p in zip(t3.get("cost_vs_retrain", pd.Series(np.nan, t3.index)), plan)]
    if "params" in t3:
        steps = t3["unlearn_steps_mean"] if "unlearn_steps_mean" in t3 else pd.Series(np.nan, t3.index)
        out.insert(3, "budget", [budget_label(p) + ("" if s != s or s <= 0 else f", {s:.0f} steps")
                                 for p, s in zip(t3["params"], steps)])
    for c, label, digits in (("forget_quality", "F", 3), ("score", "score", 3), ("klom_forget_p95", "KLoM f", 2),
                             ("klom_retain_p95", "KLoM r", 2), ("klom_test_p95", "KLoM t", 2),
                             ("ulira_forget_acc", "U-LiRA", 3)):
        if f"{c}_mean" in t3:
            out[label] = [fmt_mean_std(a, s, n, digits) for a, s, n in zip(t3[f"{c}_mean"], t3[f"{c}_std"], t3["n"])]
    if "n_models_mean" in t3:
        out["n models"] = t3["n_models_mean"].map(lambda v: "—" if v != v else f"{v:.0f}")
    out["n"] = t3["n"]
    out["seeds"] = t3["seeds"]
    return out


TABLE3_NOTES = {
    "std": f"<metric>_std = {STD_LABEL}",
    "gap": "gap_<metric> = |mean - Retrain mean over the same seeds| (Fan et al., Challenging Forgets, Table 3)",
    "paired_gap": "paired_gap_<metric> = mean over seeds of the per-seed |difference| to Retrain",
    "units": "UA, MIA, RA, TA and their gaps in percent; ToW in [0, 1]; runtime_s_mean in seconds",
}


def budget_label(params: str | dict | None) -> str:
    """'paper · 2 ep' — a run's unlearning budget (unlearn_core/budget.py) and its resolved epochs; '—' if none."""
    p = json.loads(params) if isinstance(params, str) and params else (params or {})
    return budget_text(p) if isinstance(p, dict) else "—"


def original_fit(pipe, seeds: Iterable[int]) -> dict[str, Any]:
    """θ_o's RA (train accuracy) and TA (test accuracy) over ``seeds`` of the pipeline's setup: mean, sample std, n
    (θ_o already in the store only)."""
    ra, ta, got = [], [], []
    for s in seeds:
        run = pipe.find_original(int(s))
        if run and run.get("metrics"):
            ra.append(float(run["metrics"]["train_acc"]))
            ta.append(float(run["metrics"]["test_acc"]))
            got.append(int(s))

    (ra_m, ra_s), (ta_m, ta_s) = mean_std(ra), mean_std(ta)
    return {"RA_mean": ra_m, "RA_std": ra_s, "TA_mean": ta_m, "TA_std": ta_s, "n": len(got), "seeds": got}


def format_original_fit(fit: dict[str, Any]) -> str:
    """'θ_o (seeds 0,1,2): RA 99.93 ± 0.05, TA 97.22 ± 0.31' — the model being unlearned, shown with every table."""
    if not fit["n"]:
        return "θ_o: not trained yet"
    return (f"θ_o (seeds {','.join(map(str, fit['seeds']))}): RA {fmt_mean_std(fit['RA_mean'], fit['RA_std'], fit['n'])}"
            f", TA {fmt_mean_std(fit['TA_mean'], fit['TA_std'], fit['n'])} (train / test accuracy, %, mean ± "
            f"sample std)")


def table3_csv(t3: pd.DataFrame) -> str:
    """Numeric CSV export of :func:`table3`: a plain header row and data (``pd.read_csv`` reads it as is; the notes
    on the statistics are in :func:`table3_metadata`, written next to it as a JSON sidecar)."""
    return t3.to_csv(index=False)


def table3_metadata(t3: pd.DataFrame, **extra) -> dict:
    """The sidecar of a Table-3 CSV: what each column family means, and whatever the caller adds (setup, command)."""
    return {"table": "forgetset Table 3 export", "columns": list(t3.columns), "notes": TABLE3_NOTES, **extra}


def method_order(methods: Iterable[str]) -> list[str]:
    """Retrain first, then the registry's display order; variants (``ft {...}``) after their method."""
    known = method_names()
    return sorted(methods, key=lambda m: (m != "retrain", known.index(m.split(" ")[0]) if m.split(" ")[0] in known
                                          else len(known), m))


def gap_long(df: pd.DataFrame, ratio: float | None) -> pd.DataFrame:
    """Gap to Retrain per (selector, method, metric) at one ratio (Retrain itself left out), long format."""
    d = df if ratio is None else df[np.isclose(df["ratio"].astype(float), float(ratio))]
    agg = aggregate(d)
    agg = agg[agg["method"] != "retrain"] if not agg.empty else agg
    if agg.empty:
        return pd.DataFrame(columns=["selector", "method", "metric", "gap", "n", "seeds"])
    rows = []
    for _, r in agg.iterrows():
        for k in METRICS + ["avg_gap"]:
            col = f"gap_{k}" if k != "avg_gap" else "avg_gap"
            rows.append({"selector": r["selector"], "method": r["method"],
                         "metric": k if k != "avg_gap" else metric_registry.get("avg_gap").label,
                         "gap": r[col], "n": r["n"], "seeds": r["seeds"]})
    return pd.DataFrame(rows)


def sweep_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Statistics over seeds per (selector, method, ratio) for the ratio sweep (with n per point)."""
    d = df[df["ratio"].notna()] if not df.empty else df
    return aggregate(d).sort_values(["selector", "method", "ratio"]) if not d.empty else pd.DataFrame()
