"""Group composition of forget sets on a data set with a spurious attribute (Fan et al., Challenging Forgets, Fig. 4)."""
import streamlit as st

from dashboard import common, job_widgets, readers, widgets
from dashboard import analysis_readers as dv
from dashboard.captions import COMPOSITION_CAPTION
from dashboard.analysis_charts import composition_figure
from dashboard.safety import code_span, md_escape
from unlearn_core.analysis import composition
from unlearn_core.analysis.composition import stored_choices

common.page_guard()
st.title("Forget-set composition")
pipe = readers.require_pipeline()
seed = common.seed()

if not pipe.ds.attributes:
    st.warning(f"The active data set {code_span(pipe.dataset_name)} has no spurious attribute. This view needs one: "
               "`biased_digits` (offline) or `celeba` (when its files are present).", icon=":material/warning:")
    st.markdown(dv.BIASED_DIGITS_NOTE)
    c1, c2 = st.columns([1, 3])
    if c1.button("Switch to biased_digits", type="primary", key="comp_switch"):
        common.use_setup(common.setup().replace(dataset="biased_digits", model=None),
                         why="this view needs a data set with a spurious attribute")
        st.rerun()
    c2.page_link(common.PAGES["data"], label="Or choose a data set on **Data & model**", icon=":material/dataset:")
    st.stop()

if pipe.dataset_name == "biased_digits":
    st.info(dv.BIASED_DIGITS_NOTE, icon=":material/info:")
attrs = list(pipe.ds.attributes)

with st.expander("Compute composition", expanded=True):
    c1, c2, c3, c4 = st.columns([3, 1, 2, 2])
    selectors = c1.multiselect("Forget sets", ["worst", "easiest", "random"], default=["worst", "easiest", "random"],
                               key="comp_selectors")
    ratio = c2.selectbox("Ratio", [0.05, 0.1, 0.2], index=1, key="comp_ratio", format_func=lambda r: f"{r:.0%}")
    seeds = c3.multiselect("Seeds", [0, 1, 2], default=[seed], key="comp_seeds")
    attribute = c4.selectbox("Attribute", attrs, key="comp_attr")
    comp_cfg = {"setup": job_widgets.setup_config(), "selectors": selectors, "ratio": float(ratio),
                "seeds": sorted(int(s) for s in seeds), "attribute": attribute}
    if selectors and seeds:
        st.caption(md_escape(dv.estimate_text([("view_composition", comp_cfg)])))
    if st.button("Compute composition", type="primary", key="comp_go"):
        jid = job_widgets.submit("view_composition", comp_cfg)
        if jid:
            st.session_state["comp_job"] = jid
            st.rerun()
    job_widgets.watch_job(st.session_state.get("comp_job"), "comp", "Composition stored.")

result = composition(pipe, selectors, float(ratio), sorted(int(s) for s in seeds), attribute,
                     compute_if_missing=False) if selectors and seeds else None
if result is None:  # not stored for this choice: show the newest stored composition of this setup instead
    for choice in stored_choices(pipe):
        result = composition(pipe, compute_if_missing=False, **choice)
        if result is not None:
            st.caption(f"Showing the stored composition of {', '.join(choice['selectors'])} at "
                       f"{100 * choice['ratio']:g}% (seeds {', '.join(map(str, choice['seeds']))}); compute the "
                       f"current choice above.")
            break
if result is None:
    st.info("No stored composition for this choice yet: compute it above (the worst-case set needs a BLO run, "
            "which the job does on the way).", icon=":material/info:")
    st.stop()
table = result.table
fig = composition_figure(result)
fig.update_layout(margin=dict(l=10, r=10, t=70, b=10))
fig.update_yaxes(ticksuffix="%")
widgets.plot(fig, key="comp_fig")
st.caption(COMPOSITION_CAPTION)
maj = table[table["majority"]].groupby("set", sort=False)["percent"].sum()
st.markdown("**Share in the majority (bias-aligned) groups:** " + " · ".join(f"{k}: {v:.1f}%" for k, v in maj.items()))
with st.expander("Table (groups × sets, % of the set)"):
    w = result.wide("percent").round(1)
    widgets.table(w, key="comp_wide", hide_index=False, max_rows=None)
    st.download_button("Download (CSV: % of each set)", w.to_csv().encode(), file_name="composition.csv",
                       mime="text/csv", key="comp_dl")
