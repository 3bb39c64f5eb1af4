"""Compare: methods vs Retrain on random and worst-case sets (Table 3 of Fan et al., Challenging Forgets), gap
heatmap, ratio sweep, numeric CSV exports."""
import json

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, common, glossary, job_widgets, readers, style, tables, tour, widgets
from dashboard import analysis_readers as dv
from dashboard.safety import code_span, md_escape
from unlearn_core import banks
from unlearn_core import results as res
from unlearn_core.errors import ForgetsetError
from unlearn_core.grid import ExperimentSpec
from unlearn_core.metrics import registry as metric_registry

TUNE_CAPTION = (
    "Fan et al. (*Challenging Forgets*) and Chen et al. (*Machine Unlearning in Forgetting Sequence*) tune each "
    "method's learning rate and epochs on random forget sets and reuse the values on the worst case, so a gap there "
    "is not an artefact of tuning. The tune job runs every candidate of a grid on the tuning sets (Retrain on the "
    "same sets), keeps the one with the smallest Avg. gap to Retrain (the preset is always a candidate), then runs "
    "the chosen values and the preset on the sets to apply them to. Every run is an ordinary cached run.")

common.page_guard()
st.title("Compare unlearning methods")
tour.tour_banner("compare")

show_superseded = st.sidebar.toggle("Show superseded results", key="cmp_superseded",
                                    help="Runs made with a θ_o that is no longer current (e.g. before an import): "
                                         "marked 'superseded' and never paired with Retrain.")
df_all = readers.results(include_superseded=show_superseded)
if df_all.empty:
    tour = st.session_state.get("tour") or {}
    if tour.get("active"):
        st.info("The teaching demo has not stored its first unlearning runs yet: this page fills in as soon as the "
                "“seed 0” stage lands (see the progress on the Overview).", icon=":material/hourglass_top:")
    else:
        st.info("No finished unlearning runs yet. Launch a grid on **Experiments** or run the teaching demo on the "
                "Overview page.", icon=":material/info:")
    st.page_link(common.PAGES["experiments"], label="Go to **Experiments**", icon=":material/science:")
    st.stop()

# ------------------------------------------------------------------ which results
setups = res.setups_in(df_all)
pipe, _ = readers.pipeline()
active_id = pipe.setup_key if pipe is not None else None
ids = list(setups["setup_id"])
labels = {r.setup_id: f"{r.setup} · {r.n_runs} runs" + (" (active setup)" if r.setup_id == active_id else "")
          for r in setups.itertuples()}
common.keep("cmp_setup", lambda: active_id if active_id in ids else ids[0],
            valid=lambda v: v if v in ids else (active_id if active_id in ids else ids[0]))
c1, c2, c3 = st.columns([3, 1, 2])
setup_id = c1.selectbox("Results of", ids, format_func=labels.get, key="cmp_setup")
df = res.results_for_setup(df_all, setup_id)
ratios = sorted(df["ratio"].dropna().unique().tolist())
has_classwise = df["ratio"].isna().any()
ratio_opts = ratios + (["class-wise"] if has_classwise else [])
common.keep("cmp_ratio", lambda: 0.1 if 0.1 in ratio_opts else ratio_opts[0],
            valid=lambda v: v if v in ratio_opts else (0.1 if 0.1 in ratio_opts else ratio_opts[0]))
ratio = c2.selectbox("Forget ratio", ratio_opts, key="cmp_ratio",
                     format_func=lambda r: r if isinstance(r, str) else style.ratio_label(r))
d_ratio = df[df["ratio"].isna()] if ratio == "class-wise" else df[np.isclose(df["ratio"].astype(float), float(ratio))]
sels_here = list(dict.fromkeys(d_ratio["selector"]))
pref = [s for s in ("random", "worst") if s in sels_here] or sels_here[:2]
common.keep("cmp_selectors", pref, valid=lambda v: [s for s in (v or []) if s in sels_here] or pref)
selectors = c3.multiselect("Forget sets (selectors)", sels_here, key="cmp_selectors", format_func=style.selector_label)
if not selectors:
    st.warning("Choose at least one selector.")
    st.stop()



