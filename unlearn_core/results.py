"""Read-only views of stored results as data frames: runs, Table 3, ratio sweeps, scores, forget sets, samples.

Nothing here computes a model, a score or a forget set, and nothing writes to the store: every function reads
the :class:`~unlearn_core.store.Store` (through a :class:`~unlearn_core.pipeline.Pipeline`'s ``find_*`` lookups
where a key must be resolved) and returns data. Figures, captions and colours live in the dashboard.

Statistics (Fan et al., *Challenging Forgets*, Table 3): per cell the mean and the **sample** standard deviation
(ddof = 1) over the seeds actually present (``n``; the std is undefined, NaN, for n = 1); the gap to Retrain is
``|mean_u − mean_Retrain|`` with Retrain's mean over the same seeds; Avg. gap is the mean of the four gaps. The
mean over seeds of the per-seed ``|Δ|`` ("paired gap") is a different, never smaller quantity and is kept in
its own, labelled columns.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .budget import budget_text
from .config import recipe_label, setup_key
from .errors import ForgetsetError
from .metrics import GAP_METRICS, tug_of_war
from .store import CorruptArtifact, Store, run_digest

METRICS = list(GAP_METRICS)  # UA, MIA, RA, TA: the Table-3 metrics
METRIC_HELP = {
    "UA": "Unlearning accuracy = 100 − accuracy on the forget set (%). Higher = more forgotten.",
    "MIA": "MIA-efficacy: share of the forget set that a membership-inference SVC on the confidence p_y calls "
           "a non-member (%).",
    "RA": "Remaining accuracy: accuracy on the retain set (%).",
    "TA": "Testing accuracy: accuracy on the test set (%).",
    "avg_gap": "Avg. gap: mean over UA, MIA, RA, TA of |mean − Retrain's mean| (Fan et al., Table 3). Lower = "
               "closer to Retrain.",
    "ToW": "Tug of war (Chen et al., Machine Unlearning in Forgetting Sequence, Eq. 2): Π(1 − |Δacc|) over forget, "
           "retain and test accuracy vs Retrain; 1 = matches Retrain. Mean over seeds of the per-seed value.",
}
STD_LABEL = "sample std over n seeds (ddof = 1)"
# Per-example distribution tests over model banks (forget_quality.py), present when a grid ran with eval_models.
BANK_STAT_COLUMNS = ["forget_quality", "score", "klom_forget_p95", "klom_retain_p95", "klom_test_p95", "n_models",
                     "forget_quality_threshold", "ulira_forget_acc"]
RUN_COLUMNS = ["dataset", "model", "selector", "method", "ratio", "seed", "UA", "RA", "TA", "MIA", "runtime_s"]


# ---------------------------------------------------------------------------------------------- provenance
class Provenance:
    """Which θ_o every stored result was made with, and which θ_o is current (pairing by content).

    The current θ_o of a (setup, seed) is the finished ``original`` run under its key (an import replaces it). An
    unlearning run names the θ_o digest it started from (``original``; Retrain has none) and the forget-set digest
    it used; a forget set depends on θ_o through the scores it was selected by (``inputs`` → score runs →
    their ``original``), or on none (random, class-wise). A run is *superseded* when any θ_o it depends on is not
    the current one, or when its provenance is unknown (rows stored before runs carried digests).
    """

    def __init__(self, store: Store):
        self.current: dict[tuple[str, int], str] = {}
        for r in store.list_runs("original", "done"):
            try:
                self.current[(setup_key(r["config"]), int(r["config"]["seed"]))] = run_digest(r)
            except (ForgetsetError, KeyError, TypeError, ValueError):
                continue
        score_theta: dict[str, str] = {}
        for r in store.list_runs("score", "done"):
            score_theta[run_digest(r)] = str(r["config"].get("original") or "")
        self.forget_theta: dict[str, frozenset[str] | None] = {}
        for r in store.list_runs("forget_set", "done"):
            inputs = r["config"].get("inputs") or {}
            deps = [score_theta.get(str(d)) for d in inputs.values()]
            self.forget_theta[run_digest(r)] = None if any(d is None for d in deps) else frozenset(d for d in deps if d)

    def of_run(self, cfg: dict) -> tuple[str, bool, str]:
        """(θ_o digest the run depends on — "" when none, superseded?, why) for an unlearning run's config."""
        fs = cfg.get("forget_set")
        if not fs:
            return "", True, "unknown provenance (stored before runs carried their forget-set digest)"
        try:
            cur = self.current.get((setup_key(cfg), int(cfg["seed"])))
        except (ForgetsetError, KeyError, TypeError, ValueError):
            return "", True, "unknown setup"
        deps = set()
        if cfg.get("original"):
            deps.add(str(cfg["original"]))
        fs_deps = self.forget_theta.get(str(fs))
        if fs_deps is None:
            from .selectors import parse_selector

            try:
                needs = bool(parse_selector(cfg["selector"]).needs_scores())
            except ForgetsetError:
                needs = True
            if needs:
                return next(iter(deps), ""), True, "its forget set's provenance is unknown"
        else:
            deps |= set(fs_deps)
        theta = ",".join(sorted(deps))
        if cur is not None and any(d != cur for d in deps):
            return theta, True, "made with a θ_o that is no longer current"
        return theta, False, ""


