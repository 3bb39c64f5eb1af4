"""Job widgets: submit a job, its card (status, progress, queue place, ETA), a live watcher, and the executor choice
(this machine or a Ray cluster)."""
from __future__ import annotations

import time

import streamlit as st

from unlearn_core.errors import ForgetsetError
from unlearn_core.jobs import ACTIVE

from . import progress
from .common import PAGES, manager, setup
from .safety import code_span, md_escape
from .tour import demo_timeline
from .widgets import error, warning

STATUS_ICON = {"queued": ":material/hourglass_top:", "running": ":material/autorenew:", "done": ":material/check_circle:",
               "failed": ":material/cancel:", "cancelled": ":material/stop_circle:", "interrupted": ":material/warning:",
               "pending": ":material/radio_button_unchecked:"}
STATUS_TEXT = {"queued": "… queued", "running": "▸ running", "done": "✓ done", "failed": "✗ failed",
               "cancelled": "■ cancelled", "interrupted": "! interrupted"}
POLL_S = 1.5


# ---------------------------------------------------------------------------------------------- jobs
def submit(kind: str, config: dict, label: str | None = None) -> str | None:
    """Submit a job; shows the error in the app for bad input. Returns the job id (or None)."""
    try:
        jid = manager().submit(kind, config, label)
    except ForgetsetError as err:
        error(str(err))
        return None
    st.session_state.setdefault("my_jobs", []).append(jid)
    st.session_state["_flash"] = f"Started: {manager().get(jid, with_log=False)['label']}"
    return jid


def job_button(where, label: str, kind: str, config: dict, key: str, **button_kw) -> None:
    """A button (in ``where``: ``st`` or a column) that submits a ``kind`` job with ``config``. Its widget key is
    ``{key}_job`` and the job's id is kept in ``st.session_state[f"{key}_job_id"]``, where :func:`watch_key` reads it."""
    if where.button(label, key=f"{key}_job", **button_kw):
        jid = submit(kind, config)
        if jid:
            st.session_state[f"{key}_job_id"] = jid


def watch_key(key: str, done_text: str = "Finished.") -> None:
    """:func:`watch_job` for the job a :func:`job_button` with the same ``key`` started (nothing before a click)."""
    watch_job(st.session_state.get(f"{key}_job_id"), key, done_text)


def _fmt_dur(a: float | None, b: float | None) -> str:
    if not a:
        return ""
    return progress.fmt_duration((b or time.time()) - a)


def queue_text(job: dict) -> str:
    """'2nd in the queue · waits for: …' for a queued job (plain text)."""
    if job.get("status") != "queued":
        return ""
    pos = job.get("queue_position")
    why = job.get("waiting_for")
    if pos is None:
        return "queued by another server process"
    return f"#{pos} in the queue · waits because {why}" if why and why != "starting" else f"#{pos} in the queue · starting"


def job_eta(job: dict) -> str:
    """'about 3 min left (reported by the job)' / '(at the current pace)' for a running job, '' if unknown."""
    if job.get("status") != "running":
        return ""
    if job.get("kind") == "teaching_demo":  # the stage model (the same numbers as the Overview and the tour)
        full = manager().get(job["id"]) or job
        _, left, src = demo_timeline(full)
        return f"about {progress.fmt_duration(left)} left ({src})" if left else ""
    left, _ = progress.reported_estimate(job)
    src = "reported by the job"
    if left is None:
        p = float(job.get("progress") or 0)
        el = time.time() - (job.get("started") or time.time())
        if p < 0.05 or el < 10:
            return ""
        left, src = el * (1 - p) / p, "at the current pace"
    return f"about {progress.fmt_duration(left)} left ({src})"


def job_card(job: dict, compact: bool = False, eta: bool = True) -> None:
    """One job: status, label, progress bar, message, queue place or ETA; the error message if it failed."""
    icon = STATUS_ICON.get(job["status"], "•")
    label = md_escape(job["label"])
    if compact:
        st.markdown(f"{icon} **{md_escape(job['label'][:60])}**")
        if job["status"] == "running":
            st.progress(float(job["progress"] or 0), text=md_escape((job["message"] or "")[:60]))
            eta = job_eta(job)
            if eta:
                st.caption(eta)
        else:
            st.caption(md_escape(queue_text(job) or job["status"]))
        return
    st.markdown(f"{icon} **{label}** · {STATUS_TEXT.get(job['status'], job['status'])} · "
                f"{_fmt_dur(job['started'], job['finished'])}")
    if job["status"] in ACTIVE:
        text = job["message"] if job["status"] == "running" else queue_text(job)
        st.progress(float(job["progress"] or 0), text=md_escape(text or job["status"]))
        left = job_eta(job) if eta else ""
        if left:
            st.caption(left)
    elif job["status"] == "failed":
        error(job["error"] or "failed", icon=":material/cancel:")
    elif job["status"] in ("cancelled", "interrupted"):
        warning(job["error"] or job["status"])


