"""Streamlit glue shared by the pages: the store and job manager (one per server), the session's active setup,
cached readers of finished results, job widgets and the teaching-demo tour. No training or scoring here: results
are read through ``unlearn_core.results`` and computed only by jobs (``unlearn_core.jobs``)."""
from __future__ import annotations

import json
import time
from typing import Any

import streamlit as st

from unlearn_core import results as res
from unlearn_core.config import Setup
from unlearn_core.errors import ForgetsetError
from unlearn_core.jobs import ACTIVE, JobManager
from unlearn_core.jobs.demo import DEMO_STAGES
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store, default_cache_dir

from . import images

PAGES = {
    "overview": "pages/overview.py",
    "data": "pages/data_model.py",
    "scores": "pages/scores.py",
    "sets": "pages/forget_sets.py",
    "experiments": "pages/experiments.py",
    "compare": "pages/compare.py",
    "runs": "pages/runs.py",
    "coreset": "pages/coreset.py",
    "composition": "pages/composition.py",
    "embeddings": "pages/embeddings.py",
    "inspector": "pages/inspector.py",
}
STATUS_ICON = {"queued": ":material/hourglass_top:", "running": ":material/autorenew:", "done": ":material/check_circle:",
               "failed": ":material/cancel:", "cancelled": ":material/stop_circle:", "interrupted": ":material/warning:",
               "pending": ":material/radio_button_unchecked:"}
STATUS_TEXT = {"queued": "… queued", "running": "▸ running", "done": "✓ done", "failed": "✗ failed",
               "cancelled": "■ cancelled", "interrupted": "! interrupted"}
POLL_S = 1.5
COMMON_SELECTORS = ["random", "worst", "easiest", "top:loss", "bottom:loss", "random+strat", "mixed:0.5", "class:3",
                    "worst_class:1"]


# ---------------------------------------------------------------------------------------------- app entry guard
def mark_app_run() -> None:
    """Called by app.py on every run, before the page."""
    st.session_state["_via_app"] = True


def page_guard() -> None:
    """Pages must run inside app.py (sidebar, job manager, URL parameters).

    Until app.py has called st.navigation once, Streamlit treats an app with a pages/ folder as a legacy
    (folder-based) multipage app, so a session that starts on a deep link (e.g. /experiments) of a fresh server
    runs the page file alone. Then switch Streamlit to st.navigation mode (what st.navigation itself does) and
    rerun: app.py runs and opens the same page.
    """
    if st.session_state.get("_via_app"):
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
    except Exception:  # pragma: no cover - Streamlit internals moved; the page still renders
        return
    st.rerun()


# ---------------------------------------------------------------------------------------------- server resources
def cache_root() -> str:
    return str(default_cache_dir().resolve())


@st.cache_resource(show_spinner=False)
def _store(root: str) -> Store:
    return Store(root)


@st.cache_resource(show_spinner=False)
def _manager(root: str) -> JobManager:
    return JobManager.shared(_store(root))


def store() -> Store:
    return _store(cache_root())


def manager() -> JobManager:
    return _manager(cache_root())


# ---------------------------------------------------------------------------------------------- session setup
def setup() -> Setup:
    """The active setup of this browser session. New sessions start from the defaults (never from another
    session's choice); ``?dataset=...`` URL parameters can set it."""
    if "setup" not in st.session_state:
        st.session_state["setup"] = Setup().to_dict()
    return Setup.from_dict(st.session_state["setup"])


def set_setup(**changes) -> None:
    """Change this session's setup (validated: a bad value raises ForgetsetError and changes nothing)."""
    st.session_state["setup"] = setup().replace(**changes).to_dict()


def use_setup(new: Setup, seed: int | None = None, why: str = "") -> None:
    """Switch the session to ``new`` and say so (a page never changes the active setup silently)."""
    old = setup()
    if new != old:
        st.session_state["setup"] = new.to_dict()
        st.session_state["_flash"] = f"Active setup switched to {new.dataset}" + (f": {why}" if why else "") + "."
    if seed is not None:
        set_seed(seed)