# ---------------------------------------------------------------------------------------------- runs
def run_row(run: dict) -> dict:
    """One finished unlearning run as a flat row (identity, metrics, setup id, configuration)."""
    cfg, metrics = run["config"], run.get("metrics") or {}
    row = {"dataset": cfg["dataset"], "model": cfg["model"], "selector": cfg["selector"], "method": cfg["method"],
           "ratio": cfg["ratio"], "seed": cfg["seed"]}
    row.update({k: (np.nan if v is None else v) for k, v in metrics.items()})
    row["runtime_s"] = (run.get("timings") or {}).get("runtime_s", np.nan)
    row["params"] = json.dumps(cfg.get("params", {}), sort_keys=True)
    row["blo"] = json.dumps(cfg.get("blo"), sort_keys=True) if cfg.get("blo") is not None else ""
    row["setup_id"] = setup_key(cfg)
    row["setup"] = recipe_label(cfg["dataset"], cfg["model"], cfg.get("train"))
    row["train"] = json.dumps(cfg.get("train", {}), sort_keys=True)
    row["key"] = run["key"]
    row["finished"] = run.get("finished")
    row["forget_set_digest"] = str(cfg.get("forget_set") or "")
    row["theta_o"] = str(cfg.get("original") or "")  # the θ_o the method started from ("" for Retrain)
    return row


def results_frame(store: Store, setup_id: str | None = None, include_superseded: bool = False) -> pd.DataFrame:
    """Every finished unlearning run, one row each (the newest of identical configurations made with the same θ_o
    and forget set), with per-seed gaps paired by content (:func:`with_gaps`).

    Columns ``theta_o`` (the θ_o digest(s) the run depends on, through its start point or its forget set),
    ``forget_set_digest``, ``superseded`` and ``superseded_why`` (:class:`Provenance`). Superseded rows are never
    paired with Retrain and are left out unless ``include_superseded``."""
    runs = store.list_runs("unlearn", "done")
    df = pd.DataFrame([run_row(r) for r in runs])
    if df.empty:
        return df
    prov = Provenance(store)
    marks = [prov.of_run(r["config"]) for r in runs]
    df["theta_o"] = [m[0] for m in marks]
    df["superseded"] = [m[1] for m in marks]
    df["superseded_why"] = [m[2] for m in marks]
    if setup_id is not None:
        df = df[df["setup_id"] == setup_id]
    ident = ["setup_id", "method", "params", "selector", "ratio", "seed", "blo", "theta_o", "forget_set_digest"]
    df = (df.assign(_r=df["ratio"].fillna(-1.0)).sort_values("finished")
          .drop_duplicates([c if c != "ratio" else "_r" for c in ident], keep="last").drop(columns="_r"))
    if not include_superseded:
        df = df[~df["superseded"]]
    return with_gaps(df.reset_index(drop=True))


