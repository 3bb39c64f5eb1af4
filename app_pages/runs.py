"""Runs: every job with status, progress, timings, configuration and log; cancel, re-run, delete, export."""
import json
import time

import pandas as pd
import streamlit as st

from dashboard import common, forms, job_widgets, progress, readers, style, tables, tour, widgets
from dashboard.safety import code_span, md_escape
from unlearn_core import results as res
from unlearn_core.errors import ForgetsetError
from unlearn_core.jobs import ACTIVE, get_job_kind

common.page_guard()
st.title("Runs")
tour.tour_banner("runs")
mgr = common.manager()
slots = mgr.slots()
st.caption(f"Executor: {slots['executor']} · GPU slots: {', '.join(slots['gpu_slots']) or 'none (CPU only)'} · "
           f"CPU slots: {slots['cpu_slots']} (jobs beyond that wait in a queue) · cache: {code_span(mgr.store.root)}")


KIND_NAMES = {"original": "original models θ_o", "predictions": "θ_o's predictions", "score": "scores",
              "forget_set": "forget sets", "unlearn": "unlearning runs", "view_coreset_point": "coreset models",
              "view_embedding": "embeddings (PCA / UMAP)", "view_composition": "compositions"}


def kind_title(kind: str) -> str:
    try:
        return get_job_kind(kind).title
    except ForgetsetError:
        return kind


def _estimate_of(j: dict) -> dict:
    return j.get("estimate") or (j.get("result") or {}).get("estimate") or {}


def _estimate_cell(j: dict) -> str:
    """The cost model's estimate made when the job started (unlearn_core.jobs.estimate), '—' for kinds it does
    not model."""
    e = _estimate_of(j).get("total_s")
    return "—" if not isinstance(e, (int, float)) else ("< 1 s" if e < 1 else progress.fmt_duration(e))


def _ratio_cell(j: dict) -> float | None:
    e, a = _estimate_of(j).get("total_s"), (j.get("result") or {}).get("actual_s")
    return float(a) / float(e) if isinstance(e, (int, float)) and isinstance(a, (int, float)) and e > 0 else None


def jobs_frame(jobs: list[dict]) -> pd.DataFrame:
    now = time.time()
    return pd.DataFrame([{
        "status": job_widgets.STATUS_TEXT.get(j["status"], j["status"]),
        "job": j["label"], "progress": float(j["progress"] or 0),
        "now": (job_widgets.queue_text(j) if j["status"] == "queued" else (j["message"] or ""))[:100],
        "created": pd.to_datetime(j["created"], unit="s"),
        "took": progress.fmt_duration((j["finished"] or now) - j["started"]) if j["started"] else "—",
        "estimate": _estimate_cell(j),
        "actual / estimate": _ratio_cell(j),
        "error": (j["error"] or "")[:160] or "—"} for j in jobs])


active = mgr.has_active()


@st.fragment(run_every=job_widgets.POLL_S if active else None)
def job_list():
    jobs = mgr.list_jobs(limit=500)
    if not jobs:
        st.info("No jobs yet. Start one from Data & model, Scores, Forget sets, Experiments or the Overview demo.")
        return
    df = jobs_frame(jobs)
    df = df.drop(columns="created")  # the time is in "Job details" below: the room goes to the job's name
    if (df["error"] == "—").all():  # no failed job: the column would only take the width the job names need
        df = df.drop(columns="error")
    widgets.table(df, key="runs_live", max_rows=15,
                 column_config={"status": st.column_config.TextColumn("status", width="small"),
                                # widths in pixels that add up to the 1400 px layout's ~930 px (issue 22: nothing
                                # cut): the job's name (kind · data set · model · epochs · BLO) gets the room
                                "job": st.column_config.TextColumn("job", width=500),
                                "progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=1,
                                                                            width="small"),
                                "now": st.column_config.TextColumn("now", width=70,
                                                                   help="The running job's current step, or a "
                                                                        "queued job's place and why it waits."),
                                "created": st.column_config.DatetimeColumn("created", format="HH:mm:ss",
                                                                           width="small"),
                                "took": st.column_config.TextColumn("took", width=55),
                "estimate": st.column_config.TextColumn(
                    "estimate", width=65, help="The cost model's estimate when the job started (the same the CLI prints for "
                                     "a grid; calibrated on this device)."),
                "actual / estimate": st.column_config.NumberColumn(
                    "act./est.", width=70, format="%.2f", help="actual / estimate: actual time of the job's work over its estimate "
                                                            "(1 = exact; > 1 = it took longer)."),
                                "error": st.column_config.TextColumn("error", width="small")})
    # when the last job ends the sidebar's job list redraws the page


