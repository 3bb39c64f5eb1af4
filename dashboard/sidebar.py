"""The sidebar: the active setup, θ_o's status (re-read while jobs run) and the running jobs."""
from __future__ import annotations

import time

import streamlit as st

from . import glossary
from .common import PAGES, manager, seed, setup
from .job_widgets import POLL_S, job_card
from .readers import pipeline, version
from .safety import code_span, md_escape
from .widgets import error


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
        st.caption(theta_status_text(pipe, seed()), help=glossary.GLOSSARY["θ_o"])

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