def watch_job(job_id: str | None, key: str, done_text: str = "Finished.") -> None:
    """Progress of one job, refreshed every ~1.5 s while it runs; a full rerun when it ends (new results show)."""
    if not job_id:
        return
    mgr = manager()
    job = mgr.get(job_id, with_log=False)
    if job is None:
        return
    running = job["status"] in ACTIVE
    if running and not st.session_state.get("_sidebar_polls"):
        # The job was submitted during this run, after the sidebar's job list had drawn itself as idle: without
        # this rerun nothing redraws the page when the job ends, and the panel keeps saying "Not computed yet"
        # under a "Stored" message (issue 22, item 2). The rerun lets the sidebar poll and redraw at the end.
        st.rerun()

    @st.fragment(run_every=POLL_S if running else None)
    def _watch():
        j = mgr.get(job_id, with_log=False)
        if j is None:
            return
        job_card(j)
        if j["status"] == "done":
            st.success(done_text, icon=":material/check_circle:")
        c1, c2 = st.columns([1, 4])
        if j["status"] in ACTIVE and c1.button("Cancel", key=f"{key}_cancel_{job_id}"):
            mgr.cancel(job_id)
        c2.page_link(PAGES["runs"], label="Log and details on **Runs**", icon=":material/list_alt:")
        # No st.rerun() here when the job ends: the sidebar's job list (the one timed fragment that may redraw the
        # whole app) does that. Several timed fragments each restarting the app at once left the browser with
        # updates for containers that no longer existed ("Bad delta path") and a blank page.

    _watch()


def setup_config() -> dict:
    """The active setup as a job's ``setup`` config (the seed travels separately)."""
    return setup().to_dict()


EXECUTOR_NAMES = {"local": "on this machine", "ray": "on a Ray cluster"}
RAY_INSTALL_HINT = "pip install -e '.[cluster]'"


def executor_choice(key: str, current: dict | None = None) -> dict | None:
    """Where an ``experiment`` job runs its units: this machine (the job runtime's worker) or a Ray cluster
    (``unlearn_core.cluster``; ``executor_of`` in jobs/kinds.py). Returns the job-config fields to merge ({} for
    local; ``{"executor": "ray", "ray_address": ...}``), or None when the typed address is not valid (the error is
    shown). Without Ray installed the choice is shown disabled with the install hint. ``current``: an existing
    job config whose choice is the default (the Runs page's re-run)."""
    from unlearn_core.cluster import check_address, ray_available

    has_ray = ray_available()
    cur = current or {}
    if f"{key}_executor" not in st.session_state:
        st.session_state[f"{key}_executor"] = "ray" if has_ray and cur.get("executor") == "ray" else "local"
    c1, c2 = st.columns([1, 2])
    name = c1.radio("Run the units", list(EXECUTOR_NAMES), horizontal=True, key=f"{key}_executor",
                    format_func=EXECUTOR_NAMES.get, disabled=not has_ray,
                    help="Ray runs each unit of the grid (θ_o per seed → scores → forget sets → runs) as a task of a "
                         "Ray cluster; results land in this store exactly as local ones, and progress is shown the "
                         "same way.")
    if not has_ray:
        c2.caption(f"Ray is not installed on this server: {code_span(RAY_INSTALL_HINT)} enables the cluster "
                   "executor.")
        return {}
    if name != "ray":
        return {}
    if f"{key}_ray_address" not in st.session_state:
        st.session_state[f"{key}_ray_address"] = str(cur.get("ray_address") or "auto")
    addr = c2.text_input("Ray address", key=f"{key}_ray_address",
                         help="auto = the cluster this machine belongs to · local = a private cluster on this machine "
                              "· ray://host:10001 = Ray Client · host:6379 = a cluster's GCS address")
    try:
        addr = check_address(addr)
    except ForgetsetError as err:
        error(str(err))
        return None
    out = {"executor": "ray", **({"ray_address": addr} if addr else {})}
    if cur.get("executor") == "ray" and cur.get("executor_options"):
        out["executor_options"] = cur["executor_options"]
    return out
