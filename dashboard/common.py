"""The session and its URL state: the store and job manager (one per server), the session's active setup and seed,
URL parameters in and out, and widget values kept across pages. Cached readers of results are in
``dashboard.readers``, job widgets in ``dashboard.job_widgets``, the sidebar in ``dashboard.sidebar`` and the
teaching demo's tour in ``dashboard.tour``."""
from __future__ import annotations

import json
import uuid
from typing import Any

import streamlit as st

from unlearn_core.config import Setup
from unlearn_core.config import setup_name as config_setup_name
from unlearn_core.errors import ForgetsetError
from unlearn_core.validation import MAX_SEED  # the one seed range (numpy's and torch's: 0..2^32-1)
from unlearn_core.jobs import JobManager
from unlearn_core.store import Store, default_cache_dir

from . import safety
from .pages import PAGES  # noqa: F401 - re-exported: links use common.PAGES[key]

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
