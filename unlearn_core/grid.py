"""Experiment grids: setup × selector × method × ratio × seed, split into independent units of work.

:class:`ExperimentSpec` is the typed grid (the CLI's ``compare``, the dashboard's Experiments page, the
teaching demo). :func:`plan` splits it into :class:`Unit` s with their dependencies — the original model per
seed → the scores a selector needs → forget sets → Retrain and each method per forget set — so an executor can
run independent units in any order or in parallel (locally or on a cluster): every unit's result depends only
on its configuration and seed, and is cached in the store under a key of that configuration.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import pandas as pd

from .config import Setup, forget_count
from .context import NULL_CONTEXT, RunContext
from .errors import ConfigError
from .methods import get_method, method_names
from .selectors import parse_selector
from .store import Store
from .validation import MAX_RATIOS, MAX_SEED, check_names, check_seed_list, validate_method_params  # noqa: F401

DEFAULT_METHODS = ["retrain", "ft", "ga", "rl", "l1_sparse"]
DEFAULT_SELECTORS = ["random", "worst"]
MAX_GRID_RUNS = 20_000  # a bound on a typed grid (a typo like --seeds 100000 must be refused, not planned)


@dataclass
class ExperimentSpec:
    """A grid over one setup. ``method_params`` maps a method to its hyperparameter overrides."""

    setup: Setup = field(default_factory=Setup)
    selectors: list[str] = field(default_factory=lambda: list(DEFAULT_SELECTORS))
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    ratios: list[float] = field(default_factory=lambda: [0.1])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    method_params: dict[str, dict] = field(default_factory=dict)

    def validate(self) -> "ExperimentSpec":
        """Everything checkable without the data: names, seeds (0..2^32-1, at most MAX_SEEDS), ratios, every
        method's hyperparameters (types and ranges of its presets), the setup and the grid's size."""
        if not isinstance(self.setup, Setup):
            raise ConfigError("The grid's setup must be a Setup.")
        self.setup.validate()
        for name in ("selectors", "methods", "ratios", "seeds"):
            if not isinstance(getattr(self, name), (list, tuple)):
                raise ConfigError(f"The grid's {name} must be a list.")
        if not self.methods:
            raise ConfigError("Choose at least one unlearning method.")
        if not self.selectors:
            raise ConfigError("Choose at least one forget-set selector.")
        if not self.seeds:
            raise ConfigError("Choose at least one seed.")
        if list(self.methods) == ["all"]:
            self.methods = method_names()
        self.methods = check_names(self.methods, "methods")
        self.selectors = check_names(self.selectors, "selectors")
        if not self.methods or not self.selectors:
            raise ConfigError("Choose at least one unlearning method and one forget-set selector.")
        self.seeds = check_seed_list(self.seeds)
        if not self.ratios and not all(parse_selector(s).class_wise for s in self.selectors):
            raise ConfigError("Choose at least one forget ratio.")
        if len(self.ratios) > MAX_RATIOS:
            raise ConfigError(f"{len(self.ratios)} forget ratios is more than the limit of {MAX_RATIOS}.")
        for m in self.methods:
            get_method(m)
        for s in self.selectors:
            parse_selector(s)
        for r in self.ratios:
            forget_count(r, 10**9)  # range check only; the size check happens with the data set
        self.ratios = list(dict.fromkeys(float(r) for r in self.ratios))
        if not isinstance(self.method_params, dict):
            raise ConfigError("Method hyperparameters must be a JSON object {method: {name: value}}.")
        for m, p in self.method_params.items():
            if m not in self.methods:
                raise ConfigError(f"Hyperparameters given for '{m}', which is not among the chosen methods.")
            if not isinstance(p, dict):
                raise ConfigError(f"Hyperparameters of '{m}' must be a JSON object such as {{\"epochs\": 5}}, "
                                  f"got {json.dumps(p)}.")
            self.method_params[m] = validate_method_params(m, p)
        if self.n_runs() > MAX_GRID_RUNS:
            raise ConfigError(f"This grid has {self.n_runs()} runs; the limit is {MAX_GRID_RUNS}. Split it.")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["setup"] = self.setup.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "ExperimentSpec":
        """From JSON; also reads the older flat form (dataset, model, train_overrides, blo_params, ... inline)."""
        d = dict(d or {})
        flat = {k: d.pop(k) for k in ("dataset", "model", "device", "train_preset", "train_overrides", "data_root",
                                      "download", "blo_params") if k in d}
        setup = d.pop("setup", None)
        if isinstance(setup, Setup):
            pass
        elif setup is not None or flat:
            setup = Setup.from_dict({**(setup or {}), **flat})
        else:
            setup = Setup()
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"Unknown experiment fields {unknown}.")
        return cls(setup=setup, **d)

    def n_runs(self) -> int:
        """Number of unlearning runs in the grid (Retrain always runs: the gaps need it)."""
        methods = set(self.methods) | {"retrain"}
        n_sets = sum(1 if parse_selector(s).class_wise else len(self.ratios) for s in self.selectors)
        return len(methods) * n_sets * len(self.seeds)

    def forget_sets(self) -> list[tuple[str, float | None]]:
        return [(s, r) for s in self.selectors for r in ([None] if parse_selector(s).class_wise else self.ratios)]


# ---------------------------------------------------------------------------------------------- units
@dataclass(frozen=True)
class Unit:
    """One independent piece of a grid. ``stage`` is original | score | forget_set | run."""

    stage: str
    seed: int
    selector: str | None = None
    ratio: float | None = None
    method: str | None = None
    score: str | None = None
    params: str = "{}"  # JSON of the score's or method's parameter overrides
    deps: tuple[str, ...] = ()

    @property
    def id(self) -> str:
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
        where = self.selector + (f" @ {self.ratio:g}" if self.ratio is not None else "")
        if self.stage == "forget_set":
            return f"forget set {where} · seed {self.seed}"
        return f"{self.method} · {where} · seed {self.seed}"


def plan(spec: ExperimentSpec) -> list[Unit]:
    """The grid's units in a dependency-respecting order (Retrain first among the runs of a forget set)."""
    spec.validate()
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
                params = {"granularity": "class", "n_classes": int(sspec.arg)} if sspec.kind == "worst_class" else {}
                r = ratio if (by_ratio and not sspec.class_wise) else None
                score_ids.append(add(Unit("score", seed, score=name, ratio=r, params=json.dumps(params, sort_keys=True),
                                          deps=(o,))))
            f = add(Unit("forget_set", seed, selector=sel, ratio=ratio, deps=tuple(score_ids)))
            for m in methods:
                deps = (f,) if get_method(m).exact else (f, o)
                params = json.dumps(spec.method_params.get(m) or {}, sort_keys=True)
                add(Unit("run", seed, selector=sel, ratio=ratio, method=m, params=params, deps=deps))
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
    raise ConfigError(f"Unknown unit stage '{unit.stage}'.")


