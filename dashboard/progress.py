"""Stage timelines and time estimates of jobs (no Streamlit here; tested directly).

A job reports progress as (fraction, message) and log lines ``"HH:MM:SS  message"``. From that this module
derives, for a staged job such as the teaching demo, when each stage started and ended, and an estimate of what
is left, from the best source available:

1. an estimate the job reports itself: a job field ``estimate`` (``{"remaining_s": …}``, ``{"total_s": …}`` or
   ``{"stages": {name: seconds}}``), or an "ETA 3 min" / "about 40 s left" in its progress message or log;
2. the job's own pace: stages already finished compared with how long they usually take;
3. how long the stages took in earlier runs of the same job on this server (their logs);
4. typical durations measured on a 2-core laptop-class CPU (``typical``), as the last resort.

Every estimate says which source it came from, so the page can say "reported by the job" or "at the current pace".
"""
from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass

_LOG_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\s+(.*)$")
_STAGE = re.compile(r"^stage (\d+)/(\d+)\b")
_UNIT = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60, "minute": 60,
         "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600}
_ETA_PATTERNS = [
    re.compile(r"\b(?:ETA|eta|remaining|left)\s*[:=~≈]?\s*(?:about\s+|~|≈)?(\d+(?:\.\d+)?)\s*"
               r"(h|hr|hours?|min|mins|minutes?|m|s|sec|secs|seconds?)\b"),
    re.compile(r"(?:about\s+|~|≈)?(\d+(?:\.\d+)?)\s*(h|hr|hours?|min|mins|minutes?|m|s|sec|secs|seconds?)\s+"
               r"(?:left|remaining|to go)\b"),
]


def parse_eta(text: str | None) -> float | None:
    """Seconds left from a message such as 'ETA 3 min', 'eta: 40s', 'about 2 min left'; None if none is given."""
    if not text:
        return None
    for pat in _ETA_PATTERNS:
        m = pat.search(str(text))
        if m:
            return float(m.group(1)) * _UNIT[m.group(2).lower()]
    return None


def reported_estimate(job: dict) -> tuple[float | None, dict[str, float]]:
    """(seconds left for the whole job, {stage: seconds}) as reported by the job itself, if it reports any."""
    est = job.get("estimate")
    stages: dict[str, float] = {}
    left = None
    if isinstance(est, (int, float)) and est == est:
        left = float(est)
    elif isinstance(est, dict):
        for k in ("remaining_s", "eta_s", "left_s"):
            if isinstance(est.get(k), (int, float)):
                left = float(est[k])
                break
        if left is None and isinstance(est.get("total_s"), (int, float)) and job.get("started"):
            left = max(0.0, float(est["total_s"]) - (time.time() - float(job["started"])))
        if isinstance(est.get("stages"), dict):
            stages = {str(k): float(v) for k, v in est["stages"].items() if isinstance(v, (int, float))}
    if left is None:
        left = parse_eta(job.get("message"))
    if left is None:
        for line in reversed((job.get("log") or [])[-20:]):
            m = _LOG_LINE.match(line)
            left = parse_eta(m.group(4) if m else line)
            if left is not None:
                break
    return left, stages


def _log_times(job: dict) -> list[tuple[float, str]]:
    """(absolute time, message) of the job's log lines; the clock times are anchored at the job's start."""
    start = job.get("started") or job.get("created")
    if not start:
        return []
    base = time.localtime(start)
    day0 = time.mktime((base.tm_year, base.tm_mon, base.tm_mday, 0, 0, 0, 0, 0, -1))
    out, offset, last = [], 0.0, None
    for line in job.get("log") or []:
        m = _LOG_LINE.match(line)
        if not m:
            continue
        t = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
        t_abs = day0 + t + offset
        if t_abs < (last if last is not None else start) - 3600:  # the clock passed midnight
            offset += 86400
            t_abs += 86400
        last = t_abs
        out.append((t_abs, m.group(4)))
    return out


def stage_marks(job: dict, n_stages: int) -> dict[int, float]:
    """{stage number (0-based): time it started} from 'stage k/n: …' log lines."""
    marks: dict[int, float] = {}
    for t, msg in _log_times(job):
        m = _STAGE.match(msg)
        if m and int(m.group(2)) == n_stages:
            marks.setdefault(int(m.group(1)) - 1, t)
    return marks


def stage_durations(job: dict, stages: list[tuple]) -> dict[str, float]:
    """Seconds each finished stage of a finished (or running) job took, from its log."""
    marks = stage_marks(job, len(stages))
    end = job.get("finished")
    out = {}
    for i, st in enumerate(stages):
        if i not in marks:
            continue
        later = [marks[k] for k in range(i + 1, len(stages)) if k in marks]  # a skipped stage logs no mark
        nxt = later[0] if later else (end if job.get("status") == "done" else None)
        if nxt is not None:
            out[st[0]] = max(0.0, nxt - marks[i])
    return out