@st.cache_data(show_spinner=False, max_entries=8)
def _bank_counts(root: str, setup_js: str, sets: tuple, ver: tuple) -> dict:
    return banks.forget_set_banks(pipe, list(sets))


@st.cache_data(show_spinner="Comparing model banks…", max_entries=8)
def _bank_summary(root: str, setup_js: str, sets: tuple, pairs: tuple, n: int, ver: tuple) -> dict:
    rows = banks.bank_table_rows(pipe, list(sets), [*((m, json.loads(p)) for m, p in pairs), ("original", None)], n)
    return banks.summarise_bank_rows(rows)


# ------------------------------------------------------------------ Table 3
st.subheader("Methods vs Retrain")
st.caption(f"The layout of Table 3 in {glossary.PAPERS['fan']}.")
common.keep("cmp_layout", "one row per forget set × method")
layout = st.segmented_control("Layout", ["one row per forget set × method", "forget sets side by side"],
                              key="cmp_layout", label_visibility="collapsed")
wide = layout == "forget sets side by side"
tuned = dv.tuned_lookup(setup_id)  # rows run with a tuning's chosen values are labelled "· tuned"
# Entanglement of the forget sets (Zhao et al., NeurIPS 2024), read for the active setup (its θ_o and BLO).
es_here = pipe is not None and setup_id == active_id
es_seed = dv.set_entanglement(d_ratio, selectors) if es_here else None
es = tables.entanglement_summary(es_seed) if es_seed is not None else None
disp, gaps = tables.table3_wide(d_ratio, selectors, compact=True, tuned=tuned) if wide else \
    tables.table3_stacked(d_ratio, selectors, tuned=tuned, es=es)
if disp.empty:
    st.warning("No runs for this choice.")
    st.stop()
ns = sorted(set(res.table3(d_ratio, selectors)["n"].astype(int)))
mixed = len(ns) > 1
st.caption(f"{md_escape(labels[setup_id].split(' · ')[0])} · forget ratio "
           f"{ratio if isinstance(ratio, str) else style.ratio_label(ratio)} · metrics in % as mean ± "
           f"{res.STD_LABEL}; **n = the seeds behind each row**"
           + (" (the seeds themselves: in the other layout)" if wide else " (which ones in column seeds)")
           + "; ‘—’ = one seed, no spread · "
           + ("cell colour: gap to Retrain (|mean − Retrain's mean over the same seeds|; the numbers are in the other "
              "layout and the heatmap below)" if wide else
              "brackets: gap to Retrain (|mean − Retrain's mean over the same seeds|)")
           + " · MIA = confidence-feature SVC efficacy · darker shading = larger gap · hover a column title for its "
             "definition."
           + ("" if wide else " Select a row for its seeds and exact configuration.")
           + (f" **Rows differ in n ({', '.join(map(str, ns))}): compare their spreads with care.**" if mixed else ""))
if any(disp.attrs.get("tuned") or []):
    st.caption("Rows marked **· tuned** ran with the values a tuning chose on other sets (see “Tuning protocol” "
               "below)" + ("; the columns hyperparameters (resolved values) and tuned on say which."
                           if not wide else "; their hyperparameters are in the one-row-per-set layout."))
if es is not None:
    n_no_es = tables.entanglement_missing(es_seed)
    e1, e2 = st.columns([3, 1.3])
    e1.caption("ES = entanglement of the row's forget sets with their retain sets (Zhao et al., *What makes "
               "unlearning hard and what to do about it*, NeurIPS 2024), mean ± sample std over the sets' seeds "
               "(— = one seed); higher = more entangled." + (f" {n_no_es} of these sets "
                                                             f"{'has' if n_no_es == 1 else 'have'} no ES yet (—)."
                                                             if n_no_es else ""))
    if n_no_es:
        job_widgets.job_button(e2, "Compute their entanglement", "view_entanglement",
                               {"setup": job_widgets.setup_config()}, "cmp_ent", icon=":material/hub:",
                               help="A background job: θ_o's features per seed, then ES per forget set.")
    job_widgets.watch_key("cmp_ent", "Entanglement stored.")
