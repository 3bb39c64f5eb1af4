"""The metric registry: one entry per metric a run reports, registered by decorator and found by discovery.

A metric is a function in a module of this package decorated with ``@register_metric(...)``; it has a name (the
column), a label, a direction (``higher`` or ``lower`` is better), a unit, a one-line formula and a **version**.
Three kinds:

- ``model``: computed from the unlearned model on the run's sets, ``fn(view) -> float`` with an
  :class:`~unlearn_core.metrics.evaluation.EvalView` (logits of D_f, D_r, D_t). Stored with the run.
- ``vs_retrain``: computed when results are read, from a run's row and Retrain's on the same forget set
  (``fn(row, retrain) -> float``); never stored, so always current.
- ``bank``: computed from a bank of N unlearned models against a bank of N retrained models of the same forget set
  (per-example distribution tests: F, score, KLoM P95, U-LiRA; :mod:`.bank_quality`), ``fn(view) -> Estimate``
  with a :class:`~unlearn_core.metrics.bank_evaluation.BankView` (per-split margins and accuracies of both banks,
  the ε estimator, N; shared intermediates such as per-example ε computed once). An
  :class:`~unlearn_core.metrics.bank_evaluation.Estimate` is the value with its uncertainty: a standard error
  (column ``<name>_se``) or a 95% interval (``<name>_lo``, ``<name>_hi``). Computed from the stored banks when
  results are read (:func:`~unlearn_core.metrics.bank_evaluation.compare_banks`, one column per registered bank
  metric); never stored with a run, so they are not model metrics and are never computed by
  ``Pipeline.run_metrics``.

Versions: a stored value carries the version it was computed with. A run row records the versions of its model
metrics in ``metrics["metric_versions"]`` only where they differ from 1; a row without it (every cache written before
the registry) is read as version 1 everywhere. A metric registered later, or whose version is raised, is computed
for cached runs on demand from the run's stored model (:meth:`unlearn_core.pipeline.Pipeline.run_metrics`) and
stored as a record of its own under the key (run key, metric, version): the unlearning is never repeated and the
other metrics' stored values are never touched.

On demand: a ``model`` metric registered with ``on_demand=True`` (the four non-default MIA feature variants) is not
computed when a run is made, only when someone names it (:meth:`~unlearn_core.pipeline.Pipeline.run_metrics` with
``extra``; CLI ``compare --mia-variants``; the dashboard's MIA-variants panel); it is then stored as a metric record
like a metric registered later. A cached run that stored it with the run keeps it (read, never recomputed). Views
show a missing on-demand value as ``NOT_COMPUTED``, never as a blank number.

Adding a metric: one function with ``@register_metric`` in a module of this package (discovered), plus a test; a
bank metric (``kind="bank"``) goes in :mod:`.bank_quality` and appears in every bank table (``compare_banks``).
Views read ``get(name).label / direction / unit / formula / help / paper``.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..errors import unknown_name
from ..discovery import import_submodules

KINDS = ("model", "vs_retrain", "bank")
DIRECTIONS = ("higher", "lower")
VERSIONS_FIELD = "metric_versions"  # in a run's stored metrics: {metric: version} where version != 1
NOT_COMPUTED = "not computed"  # how views and CSVs show an on-demand metric a run has not computed


@dataclass(frozen=True)
class Metric:
    name: str  # the column name, e.g. "UA"
    label: str  # how users see it, e.g. "UA (unlearning accuracy)"
    direction: str  # "higher" or "lower" is better (for gaps: lower = closer to Retrain)
    unit: str  # "%", "" (a ratio), ...
    formula: str  # one line
    version: int
    fn: Callable[..., Any]  # model: EvalView -> float; vs_retrain: (row, retrain) -> float; bank: BankView -> Estimate
    kind: str = "model"
    help: str = ""  # a sentence for tooltips (the formula when empty)
    paper: str = ""  # where the definition comes from (authors, title)
    on_demand: bool = False  # computed only when asked for, not with every run (module docstring)

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    def describe(self) -> str:
        return self.help or f"{self.label}: {self.formula}"

    def cited(self) -> str:
        """:meth:`describe` and the paper the definition comes from (users see papers by authors and title)."""
        return self.describe() + (f" ({self.paper})" if self.paper else "")


_METRICS: dict[str, Metric] = {}
_SKIP = {"registry", "evaluation", "bank_evaluation"}  # modules of this package that define no metrics
_LOADED = False


def register_metric(name: str, *, label: str, direction: str, unit: str, formula: str, version: int = 1,
                    kind: str = "model", help: str = "", paper: str = "", on_demand: bool = False):
    """Register ``fn`` as metric ``name`` (see the module docstring for the three kinds and the versions)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer, got {version!r}")
    if on_demand and kind != "model":
        raise ValueError("only model metrics can be computed on demand")

    def deco(fn: Callable[..., float]) -> Callable[..., float]:
        if name in _METRICS:
            raise ValueError(f"metric '{name}' registered twice")
        _METRICS[name] = Metric(name, label, direction, unit, formula, version, fn, kind, help, paper,
                                on_demand)
        return fn

    return deco


