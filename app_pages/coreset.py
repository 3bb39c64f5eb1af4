"""Coreset curves (Fan et al., Challenging Forgets, Fig. 3): accuracy of models trained on what is left after removing a forget set."""
import streamlit as st

from dashboard import common, estimates, glossary, job_widgets, readers, widgets
from dashboard.captions import CORESET_CAPTION
from dashboard.analysis_charts import coreset_figure
from dashboard.safety import md_escape
from unlearn_core import results as res
from unlearn_core.analysis.coreset import default_strategies, stored_result
from unlearn_core.errors import ForgetsetError

common.page_guard()
st.title("Coreset curves")
pipe = readers.require_pipeline()
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
    try:
        cfg = {"setup": job_widgets.setup_config(), "strategies": strategies,
               "fractions": sorted(float(f) for f in fractions), "seeds": sorted(int(s) for s in seeds)}
        est = estimates.job_estimate("view_coreset", cfg) if fractions and seeds else None
        st.caption(f"{n} points ({len(strategies)} strategies × {len(fractions)} fractions × {len(seeds)} seeds), "
                   "each a model trained from scratch on the kept samples; the worst-case strategy needs a BLO run per "
                   "kept fraction and seed, EL2N / GraNd their scores per seed. Stored points are reused. "
                   + md_escape(estimates.job_text(est, estimates.estimate_correction())))
    except ForgetsetError as err:
        widgets.error(str(err))
    if st.button("Compute coreset curves", type="primary", key="cs_go"):
        jid = job_widgets.submit("view_coreset", {"setup": job_widgets.setup_config(), "strategies": strategies,
                                             "fractions": sorted(float(f) for f in fractions),
                                             "seeds": sorted(int(s) for s in seeds)})
        if jid:
            st.session_state["cs_job"] = jid
            st.rerun()
    job_widgets.watch_job(st.session_state.get("cs_job"), "cs", "Coreset curves stored.")

result = stored_result(pipe)
if result is None:
    st.info("No coreset curves for this setup yet: choose strategies, fractions and seeds above and compute them.",
            icon=":material/info:")
    st.stop()
points = result.points
fig = coreset_figure(result)
fig.update_layout(height=460, margin=dict(l=10, r=10, t=70, b=10))
fig.update_yaxes(ticksuffix="%")
fig.update_xaxes(ticksuffix="%")
widgets.plot(fig, key="cs_fig")
st.caption(CORESET_CAPTION.replace("(Fan et al., Challenging Forgets, Fig. 3)", f"({glossary.PAPERS['fan']}, Fig. 3)"))
nmin, nmax = int(result.summary["n_seeds"].min()), int(result.summary["n_seeds"].max())
st.caption(f"Every stored point of this setup (also those of a cancelled run): seeds "
           f"{', '.join(map(str, sorted(points['seed'].unique())))}; n = {nmin if nmin == nmax else f'{nmin}–{nmax}'} "
           f"seeds per point; bands = ± {res.STD_LABEL}, none where n = 1.")
with st.expander("Numbers"):
    summ = result.summary.copy()
    summ["test_acc_std"] = summ["test_acc_std"].where(summ["n_seeds"] > 1)
    widgets.table(summ, key="cs_summary", max_rows=None,
                 column_config={"test_acc_mean": st.column_config.NumberColumn("test acc mean (%)", format="%.2f"),
                                "test_acc_std": st.column_config.NumberColumn("test acc std (%)", format="%.2f",
                                                                              help=glossary.GLOSSARY["std"]),
                                "n_seeds": st.column_config.NumberColumn("n", help=glossary.GLOSSARY["n"]),
                                "kept_fraction": st.column_config.NumberColumn("kept fraction", format="%.2f")})
    st.download_button("Download the curve (CSV: numbers)", summ.to_csv(index=False).encode(),
                       file_name="coreset_summary.csv", mime="text/csv", key="cs_dl")
    widgets.table(points, key="cs_points", max_rows=20)
