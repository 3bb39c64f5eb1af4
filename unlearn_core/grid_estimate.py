"""Estimates of a grid before it runs: the cost model (``cost.py``: sample passes per unit, a calibration on this
device) applied to every unit of the grid's plan. It sits above the grid and the pipeline (it plans and looks units
up in the store), so the cost model itself stays below the pipeline, which reads its pass counts."""
from __future__ import annotations

import json

from .banks import chunk_config, parse_members
from .cost import (EVAL_PASS, Estimate, UnitEstimate, calibrate, eval_passes, forget_count, loop_calibration,
                   method_passes, score_passes)
from .grid import plan
from .methods import get_method
from .pipeline import Pipeline
from .selectors import parse_selector


def estimate_grid(spec, store, pipe=None) -> Estimate:
    """Estimate every unit of ``spec`` (cached units cost 0); calibrates the setup's model on its device."""
    pipe = pipe or Pipeline(store, spec.setup)
    cal = calibrate(pipe)
    n, n_test = pipe.ds.n_train, int(pipe.ds.x_test.shape[0])
    recipe = pipe.train_cfg
    svc = 5 * cal.svc_s_per_kpair * (2 * min(n_test, n) / 1000) ** 2  # five MIA feature variants per run
    units = []
    for u in plan(spec):
        params = json.loads(u.params)
        if u.stage == "original":
            passes, cached = recipe.epochs * n, pipe.find_original(u.seed) is not None
            seconds = passes * cal.train_s_per_sample + n * EVAL_PASS * cal.eval_s_per_sample * 3
        elif u.stage == "score":
            m = forget_count(u.ratio, n) if u.ratio is not None else None
            p = pipe._score_params(u.score, params)
            passes = score_passes(u.score, p, n, recipe, m)
            cached = pipe.find_score(u.score, u.seed, u.ratio, params) is not None
            seconds = passes * cal.train_s_per_sample
        elif u.stage == "forget_set":
            passes, cached, seconds = 0.0, pipe.find_forget_set(u.selector, u.ratio, u.seed) is not None, 0.05
        elif u.stage == "bank":
            passes, cached = bank_passes(pipe, u, n)
            seconds = passes * cal.train_s_per_sample
        else:
            sel = parse_selector(u.selector)
            if sel.class_wise:
                n_f = int(round(n / pipe.ds.num_classes * (len(sel.arg.split(",")) if sel.kind == "class"
                                                            else int(sel.arg))))
            else:
                n_f = forget_count(u.ratio, n)
            mp = get_method(u.method).resolve_params(pipe.ds, params or None, recipe)
            passes = method_passes(u.method, mp, n_f, n - n_f, recipe)
            cached = pipe.find_run(u.method, u.selector, u.ratio, u.seed, params or None) is not None
            seconds = passes * cal.train_s_per_sample + eval_passes(n, n_test) * cal.eval_s_per_sample * 3 + svc
        units.append(UnitEstimate(u.id, u.stage, u.label, float(passes), float(seconds), bool(cached),
                                  tuple(u.deps)))
    if any(not u.cached and u.stage != "forget_set" for u in units):
        factor, overhead = loop_calibration(pipe, cal)  # the real loop and a unit's fixed cost on this device
        for u in units:
            if u.stage != "forget_set":
                u.seconds = u.seconds * factor + (overhead if u.stage in ("run", "original") else 0.0)
    return Estimate(units, cal, float(recipe.epochs * n))


def bank_passes(pipe, unit, n: int) -> tuple[float, bool]:
    """(sample passes, all stored?) of a grid unit of a model bank (banks.py): its members' training (Retrain's
    recipe on D_r, the original recipe on D, or the method's own passes) plus one evaluation pass each. A member
    stored already costs nothing; for an unlearned bank whose θ_o or forget set is not computed yet all count."""
    members = parse_members(unit.members)
    params = json.loads(unit.params) or None
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