def unregister(name: str) -> None:
    """Remove a metric (tests register throwaway metrics for a while)."""
    _METRICS.pop(name, None)


@contextmanager
def replaced(metric: Metric) -> Iterator[Metric]:
    """Register ``metric`` (a new one, or another version of a registered one) for the duration of a block."""
    load_all()
    old = _METRICS.get(metric.name)
    _METRICS[metric.name] = metric
    try:
        yield metric
    finally:
        if old is None:
            _METRICS.pop(metric.name, None)
        else:
            _METRICS[metric.name] = old


def load_all() -> None:
    """Import every module of this package (each registers its metrics)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import_submodules(__name__.rpartition(".")[0], _SKIP)


def get(name: str) -> Metric:
    load_all()
    if name not in _METRICS:
        raise unknown_name("metric", name, list(_METRICS))
    return _METRICS[name]


def find(name: str) -> Metric | None:
    """The metric, or None for a column that is not a registered metric (e.g. ``forget_size``)."""
    load_all()
    return _METRICS.get(name)


def names(kind: str | None = None) -> list[str]:
    """Registered metric names in registration order (discovery imports the modules alphabetically)."""
    load_all()
    return [n for n, m in _METRICS.items() if kind is None or m.kind == kind]


def run_time_names() -> list[str]:
    """The model metrics every run computes when it is made (all but the on-demand ones), registration order."""
    return [n for n in names("model") if not _METRICS[n].on_demand]


def on_demand_names() -> list[str]:
    """The model metrics computed only when asked for (registration order)."""
    return [n for n in names("model") if _METRICS[n].on_demand]


def check_model_metrics(requested) -> list[str]:
    """``requested`` as a list of registered model-metric names (a ConfigError names an unknown one)."""
    out = []
    for n in requested:
        m = get(str(n))
        if m.kind != "model":
            raise unknown_name("model metric", str(n), names("model"))
        out.append(m.name)
    return out


def metrics(kind: str | None = None) -> list[Metric]:
    return [_METRICS[n] for n in names(kind)]


def stored_versions(stored: dict[str, Any]) -> dict[str, int]:
    """{metric: version} of the model metrics stored in a run's metrics (absent from the record = version 1)."""
    recorded = stored.get(VERSIONS_FIELD) or {}
    return {k: int(recorded.get(k, 1)) for k in stored if k != VERSIONS_FIELD}


def versions_record(values: dict[str, Any]) -> dict[str, Any]:
    """What a new run stores next to ``values``: ``{VERSIONS_FIELD: {metric: version}}`` for the registered model
    metrics among them whose version is not 1, or nothing (so a run of today stores exactly what it stored before
    versions existed)."""
    load_all()
    v = {k: _METRICS[k].version for k in values
         if k in _METRICS and _METRICS[k].kind == "model" and _METRICS[k].version != 1}
    return {VERSIONS_FIELD: v} if v else {}


def is_current(name: str, stored: dict[str, Any]) -> bool:
    """Whether a run's stored metrics hold ``name`` at the registered version."""
    m = find(name)
    return m is not None and name in stored and stored_versions(stored).get(name) == m.version


def metric_record_config(run_key: str, name: str) -> dict:
    """The configuration (→ store key) of a metric computed for a cached run: run key, metric and its version."""
    return {"kind": "metric", "run": run_key, "metric": name, "version": get(name).version}
