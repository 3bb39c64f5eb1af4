"""The teaching demo and its tour: the demo's variants, stage titles and timeline (the cost model's stage
estimates, corrected by this server's measured actual/estimate), and the guide shown on each tour page."""
from __future__ import annotations

import json

import streamlit as st

from unlearn_core.config import Setup
from unlearn_core.jobs import ACTIVE
from unlearn_core.jobs.demo import DEMO_DEFAULTS, DEMO_STAGES

from . import progress, style
from .common import PAGES, manager, setup_name
from .estimates import estimate_correction, job_estimate
from .readers import latest_job
from .safety import md_escape


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
     "next to the time it took (columns estimate and act./est. = actual / estimate). Results are cached: re-running the demo "
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