def setup_json() -> str:
    return setup().to_json()


def seed() -> int:
    return int(st.session_state.get("seed", 0))


def set_seed(value: int) -> None:
    st.session_state["seed"] = int(value)


def apply_query_params() -> None:
    """Optional URL parameters set the session's setup once (e.g. ``?dataset=digits&epochs=5``); bad values are
    reported and ignored, never a crash."""
    if st.session_state.get("_qp_applied"):
        return
    st.session_state["_qp_applied"] = True
    qp = st.query_params
    upd: dict[str, Any] = {}
    errors = []
    if "dataset" in qp:
        upd["dataset"] = qp["dataset"]
    if "model" in qp:
        upd["model"] = qp["model"] or None
    if "preset" in qp:
        upd["preset"] = qp["preset"]
    if "epochs" in qp:
        try:
            ep = int(qp["epochs"])
            if not 1 <= ep <= 200:
                raise ValueError
            upd["train"] = {**setup().train, "epochs": ep}
        except ValueError:
            errors.append(f"URL parameter epochs={qp['epochs']!r} is not an integer between 1 and 200; ignored.")
    if "blo" in qp:
        try:
            from unlearn_core.config import parse_json_object

            upd["blo"] = parse_json_object(qp["blo"], "URL parameter blo")
        except ForgetsetError as err:
            errors.append(str(err))
    if upd:
        try:
            set_setup(**upd)
        except ForgetsetError as err:
            errors.append(f"URL parameters ignored: {err}")
    if errors:
        st.session_state["_qp_error"] = " ".join(errors)


@st.cache_resource(show_spinner=False, max_entries=16)
def _pipeline(root: str, setup_js: str):
    return Pipeline(_store(root), Setup.from_dict({**json.loads(setup_js), "device": "cpu"}))


def pipeline():
    """(Pipeline for the active setup on the CPU, error message or None). Loads data once per server."""
    try:
        return _pipeline(cache_root(), setup_json()), None
    except ForgetsetError as err:
        return None, str(err)
    except Exception as err:  # noqa: BLE001 - show, do not crash the page
        return None, f"{type(err).__name__}: {err}"


def require_pipeline():
    pipe, err = pipeline()
    if pipe is None:
        st.error(f"The active setup cannot be loaded: {err}")
        st.page_link(PAGES["data"], label="Choose another data set on **Data & model**", icon=":material/dataset:")
        st.stop()
    return pipe


# ---------------------------------------------------------------------------------------------- cached readers
def version() -> tuple:
    return store().version()


@st.cache_data(show_spinner=False, max_entries=8)
def _results(root: str, ver: tuple):
    return res.results_frame(_store(root))


def results():
    return _results(cache_root(), version())


@st.cache_data(show_spinner=False, max_entries=16)
def _score_entries(root: str, setup_js: str, seed_: int, ver: tuple) -> list[dict]:
    return [{k: v for k, v in e.items() if k != 'run'} | {'run_key': e['key']}
            for e in res.cached_scores(_pipeline(root, setup_js), seed_)]


def score_entries() -> list[dict]:
    return _score_entries(cache_root(), setup_json(), seed(), version())


@st.cache_data(show_spinner=False, max_entries=16)
def _samples(root: str, setup_js: str, seed_: int, ver: tuple):
    pipe = _pipeline(root, setup_js)
    return res.sample_frame(pipe, seed_)


def samples():
    """Per-sample frame (label, θ_o prediction, cached scores) of the active setup."""
    return _samples(cache_root(), setup_json(), seed(), version())


@st.cache_data(show_spinner=False, max_entries=64)
def _score_extras(root: str, key: str) -> dict:
    run = _store(root).done_run(key)
    loaded = res.load_score(_store(root), run) if run else None
    return loaded[1] if loaded else {}