st.subheader("Jobs")
job_list()

jobs = mgr.list_jobs(limit=500)
if not jobs:
    st.stop()
ids = [j["id"] for j in jobs]
labels = {j["id"]: f"{job_widgets.STATUS_TEXT.get(j['status'], j['status'])} · {j['label']} · {j['created'] and time.strftime('%H:%M:%S', time.localtime(j['created']))}" for j in jobs}
if "runs_pick_next" in st.session_state:
    st.session_state["runs_pick"] = st.session_state.pop("runs_pick_next")
if st.session_state.get("runs_pick") not in ids:
    st.session_state["runs_pick"] = ids[0]
sel = st.selectbox("Job details", ids, format_func=labels.get, key="runs_pick")
job = mgr.get(sel)


@st.fragment(run_every=job_widgets.POLL_S if job and job["status"] in ACTIVE else None)
def job_details(job_id: str):
    j = mgr.get(job_id)
    if j is None:
        st.warning("This job was deleted.")
        return
    job_widgets.job_card(j)
    def hms(t):
        return time.strftime("%H:%M:%S", time.localtime(t)) if t else "–"

    took = f"{((j['finished'] or time.time()) - j['started']):.1f}s" if j["started"] else "–"
    est = _estimate_of(j)
    if est:
        from unlearn_core.jobs.estimate import describe

        act = (j.get("result") or {}).get("actual_s")
        st.caption("**Estimate vs actual:** " + md_escape(describe(est, act) if act is not None else
                                                          f"estimate {est.get('summary', '')}")
                   + (" · per stage: " + md_escape(", ".join(f"{k} {progress.fmt_duration(v)}" for k, v in
                                                            est["stages"].items() if v > 0))
                      if est.get("stages") else ""))
    st.markdown(f"**Progress** {100 * (j['progress'] or 0):.0f}% · **queued** {hms(j['created'])} · **started** "
                f"{hms(j['started'])} · **finished** {hms(j['finished'])} · **took** {took} · **slot** "
                f"{code_span(j.get('slot') or '–')} · **kind** {md_escape(kind_title(j['kind']))} · **id** "
                f"{code_span(j['id'])}")
    ex_fields: dict | None = {}
    if j["kind"] == "experiment":
        cfg = j["config"] or {}
        ran = (j.get("result") or {}).get("executor") or cfg.get("executor") or "local"
        st.caption(f"Units run {job_widgets.EXECUTOR_NAMES.get(ran, md_escape(str(ran)))}"
                   + (f" (Ray address {code_span(str(cfg['ray_address']))})" if cfg.get("ray_address") else "")
                   + ("." if j["status"] in ACTIVE else "; a re-run can use the other executor:"))
        if j["status"] not in ACTIVE:
            ex_fields = job_widgets.executor_choice(f"runs_{job_id}", current=cfg)
    b = st.columns([1, 1, 1, 1.3, 3])
    if j["status"] in ACTIVE:
        if b[0].button("Cancel", key=f"cancel_{job_id}", type="primary"):
            mgr.cancel(job_id)
            st.rerun(scope="fragment")
    else:
        if b[0].button("Re-run", key=f"rerun_{job_id}", type="primary", disabled=ex_fields is None):
            try:
                if j["kind"] == "experiment":
                    new = mgr.submit("experiment", forms.with_executor(j["config"] or {}, ex_fields), j["label"],
                                     rerun_of=job_id)
                else:
                    new = mgr.rerun(job_id)
            except ForgetsetError as err:
                widgets.error(str(err))
            else:
                st.session_state["runs_pick_next"] = new
                st.session_state["_flash"] = f"Re-running as {new}"
                st.rerun(scope="app")
        if b[1].button("Delete", key=f"delete_{job_id}"):
            try:
                mgr.delete(job_id)
            except ForgetsetError as err:
                widgets.error(str(err))
            else:
                st.session_state["_flash"] = "Job record deleted (its stored results are kept)."
                st.rerun(scope="app")
    b[2].download_button("Export", json.dumps(mgr.export(job_id), indent=2, default=str).encode(),
                         file_name=f"job-{job_id}.json", mime="application/json", key=f"export_{job_id}")
    if j.get("rerun_of"):
        b[3].caption(f"re-run of {j['rerun_of']}")
    t1, t2, t3 = st.tabs(["Log", "Configuration", "Result"])
    with t1:
        st.code("\n".join(j.get("log", [])[-300:]) or "(empty)", language=None, height=320)
    with t2:
        st.json(j["config"], expanded=True)
    with t3:
        result_tab(j)


