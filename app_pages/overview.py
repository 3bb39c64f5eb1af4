"""Overview: what worst-case forget sets are, one picture, the guided teaching demo and the reproduction report."""
import time

import streamlit as st
import streamlit.components.v1 as components

from dashboard import charts, common, glossary, job_widgets, progress, readers, report, style, tour, widgets
from dashboard.safety import code_span, md_escape
from unlearn_core import results as res
from unlearn_core.config import Setup
from unlearn_core.jobs import ACTIVE

common.page_guard()
st.title("Which training samples are hard to unlearn?")

INTRO = f"""
Machine **unlearning** removes the influence of a *forget set* of training samples from a trained model
without retraining it from scratch. Methods are usually judged on a **random** forget set. But some samples are
much harder to forget than others: the **worst-case forget set** ({glossary.PAPERS["fan"]}) is found by a bi-level
optimisation (**BLO**) that searches for the samples whose removal an unlearning step erases least — typically
clean, confidently learned, low-loss samples.

This dashboard trains an original model, scores every sample (loss, entropy, BLO weight and any other
registered score), builds random / worst-case / score-based forget sets, runs unlearning methods on them and
compares each method with the gold standard **Retrain** (train again without the forget set).
"""


def headline_figure():
    """Retrain on random vs worst-case sets from the most recent results, or None."""
    df = readers.results()
    if df.empty:
        return None, ""
    setups = res.setups_in(df)
    d = res.results_for_setup(df, setups["setup_id"].iloc[0])
    d = d[(d["method"] == "retrain") & d["selector"].isin(["random", "worst"])]
    if d.empty or d["selector"].nunique() < 2:
        return None, ""
    r0 = 0.1 if (d["ratio"] == 0.1).any() else d["ratio"].dropna().iloc[0]
    agg = res.aggregate(d[d["ratio"] == r0])
    ns = ", ".join(f"{style.selector_label(s)} n = {n}" for s, n in zip(agg["selector"], agg["n"]))
    return charts.headline(agg), (f"**Your results** · {md_escape(setups['setup'].iloc[0])} · {r0:.0%} forget set · "
                                  f"{ns} seed(s) · Retrain's unlearning accuracy (UA) and MIA on the two kinds of "
                                  f"set (mean ± sample std; no bar whisker when n = 1)")


fig, caption = headline_figure()
if fig is not None:
    left, right = st.columns([1.05, 1])
    left.markdown(INTRO)
    with right:
        st.markdown(caption)
        widgets.plot(fig, key="overview_picture")
else:
    st.markdown(INTRO)
    st.markdown("**The pipeline** — each step is a page in the sidebar:")
    widgets.plot(charts.pipeline_schematic(), key="overview_picture")

with st.expander("What the abbreviations mean"):
    st.markdown(glossary.glossary_markdown())
    st.caption("Papers: " + glossary.PAPERS["fan"] + "; " + glossary.PAPERS["chen"] + ".")
    st.page_link(common.PAGES["glossary"], label="Every term with its formula and paper: **Glossary**",
                 icon=":material/menu_book:")

st.divider()
st.subheader(":material/school: Teaching demo")
variant = tour.demo_variant()
cfg = tour.demo_config(variant)
rows0, total0, src0 = tour.demo_timeline(None, cfg)
demo_setup = Setup.from_dict(cfg["setup"])
seeds_txt = (f"seed {cfg['seeds'][0]}" if len(cfg["seeds"]) == 1
             else f"seeds {', '.join(map(str, cfg['seeds']))}")
first_cmp = sum(r.left_s or 0 for r in rows0 if r.name == "seed0")
st.markdown(
    "One click runs the default digits pipeline as a background job and then walks you through the result pages "
    "step by step: θ_o → loss, entropy and BLO → random / worst-case / easiest sets → "
    f"{', '.join(style.method_label(m) for m in cfg['methods'])} on random vs worst-case sets ({seeds_txt}) → ratio "
    f"sweep ({', '.join(style.ratio_label(r) for r in sorted([cfg['ratio'], *cfg['sweep_ratios']]))}). Each page "
    + (f"unlocks as its stage lands: the first Compare table after about {progress.fmt_duration(first_cmp)}, all of "
       f"it after about {progress.fmt_duration(total0)} ({src0}). Results are cached: running it again is instant."
       if total0 and total0 >= 1 else "unlocks as its stage lands. Everything it computes is already stored: it "
       "finishes in seconds."))
