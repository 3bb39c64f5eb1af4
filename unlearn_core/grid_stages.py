"""The stages of a grid as objects, and the dependency order of its units.

A grid (:mod:`unlearn_core.grid`) is split into :class:`Unit` s; each unit belongs to a **stage** (original model,
score, forget set, unlearning run, model bank). A :class:`Stage` knows, for a unit of its own:

- ``unit_id`` / ``label``: its identity and how users see it;
- ``find``: its finished run in the store, read-only (None = to compute);
- ``config``: the (kind, configuration) of its result — its store key — from the store's runs of its dependencies;
- ``compute``: compute (or load) it through the pipeline's cache;
- ``summary``: what ``compute`` returns, rebuilt from its run row (executors that computed it elsewhere);
- ``cost``: its sample passes and seconds before it runs (:mod:`unlearn_core.cost`).

Executors (:mod:`unlearn_core.grid_executors`, the Ray backend in :mod:`unlearn_core.cluster`) iterate units and call
these; none switches on a stage's name. Stages register by decorator (:func:`register_stage`), like methods and
scores. :class:`DependencyOrder` hands out units whose dependencies are done (``graphlib.TopologicalSorter``); a unit
that fails never lets its dependants run.
"""
from __future__ import annotations

import graphlib
import json
from dataclasses import dataclass
from typing import Iterable

from .banks import chunk_config, parse_members, run_bank_unit
from .config import config_key, forget_count
from .context import NULL_CONTEXT, RunContext
from .cost import Calibration, eval_passes, method_passes, mia_svc_seconds, score_passes
from .errors import ConfigError, unknown_name
from .methods import get_method
from .passes import EVAL_PASS
from .results.runs import run_row
from .selectors import parse_selector
from .store import run_digest


@dataclass(frozen=True)
class Unit:
    """One independent piece of a grid. ``stage`` names its :class:`Stage` (original | score | forget_set | run |
    bank; ``members`` "a-b": members a..b−1 of ``method``'s model bank on the forget set, see banks.py)."""

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
        return get_stage(self.stage).unit_id(self)

    @property
    def label(self) -> str:
        return get_stage(self.stage).label(self)

    @property
    def overrides(self) -> dict:
        return json.loads(self.params)

    def where(self) -> str:
        return str(self.selector) + (f" @ {self.ratio:g}" if self.ratio is not None else "")


def _digest(run: dict | None) -> str:
    if run is None:
        raise LookupError
    return run_digest(run)


@dataclass
class UnitCost:
    passes: float
    seconds: float  # before the loop factor and the unit overhead of the calibration (cost.loop_calibration)
    cached: bool


class Stage:
    """One stage of a grid; subclasses implement the methods below for their units (see the module docstring)."""

    name = ""
    # Whether the run rows of the grid's table come from this stage (the unlearning runs).
    gives_rows = False
    # Whether the real training loop's slowdown (cost.loop_calibration) applies, and its per-unit fixed cost.
    loop_factor = True
    unit_overhead = False

    def unit_id(self, unit: Unit) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def label(self, unit: Unit) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def find(self, pipe, unit: Unit) -> dict | None:  # pragma: no cover - interface
        raise NotImplementedError

    def config(self, pipe, unit: Unit) -> tuple[str, dict]:  # pragma: no cover - interface
        raise NotImplementedError

    def compute(self, pipe, unit: Unit, ctx: RunContext = NULL_CONTEXT) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def summary(self, unit: Unit, run: dict, hit: bool) -> dict:
        return {"key": run["key"], "hit": hit}

    def cost(self, pipe, unit: Unit, cal: Calibration) -> UnitCost:  # pragma: no cover - interface
        raise NotImplementedError


STAGES: dict[str, Stage] = {}


def register_stage(cls: type[Stage]) -> type[Stage]:
    if not cls.name or cls.name in STAGES:
        raise ValueError(f"stage {cls.name!r}: no name, or registered twice")
    STAGES[cls.name] = cls()
    return cls


def get_stage(name: str) -> Stage:
    if name not in STAGES:
        raise unknown_name("grid stage", name, list(STAGES))
    return STAGES[name]


def stage_of(unit_id: str) -> str:
    """The stage name of a unit id (every stage's ``unit_id`` starts with "<stage>/")."""
    return unit_id.split("/", 1)[0]