else:
    st.caption("ES (entanglement of the forget sets) is shown for the active setup's results.")
# ------------------------------------------------------------------ model banks: F / score / KLoM (issue 19)
# Per-example distribution tests over N unlearned vs N retrained models (unlearn_core/banks.py), read from the
# stored banks of the shown forget sets, as columns of the table; rows ``original`` (θ_o unchanged) per set.
if es_here:
    bank_sets = sorted({(s, None if ratio == "class-wise" else float(ratio), int(sd)) for s, sd in
                        d_ratio[d_ratio["selector"].isin(selectors)][["selector", "seed"]].itertuples(index=False)},
                       key=lambda t: (selectors.index(t[0]), t[2]))
    shown = d_ratio[d_ratio["selector"].isin(selectors)]
    bank_pairs = list(dict.fromkeys((style.method_base(m), p) for m, p in zip(shown["method"], shown["params"])))
    bank_counts = _bank_counts(common.cache_root(), common.setup_json(), tuple(bank_sets), readers.version())
    n_opts = banks.n_choices(list(bank_counts.values()), [m for m, _ in bank_pairs])
    b1, b2 = st.columns([1, 3])
    if n_opts:
        n_bank = int(b1.selectbox("Models per bank (F, score, KLoM)", n_opts, index=len(n_opts) - 1, key="cmp_bank_n",
                                  help=tables.BANK_HELP["n models"]))
        summary = _bank_summary(common.cache_root(), common.setup_json(), tuple(bank_sets), tuple(bank_pairs), n_bank, readers.version())
        if wide:
            disp = tables.with_bank_columns_wide(disp, selectors, summary)
        else:
            disp, gaps = tables.with_bank_columns(disp, gaps, summary)
        b2.caption(f"F / score / KLoM: N = {n_bank} unlearned vs N retrained models per forget set "
                   "(Triantafillou et al. 2024; Georgiev et al. 2024); Retrain's row is the control (Retrain vs an "
                   "independent retrain bank: near F = 1), **original** = θ_o unchanged (the floor). "
                   + ("F and KLoM forget P95 here; score, KLoM retain / test and the original rows in the "
                      "one-row-per-set layout." if wide else "Hover a column title for its definition.")
                   + " Per-example views: **Forgetting quality** page.")
        missing_pairs = [(m, p) for m, p in bank_pairs
                         if not all((s, m, p) in summary for s in selectors)]
    else:
        n_bank, missing_pairs = 32, bank_pairs
    if missing_pairs and ratio != "class-wise":
        miss_methods = list(dict.fromkeys(m for m, _ in missing_pairs))
        n_new = int(b1.selectbox("Build banks of N models", [8, 16, 32, 64], index=2, key="cmp_bank_n_new",
                                 help="N unlearned runs per method, 2N retrained models (a reference and the "
                                      "control), N models of θ_o's recipe; per shown forget set and seed."))
        bank_spec = ExperimentSpec(setup=common.setup(), selectors=list(selectors),
                                   methods=list(dict.fromkeys(["retrain", *miss_methods])), ratios=[float(ratio)],
                                   seeds=sorted({int(t[2]) for t in bank_sets}), eval_models=n_new)
        est = dv.estimate_text([("experiment", {"spec": bank_spec.to_dict()})])
        b2.caption(f"F / score / KLoM **not computed** for {md_escape(', '.join(map(style.method_label, miss_methods)))}"
                   f" on these sets — build a bank of {n_new} models per method ({md_escape(est)})")
        job_widgets.job_button(b2, f"Build model banks (N = {n_new})", "experiment", {"spec": bank_spec.to_dict()},
                               "cmp_bank", icon=":material/stacks:",
                               help="A background experiment job with eval_models = N: the runs already stored are "
                                    "reused; only the missing bank members are trained.")
    job_widgets.watch_key("cmp_bank", "Model banks stored.")
