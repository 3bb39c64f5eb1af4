"""Table 3 for the Compare page: display strings and the numeric gaps that colour them (built from
:func:`unlearn_core.results.table3`; no statistics are computed here). Methods and selectors carry their display
names; every row says how many seeds (n) it averages and which; the spread is '—' when n = 1."""
from __future__ import annotations

import numpy as np
import pandas as pd

from unlearn_core import results as res

from .style import GLOSSARY, method_label, selector_label

METRICS = res.METRICS


def _cell(mean: float, std: float, n: int, gap: float) -> str:
    return res.fmt_mean_std(mean, std, n) + ("" if gap != gap else f" ({gap:.2f})")


def table3_stacked(d: pd.DataFrame, selectors: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (selector, method): UA, MIA, RA, TA as 'mean ± std (gap)', Avg. gap, ToW, n, seeds."""
    t3 = res.table3(d, selectors)
    if t3.empty:
        return pd.DataFrame(), pd.DataFrame()
    disp = pd.DataFrame({"forget set": [selector_label(s) for s in t3["selector"]],
                         "method": [method_label(m) for m in t3["method"]]})
    gaps = pd.DataFrame(index=disp.index)
    for m in METRICS:
        disp[m] = [_cell(a, s, n, g) for a, s, n, g in zip(t3[f"{m}_mean"], t3[f"{m}_std"], t3["n"], t3[f"gap_{m}"])]
        gaps[m] = t3[f"gap_{m}"]
    disp["Avg. gap"] = t3["avg_gap"].map(lambda v: "—" if v != v else f"{v:.2f}")
    gaps["Avg. gap"] = t3["avg_gap"]
    disp["ToW"] = [res.fmt_mean_std(a, s, n, 3) for a, s, n in zip(t3["ToW_mean"], t3["ToW_std"], t3["n"])]
    disp["n"] = t3["n"].astype(int)
    disp["seeds"] = t3["seeds"].astype(str).str.replace(",", ", ")
    disp["time (s)"] = t3["runtime_s_mean"].map(lambda v: "—" if v != v else f"{v:.2f}")
    disp.attrs["selectors"] = list(t3["selector"])
    disp.attrs["methods"] = list(t3["method"])
    return disp, gaps


def _compact(mean: float, std: float, n: int) -> str:
    """'6.9±2.1', '6.9±—' (one seed), '—' (missing): short enough for forget sets side by side."""
    if mean != mean:
        return "—"
    return f"{mean:.1f}±" + ("—" if n < 2 or std != std else f"{std:.1f}")


def table3_wide(d: pd.DataFrame, selectors: list[str], compact: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows = methods, columns = selector × (UA, MIA, RA, TA, Avg. gap, n, seeds). ``compact``: cells without the
    gap in brackets (the cell colour shows it), so one table per forget set fits next to the others."""
    t3 = res.table3(d, selectors)
    if t3.empty:
        return pd.DataFrame(), pd.DataFrame()
    methods = list(dict.fromkeys(t3["method"]))
    disp = pd.DataFrame(index=methods)
    gaps = pd.DataFrame(index=methods, dtype=float)
    for sel in selectors:
        a = t3[t3["selector"] == sel].set_index("method")
        name = selector_label(sel)
        for m in METRICS:
            col = f"{name} · {m}"
            cell = (lambda x: _compact(a.at[x, f"{m}_mean"], a.at[x, f"{m}_std"], a.at[x, "n"])) if compact else \
                (lambda x: _cell(a.at[x, f"{m}_mean"], a.at[x, f"{m}_std"], a.at[x, "n"], a.at[x, f"gap_{m}"]))
            disp[col] = [cell(x) if x in a.index else "—" for x in methods]
            gaps[col] = [a.at[x, f"gap_{m}"] if x in a.index else np.nan for x in methods]
        col = f"{name} · Avg. gap"
        disp[col] = [f"{a.at[x, 'avg_gap']:.2f}" if x in a.index and a.at[x, "avg_gap"] == a.at[x, "avg_gap"]
                     else "—" for x in methods]
        gaps[col] = [a.at[x, "avg_gap"] if x in a.index else np.nan for x in methods]
        disp[f"{name} · n"] = [int(a.at[x, "n"]) if x in a.index else 0 for x in methods]
        disp[f"{name} · seeds"] = [str(a.at[x, "seeds"]).replace(",", ", ") if x in a.index else "—"
                                   for x in methods]
    disp.attrs["methods"] = methods
    disp.index = [method_label(m) for m in methods]
    gaps.index = disp.index
    disp.index.name = "method"
    gaps.index.name = "method"
    return disp, gaps


def column_help(columns) -> dict:
    """Streamlit column_config entries whose tooltip defines each metric column (UA, MIA, …, n, seeds)."""
    import streamlit as st

    out = {}
    for c in columns:
        key = str(c).split(" · ")[-1]
        if key in GLOSSARY:
            out[c] = st.column_config.Column(str(c), help=GLOSSARY[key])
    return out


def run_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-seed runs for display: readable names, numbers kept numeric."""
    show = ["selector", "method", "ratio", "seed", "UA", "MIA", "RA", "TA", "gap_UA", "gap_MIA", "gap_RA", "gap_TA",
            "avg_gap", "ToW", "runtime_s", "forget_size", "params", "key"]
    out = runs[[c for c in show if c in runs]].copy()
    if "selector" in out:
        out["selector"] = out["selector"].map(selector_label)
    if "method" in out:
        out["method"] = out["method"].map(method_label)
    if "ratio" in out:
        out["ratio"] = 100 * out["ratio"].astype(float)
    return out.rename(columns={"selector": "forget set", "ratio": "ratio (%)", "runtime_s": "time (s)",
                               "forget_size": "forget-set size", "avg_gap": "Avg. gap (this seed)",
                               "gap_UA": "gap UA", "gap_MIA": "gap MIA", "gap_RA": "gap RA", "gap_TA": "gap TA"})


def table3_export(d: pd.DataFrame, selectors: list[str]) -> str:
    """Compare's 'Download this table': :func:`unlearn_core.results.table3` as numbers (mean, std, n, seeds and
    gap columns; no index column) plus the display names of methods and selectors."""
    t3 = res.table3(d, selectors)
    t3 = t3.assign(method_name=[method_label(m) for m in t3["method"]],
                   selector_name=[selector_label(s) for s in t3["selector"]])
    return res.table3_csv(t3)
