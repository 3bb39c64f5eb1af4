"""Time estimates of jobs, from the one cost model (:mod:`unlearn_core.cost`), for every job kind that computes.

The CLI prints ``grid_estimate.estimate_grid(spec).summary()`` before a grid; a job gets the same number: an experiment is
its grid, the teaching demo is the grids of its stages, a score / θ_o / forget-set / entanglement / "why hard" job
is the units it would add to the store. Units already stored cost nothing. The estimate is computed before the job
runs (calibrated on this device: a few timed batches, cached per process and in the store for a day), shown by the
dashboard before the first run, logged when the job starts and stored with its result next to the actual time.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from .. import cost
from ..analysis.composition import composition
from ..analysis.embeddings import embedding
from ..config import Setup, forget_count
from ..grid_estimate import estimate_grid
from ..grid_stages import Unit, get_stage
from ..selectors import parse_selector

ENTANGLEMENT_SET_S = 0.02  # ES of one set from stored features: a variance over its rows (measured well under 0.1 s)
# UMAP of n points costs UMAP_PER_POINT_PROBES · n^UMAP_EXPONENT CPU probes (one probe = the cost model's RBF SVC fit,
# ``cost.Calibration.svc_s_per_kpair``, timed on this device when the estimate is made), plus UMAP_FIRST_PROBES for
# the first UMAP of a process (import + numba compilation). Measured side by side by benchmarks/embedding_cost.py.
UMAP_EXPONENT = 1.35
UMAP_PER_POINT_PROBES = 0.0152  # median over n = 500, 1000, 1437 (ratios 0.0183, 0.0125, 0.0152)
UMAP_FIRST_PROBES = 1400.0  # 46.8 s at a 0.0333 s probe on the 2-core development box under load


@dataclass
class JobEstimate:
    """Seconds a job should take on this device (``total_s``), per stage where the job has stages."""

    total_s: float
    stages: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    units: int = 0  # units still to compute
    note: str = ""

    def summary(self) -> str:
        where = "GPU" if self.device.startswith("cuda") else "CPU"
        if self.total_s <= 0:
            return "already stored: it finishes in seconds"
        took = "under a second" if self.total_s < 1 else f"≈ {cost.fmt_seconds(self.total_s)}"
        return (f"{took} on this {where} (cost model, calibrated on this device"
                + (f"; {self.units} units to compute" if self.units else "") + (f"; {self.note}" if self.note else "")
                + ")")

    @classmethod
    def of(cls, est: cost.Estimate) -> "JobEstimate":
        """A job's view of a grid's estimate (:class:`unlearn_core.cost.Estimate`, per unit): its total, per stage."""
        return cls(est.seconds, est.by_stage(), est.calibration.device, sum(not u.cached for u in est.units))

    def as_dict(self) -> dict:
        return {"total_s": float(self.total_s), "stages": {k: float(v) for k, v in self.stages.items()},
                "device": self.device, "units": int(self.units), "summary": self.summary()}


def _pipe(store, setup: dict | Setup | None, pipe=None):
    from ..pipeline import Pipeline

    if pipe is not None:
        return pipe
    s = setup if isinstance(setup, Setup) else Setup.from_dict(setup or {})
    return Pipeline(store, s)


def _score_seconds(pipe, cal, name: str, seed: int, ratio: float | None, params: dict | None = None) -> float:
    """Seconds of one score (0 when stored), with θ_o's training when that is missing too: the grid's score stage."""
    unit = Unit("score", seed, score=name, ratio=ratio, params=json.dumps(params or {}, sort_keys=True))
    c = get_stage("score").cost(pipe, unit, cal)
    if c.cached:
        return 0.0
    factor, _ = cost.loop_calibration(pipe, cal)
    return c.seconds * factor + _original_seconds(pipe, cal, seed)


def _original_seconds(pipe, cal, seed: int) -> float:
    """Seconds of θ_o (0 when stored): the grid's original stage, with the loop factor and unit overhead."""
    c = get_stage("original").cost(pipe, Unit("original", seed), cal)
    if c.cached:
        return 0.0
    factor, overhead = cost.loop_calibration(pipe, cal)  # as estimate_grid does for its units
    return c.seconds * factor + overhead


