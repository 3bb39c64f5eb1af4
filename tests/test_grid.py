"""Grid stages and executors: units come out in an order that respects their dependencies (planted DAG), a failing
unit never lets its dependants run, backends are registered with their own option checks, and a grid's estimate is
the sum of its stages' costs."""
from __future__ import annotations

import random

import pytest

from unlearn_core import grid_executors, grid_stages
from unlearn_core.config import Setup
from unlearn_core.context import NULL_CONTEXT
from unlearn_core.cost import Calibration, _CALIBRATIONS, _LOOPS
from unlearn_core.errors import ConfigError
from unlearn_core.grid import ExperimentSpec, GridExecutor, LocalExecutor, make_executor, plan
from unlearn_core.grid_estimate import estimate_grid
from unlearn_core.grid_stages import DependencyOrder, Stage, Unit, get_stage
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store

# a planted DAG: a → b → d, a → c → d, d → e; f alone; g → h
EDGES = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"], "f": [], "g": [], "h": ["g"]}


class ToyStage(Stage):
    """A stage whose units only record that they ran (and fail on demand)."""

    name = "toy"
    calls: list[str] = []
    fail: set[str] = set()

    def unit_id(self, unit):
        return unit.selector

    def label(self, unit):
        return f"toy {unit.selector}"

    def compute(self, pipe, unit, ctx=NULL_CONTEXT):
        if unit.selector in self.fail:
            raise RuntimeError(f"unit {unit.selector} failed")
        self.calls.append(unit.selector)
        return {"key": unit.selector, "hit": False}


@pytest.fixture()
def toy(monkeypatch):
    stage = ToyStage()
    stage.calls, stage.fail = [], set()
    monkeypatch.setitem(grid_stages.STAGES, "toy", stage)
    return stage


def toy_units(order=None) -> list[Unit]:
    names = order or list(EDGES)
    return [Unit("toy", 0, selector=n, deps=tuple(EDGES[n])) for n in names]


def _respects(seq: list[str]) -> bool:
    pos = {n: i for i, n in enumerate(seq)}
    return all(pos[d] < pos[n] for n in seq for d in EDGES[n] if d in pos)


def test_dependency_order_respects_a_planted_dag(toy):
    for trial in range(20):
        names = list(EDGES)
        random.Random(trial).shuffle(names)
        seq = [u.id for u in DependencyOrder(toy_units(names)).order()]
        assert sorted(seq) == sorted(EDGES) and _respects(seq), seq
    plan_like = ["a", "f", "b", "g", "c", "d", "h", "e"]  # already respects the DAG: kept as given
    assert [u.id for u in DependencyOrder(toy_units(plan_like)).order()] == plan_like


def test_ready_hands_out_only_units_whose_dependencies_are_done(toy):
    order = DependencyOrder(toy_units())
    first = {u.id for u in order.ready()}
    assert first == {"a", "f", "g"}
    assert order.ready() == []  # each unit once
    order.done("a")
    assert {u.id for u in order.ready()} == {"b", "c"}
    order.done("b")
    assert order.ready() == []  # d waits for c as well
    order.done("c")
    assert [u.id for u in order.ready()] == ["d"]


def test_a_failing_unit_never_releases_its_dependants(toy):
    order = DependencyOrder(toy_units())
    handed = []
    while order.active:
        batch = order.ready()
        assert batch, "stalled with units left"
        for u in batch:
            handed.append(u.id)
            order.failed(u.id) if u.id == "b" else order.done(u.id)
    assert "d" not in handed and "e" not in handed  # downstream of b, transitively
    assert {"a", "b", "c", "f", "g", "h"} == set(handed)
    assert order.blocked == {"d", "e"} and order.finished == {"a", "c", "f", "g", "h"}


def test_a_cycle_is_a_clear_error(toy):
    units = [Unit("toy", 0, selector="x", deps=("y",)), Unit("toy", 0, selector="y", deps=("x",))]
    with pytest.raises(ConfigError, match="cycle"):
        DependencyOrder(units)


def test_local_executor_stops_at_a_failure_and_runs_nothing_downstream(toy, tmp_path):
    toy.fail = {"c"}
    done = []
    with pytest.raises(RuntimeError, match="unit c failed"):
        LocalExecutor(batch_models="off").run(Setup(), toy_units(["a", "b", "c", "d", "e", "f", "g", "h"]),
                                              Store(tmp_path), NULL_CONTEXT, lambda u, out: done.append(u.id))
    assert "d" not in toy.calls and "e" not in toy.calls and "d" not in done
    assert _respects(toy.calls)