if variant != "full":
    st.caption(f"Variant from the address bar: **{tour.DEMO_VARIANTS[variant]['title']}**.")
if demo_setup != common.setup():
    st.caption(f"Starting it switches your active setup to {md_escape(common.setup_name(demo_setup))} (you will be "
               "told; change it back on Data & model).")
mgr = common.manager()
demo = tour.demo_job()
running = demo is not None and demo["status"] in ACTIVE
c1, c2, c3, _ = st.columns([1.3, 1.3, 1, 2])
if c1.button("Run the teaching demo", icon=":material/play_arrow:", type="primary", disabled=running, key="demo_start"):
    common.use_setup(demo_setup, seed=cfg["seeds"][0], why="the teaching demo runs on digits")
    jid = job_widgets.submit("teaching_demo", cfg)
    if jid:
        tour.start_tour(jid)
        st.session_state["_demo_t0"] = time.time()
        st.rerun()
if demo is not None and c2.button("Take the guided tour →", key="demo_tour"):
    common.use_setup(Setup.from_dict((demo.get("config") or {}).get("setup") or cfg["setup"]),
                     seed=((demo.get("config") or {}).get("seeds") or [0])[0],
                     why="the tour shows the demo's digits results")
    tour.start_tour(demo["id"])
    st.switch_page(common.PAGES["data"])


@st.fragment(run_every=job_widgets.POLL_S if running else None)
def demo_progress():
    job = tour.demo_job()
    if job is None:
        st.caption(f"Not run yet. Expected: about {progress.fmt_duration(total0)} in all ({src0}).")
        rows, left, src = rows0, total0, src0
    else:
        job_widgets.job_card(job, eta=False)  # the stage list below says what is left
        rows, left, src = tour.demo_timeline(job)
        if job["status"] in ACTIVE:
            a, b = st.columns([1, 4])
            if a.button("Cancel the demo", key="demo_cancel", icon=":material/stop:"):
                mgr.cancel(job["id"])
                st.rerun(scope="fragment")
            b.caption(f"About {progress.fmt_duration(left)} left ({src}). Finished stages stay stored; you can "
                      "look at them while the rest runs." if left else "Finished stages stay stored.")
    icons = job_widgets.STATUS_ICON
    est_stage = tour.demo_stage_estimate({**tour.DEMO_DEFAULTS, **((job or {}).get("config") or cfg)}, job,
                                           corrected=job is None or job["status"] != "done")
    if job is not None and job["status"] == "done":
        took_all = (job["finished"] or 0) - (job["started"] or 0)
        planned = sum(est_stage.values())  # the job's own estimate, made before it started
        st.markdown(f"**Estimate vs actual:** the whole demo took **{progress.fmt_duration(took_all)}**; the cost "
                    f"model had said **{progress.fmt_duration(planned)}** before it started (actual / estimate "
                    f"{took_all / planned:.2f})." if planned > 0 else
                    f"**Took** {progress.fmt_duration(took_all)} (everything was already stored).")
    for r in rows:
        a, b, c = st.columns([5, 1.6, 1.2])
        a.markdown(f"{icons.get(r.state, '•')} {md_escape(r.title)}")
        if r.state == "done":
            b.caption((("took < 1 s" if r.took_s < 1 else f"took {progress.fmt_duration(r.took_s)}")
                       if r.took_s is not None else "done")
                      + (f" · est. {progress.fmt_duration(est_stage[r.name])}" if est_stage.get(r.name, 0) >= 1
                         else ""))
            c.page_link(common.PAGES[tour.STAGE_PAGE[r.name]], label="open →")
        elif r.state == "running":
            b.caption(f"{100 * r.fraction:.0f}% · ~{progress.fmt_duration(r.left_s)} left" if r.left_s else "running")
        elif r.state == "pending":
            b.caption(f"ready in ~{progress.fmt_duration(r.left_s)}" if r.left_s else "pending")
        else:
            b.caption(r.state)
    # when the demo ends, the sidebar's job list redraws the page (no second app rerun from here)