def _forward_seconds(pipe, cal) -> float:
    return pipe.ds.n_train * cal.eval_s_per_sample


def grid_estimate(spec, store, pipe=None) -> JobEstimate:
    return JobEstimate.of(estimate_grid(spec, store, pipe))


def demo_estimate(config: dict, store, pipe=None) -> JobEstimate:
    """The teaching demo's stages (unlearn_core.jobs.demo.DEMO_STAGES) from the cost model: θ_o, loss + entropy,
    BLO, the sets, then the grids of seed 0, the other seeds and the sweep ratios."""
    from ..grid import ExperimentSpec
    from .demo import demo_config

    c = demo_config(config)
    seeds = [int(s) for s in c["seeds"]]
    ratio = float(c["ratio"])
    sweep = [float(r) for r in c["sweep_ratios"]]
    setup = Setup.from_dict(c["setup"])
    pipe = _pipe(store, setup, pipe)
    spec = ExperimentSpec(setup=setup, methods=list(c["methods"]), selectors=list(c["selectors"]),
                          ratios=[ratio, *sweep], seeds=seeds)
    est = estimate_grid(spec, store, pipe)
    cal = est.calibration
    stages = {name: 0.0 for name in ("original", "scores", "blo", "sets", "seed0", "seeds", "sweep")}
    units = 0
    for u in est.units:
        if u.cached:
            continue
        units += 1
        seed, r = u.seed, u.ratio
        at_ratio = r is None or abs(r - ratio) < 1e-9
        if seed == seeds[0] and at_ratio and u.stage in ("original", "score", "forget_set"):
            stage = {"original": "original", "score": "blo", "forget_set": "sets"}[u.stage]
        elif seed == seeds[0] and at_ratio:
            stage = "seed0"
        elif at_ratio:
            stage = "seeds"
        else:
            stage = "sweep"
        stages[stage] += u.seconds
    for name in ("loss", "entropy"):
        stages["scores"] += _score_seconds(pipe, cal, name, seeds[0], None) - _original_seconds(pipe, cal, seeds[0])
    stages["sets"] += 0.05 if pipe.find_forget_set("easiest", ratio, seeds[0]) is None else 0.0
    return JobEstimate(sum(stages.values()), stages, cal.device, units)


def estimate_job(kind: str, config: dict, store, pipe=None) -> JobEstimate | None:
    """The cost model's estimate of a job (None for kinds it does not model: checkpoint import, test kinds)."""
    config = config or {}
    if kind == "experiment":
        from ..grid import ExperimentSpec

        return grid_estimate(ExperimentSpec.from_dict(config.get("spec")), store, pipe)
    if kind == "teaching_demo":
        return demo_estimate(config, store, pipe)
    if kind == "tune":
        from ..tuning import TuneSpec, estimate_tuning

        return JobEstimate.of(estimate_tuning(TuneSpec.from_dict(config), store, pipe))
    if kind == "run_metrics":
        return run_metrics_estimate(config, store)
    if kind not in ("train_original", "score", "forget_set", "view_entanglement", "view_why_hard", "view_coreset",
                    "view_composition", "view_embedding"):
        return None
    pipe = _pipe(store, config.get("setup"), pipe)
    cal = cost.calibrate(pipe)
    seed = int(config.get("seed", 0) or 0)
    if kind == "train_original":
        return JobEstimate(_original_seconds(pipe, cal, seed), device=cal.device)
    if kind == "score":
        from ..scores import get_score

        name = config["score"]
        ratio = config.get("ratio") if get_score(name).depends_on_ratio else None
        return JobEstimate(_score_seconds(pipe, cal, name, seed, ratio, config.get("params")), device=cal.device)
    if kind == "forget_set":
        from ..selectors import parse_selector

        sel = parse_selector(config["selector"])
        ratio = None if sel.class_wise else config.get("ratio")
        s = sum(_score_seconds(pipe, cal, name, seed, ratio if by_ratio else None)
                for name, by_ratio in sel.needs_scores())
        return JobEstimate(s, device=cal.device)
    if kind == "view_composition":
        return composition_estimate(pipe, cal, config)
    if kind == "view_embedding":
        return embedding_estimate(pipe, cal, config)
    if kind == "view_coreset":
        return coreset_estimate(pipe, cal, [float(f) for f in config["fractions"]],
                                [int(x) for x in (config.get("seeds") or [seed])], config.get("strategies"))
    if kind == "view_entanglement":
        from ..analysis.entanglement import entanglement_frame

        frame = entanglement_frame(pipe, compute_if_missing=False)
        todo = frame[frame["es"].isna()] if len(frame) else frame
        seeds = sorted({int(s) for s in todo["seed"]}) if len(todo) else []
        s = len(seeds) * _forward_seconds(pipe, cal) + len(todo) * ENTANGLEMENT_SET_S
        return JobEstimate(s, device=cal.device, note=f"{len(todo)} sets")
    # view_why_hard: the set's missing scores, then its ES and that of the random reference sets
    from ..analysis.hardness import why_hard

    why = why_hard(pipe, _set_key(pipe, config), compute_if_missing=False)
    if why is None:
        return JobEstimate(0.0, device=cal.device)
    s = 0.0
    ratio = config.get("ratio")
    for q in why.missing:
        if q.startswith("entanglement"):
            s += _forward_seconds(pipe, cal) + (1 + _n_reference()) * ENTANGLEMENT_SET_S
        else:
            s += _score_seconds(pipe, cal, q, seed, ratio if q == "blo" else None)
    return JobEstimate(s, device=cal.device, note=f"missing: {', '.join(why.missing)}" if why.missing else "")


