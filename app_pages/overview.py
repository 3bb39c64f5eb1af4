"""Overview: what worst-case forget sets are, one picture, and the guided teaching demo."""
import streamlit as st

from dashboard import charts, common
from unlearn_core import results as res
from unlearn_core.config import Setup
from unlearn_core.jobs import ACTIVE
from unlearn_core.jobs.demo import DEMO_DEFAULTS

common.page_guard()
st.title("Which training samples are hard to unlearn?")

INTRO = """
Machine **unlearning** removes the influence of a *forget set* of training samples from a trained model
without retraining it from scratch. Methods are usually judged on a **random** forget set. But some samples are
much harder to forget than others: the **worst-case forget set** (Fan et al., *Challenging Forgets*) is found by a bi-level optimisation
(BLO) that searches for the samples whose removal an unlearning step erases least — typically clean,
confidently learned, low-loss samples.

This dashboard trains an original model, scores every sample (loss, entropy, BLO weight and any other
registered score), builds random / worst-case / score-based forget sets, runs unlearning methods on them and
compares each method with the gold standard **Retrain** (train again without the forget set).
"""


def headline_figure():
    """Retrain on random vs worst-case sets from the most recent results, or None."""
    df = common.results()
    if df.empty:
        return None, ""
    setups = res.setups_in(df)
    d = res.results_for_setup(df, setups["setup_id"].iloc[0])
    d = d[(d["method"] == "retrain") & d["selector"].isin(["random", "worst"])]
    if d.empty or d["selector"].nunique() < 2:
        return None, ""
    r0 = 0.1 if (d["ratio"] == 0.1).any() else d["ratio"].dropna().iloc[0]
    agg = res.aggregate(d[d["ratio"] == r0])
    return charts.headline(agg), (f"**Your results** · {setups['setup'].iloc[0]} · {r0:.0%} forget set · "
                                  f"seeds {agg['seeds'].iloc[0]} · Retrain's unlearning accuracy (UA) and MIA "
                                  f"on the two kinds of set")


fig, caption = headline_figure()
if fig is not None:
    left, right = st.columns([1.05, 1])
    left.markdown(INTRO)
    with right:
        st.markdown(caption)
        st.plotly_chart(fig, key="overview_picture")
else:
    st.markdown(INTRO)
    st.markdown("**The pipeline** — each step is a page in the sidebar:")
    st.plotly_chart(charts.pipeline_schematic(), key="overview_picture")

st.divider()
st.subheader(":material/school: Teaching demo")
st.markdown(
    "One click runs the default digits pipeline as a background job (a few minutes on a laptop CPU; the first "
    "pictures appear after a few seconds) and then walks you through the result pages step by step. Results are "
    "cached: running it again is instant."
)
mgr = common.manager()
demo = common.latest_job("teaching_demo")
c1, c2, _ = st.columns([1.3, 1.3, 3])
running = demo is not None and demo["status"] in ACTIVE
if c1.button("Run the teaching demo", icon=":material/play_arrow:", type="primary", disabled=running, key="demo_start"):
    common.use_setup(Setup.from_dict(DEMO_DEFAULTS["setup"]), seed=0, why="the teaching demo runs on digits")
    jid = common.submit("teaching_demo", dict(DEMO_DEFAULTS))
    if jid:
        common.start_tour(jid)
        st.rerun()
if demo is not None and c2.button("Take the guided tour →", key="demo_tour"):
    common.use_setup(Setup.from_dict(DEMO_DEFAULTS["setup"]), seed=0, why="the tour shows the demo's digits results")
    common.start_tour(demo["id"])
    st.switch_page(common.PAGES["data"])


@st.fragment(run_every=common.POLL_S if running else None)
def demo_progress():
    job = common.latest_job("teaching_demo")
    if job is None:
        st.caption("Not run yet.")
        return
    common.job_card(job)
    icons = common.STATUS_ICON
    links = {"original": "data", "scores": "scores", "blo": "scores", "sets": "sets", "seed0": "compare",
             "seeds": "compare", "sweep": "compare"}
    for name, title, state in common.demo_stage_states(job):
        a, b = st.columns([5, 1.2])
        a.markdown(f"{icons.get(state, '•')} {title}")
        if state == "done":
            b.page_link(common.PAGES[links[name]], label="open →")
    if running and job["status"] not in ACTIVE:
        st.rerun()


demo_progress()

st.divider()
ICONS = {"data": ":material/dataset:", "scores": ":material/bar_chart:", "sets": ":material/target:",
         "experiments": ":material/science:", "compare": ":material/balance:", "runs": ":material/list_alt:"}
st.subheader("Pages")
cols = st.columns(2)
for i, (page, label, text) in enumerate([
    ("data", "Data & model", "choose the data set and model, train or import θ_o"),
    ("scores", "Scores", "per-sample loss, entropy, BLO weight (+ others), galleries"),
    ("sets", "Forget sets", "build sets with any selector and compare them"),
    ("experiments", "Experiments", "selectors × methods × ratios × seeds grids"),
    ("compare", "Compare", "Table 3: random vs worst case, gaps to Retrain, ratio sweep"),
    ("runs", "Runs", "every job: progress, log, cancel, re-run, export"),
]):
    with cols[i % 2]:
        st.page_link(common.PAGES[page], label=f"**{label}** — {text}", icon=ICONS[page])