def score_extras(key: str) -> dict:
    return _score_extras(cache_root(), key)


@st.cache_data(show_spinner=False, max_entries=8)
def _catalog(root: str, setup_js: str, ver: tuple):
    return res.forget_sets(_pipeline(root, setup_js)).drop(columns="run")


def catalog():
    return _catalog(cache_root(), setup_json(), version())


@st.cache_data(show_spinner=False, max_entries=256)
def _forget_idx(root: str, key: str):
    return res.forget_idx_of(_store(root), key)


def forget_idx(key: str):
    return _forget_idx(cache_root(), key)


@st.cache_data(show_spinner=False, max_entries=256)
def _thumbs(root: str, setup_js: str, idx: tuple, size: int):
    return images.thumbnails(_pipeline(root, setup_js).ds, list(idx), size)


def thumbs(idx, size: int = 64):
    return _thumbs(cache_root(), setup_json(), tuple(int(i) for i in idx), size)


@st.cache_data(show_spinner=False, max_entries=64)
def _mosaic(root: str, setup_js: str, idx: tuple, ncols: int, size: int):
    return images.image_mosaic(_pipeline(root, setup_js).ds, list(idx), ncols, size)


def mosaic(idx, ncols: int = 12, size: int = 48):
    return _mosaic(cache_root(), setup_json(), tuple(int(i) for i in idx), ncols, size)


@st.cache_data(show_spinner=False, max_entries=512)
def _data_uri(root: str, setup_js: str, i: int, size: int) -> str:
    return images.png_data_uri(images.thumbnails(_pipeline(root, setup_js).ds, [i], size)[0])


def data_uris(idx, size: int = 40) -> list[str]:
    return [_data_uri(cache_root(), setup_json(), int(i), size) for i in idx]


# ---------------------------------------------------------------------------------------------- jobs
def submit(kind: str, config: dict, label: str | None = None) -> str | None:
    """Submit a job; shows the error in the app for bad input. Returns the job id (or None)."""
    try:
        jid = manager().submit(kind, config, label)
    except ForgetsetError as err:
        st.error(str(err), icon=":material/error:")
        return None
    st.session_state.setdefault("my_jobs", []).append(jid)
    st.session_state["_flash"] = f"Started: {manager().get(jid, with_log=False)['label']}"
    return jid


def flash() -> None:
    """Show (once) the message left by the previous run, e.g. 'job started'."""
    msg = st.session_state.pop("_flash", None)
    if msg:
        st.toast(msg, icon=":material/rocket_launch:")


def _fmt_dur(a: float | None, b: float | None) -> str:
    if not a:
        return ""
    s = (b or time.time()) - a
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.1f} min"


def job_card(job: dict, compact: bool = False) -> None:
    """One job: status, label, progress bar, message; the error message if it failed."""
    icon = STATUS_ICON.get(job["status"], "•")
    if compact:
        st.markdown(f"{icon} **{job['label'][:60]}**")
        if job["status"] == "running":
            st.progress(float(job["progress"] or 0), text=(job["message"] or "")[:60])
        else:
            st.caption(job["status"])
        return
    st.markdown(f"{icon} **{job['label']}** · `{job['status']}` · {_fmt_dur(job['started'], job['finished'])}")
    if job["status"] in ACTIVE:
        st.progress(float(job["progress"] or 0), text=job["message"] or job["status"])
    elif job["status"] == "failed":
        st.error(job["error"] or "failed", icon=":material/cancel:")
    elif job["status"] in ("cancelled", "interrupted"):
        st.warning(job["error"] or job["status"], icon=":material/warning:")