def run_metrics_estimate(config: dict, store) -> JobEstimate | None:
    """On-demand metrics of stored runs (the MIA variants): one SVC fit per missing value, each as long as the
    run's own confidence fit took when it was made (``results.on_demand_todo``); None where a run lacks that timing."""
    import pandas as pd

    from ..results import metric_records, on_demand_todo, run_row

    later = metric_records(store)
    runs = [r for r in (store.done_run(k) for k in config.get("run_keys") or []) if r is not None]
    frame = pd.DataFrame([run_row(r, later.get(r["key"])) for r in runs])
    n, seconds = on_demand_todo(store, frame, list(config.get("metrics") or [])) if len(frame) else (0, 0.0)
    if seconds is None:
        return None
    return JobEstimate(seconds, note=f"{n} SVC fits, each timed by its run's own MIA fit")


def _set_key(pipe, config: dict) -> str | None:
    run = pipe.find_forget_set(config["selector"], config.get("ratio"), int(config.get("seed", 0) or 0))
    return run["key"] if run else None


def _n_reference() -> int:
    import inspect

    from ..analysis.hardness import why_hard

    return int(inspect.signature(why_hard).parameters["n_reference"].default)


def describe(est: dict | None, actual_s: float | None) -> str:
    """'took 41 s · estimate 37 s (actual/estimate 1.11)' from a stored estimate dict and the actual seconds."""
    if not est or actual_s is None:
        return ""
    e = float(est.get("total_s") or 0.0)
    ratio = f" (actual/estimate {actual_s / e:.2f})" if e > 0 else ""
    return f"took {cost.fmt_seconds(actual_s)} · estimate {cost.fmt_seconds(e)}{ratio}"


def dumps(est: JobEstimate | None) -> str:
    return json.dumps(est.as_dict() if est else None)


def coreset_estimate(pipe, cal, fractions: list[float], seeds: list[int], strategies: list[str] | None) -> JobEstimate:
    """Coreset curves (Fan et al.'s Fig. 3): θ_o per seed, each missing score once (BLO per kept fraction), and one
    model trained from scratch on the kept fraction per (strategy, fraction, seed) not stored — the same passes and
    calibration as every other estimate."""
    from ..analysis.coreset import default_strategies, stored_points, strategy_selector
    from ..selectors import parse_selector

    strategies = list(strategies) if strategies else list(default_strategies())
    stored = stored_points(pipe)
    have = ({(r.strategy, round(float(r.kept_fraction), 6), int(r.seed)) for r in stored.itertuples()}
            if len(stored) else set())
    factor, overhead = cost.loop_calibration(pipe, cal)
    n, epochs = pipe.ds.n_train, pipe.train_cfg.epochs
    originals = sum(_original_seconds(pipe, cal, s) for s in seeds)
    scores: dict[tuple, float] = {}
    models, model_s = 0, 0.0
    for strat in strategies:
        sel, _ = strategy_selector(strat)
        for f in fractions:
            for s in seeds:
                if (strat, round(f, 6), s) in have:
                    continue
                models += 1
                model_s += (epochs * f * n * cal.train_s_per_sample
                            + n * cost.EVAL_PASS * cal.eval_s_per_sample) * factor + overhead
                for name, _ in parse_selector(sel).needs_scores():
                    ratio = round(1 - f, 10) if name == "blo" else None
                    if (name, s, ratio) not in scores:  # θ_o is counted once above, not per score
                        scores[(name, s, ratio)] = max(_score_seconds(pipe, cal, name, s, ratio)
                                                       - _original_seconds(pipe, cal, s), 0.0)
    stages = {"θ_o": originals, "scores": sum(scores.values()), "coreset models": model_s}
    return JobEstimate(sum(stages.values()), stages, cal.device, models, note=f"{models} coreset models")