def stage_names() -> list[str]:
    return list(STAGES)


@register_stage
class OriginalStage(Stage):
    """θ_o of one seed: the recipe on the whole training set."""

    name = "original"
    unit_overhead = True

    def unit_id(self, unit: Unit) -> str:
        return f"original/{unit.seed}"

    def label(self, unit: Unit) -> str:
        return f"original model · seed {unit.seed}"

    def find(self, pipe, unit: Unit) -> dict | None:
        return pipe.find_original(unit.seed)

    def config(self, pipe, unit: Unit) -> tuple[str, dict]:
        return "original", pipe.original_config(unit.seed)

    def compute(self, pipe, unit: Unit, ctx: RunContext = NULL_CONTEXT) -> dict:
        res = pipe.original_cached(unit.seed, ctx)
        return {"key": res.key, "hit": res.hit}

    def cost(self, pipe, unit: Unit, cal: Calibration) -> UnitCost:
        n = pipe.ds.n_train
        passes = pipe.train_cfg.epochs * n
        seconds = passes * cal.train_s_per_sample + n * EVAL_PASS * cal.eval_s_per_sample * 3
        return UnitCost(passes, seconds, self.find(pipe, unit) is not None)


@register_stage
class ScoreStage(Stage):
    """One per-sample score of θ_o (BLO also per forget ratio)."""

    name = "score"

    def unit_id(self, unit: Unit) -> str:
        return f"score/{unit.score}/{unit.ratio}/{unit.params}/{unit.seed}"

    def label(self, unit: Unit) -> str:
        return f"score {unit.score}" + (f" @ {unit.ratio:g}" if unit.ratio is not None else "") + \
            f" · seed {unit.seed}"

    def find(self, pipe, unit: Unit) -> dict | None:
        return pipe.find_score(unit.score, unit.seed, unit.ratio, unit.overrides)

    def config(self, pipe, unit: Unit) -> tuple[str, dict]:
        return "score", pipe.score_config(unit.score, unit.seed, unit.ratio, unit.overrides,
                                          _digest(pipe.find_original(unit.seed)))

    def compute(self, pipe, unit: Unit, ctx: RunContext = NULL_CONTEXT) -> dict:
        res = pipe.score_cached(unit.score, unit.seed, unit.ratio, unit.overrides, ctx)
        return {"key": res.key, "hit": res.hit}

    def cost(self, pipe, unit: Unit, cal: Calibration) -> UnitCost:
        n = pipe.ds.n_train
        m = forget_count(unit.ratio, n) if unit.ratio is not None else None
        passes = score_passes(unit.score, pipe._score_params(unit.score, unit.overrides), n, pipe.train_cfg, m)
        return UnitCost(passes, passes * cal.train_s_per_sample, self.find(pipe, unit) is not None)


@register_stage
class ForgetSetStage(Stage):
    """One forget set (selector, ratio, seed), from the scores its selector reads."""

    name = "forget_set"
    loop_factor = False

    def unit_id(self, unit: Unit) -> str:
        return f"forget_set/{unit.selector}/{unit.ratio}/{unit.seed}"

    def label(self, unit: Unit) -> str:
        return f"forget set {unit.where()} · seed {unit.seed}"

    def find(self, pipe, unit: Unit) -> dict | None:
        return pipe.find_forget_set(unit.selector, unit.ratio, unit.seed)

    def config(self, pipe, unit: Unit) -> tuple[str, dict]:
        inputs = pipe._selector_inputs(  # the same score digests the computing pipeline puts in the key
            unit.selector, unit.ratio, unit.seed, lambda n, r, p: _digest(pipe.find_score(n, unit.seed, r, p)))
        return "forget_set", pipe.forget_set_config(unit.selector, unit.ratio, unit.seed, inputs)

    def compute(self, pipe, unit: Unit, ctx: RunContext = NULL_CONTEXT) -> dict:
        res = pipe.forget_set_cached(unit.selector, unit.ratio, unit.seed, ctx)
        return {"key": res.key, "hit": res.hit, "size": res.value.size}

    def summary(self, unit: Unit, run: dict, hit: bool) -> dict:
        return {"key": run["key"], "hit": hit, "size": int((run.get("metrics") or {}).get("size", 0))}

    def cost(self, pipe, unit: Unit, cal: Calibration) -> UnitCost:
        return UnitCost(0.0, 0.05, self.find(pipe, unit) is not None)