def watch_job(job_id: str | None, key: str, done_text: str = "Finished.") -> None:
    """Progress of one job, refreshed every ~1.5 s while it runs; a full rerun when it ends (new results show)."""
    if not job_id:
        return
    mgr = manager()
    job = mgr.get(job_id, with_log=False)
    if job is None:
        return
    running = job["status"] in ACTIVE

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
        if running and j["status"] not in ACTIVE:
            st.rerun()

    _watch()


def latest_job(kind: str, pred=None) -> dict | None:
    """The most recent job of ``kind`` (optionally matching ``pred(config)``)."""
    for j in manager().list_jobs(limit=200):
        if j["kind"] == kind and (pred is None or pred(j["config"])):
            return j
    return None


def setup_config() -> dict:
    """The active setup as a job's ``setup`` config (the seed travels separately)."""
    return setup().to_dict()


# ---------------------------------------------------------------------------------------------- sidebar
def sidebar() -> None:
    pipe, err = pipeline()
    with st.sidebar:
        st.markdown("### Active setup")
        if pipe is None:
            st.error(err or "setup not loaded")
        else:
            recipe = pipe.train_cfg
            st.markdown(f"**Data set:** `{pipe.dataset_name}` ({pipe.ds.n_train} train / {pipe.ds.x_test.shape[0]} test)  \n"
                        f"**Model:** `{pipe.model_name}`  \n"
                        f"**Recipe:** {recipe.epochs} ep · {recipe.optimizer} lr {recipe.lr:g} · seed {seed()}")
            run = pipe.find_original(seed())
            if run:
                m = run.get("metrics") or {}
                st.caption(f"θ_o ✓ train {m.get('train_acc', 0):.1f}% · test {m.get('test_acc', 0):.1f}%")
            else:
                st.caption("θ_o not trained yet")
        st.page_link(PAGES["data"], label="Change data set / model", icon=":material/dataset:")
        st.divider()
        _sidebar_jobs()


def _sidebar_jobs() -> None:
    mgr = manager()
    active = mgr.has_active()
    st.session_state["_seen_ver"] = (version(), time.time())  # what this full run has drawn

    @st.fragment(run_every=POLL_S if active else None)
    def _jobs():
        jobs = mgr.active_jobs()
        st.markdown(f"### Jobs · {len(jobs)} running/queued" if jobs else "### Jobs")
        if not jobs:
            st.caption("Nothing running.")
        for j in jobs[:5]:
            job_card(j, compact=True)
        if len(jobs) > 5:
            st.caption(f"… and {len(jobs) - 5} more")
        st.page_link(PAGES["runs"], label="All jobs (Runs)", icon=":material/list_alt:")
        if active and not jobs:
            st.rerun()  # the last job ended: redraw the page once with its results (and stop polling)
        if jobs and st.session_state.get("live_refresh", True):
            seen_ver, seen_t = st.session_state.get("_seen_ver", (None, 0.0))
            if version() != seen_ver and time.time() - seen_t > 6:
                st.rerun()  # a running job stored new results: redraw (at most every ~6 s)

    _jobs()
    st.toggle("Live-refresh results while jobs run", value=True, key="live_refresh",
              help="Re-draw the page every few seconds when a running job has stored new results.")


# ---------------------------------------------------------------------------------------------- teaching demo tour
TOUR_PAGE_NAMES = {"data": "Data & model", "scores": "Scores", "sets": "Forget sets", "compare": "Compare",
                   "runs": "Runs"}
