"""Coreset curves (Fan et al., Challenging Forgets Fig. 3): is the complement of the worst-case forget set a good coreset?

For each kept fraction f, a fresh model is trained with the pipeline's recipe on the training set minus a
forget set of ratio 1 − f, and its test accuracy is recorded:

- ``worst``  — minus the worst-case (BLO top-m) set: the coreset is the complement of the worst-case set;
- ``random`` — minus a random set (seeded);
- ``el2n`` / ``grand`` — minus the samples with the *lowest* EL2N / GraNd score, i.e. keep the hardest
  samples, as Paul et al. (2021) prune; included only when those scores are registered;
- any other selector string (``"easiest"``, ``"top:loss"``, ...) as an extra strategy.

Each (strategy, fraction, seed) point is its own cached run (kind ``view_coreset_point``), keyed by the data,
model, recipe, seed and the exact kept index set, so an interrupted curve resumes where it stopped and a point
shared by two curves is trained once. The forget sets and the BLO weights behind them come from the pipeline's
own cache. Headline finding 3 (science.md) is what this view checks: Worst ≈ EL2N/GraNd > Random.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..context import NULL_CONTEXT, RunContext
from ..errors import ConfigError
from ..scores import score_names
from ..selectors import parse_selector
from ..store import Computed
from ..training import accuracy, train_model
from ..stats import sample_std
from ._inputs import index_digest


DEFAULT_FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

# strategy -> (forget-set selector, display name). Score-pruning strategies need their score registered.
STRATEGIES: dict[str, tuple[str, str]] = {
    "worst": ("worst", "Worst (complement)"),
    "random": ("random", "Random"),
    "el2n": ("bottom:el2n", "EL2N"),
    "grand": ("bottom:grand", "GraNd"),
}
SCORE_STRATEGIES = {"el2n": "el2n", "grand": "grand"}
POINT_KIND = "view_coreset_point"


def default_strategies() -> list[str]:
    """worst, random, and el2n / grand when those scores are registered."""
    names = set(score_names())
    return ["worst", "random"] + [s for s, score in SCORE_STRATEGIES.items() if score in names]


def strategy_selector(strategy: str) -> tuple[str, str]:
    """(selector, display name) of a strategy; any selector string is accepted as its own strategy."""
    if strategy in STRATEGIES:
        sel, label = STRATEGIES[strategy]
        if strategy in SCORE_STRATEGIES and SCORE_STRATEGIES[strategy] not in score_names():
            raise ConfigError(f"Coreset strategy '{strategy}' needs the score '{SCORE_STRATEGIES[strategy]}', "
                              f"which is not registered. Known scores: {', '.join(score_names())}.")
        return sel, label
    spec = parse_selector(strategy)  # raises a helpful ConfigError for unknown names
    if spec.class_wise:
        raise ConfigError(f"Coreset strategy '{strategy}' is class-wise; coreset curves need a sample-wise "
                          f"selector (random, worst, easiest, top:SCORE, bottom:SCORE, ...).")
    return strategy, f"minus {strategy}"


@dataclass
class CoresetResult:
    points: pd.DataFrame  # one row per (strategy, kept_fraction, seed)
    summary: pd.DataFrame  # mean/std over seeds per (strategy, kept_fraction)
    full: pd.DataFrame  # test accuracy of the model trained on all data, per seed
    full_acc_mean: float
    full_acc_std: float
    n_trained: int  # points trained by this call (0 = everything came from the cache)


def coreset_curves(pipe, fractions: Sequence[float] = DEFAULT_FRACTIONS, seeds: Sequence[int] = (0, 1),
                   strategies: Sequence[str] | None = None, ctx: RunContext = NULL_CONTEXT) -> CoresetResult:
    """Train on coresets of each kept fraction for each strategy and seed (cached per point); see module doc.

    ``strategies`` defaults to :func:`default_strategies`. Test accuracies are in percent.
    """
    fractions = [float(f) for f in fractions]
    if not fractions:
        raise ConfigError("Choose at least one kept fraction.")
    bad = [f for f in fractions if not 0 < f < 1]
    if bad:
        raise ConfigError(f"Kept fractions must be strictly between 0 and 1 (e.g. 0.9 keeps 90%); got {bad}.")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("Choose at least one seed.")
    strategies = list(strategies) if strategies is not None else default_strategies()
    if not strategies:
        raise ConfigError("Choose at least one coreset strategy.")
    resolved = [(s, *strategy_selector(s)) for s in strategies]

    jobs = [(seed, st, f) for seed in seeds for st in resolved for f in fractions]
    n_total = len(jobs) + len(seeds)
    rows, full_rows, n_trained = [], [], 0
    for j, seed in enumerate(seeds):
        ctx.progress(j / n_total, f"full-data model (seed {seed})")
        pipe.original(seed, ctx.sub(j / n_total, (j + 1) / n_total))
        run = pipe.store.done_run(pipe.original_key(seed))
        acc = (run or {}).get("metrics", {}).get("test_acc")
        if acc is None:
            acc = 100 * accuracy(pipe.original(seed), pipe.ds, "test")
        full_rows.append({"seed": seed, "test_acc": float(acc)})
    for i, (seed, (strategy, selector, label), frac) in enumerate(jobs):
        lo, hi = (len(seeds) + i) / n_total, (len(seeds) + i + 1) / n_total
        ctx.progress(lo, f"coreset {label} · keep {frac:.0%} · seed {seed}")
        row, trained = _point(pipe, strategy, selector, label, frac, seed, ctx.sub(lo, hi))
        n_trained += trained
        rows.append(row)
    ctx.progress(1.0, "coreset curves done")
    points = pd.DataFrame(rows)
    full = pd.DataFrame(full_rows)
    return CoresetResult(points, summarize(points), full, float(full["test_acc"].mean()),
                         sample_std(full["test_acc"].dropna()), n_trained)


def _point(pipe, strategy: str, selector: str, label: str, frac: float, seed: int,
           ctx: RunContext) -> tuple[dict, int]:
    ratio = round(1.0 - frac, 10)
    fs = pipe.forget_set(selector, ratio, seed, ctx.sub(0, 0.5))
    keep = np.setdiff1d(np.arange(pipe.ds.n_train), fs.forget_idx)
    config = {"kind": POINT_KIND, **pipe.base_config, "seed": int(seed), "selector": selector, "ratio": ratio,
              "strategy": strategy, "kept": index_digest(keep), "n_kept": int(len(keep))}
    base = {"strategy": strategy, "label": label, "selector": selector, "kept_fraction": frac,
            "n_kept": int(len(keep)), "seed": int(seed)}

    def compute() -> Computed:
        t0 = time.time()
        model = train_model(pipe.model_name, pipe.ds, keep, pipe.train_cfg, seed, ctx.sub(0.5, 1.0),
                            what=f"coreset {label} {frac:.0%} (seed {seed})")
        acc = 100 * accuracy(model, pipe.ds, "test")
        return Computed({"test_acc": acc}, {"test_acc": acc}, {"train_s": time.time() - t0})

    res = pipe.store.cached(POINT_KIND, config, compute, fmt="json", on_log=ctx.log, cancel=ctx.check_cancel)
    return {**base, "test_acc": float(res.value["test_acc"]), "key": res.key}, 0 if res.hit else 1


def stored_points(pipe) -> pd.DataFrame:
    """Every coreset point of this setup in the store (read-only): what the Coreset page draws."""
    from ..config import setup_key

    rows = []
    for r in pipe.store.list_runs(POINT_KIND, "done"):
        c = r["config"]
        if setup_key(c) != pipe.setup_key or "strategy" not in c:
            continue
        try:
            _, label = strategy_selector(c["strategy"])
        except ConfigError:
            label = c["strategy"]
        rows.append({"strategy": c["strategy"], "label": label, "selector": c["selector"],
                     "kept_fraction": round(1.0 - float(c["ratio"]), 10), "n_kept": c["n_kept"], "seed": c["seed"],
                     "test_acc": float((r.get("metrics") or {}).get("test_acc", np.nan)), "key": r["key"],
                     "finished": r.get("finished")})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    # A point recomputed for another θ_o / BLO (another kept set) replaces the older one.
    return (df.sort_values("finished").drop_duplicates(["strategy", "kept_fraction", "seed"], keep="last")
            .drop(columns="finished").reset_index(drop=True))


def stored_result(pipe, seeds: Sequence[int] | None = None) -> CoresetResult | None:
    """The stored coreset curves of this setup (None when no point is stored)."""
    points = stored_points(pipe)
    if points.empty:
        return None
    if seeds is not None:
        points = points[points["seed"].isin([int(s) for s in seeds])]
    full_rows = []
    for seed in sorted(points["seed"].unique()):
        run = pipe.find_original(int(seed))
        if run is not None:
            full_rows.append({"seed": int(seed), "test_acc": float(run["metrics"]["test_acc"])})
    full = pd.DataFrame(full_rows, columns=["seed", "test_acc"])
    return CoresetResult(points, summarize(points), full, float(full["test_acc"].mean()),
                         sample_std(full["test_acc"].dropna()), 0)


def summarize(points: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof=1; NaN for one seed) of test accuracy over seeds per (strategy, kept_fraction)."""
    if points.empty:
        return pd.DataFrame(columns=["strategy", "label", "kept_fraction", "test_acc_mean", "test_acc_std",
                                     "n_seeds"])
    g = points.groupby(["strategy", "label", "kept_fraction"], sort=False)["test_acc"]
    out = pd.DataFrame({"test_acc_mean": g.mean(), "test_acc_std": g.std(ddof=1),
                        "n_seeds": g.size()}).reset_index()
    return out  # strategies in the order given, fractions in the order given