def result_tab(j: dict) -> None:
    """What the job produced. An experiment: its results as a table (mean ± std, n, gap per method and forget
    set), read from the store by the run keys the job recorded, with a numeric CSV; other jobs: their receipt."""
    result = j.get("result") or {}
    keys = result.get("run_keys") or []
    if j["kind"] == "experiment" and keys:
        df = readers.results()
        runs = df[df["key"].isin(keys)] if not df.empty else df
        if runs.empty:
            st.info("The results of this experiment are no longer in the store.")
        else:
            d = res.results_for_setup(df, runs["setup_id"].iloc[0])
            d = d[d["key"].isin(keys)]
            t3 = res.table3(d)
            disp = pd.DataFrame({"forget set": [style.selector_label(s) for s in t3["selector"]],
                                 "ratio": [style.ratio_label(r) for r in t3["ratio"]],
                                 "method": [style.method_label(m) for m in t3["method"]]})
            for m in res.METRICS:
                disp[m] = [res.fmt_mean_std(a, s_, n) + ("" if g != g else f" ({g:.2f})") for a, s_, n, g in
                           zip(t3[f"{m}_mean"], t3[f"{m}_std"], t3["n"], t3[f"gap_{m}"])]
            disp["Avg. gap"] = t3["avg_gap"].map(lambda v: "—" if v != v else f"{v:.2f}")
            disp["n"] = t3["n"].astype(int)
            disp["seeds"] = t3["seeds"].astype(str).str.replace(",", ", ")
            st.caption(f"{len(d)} runs of this experiment · metrics in % as mean ± {res.STD_LABEL} (gap to Retrain) "
                       "· '—' = one seed.")
            widgets.table(disp, key=f"exp_summary_{j['id']}", max_rows=None,
                         column_config=tables.column_help(disp.columns))
            st.download_button("Download the experiment's results (CSV: numbers)", res.table3_csv(t3).encode(),
                               file_name=f"experiment-{j['id']}.csv", mime="text/csv", key=f"dl_exp_{j['id']}")
        with st.expander("Receipt (run keys)"):
            st.json(result, expanded=False)
        return
    if not result:
        st.caption("No result (yet).")
        return
    rows = [{"field": k, "value": json.dumps(v) if isinstance(v, (dict, list)) else ("—" if v is None else str(v))}
            for k, v in result.items()]
    widgets.table(pd.DataFrame(rows), key=f"res_{j['id']}")


if job is not None:
    job_details(sel)

st.divider()
st.subheader("Stored results")
runs = res.store_runs_frame(mgr.store)
if runs.empty:
    st.caption("The store holds no runs yet.")
else:
    runs = runs.assign(what=runs["what"].astype(str).map(lambda w: style.method_label(w) if w else w),
                       error=runs["error"].replace("", "—"))
    runs = runs.rename(columns={"seconds": "took (s)"})
    runs["kind"] = runs["kind"].map(lambda k: KIND_NAMES.get(k, k))
    summary = runs.groupby(["kind", "status"]).size().unstack(fill_value=0)
    widgets.table(summary, key="store_summary", hide_index=False)
    bad = runs[runs["status"].isin(["failed", "interrupted", "cancelled"])]
    if not bad.empty:
        with st.expander(f"{len(bad)} failed / interrupted / cancelled runs in the store"):
            widgets.table(bad, key="store_bad", max_rows=20)
    with st.expander("Every stored run"):
        widgets.table(runs.sort_values("created", ascending=False), key="store_all", max_rows=25)
