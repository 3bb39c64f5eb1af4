"""Where a grid's units run: in this process (:class:`LocalExecutor`), on worker processes of this machine
(:class:`ProcessExecutor`), or on a registered backend (Ray: :mod:`unlearn_core.cluster`).

Executors iterate units and call their stages (:mod:`unlearn_core.grid_stages`); the order comes from the units'
dependencies (:class:`~unlearn_core.grid_stages.DependencyOrder`, ``graphlib``). Backends are registered by name
(:func:`register_grid_executor`, a class decorator or a lazy ``"module:Class"`` entry with its own option check).
"""
from __future__ import annotations

import concurrent.futures as cf
import importlib
import multiprocessing as mp
import os
import queue
import time
from typing import Any, Callable

import numpy as np
import torch

from .config import Setup
from .context import RunContext
from .errors import ConfigError, unknown_name
from .grid_stages import DependencyOrder, Unit, execute_unit
from .pipeline import Pipeline
from .selectors import parse_selector
from .store import Store
from .threads import apply_thread_policy
from .worker_start import start_worker
from .ensemble import auto_model_batch, train_ensemble

# ---------------------------------------------------------------------------------------------- the registry
# name -> an executor class (``from_options``, ``check_options``), or a lazy "module:attribute" entry resolved on
# first use: a backend with optional dependencies (Ray) is named here without this module importing it (the backend
# imports the grid, never the other way round). Its option check may be lazy too, so options are checked without
# the backend's dependencies.
GRID_EXECUTORS: dict[str, Any] = {}
_OPTION_CHECKS: dict[str, Any] = {}


def register_grid_executor(name: str, factory: Any = None, *, check: Any = None):
    """Register a grid backend under ``name``: a :class:`GridExecutor` subclass (``from_options(**options)``
    builds it; usable as a class decorator ``@register_grid_executor("name")``), any callable returning one, or a
    lazy ``"module:attribute"`` string. ``check``: a callable or ``"module:attribute"`` that validates the options
    (raises ConfigError) without building the executor; default: the class's ``check_options``."""
    def add(f: Any) -> Any:
        GRID_EXECUTORS[name] = f
        if check is not None:
            _OPTION_CHECKS[name] = check
        return f

    return add if factory is None else add(factory)


def _resolve(name: str, entry: Any) -> Any:
    if not isinstance(entry, str):
        return entry
    module, _, attr = entry.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as err:
        raise ConfigError(f"The {name} executor is not available here ({err}). Install the optional extra "
                          f"(pip install 'forgetset[cluster]') or use --executor local.") from None


def executor_names() -> list[str]:
    return list(GRID_EXECUTORS)


def check_executor_options(name: str, **options: Any) -> dict:
    """The backend's options, validated by its own check (a ConfigError names the bad option)."""
    if name not in GRID_EXECUTORS:
        raise unknown_name("executor", name, list(GRID_EXECUTORS))
    check = _OPTION_CHECKS.get(name)
    if check is None:
        factory = _resolve(name, GRID_EXECUTORS[name])
        check = getattr(factory, "check_options", None)
    else:
        check = _resolve(name, check)
    return dict(check(**options)) if check is not None else dict(options)


def make_executor(name: str | GridExecutor | None = None, **options: Any) -> GridExecutor:
    """A grid executor by name (``local``, or a registered backend such as ``ray``)."""
    if isinstance(name, GridExecutor):
        return name
    name = name or "local"
    if name not in GRID_EXECUTORS:
        raise unknown_name("executor", name, list(GRID_EXECUTORS))
    factory = GRID_EXECUTORS[name] = _resolve(name, GRID_EXECUTORS[name])
    build = getattr(factory, "from_options", factory)
    return build(**options)



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

    @classmethod
    def check_options(cls, **options: Any) -> dict:
        """Validate options for :meth:`from_options` (a ConfigError names the bad one); returns them."""
        return options

    @classmethod
    def from_options(cls, **options: Any) -> "GridExecutor":
        return cls(**cls.check_options(**options))


@register_grid_executor("local")
class LocalExecutor(GridExecutor):
    """Every unit in this process, one after the other, in plan order. A unit that raises stops the grid: nothing
    that depends on it runs."""

    name = "local"

    def __init__(self, batch_models: str = "auto"):
        self.batch_models = self.check_options(batch_models=batch_models)["batch_models"]

    @classmethod
    def check_options(cls, workers: int = 1, batch_models: str = "auto", **_: Any) -> dict:
        """``workers`` (> 1: :class:`ProcessExecutor`), ``batch_models`` auto | on | off; other options (a caller's
        generic ones) are ignored."""
        if batch_models not in ("auto", "on", "off"):
            raise ConfigError(f"batch_models must be auto, on or off, got {batch_models!r}.")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"workers must be a positive integer, got {workers!r}.")
        return {"workers": workers, "batch_models": batch_models}

    @classmethod
    def from_options(cls, **options: Any) -> GridExecutor:
        opts = cls.check_options(**options)
        return ProcessExecutor(opts["workers"]) if opts["workers"] > 1 else cls(opts["batch_models"])

    def run(self, setup: Setup, units: list[Unit], store: Store, ctx: RunContext,
            on_done: Callable[[Unit, dict], None]) -> None:
        pipe = Pipeline(store, setup)
        self.pipeline = pipe
        if self.batch_models != "off":
            _train_stacked(pipe, units, self.batch_models == "on", ctx)
        bounds = progress_bounds(units, getattr(self, "weights", None))
        self.unit_seconds: dict[str, float] = {}
        for unit in DependencyOrder(units).order():  # plan order when it respects the dependencies (it does)
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
    as stacked ensembles, where measured faster on this device (``ensemble.auto_model_batch``; ``force`` skips
    the measurement), and store them under the keys the sequential path uses. Stacked training follows each
    model's own recipe and random stream; results equal one-at-a-time training up to floating-point summation
    order (within tolerance, not bit-identical), so it is only chosen where it pays (GPUs, small models)."""
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
        bounds = progress_bounds(units, getattr(self, "weights", None))
        by_id = {u.id: u for u in units}
        order = DependencyOrder(units)
        finished = order.finished
        self.unit_seconds = {}
        started: dict[str, float] = {}
        fraction: dict[str, float] = {}
        mctx = mp.get_context("spawn")  # never fork a process whose torch/OpenMP threads are running
        progress_q = mctx.Queue()
        # The initializer is a stdlib-only module's: the driver watch starts before the worker imports torch.
        pool = cf.ProcessPoolExecutor(self.workers, mp_context=mctx, initializer=start_worker,
                                      initargs=(os.getpid(), f"{__name__}:_worker_init", str(store.root),
                                                setup.to_dict(), progress_q))
        running: dict[cf.Future, str] = {}

        def submit_ready() -> None:
            for unit in order.ready():
                started[unit.id] = time.perf_counter()
                running[pool.submit(_worker_run, unit)] = unit.id

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
                    try:
                        out = fut.result()  # re-raises the unit's error (its run row is marked failed)
                    except BaseException:
                        order.failed(uid)  # its dependants are never submitted
                        raise
                    self.unit_seconds[uid] = out["seconds"]
                    order.done(uid)
                    on_done(by_id[uid], out["result"])
                report()
                submit_ready()
        except BaseException:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()  # a cancelled or failed grid leaves no worker computing
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


_WORKER: dict = {}


def _worker_init(root: str, setup: dict, progress_q) -> None:
    """A worker's setup after :func:`~unlearn_core.worker_start.start_worker` started its driver watch."""
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


register_grid_executor("ray", "unlearn_core.cluster:RayExecutor", check="unlearn_core.cluster:check_options")