def _forget_set_seconds(pipe, cal, selector: str, ratio: float | None, seed: int) -> float:
    """Seconds to build one forget set (0 when stored): θ_o once, then each score it needs that is missing."""
    sel = parse_selector(selector)
    ratio = None if sel.class_wise else ratio
    if pipe.find_forget_set(selector, ratio, seed) is not None:
        return 0.0
    theta = _original_seconds(pipe, cal, seed)
    scores = sum(max(_score_seconds(pipe, cal, name, seed, ratio if by_ratio else None) - theta, 0.0)
                 for name, by_ratio in sel.needs_scores())
    return theta + scores


def composition_estimate(pipe, cal, config: dict) -> JobEstimate:
    """Group composition (Fan et al.'s Fig. 4): the forget sets it needs (θ_o per seed, the scores, e.g. BLO for
    the worst case) — counting the groups afterwards is a bincount, free next to them. 0 when stored."""
    selectors = [str(s) for s in config.get("selectors") or []]
    seeds = [int(s) for s in (config.get("seeds") or [int(config.get("seed", 0) or 0)])]
    ratio = config.get("ratio", 0.1)
    ratio = None if ratio is None else float(ratio)
    if composition(pipe, selectors, ratio, seeds, config.get("attribute"), compute_if_missing=False) is not None:
        return JobEstimate(0.0, device=cal.device)
    stages: dict[str, float] = {}
    for seed in seeds:
        theta = _original_seconds(pipe, cal, seed)
        sets = sum(max(_forget_set_seconds(pipe, cal, sel, ratio, seed) - theta, 0.0) for sel in selectors)
        stages[f"seed {seed}"] = theta + sets
    return JobEstimate(sum(stages.values()), stages, cal.device, note=f"{len(selectors) * len(seeds)} forget sets")


def embedding_estimate(pipe, cal, config: dict) -> JobEstimate:
    """A 2-D projection of a model's penultimate features: θ_o if it is the model and missing, one forward pass
    over the points, then PCA (negligible) or UMAP (CPU probes, see UMAP_PER_POINT_PROBES). 0 when stored."""
    reducer = str(config.get("reducer", "umap"))
    seed = int(config.get("seed", 0) or 0)
    m = config.get("model", "original")
    model = "original" if m in (None, "original") else tuple(m)  # as the job reads it (kinds.model_from_config)
    max_points = config.get("max_points", 10000)
    if embedding(pipe, model, reducer, "train", seed, config.get("params") or None, max_points,
                 compute_if_missing=False) is not None:
        return JobEstimate(0.0, device=cal.device)
    n = pipe.ds.n_train if max_points is None else min(int(max_points), pipe.ds.n_train)
    stages = {"θ_o": _original_seconds(pipe, cal, seed) if model == "original" else 0.0,
              "features": n * cal.eval_s_per_sample, "projection": 0.0}
    if reducer == "umap":
        first = 0.0 if "umap" in sys.modules else UMAP_FIRST_PROBES  # a process compiles UMAP once
        stages["projection"] = cal.svc_s_per_kpair * (UMAP_PER_POINT_PROBES * n ** UMAP_EXPONENT + first)
    return JobEstimate(sum(stages.values()), stages, cal.device, note=f"{reducer.upper()} of {n} points")