gvals = gaps.to_numpy(dtype=float)
gmax = float(np.nanmax(gvals)) if np.isfinite(gvals).any() else 1.0
method_ids = disp.attrs["methods"]


def _styled(frame: pd.DataFrame, gap: pd.DataFrame):
    """Cells shaded by their gap to Retrain; Retrain's own row bold on blue."""
    def _colors(_):
        out = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for c in gap.columns:
            for k in range(len(gap)):
                g = gap.iloc[k][c]
                if g == g and g > 0:
                    out.iloc[k, out.columns.get_loc(c)] = (
                        f"background-color: {style.rgba('#D55E00', 0.06 + 0.5 * min(1.0, g / max(gmax, 1e-9)))}")
        retrain = np.array([m == "retrain" for m in method_ids])
        out.loc[retrain] = "font-weight: bold; background-color: #eef3fb"
        return out

    return frame.style.apply(_colors, axis=None)


sel_rows, sel_here = [], []
if wide:  # one table per forget set, next to each other (short columns: nothing is cut off)
    cols = st.columns(min(len(selectors), 3))
    for j, sel in enumerate(selectors):
        name = style.selector_label(sel)
        part = disp[[c for c in disp.columns if c.startswith(f"{name} · ") and not c.endswith(" · seeds")]]
        part = part.rename(columns=lambda c: c.split(" · ", 1)[1])
        gpart = gaps[[c for c in gaps.columns if c.startswith(f"{name} · ")]].rename(
            columns=lambda c: c.split(" · ", 1)[1])
        with cols[j % len(cols)]:
            st.markdown(f"**{md_escape(name)} sets**"
                        + (f" · ES {tables.es_cell(*es[sel])}" if es is not None and sel in es else ""))
            widgets.table(_styled(part, gpart), key=f"cmp_table_wide_{j}", hide_index=False, max_rows=None,
                         column_config=tables.column_help(part.columns))
else:
    ev = widgets.table(_styled(disp, gaps), key="cmp_table_0", on_select="rerun", selection_mode="single-row",
                      max_rows=None, column_config=tables.column_help(disp.columns))
    sel_rows = ev.selection.rows
    sel_here = [disp.attrs["selectors"][sel_rows[0]]] if sel_rows else []
if sel_rows:
    r = sel_rows[0]
    method = method_ids[r]
    runs = d_ratio[(d_ratio["method"] == method) & d_ratio["selector"].isin(sel_here)]
    with st.container(border=True):
        st.markdown(f"**{md_escape(style.method_label(method))}** on "
                    f"{md_escape(' / '.join(style.selector_label(s) for s in sel_here))} — {len(runs)} runs (seeds "
                    f"{', '.join(map(str, sorted(runs['seed'].unique())))})")
        widgets.table(tables.run_rows(runs.sort_values(["selector", "seed"])), key="cmp_runs",
                     column_config={c: st.column_config.NumberColumn(format="%.2f")
                                    for c in ["UA", "MIA", "RA", "TA", "ToW", "time (s)"]})
        cfgs = res.run_configs(common.store(), runs["key"].tolist()[:1])
        if cfgs:
            st.markdown("Exact configuration (first run; the others differ only in selector / seed):")
            st.json(cfgs[0]["config"], expanded=False)

c1, c2 = st.columns(2)
c1.download_button("Download this table (CSV: numbers — mean, std, n, seeds, gap columns)",
                   tables.table3_export(d_ratio, selectors).encode(), file_name="table3.csv", mime="text/csv",
                   key="dl_table")
