"""Runs: every job with status, progress, timings, configuration and log; cancel, re-run, delete, export."""
import json
import time

import pandas as pd
import streamlit as st

from dashboard import common
from unlearn_core import results as res
from unlearn_core.errors import ForgetsetError
from unlearn_core.jobs import ACTIVE

common.page_guard()
st.title("Runs")
common.tour_banner("runs")
mgr = common.manager()
slots = mgr.slots()
st.caption(f"Executor: {slots['executor']} · GPU slots: {', '.join(slots['gpu_slots']) or 'none (CPU only)'} · "
           f"CPU slots: {slots['cpu_slots']} · cache: `{mgr.store.root}`")


def jobs_frame(jobs: list[dict]) -> pd.DataFrame:
    now = time.time()
    return pd.DataFrame([{
        "status": common.STATUS_TEXT.get(j["status"], j["status"]),
        "job": j["label"], "progress": float(j["progress"] or 0), "message": (j["message"] or "")[:80],
        "created": pd.to_datetime(j["created"], unit="s"),
        "duration_s": round(((j["finished"] or now) - j["started"]), 1) if j["started"] else None,
        "error": (j["error"] or "")[:120], "kind": j["kind"], "id": j["id"]} for j in jobs])


active = mgr.has_active()


@st.fragment(run_every=common.POLL_S if active else None)
def job_list():
    jobs = mgr.list_jobs(limit=500)
    if not jobs:
        st.info("No jobs yet. Start one from Data & model, Scores, Forget sets, Experiments or the Overview demo.")
        return
    df = jobs_frame(jobs)
    st.dataframe(df, hide_index=True, key="runs_live", height=min(420, 38 + 35 * len(df)),
                 column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=1),
                                "created": st.column_config.DatetimeColumn("created", format="HH:mm:ss")})
    if active and not mgr.has_active():
        st.rerun()


st.subheader("Jobs")
job_list()

jobs = mgr.list_jobs(limit=500)
if not jobs:
    st.stop()
ids = [j["id"] for j in jobs]
labels = {j["id"]: f"{common.STATUS_TEXT.get(j['status'], j['status'])} · {j['label']} · {j['id']}" for j in jobs}
if "runs_pick_next" in st.session_state:
    st.session_state["runs_pick"] = st.session_state.pop("runs_pick_next")
if st.session_state.get("runs_pick") not in ids:
    st.session_state["runs_pick"] = ids[0]
sel = st.selectbox("Job details", ids, format_func=labels.get, key="runs_pick")
job = mgr.get(sel)


@st.fragment(run_every=common.POLL_S if job and job["status"] in ACTIVE else None)
def job_details(job_id: str):
    j = mgr.get(job_id)
    if j is None:
        st.warning("This job was deleted.")
        return
    common.job_card(j)
    def hms(t):
        return time.strftime("%H:%M:%S", time.localtime(t)) if t else "–"

    took = f"{((j['finished'] or time.time()) - j['started']):.1f}s" if j["started"] else "–"
    st.markdown(f"**Progress** {100 * (j['progress'] or 0):.0f}% · **queued** {hms(j['created'])} · **started** "
                f"{hms(j['started'])} · **finished** {hms(j['finished'])} · **took** {took} · **slot** "
                f"`{j.get('slot') or '–'}` · **kind** `{j['kind']}` · **id** `{j['id']}`")
    b = st.columns([1, 1, 1, 1.3, 3])
    if j["status"] in ACTIVE:
        if b[0].button("Cancel", key=f"cancel_{job_id}", type="primary"):
            mgr.cancel(job_id)
            st.rerun()
    else:
        if b[0].button("Re-run", key=f"rerun_{job_id}", type="primary"):
            try:
                new = mgr.rerun(job_id)
            except ForgetsetError as err:
                st.error(str(err))
            else:
                st.session_state["runs_pick_next"] = new
                st.session_state["_flash"] = f"Re-running as {new}"
                st.rerun(scope="app")
        if b[1].button("Delete", key=f"delete_{job_id}"):
            try:
                mgr.delete(job_id)
            except ForgetsetError as err:
                st.error(str(err))
            else:
                st.session_state["_flash"] = "Job record deleted (its stored results are kept)."
                st.rerun(scope="app")
    b[2].download_button("Export", json.dumps(mgr.export(job_id), indent=2, default=str).encode(),
                         file_name=f"job-{job_id}.json", mime="application/json", key=f"export_{job_id}")
    if j.get("rerun_of"):
        b[3].caption(f"re-run of {j['rerun_of']}")
    if job["status"] in ACTIVE and j["status"] not in ACTIVE:
        st.rerun()  # it just ended: refresh the whole page (list, labels, buttons)
    t1, t2, t3 = st.tabs(["Log", "Configuration", "Result"])
    with t1:
        st.code("\n".join(j.get("log", [])[-300:]) or "(empty)", language=None, height=320)
    with t2:
        st.json(j["config"], expanded=True)
    with t3:
        st.json(j["result"] or {}, expanded=True)


if job is not None:
    job_details(sel)

st.divider()
st.subheader("Stored results")
runs = res.store_runs_frame(mgr.store)
if runs.empty:
    st.caption("The store holds no runs yet.")
else:
    summary = runs.groupby(["kind", "status"]).size().unstack(fill_value=0)
    st.dataframe(summary, key="store_summary")
    bad = runs[runs["status"].isin(["failed", "interrupted", "cancelled"])]
    if not bad.empty:
        with st.expander(f"{len(bad)} failed / interrupted / cancelled runs in the store"):
            st.dataframe(bad, hide_index=True, key="store_bad")
    with st.expander("Every stored run"):
        st.dataframe(runs.sort_values("created", ascending=False), hide_index=True, key="store_all")
