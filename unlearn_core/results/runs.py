"""Run rows: one finished unlearning run per row, its metrics (stored, and computed later at the registered
versions), provenance marks and the per-seed metrics against Retrain (``metrics.registry``, kind ``vs_retrain``).
Read-only: nothing here computes or writes."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..config import recipe_label, setup_key
from ..metrics import GAP_METRICS, registry as metric_registry
from ..store import Store
from .provenance import Provenance

RUN_COLUMNS = ["dataset", "model", "selector", "method", "ratio", "seed", "UA", "RA", "TA", "MIA", "runtime_s"]


def run_row(run: dict, later_metrics: dict[str, float] | None = None) -> dict:
    """One finished unlearning run as a flat row (identity, metrics, setup id, configuration).

    ``later_metrics``: values of metrics computed for the run after it was stored (metric records,
    :meth:`unlearn_core.pipeline.Pipeline.run_metrics`); they replace stored values of an older version. A stored
    value whose version is not the registered one, with no record, reads as NaN (it is kept in the store)."""
    cfg, metrics = run["config"], run.get("metrics") or {}
    row = {"dataset": cfg["dataset"], "model": cfg["model"], "selector": cfg["selector"], "method": cfg["method"],
           "ratio": cfg["ratio"], "seed": cfg["seed"]}
    versions = metric_registry.stored_versions(metrics)
    for k, v in metrics.items():
        if k == metric_registry.VERSIONS_FIELD:
            continue
        m = metric_registry.find(k)
        stale = m is not None and m.kind == "model" and versions.get(k) != m.version
        row[k] = np.nan if v is None or stale else v
    row.update(later_metrics or {})
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


def on_demand_columns(df: pd.DataFrame, asked=()) -> list[str]:
    """The on-demand metrics (``metrics.registry``: the non-default MIA variants) a run table should show: those
    ``asked`` for and those any of its runs holds (a cache made when every run computed them), registration order."""
    asked = set(asked)
    return [n for n in metric_registry.on_demand_names() if n in asked or (n in df and df[n].notna().any())]


def mark_not_computed(df: pd.DataFrame, columns) -> pd.DataFrame:
    """``df`` with the on-demand metric ``columns`` present, a run that has not computed one reading
    ``NOT_COMPUTED`` ("not computed") instead of a blank that would pass for a number."""
    out = df.copy()
    for c in columns:
        vals = out[c] if c in out else pd.Series(np.nan, index=out.index)
        out[c] = [metric_registry.NOT_COMPUTED if v is None or (isinstance(v, float) and v != v) else v
                  for v in vals]
    return out


def on_demand_todo(store: Store, runs: pd.DataFrame, columns) -> tuple[int, float | None]:
    """(number of on-demand metric values ``columns`` the ``runs`` lack, the seconds computing them should take):
    per run, its missing count times the seconds its own confidence MIA SVC fit took when it was made (stored in
    its timings as ``mia_svc_s``; each variant is one SVC fit of the same size). None when a run lacking one has no
    such timing (made before it was recorded)."""
    n, seconds = 0, 0.0
    for _, row in runs.iterrows():
        k = sum(1 for c in columns if c not in row or row[c] is None or row[c] != row[c])
        if not k:
            continue
        n += k
        r = store.get_run(str(row["key"]))
        t = ((r or {}).get("timings") or {}).get("mia_svc_s")
        seconds = None if seconds is None or t is None else seconds + k * float(t)
    return n, seconds


def results_frame(store: Store, setup_id: str | None = None, include_superseded: bool = False) -> pd.DataFrame:
    """Every finished unlearning run, one row each (the newest of identical configurations made with the same θ_o
    and forget set), with per-seed gaps paired by content (:func:`with_gaps`).

    Columns ``theta_o`` (the θ_o digest(s) the run depends on, through its start point or its forget set),
    ``forget_set_digest``, ``superseded`` and ``superseded_why`` (:class:`Provenance`). Superseded rows are never
    paired with Retrain and are left out unless ``include_superseded``."""
    runs = store.list_runs("unlearn", "done")
    later = metric_records(store)
    df = pd.DataFrame([run_row(r, later.get(r["key"])) for r in runs])
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


class _Row:
    """A data-frame row (``itertuples``) read by column name, as the registry's ``vs_retrain`` metrics read rows."""

    __slots__ = ("_row",)

    def __init__(self, row):
        self._row = row

    def __getitem__(self, name: str):
        return getattr(self._row, name)


def metric_records(store: Store) -> dict[str, dict[str, float]]:
    """{run key: {metric: value}} of the metric records at the registered versions (metrics computed for runs
    after they were stored; :meth:`unlearn_core.pipeline.Pipeline.run_metrics`)."""
    out: dict[str, dict[str, float]] = {}
    for r in store.list_runs("metric", "done"):
        c = r["config"]
        m = metric_registry.find(str(c.get("metric")))
        value = (r.get("metrics") or {}).get(c.get("metric"))
        if m is not None and c.get("version") == m.version and value is not None:
            out.setdefault(str(c.get("run")), {})[m.name] = float(value)
    return out


def with_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """Per-run columns of the registry's ``vs_retrain`` metrics: ``gap_<metric>`` = |m − m_Retrain| for Retrain of
    the same setup, selector, ratio and seed (the *per-seed* gap), their mean ``avg_gap``, and ToW.

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
    vs_retrain = metric_registry.metrics("vs_retrain")
    cols: dict[str, list] = {m.name: [] for m in vs_retrain}
    for row, pairable in zip(df.itertuples(index=False), ok):
        k = tuple(getattr(row, c) for c in keys)
        if pairable and k in retrain.index:
            r = _same_split(row, retrain.loc[k])
            for m in vs_retrain:
                cols[m.name].append(m.fn(_Row(row), r))
        else:
            for c in cols:
                cols[c].append(np.nan)
    for c, v in cols.items():
        df[c] = v
    return df.drop(columns="ratio_key")


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
        what = c.get("method") or c.get("score") or c.get("selector") or c.get("model") or c.get("metric")
        rows.append({"kind": r["kind"], "status": r["status"], "what": what, "dataset": c.get("dataset"),
                     "selector": c.get("selector"), "ratio": c.get("ratio"), "seed": c.get("seed"),
                     "created": pd.to_datetime(r["created"], unit="s"),
                     "seconds": (r.get("timings") or {}).get("total_s"),
                     "error": r.get("error") or "", "key": r["key"],
                     "superseded": r["kind"] == "unlearn" and r["status"] == "done" and prov.of_run(c)[1]})
    return pd.DataFrame(rows)


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
