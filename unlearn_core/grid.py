"""Experiment grids: setup × selector × method × ratio × seed, split into independent units of work.

:class:`~unlearn_core.spec.ExperimentSpec` is the typed grid (the CLI's ``compare``, the dashboard's Experiments page, the
teaching demo). :func:`plan` splits it into :class:`Unit` s with their dependencies — the original model per
seed → the scores a selector needs → forget sets → Retrain and each method per forget set — so an executor can
run independent units in any order or in parallel (locally or on a cluster): every unit's result depends only
on its configuration and seed, and is cached in the store under a key of that configuration.
"""
from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from .config import Setup
from .context import NULL_CONTEXT, RunContext
from .errors import ConfigError, unknown_name
from .banks import PSEUDO_METHODS, member_chunks, parse_members, run_bank_unit
from .methods import get_method
from .scores.base import ScoreInput
from .scores.blo import blo_objective, sort_verdict
from .selectors import overlap, parse_selector
from .spec import DEFAULT_METHODS, DEFAULT_SELECTORS, ExperimentSpec  # noqa: F401 - re-exported
from .store import Store
from .validation import MAX_SEED  # noqa: F401 - re-exported

# ---------------------------------------------------------------------------------------------- units
@dataclass(frozen=True)
class Unit:
    """One independent piece of a grid. ``stage`` is original | score | forget_set | run | bank (``members`` "a-b":
    members a..b−1 of ``method``'s model bank on the forget set, see banks.py)."""

    stage: str
    seed: int
    selector: str | None = None
    ratio: float | None = None
    method: str | None = None
    score: str | None = None
    params: str = "{}"  # JSON of the score's or method's parameter overrides
    deps: tuple[str, ...] = ()
    members: str = ""

    @property
    def id(self) -> str:
        if self.stage == "bank":
            return f"bank/{self.method}/{self.selector}/{self.ratio}/{self.params}/{self.seed}/{self.members}"
        if self.stage == "original":
            return f"original/{self.seed}"
        if self.stage == "score":
            return f"score/{self.score}/{self.ratio}/{self.params}/{self.seed}"
        if self.stage == "forget_set":
            return f"forget_set/{self.selector}/{self.ratio}/{self.seed}"
        return f"run/{self.method}/{self.selector}/{self.ratio}/{self.seed}"

    @property
    def label(self) -> str:
        if self.stage == "original":
            return f"original model · seed {self.seed}"
        if self.stage == "score":
            return f"score {self.score}" + (f" @ {self.ratio:g}" if self.ratio is not None else "") + \
                f" · seed {self.seed}"
        if self.stage == "bank" and self.method == "original_seeds":
            return f"original bank members {self.members}"
        where = self.selector + (f" @ {self.ratio:g}" if self.ratio is not None else "")
        if self.stage == "bank":
            return f"{self.method} bank members {self.members} · {where} · seed {self.seed}"
        if self.stage == "forget_set":
            return f"forget set {where} · seed {self.seed}"
        return f"{self.method} · {where} · seed {self.seed}"


def plan(spec: ExperimentSpec) -> list[Unit]:
    """The grid's units in a dependency-respecting order (Retrain first among the runs of a forget set)."""
    methods = ["retrain"] + [m for m in spec.methods if m != "retrain"]
    units: dict[str, Unit] = {}

    def add(u: Unit) -> str:
        units.setdefault(u.id, u)
        return u.id

    for seed in spec.seeds:
        needs_original = any(not get_method(m).exact for m in methods) or any(
            parse_selector(s).needs_scores() for s in spec.selectors)
        o = add(Unit("original", seed)) if needs_original else None
        for sel, ratio in spec.forget_sets():
            sspec = parse_selector(sel)
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


def execute_unit(pipe, unit: Unit, ctx: RunContext = NULL_CONTEXT) -> dict:
    """Compute (or load) one unit through the pipeline's cache; returns a small JSON-able summary."""
    params = json.loads(unit.params)
    if unit.stage == "original":
        res = pipe.original_cached(unit.seed, ctx)
        return {"key": res.key, "hit": res.hit}
    if unit.stage == "score":
        res = pipe.score_cached(unit.score, unit.seed, unit.ratio, params, ctx)
        return {"key": res.key, "hit": res.hit}
    if unit.stage == "forget_set":
        res = pipe.forget_set_cached(unit.selector, unit.ratio, unit.seed, ctx)
        return {"key": res.key, "hit": res.hit, "size": res.value.size}
    if unit.stage == "run":
        return pipe.run(unit.method, unit.selector, unit.ratio, unit.seed, params or None, ctx)
    if unit.stage == "bank":
        return run_bank_unit(pipe, unit.method, unit.selector, unit.ratio, unit.seed, params or None,
                             parse_members(unit.members), ctx)
    raise ConfigError(f"Unknown unit stage '{unit.stage}'.")


