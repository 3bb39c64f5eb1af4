"""Compare: Table 3 of Fan et al. (Challenging Forgets) (random vs worst case, gaps to Retrain), gap heatmap, ratio sweep, CSV."""
import json

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, common, tables
from unlearn_core import results as res

common.page_guard()
st.title("Compare unlearning methods")
common.tour_banner("compare")

df_all = common.results()
if df_all.empty:
    st.info("No finished unlearning runs yet. Launch a grid on **Experiments** or run the teaching demo on the "
            "Overview page.", icon=":material/info:")
    st.page_link(common.PAGES["experiments"], label="Go to **Experiments**", icon=":material/science:")
    st.stop()

# ------------------------------------------------------------------ which results
setups = res.setups_in(df_all)
pipe, _ = common.pipeline()
active_id = pipe.setup_key if pipe is not None else None
ids = list(setups["setup_id"])
labels = {r.setup_id: f"{r.setup} · {r.n_runs} runs" + (" (active setup)" if r.setup_id == active_id else "")
          for r in setups.itertuples()}
c1, c2, c3 = st.columns([3, 1, 2])
setup_id = c1.selectbox("Results of", ids, index=ids.index(active_id) if active_id in ids else 0,
                        format_func=labels.get, key="cmp_setup")
df = res.results_for_setup(df_all, setup_id)
ratios = sorted(df["ratio"].dropna().unique().tolist())
has_classwise = df["ratio"].isna().any()
ratio_opts = ratios + (["class-wise"] if has_classwise else [])
ratio = c2.selectbox("Forget ratio", ratio_opts, index=ratio_opts.index(0.1) if 0.1 in ratio_opts else 0,
                     format_func=lambda r: r if isinstance(r, str) else f"{r:.0%}" if r >= 0.01 else f"{r:.1%}",
                     key="cmp_ratio")
d_ratio = df[df["ratio"].isna()] if ratio == "class-wise" else df[np.isclose(df["ratio"].astype(float), float(ratio))]
sels_here = list(dict.fromkeys(d_ratio["selector"]))
pref = [s for s in ("random", "worst") if s in sels_here]
selectors = c3.multiselect("Selectors (columns)", sels_here, default=pref or sels_here[:2], key="cmp_selectors")
if not selectors:
    st.warning("Choose at least one selector.")
    st.stop()

# ------------------------------------------------------------------ Table 3
st.subheader("Table 3 view")
layout = st.segmented_control("Layout", ["one row per selector × method", "selectors side by side"],
                              default="one row per selector × method", key="cmp_layout",
                              label_visibility="collapsed")
wide = layout == "selectors side by side"
disp, gaps = (tables.table3_wide if wide else tables.table3_stacked)(d_ratio, selectors)
if disp.empty:
    st.warning("No runs for this choice.")
    st.stop()
all_seeds = sorted(d_ratio[d_ratio["selector"].isin(selectors)]["seed"].unique().tolist())
st.caption(f"{labels[setup_id].split(' · ')[0]} · forget ratio {ratio if isinstance(ratio, str) else f'{ratio:g}'} · "
           f"metrics in % as mean ± {res.STD_LABEL} (n per row; '—' = one seed, no spread) with the gap to Retrain "
           f"in brackets (|mean − Retrain's mean over the same seeds|, Fan et al. Table 3) · MIA = confidence-feature "
           f"SVC efficacy · darker red = larger gap. "
           f"Select a row for its seeds and exact configuration.")
gvals = gaps.to_numpy(dtype=float)
gmax = float(np.nanmax(gvals)) if np.isfinite(gvals).any() else 1.0


def _colors(_):
    out = pd.DataFrame("", index=disp.index, columns=disp.columns)
    for c in gaps.columns:
        for i in gaps.index:
            g = gaps.at[i, c]
            if g == g and g > 0:
                out.at[i, c] = f"background-color: rgba(228,87,86,{0.08 + 0.55 * min(1.0, g / max(gmax, 1e-9)):.2f})"
    retrain = (disp.index == "retrain") if wide else (disp["method"] == "retrain").to_numpy()
    out.loc[retrain] = "font-weight: bold; background-color: #eef3fb"
    return out


ev = st.dataframe(disp.style.apply(_colors, axis=None), key=f"cmp_table_{int(wide)}", on_select="rerun",
                  selection_mode="single-row", hide_index=not wide)
