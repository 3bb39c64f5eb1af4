"""Estimates of a grid before it runs: the cost model (``cost.py``: sample passes per unit, a calibration on this
device) applied to every unit of the grid's plan. It sits above the grid and the pipeline (it plans and looks units
up in the store), so the cost model itself stays below the pipeline, which reads its pass counts."""
from __future__ import annotations

from .cost import Estimate, UnitEstimate, calibrate, loop_calibration
from .grid import plan
from .grid_stages import bank_passes, get_stage  # noqa: F401 (bank_passes re-exported)
from .pipeline import Pipeline


def estimate_grid(spec, store, pipe=None) -> Estimate:
    """Estimate every unit of ``spec`` (cached units cost 0): each unit's stage gives its passes and seconds
    (:meth:`unlearn_core.grid_stages.Stage.cost`); calibrates the setup's model on its device."""
    pipe = pipe or Pipeline(store, spec.setup)
    cal = calibrate(pipe)
    units = []
    for u in plan(spec):
        c = get_stage(u.stage).cost(pipe, u, cal)
        units.append(UnitEstimate(u.id, u.stage, u.label, float(c.passes), float(c.seconds), bool(c.cached),
                                  tuple(u.deps), u.seed, u.ratio))
    if any(not u.cached and get_stage(u.stage).loop_factor for u in units):
        factor, overhead = loop_calibration(pipe, cal)  # the real loop and a unit's fixed cost on this device
        for u in units:
            stage = get_stage(u.stage)
            if stage.loop_factor:
                u.seconds = u.seconds * factor + (overhead if stage.unit_overhead else 0.0)
    return Estimate(units, cal, float(pipe.train_cfg.epochs * pipe.ds.n_train))
