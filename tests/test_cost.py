"""The cost model: pass counts follow the configuration, cached units are free, the wall-time estimate for N workers
respects the dependencies, BLO's budget stays under its cap. No timing assertions (machines vary)."""
from __future__ import annotations

import pytest

from unlearn_core.config import Setup, forget_count
from unlearn_core.cost import (
    WORKER_START_S,
    Calibration,
    Estimate,
    UnitEstimate,
    auto_workers,
    method_passes,
    score_passes,
)
from unlearn_core.grid import ExperimentSpec, run_experiment
from unlearn_core.grid_estimate import estimate_grid
from unlearn_core.store import Store
from unlearn_core.training import TrainConfig

CAL = Calibration(1e-4, 3e-5, 0.01, "cpu", "mlp", 1)


def _est(units: list[UnitEstimate]) -> Estimate:
    return Estimate(units, CAL, 1000.0)


def test_pass_counts_follow_the_configuration():
    recipe = TrainConfig(epochs=12)
    assert method_passes("retrain", {}, 100, 900, recipe) == 12 * 900  # the full recipe on the retain set
    assert method_passes("ft", {"epochs": 5}, 100, 900, recipe) == 5 * 900
    assert method_passes("ga", {"epochs": 5}, 100, 900, recipe) == 5 * 100  # ascent on the forget set only
    assert method_passes("rl", {"epochs": 5}, 100, 900, recipe) == 5 * 1000  # relabelled D_f with D_r
    blo = score_passes("blo", {}, 1000, TrainConfig(epochs=30), 100)
    assert 0 < blo <= 1.0 * 30 * 1000 + 1.0 * 1000 + 1000 / 3  # under max_cost = 1 training (plus one iteration)
    capped = score_passes("blo", {"max_cost": 0.01}, 1000, TrainConfig(epochs=30), 100)
    assert capped < blo


def test_wall_time_for_workers_respects_dependencies():
    # a chain a -> b (10 s each) next to two independent 10 s units c, d
    units = [UnitEstimate("a", "original", "a", 1, 10.0, False), UnitEstimate("b", "run", "b", 1, 10.0, False, ("a",)),
             UnitEstimate("c", "original", "c", 1, 10.0, False), UnitEstimate("d", "original", "d", 1, 10.0, False)]
    est = _est(units)
    assert est.wall_seconds(1) == est.seconds == 40.0
    assert est.wall_seconds(2) == pytest.approx(WORKER_START_S + 20.0)  # two lanes of 20 s
    assert est.wall_seconds(8) == pytest.approx(WORKER_START_S + 20.0)  # the chain a -> b bounds it
    units[2].cached = units[3].cached = True
    assert _est(units).wall_seconds(2) == pytest.approx(WORKER_START_S + 20.0) and _est(units).seconds == 20.0
    assert "with 2 workers" in est.summary(2) and "with" not in est.summary(1)


def test_estimate_of_a_grid_counts_only_what_is_not_cached(tmp_path):
    spec = ExperimentSpec(setup=Setup(train={"epochs": 3}), methods=["retrain", "ft"], selectors=["random"],
                          seeds=[0])
    store = Store(tmp_path)
    est = estimate_grid(spec, store)
    n = 1437  # digits' training set
    by_id = {u.unit_id: u for u in est.units}
    run = next(u for u in est.units if u.stage == "run" and "retrain" in u.unit_id)
    assert run.passes == 3 * (n - forget_count(0.1, n)) and not run.cached and run.deps
    assert est.seconds > 0 and set(est.by_stage()) >= {"original", "run"}
    assert all(d in by_id for u in est.units for d in u.deps)
    assert auto_workers(est, max_workers=2) == 1  # a few seconds of work does not repay a worker's start-up
    run_experiment(spec, store)
    again = estimate_grid(spec, store)
    assert all(u.cached for u in again.units) and again.seconds == 0 and again.wall_seconds(2) == 0


GOLDEN = __import__("pathlib").Path(__file__).parent / "cost_passes_golden.json"


def test_cost_passes_of_every_method_and_score_match_the_pre_hook_table():
    """Pass counts now come from each method's / score's ``cost_passes``; the table was written by the code before
    that change (cost.py's hard-coded per-method formulas; tests/cost_passes_golden.json), for every registered
    method, RSU/RUM wrapper, preset variant and score: every number must be the same float."""
    import json

    from dataclasses import replace

    rows = json.loads(GOLDEN.read_text())
    recipe = Setup().resolve().recipe
    assert len(rows) > 200
    for row in rows:
        if "method" in row:
            got = method_passes(row["method"], row["params"], row["n_forget"], row["n_retain"],
                                replace(recipe, epochs=row["recipe_epochs"]))
        else:
            assert row["recipe"] == recipe.to_dict()  # the digits recipe the table was written with
            got = score_passes(row["score"], row["params"], row["n"], recipe, row["m"])
        assert got == row["passes"], row


def test_every_method_and_score_has_a_documented_cost_passes():
    from unlearn_core.methods import get_method, method_names
    from unlearn_core.scores import get_score, score_names

    for name in method_names():
        fn = get_method(name).cost_passes
        assert callable(fn) and (fn.__doc__ or "").strip(), name
    for name in score_names():
        assert (get_score(name).cost_passes.__doc__ or "").strip(), name


def test_device_timings_are_kept_per_machine_so_a_new_store_does_not_re_time_the_device(tmp_path, monkeypatch):
    """calibrate / loop_calibration measured once are read back in a new store on the same machine (no training
    step runs), recorded in that store too; on another machine (CPU name) they are measured again."""
    import unlearn_core.cost as cost
    from unlearn_core.pipeline import Pipeline

    monkeypatch.setenv("FORGETSET_CALIBRATION_DIR", str(tmp_path / "machine"))
    monkeypatch.setattr(cost, "_CALIBRATIONS", {})
    monkeypatch.setattr(cost, "_LOOPS", {})
    setup = Setup(train={"epochs": 3})
    first = Pipeline(Store(tmp_path / "a"), setup)
    cal = cost.calibrate(first)
    loop = cost.loop_calibration(first, cal)

    import unlearn_core.training as training

    def no_training(*a, **k):
        raise AssertionError("the device was timed again")

    monkeypatch.setattr(training, "train_loop", no_training)
    monkeypatch.setattr(training, "new_model", no_training)
    monkeypatch.setattr(cost, "_CALIBRATIONS", {})
    monkeypatch.setattr(cost, "_LOOPS", {})
    second = Pipeline(Store(tmp_path / "b"), setup)
    assert cost.calibrate(second) == cal and cost.loop_calibration(second, cal) == loop
    with second.store.connect() as con:  # the store says which timing its estimates used
        keys = [k for (k,) in con.execute("SELECT k FROM meta")]
    assert any(k.startswith("calibration:") for k in keys) and any(k.startswith("loop_calibration:") for k in keys)

    monkeypatch.setattr(cost, "_CALIBRATIONS", {})
    import unlearn_core.kernels as kernels

    monkeypatch.setattr(kernels, "cpu_name", lambda: "another CPU")  # what the per-machine key is made of
    with pytest.raises(AssertionError, match="timed again"):
        cost.calibrate(Pipeline(Store(tmp_path / "c"), setup))
