"""Tables for display: Table 3 for the Compare page (display strings and the numeric gaps that colour them, built
from :func:`unlearn_core.results.table3`), the tuning protocol's tables, the "Why is it hard?" summary and the
forget sets' entanglement. No statistics beyond means / sample stds of stored numbers are computed here. Methods,
selectors and scores carry their display names; every row says how many seeds (n) it averages and which; the
spread is '—' when n = 1."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from unlearn_core import results as res
from unlearn_core.metrics import registry as metric_registry
from unlearn_core.stats import mean_std

from . import glossary
from .style import method_base, method_label, params_text, ratio_label, score_label, selector_label

METRICS = res.METRICS


def _cell(mean: float, std: float, n: int, gap: float) -> str:
    return res.fmt_mean_std(mean, std, n) + ("" if gap != gap else f" ({gap:.2f})")


TUNED_MARK = " · tuned"


def tuned_labels(t3: pd.DataFrame, tuned: dict | None) -> list[str]:
    """Per Table-3 row, the tuning label ('tuned on random 10% · seeds 0,1,2 (Avg. gap 1.23)') where the row's
    method and resolved hyperparameters are a tuning's chosen values, else ''. ``tuned``: {(method, params JSON):
    label} (:func:`dashboard.analysis_readers.tuned_lookup`)."""
    if not tuned or t3.empty or "params" not in t3:
        return [""] * len(t3)
    return [tuned.get((method_base(m), p), "") for m, p in zip(t3["method"], t3["params"])]


def _hyperparameters(method: str, params: str) -> str:
    if method == "retrain":
        return "— (the original recipe)"
    return params_text(params) or "—"


def es_cell(mean: float, std: float, n: int) -> str:
    """'930 ± 490' (mean ± sample std over n seeds), '930 ± —' for one seed, '—' when not computed."""
    if mean != mean or not n:
        return "—"
    return f"{mean:.4g} ± " + ("—" if n < 2 or std != std else f"{std:.3g}")


def table3_stacked(d: pd.DataFrame, selectors: list[str], tuned: dict | None = None,
                   es: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (selector, method): UA, MIA, RA, TA as 'mean ± std (gap)', Avg. gap, ToW, n, seeds.

    ``tuned`` ({(method, params JSON): label}): rows run with a tuning's chosen values are named "FT · tuned" and
    get the resolved hyperparameters and the tuning's label in their own columns. ``es`` ({selector: (mean, std,
    n)}): the entanglement of the row's forget sets (mean ± sample std over their seeds) in a column "ES"."""
    t3 = res.table3(d, selectors)
    if t3.empty:
        return pd.DataFrame(), pd.DataFrame()
    labels = tuned_labels(t3, tuned)
    disp = pd.DataFrame({"forget set": [selector_label(s) for s in t3["selector"]],
                         "method": [method_label(m) + (TUNED_MARK if lab else "") for m, lab in zip(t3["method"],
                                                                                                 labels)]})
    if any(labels):
        disp["hyperparameters"] = [_hyperparameters(m, p) for m, p in zip(t3["method"], t3["params"])]
        disp["tuned on"] = [lab or "—" for lab in labels]
    if es is not None:
        disp["ES"] = [es_cell(*es.get(s, (np.nan, np.nan, 0))) for s in t3["selector"]]
    gaps = pd.DataFrame(index=disp.index)
    for m in METRICS:
        disp[m] = [_cell(a, s, n, g) for a, s, n, g in zip(t3[f"{m}_mean"], t3[f"{m}_std"], t3["n"], t3[f"gap_{m}"])]
        gaps[m] = t3[f"gap_{m}"]
    disp["Avg. gap"] = t3["avg_gap"].map(lambda v: "—" if v != v else f"{v:.2f}")
    gaps["Avg. gap"] = t3["avg_gap"]
    disp["ToW"] = [res.fmt_mean_std(a, s, n, 3) for a, s, n in zip(t3["ToW_mean"], t3["ToW_std"], t3["n"])]
    disp["n"] = t3["n"].astype(int)
    # compact enough for 1400 px (issue 22, item 5: the seeds column was off-screen): seeds without spaces, and the
    # run time is in a selected row's details and in the CSV export rather than a column of its own
    disp["seeds"] = t3["seeds"].astype(str).str.replace(" ", "")
    disp.attrs["runtime_s"] = list(t3["runtime_s_mean"])
    disp.attrs["selectors"] = list(t3["selector"])
    disp.attrs["methods"] = list(t3["method"])
    disp.attrs["params"] = list(t3["params"]) if "params" in t3 else ["{}"] * len(t3)
    disp.attrs["tuned"] = labels
    return disp, gaps