TOUR = [
    ("data", "Step 1 · The original model",
     "The demo trained a small MLP θ_o on scikit-learn's 8×8 digits (1,437 training images). Its accuracy is "
     "shown below together with some training images. Everything that follows is measured against this model."),
    ("scores", "Step 2 · How hard is each sample to forget?",
     "Every training sample got a **loss** and an **entropy** under θ_o, and a **BLO weight**: the bi-level "
     "optimisation (Fan et al., *Challenging Forgets*) pushes weight onto the samples that stay well fit even after fine-tuning without "
     "them. The top 10% of the weight is the **worst-case forget set**. Look at the galleries: which digits are "
     "hardest to forget, and is their loss low?"),
    ("sets", "Step 3 · Random vs worst-case forget sets",
     "Here the random and the worst-case 10% sets are compared: how much they overlap, which classes they "
     "take and how their scores are distributed."),
    ("compare", "Step 4 · Does unlearning look different on the worst case?",
     "Each method unlearned both sets; every metric is shown with its gap to Retrain in brackets (mean ± std "
     "over the seeds listed). What to look for (Fan et al.): Retrain's UA and MIA on the worst-case set near 0, and "
     "whether relabeling methods (RL) drift away from Retrain in MIA. Judge from your numbers, not from the paper."),
    ("runs", "Step 5 · Every step was a job",
     "Each computation ran as a background job with progress, a log, cancel and re-run. Results are cached: "
     "re-running the demo reuses them."),
]


def start_tour(job_id: str | None) -> None:
    st.session_state["tour"] = {"job": job_id, "active": True}


def tour_banner(page: str) -> None:
    """The teaching-demo guide for this page (only while the tour is on)."""
    tour = st.session_state.get("tour")
    if not tour or not tour.get("active"):
        return
    names = [t[0] for t in TOUR]
    if page not in names:
        return
    i = names.index(page)
    _, title, text = TOUR[i]
    with st.container(border=True):
        st.markdown(f":material/school: **Teaching demo — {title}**  ({i + 1}/{len(TOUR)})")
        st.markdown(text)
        job = manager().get(tour["job"], with_log=False) if tour.get("job") else None
        if job is not None and job["status"] in ACTIVE:
            st.caption(f"Demo still running: {job['message']} ({100 * (job['progress'] or 0):.0f}%) — results "
                       f"appear as they are stored.")
        c1, c2, _ = st.columns([1.4, 1, 3])
        if i + 1 < len(TOUR):
            if c1.button(f"Next: {TOUR_PAGE_NAMES[TOUR[i + 1][0]]} →", key=f"tour_next_{page}", type="primary"):
                st.switch_page(PAGES[TOUR[i + 1][0]])
        else:
            if c1.button("Back to Overview", key="tour_back", type="primary"):
                st.switch_page(PAGES["overview"])
        if c2.button("End tour", key=f"tour_end_{page}"):
            st.session_state["tour"]["active"] = False
            st.rerun()


def demo_stage_states(job: dict | None) -> list[tuple[str, str, str]]:
    """(stage name, title, state) with state in done / running / pending / failed, from the demo job's progress."""
    out = []
    for name, title, lo, hi in DEMO_STAGES:
        if job is None:
            state = "pending"
        elif job["status"] == "done":
            state = "done"
        else:
            p = float(job["progress"] or 0)
            if p >= hi - 1e-9:
                state = "done"
            elif p >= lo - 1e-9:
                state = "running" if job["status"] in ACTIVE else job["status"]
            else:
                state = "pending"
        out.append((name, title, state))
    return out


def point_customdata(point: dict) -> list:
    """The customdata of a selected plotly point as a list (Streamlit may hand it over as list, dict or scalar)."""
    cd = point.get("customdata")
    if cd is None:
        return []
    if isinstance(cd, dict):
        return [cd[k] for k in sorted(cd, key=lambda k: int(k) if str(k).isdigit() else 0)]
    if isinstance(cd, (list, tuple)):
        return list(cd)
    return [cd]


def selected_points(event) -> list[list]:
    """customdata lists of the points selected in a st.plotly_chart(on_select="rerun") event."""
    try:
        points = event.selection.points if event and event.selection else []
    except (AttributeError, KeyError):
        return []
    return [cd for cd in (point_customdata(p) for p in points) if cd]


def show_error_box(err: Exception) -> None:
    st.error(str(err) if isinstance(err, ForgetsetError) else f"{type(err).__name__}: {err}", icon=":material/error:")