# ---------------------------------------------------------------------------------------------- executors
class GridExecutor:
    """Where a grid's units run. ``run`` must call ``on_done(unit, result)`` once per unit (in any order that
    respects the dependencies) and leave every unit's results in ``store`` exactly as a local run would."""

    name = "base"
    # Whether units compute in this process's machine (then the setup's device must exist here); a cluster
    # backend checks its own nodes' devices instead.
    computes_here = True

    def run(self, setup: Setup, units: list[Unit], store: Store, ctx: RunContext,
            on_done: Callable[[Unit, dict], None]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class LocalExecutor(GridExecutor):
    """Every unit in this process, one after the other, in plan order."""

    name = "local"

    def __init__(self, batch_models: str = "auto"):
        if batch_models not in ("auto", "on", "off"):
            raise ConfigError(f"batch_models must be auto, on or off, got {batch_models!r}.")
        self.batch_models = batch_models

    def run(self, setup: Setup, units: list[Unit], store: Store, ctx: RunContext,
            on_done: Callable[[Unit, dict], None]) -> None:
        import time

        from .pipeline import Pipeline

        pipe = Pipeline(store, setup)
        self.pipeline = pipe
        if self.batch_models != "off":
            _train_stacked(pipe, units, self.batch_models == "on", ctx)
        bounds = progress_bounds(units, getattr(self, "weights", None))
        self.unit_seconds: dict[str, float] = {}
        for unit in units:
            lo, hi = bounds[unit.id]
            ctx.progress(lo, unit.label)
            t0 = time.perf_counter()
            on_done(unit, execute_unit(pipe, unit, ctx.sub(lo, hi)))
            self.unit_seconds[unit.id] = time.perf_counter() - t0

    @property
    def stage_seconds(self) -> dict[str, float]:
        pipe = getattr(self, "pipeline", None)
        return dict(pipe.stage_seconds) if pipe is not None else {}


def progress_bounds(units: list[Unit], weights: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Each unit's slice of the progress bar: proportional to its estimated time (cost model) when ``weights`` are
    given, else equal. So a progress fraction is a fraction of the expected time, and ETAs follow from it."""
    w = [max(float((weights or {}).get(u.id, 1.0 if weights is None else 0.0)), 1e-6) for u in units]
    total = sum(w) or 1.0
    out, acc = {}, 0.0
    for u, x in zip(units, w):
        out[u.id] = (acc / total, (acc + x) / total)
        acc += x
    return out


def _train_stacked(pipe, units: list[Unit], force: bool, ctx: RunContext) -> None:
    """Train the grid's original models (one per seed) and its Retrain models (one per θ_o-independent forget set)
    as stacked ensembles, where measured faster on this device (``training.auto_model_batch``; ``force`` skips
    the measurement), and store them under the keys the sequential path uses. Stacked training follows each
    model's own recipe and random stream; results equal one-at-a-time training up to floating-point summation
    order (within tolerance, not bit-identical), so it is only chosen where it pays (GPUs, small models)."""
    import time

    import torch

    from .training import auto_model_batch, train_ensemble

    ds, recipe = pipe.ds, pipe.train_cfg
    if not force and torch.device(pipe.device).type != "cuda":
        # On a CPU the choice would rest on a timing that varies with the machine's load, and a stacked model
        # equals a sequential one only to float tolerance: the same command could then store θ_o with other
        # bytes (and keys) from one run to the next (fault-injection benchmark). Stacking pays on GPUs; on a CPU
        # it runs only when asked for (batch_models="on").
        return
    seeds = [u.seed for u in units if u.stage == "original" and pipe.find_original(u.seed) is None]
    k = len(seeds) if force else auto_model_batch(pipe.model_name, ds, len(seeds), recipe)
    for i in range(0, len(seeds) if k > 1 else 0, k):
        group = seeds[i:i + k]
        ctx.log(f"training the original models of seeds {group} stacked")
        t0 = time.perf_counter()
        models = train_ensemble(pipe.model_name, ds, [torch.arange(ds.n_train)] * len(group), recipe, group,
                                ctx=ctx, what=f"original models (seeds {group})")
        for seed, model in zip(group, models):
            pipe.record_original(seed, model, (time.perf_counter() - t0) / len(group))
    todo = [u for u in units if u.stage == "run" and u.method == "retrain"
            and not parse_selector(u.selector).needs_scores()
            and pipe.find_run("retrain", u.selector, u.ratio, u.seed) is None]
    k = len(todo) if force else auto_model_batch(pipe.model_name, ds, len(todo), recipe)
    for i in range(0, len(todo) if k > 1 else 0, k):
        group = todo[i:i + k]
        sets = [pipe.forget_set(u.selector, u.ratio, u.seed) for u in group]
        retain = [torch.from_numpy(np.setdiff1d(np.arange(ds.n_train), fs.forget_idx)) for fs in sets]
        ctx.log(f"training {len(group)} Retrain models stacked")
        t0 = time.perf_counter()
        # Retrain's seed convention (methods/retrain.py): the run's seed + 1000.
        models = train_ensemble(pipe.model_name, ds, retain, recipe, [u.seed + 1000 for u in group], ctx=ctx,
                                what=f"{len(group)} Retrain models")
        for u, model in zip(group, models):
            pipe.record_retrain(u.selector, u.ratio, u.seed, model, (time.perf_counter() - t0) / len(group))


class ProcessExecutor(GridExecutor):
    """Independent units on ``workers`` worker processes of this machine (one torch thread each).

    Units run as soon as their dependencies are done; each worker keeps its own Pipeline and opens the same store,
    so a unit's result lands exactly as in a local run, and depends only on its configuration and seed (explicit
    generators): the numbers are bit-identical to the sequential run. Progress of running units is relayed
    through a queue. Cancelling kills the workers; units they were computing stay ``running`` with a dead owner
    and are marked interrupted (never done).
    """

    name = "processes"

    def __init__(self, workers: int = 2):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"workers must be a positive integer, got {workers!r}.")
        self.workers = workers

    def describe(self) -> str:
        return f"{self.workers} worker processes"

    def run(self, setup: Setup, units: list[Unit], store: Store, ctx: RunContext,
            on_done: Callable[[Unit, dict], None]) -> None:
        import concurrent.futures as cf
        import multiprocessing as mp
        import queue
        import time

        bounds = progress_bounds(units, getattr(self, "weights", None))
        by_id = {u.id: u for u in units}
        waiting = {u.id: set(u.deps) & set(by_id) for u in units}
        finished: set[str] = set()
        self.unit_seconds = {}
        started: dict[str, float] = {}
        fraction: dict[str, float] = {}
        mctx = mp.get_context("spawn")  # never fork a process whose torch/OpenMP threads are running
        progress_q = mctx.Queue()
        pool = cf.ProcessPoolExecutor(self.workers, mp_context=mctx, initializer=_worker_init,
                                      initargs=(str(store.root), setup.to_dict(), progress_q, os.getpid()))
        running: dict[cf.Future, str] = {}

        def submit_ready() -> None:
            for uid in [u for u, deps in waiting.items() if not deps and u not in started]:
                started[uid] = time.perf_counter()
                running[pool.submit(_worker_run, by_id[uid])] = uid

        def report() -> None:
            done_w = sum(bounds[u][1] - bounds[u][0] for u in finished)
            run_w = sum((bounds[u][1] - bounds[u][0]) * fraction.get(u, 0.0) for u in running.values())
            labels = ", ".join(by_id[u].label for u in list(running.values())[:2])
            ctx.progress(done_w + run_w, f"{len(finished)}/{len(units)} units done · running: {labels}")

        try:
            submit_ready()
            while running:
                ctx.check_cancel()
                done, _ = cf.wait(list(running), timeout=0.25, return_when=cf.FIRST_COMPLETED)
                while True:
                    try:
                        uid, frac = progress_q.get_nowait()
                    except queue.Empty:
                        break
                    fraction[uid] = frac
                for fut in done:
                    uid = running.pop(fut)
                    out = fut.result()  # re-raises the unit's error (its run row is marked failed)
                    result = out["result"]
                    self.unit_seconds[uid] = out["seconds"]
                    finished.add(uid)
                    for deps in waiting.values():
                        deps.discard(uid)
                    del waiting[uid]
                    on_done(by_id[uid], result)
                report()
                submit_ready()
        except BaseException:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()  # a cancelled or failed grid leaves no worker computing
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


_WORKER: dict = {}


def _exit_with_parent(parent_pid: int, period_s: float = 0.5) -> None:
    """A worker whose driver died (killed, Ctrl-C'd twice) must not go on computing a grid nobody reads: a daemon
    thread exits the process once it is re-parented. Its unclaimed rows stay ``running`` and are recomputed."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(period_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="forgetset-parent-watch", daemon=True).start()


def _worker_init(root: str, setup: dict, progress_q, parent_pid: int | None = None) -> None:
    from .pipeline import Pipeline
    from .threads import apply_thread_policy

    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    apply_thread_policy()
    _WORKER["pipe"] = Pipeline(Store(root), Setup.from_dict(setup))
    _WORKER["q"] = progress_q


def _worker_run(unit: Unit) -> dict:
    q = _WORKER["q"]
    last = [0.0]

    def on_progress(frac: float, msg: str) -> None:
        if frac - last[0] >= 0.02 or frac >= 1.0:  # throttled: a queue message per 2% of the unit
            last[0] = frac
            q.put((unit.id, float(frac)))

    t0 = time.perf_counter()
    result = execute_unit(_WORKER["pipe"], unit, RunContext(on_progress=on_progress))
    return {"result": result, "seconds": time.perf_counter() - t0}  # compute time, without the wait in the queue


# name -> factory(**options) -> GridExecutor, or a lazy "module:attribute" entry resolved on first use: a backend
# with optional dependencies (Ray) is named here without this module importing it (the backend imports the grid,
# never the other way round).
def _local(workers: int = 1, batch_models: str = "auto", **_: Any) -> GridExecutor:
    return ProcessExecutor(workers) if workers > 1 else LocalExecutor(batch_models)


GRID_EXECUTORS: dict[str, Callable[..., GridExecutor] | str] = {"local": _local,
                                                                "ray": "unlearn_core.cluster:RayExecutor"}


def register_grid_executor(name: str, factory: Callable[..., GridExecutor] | str) -> None:
    """Add a backend: a factory, or "module:attribute" imported when the backend is first asked for."""
    GRID_EXECUTORS[name] = factory


def make_executor(name: str | GridExecutor | None = None, **options: Any) -> GridExecutor:
    """A grid executor by name (``local``, or a registered backend such as ``ray``)."""
    if isinstance(name, GridExecutor):
        return name
    name = name or "local"
    if name not in GRID_EXECUTORS:
        raise unknown_name("executor", name, list(GRID_EXECUTORS))
    factory = GRID_EXECUTORS[name]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except ImportError as err:
            raise ConfigError(f"The {name} executor is not available here ({err}). Install the optional extra "
                              f"(pip install 'forgetset[cluster]') or use --executor local.") from None
        GRID_EXECUTORS[name] = factory
    return factory(**options)


def preflight(spec: ExperimentSpec, check_device: bool = True):
    """Everything about a grid that needs the data but no compute: the data set loads and passes its checks, the
    model fits the image size, the device exists (``check_device``: on this machine; a cluster checks its nodes),
    every method's hyperparameters fit its preset for this data set, and every (selector, ratio) gives a usable
    forget set. Returns the resolved setup."""
    from .device import resolve_device
    from .selectors import check_selector_for

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
    from .results import with_gaps

    ex = make_executor(executor)
    preflight(spec, check_device=ex.computes_here)
    units = plan(spec)
    if estimate is not None:
        ex.weights = {u.unit_id: (0.0 if u.cached else u.seconds) for u in estimate.units}
    rows: dict[str, dict] = {}

    def on_done(unit: Unit, out: dict) -> None:
        if unit.stage == "run":
            rows[unit.id] = out
            if on_row is not None:
                on_row(out)

    ex.run(spec.setup, units, store, ctx, on_done)
    ctx.progress(1.0, "done")
    df = pd.DataFrame([rows[u.id] for u in units if u.id in rows])  # plan order, whatever order units finished in
    if spec.eval_models:
        from .pipeline import Pipeline

        df = with_bank_metrics(df, spec, Pipeline(store, spec.setup.replace(device="cpu")))
    df.attrs["spec"] = spec.to_dict()
    df.attrs["stage_seconds"] = getattr(ex, "stage_seconds", {})
    df.attrs["executor"] = ex.describe()
    df.attrs["unit_seconds"] = dict(getattr(ex, "unit_seconds", {}) or {})
    return with_gaps(df)


def with_bank_metrics(df: pd.DataFrame, spec: ExperimentSpec, pipe) -> pd.DataFrame:
    """The run rows with the bank metrics (forget_quality.FQ_COLUMNS and their intervals) of each run's method on
    its forget set, plus, per forget set, rows of two baselines with θ_o's UA/RA/TA/MIA: ``original`` (θ_o
    unchanged, N times) and ``original_seeds`` (θ_o's recipe over N seeds; see banks.py). Reads stored banks only."""
    from .banks import bank_comparison
    from .metrics import evaluate

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
    from .pipeline import Pipeline

    pipe = Pipeline(store, spec.setup.replace(device="cpu"))
    rows: list[dict[str, Any]] = []
    for u in plan(spec):
        if u.stage != "run":
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
