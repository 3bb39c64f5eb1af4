"""The typed experiment: :class:`ExperimentSpec`, parsed once at the edge and trusted by every layer inside.

:func:`parse` is the one entry point for a grid typed by a user, whatever the edge: the CLI's ``compare``, the
dashboard's Experiments page and URL, a job's JSON. Building an :class:`ExperimentSpec` *is* parsing it: names,
seeds, ratios (:class:`~unlearn_core.validation.Ratio`), selectors
(:class:`~unlearn_core.selectors.SelectorSpec`), every method's hyperparameters and the grid's size are checked and
normalised in ``__post_init__``, and the object is frozen, so a spec that exists is valid and stays valid; the
grid, the executors and the jobs never check it again. Every failure is one
:class:`~unlearn_core.errors.ConfigError` naming its ``field``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from .banks import check_eval_models
from .config import Setup
from .errors import ConfigError
from .methods import get_method, method_names, validate_method_params
from .selectors import SelectorSpec, parse_selector
from .validation import MAX_RATIOS, Ratio, check_names, check_seed_list

DEFAULT_METHODS = ["retrain", "ft", "ga", "rl", "l1_sparse"]
DEFAULT_SELECTORS = ["random", "worst", "bottom:loss"]  # the worst case beside its cheap rival, the sort
MAX_GRID_RUNS = 20_000  # a bound on a typed grid (a typo like --seeds 100000 must be refused, not planned)
_LEGACY_FLAT = ("dataset", "model", "device", "train_preset", "train_overrides", "data_root", "download", "blo_params")


def _as_list(value: Any, name: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"The grid's {name} must be a list.", field=name)
    return list(value)


@dataclass(frozen=True)
class ExperimentSpec:
    """A grid over one setup: selectors × methods × ratios × seeds. ``method_params`` maps a method to its
    hyperparameter overrides; ``eval_models`` = models per bank for the per-example distribution tests (0 = off).

    Frozen and validated when built (see the module doc); :meth:`replace` builds a new, re-validated spec."""

    setup: Setup = field(default_factory=Setup)
    selectors: tuple[str, ...] = field(default_factory=lambda: tuple(DEFAULT_SELECTORS))
    methods: tuple[str, ...] = field(default_factory=lambda: tuple(DEFAULT_METHODS))
    ratios: tuple[Ratio, ...] = (Ratio(0.1),)
    seeds: tuple[int, ...] = (0, 1, 2)
    method_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    eval_models: int = 0
    # The parsed selectors, by name (filled in by __post_init__; not part of the spec's identity).
    selector_specs: Mapping[str, SelectorSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        if not isinstance(self.setup, Setup):
            raise ConfigError("The grid's setup must be a Setup.", field="setup")
        self.setup.validate()
        methods = _as_list(self.methods, "methods")
        selectors = _as_list(self.selectors, "selectors")
        ratios = _as_list(self.ratios, "ratios")
        if not methods:
            raise ConfigError("Choose at least one unlearning method.", field="method")
        if not selectors:
            raise ConfigError("Choose at least one forget-set selector.", field="selector")
        if methods == ["all"]:
            methods = method_names()
        methods = check_names(methods, "methods")
        selectors = check_names(selectors, "selectors")
        if not methods or not selectors:
            raise ConfigError("Choose at least one unlearning method and one forget-set selector.",
                              field="method" if not methods else "selector")
        seeds = check_seed_list(_as_list(self.seeds, "seeds"))
        specs = {}
        for s in selectors:
            try:
                specs[s] = parse_selector(s)
            except ConfigError as err:
                raise err.with_field("selector") from None
        if not ratios and not all(sp.class_wise for sp in specs.values()):
            raise ConfigError("Choose at least one forget ratio.", field="ratio")
        if len(ratios) > MAX_RATIOS:
            raise ConfigError(f"{len(ratios)} forget ratios is more than the limit of {MAX_RATIOS}.", field="ratio")
        ratios = list(dict.fromkeys(Ratio(r, "ratio") for r in ratios))
        for m in methods:
            try:
                get_method(m)
            except ConfigError as err:
                raise err.with_field("method") from None
        if not isinstance(self.method_params, Mapping):
            raise ConfigError("Method hyperparameters must be a JSON object {method: {name: value}}.",
                              field="method_params")
        params = {}
        for m, p in self.method_params.items():
            if m not in methods:
                raise ConfigError(f"Hyperparameters given for '{m}', which is not among the chosen methods.",
                                  field="method_params")
            if not isinstance(p, Mapping):
                raise ConfigError(f"Hyperparameters of '{m}' must be a JSON object such as {{\"epochs\": 5}}, "
                                  f"got {json.dumps(p, default=str)}.", field="method_params")
            params[m] = validate_method_params(m, dict(p))
        try:
            check_eval_models(self.eval_models)
        except ConfigError as err:
            raise err.with_field("eval_models") from None
        put(self, "methods", tuple(methods))
        put(self, "selectors", tuple(selectors))
        put(self, "seeds", tuple(seeds))
        put(self, "ratios", tuple(ratios))
        put(self, "method_params", params)
        put(self, "selector_specs", specs)
        if self.n_runs() > MAX_GRID_RUNS:
            raise ConfigError(f"This grid has {self.n_runs()} runs; the limit is {MAX_GRID_RUNS}. Split it.",
                              field="spec")

    def validate(self) -> "ExperimentSpec":
        """The spec itself: it was validated when it was built and cannot change since (kept for callers that
        predate parse-once)."""
        return self

    def replace(self, **changes: Any) -> "ExperimentSpec":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {"setup": self.setup.to_dict(), "selectors": list(self.selectors), "methods": list(self.methods),
                "ratios": [float(r) for r in self.ratios], "seeds": list(self.seeds),
                "method_params": {m: dict(p) for m, p in self.method_params.items()}, "eval_models": self.eval_models}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "ExperimentSpec":
        """From JSON; also reads the older flat form (dataset, model, train_overrides, blo_params, ... inline)."""
        if d is not None and not isinstance(d, Mapping):
            raise ConfigError(f"An experiment must be a JSON object, got {type(d).__name__}.", field="spec")
        d = dict(d or {})
        flat = {k: d.pop(k) for k in _LEGACY_FLAT if k in d}
        setup = d.pop("setup", None)
        if not isinstance(setup, Setup):
            setup = Setup.from_dict({**(setup or {}), **flat}) if (setup is not None or flat) else Setup()
        known = {f.name for f in fields(cls)} - {"selector_specs"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"Unknown experiment fields {unknown}. Known: {', '.join(sorted(known))}.", field="spec")
        return cls(setup=setup, **d)

    def selector(self, name: str) -> SelectorSpec:
        """The parsed selector ``name`` (one of :attr:`selectors`)."""
        return self.selector_specs[name]

    def n_runs(self) -> int:
        """Number of unlearning runs in the grid (Retrain always runs: the gaps need it)."""
        methods = set(self.methods) | {"retrain"}
        n_sets = sum(1 if self.selector(s).class_wise else len(self.ratios) for s in self.selectors)
        return len(methods) * n_sets * len(self.seeds)

    def forget_sets(self) -> list[tuple[str, float | None]]:
        return [(s, r) for s in self.selectors for r in ([None] if self.selector(s).class_wise else self.ratios)]


def parse(raw: "ExperimentSpec | Mapping[str, Any] | str | None") -> ExperimentSpec:
    """The one parser of a typed grid: an :class:`ExperimentSpec` (returned as is: parsing is idempotent), a JSON
    object (a job's ``spec``, a form's values) or its JSON text (a URL). Raises :class:`ConfigError` naming the
    field."""
    if isinstance(raw, ExperimentSpec):
        return raw
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ConfigError(f"The experiment is not valid JSON ({err.msg} at position {err.pos}).",
                              field="spec") from None
    return ExperimentSpec.from_dict(raw)