cols_out = [c for c in df.columns if c not in ("finished",)]
c2.download_button("Download every run of this setup (CSV, one row per run)", df[cols_out].to_csv(index=False).encode(),
                   file_name="runs.csv", mime="text/csv", key="dl_runs")

# ------------------------------------------------------------------ gap heatmap
st.subheader("Gap to Retrain · method × metric")
gl = res.gap_long(d_ratio[d_ratio["selector"].isin(selectors)], None)
if gl.empty:
    st.info("Only Retrain has run here, so there are no gaps to show.")
else:
    widgets.plot(charts.gap_heatmap(gl, res.method_order(gl["method"].unique())), key="cmp_heatmap")
    st.caption("|mean − Retrain's mean| in percentage points, each cell over the seeds of its own row (hover for n "
               f"and the seeds; Table 3 of {glossary.PAPERS['fan']}). White = matches Retrain.")

# ------------------------------------------------------------------ ratio sweep
st.subheader("Ratio sweep")
sweep = res.sweep_frame(df[df["selector"].isin(selectors)])
if sweep.empty or sweep["ratio"].nunique() < 2:
    st.info("Run the grid with two or more forget ratios (Experiments page) to see metrics against the ratio. "
            "The teaching demo runs 5%, 10% and 20%.")
else:
    n_ratios = sweep.groupby("method")["ratio"].nunique()
    lines = [m for m in res.method_order(sweep["method"].unique()) if n_ratios.get(m, 0) >= 2]
    single = [m for m in res.method_order(sweep["method"].unique()) if n_ratios.get(m, 0) < 2]
    c1, c2 = st.columns([1, 3])
    common.keep("cmp_metric", "UA", valid=lambda v: v if v in ["UA", "MIA", "RA", "TA", "ToW"] else "UA")
    metric = c1.selectbox("Metric", ["UA", "MIA", "RA", "TA", "ToW"], key="cmp_metric",
                          help="\n\n".join(glossary.term_help(k) for k in ["UA", "MIA", "RA", "TA", "ToW"]))
    # Methods that appear after the page first drew (the demo's later stages) join the choice: only a method the
    # user removed by hand stays out (issue 22: the sweep showed Retrain / FT / GA forever, never RL).
    seen = set(st.session_state.get("_cmp_sweep_seen", []))
    common.keep("cmp_sweep_methods", lines, valid=lambda v: [m for m in (v or []) if m in lines] or lines)
    new_lines = [m for m in lines if m not in seen and m not in st.session_state["cmp_sweep_methods"]]
    if new_lines and seen:
        st.session_state["cmp_sweep_methods"] = [*st.session_state["cmp_sweep_methods"], *new_lines]
    st.session_state["_cmp_sweep_seen"] = lines
    methods = c2.multiselect("Methods", lines, key="cmp_sweep_methods", format_func=style.method_label)
    common.remember("cmp_sweep_methods")
    ev2 = widgets.plot(charts.ratio_sweep(sweep, metric, methods), key="cmp_sweep", on_select="rerun",
                      selection_mode="points")
    nrange = f"{sweep['n'].min()}" if sweep["n"].nunique() == 1 else f"{sweep['n'].min()}–{sweep['n'].max()}"
    st.caption(f"One panel per forget set, one colour per method (the same colours everywhere). Lines: mean over "
               f"the seeds of each point (n = {nrange} seeds per point; hover a point for n and its seeds); bands: "
               f"± sample std, drawn only between points with n ≥ 2."
               + (" **Hollow points have one seed: no spread.**" if (sweep["n"] < 2).any() else "")
               + " Click a point for its runs."
               + (f" Not drawn (run at one ratio only): {', '.join(style.method_label(m) for m in single)}."
                  if single else ""))
    pts = [cd for cd in widgets.selected_points(ev2) if len(cd) >= 3]
    if pts:
        m, sel, r = pts[0][:3]
        runs = df[(df["method"] == m) & (df["selector"] == sel) & np.isclose(df["ratio"].astype(float), float(r))]
        st.markdown(f"**{md_escape(style.method_label(m))} · {md_escape(style.selector_label(sel))} · "
                    f"{style.ratio_label(r)}** — runs per seed")
        widgets.table(tables.run_rows(runs), key="cmp_sweep_runs")