def test_plan_order_respects_dependencies_and_every_stage_is_an_object():
    spec = ExperimentSpec(selectors=["random", "worst", "class:3"], methods=["ft", "ga"], ratios=[0.05, 0.1],
                          seeds=[0, 1], eval_models=4)
    units = plan(spec)
    ids = [u.id for u in units]
    assert len(ids) == len(set(ids))
    pos = {uid: i for i, uid in enumerate(ids)}
    assert all(pos[d] < pos[u.id] for u in units for d in u.deps)
    assert {u.stage for u in units} == {"original", "score", "forget_set", "run", "bank"}
    for u in units:
        assert isinstance(get_stage(u.stage), Stage) and u.label
    assert [u.id for u in DependencyOrder(units).order()] == ids


def test_executors_are_registered_with_their_own_option_checks(monkeypatch):
    monkeypatch.setattr(grid_executors, "GRID_EXECUTORS", dict(grid_executors.GRID_EXECUTORS))

    @grid_executors.register_grid_executor("throwaway")
    class Throwaway(GridExecutor):
        name = "throwaway"

        def __init__(self, lanes: int = 1):
            self.lanes = lanes

        @classmethod
        def check_options(cls, lanes: int = 1, **_):
            if not isinstance(lanes, int) or lanes < 1:
                raise ConfigError(f"lanes must be a positive integer, got {lanes!r}.")
            return {"lanes": lanes}

    assert make_executor("throwaway", lanes=3).lanes == 3
    from unlearn_core.jobs.kinds import executor_of  # an experiment job can ask for it, options checked at submit

    assert executor_of({"executor": "throwaway", "executor_options": {"lanes": 2}}) == {"name": "throwaway",
                                                                                         "lanes": 2}
    with pytest.raises(ConfigError, match="lanes"):
        executor_of({"executor": "throwaway", "executor_options": {"lanes": -1}})
    with pytest.raises(ConfigError, match="lanes"):
        make_executor("throwaway", lanes=0)
    with pytest.raises(ConfigError, match="lanes"):
        grid_executors.check_executor_options("throwaway", lanes="x")
    grid_executors.register_grid_executor("lazy_local", "unlearn_core.grid_executors:LocalExecutor")
    assert isinstance(make_executor("lazy_local"), LocalExecutor)
    grid_executors.register_grid_executor("absent", "no_such_module_xyz:Backend")
    with pytest.raises(ConfigError, match="not available"):
        make_executor("absent")
    with pytest.raises(ConfigError, match="executor"):
        make_executor("nope")
    with pytest.raises(ConfigError, match="workers"):
        make_executor("local", workers=0)
    # the Ray backend's options are checked without starting Ray (its own check, lazily imported)
    with pytest.raises(ConfigError):
        grid_executors.check_executor_options("ray", no_such_option=1)


def test_estimate_is_the_sum_of_the_stage_costs(tmp_path):
    store = Store(tmp_path)
    spec = ExperimentSpec(selectors=["random", "worst"], methods=["ft", "ga"], seeds=[0, 1])
    pipe = Pipeline(store, spec.setup)
    cal = Calibration(1e-4, 3e-5, 0.01, "cpu", "mlp", 1)
    import torch

    _CALIBRATIONS[(pipe.setup_key, str(pipe.device), torch.get_num_threads())] = cal
    _LOOPS[(pipe.setup_key, str(pipe.device), cal.threads)] = (1.5, 0.25)
    est = estimate_grid(spec, store, pipe)
    total_passes = total_s = 0.0
    for u in plan(spec):
        st = get_stage(u.stage)
        c = st.cost(pipe, u, cal)
        assert not c.cached  # an empty store
        total_passes += c.passes
        total_s += c.seconds * 1.5 + 0.25 if st.unit_overhead else c.seconds * (1.5 if st.loop_factor else 1.0)
    assert est.passes == pytest.approx(total_passes, rel=1e-12)
    assert est.seconds == pytest.approx(total_s, rel=1e-12)
    assert sum(est.by_stage().values()) == pytest.approx(est.seconds, rel=1e-12)