def history(jobs: list[dict], stages: list[tuple]) -> dict[str, float]:
    """Median duration of each stage over earlier finished runs (stages served from the cache are skipped)."""
    per: dict[str, list[float]] = {}
    for j in jobs:
        if j.get("status") != "done":
            continue
        for k, v in stage_durations(j, stages).items():
            if v >= 5:  # a stage served from the cache says nothing about a cold run
                per.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in per.items() if v}


@dataclass
class StageRow:
    name: str
    title: str
    state: str  # done | running | pending | failed | cancelled | interrupted
    took_s: float | None = None  # finished stages
    elapsed_s: float | None = None  # the running stage
    left_s: float | None = None  # running / pending: seconds until this stage is done
    fraction: float = 0.0  # progress inside the stage (0..1)


def timeline(job: dict | None, stages: list[tuple], typical: dict[str, float],
             past: dict[str, float] | None = None, now: float | None = None,
             typical_source: str = "typical on a busy 2-core CPU") -> tuple[list[StageRow], float | None, str]:
    """Rows for every stage, the seconds left for the whole job and where the estimate comes from.

    ``stages``: (name, title, progress lo, progress hi). ``typical``: fallback seconds per stage; ``past``: from
    :func:`history`."""
    now = time.time() if now is None else now
    base = {**typical, **(past or {})}
    source = "earlier runs on this server" if past else typical_source
    if job is None:
        rows = [StageRow(n, t, "pending", left_s=None) for n, t, *_ in stages]
        acc = 0.0
        for r in rows:
            acc += base.get(r.name, 0.0)
            r.left_s = acc
        return rows, acc, source
    status = job.get("status")
    p = float(job.get("progress") or 0.0)
    marks = stage_marks(job, len(stages))
    rows: list[StageRow] = []
    done_actual = done_typical = 0.0
    for i, (name, title, lo, hi) in enumerate(stages):
        if status == "done" or p >= hi - 1e-9:
            state = "done"
        elif p >= lo - 1e-9:
            state = "running" if status in ("queued", "running") else status
        else:
            state = "pending"
        row = StageRow(name, title, state, fraction=0.0 if hi <= lo else min(1.0, max(0.0, (p - lo) / (hi - lo))))
        if state == "done":
            row.fraction = 1.0
            later = [marks[k] for k in range(i + 1, len(stages)) if k in marks]  # a skipped stage logs no mark
            start, end = marks.get(i), (later[0] if later else job.get("finished"))
            if start is not None and end is not None:
                row.took_s = max(0.0, end - start)
                if name in base and base[name] >= 5:
                    done_actual += row.took_s
                    done_typical += base[name]
        elif state == "running" and i in marks:
            row.elapsed_s = max(0.0, now - marks[i])
        rows.append(row)
    if status not in ("queued", "running"):
        return rows, None if status != "done" else 0.0, source
    pace = min(5.0, max(0.2, done_actual / done_typical)) if done_typical > 0 else 1.0
    left_total, reported_stages = reported_estimate(job)
    acc = 0.0
    for r in rows:
        if r.state == "done":
            continue
        expect = reported_stages.get(r.name, base.get(r.name, 0.0) * pace)
        if r.state == "running":
            el = r.elapsed_s or 0.0
            if r.fraction >= 0.15 and el > 3:
                left = el * (1 - r.fraction) / r.fraction  # the stage's own pace
            else:
                left = max(expect - el, 0.25 * expect, 3.0)
            acc += left
        else:
            acc += expect
        r.left_s = acc
    if left_total is not None:
        if acc > 0:  # scale the per-stage figures to the job's own estimate
            for r in rows:
                if r.left_s is not None:
                    r.left_s *= left_total / acc
        return rows, left_total, "reported by the job"
    if pace != 1.0:
        source = "at this run's pace"
    return rows, acc, source


def fmt_duration(seconds: float | None) -> str:
    """'2.6 s', '45 s', '3 min', '1 h 5 min'; '' for None. Under 10 s one decimal: the quick demo takes ~2 s, and
    whole seconds turned a 2.4 s estimate into "2 s" or a 2.6 s one into "3 s" (up to 1.25× off by rounding alone)."""
    if seconds is None or seconds != seconds:
        return ""
    s = max(0.0, float(seconds))
    if s < 10:
        return f"{s:.1f} s"
    if s < 90:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min" if s >= 600 else f"{s / 60:.1f} min"
    return f"{int(s // 3600)} h {int(s % 3600 / 60)} min"