# ------------------------------------------------------------------ tuning protocol
st.subheader("Tuning protocol: tune on random sets, reuse on the worst case")
st.caption(TUNE_CAPTION)
tun = dv.tunings(setup_id)
if tun.empty:
    st.caption("No tuning of this setup yet.")
else:
    tune_labels = {r.key: f"{style.method_label(r.method)} · {r.label}" for r in tun.itertuples()}
    tkey = st.selectbox("Tuning", list(tun["key"]), format_func=tune_labels.get, key="tune_pick")
    rec = dv.tuning_record(tkey)
    if rec is None:
        widgets.error("This tuning's record cannot be read any more.")
    else:
        st.markdown(f"**Chosen for {md_escape(style.method_label(rec['method']))}:** "
                    f"{md_escape(tables.tuning_choice_text(rec))} · resolved hyperparameters "
                    f"{code_span(style.params_text(rec['chosen']['params']) or 'none')}")
        cand = tables.candidates_table(rec)
        widgets.table(cand.style.apply(lambda r: ["font-weight: bold; background-color: #eef3fb" if r["chosen"]
                                                 else "" for _ in r], axis=1),
                     key="tune_cands", max_rows=None,
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in cand.columns
                                    if c.startswith(("Avg. gap", "gap ", "ToW"))}
                     | {c: st.column_config.NumberColumn(format="%.2f") for c in cand.columns if c.endswith("(mean)")
                        and not c.startswith("ToW")}
                     | {"Avg. gap (objective)": st.column_config.NumberColumn(
                         format="%.3f", help="Fan et al.'s Avg. gap to Retrain on the tuning sets (mean over UA, MIA, "
                                             "RA, TA of |mean over seeds − Retrain's mean|): the smallest wins.")})
        st.caption(f"Every candidate ran on the {md_escape(style.selector_label(rec['selector']))} "
                   f"{style.ratio_label(rec['ratio'])} sets of seeds {', '.join(map(str, rec['seeds']))}, with Retrain "
                   f"on the same sets; metric means in %, gaps in percentage points (n = seeds per candidate).")
        applied, _ = tables.tuned_vs_preset(df, rec)
        if applied.empty:
            st.info("The chosen values have not run on other sets yet (a tune job applies them to the sets named "
                    "in “Apply to”).", icon=":material/info:")
        else:
            st.markdown("**Tuned vs preset on the sets the values were applied to** (Table 3 layout)")
            widgets.table(applied, key="tune_applied", max_rows=None, column_config=tables.column_help(applied.columns))
            st.caption(f"Metrics in % as mean ± {res.STD_LABEL} over the n seeds of each row (— = one seed), gap to "
                       "Retrain in brackets. A gap that shrinks from preset to tuned was partly a tuning artefact.")