sel_rows = ev.selection.rows
if sel_rows:
    r = sel_rows[0]
    method = disp.index[r] if wide else disp["method"].iloc[r]
    sel_here = selectors if wide else [disp.attrs["selectors"][r]]
    runs = d_ratio[(d_ratio["method"] == method) & d_ratio["selector"].isin(sel_here)]
    with st.container(border=True):
        st.markdown(f"**{method}** on {' / '.join(sel_here)} — {len(runs)} runs (seeds "
                    f"{', '.join(map(str, sorted(runs['seed'].unique())))})")
        show = ["selector", "seed", "UA", "MIA", "RA", "TA", "gap_UA", "gap_MIA", "gap_RA", "gap_TA", "avg_gap", "ToW",
                "runtime_s", "forget_size", "key"]
        st.dataframe(runs[[c for c in show if c in runs]].sort_values(["selector", "seed"]), hide_index=True,
                     key="cmp_runs")
        cfgs = res.run_configs(common.store(), runs["key"].tolist()[:1])
        if cfgs:
            st.markdown("Exact configuration (first run; the others differ only in selector / seed):")
            st.json(cfgs[0]["config"], expanded=False)

c1, c2 = st.columns(2)
c1.download_button("Download this table (CSV: mean, std, n, gap columns)",
                   res.table3_csv(res.table3(d_ratio, selectors)).encode(), file_name="table3.csv", mime="text/csv",
                   key="dl_table")
cols_out = [c for c in df.columns if c not in ("finished",)]
c2.download_button("Download every run of this setup (CSV)", df[cols_out].to_csv(index=False).encode(),
                   file_name="runs.csv", mime="text/csv", key="dl_runs")

# ------------------------------------------------------------------ gap heatmap
st.subheader("Gap to Retrain · method × metric")
gl = res.gap_long(d_ratio[d_ratio["selector"].isin(selectors)], None)
if gl.empty:
    st.info("Only Retrain has run here, so there are no gaps to show.")
else:
    st.plotly_chart(charts.gap_heatmap(gl, res.method_order(gl["method"].unique())), key="cmp_heatmap")
    st.caption(f"|mean − Retrain's mean| per metric over seeds {', '.join(map(str, all_seeds))} (Fan et al. Table 3).")

# ------------------------------------------------------------------ ratio sweep
st.subheader("Ratio sweep")
sweep = res.sweep_frame(df[df["selector"].isin(selectors)])
if sweep.empty or sweep["ratio"].nunique() < 2:
    st.info("Run the grid with two or more forget ratios (Experiments page) to see metrics against the ratio. "
            "The teaching demo runs 5%, 10% and 20%.")
else:
    c1, c2 = st.columns([1, 3])
    metric = c1.selectbox("Metric", ["UA", "MIA", "RA", "TA", "ToW"], key="cmp_metric",
                          help="\n".join(f"{k}: {v}" for k, v in res.METRIC_HELP.items()))
    ms = res.method_order(sweep["method"].unique())
    methods = c2.multiselect("Methods", ms, default=ms[:5], key="cmp_sweep_methods")
    ev2 = st.plotly_chart(charts.ratio_sweep(sweep, metric, methods), key="cmp_sweep", on_select="rerun",
                          selection_mode="points")
    st.caption(f"Bands = ±1 std over seeds (shown on hover). Seeds per point: "
               f"{', '.join(sorted(set(sweep['seeds'].astype(str))))}. Click a point for its runs.")
    pts = [cd for cd in common.selected_points(ev2) if len(cd) >= 3]
    if pts:
        m, sel, r = pts[0][:3]
        runs = df[(df["method"] == m) & (df["selector"] == sel) & np.isclose(df["ratio"].astype(float), float(r))]
        st.markdown(f"**{m} · {sel} · {float(r):.0%}** — runs per seed")
        st.dataframe(runs[["seed", "UA", "MIA", "RA", "TA", "gap_UA", "gap_MIA", "ToW", "runtime_s", "params", "key"]],
                     hide_index=True, key="cmp_sweep_runs")

with st.expander("All runs of this setup"):
    st.dataframe(df[[c for c in ["selector", "method", "ratio", "seed", "UA", "MIA", "RA", "TA", "avg_gap", "ToW",
                                 "runtime_s", "params", "blo", "train", "key"] if c in df]],
                 hide_index=True, key="cmp_all")
    st.caption("Training recipe of this setup: " + json.dumps(json.loads(df["train"].iloc[0])))