def _pairable(df: pd.DataFrame) -> pd.Series:
    return ~df["superseded"].astype(bool) if "superseded" in df else pd.Series(True, index=df.index)


SAME_SPLIT = "retrain_same_split_"  # Retrain evaluated on a method's own test samples (DAU leaves D_v out)


def _same_split(row, retrain_row: pd.Series) -> pd.Series:
    """Retrain's metrics as the row must be compared with them: on the same test samples when the row carries
    Retrain's metrics on its own test split (a method that looked at part of the test split), else as stored."""
    vals = {m: getattr(row, SAME_SPLIT + m, np.nan) for m in GAP_METRICS}
    if any(v != v for v in vals.values()):
        return retrain_row
    r = retrain_row.copy()
    for m, v in vals.items():
        r[m] = v
    return r


def with_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """Per-run columns ``gap_<metric>`` = |m − m_Retrain| for Retrain of the same setup, selector, ratio and seed
    (the *per-seed* gap), their mean ``avg_gap``, and ToW.

    Pairing is by content where the rows carry it: Retrain must have used the same forget set
    (``forget_set_digest``), and a row flagged ``superseded`` (made with a θ_o that is no longer current) is never
    paired, on either side (its gaps are NaN)."""
    if df.empty:
        return df
    df = df.copy()
    setup_col = "setup_id" if "setup_id" in df else "dataset"
    df["ratio_key"] = df["ratio"].fillna(-1.0)
    keys = [setup_col, "model", "selector", "ratio_key", "seed"]
    if "forget_set_digest" in df:
        keys.append("forget_set_digest")
    ok = _pairable(df)
    retrain = df[(df["method"] == "retrain") & ok].drop_duplicates(keys, keep="last").set_index(keys)
    cols = {f"gap_{k}": [] for k in GAP_METRICS}
    cols["avg_gap"], cols["ToW"] = [], []
    for row, pairable in zip(df.itertuples(index=False), ok):
        k = tuple(getattr(row, c) for c in keys)
        if pairable and k in retrain.index:
            r = _same_split(row, retrain.loc[k])
            gaps = [abs(getattr(row, m) - r[m]) for m in GAP_METRICS]
            for m, g in zip(GAP_METRICS, gaps):
                cols[f"gap_{m}"].append(g)
            cols["avg_gap"].append(float(np.mean(gaps)))
            cols["ToW"].append(tug_of_war({m: getattr(row, m) for m in ("UA", "RA", "TA")}, r))
        else:
            for c in cols:
                cols[c].append(np.nan)
    for c, v in cols.items():
        df[c] = v
    return df.drop(columns="ratio_key")


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
    stat_cols = [c for c in METRICS + ["ToW", "runtime_s", "cost_vs_retrain_plan", "unlearn_steps"] + BANK_STAT_COLUMNS if c in d]
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
            row[f"{c}_std"] = float(v.std(ddof=1)) if len(v) > 1 else np.nan
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
    cols += [f"{c}_{s}" for c in BANK_STAT_COLUMNS for s in ("mean", "std")]
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
    out["Avg. gap"] = t3["avg_gap"].map(lambda v: "—" if v != v else f"{v:.2f}")
    out["ToW"] = [fmt_mean_std(a, s, n, 3) for a, s, n in zip(t3["ToW_mean"], t3["ToW_std"], t3["n"])]
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

    def stat(v):
        return (float(np.mean(v)) if v else np.nan, float(np.std(v, ddof=1)) if len(v) > 1 else np.nan)
    (ra_m, ra_s), (ta_m, ta_s) = stat(ra), stat(ta)
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
    from .methods import method_names

    known = method_names()
    return sorted(methods, key=lambda m: (m != "retrain", known.index(m.split(" ")[0]) if m.split(" ")[0] in known
                                          else len(known), m))


def setups_in(df: pd.DataFrame) -> pd.DataFrame:
    """The distinct setups in a results frame with their run counts (most recent first)."""
    if df.empty:
        return pd.DataFrame(columns=["setup_id", "setup", "dataset", "model", "n_runs", "last"])
    g = df.groupby(["setup_id", "setup", "dataset", "model"], sort=False)
    out = g.agg(n_runs=("key", "size"), last=("finished", "max")).reset_index()
    return out.sort_values("last", ascending=False).reset_index(drop=True)