def _compact(mean: float, std: float, n: int) -> str:
    """'6.9±2.1', '6.9±—' (one seed), '—' (missing): short enough for forget sets side by side."""
    if mean != mean:
        return "—"
    return f"{mean:.1f}±" + ("—" if n < 2 or std != std else f"{std:.1f}")


def table3_wide(d: pd.DataFrame, selectors: list[str], compact: bool = False,
                tuned: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows = methods, columns = selector × (UA, MIA, RA, TA, Avg. gap, n, seeds). ``compact``: cells without the
    gap in brackets (the cell colour shows it), so one table per forget set fits next to the others. Methods run
    with a tuning's chosen values are named "FT · tuned" (``tuned`` as in :func:`table3_stacked`)."""
    t3 = res.table3(d, selectors)
    if t3.empty:
        return pd.DataFrame(), pd.DataFrame()
    methods = list(dict.fromkeys(t3["method"]))
    tuned_of = {m: lab for m, lab in zip(t3["method"], tuned_labels(t3, tuned)) if lab}
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
    disp.attrs["tuned"] = [tuned_of.get(m, "") for m in methods]
    disp.index = [method_label(m) + (TUNED_MARK if m in tuned_of else "") for m in methods]
    gaps.index = disp.index
    disp.index.name = "method"
    gaps.index.name = "method"
    return disp, gaps


def column_help(columns, formats: dict | None = None) -> dict:
    """``st.column_config`` entries whose tooltip defines each column that names a glossary term or has a note
    (UA, MIA, …, gap, n, seeds; :func:`dashboard.glossary.help_text`); numeric formats from ``formats``
    ({column: '%.3f'}) are kept on the same entry."""
    out = {}
    for c in columns:
        h = glossary.help_text(c) or BANK_HELP.get(str(c).split(" · ")[-1]) or _metric_help(str(c))
        fmt = (formats or {}).get(c)
        if fmt is not None:
            out[c] = st.column_config.NumberColumn(str(c), format=fmt, help=h)
        elif h:
            out[c] = st.column_config.Column(str(c), help=h)
    return out


def _metric_help(column: str) -> str | None:
    """A registered metric's own definition (label: formula, or its help) for a column named after it."""
    m = metric_registry.find(column)
    return m.describe() if m is not None else None


def run_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-seed runs for display: readable names, numbers kept numeric."""
    # the papers' four, then any model metric registered since (unlearn_core/metrics: adding one shows it here)
    more = [n for n in metric_registry.names("model") if n not in res.METRICS and not n.startswith("MIA_")]
    show = ["selector", "method", "ratio", "seed", "UA", "MIA", "RA", "TA", *more, "gap_UA", "gap_MIA", "gap_RA",
            "gap_TA", "avg_gap", "ToW", "runtime_s", "forget_size", "params", "key"]
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


def mia_variant_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Per-seed runs with MIA-efficacy on each feature variant (Song & Mittal): the confidence one every run
    computes (= MIA) and the on-demand ones, which read "not computed" until a job (or ``compare --mia-variants``)
    computed them: never a blank that passes for a number. Values as text with two decimals."""
    names = [n for n in metric_registry.names("model") if n.startswith("MIA_")]
    shown = res.mark_not_computed(runs, names)
    out = pd.DataFrame({"forget set": [selector_label(s) for s in runs["selector"]],
                        "ratio": [ratio_label(r) for r in runs["ratio"]],
                        "method": [method_label(m) for m in runs["method"]],
                        "seed": runs["seed"].astype(int).to_numpy()})
    for n in names:
        out[metric_registry.get(n).label] = [v if isinstance(v, str) else f"{float(v):.2f}" for v in shown[n]]
    return out


def table3_export(d: pd.DataFrame, selectors: list[str]) -> str:
    """Compare's 'Download this table': :func:`unlearn_core.results.table3` as numbers (mean, std, n, seeds and
    gap columns; no index column) plus the display names of methods and selectors."""
    t3 = res.table3(d, selectors)
    t3 = t3.assign(method_name=[method_label(m) for m in t3["method"]],
                   selector_name=[selector_label(s) for s in t3["selector"]])
    return res.table3_csv(t3)


# ---------------------------------------------------------------------------------------------- model banks
# Per-example distribution tests over model banks (unlearn_core/banks.py, forget_quality.py) as Table-3 columns.
BANK_COLUMNS = {"forget_quality": ("F", 3), "score": ("score", 3), "klom_forget_p95": ("KLoM forget P95", 2),
                "klom_retain_p95": ("KLoM retain P95", 2), "klom_test_p95": ("KLoM test P95", 2)}
CONTROL_NOTE = (" Retrain's row is Retrain against an independent retrain bank (the control: near 1); original = θ_o "
                "unchanged (the floor). Mean ± sample std over the seeds whose banks are stored.")
BANK_HELP = {label: metric_registry.get(m).cited()
             + (CONTROL_NOTE if m == "forget_quality" else "") for m, (label, _) in BANK_COLUMNS.items()}
BANK_HELP["n models"] = (f"{metric_registry.get('n_models').describe()} Retrain's control uses 2N; the seeds are "
                         "those whose banks the bank columns average.")
NOT_COMPUTED = metric_registry.NOT_COMPUTED  # one wording for every "not computed" cell
ORIGINAL_ROW = "original (θ_o unchanged)"


def with_bank_columns(disp: pd.DataFrame, gaps: pd.DataFrame, summary: dict[tuple, dict],
                      original_row: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3 (:func:`table3_stacked`) with the bank columns F, score, KLoM forget / retain / test P95 and n models
    ('mean ± std' over the seeds whose banks are stored; 'not computed' where none is), and, per forget set with a
    bank, a row ``original`` (θ_o unchanged; no one-model metrics). ``summary``: :func:`unlearn_core.banks.
    summarise_bank_rows`. Rows, gaps and attrs stay aligned (new rows have no gaps)."""
    if disp.empty:
        return disp, gaps
    sels, meths = disp.attrs["selectors"], disp.attrs["methods"]
    params = disp.attrs.get("params") or ["{}"] * len(disp)
    attrs = {k: list(v) for k, v in disp.attrs.items()}
    out_rows, gap_rows, new_attrs = [], [], {k: [] for k in attrs}

    def bank_cells(s: dict | None) -> dict:
        if s is None:
            return {**{lab: NOT_COMPUTED for lab, _ in BANK_COLUMNS.values()}, "n models": "—"}
        cells = {lab: res.fmt_mean_std(*s[m], digits) for m, (lab, digits) in BANK_COLUMNS.items()}
        cells["n models"] = f"{s['n_models']} · seeds {','.join(map(str, s['seeds']))}"
        return cells

    for i in range(len(disp)):
        row = disp.iloc[i].to_dict()
        out_rows.append({**row, **bank_cells(summary.get((sels[i], method_base(meths[i]), params[i])))})
        gap_rows.append(gaps.iloc[i].to_dict())
        for k in attrs:
            new_attrs[k].append(attrs[k][i] if i < len(attrs[k]) else None)
        last_of_set = i == len(disp) - 1 or sels[i + 1] != sels[i]
        orig = summary.get((sels[i], "original", "{}"))
        if original_row and last_of_set and orig is not None:
            blank = {c: "—" for c in disp.columns}
            blank.update({"forget set": row.get("forget set", ""), "method": ORIGINAL_ROW, "n": len(orig["seeds"]),
                          "seeds": ",".join(map(str, orig["seeds"]))})
            for m in ("UA", "RA", "TA"):  # θ_o's own accuracies (its N "unlearned models" are θ_o); no MIA here
                if m in blank and f"{m}_bank" in orig:
                    blank[m] = res.fmt_mean_std(*orig[f"{m}_bank"])
            out_rows.append({**blank, **bank_cells(orig)})
            gap_rows.append({c: np.nan for c in gaps.columns})
            for k in attrs:
                new_attrs[k].append({"selectors": sels[i], "methods": "original", "params": "{}"}.get(
                    k, 0.0 if k == "runtime_s" else "" if k == "tuned" else None))
    new = pd.DataFrame(out_rows, columns=[*disp.columns, *[lab for lab, _ in BANK_COLUMNS.values()], "n models"])
    new_gaps = pd.DataFrame(gap_rows, columns=gaps.columns, index=new.index)
    new.attrs.update(new_attrs)
    return new, new_gaps


def with_bank_columns_wide(disp: pd.DataFrame, selectors: list[str], summary: dict[tuple, dict],
                           ) -> pd.DataFrame:
    """The side-by-side layout (:func:`table3_wide`) with '<forget set> · F' and '<forget set> · KLoM forget P95'
    per selector (compact 'mean±std'; '—' where no bank is stored). Methods run with several hyperparameter
    settings take the first stored bank."""
    if disp.empty:
        return disp
    out = disp.copy()
    meths = disp.attrs["methods"]
    for sel in selectors:
        name = selector_label(sel)
        by_method: dict[str, dict] = {}
        for (s_, m, _), v in summary.items():
            if s_ == sel:
                by_method.setdefault(m, v)
        for metric, label, digits in (("forget_quality", "F", 3), ("klom_forget_p95", "KLoM forget P95", 1)):
            cells = []
            for m in meths:
                v = by_method.get(method_base(m))
                mean, std, n = v[metric] if v is not None else (np.nan, np.nan, 0)
                cells.append("—" if mean != mean else f"{mean:.{digits}f}±" + ("—" if n < 2 or std != std
                                                                              else f"{std:.{digits}f}"))
            out[f"{name} · {label}"] = cells
    out.attrs.update(disp.attrs)
    return out


# ---------------------------------------------------------------------------------------------- entanglement
def entanglement_summary(per_seed: pd.DataFrame) -> dict[str, tuple[float, float, int]]:
    """{selector: (mean, sample std, n)} of the ES of each selector's forget sets over their seeds (``per_seed``:
    columns selector, seed, ES; NaN = not computed, left out of n)."""
    out: dict[str, tuple[float, float, int]] = {}
    if per_seed.empty:
        return out
    for sel, g in per_seed.groupby("selector", sort=False):
        v = g.drop_duplicates("seed")["ES"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        out[sel] = (*mean_std(v), len(v))
    return out


def entanglement_missing(per_seed: pd.DataFrame) -> int:
    """How many (selector, seed) forget sets have no stored ES."""
    if per_seed.empty:
        return 0
    return int(per_seed.drop_duplicates(["selector", "seed"])["ES"].isna().sum())


# ---------------------------------------------------------------------------------------------- why is it hard?
MISSING_NAMES = {"entanglement": "entanglement of this set",
                 "entanglement_reference": "entanglement of random reference sets"}


def missing_label(name: str) -> str:
    """Display name of something the "Why is it hard?" panel or the correlation matrix still needs."""
    return MISSING_NAMES.get(name) or score_label(name)


def fmt_sig(v, digits: int = 4) -> str:
    """A number in ``digits`` significant digits, in scientific notation when it is very small or large
    (3.783e-06, 0.4123, 1.2e+05); '—' for a missing value."""
    if v is None or v != v:
        return "—"
    v = float(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


TIE_TOL = 1e-6  # weights closer than this are a tie for a reader (BLO's solver leaves differences of ~1e-9)


def near_tie_note(values, n: int, hard_end: str, easiest: bool, name: str = "weight") -> str:
    """'' or a sentence saying that the ``n`` hardest / easiest samples were chosen among more than ``n`` samples
    whose values lie within ``TIE_TOL`` of the extreme (e.g. ~70% of the BLO weights sit at ≈ 0): the order among
    them comes from the tie-break (loss), not from the score."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0 or n <= 0:
        return ""
    low_end = (hard_end == "low") != easiest  # the end the chosen samples sit at
    extreme = v.min() if low_end else v.max()
    tied = int((np.abs(v - extreme) <= TIE_TOL).sum())
    if tied <= n:
        return ""
    return (f"The {n} shown are chosen among {tied} samples ({100 * tied / len(v):.0f}% of {len(v)}) whose {name}s "
            f"all lie within {TIE_TOL:g} of {extreme:.3g}: a tie, ordered by loss (the tie-break), not by the "
            f"{name}.")


def why_summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The per-quantity summary of :func:`unlearn_core.analysis.hardness.why_hard` with readable columns (numbers
    stay numbers)."""
    t = summary.copy()
    t["quantity"] = [score_label(q) for q in t["quantity"]]
    t["hard end"] = t["hard_end"].map({"low": "low values", "high": "high values"})
    blo = t["quantity"].astype(str).str.startswith("BLO") | summary["quantity"].astype(str).str.startswith("blo")
    for c in ("set_mean", "set_median", "train_mean", "train_median"):  # BLO weights are shown in [0, 1]
        t[c] = t[c].astype(float)
        t.loc[blo, c] = t.loc[blo, c].clip(0.0, 1.0)
    out = t[["quantity", "set_mean", "set_median", "train_mean", "train_median", "set_mean_percentile", "leans",
             "hard end", "n_set"]]
    # short headers (the grid fits 1400 px; issue 22 item 5): the definitions are the columns' hover help
    return out.rename(columns={"set_mean": "set mean", "set_median": "set median", "train_mean": "train mean",
                               "train_median": "train median",
                               "set_mean_percentile": "percentile",
                               "leans": "the set leans", "n_set": "samples"})


# ---------------------------------------------------------------------------------------------- tuning protocol
def _json(params) -> str:
    return json.dumps(params, sort_keys=True)


def candidates_table(record: dict) -> pd.DataFrame:
    """A tuning's candidates (:func:`unlearn_core.tuning.candidates_frame`) for display: the grid's
    hyperparameters, whether it is the preset / the chosen one, the objective (Avg. gap on the tuning sets) and its
    per-metric parts (numbers stay numbers)."""
    from unlearn_core.tuning import candidates_frame

    cands = candidates_frame(record)
    grid_keys = list(record.get("grid") or {})
    if cands.empty:
        return cands
    out = pd.DataFrame({"candidate": cands["candidate"].astype(int) + 1})
    for k in grid_keys:
        out[k] = cands[k] if k in cands else np.nan
    out["chosen"] = ["✓ chosen" if c else "" for c in cands["chosen"]]
    out["preset"] = ["preset" if p else "" for p in cands["is_preset"]]
    out["Avg. gap (objective)"] = cands["avg_gap"].astype(float)
    for m in res.METRICS:
        out[f"gap {m}"] = cands[f"gap_{m}"].astype(float)
    for m in res.METRICS:
        out[f"{m} (mean)"] = cands[f"{m}_mean"].astype(float)
    out["ToW (mean)"] = cands["ToW_mean"].astype(float)
    out["n (seeds)"] = cands["n"].astype(int)
    return out


def tuning_choice_text(record: dict) -> str:
    """'lr = 0.04, epochs = 10 (Avg. gap 0.611 on the tuning sets; the preset's 0.975)' — plain text."""
    ch = record["chosen"]
    what = ", ".join(f"{k} = {v}" for k, v in sorted((ch.get("overrides") or {}).items())) or "the preset"
    pre = (record.get("preset") or {}).get("avg_gap")
    return (f"{what} (Avg. gap {ch['avg_gap']:.3f} on the tuning sets"
            + (f"; the preset's {pre:.3f})" if pre is not None and pre == pre else ")"))


