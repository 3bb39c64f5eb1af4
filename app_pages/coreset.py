"""Coreset curves (Fan et al., Challenging Forgets, Fig. 3): accuracy of models trained on what is left after removing a forget set."""
import streamlit as st

from dashboard import common
from dashboard.charts import CORESET_CAPTION, coreset_figure
from unlearn_core.analysis.coreset import default_strategies, stored_result

common.page_guard()
st.title("Coreset curves")
pipe = common.require_pipeline()
seed = common.seed()
st.caption("Is the complement of the worst-case forget set a good coreset? Each point trains a fresh model on the "
           "kept fraction of the training set (the original recipe). Runs as a background job; every point is cached.")

with st.expander("Compute coreset curves", expanded=True):
    c1, c2, c3 = st.columns([3, 2, 2])
    strategies = c1.multiselect("Strategies", sorted(set(default_strategies()) | {"worst", "random", "easiest"}),
                                default=default_strategies(), key="cs_strategies",
                                help="worst = remove the worst-case (BLO) set; random = remove a random set; "
                                     "el2n / grand = keep the highest-scoring samples (Paul et al.).")
    fractions = c2.multiselect("Kept fractions", [0.5, 0.6, 0.7, 0.8, 0.9, 0.95], default=[0.5, 0.7, 0.9],
                               key="cs_fractions", format_func=lambda f: f"{f:.0%}")
    seeds = c3.multiselect("Seeds", [0, 1, 2, 3, 4], default=[0, 1], key="cs_seeds")
    n = len(strategies) * len(fractions) * len(seeds)
    st.caption(f"{n} coreset models to train (cached points are reused) + the full-data model per seed.")
    if st.button("Compute coreset curves", type="primary", key="cs_go"):
        jid = common.submit("view_coreset", {"setup": common.setup_config(), "strategies": strategies,
                                             "fractions": sorted(float(f) for f in fractions),
                                             "seeds": sorted(int(s) for s in seeds)})
        if jid:
            st.session_state["cs_job"] = jid
            st.rerun()
    common.watch_job(st.session_state.get("cs_job"), "cs", "Coreset curves stored.")

result = stored_result(pipe)
if result is None:
    st.info("No coreset curves for this setup yet: choose strategies, fractions and seeds above and compute them.",
            icon=":material/info:")
    st.stop()
points = result.points
st.plotly_chart(coreset_figure(result), key="cs_fig")
st.caption(CORESET_CAPTION)
st.caption(f"Every stored point of this setup: seeds {', '.join(map(str, sorted(points['seed'].unique())))}; "
           f"bands = ± sample std over seeds.")
with st.expander("Numbers"):
    st.dataframe(result.summary, hide_index=True, key="cs_summary",
                 column_config={"test_acc_mean": st.column_config.NumberColumn(format="%.2f"),
                                "test_acc_std": st.column_config.NumberColumn(format="%.2f")})
    st.dataframe(points, hide_index=True, key="cs_points")