# ---------------------------------------------------------------------------------------------- executors
class GridExecutor:
    """Where a grid's units run. ``run`` must call ``on_done(unit, result)`` once per unit (in any order that
    respects the dependencies) and leave every unit's results in ``store`` exactly as a local run would."""

    name = "base"

    def run(self, setup: Setup, units: list[Unit], store: Store, ctx: RunContext,
            on_done: Callable[[Unit, dict], None]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class LocalExecutor(GridExecutor):
    """Every unit in this process, one after the other, in plan order."""

    name = "local"

    def run(self, setup: Setup, units: list[Unit], store: Store, ctx: RunContext,
            on_done: Callable[[Unit, dict], None]) -> None:
        from .pipeline import Pipeline

        pipe = Pipeline(store, setup)
        self.pipeline = pipe
        for i, unit in enumerate(units):
            ctx.progress(i / len(units), unit.label)
            on_done(unit, execute_unit(pipe, unit, ctx.sub(i / len(units), (i + 1) / len(units))))

    @property
    def stage_seconds(self) -> dict[str, float]:
        pipe = getattr(self, "pipeline", None)
        return dict(pipe.stage_seconds) if pipe is not None else {}


# name -> factory(**options) -> GridExecutor. Backends register themselves here (see make_executor).
GRID_EXECUTORS: dict[str, Callable[..., GridExecutor]] = {"local": lambda **kw: LocalExecutor()}


def register_grid_executor(name: str, factory: Callable[..., GridExecutor]) -> None:
    GRID_EXECUTORS[name] = factory


def make_executor(name: str | GridExecutor | None = None, **options: Any) -> GridExecutor:
    """A grid executor by name (``local``, or a registered backend such as ``ray``)."""
    if isinstance(name, GridExecutor):
        return name
    name = name or "local"
    if name == "ray" and "ray" not in GRID_EXECUTORS:
        try:
            from . import cluster  # noqa: F401 - registers the Ray backend (needs the optional 'cluster' extra)
        except ImportError as err:
            raise ConfigError(f"The ray executor is not available here ({err}). Install the optional extra "
                              f"(pip install 'forgetset[cluster]') or use --executor local.") from None
    if name not in GRID_EXECUTORS:
        from .errors import unknown_name

        raise unknown_name("executor", name, list(GRID_EXECUTORS) + ["ray"])
    return GRID_EXECUTORS[name](**options)


def preflight(spec: ExperimentSpec):
    """Everything about a grid that needs the data but no compute: the data set loads and passes its checks, the
    model fits the image size, the device exists, every method's hyperparameters fit its preset for this data set,
    and every (selector, ratio) gives a usable forget set. Returns the resolved setup."""
    from .device import resolve_device
    from .selectors import check_selector_for

    spec.validate()
    resolved = spec.setup.resolve()
    resolve_device(spec.setup.device)
    for m in dict.fromkeys(["retrain", *spec.methods]):
        method = get_method(m)
        if not method.exact:
            method.resolve_params(resolved.ds, spec.method_params.get(m))
    for sel, ratio in spec.forget_sets():
        check_selector_for(sel, resolved.ds, ratio)
    return resolved


def run_experiment(spec: ExperimentSpec, store: Store, ctx: RunContext = NULL_CONTEXT,
                   on_row: Callable[[dict], None] | None = None,
                   executor: str | GridExecutor | None = None) -> pd.DataFrame:
    """Run the grid; returns one row per unlearning run (Retrain included) with per-seed gaps. Cached units are
    served from the store. ``executor`` says where units run (default: here, one after the other)."""
    from .results import with_gaps

    preflight(spec)
    units = plan(spec)
    ex = make_executor(executor)
    rows: dict[str, dict] = {}

    def on_done(unit: Unit, out: dict) -> None:
        if unit.stage == "run":
            rows[unit.id] = out
            if on_row is not None:
                on_row(out)

    ex.run(spec.setup, units, store, ctx, on_done)
    ctx.progress(1.0, "done")
    df = pd.DataFrame([rows[u.id] for u in units if u.id in rows])  # plan order, whatever order units finished in
    df.attrs["spec"] = spec.to_dict()
    df.attrs["stage_seconds"] = getattr(ex, "stage_seconds", {})
    df.attrs["executor"] = ex.describe()
    return with_gaps(df)


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
