"""Time estimates shown by the dashboard.

Every job kind the cost model knows (experiment, teaching demo, tune, θ_o, score, forget set, entanglement, "why
hard") is estimated by the same code as the CLI: :func:`unlearn_core.jobs.estimate.estimate_job` on top of
``unlearn_core.grid_estimate.estimate_grid`` (calibrated on this device, before the first run). :func:`job_text` formats it,
with the median actual/estimate ratio of this server's finished jobs when there are some (each finished job keeps
its estimate next to its actual time). Only the coreset curves (models trained on a kept fraction, no grid unit
for them in the cost model) still use the median times of earlier runs (:func:`coreset_estimate`)."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from unlearn_core.config import setup_key

from . import progress


@dataclass
class Estimate:
    seconds: float = 0.0
    steps: dict[str, int] = field(default_factory=dict)  # what will be computed: {"θ_o": 2, "BLO": 3, ...}
    unknown: dict[str, int] = field(default_factory=dict)  # steps with no timing history (not in seconds)
    basis: int = 0  # timed runs the estimate rests on

    def add(self, what: str, count: int, each: float | None, n_basis: int) -> None:
        if count <= 0:
            return
        self.steps[what] = self.steps.get(what, 0) + count
        if each is None:
            self.unknown[what] = self.unknown.get(what, 0) + count
        else:
            self.seconds += count * each
            self.basis += n_basis

    def text(self) -> str:
        """'about 12 min (θ_o ×2, BLO ×3, 24 coreset models; from 31 timed runs on this server)'."""
        if not self.steps:
            return "Everything is already cached: it finishes in seconds."
        parts = ", ".join(f"{k} ×{v}" for k, v in self.steps.items())
        out = []
        if self.basis:
            took = "Under a second" if self.seconds < 1 else f"About {progress.fmt_duration(self.seconds)}"
            out.append(took + (" for the timed part" if self.unknown else "")
                       + f" (median times of {self.basis} earlier runs on this server)")
        if self.unknown:
            out.append(("no" if out else "No") + " timing yet for " + ", ".join(f"{k} ×{v}" for k, v in self.unknown.items())
                       + " (nothing of that kind has run on this setup yet)")
        return f"To compute: {parts}. " + "; ".join(out) + "."


def history(store, pipe) -> dict[tuple, list[float]]:
    """{(kind, what): [seconds, …]} of finished runs of this setup (key 'setup') and of its data set + model (key
    'family'), where ``what`` is the method, the score or '' (θ_o, coreset points)."""
    out: dict[tuple, list[float]] = {}
    for r in store.list_runs(status="done"):
        c, t = r["config"], (r.get("timings") or {})
        secs = t.get("total_s") or t.get("train_s") or t.get("score_s") or t.get("runtime_s")
        if not secs or c.get("dataset") != pipe.dataset_name or c.get("model") != pipe.model_name:
            continue
        if (c.get("imported_from") or (r.get("metrics") or {}).get("imported")):
            continue
        what = c.get("method") or c.get("score") or ""
        try:
            scope = "setup" if setup_key(c) == pipe.setup_key else "family"
        except Exception:  # noqa: BLE001 - an odd old config only loses its timing
            scope = "family"
        out.setdefault((scope, r["kind"], what), []).append(float(secs))
    return out


def typical(hist: dict, kind: str, what: str = "") -> tuple[float | None, int]:
    """(median seconds, number of runs) for a step, preferring runs of the same setup."""
    for scope in ("setup", "family"):
        v = hist.get((scope, kind, what))
        if v:
            return statistics.median(v), len(v)
    return None, 0


def coreset_estimate(pipe, strategies: list[str], fractions: list[float], seeds: list[int], hist,
                     stored) -> Estimate:
    """Time of the coreset curves: θ_o per seed, the BLO per kept fraction and seed for worst-case strategies,
    EL2N/GraNd scores per seed, and one model trained from scratch per (strategy, fraction, seed) not stored."""
    from unlearn_core.analysis.coreset import strategy_selector
    from unlearn_core.selectors import parse_selector

    est = Estimate()
    each, n = typical(hist, "original")
    est.add("θ_o", sum(1 for s in seeds if pipe.find_original(s) is None), each, n)
    have = set()
    if stored is not None and len(stored):
        have = {(r.strategy, round(float(r.kept_fraction), 6), int(r.seed)) for r in stored.itertuples()}
    scores_needed: dict[tuple, int] = {}
    models = 0
    model_s = 0.0
    for strat in strategies:
        sel, _ = strategy_selector(strat)
        for f in fractions:
            for s in seeds:
                if (strat, round(float(f), 6), int(s)) in have:
                    continue
                models += 1
                if each is not None:
                    model_s += each * float(f)  # a coreset model trains on the kept fraction only
                for name, _ in parse_selector(sel).needs_scores():
                    ratio = round(1 - float(f), 10) if name == "blo" else None
                    if pipe.find_score(name, s, ratio) is None:
                        scores_needed[(name, s, ratio)] = 1
    for name in sorted({k[0] for k in scores_needed}):
        cnt = sum(1 for k in scores_needed if k[0] == name)
        e, k = typical(hist, "score", name)
        est.add("BLO" if name == "blo" else f"score {name}", cnt, e, k)
    if models:
        est.steps["coreset models"] = models
        if each is None:
            est.unknown["coreset models"] = models
        else:
            est.seconds += model_s
            est.basis += n
    return est


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
