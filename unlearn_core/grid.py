"""Experiment grids: setup × selector × method × ratio × seed, split into independent units of work.

:class:`~unlearn_core.spec.ExperimentSpec` is the typed grid (the CLI's ``compare``, the dashboard's Experiments page, the
teaching demo). :func:`plan` splits it into :class:`Unit` s with their dependencies — the original model per
seed → the scores a selector needs → forget sets → Retrain and each method per forget set — so an executor can
run independent units in any order or in parallel (locally or on a cluster): every unit's result depends only
on its configuration and seed, and is cached in the store under a key of that configuration.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np
import pandas as pd

from .context import NULL_CONTEXT, RunContext
from .banks import PSEUDO_METHODS, bank_comparison, member_chunks
from .device import resolve_device
from .grid_executors import (GRID_EXECUTORS, GridExecutor, LocalExecutor, ProcessExecutor,  # noqa: F401 (re-exported)
                             check_executor_options, executor_names, make_executor, progress_bounds,
                             register_grid_executor)
from .grid_stages import DependencyOrder, Unit, execute_unit, get_stage  # noqa: F401 (re-exported)
from .metrics import evaluate
from .pipeline import Pipeline
from .results.runs import with_gaps
from .methods import get_method
from .scores.base import ScoreInput
from .scores.blo import blo_objective, sort_verdict
from .selectors import check_selector_for, overlap
from .spec import DEFAULT_METHODS, DEFAULT_SELECTORS, ExperimentSpec  # noqa: F401 - re-exported
from .store import Store
from .validation import MAX_SEED  # noqa: F401 - re-exported



def plan(spec: ExperimentSpec) -> list[Unit]:
    """The grid's units in a dependency-respecting order (Retrain first among the runs of a forget set)."""
    methods = ["retrain"] + [m for m in spec.methods if m != "retrain"]
    units: dict[str, Unit] = {}

    def add(u: Unit) -> str:
        units.setdefault(u.id, u)
        return u.id

    for seed in spec.seeds:
        needs_original = any(not get_method(m).exact for m in methods) or any(
            spec.selector(s).needs_scores() for s in spec.selectors)
        o = add(Unit("original", seed)) if needs_original else None
        for sel, ratio in spec.forget_sets():
            sspec = spec.selector(sel)  # parsed once, when the spec was built
            score_ids = []
            for name, by_ratio in sspec.needs_scores():
                params = sspec.score_params()
                r = ratio if (by_ratio and not sspec.class_wise) else None
                score_ids.append(add(Unit("score", seed, score=name, ratio=r, params=json.dumps(params, sort_keys=True),
                                          deps=(o,))))
            f = add(Unit("forget_set", seed, selector=sel, ratio=ratio, deps=tuple(score_ids)))
            for m in methods:
                deps = (f,) if get_method(m).exact else (f, o)
                params = json.dumps(spec.method_params.get(m) or {}, sort_keys=True)
                add(Unit("run", seed, selector=sel, ratio=ratio, method=m, params=params, deps=deps))
            if spec.eval_models:
                n = spec.eval_models
                # the reference retrain bank (members 0..N-1) and the independent one Retrain is evaluated with
                for part in member_chunks(2 * n):
                    add(Unit("bank", seed, selector=sel, ratio=ratio, method="retrain", members=part, deps=(f,)))
                for m in methods:
                    if not get_method(m).exact:
                        params = json.dumps(spec.method_params.get(m) or {}, sort_keys=True)
                        for part in member_chunks(n):
                            add(Unit("bank", seed, selector=sel, ratio=ratio, method=m, params=params, members=part,
                                     deps=(f, o)))
    if spec.eval_models:  # the bank of θ_o's recipe over seeds (baseline original_seeds) depends on the setup only
        for part in member_chunks(spec.eval_models):
            add(Unit("bank", 0, method="original_seeds", members=part))
    return list(units.values())


def preflight(spec: ExperimentSpec, check_device: bool = True):
    """Everything about a grid that needs the data but no compute: the data set loads and passes its checks, the
    model fits the image size, the device exists (``check_device``: on this machine; a cluster checks its nodes),
    every method's hyperparameters fit its preset for this data set, and every (selector, ratio) gives a usable
    forget set. Returns the resolved setup."""
    resolved = spec.setup.resolve()
    if check_device:
        resolve_device(spec.setup.device)
    for m in dict.fromkeys(["retrain", *spec.methods]):
        method = get_method(m)
        if not method.exact:
            method.resolve_params(resolved.ds, spec.method_params.get(m), resolved.recipe)
    for sel, ratio in spec.forget_sets():
        check_selector_for(sel, resolved.ds, ratio)
    return resolved