def results_for_setup(df: pd.DataFrame, setup_id: str) -> pd.DataFrame:
    """Runs of one setup with gaps recomputed. Methods run with non-preset hyperparameters and selectors with other
    BLO parameters become their own rows (their names get the parameters appended): never averaged together."""
    d = df[df["setup_id"] == setup_id].copy()
    if d.empty:
        return d
    d = d.drop(columns=[c for c in d.columns if c.startswith("gap_") or c in ("avg_gap", "ToW")])
    d["method_name"] = d["method"]
    variants = {}
    for m, grp in d.groupby("method"):
        ps = grp["params"].unique()
        if len(ps) > 1:
            common = grp["params"].value_counts().index[0]  # the most used configuration keeps the plain name
            for p in ps:
                variants[(m, p)] = m if p == common else f"{m} {p}"
    d["method"] = [variants.get((m, p), m) for m, p in zip(d["method"], d["params"])]
    if "superseded" in d and d["superseded"].any():  # never averaged with, or named like, current rows
        d["method"] = [f"{m} superseded" if sup else m for m, sup in zip(d["method"], d["superseded"])]
    blos = [b for b in d["blo"].unique() if b]
    if len(blos) > 1:
        common = d.loc[d["blo"] != "", "blo"].value_counts().index[0]
        d["selector"] = [s if (not b or b == common) else f"{s} {b}" for s, b in zip(d["selector"], d["blo"])]
    return with_gaps(d)


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
            rows.append({"selector": r["selector"], "method": r["method"], "metric": k if k != "avg_gap" else "Avg. gap",
                         "gap": r[col], "n": r["n"], "seeds": r["seeds"]})
    return pd.DataFrame(rows)


