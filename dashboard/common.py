"""Streamlit glue shared by the pages: the store and job manager (one per server), the session's active setup,
cached readers of finished results, job widgets and the teaching-demo tour. No training or scoring here: results
are read through ``unlearn_core.results`` and computed only by jobs (``unlearn_core.jobs``)."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pandas as pd
import streamlit as st

from unlearn_core import results as res
from unlearn_core.config import Setup
from unlearn_core.config import setup_name as config_setup_name
from unlearn_core.errors import ForgetsetError
from unlearn_core.validation import MAX_SEED  # the one seed range (numpy's and torch's: 0..2^32-1)
from unlearn_core.jobs import ACTIVE, JobManager
from unlearn_core.jobs.demo import DEMO_DEFAULTS, DEMO_STAGES
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store, default_cache_dir

from . import images, progress, safety, style
from .safety import code_span, md_escape

PAGES = {
    "overview": "app_pages/overview.py",
    "data": "app_pages/data_model.py",
    "scores": "app_pages/scores.py",
    "sets": "app_pages/forget_sets.py",
    "experiments": "app_pages/experiments.py",
    "compare": "app_pages/compare.py",
    "runs": "app_pages/runs.py",
    "coreset": "app_pages/coreset.py",
    "composition": "app_pages/composition.py",
    "embeddings": "app_pages/embeddings.py",
    "inspector": "app_pages/inspector.py",
    "forget_quality": "app_pages/forget_quality.py",
    "attack": "app_pages/attack.py",
    "glossary": "app_pages/glossary.py",
    "summary": "app_pages/tour_summary.py",
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

    The pages live in ``app_pages/``, not ``pages/``: with a ``pages/`` folder next to app.py Streamlit starts a
    fresh server in its legacy folder-based multipage mode, so the first deep link (e.g. ``/data``) of a fresh
    server showed a "Page not found" dialog before app.py's st.navigation took over. Should a page file still be
    run on its own, switch Streamlit to st.navigation mode and rerun: app.py then runs and opens the same page.
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
DEFAULT_SETUP = Setup()
MAX_URL_EPOCHS = 200


def setup() -> Setup:
    """The active setup of this browser session. New sessions start from the defaults (never from another
    session's choice); ``?dataset=...`` URL parameters can set it."""
    if "setup" not in st.session_state:
        st.session_state["setup"] = Setup().to_dict()
    return Setup.from_dict(st.session_state["setup"])


def set_setup(**changes) -> None:
    """Change this session's setup (validated: a bad value raises ForgetsetError and changes nothing)."""
    st.session_state["setup"] = setup().replace(**changes).to_dict()


def setup_name(s: Setup | None = None) -> str:
    """The session's (or ``s``'s) setup named to users: :func:`unlearn_core.config.setup_name`."""
    return config_setup_name(s or setup())


def use_setup(new: Setup, seed: int | None = None, why: str = "") -> None:
    """Switch the session to ``new`` and say so (a page never changes the active setup silently): a toast now and
    a note in the sidebar until the user has seen a few pages."""
    old = setup()
    if new != old:
        st.session_state["setup"] = new.to_dict()
        msg = f"Active setup switched from {setup_name(old)} to {setup_name(new)}" + (f" ({why})" if why else "") + "."
        st.session_state["_flash"] = msg
        st.session_state["_setup_note"] = [msg, 4]
    if seed is not None and seed != (st.session_state.get("seed") or 0):
        set_seed(seed)


def setup_json() -> str:
    return setup().to_json()


def seed() -> int:
    return int(st.session_state.get("seed", 0))


def set_seed(value: int) -> None:
    st.session_state["seed"] = int(value)


def session_id() -> str:
    """A random id of this browser session (names its upload folder)."""
    if "_sid" not in st.session_state:
        st.session_state["_sid"] = uuid.uuid4().hex[:16]
    return st.session_state["_sid"]


def _int_param(qp, name: str, lo: int, hi: int, errors: list) -> int | None:
    raw = qp.get(name)
    try:
        v = int(str(raw).strip())
    except (TypeError, ValueError):
        errors.append(f"URL parameter {name}={str(raw)[:40]!r} is not a whole number; ignored.")
        return None
    if not lo <= v <= hi:
        errors.append(f"URL parameter {name}={v} is outside {lo}…{hi}; ignored.")
        return None
    return v


def apply_query_params() -> None:
    """Optional URL parameters set the session's setup once (e.g. ``?dataset=digits&epochs=5&seed=1``); bad or
    out-of-range values are reported and ignored, never a crash. A data-set path must lie under the data root
    (the check never touches the file, so it says nothing about which server files exist)."""
    if st.session_state.get("_qp_applied"):
        return
    st.session_state["_qp_applied"] = True
    qp = st.query_params
    upd: dict[str, Any] = {}
    errors: list[str] = []
    if "dataset" in qp:
        try:
            upd["dataset"] = safety.check_dataset_name(qp["dataset"], cache_root())
        except ForgetsetError as err:
            errors.append(f"URL parameter dataset ignored: {err}")
    if "model" in qp:
        from unlearn_core.models import MODELS

        if qp["model"] in ("", "auto"):
            upd["model"] = None
        elif qp["model"] in MODELS:
            upd["model"] = qp["model"]
        else:
            errors.append(f"URL parameter model={qp['model'][:40]!r} is not a model ({', '.join(MODELS)}); ignored.")
    if "preset" in qp:
        from unlearn_core.training import TRAIN_PRESETS

        if qp["preset"] in ("auto", *TRAIN_PRESETS):
            upd["preset"] = qp["preset"]
        else:
            errors.append(f"URL parameter preset={qp['preset'][:40]!r} is not a preset; ignored.")
    if "epochs" in qp:
        ep = _int_param(qp, "epochs", 1, MAX_URL_EPOCHS, errors)
        if ep is not None:
            upd["train"] = {**setup().train, "epochs": ep}
    if "blo" in qp:
        try:
            from unlearn_core.config import parse_json_object
            from unlearn_core.scores import get_score

            blo = parse_json_object(qp["blo"], "URL parameter blo")
            get_score("blo").resolve_params(blo)  # unknown keys / bad values are refused here
            upd["blo"] = blo
        except ForgetsetError as err:
            errors.append(str(err))
    if upd:
        try:
            set_setup(**upd)
        except ForgetsetError as err:
            errors.append(f"URL parameters ignored: {err}")
    if "seed" in qp:
        sd = _int_param(qp, "seed", 0, MAX_SEED, errors)
        if sd is not None:
            set_seed(sd)
    if errors:
        st.session_state["_qp_error"] = " ".join(errors)


def setup_query_params() -> dict[str, str]:
    """The active setup as URL parameters (only what differs from the defaults)."""
    s, out = setup(), {}
    if s.dataset != DEFAULT_SETUP.dataset:
        out["dataset"] = s.dataset
    if s.model:
        out["model"] = s.model
    if s.preset != DEFAULT_SETUP.preset:
        out["preset"] = s.preset
    if s.train.get("epochs"):
        out["epochs"] = str(s.train["epochs"])
    if s.blo:
        out["blo"] = json.dumps(dict(s.blo), sort_keys=True, separators=(",", ":"))
    if seed():
        out["seed"] = str(seed())
    return out


SETUP_PARAMS = ("dataset", "model", "preset", "epochs", "blo", "seed")


def sync_url(**page_params) -> None:
    """Keep the address bar in step with the session: the setup's parameters plus ``page_params`` (a page's own
    choices). A reload, a bookmark or a shared link then opens the same view. Values equal to None are removed."""
    want = setup_query_params()
    for k, v in page_params.items():
        if v is None or v == "" or v == []:
            continue
        want[k] = ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    cur = {k: st.query_params.get(k) for k in st.query_params}
    managed = set(SETUP_PARAMS) | set(page_params)
    for k in list(cur):
        if k in managed and k not in want:
            del st.query_params[k]
    for k, v in want.items():
        if cur.get(k) != v:
            st.query_params[k] = v


def keep(key: str, default, valid=None) -> None:
    """Let widget ``key`` keep its value for the whole session (Streamlit forgets a widget's value when its page
    is left). Call before creating the widget, without passing it a default; ``valid(value)`` may clean a
    remembered value that no longer fits the options."""
    shadow = f"_keep_{key}"
    if key not in st.session_state:
        v = st.session_state.get(shadow, default() if callable(default) else default)
        if valid is not None:
            v = valid(v)
        st.session_state[key] = v
    st.session_state[shadow] = st.session_state[key]


def remember(*keys: str) -> None:
    """Store widgets' current values (after creating them) for :func:`keep`."""
    for k in keys:
        if k in st.session_state:
            st.session_state[f"_keep_{k}"] = st.session_state[k]


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
        error(f"The active setup cannot be loaded: {err}")
        st.page_link(PAGES["data"], label="Choose another data set on **Data & model**", icon=":material/dataset:")
        st.stop()
    return pipe


# ---------------------------------------------------------------------------------------------- cached readers
def version() -> tuple:
    return store().version()


@st.cache_data(show_spinner=False, max_entries=8)
def _results(root: str, ver: tuple, include_superseded: bool = False):
    return res.results_frame(_store(root), include_superseded=include_superseded)


def results(include_superseded: bool = False):
    """Finished unlearning runs; rows made with a θ_o that is no longer current only on request (flagged)."""
    return _results(cache_root(), version(), include_superseded)


@st.cache_data(show_spinner=False, max_entries=16)
def _score_entries(root: str, setup_js: str, seed_: int, ver: tuple) -> list[dict]:
    return [{k: v for k, v in e.items() if k != 'run'} | {'run_key': e['key']}
            for e in res.cached_scores(_pipeline(root, setup_js), seed_)]


def score_entries() -> list[dict]:
    return _score_entries(cache_root(), setup_json(), seed(), version())


@st.cache_data(show_spinner=False, max_entries=16)
def _samples(root: str, setup_js: str, seed_: int, ver: tuple):
    pipe = _pipeline(root, setup_js)
    return style.clip_weights(res.sample_frame(pipe, seed_))  # BLO weights shown in [0, 1]


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
def _mosaic(root: str, setup_js: str, idx: tuple, ncols: int, size: int, labels: tuple | None):
    return images.image_mosaic(_pipeline(root, setup_js).ds, list(idx), ncols, size,
                               labels=list(labels) if labels is not None else None)


def mosaic(idx, ncols: int = 12, size: int = 48, labels=None):
    """Samples in a grid with white gaps; ``labels`` (one short text per sample) are printed under each image.
    By default each image is labelled with its sample number and class."""
    idx = [int(i) for i in idx]
    if labels is None and idx:
        pipe, _ = pipeline()
        if pipe is not None:
            y = pipe.ds.y_train.cpu().numpy()
            labels = [f"{pipe.ds.classes[int(y[i])]} · #{i}" for i in idx]
    return _mosaic(cache_root(), setup_json(), tuple(idx), ncols, size,
                   tuple(str(x) for x in labels) if labels is not None else None)


@st.cache_data(show_spinner=False, max_entries=512)
def _data_uri(root: str, setup_js: str, i: int, size: int) -> str:
    return images.png_data_uri(images.thumbnails(_pipeline(root, setup_js).ds, [i], size)[0])


def data_uris(idx, size: int = 40) -> list[str]:
    return [_data_uri(cache_root(), setup_json(), int(i), size) for i in idx]


# ---------------------------------------------------------------------------------------------- estimates
@st.cache_data(show_spinner=False, max_entries=64)
def _job_estimate(root: str, kind: str, config_json: str, ver: tuple):
    from unlearn_core.jobs.estimate import estimate_job

    return estimate_job(kind, json.loads(config_json), store())


def job_estimate(kind: str, config: dict):
    """The cost model's estimate (``JobEstimate``) of a job before it is submitted — the same numbers the job logs
    and records when it runs, and the CLI prints for a grid; None for kinds it does not model."""
    from unlearn_core.errors import ForgetsetError

    try:
        return _job_estimate(cache_root(), kind, json.dumps(config, sort_keys=True, default=str),
                             version())
    except (ForgetsetError, LookupError, OSError, ValueError):
        return None


def estimate_correction() -> tuple[float, int]:
    """Median actual/estimate of this server's finished jobs (1.0, 0 when none recorded both)."""
    from . import estimates

    return estimates.correction(manager().list_jobs(limit=100))


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


def flash() -> None:
    """Show (once) the message left by the previous run, e.g. 'job started'."""
    msg = st.session_state.pop("_flash", None)
    if msg:
        st.toast(md_escape(msg), icon=":material/info:")


def error(text: str, icon: str = ":material/error:") -> None:
    """An error box whose text is shown as typed (user input inside is never rendered as Markdown)."""
    st.error(md_escape(text), icon=icon)


def warning(text: str, icon: str = ":material/warning:") -> None:
    st.warning(md_escape(text), icon=icon)


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


def latest_job(kind: str, pred=None) -> dict | None:
    """The most recent job of ``kind`` (optionally matching ``pred(config)``)."""
    for j in manager().list_jobs(limit=200):
        if j["kind"] == kind and (pred is None or pred(j["config"])):
            return j
    return None


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


# ---------------------------------------------------------------------------------------------- tables + charts
def table_height(n_rows: int, row_height: int = 35, max_rows: int | None = 40) -> int:
    """Pixels that show ``n_rows`` rows without an inner scroll bar (up to ``max_rows``)."""
    n = n_rows if max_rows is None else min(n_rows, max_rows)
    return 40 + row_height * max(n, 1) + 6


def table(df: pd.DataFrame, key: str, max_rows: int | None = 40, **kw):
    """A full-width table whose height fits its rows (no inner scrolling up to ``max_rows`` rows)."""
    kw.setdefault("hide_index", True)
    kw.setdefault("placeholder", "—")  # missing values read "—", never "None"
    rh = kw.get("row_height") or 35
    n = len(getattr(df, "data", df))  # a Styler holds its frame in .data
    return st.dataframe(df, key=key, width="stretch", height=table_height(n, rh, max_rows), **kw)


def plot(fig, key: str, **kw):
    """st.plotly_chart with the dashboard's toolbar settings (shown on hover, no logo, no PNG button)."""
    return st.plotly_chart(fig, key=key, config=style.PLOTLY_CONFIG, **kw)


# ---------------------------------------------------------------------------------------------- sidebar
def sidebar() -> None:
    pipe, err = pipeline()
    with st.sidebar:
        st.markdown("### Active setup")
        note = st.session_state.get("_setup_note")
        if note:
            st.info(md_escape(note[0]), icon=":material/swap_horiz:")
            note[1] -= 1
            if note[1] <= 0:
                st.session_state.pop("_setup_note", None)
        if pipe is None:
            error(err or "setup not loaded")
        else:
            recipe = pipe.train_cfg
            st.markdown(f"**Data set:** {code_span(pipe.dataset_name)} ({pipe.ds.n_train} train / "
                        f"{pipe.ds.x_test.shape[0]} test)  \n"
                        f"**Model:** {code_span(pipe.model_name)}  \n"
                        f"**Recipe:** {recipe.epochs} epochs · {recipe.optimizer} lr {recipe.lr:g} · seed {seed()}")
            s = setup()
            if s.blo:
                st.caption("BLO parameters: " + md_escape(", ".join(f"{k}={v}" for k, v in sorted(s.blo.items()))))
            _theta_status(pipe)
        st.page_link(PAGES["data"], label="Change data set / model", icon=":material/dataset:")
        st.divider()
        _sidebar_jobs()


def theta_status_text(pipe, seed_: int) -> str:
    """'θ_o ✓ train 99.9% · test 96.1%' or 'θ_o not trained yet' — read from the store at the moment of drawing."""
    run = pipe.find_original(seed_)
    if run:
        m = run.get("metrics") or {}
        return f"θ_o ✓ train {m.get('train_acc', 0):.1f}% · test {m.get('test_acc', 0):.1f}%"
    return "θ_o not trained yet"


def _theta_status(pipe) -> None:
    """The sidebar's θ_o line. While jobs run it is re-read every few seconds (a job may train θ_o while the page
    stands still: the line said "not trained yet" while the demo's stage list showed it done, issue 22 item 8)."""
    active = manager().has_active()

    @st.fragment(run_every=POLL_S if active else None)
    def _line():
        st.caption(theta_status_text(pipe, seed()), help=style.GLOSSARY["θ_o"])

    _line()


def _sidebar_jobs() -> None:
    mgr = manager()
    active = mgr.has_active()
    st.session_state["_sidebar_polls"] = active  # watch_job reruns the page once when a job starts after this
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


# ---------------------------------------------------------------------------------------------- teaching demo
# Seconds per stage of the default demo, measured cold on the shared 2-core development box with other work on it
# (load ≈ 4; benchmarks/demo_timing.py: 395 s in all; the same demo took 127 s in the browser on a quieter box).
# Only the last resort of the ETA: the job's own estimate, its pace and earlier runs on this server come first
# (dashboard/progress.py).
DEMO_TYPICAL_S = {"original": 4, "scores": 1, "blo": 27, "sets": 1, "seed0": 23, "seeds": 129, "sweep": 211}
# Which page each tour step opens, and the demo stage that must have finished first.
STAGE_PAGE = {"original": "data", "scores": "scores", "blo": "scores", "sets": "sets", "seed0": "compare",
              "seeds": "compare", "sweep": "compare"}
TOUR_NEEDS = {"data": "original", "scores": "blo", "sets": "sets", "compare": "seed0", "runs": None,
              "summary": "seed0"}
# A reduced demo for tests and very slow machines (?demo=quick): 5 epochs, quick BLO, one seed, one extra ratio.
DEMO_VARIANTS = {
    "full": {"title": "Full demo", "config": dict(DEMO_DEFAULTS)},
    "quick": {"title": "Quick demo (5 epochs, quick BLO, 1 seed, 5% and 10%)",
              "config": {**DEMO_DEFAULTS, "setup": {"dataset": "digits", "train": {"epochs": 5},
                                                    "blo": {"upper_iters": 3, "K": 2}},
                         "seeds": [0], "sweep_ratios": [0.05]}},
}


def demo_variant() -> str:
    v = st.session_state.get("_demo_variant")
    if v is None:
        v = st.query_params.get("demo", "full")
        v = v if v in DEMO_VARIANTS else "full"
        st.session_state["_demo_variant"] = v
    return v


def demo_config(variant: str | None = None) -> dict:
    return json.loads(json.dumps(DEMO_VARIANTS[variant or demo_variant()]["config"]))


def demo_job() -> dict | None:
    """The session's demo job (the one its tour follows), else the newest demo job on this server (with log)."""
    tour = st.session_state.get("tour") or {}
    j = manager().get(tour["job"]) if tour.get("job") else None
    if j is None:
        latest = latest_job("teaching_demo")
        j = manager().get(latest["id"]) if latest else None
    return j


@st.cache_data(show_spinner=False, ttl=60)
def _demo_history(root: str, cfg_json: str) -> dict[str, float]:
    """Median stage durations of this server's earlier finished demos with the same configuration."""
    cfg = json.loads(cfg_json)
    jobs = [manager().get(j["id"]) for j in manager().list_jobs(limit=50) if j["kind"] == "teaching_demo"
            and j["status"] == "done" and {**DEMO_DEFAULTS, **(j.get("config") or {})} == cfg][:5]
    return progress.history([j for j in jobs if j], DEMO_STAGES)


def demo_stages(cfg: dict | None) -> list[tuple]:
    """The demo's stages with titles that say what this configuration runs (seeds, ratios, methods)."""
    c = {**DEMO_DEFAULTS, **(cfg or {})}
    seeds = [int(s) for s in c["seeds"]]
    methods = ", ".join(style.method_label(m) for m in c["methods"])
    sweep = ", ".join(style.ratio_label(r) for r in c["sweep_ratios"])
    titles = {
        "original": f"Train the original model θ_o ({setup_name(Setup.from_dict(c['setup']))})",
        "sets": f"Build the random, worst-case and easiest forget sets ({style.ratio_label(c['ratio'])})",
        "seed0": f"Unlearn with {methods} on random vs worst-case sets (seed {seeds[0]})",
        "seeds": (f"Repeat for seed{'s' if len(seeds) > 2 else ''} {', '.join(map(str, seeds[1:]))} (mean ± std)"
                  if len(seeds) > 1 else "Further seeds (none in this variant)"),
        "sweep": f"Ratio sweep: {sweep} forget sets" if sweep else "Ratio sweep (none in this variant)",
    }
    return [(n, titles.get(n, t), lo, hi) for n, t, lo, hi in DEMO_STAGES]


def demo_timeline(job: dict | None, cfg: dict | None = None):
    """(rows, seconds left, source) of the demo's stages (see dashboard/progress.py). Stages this configuration
    skips (one seed: no further seeds) expect no time."""
    c = {**DEMO_DEFAULTS, **(cfg or (job or {}).get("config") or demo_config())}
    typical = demo_stage_estimate(c, job)
    # one estimate for everything (issue 22): the cost model's stage times, the same the job logs and records;
    # earlier jobs on this server only inform the correction factor applied to it, not a second estimate
    k, n = estimate_correction()
    src = "cost model, calibrated on this device" + (f", × {k:.2f} = the median actual/estimate of {n} finished "
                                                     "jobs here" if n else "")
    return progress.timeline(job, demo_stages(c), typical, {}, typical_source=src)


def demo_stage_estimate(c: dict, job: dict | None = None, corrected: bool = True) -> dict[str, float]:
    """Seconds per demo stage from the cost model (the job's own estimate once it runs; before that the same
    computation here, calibrated on this device), scaled by this server's measured actual/estimate ratio unless
    ``corrected`` is False (estimate vs actual compares the job's own, uncorrected estimate)."""
    stages = ((job or {}).get("estimate") or {}).get("stages") or ((job or {}).get("result") or {}).get(
        "estimate", {}).get("stages")
    if not stages:
        est = job_estimate("teaching_demo", c)
        stages = dict(est.stages) if est is not None else dict(DEMO_TYPICAL_S)
    k, n = estimate_correction() if corrected else (1.0, 0)
    return {name: float(v) * (k if n else 1.0) for name, v in stages.items()}


def stage_done(job: dict | None, stage: str | None) -> bool:
    if stage is None:
        return True
    if job is None:
        return False
    hi = next(h for n, _, _, h in DEMO_STAGES if n == stage)
    return job["status"] == "done" or float(job["progress"] or 0) >= hi - 1e-9


TOUR_PAGE_NAMES = {"data": "Data & model", "scores": "Scores", "sets": "Forget sets", "compare": "Compare",
                   "runs": "Runs", "summary": "What we saw"}
TOUR = [
    ("data", "Step 1 · The original model",
     "The demo trained a small MLP θ_o on scikit-learn's 8×8 digits (1,437 training images). Its accuracy is "
     "shown below together with some training images. Everything that follows is measured against this model."),
    ("scores", "Step 2 · How hard is each sample to forget?",
     "Every training sample got a **loss** and an **entropy** under θ_o, and a **BLO weight**: the bi-level "
     "optimisation of Fan et al. (*Challenging Forgets*) pushes weight onto the samples that stay well fit even "
     "after fine-tuning without them. The top 10% of the weight is the **worst-case forget set**. Open the last "
     "tab below, **Hardest / easiest**: its galleries show which digits are hardest to forget — is their loss "
     "low?"),
    ("sets", "Step 3 · Random vs worst-case forget sets",
     "Here the random and the worst-case 10% sets are compared: how much they overlap, which classes they "
     "take and how their scores are distributed."),
    ("compare", "Step 4 · Does unlearning look different on the worst case?",
     "Each method unlearned both sets; every metric is shown with its gap to Retrain in brackets (mean ± sample "
     "std over the n seeds of each row). What to look for (Fan et al., *Challenging Forgets*): Retrain's UA and "
     "MIA on the worst-case set near 0, and whether relabeling methods (RL) drift away from Retrain in MIA. Judge "
     "from your numbers, not from the paper. Rows fill in as the demo's later seeds and ratios land."),
    ("runs", "Step 5 · Every step was a job",
     "Each computation ran as a background job with progress, a log, cancel and re-run, and its time estimate "
     "next to the time it took (columns estimate and actual / estimate). Results are cached: re-running the demo "
     "reuses them."),
    ("summary", "Step 6 · What we saw",
     "The demo in a few sentences, with the numbers of this run."),
]


def start_tour(job_id: str | None) -> None:
    st.session_state["tour"] = {"job": job_id, "active": True}


def tour_banner(page: str) -> None:
    """The teaching-demo guide for this page (only while the tour is on): what to look at, the demo's progress
    and a Next button that unlocks when the stage the next page needs has landed."""
    tour = st.session_state.get("tour")
    if not tour or not tour.get("active"):
        return
    names = [t[0] for t in TOUR]
    if page not in names:
        return
    i = names.index(page)
    _, title, text = TOUR[i]
    job0 = manager().get(tour["job"]) if tour.get("job") else None
    nxt = TOUR[i + 1][0] if i + 1 < len(TOUR) else None
    need = TOUR_NEEDS.get(nxt) if nxt else None
    ready = nxt is None or stage_done(job0, need) or (job0 is not None and job0["status"] not in ACTIVE)
    with st.container(border=True):
        st.markdown(f":material/school: **Teaching demo — {title}**  ({i + 1}/{len(TOUR)})")
        st.markdown(text)

        # The status is drawn with the page (no timed fragment here): while the demo runs, the sidebar's job list
        # redraws the page whenever a stage stores results, which also unlocks the Next button. A second timed
        # fragment on every tour page raced with those redraws and left the browser blank ("Bad delta path").
        job = job0
        lines = []
        if job is not None and job["status"] in ACTIVE:
            rows, left, src = demo_timeline(job)
            cur = next((r for r in rows if r.state == "running"), None)
            lines.append(f"Demo running: {md_escape(cur.title if cur else job['message'])} "
                         f"({100 * float(job['progress'] or 0):.0f}% overall"
                         + (f", about {progress.fmt_duration(left)} left, {src}" if left else "") + ").")
            if not ready and need is not None:
                r = next(r for r in rows if r.name == need)
                lines.append(f"{TOUR_PAGE_NAMES[nxt]} unlocks when “{md_escape(r.title)}” has finished"
                             + (f" (in about {progress.fmt_duration(r.left_s)})." if r.left_s else ".")
                             + ("" if st.session_state.get("live_refresh", True) else
                                " Live refresh is off: reload the page to check."))
        elif job is not None and job["status"] in ("failed", "cancelled", "interrupted"):
            lines.append(f"The demo {job['status']}; the pages show what it stored before that.")
        elif job is not None:
            lines.append("The demo has finished: every page shows its results.")
        st.caption("  \n".join(lines) or " ")  # always one element: the buttons below keep their place
        c1, c2, _ = st.columns([1.6, 1, 3])
        if nxt is not None:
            if c1.button(f"Next: {TOUR_PAGE_NAMES[nxt]} →", key=f"tour_next_{page}", type="primary",
                         disabled=not ready):
                st.switch_page(PAGES[nxt])
        elif c1.button("Back to Overview", key="tour_back", type="primary"):
            st.switch_page(PAGES["overview"])
        if c2.button("End tour", key=f"tour_end_{page}"):
            st.session_state["tour"]["active"] = False
            st.rerun()


def demo_stage_states(job: dict | None) -> list[tuple[str, str, str]]:
    """(stage name, title, state) with state in done / running / pending / failed, from the demo job's progress."""
    return [(r.name, r.title, r.state) for r in demo_timeline(job)[0]]


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
    error(str(err) if isinstance(err, ForgetsetError) else f"{type(err).__name__}: {err}")