demo_progress()

# ------------------------------------------------------------------ reproduction report
st.divider()
st.subheader(":material/description: Reproduction report")
rep = report.latest_report(common.cache_root())
if rep is None:
    st.markdown("No report yet. `python -m unlearn_core reproduce` checks the papers' headline findings on this "
                "machine: it runs the experiments they need (reusing everything already cached) and writes "
                "`report.html`, `report.md` and `summary.json` into `cache/reports/<time>-<data set>/`. From a "
                "terminal in this folder:")
    st.code("python -m unlearn_core reproduce", language="bash")
    st.caption("See `python -m unlearn_core reproduce --help` for its options (data set, seeds, ratio, which "
               f"findings). The newest report under {code_span(common.cache_root() + '/reports')} is shown here.")
else:
    folder = rep.parent
    summary = report.read_summary(folder)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rep.stat().st_mtime))
    st.markdown(f"Newest report: **{md_escape(folder.name)}** · written {when} · {code_span(str(folder))}")
    if summary is None:
        st.caption("This report has no readable summary.json (written by hand or by an older version), so its "
                   "verdicts are not listed here: open the report.")
    else:
        verdicts = report.verdict_frame(summary)
        seeds = summary.get("seeds") or []
        st.markdown(f"**Verdicts:** {md_escape(report.verdict_counts(verdicts))} — computed from the numbers "
                    f"(seed-paired differences with 95% t-intervals over {len(seeds)} seed{'s' if len(seeds) != 1 else ''}: "
                    "*holds* / *partly holds* / *does not hold* as all / some / none of a finding's comparisons are "
                    "clear of zero in the paper's direction; *inconclusive* with fewer than 3 seeds)"
                    + (f" · wall time {progress.fmt_duration(float(summary['wall_s']))}"
                       if isinstance(summary.get("wall_s"), (int, float)) else ""))
        # an HTML table: long findings and reasons wrap instead of being cut ("inconclusiv", issue 22 item 5)
        vt = verdicts.rename(columns={"finding": "#", "title": "finding", "why": "why (the rule applied to the numbers)",
                                      "source": "paper"})
        st.table(vt.style.hide(axis="index").apply(
            lambda col: [f"color: {report.VERDICT_COLOR.get(report.verdict_kind(v), '#57606a')}; font-weight: bold" for v in col],
            subset=["verdict"]))
    with st.expander("Open report.html here", icon=":material/open_in_new:"):
        # the report is this project's own self-contained page (figures and Plotly inlined): shown in a sandboxed
        # frame, so it opens without a download
        components.html(rep.read_text(errors="replace"), height=900, scrolling=True)
    cols = st.columns(3)
    cols[0].download_button("Download report.html", rep.read_bytes(), file_name=f"{folder.name}-report.html",
                            mime="text/html", key="rep_html", icon=":material/download:",
                            help="A self-contained page with a figure per finding: opens offline in any browser.")
    md_path = folder / "report.md"
    if md_path.is_file():
        md = md_path.read_text(errors="replace")
        cols[1].download_button("Download report.md", md.encode(), file_name=f"{folder.name}-report.md",
                                mime="text/markdown", key="rep_md", icon=":material/download:")
        with st.expander("Read the report here"):
            # the report is written by this project; still, no remote images or raw HTML from it reach the browser
            st.markdown(md.replace("![", "!\\[").replace("<", "&lt;"))
    st.caption("Make a new one with `python -m unlearn_core reproduce`.")

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
    ("compare", "Compare", "methods vs Retrain on random and worst-case sets, ratio sweep"),
    ("runs", "Runs", "every job: progress, log, cancel, re-run, export"),
]):
    with cols[i % 2]:
        st.page_link(common.PAGES[page], label=f"**{label}** — {text}", icon=ICONS[page])
