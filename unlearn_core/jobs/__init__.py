"""Background jobs (no Streamlit here): the runtime (:mod:`.runtime`), the job-kind registry
(:mod:`.registry`), the project's kinds (:mod:`.kinds`) and the teaching demo (:mod:`.demo`).

A *job* is ``(kind, config)``: ``kind`` names a registered function and ``config`` is a JSON-serialisable dict
(with a ``setup``: :meth:`Setup.to_dict <unlearn_core.config.Setup.to_dict>`). Everything a job computes goes
through a :class:`~unlearn_core.pipeline.Pipeline` into the :class:`~unlearn_core.store.Store`, so a job can be
re-created from its record ("re-run") and its results outlive it.
"""
from __future__ import annotations

from .registry import JOB_KINDS, JobEnv, JobKind, execute_job, get_job_kind, load_all, register_job_kind
from .runtime import ACTIVE, TERMINAL, JobExecutor, JobHandle, JobManager, LocalThreadExecutor

load_all()  # the project's job kinds: every module of this package that registers one (discovery)

__all__ = ["JOB_KINDS", "JobEnv", "JobKind", "execute_job", "get_job_kind", "register_job_kind",
           "load_all", "ACTIVE", "TERMINAL", "JobExecutor", "JobHandle", "JobManager", "LocalThreadExecutor"]
