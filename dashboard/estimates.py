"""Time estimates shown by the dashboard.

Every job kind the cost model knows (experiment, teaching demo, tune, θ_o, score, forget set, entanglement, "why
hard", coreset curves, composition, embeddings) is estimated by the same code as the CLI: :func:`unlearn_core.jobs.estimate.estimate_job` on top of
``unlearn_core.grid_estimate.estimate_grid`` (calibrated on this device, before the first run). :func:`job_text` formats it,
with the median actual/estimate ratio of this server's finished jobs when there are some (each finished job keeps
its estimate next to its actual time)."""
from __future__ import annotations

import json
import statistics

import streamlit as st

from unlearn_core.errors import ForgetsetError
from unlearn_core.jobs.estimate import estimate_job

from . import progress
from .common import cache_root, manager, store
from .readers import version


def actual_vs_estimate(jobs: list[dict]) -> list[tuple[str, float, float]]:
    """(kind, estimate s, actual s) of finished jobs that recorded both (result fields ``estimate``, ``actual_s``)."""
    out = []
    for j in jobs:
        r = j.get("result") or {}
        est, act = (r.get("estimate") or {}), r.get("actual_s")
        if j.get("status") == "done" and isinstance(act, (int, float)) and isinstance(est.get("total_s"), (int, float)):
            out.append((j["kind"], float(est["total_s"]), float(act)))
    return out


def correction(jobs: list[dict], min_s: float = 2.0) -> tuple[float, int]:
    """(median actual/estimate, n) over finished jobs whose estimate was at least ``min_s`` (1.0, 0 without any)."""
    ratios = [a / e for _, e, a in actual_vs_estimate(jobs) if e >= min_s]
    return (statistics.median(ratios), len(ratios)) if ratios else (1.0, 0)


def job_text(est, corr: tuple[float, int] = (1.0, 0)) -> str:
    """'≈ 52 s on this CPU (cost model, calibrated on this device; 14 units to compute)' plus, when finished jobs
    measured it, the corrected figure: '; measured jobs here ran 1.3× the model (median of 6): ≈ 68 s'."""
    if est is None:
        return "No estimate for this kind of job."
    text = est.summary()
    k, n = corr
    if n and est.total_s > 0 and abs(k - 1) > 0.1:
        text += (f"; jobs finished on this server took {k:.2f}× their estimate (median of {n}), so expect "
                 f"≈ {progress.fmt_duration(k * est.total_s)}")
    return text


@st.cache_data(show_spinner=False, max_entries=64)
def _job_estimate(root: str, kind: str, config_json: str, ver: tuple):
    return estimate_job(kind, json.loads(config_json), store())


def job_estimate(kind: str, config: dict):
    """The cost model's estimate (``JobEstimate``) of a job before it is submitted — the same numbers the job logs
    and records when it runs, and the CLI prints for a grid; None for kinds it does not model."""
    try:
        return _job_estimate(cache_root(), kind, json.dumps(config, sort_keys=True, default=str), version())
    except (ForgetsetError, LookupError, OSError, ValueError):
        return None


def estimate_correction() -> tuple[float, int]:
    """Median actual/estimate of this server's finished jobs (1.0, 0 when none recorded both)."""
    return correction(manager().list_jobs(limit=100))