def forget_size(pipe, selector: str, ratio: float | None) -> int:
    """|D_f| a selector gives before it runs (class-wise: the classes' share of the training set)."""
    n = pipe.ds.n_train
    sel = parse_selector(selector)
    if sel.class_wise:
        return int(round(n / pipe.ds.num_classes * (len(sel.arg.split(",")) if sel.kind == "class"
                                                    else int(sel.arg))))
    return forget_count(ratio, n)


@register_stage
class RunStage(Stage):
    """One unlearning run (method on a forget set) and its evaluation: the rows of the grid's table."""

    name = "run"
    gives_rows = True
    unit_overhead = True

    def unit_id(self, unit: Unit) -> str:
        return f"run/{unit.method}/{unit.selector}/{unit.ratio}/{unit.seed}"

    def label(self, unit: Unit) -> str:
        return f"{unit.method} · {unit.where()} · seed {unit.seed}"

    def find(self, pipe, unit: Unit) -> dict | None:
        return pipe.find_run(unit.method, unit.selector, unit.ratio, unit.seed, unit.overrides or None)

    def config(self, pipe, unit: Unit) -> tuple[str, dict]:
        exact = get_method(unit.method).exact
        return "unlearn", pipe.run_config(unit.method, unit.selector, unit.ratio, unit.seed, unit.overrides or None,
                                          _digest(pipe.find_forget_set(unit.selector, unit.ratio, unit.seed)),
                                          None if exact else _digest(pipe.find_original(unit.seed)))

    def compute(self, pipe, unit: Unit, ctx: RunContext = NULL_CONTEXT) -> dict:
        return pipe.run(unit.method, unit.selector, unit.ratio, unit.seed, unit.overrides or None, ctx)

    def summary(self, unit: Unit, run: dict, hit: bool) -> dict:
        return run_row(run)

    def cost(self, pipe, unit: Unit, cal: Calibration) -> UnitCost:
        n, n_test = pipe.ds.n_train, int(pipe.ds.x_test.shape[0])
        n_f = forget_size(pipe, unit.selector, unit.ratio)
        mp = get_method(unit.method).resolve_params(pipe.ds, unit.overrides or None, pipe.train_cfg)
        passes = method_passes(unit.method, mp, n_f, n - n_f, pipe.train_cfg)
        svc = mia_svc_seconds(cal, n, n_test)  # the confidence MIA only: the other variants are on demand
        seconds = passes * cal.train_s_per_sample + eval_passes(n, n_test) * cal.eval_s_per_sample * 3 + svc
        return UnitCost(passes, seconds, self.find(pipe, unit) is not None)


@register_stage
class BankStage(Stage):
    """Members a..b−1 of a model bank (banks.py): retrained, unlearned or θ_o's recipe over seeds."""

    name = "bank"

    def unit_id(self, unit: Unit) -> str:
        return f"bank/{unit.method}/{unit.selector}/{unit.ratio}/{unit.params}/{unit.seed}/{unit.members}"

    def label(self, unit: Unit) -> str:
        if unit.method == "original_seeds":
            return f"original bank members {unit.members}"
        return f"{unit.method} bank members {unit.members} · {unit.where()} · seed {unit.seed}"

    def _chunk(self, pipe, unit: Unit, compute: bool) -> dict | None:
        return chunk_config(pipe, unit.method, unit.selector, unit.ratio, unit.seed, unit.overrides or None,
                            parse_members(unit.members), compute)

    def find(self, pipe, unit: Unit) -> dict | None:
        cfg = self._chunk(pipe, unit, compute=False)
        return None if cfg is None else pipe.store.done_run(config_key(cfg))

    def config(self, pipe, unit: Unit) -> tuple[str, dict]:
        cfg = self._chunk(pipe, unit, compute=False)
        if cfg is None:
            raise LookupError
        return "bank_chunk", cfg

    def compute(self, pipe, unit: Unit, ctx: RunContext = NULL_CONTEXT) -> dict:
        return run_bank_unit(pipe, unit.method, unit.selector, unit.ratio, unit.seed, unit.overrides or None,
                             parse_members(unit.members), ctx)

    def cost(self, pipe, unit: Unit, cal: Calibration) -> UnitCost:
        passes, cached = bank_passes(pipe, unit, pipe.ds.n_train)
        return UnitCost(passes, passes * cal.train_s_per_sample, cached)


