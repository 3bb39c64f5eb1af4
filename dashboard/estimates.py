"""Honest time estimates for the forms that launch work (Experiments, Coreset curves), from what this server
has measured: the median ``total_s`` of earlier runs of the same kind on the same setup (falling back to the same
data set and model with any recipe). Nothing is guessed silently: every estimate names how many timed runs it
rests on, and a step with no history is counted and named instead of timed."""
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


def experiment_estimate(pipe, spec, status, hist) -> Estimate:
    """Time of an experiment grid: θ_o per seed, the scores its selectors need per (seed, ratio), and every
    unlearning run not cached (``status`` from grid_status)."""
    from unlearn_core.selectors import parse_selector

    est = Estimate()
    seeds_missing = [s for s in spec.seeds if pipe.find_original(s) is None]
    each, n = typical(hist, "original")
    est.add("θ_o", len(seeds_missing), each, n)
    for sel in spec.selectors:
        for name, _ in parse_selector(sel).needs_scores():
            missing = sum(1 for s in spec.seeds for r in spec.ratios
                          if pipe.find_score(name, s, r if name == "blo" else None) is None)
            each, n = typical(hist, "score", name)
            est.add("BLO" if name == "blo" else f"score {name}", missing, each, n)
    todo = status[~status["cached"]] if len(status) else status
    for method, k in todo.groupby("method").size().items() if len(todo) else []:
        each, n = typical(hist, "unlearn", method)
        from .style import method_label

        est.add(f"{method_label(method)} runs", int(k), each, n)
    return est


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