def sweep_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Statistics over seeds per (selector, method, ratio) for the ratio sweep (with n per point)."""
    d = df[df["ratio"].notna()] if not df.empty else df
    return aggregate(d).sort_values(["selector", "method", "ratio"]) if not d.empty else pd.DataFrame()


def run_configs(store: Store, keys: list[str]) -> list[dict]:
    """The exact stored configurations of some runs (every resolved hyperparameter)."""
    out = []
    for k in keys:
        r = store.get_run(k)
        if r is not None:
            out.append({"key": k, "status": r["status"], "config": r["config"], "timings": r.get("timings")})
    return out


def store_runs_frame(store: Store) -> pd.DataFrame:
    """Every run in the store (originals, scores, forget sets, unlearning runs, banks, analyses); unlearning runs
    made with a θ_o that is no longer current are flagged ``superseded`` (:class:`Provenance`)."""
    rows = []
    prov = Provenance(store)
    for r in store.list_runs():
        c = r["config"]
        what = c.get("method") or c.get("score") or c.get("selector") or c.get("model")
        rows.append({"kind": r["kind"], "status": r["status"], "what": what, "dataset": c.get("dataset"),
                     "selector": c.get("selector"), "ratio": c.get("ratio"), "seed": c.get("seed"),
                     "created": pd.to_datetime(r["created"], unit="s"),
                     "seconds": (r.get("timings") or {}).get("total_s"),
                     "error": r.get("error") or "", "key": r["key"],
                     "superseded": r["kind"] == "unlearn" and r["status"] == "done" and prov.of_run(c)[1]})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- scores
def cached_scores(pipe, seed: int) -> list[dict]:
    """The finished per-sample scores of this setup and θ_o (seed): one entry per column name.

    Column names: the score's name, ``@ratio`` for ratio-dependent scores (BLO), then ``k=v`` for each parameter
    that differs from the current defaults (the setup's BLO parameters for BLO). The newest computation of a
    column wins. Class-level scores are listed with ``per_sample=False``.
    """
    from .scores import get_score

    orun = pipe.find_original(seed)
    if orun is None:
        return []
    digest = run_digest(orun)
    out = []
    for r in pipe.store.list_runs("score", "done"):
        c = r["config"]
        if c.get("original") != digest or setup_key(c) != pipe.setup_key:
            continue
        try:
            spec = get_score(c.get("score"))
        except ForgetsetError:
            continue  # a score whose module is gone
        params = c.get("params") or {}
        per_sample = params.get("granularity", "sample") != "class"
        ratio = c.get("ratio") if spec.depends_on_ratio and per_sample else None
        defaults = pipe.blo_params if spec.name == "blo" else spec.defaults
        nondefault = {k: v for k, v in params.items() if defaults.get(k) != v}
        col = spec.name + (f"@{ratio:g}" if ratio is not None else "")
        if not per_sample:
            col = f"{spec.name}[class k={params.get('n_classes')}]"
        elif nondefault:
            col += " " + ",".join(f"{k}={v}" for k, v in sorted(nondefault.items()))
        label = spec.label
        if spec.name == "memorization" and params.get("n_shadow"):  # its resolution next to it (2/S)
            from .scores.memorization import resolution_text

            label = f"{label} — {resolution_text(int(params['n_shadow']))}"
        out.append({"name": spec.name, "label": label, "ratio": ratio, "params": params, "key": r["key"],
                    "column": col, "per_sample": per_sample, "hard_end": spec.hard_end,
                    "finished": r.get("finished"), "time_s": (r.get("timings") or {}).get("score_s"), "run": r})
    by_col: dict[str, dict] = {}
    for e in sorted(out, key=lambda e: e["finished"] or 0):
        by_col[e["column"]] = e
    return sorted(by_col.values(), key=lambda e: (e["name"], e["ratio"] or 0, e["column"]))


def load_score(store: Store, run: dict) -> tuple[np.ndarray, dict] | None:
    """(values, extras) of a finished score run (None if its artifact is corrupt)."""
    try:
        arrays, meta = store.decode("arrays", run)
    except CorruptArtifact:
        return None
    return arrays["values"], meta.get("extras", {})


def sample_frame(pipe, seed: int, entries: list[dict] | None = None) -> pd.DataFrame:
    """One row per training sample: index, label, θ_o's prediction/confidence/loss and every cached score."""
    ds = pipe.ds
    y = ds.y_train.cpu().numpy()
    df = pd.DataFrame({"index": np.arange(ds.n_train), "label": y})
    df["class"] = [ds.classes[int(c)] for c in y]
    pred = original_predictions(pipe, seed)
    if pred is not None:
        df["pred"] = pred["pred"]
        df["p_y"] = pred["p_y"]
        df["correct"] = df["pred"] == df["label"]
    for e in entries if entries is not None else cached_scores(pipe, seed):
        if not e["per_sample"]:
            continue
        loaded = load_score(pipe.store, e["run"])
        if loaded is not None and len(loaded[0]) == ds.n_train:
            df[e["column"]] = loaded[0].astype(float)
    for k, v in ds.attributes.items():
        if len(v) == ds.n_train:
            df[k] = v
    return df


def original_predictions(pipe, seed: int) -> dict[str, np.ndarray] | None:
    """θ_o's stored per-sample predictions (made when θ_o is trained or imported); None if there are none."""
    orun = pipe.find_original(seed)
    if orun is None:
        return None
    got = pipe.store.lookup("predictions", pipe.predictions_config(orun, seed), "arrays")
    return None if got is None else got[0]


def hard_ranks(values: np.ndarray, hard_end: str, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Rank of every sample from the hard-to-forget end of a score (1 = hardest): the project's one rank rule.

    ``hard_end`` says which end is hard ("low" for loss, "high" for BLO weights). Ties (e.g. BLO weights at the
    cap 1) are broken by ``tiebreak`` (θ_o's loss: lower = harder, Chen et al.), then by sample index.
    """
    v = np.asarray(values, dtype=np.float64)
    primary = v if hard_end == "low" else -v
    keys = [np.arange(len(v))]
    if tiebreak is not None:
        keys.insert(0, np.asarray(tiebreak, dtype=np.float64))
    order = np.lexsort(tuple(reversed([primary] + keys)))  # lexsort: last key is primary
    ranks = np.empty(len(v), dtype=np.int64)
    ranks[order] = np.arange(1, len(v) + 1)
    return ranks


def hardness_order(df: pd.DataFrame, column: str, hard_end: str, tiebreak: str | None = "loss") -> np.ndarray:
    """Row positions of ``df`` from hardest to easiest to forget by ``column`` (see :func:`hard_ranks`)."""
    tb = df[tiebreak].to_numpy() if tiebreak and tiebreak in df and tiebreak != column else None
    ranks = hard_ranks(df[column].to_numpy(), hard_end, tb)
    return np.argsort(ranks, kind="stable")


def hardest(df: pd.DataFrame, column: str, hard_end: str, n: int, easiest: bool = False,
            tiebreak: str | None = "loss") -> pd.DataFrame:
    """The n hardest (or easiest) samples by ``column`` (see :func:`hardness_order`)."""
    order = hardness_order(df, column, hard_end, tiebreak)
    order = order[::-1] if easiest else order
    return df.reset_index(drop=True).iloc[order[:n]]


def sample_details(df: pd.DataFrame, idx: int, score_cols: list[str], hard_ends: dict[str, str]) -> dict:
    """A sample's row plus, per score, its value, percentile and hard-to-forget rank (1 = hardest)."""
    d = df.reset_index(drop=True)
    pos = int(np.flatnonzero(d["index"].to_numpy() == idx)[0])
    row = d.iloc[pos]
    out = {"index": int(idx), "label": int(row["label"]), "class": row["class"]}
    if "pred" in d:
        out.update(pred=int(row["pred"]), p_y=float(row["p_y"]))
    tb = d["loss"].to_numpy() if "loss" in d else None
    scores = []
    for c in score_cols:
        if c not in d:
            continue
        v = d[c].to_numpy()
        x = float(v[pos])
        rank = int(hard_ranks(v, hard_ends.get(c, "low"), tb if c != "loss" else None)[pos])
        scores.append({"score": c, "value": x, "percentile": float(100 * (v <= x).mean()),
                       "hard-to-forget rank": f"{rank} / {len(v)}", "hard end": hard_ends.get(c, "")})
    out["scores"] = pd.DataFrame(scores)
    return out


def trace_frame(extras: dict) -> pd.DataFrame:
    """BLO convergence trace (one row per upper iteration)."""
    return pd.DataFrame(extras.get("trace") or [])


def preferred_column(columns: list[str], prefer: tuple[str, ...] = ("blo@0.1",), prefix: str = "blo") -> int:
    """Index of the column a view should start with (e.g. the 10% BLO weight)."""
    for p in prefer:
        if p in columns:
            return columns.index(p)
    return next((i for i, c in enumerate(columns) if c.startswith(prefix)), 0)


# ---------------------------------------------------------------------------------------------- forget sets
def forget_sets(pipe) -> pd.DataFrame:
    """Finished forget sets of this setup (θ_o-independent ones and those of the current θ_o's), one row each."""
    rows = []
    for r in pipe.store.list_runs("forget_set", "done"):
        c = r["config"]
        if setup_key(c) != pipe.setup_key:
            continue
        rows.append({"selector": c["selector"], "ratio": c.get("ratio"), "seed": int(c["seed"]),
                     "size": (r.get("metrics") or {}).get("size"), "key": r["key"], "created": r["created"],
                     "run": r})
    if not rows:
        return pd.DataFrame(columns=["name", "selector", "ratio", "seed", "size", "key", "created", "run"])
    df = pd.DataFrame(rows)
    # A set whose scores were recomputed (another θ_o or BLO) keeps only its newest version.
    df["_r"] = df["ratio"].fillna(-1.0)
    df = df.sort_values("created").drop_duplicates(["selector", "_r", "seed"], keep="last").drop(columns="_r")
    df["name"] = [forget_set_name(s, r, sd) for s, r, sd in zip(df["selector"], df["ratio"], df["seed"])]
    first = {s: i for i, s in enumerate(["random", "worst", "easiest"])}
    df["_o"] = [first.get(s, 99) for s in df["selector"]]
    df = df.sort_values(["seed", "ratio", "_o", "created"], na_position="last").reset_index(drop=True)
    return df[["name", "selector", "ratio", "seed", "size", "key", "created", "run"]]


def forget_idx_of(store: Store, key: str) -> np.ndarray | None:
    """The indices of a finished forget-set run (None if missing or corrupt)."""
    run = store.done_run(key)
    if run is None or run["kind"] != "forget_set":
        return None
    try:
        arrays, _ = store.decode("arrays", run)
    except CorruptArtifact:
        return None
    return arrays["forget_idx"].astype(np.int64)


def forget_set_name(selector: str, ratio: float | None, seed: int) -> str:
    """'worst-case 10% · seed 0' style name of a forget set (how users see it)."""
    from .selectors import selector_label

    what = selector_label(selector)
    if ratio is None or ratio != ratio:
        return f"{what} · seed {seed}"
    return f"{what} {100 * ratio:g}% · seed {seed}"


def overlap_matrix(sets: dict[str, np.ndarray]) -> pd.DataFrame:
    """|A ∩ B| / min(|A|, |B|) for every pair of sets."""
    from .selectors import overlap

    names = list(sets)
    m = np.array([[overlap(sets[a], sets[b]) for b in names] for a in names], dtype=float)
    return pd.DataFrame(m, index=names, columns=names)


def class_histogram_frame(sets: dict[str, np.ndarray], y: np.ndarray, classes: list[str]) -> pd.DataFrame:
    rows = []
    for name, idx in sets.items():
        counts = np.bincount(y[idx], minlength=len(classes))
        for c, n in enumerate(counts):
            rows.append({"set": name, "class": classes[c], "count": int(n), "share": float(n / max(len(idx), 1))})
    return pd.DataFrame(rows)


def set_score_frame(sets: dict[str, np.ndarray], samples: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Long frame (set, score, value) of the score values inside each set, plus the whole training set."""
    parts = []
    for name, idx in {"all training samples": samples["index"].to_numpy(), **sets}.items():
        sub = samples.iloc[idx]
        for c in columns:
            if c in sub:
                parts.append(pd.DataFrame({"set": name, "score": c, "value": sub[c].to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["set", "score", "value"])


# ---------------------------------------------------------------------------------------------- registries
def method_table(ds) -> pd.DataFrame:
    """Registered methods with their metadata (for pickers)."""
    from .methods import get_method, method_names

    rows = []
    for m in method_names():
        meta = get_method(m).metadata()
        rows.append({"method": m, "label": meta["label"], "description": meta["description"],
                     "relabeling": meta["relabeling"], "exact": meta["exact"],
                     "preset": json.dumps(get_method(m).default_params(ds)) if ds is not None else ""})
    return pd.DataFrame(rows)


def method_param_frame(method: str, ds) -> pd.DataFrame:
    """The method's preset for this data set family as an editable (parameter, value) table."""
    from .methods import get_method

    preset = get_method(method).default_params(ds)
    return pd.DataFrame({"parameter": list(preset), "value": [json.dumps(v) for v in preset.values()]})


_TORCHVISION_MARKERS = {
    "cifar10": ["cifar-10-batches-py"], "cifar100": ["cifar-100-python"], "mnist": ["MNIST"],
    "fashion_mnist": ["FashionMNIST"], "svhn": ["train_32x32.mat"], "celeba": ["celeba"],
}


def dataset_options(data_root: str | None = None) -> list[dict]:
    """Every named data set with whether its files are present (the digits ones ship with scikit-learn)."""
    import os
    from pathlib import Path

    from .data import DATASETS

    root = Path(data_root or os.environ.get("FORGETSET_DATA_ROOT", "./data"))
    out = []
    for name in DATASETS:
        if name in ("digits", "biased_digits"):
            out.append({"name": name, "available": True, "note": "built in (scikit-learn digits)"})
            continue
        markers = _TORCHVISION_MARKERS.get(name, [name])
        ok = any((root / m).exists() for m in markers)
        out.append({"name": name, "available": ok, "note": f"found under {root}" if ok else f"not found under {root}"})
    return out