with st.expander("Tune a method", expanded=tun.empty):
    if pipe is None or setup_id != active_id:
        st.info("Tuning runs on the active setup: choose it under “Results of” above (or switch the active setup on "
                "Data & model).", icon=":material/info:")
    else:
        from unlearn_core.methods import get_method, method_names
        from unlearn_core.selectors import parse_selector
        from unlearn_core.tuning import TuneSpec, default_grid

        tdef = TuneSpec()
        tunable = [m for m in method_names() if not get_method(m).metadata()["exact"]]
        sample_wise = [x for x in common.COMMON_SELECTORS if not parse_selector(x).class_wise]
        t1, t2, t3, t4 = st.columns([1.2, 1.2, 0.8, 1.6])
        t_method = t1.selectbox("Method", tunable, key="tune_method", format_func=style.method_label)
        t_sel = t2.selectbox("Tune on", sample_wise, index=sample_wise.index(tdef.selector), key="tune_selector",
                             format_func=style.selector_label)
        t_ratio = t3.text_input("Forget ratio", value=f"{ratio:g}" if not isinstance(ratio, str) else f"{tdef.ratio:g}",
                                key="tune_ratio")
        t_seeds = t4.multiselect("Seeds", list(range(10)), default=[x for x in tdef.seeds if x < 10], key="tune_seeds",
                                 help="The objective is a mean over these seeds: three or more.")
        a1, a2 = st.columns([1.2, 2.8])
        t_apply = a1.multiselect("Apply to", sample_wise, default=[x for x in tdef.apply_to if x in sample_wise],
                                 key="tune_apply", format_func=style.selector_label)
        try:
            grid_hint = json.dumps(default_grid(t_method, pipe.ds))
        except ForgetsetError:
            grid_hint = '{"<hyperparameter>": [<values>]} — this method has no lr / epochs to tune by default'
        t_grid = a2.text_input("Grid (JSON; empty = the default around the preset)", key="tune_grid",
                               placeholder=grid_hint)
        spec = None
        try:
            from unlearn_core.config import parse_json_object, parse_ratio

            spec = TuneSpec(setup=common.setup(), method=t_method,
                            grid=parse_json_object(t_grid, "Grid") if t_grid.strip() else None, selector=t_sel,
                            ratio=parse_ratio(t_ratio), seeds=[int(x) for x in t_seeds],
                            apply_to=list(t_apply)).validate(pipe.ds).to_dict()
            est_text = dv.tuning_estimate(spec)
        except ForgetsetError as err:
            widgets.error(str(err))
            spec = None
        else:
            st.caption(f"Cost model (before anything runs): {md_escape(est_text)}. Cached runs cost nothing.")
        if st.button(f"Tune {style.method_label(t_method)}", key="tune_go", type="primary", disabled=spec is None,
                     icon=":material/tune:") and spec is not None:
            jid = job_widgets.submit("tune", spec)
            if jid:
                st.session_state["tune_job"] = jid
        job_widgets.watch_job(st.session_state.get("tune_job"), "tune", "Tuning stored: it is listed above.")

with st.expander("All runs of this setup"):
    widgets.table(tables.run_rows(df), key="cmp_all", max_rows=25)
    st.caption("Training recipe of this setup: " + md_escape(json.dumps(json.loads(df["train"].iloc[0]))))

with st.expander("MIA-efficacy per feature variant (Song & Mittal)"):
    # Every run computes the confidence variant (= MIA, what the papers report); the four others are computed on
    # demand from the runs' stored models (each is one more SVC fit) and then read like any stored metric.
    st.caption("MIA-efficacy with the SVC trained on other features of θ_u's outputs. Runs compute only the "
               "confidence variant (= MIA); the others are computed on request from each run's stored model and kept. "
               "CLI: `compare ... --mia-variants all`.")
    widgets.table(tables.mia_variant_rows(df), key="cmp_mia_variants", max_rows=25)
    mia_extra = metric_registry.on_demand_names()
    n_mia_missing, _ = readers.on_demand_todo(df["key"].tolist(), mia_extra)
    if n_mia_missing:
        mia_cfg = {"run_keys": df["key"].tolist(), "metrics": mia_extra}
        st.caption(f"{n_mia_missing} values not computed "
                   f"({md_escape(dv.estimate_text([('run_metrics', mia_cfg)]))})")
        job_widgets.job_button(st, f"Compute the {n_mia_missing} missing MIA variants", "run_metrics", mia_cfg,
                               "cmp_mia", icon=":material/calculate:",
                               help="A background job: each run's stored model, one SVC fit per missing variant; "
                                    "nothing is unlearned again and the runs' keys and stored numbers do not change.")
    job_widgets.watch_key("cmp_mia", "MIA variants stored.")