def bank_passes(pipe, unit: Unit, n: int) -> tuple[float, bool]:
    """(sample passes, all stored?) of a grid unit of a model bank (banks.py): its members' training (Retrain's
    recipe on D_r, the original recipe on D, or the method's own passes) plus one evaluation pass each. A member
    stored already costs nothing; for an unlearned bank whose θ_o or forget set is not computed yet all count."""
    members = parse_members(unit.members)
    params = unit.overrides or None
    cfg = chunk_config(pipe, unit.method, unit.selector, unit.ratio, unit.seed, params, members, compute=False)
    todo = len(members) if cfg is None else sum(pipe.store.done_run(k) is None for k in cfg["members"])
    ev = (n + int(pipe.ds.x_test.shape[0])) * EVAL_PASS
    if unit.method == "original_seeds":
        return todo * (pipe.train_cfg.epochs * n + ev), todo == 0
    sel = parse_selector(unit.selector)
    n_f = int(round(n / pipe.ds.num_classes)) if sel.class_wise else forget_count(unit.ratio, n)
    if unit.method == "retrain":
        return todo * (pipe.train_cfg.epochs * (n - n_f) + ev), todo == 0
    mp = get_method(unit.method).resolve_params(pipe.ds, params)
    return todo * (method_passes(unit.method, mp, n_f, n - n_f, pipe.train_cfg) + ev), todo == 0


def execute_unit(pipe, unit: Unit, ctx: RunContext = NULL_CONTEXT) -> dict:
    """Compute (or load) one unit through the pipeline's cache; returns a small JSON-able summary."""
    return get_stage(unit.stage).compute(pipe, unit, ctx)


# ---------------------------------------------------------------------------------------------- dependency order
class DependencyOrder:
    """The units of a grid handed out as their dependencies finish (``graphlib.TopologicalSorter``).

    ``ready()`` returns the units that may start now (each once); ``done(unit_id)`` releases its dependants;
    ``failed(unit_id)`` never does: its dependants — and theirs — are ``blocked`` and never handed out. Dependencies
    outside ``units`` (a unit whose inputs were given another way) are taken as met. A cycle is a ConfigError."""

    def __init__(self, units: Iterable[Unit]):
        self.units = {u.id: u for u in units}
        graph = {uid: [d for d in u.deps if d in self.units] for uid, u in self.units.items()}
        self._graph = graph
        self._sorter = graphlib.TopologicalSorter(graph)
        try:
            self._sorter.prepare()
        except graphlib.CycleError as err:
            raise ConfigError(f"The grid's units depend on each other in a cycle: {err.args[1]}.") from None
        self._dependants: dict[str, list[str]] = {uid: [] for uid in self.units}
        for uid, deps in graph.items():
            for d in deps:
                self._dependants[d].append(uid)
        self.finished: set[str] = set()
        self.failures: set[str] = set()
        self.blocked: set[str] = set()

    def ready(self) -> list[Unit]:
        return [self.units[uid] for uid in self._sorter.get_ready() if uid not in self.blocked]

    def done(self, unit_id: str) -> None:
        self.finished.add(unit_id)
        self._sorter.done(unit_id)

    def failed(self, unit_id: str) -> None:
        self.failures.add(unit_id)
        todo = [unit_id]
        while todo:
            for dep in self._dependants[todo.pop()]:
                if dep not in self.blocked:
                    self.blocked.add(dep)
                    todo.append(dep)

    @property
    def active(self) -> bool:
        """Whether units remain that can still be handed out or are running (blocked ones never will)."""
        return len(self.finished) + len(self.failures) + len(self.blocked) < len(self.units)

    def order(self) -> list[Unit]:
        """A whole dependency-respecting order (every unit succeeding): the first unit in the given order whose
        dependencies are met, each time — so a given order that already respects them is kept as it is."""
        pos = {uid: i for i, uid in enumerate(self.units)}
        seq = graphlib.TopologicalSorter(self._graph)
        seq.prepare()
        ready, out = set(seq.get_ready()), []
        while ready:
            uid = min(ready, key=pos.__getitem__)
            ready.remove(uid)
            out.append(self.units[uid])
            seq.done(uid)
            ready.update(seq.get_ready())
        return out