def tuned_vs_preset(d: pd.DataFrame, record: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3 on the sets a tuning was applied to: Retrain, the method with the chosen values ("tuned") and with
    its preset ("preset"), at the tuning's ratio over its seeds, read from the stored runs (``d``: one setup's
    :func:`unlearn_core.results.results_for_setup`). Returns (display frame, numeric Table 3 with ``variant``)."""
    empty = pd.DataFrame(), pd.DataFrame()
    if d.empty:
        return empty
    method, ratio = record["method"], float(record["ratio"])
    chosen, preset = _json(record["chosen"]["params"]), _json((record.get("preset") or {}).get("params") or {})
    base = d["method_name"] if "method_name" in d else d["method"].map(method_base)
    dr = d[np.isclose(d["ratio"].astype(float).fillna(-1.0), ratio) & d["seed"].isin(record["seeds"])]
    base = base.loc[dr.index]
    applied = [s for s in dict.fromkeys(dr.loc[(base == method) & (dr["params"] == chosen), "selector"])
               if s != record["selector"]]
    if not applied:
        return empty
    keep = dr["selector"].isin(applied) & ((base == "retrain") | ((base == method) & dr["params"].isin([chosen, preset])))
    t3 = res.table3(dr[keep], applied)
    if t3.empty:
        return empty
    same = chosen == preset
    t3.insert(0, "variant", ["Retrain" if m == "retrain" else ("tuned (= preset)" if same else "tuned")
                             if p == chosen else "preset" for m, p in zip(t3["method"], t3["params"])])
    disp = pd.DataFrame({"forget set": [selector_label(s) for s in t3["selector"]], "variant": t3["variant"],
                         "method": [method_label(method_base(m)) for m in t3["method"]],
                         "hyperparameters": [_hyperparameters(method_base(m), p) for m, p in
                                             zip(t3["method"], t3["params"])]})
    for m in METRICS:
        disp[m] = [_cell(a, s_, n, g) for a, s_, n, g in zip(t3[f"{m}_mean"], t3[f"{m}_std"], t3["n"],
                                                             t3[f"gap_{m}"])]
    disp["Avg. gap"] = t3["avg_gap"].map(lambda v: "—" if v != v else f"{v:.2f}")
    disp["n"] = t3["n"].astype(int)
    disp["seeds"] = t3["seeds"].astype(str).str.replace(",", ", ")
    return disp, t3


# ---------------------------------------------------------------------------------------------- correlations
def correlation_frames(result) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """(mean, 'mean ± std' text, n) of a ``CorrelationResult`` restricted to the quantities stored for at least one
    seed (their correlation with another quantity exists); None when fewer than two are."""
    n = result.n
    keep = [q for q in result.quantities if (n.loc[q].drop(q) > 0).any()]
    if len(keep) < 2:
        return None
    return (result.mean.loc[keep, keep], result.formatted().loc[keep, keep], n.loc[keep, keep])