def run_experiment(spec: ExperimentSpec, store: Store, ctx: RunContext = NULL_CONTEXT,
                   on_row: Callable[[dict], None] | None = None,
                   executor: str | GridExecutor | None = None, estimate=None) -> pd.DataFrame:
    """Run the grid; returns one row per unlearning run (Retrain included) with per-seed gaps. Cached units are
    served from the store. ``executor`` says where units run (default: here, one after the other); an
    ``estimate`` (:func:`unlearn_core.grid_estimate.estimate_grid`) makes progress proportional to the expected time."""
    ex = make_executor(executor)
    preflight(spec, check_device=ex.computes_here)
    units = plan(spec)
    if estimate is not None:
        ex.weights = {u.unit_id: (0.0 if u.cached else u.seconds) for u in estimate.units}
    rows: dict[str, dict] = {}

    def on_done(unit: Unit, out: dict) -> None:
        if get_stage(unit.stage).gives_rows:
            rows[unit.id] = out
            if on_row is not None:
                on_row(out)

    ex.run(spec.setup, units, store, ctx, on_done)
    ctx.progress(1.0, "done")
    df = pd.DataFrame([rows[u.id] for u in units if u.id in rows])  # plan order, whatever order units finished in
    if spec.eval_models:
        df = with_bank_metrics(df, spec, Pipeline(store, spec.setup.replace(device="cpu")))
    df.attrs["spec"] = spec.to_dict()
    df.attrs["stage_seconds"] = getattr(ex, "stage_seconds", {})
    df.attrs["executor"] = ex.describe()
    df.attrs["unit_seconds"] = dict(getattr(ex, "unit_seconds", {}) or {})
    return with_gaps(df)


def with_bank_metrics(df: pd.DataFrame, spec: ExperimentSpec, pipe) -> pd.DataFrame:
    """The run rows with the bank metrics (the registry's kind ``bank``, with their errors / intervals) of each run's
    method on its forget set, plus, per forget set, rows of two baselines with θ_o's UA/RA/TA/MIA: ``original`` (θ_o
    unchanged, N times) and ``original_seeds`` (θ_o's recipe over N seeds; see banks.py). Reads stored banks only."""
    n = spec.eval_models
    out = []
    for row in df.to_dict("records"):
        res = bank_comparison(pipe, row["method"], row["selector"], row["ratio"], int(row["seed"]), n,
                              spec.method_params.get(row["method"]))
        out.append({**row, **(res.comparison.metrics if res is not None else {})})
    base = df.iloc[0].to_dict() if len(df) else {}
    for seed in spec.seeds:
        for sel, ratio in spec.forget_sets():
            fs = pipe.forget_set(sel, ratio, seed)
            keep = np.ones(pipe.ds.n_train, dtype=bool)
            keep[fs.forget_idx] = False
            metrics = evaluate(pipe.original(seed), pipe.ds, fs.forget_idx, np.flatnonzero(keep), seed=seed)
            for baseline in PSEUDO_METHODS:
                res = bank_comparison(pipe, baseline, sel, ratio, seed, n)
                out.append({**{k: base.get(k) for k in ("dataset", "model", "setup_id", "setup", "train")},
                            "selector": sel, "method": baseline, "ratio": ratio, "seed": seed, **metrics,
                            "forget_size": fs.size, "runtime_s": 0.0, "params": "{}", "blo": "", "key": "",
                            **(res.comparison.metrics if res is not None else {})})
    return pd.DataFrame(out)


def grid_status(spec: ExperimentSpec, store: Store) -> pd.DataFrame:
    """Which of the grid's unlearning runs are already in the store (with the spec's own setup and BLO)."""
    pipe = Pipeline(store, spec.setup.replace(device="cpu"))
    rows: list[dict[str, Any]] = []
    for u in plan(spec):
        if not get_stage(u.stage).gives_rows:
            continue
        run = pipe.find_run(u.method, u.selector, u.ratio, u.seed, json.loads(u.params) or None)
        rows.append({"method": u.method, "selector": u.selector, "ratio": u.ratio, "seed": u.seed,
                     "cached": run is not None, "key": run["key"] if run else None})
    return pd.DataFrame(rows)


WORST_CASE_RIVALS = {"random": "random", "worst": "worst", "lowest loss": "bottom:loss"}


def worst_vs_lowloss(pipe, ratio: float, seeds: list[int], objective: bool = True,
                     ctx: RunContext = NULL_CONTEXT) -> dict:
    """The worst-case set against its cheap rival, θ_o's lowest-loss set (``bottom:loss``), per seed: their overlap
    and, with ``objective``, BLO's objective (mean loss on the set after BLO's own lower level unlearns exactly it;
    lower = harder to forget) for the random, worst-case and lowest-loss sets. ``verdict`` is the plain-words
    sentence when the mean overlap is ≥ SORT_COSTS_NOTHING (else None)."""
    per_seed = []
    for seed in seeds:
        sets = {name: pipe.forget_set(sel, ratio, seed, ctx).forget_idx for name, sel in WORST_CASE_RIVALS.items()}
        row: dict[str, Any] = {"seed": seed, "overlap": overlap(sets["worst"], sets["lowest loss"])}
        if objective:
            inp = ScoreInput(pipe.original(seed, ctx), pipe.model_name, pipe.ds, pipe.train_cfg, seed=seed, ctx=ctx)
            row["objective"] = {k: v["objective"] for k, v in blo_objective(inp, sets, pipe.blo_params).items()}
        per_seed.append(row)
    mean_overlap = float(np.mean([r["overlap"] for r in per_seed])) if per_seed else None
    return {"ratio": ratio, "per_seed": per_seed, "overlap_mean": mean_overlap, "verdict": sort_verdict(mean_overlap)}
