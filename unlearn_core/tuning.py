"""The tuning protocol of the worst-case paper's authors: tune a method on random forget sets, reuse it anywhere.

Fan et al. (*Challenging Forgets*, ECCV 2024) and Chen et al. tune each method's learning rate (and epochs) on
random forget sets and reuse the chosen values on the worst-case sets; so a gap on the worst case is not a tuning
artefact of that set. The protocol here:

1. **Grid** — a JSON object {hyperparameter: [values]} (default :func:`default_grid`: the preset's learning rate
   × {0.25, 0.5, 1, 2} and its epochs and half of them); every combination is a candidate, and the preset itself is
   always a candidate (so tuning never returns something worse than the preset on the tuning sets).
2. **Search** — each candidate runs on the ``selector`` sets (default ``random``) at ``ratio`` over ``seeds``,
   with Retrain on the same sets; a candidate's objective is ``results.aggregate``'s ``avg_gap`` (Fan et al.'s
   Table-3 Avg. gap: the mean over UA, MIA, RA, TA of |mean over seeds − Retrain's mean over the same seeds|).
   The smallest wins (ties: the first in grid order).
3. **Record** — a run of kind ``tuning`` in the store (keyed by the setup, the method, the grid, the tuning sets,
   the seeds and the content hashes of the seeds' θ_o) holding the grid, every candidate's avg gap (and its
   per-metric gaps, means and run keys) and the chosen values. Re-running a finished tuning is served from it.
4. **Apply** — the chosen values (fully resolved: they are the run's ``params``, hence part of its key) run on
   the ``apply_to`` sets (default ``worst``), next to the preset for comparison. Every such run is an ordinary
   unlearning run; :func:`annotate_tuned` labels any results frame's rows whose (setup, method, params) match a
   tuning's chosen values ("tuned on random 10% · seeds 0,1,2").

The grid's time is estimated before it starts (:func:`estimate_tuning`, from ``grid_estimate.estimate_grid``).
CLI: ``python -m unlearn_core tune --method ft``; dashboard: the ``tune`` job kind.
"""
from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .config import Setup, setup_key
from .context import NULL_CONTEXT, RunContext
from .cost import fmt_seconds
from .errors import ConfigError
from .grid import run_experiment
from .grid_estimate import estimate_grid
from .methods import get_method
from .pipeline import Pipeline
from .results import METRICS, aggregate, table3
from .selectors import parse_selector, selector_label
from .spec import ExperimentSpec
from .store import Computed, CorruptArtifact, Store
from .validation import Ratio, check_seed_list

KIND = "tuning"
MAX_CANDIDATES = 64
LR_FACTORS = (0.25, 0.5, 1.0, 2.0)


def default_grid(method: str, ds) -> dict[str, list]:
    """The learning rate around the method's preset, lr × {0.25, 0.5, 1, 2}, at the method's budget: the epochs
    stay what the budget resolves them to (``paper``: the papers' fraction of the recipe; unlearn_core/budget.py),
    so the search tunes the step size for the cost the method is allowed, not a larger budget. A method without an
    lr tunes its epochs {⌈E/2⌉, E} instead (with budget ``custom``)."""
    preset = get_method(method).default_params(ds)
    grid: dict[str, list] = {}
    if isinstance(preset.get("lr"), (int, float)) and not isinstance(preset.get("lr"), bool):
        grid["lr"] = sorted({float(f"{preset['lr'] * f:.6g}") for f in LR_FACTORS})
    elif isinstance(preset.get("epochs"), int) and not isinstance(preset.get("epochs"), bool) and preset["epochs"] > 1:
        grid["epochs"] = sorted({max(1, math.ceil(preset["epochs"] / 2)), int(preset["epochs"])})
    if not grid:
        raise ConfigError(f"Method '{method}' has no lr or epochs to tune by default; give --grid explicitly.")
    return grid


@dataclass
class TuneSpec:
    """What to tune (see module docstring). ``grid=None`` = :func:`default_grid`; ``base_params`` are fixed
    overrides every candidate shares."""

    setup: Setup = field(default_factory=Setup)
    method: str = "ft"
    grid: dict[str, list] | None = None
    selector: str = "random"
    ratio: float = 0.1
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    apply_to: list[str] = field(default_factory=lambda: ["worst"])
    base_params: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict | None) -> "TuneSpec":
        d = dict(d or {})
        setup = d.pop("setup", None)
        setup = setup if isinstance(setup, Setup) else Setup.from_dict(setup)
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"Unknown tuning fields {unknown}.")
        return cls(setup=setup, **d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["setup"] = self.setup.to_dict()
        return d

    def validate(self, ds=None) -> "TuneSpec":
        m = get_method(str(self.method))
        if m.exact:
            raise ConfigError("Retrain has nothing to tune (it is the reference the gaps are measured to).")
        if self.grid is not None:
            if not isinstance(self.grid, dict) or not self.grid:
                raise ConfigError('The grid must be a JSON object such as {"lr": [0.01, 0.02], "epochs": [5, 10]}.')
            for k, v in self.grid.items():
                if not isinstance(v, (list, tuple)) or not v:
                    raise ConfigError(f"Grid values of '{k}' must be a non-empty list, got {v!r}.")
        if not isinstance(self.base_params, dict):
            raise ConfigError("Fixed hyperparameters must be a JSON object.")
        if parse_selector(self.selector).class_wise:
            raise ConfigError("Tune on sample-wise forget sets (e.g. random); class-wise sets have no ratio.")
        self.ratio = Ratio(self.ratio)
        if not self.seeds:
            raise ConfigError("Choose at least one seed (three or more: the objective is a mean over seeds).",
                              field="seed")
        self.seeds = sorted(check_seed_list(self.seeds))
        if isinstance(self.apply_to, str):
            self.apply_to = [x.strip() for x in self.apply_to.split(",") if x.strip()]
        for s in self.apply_to:
            if parse_selector(s).class_wise:
                raise ConfigError(f"apply_to '{s}': the tuned values are applied at the tuning ratio; use "
                                  f"sample-wise sets.")
        if ds is not None:
            cands = self.candidates(ds)
            if len(cands) > MAX_CANDIDATES:
                raise ConfigError(f"The grid has {len(cands)} candidates; the limit is {MAX_CANDIDATES}.")
            for c in cands:
                m.resolve_params(ds, {**self.base_params, **c}, self.recipe())  # unknown names / wrong types: a clear error now
        return self

    def resolved_grid(self, ds) -> dict[str, list]:
        return {k: list(v) for k, v in sorted((self.grid or default_grid(self.method, ds)).items())}

    def recipe(self):
        """The training recipe of the setup being tuned (the methods' budgets resolve against it)."""
        return self.setup.resolve().recipe

    def candidates(self, ds) -> list[dict]:
        """Every combination of the grid (grid order), then the preset ({}) unless it is already among them."""
        g = self.resolved_grid(ds)
        keys = list(g)
        cands = [dict(zip(keys, vals)) for vals in itertools.product(*(g[k] for k in keys))]
        m = get_method(self.method)
        preset = m.resolve_params(ds, dict(self.base_params), self.recipe())
        if all(m.resolve_params(ds, {**self.base_params, **c}, self.recipe()) != preset for c in cands):
            cands.append({})
        return cands


def _spec(ts: TuneSpec, selectors: list[str], params: dict):
    return ExperimentSpec(setup=ts.setup, selectors=list(selectors), methods=[ts.method], ratios=[ts.ratio],
                          seeds=list(ts.seeds), method_params={ts.method: dict(params)} if params else {})


# ---------------------------------------------------------------------------------------------- estimate
@dataclass
class TuningEstimate:
    seconds: float
    by_part: dict[str, float]
    n_candidates: int
    n_runs: int
    device: str

    def summary(self) -> str:
        where = "GPU" if self.device.startswith("cuda") else "CPU"
        parts = ", ".join(f"{k} {fmt_seconds(v)}" for k, v in self.by_part.items())
        return (f"≈ {fmt_seconds(self.seconds)} on this {where}: {self.n_candidates} candidates, {self.n_runs} "
                f"unlearning runs to compute ({parts})")


def estimate_tuning(ts: TuneSpec, store: Store, pipe=None) -> TuningEstimate:
    """The protocol's time before it starts: the grid (every candidate on the tuning sets, Retrain once) and the
    application (tuned — costed like the preset — and preset on the ``apply_to`` sets); cached units cost 0."""
    pipe = pipe or Pipeline(store, ts.setup)
    ts.validate(pipe.ds)
    seen: set = set()
    by_part = {"grid": 0.0, "apply": 0.0}
    n_runs = 0
    cal = None
    jobs = [("grid", i, _spec(ts, [ts.selector], {**ts.base_params, **c})) for i, c in enumerate(ts.candidates(pipe.ds))]
    if ts.apply_to:
        jobs += [("apply", v, _spec(ts, ts.apply_to, dict(ts.base_params))) for v in ("tuned", "preset")]
    for part, tag, spec in jobs:
        est = estimate_grid(spec, store, pipe)
        cal = est.calibration
        for u in est.units:
            shared = u.stage != "run" or u.unit_id.startswith("run/retrain/")
            k = (u.unit_id,) if shared else (u.unit_id, part, tag)
            if k in seen or u.cached:
                continue
            seen.add(k)
            by_part[part] += u.seconds
            n_runs += u.stage == "run"
    return TuningEstimate(sum(by_part.values()), by_part, len(ts.candidates(pipe.ds)), n_runs,
                          cal.device if cal else str(pipe.device))


# ---------------------------------------------------------------------------------------------- search
def tuning_config(pipe, ts: TuneSpec, ctx: RunContext = NULL_CONTEXT) -> dict:
    return {"kind": KIND, **pipe.base_config, "method": ts.method, "grid": ts.resolved_grid(pipe.ds),
            "base_params": get_method(ts.method).resolve_params(pipe.ds, dict(ts.base_params), pipe.train_cfg),
            "selector": ts.selector, "ratio": ts.ratio, "seeds": list(ts.seeds),
            "blo": pipe.blo_params if parse_selector(ts.selector).needs_scores() else None,
            "originals": {str(s): pipe.original_digest(s, ctx) for s in ts.seeds}, "objective": "avg_gap"}


def _candidate_row(df: pd.DataFrame, method: str) -> dict:
    agg = aggregate(df)
    row = agg[agg["method"] == method]
    if row.empty:
        raise ConfigError(f"No finished {method} runs came back from the grid.")
    r = row.iloc[0]
    out = {"avg_gap": float(r["avg_gap"]), "n": int(r["n"]), "n_retrain": int(r["n_retrain"]),
           "ToW_mean": float(r.get("ToW_mean", np.nan))}
    for m in METRICS:
        out[f"gap_{m}"] = float(r[f"gap_{m}"])
        out[f"{m}_mean"] = float(r[f"{m}_mean"])
    out["run_keys"] = [str(k) for k in df.loc[df["method"] == method, "key"]]
    return out


def run_search(ts: TuneSpec, store: Store, ctx: RunContext = NULL_CONTEXT, executor=None,
               on_log: Callable[[str], None] | None = None) -> tuple[dict, str, bool]:
    """Steps 1-3: (the tuning record, its store key, whether it came from the cache)."""
    pipe = Pipeline(store, ts.setup)
    ts.validate(pipe.ds)
    cfg = tuning_config(pipe, ts, ctx.sub(0, 0.05))
    m = get_method(ts.method)
    cands = ts.candidates(pipe.ds)
    preset = m.resolve_params(pipe.ds, dict(ts.base_params), pipe.train_cfg)

    def compute() -> Computed:
        t0 = time.time()
        rows = []
        for i, c in enumerate(cands):
            sub = ctx.sub(0.05 + 0.95 * i / len(cands), 0.05 + 0.95 * (i + 1) / len(cands))
            df = run_experiment(_spec(ts, [ts.selector], {**ts.base_params, **c}), store, sub, executor=executor)
            params = m.resolve_params(pipe.ds, {**ts.base_params, **c}, pipe.train_cfg)
            row = {"candidate": i, "overrides": c, "params": params, "is_preset": params == preset,
                   **_candidate_row(df, ts.method)}
            rows.append(row)
            if on_log:
                on_log(f"candidate {i + 1}/{len(cands)} {json.dumps(c) if c else '(preset)'}: "
                       f"Avg. gap {row['avg_gap']:.3f}")
        best = min(range(len(rows)), key=lambda i: (rows[i]["avg_gap"] if rows[i]["avg_gap"] == rows[i]["avg_gap"]
                                                   else math.inf, i))
        chosen = rows[best]
        pre = next((r for r in rows if r["is_preset"]), None)
        record = {"method": ts.method, "grid": cfg["grid"], "base_params": cfg["base_params"],
                  "selector": ts.selector, "ratio": ts.ratio, "seeds": list(ts.seeds), "objective": "avg_gap",
                  "candidates": rows, "chosen": {"candidate": chosen["candidate"], "overrides": chosen["overrides"],
                                                 "params": chosen["params"], "avg_gap": chosen["avg_gap"]},
                  "preset": {"params": preset, "avg_gap": pre["avg_gap"] if pre else None},
                  "setup_id": setup_key(cfg), "blo": cfg["blo"]}
        return Computed(record, {"avg_gap": chosen["avg_gap"], "n_candidates": len(rows),
                                 "preset_avg_gap": pre["avg_gap"] if pre else None},
                        {"search_s": time.time() - t0})

    got = store.cached(KIND, cfg, compute, fmt="json", on_log=on_log or ctx.log, cancel=ctx.check_cancel)
    return got.value, got.key, got.hit


# ---------------------------------------------------------------------------------------------- apply
def apply_tuning(ts: TuneSpec, record: dict, store: Store, ctx: RunContext = NULL_CONTEXT, executor=None
                 ) -> pd.DataFrame:
    """Step 4: the method with the chosen values and with its preset on the ``apply_to`` sets (Retrain included);
    returns Table 3 (``results.table3``) with a ``variant`` column (tuned | preset)."""
    if not ts.apply_to:
        return pd.DataFrame()
    chosen = dict(record["chosen"]["params"])
    frames = []
    variants = [("tuned", chosen)]
    if record["preset"]["params"] != chosen:
        variants.append(("preset", dict(ts.base_params)))
    for k, (variant, params) in enumerate(variants):
        df = run_experiment(_spec(ts, ts.apply_to, params), store, ctx.sub(k / len(variants), (k + 1) / len(variants)),
                            executor=executor)
        t3 = table3(df, ts.apply_to)
        t3.insert(0, "variant", [("retrain" if mm == "retrain" else variant) for mm in t3["method"]])
        frames.append(t3 if k == 0 else t3[t3["method"] != "retrain"])
    out = pd.concat(frames, ignore_index=True)
    if len(variants) == 1:  # the tuned values are the preset
        out.loc[out["variant"] == "tuned", "variant"] = "tuned (= preset)"
    return out


@dataclass
class TuneResult:
    record: dict
    key: str
    cache_hit: bool
    applied: pd.DataFrame

    @property
    def chosen(self) -> dict:
        return self.record["chosen"]

    def candidates(self) -> pd.DataFrame:
        return candidates_frame(self.record)


def tune(ts: TuneSpec, store: Store, ctx: RunContext = NULL_CONTEXT, executor=None,
         on_log: Callable[[str], None] | None = None) -> TuneResult:
    """The whole protocol (search on the tuning sets, record, apply); every step cached."""
    record, key, hit = run_search(ts, store, ctx.sub(0, 0.8 if ts.apply_to else 1.0), executor, on_log)
    applied = apply_tuning(ts, record, store, ctx.sub(0.8, 1.0), executor) if ts.apply_to else pd.DataFrame()
    return TuneResult(record, key, hit, applied)


# ---------------------------------------------------------------------------------------------- read functions
def candidates_frame(record: dict) -> pd.DataFrame:
    """One row per candidate: candidate, the grid's hyperparameters (one column each), is_preset, avg_gap,
    gap_UA/MIA/RA/TA, UA/MIA/RA/TA_mean, ToW_mean, n, chosen (bool)."""
    grid_keys = list(record.get("grid") or {})
    rows = []
    for c in record["candidates"]:
        row = {"candidate": c["candidate"]}
        for k in grid_keys:
            row[k] = c["params"].get(k)
        row.update({k: c.get(k) for k in ("is_preset", "avg_gap", "gap_UA", "gap_MIA", "gap_RA", "gap_TA",
                                         "UA_mean", "MIA_mean", "RA_mean", "TA_mean", "ToW_mean", "n")})
        row["chosen"] = c["candidate"] == record["chosen"]["candidate"]
        rows.append(row)
    return pd.DataFrame(rows)


def tuning_label(record: dict) -> str:
    """'tuned on random 10% · seeds 0,1,2 (Avg. gap 1.23)' — how Compare names tuned values."""
    seeds = ",".join(str(s) for s in record["seeds"])
    return (f"tuned on {selector_label(record['selector'])} {100 * record['ratio']:g}% · seeds {seeds} "
            f"(Avg. gap {record['chosen']['avg_gap']:.2f})")


def find_tunings(store: Store, setup_id: str | None = None, method: str | None = None) -> pd.DataFrame:
    """Every finished tuning, newest first: key, setup_id, method, selector, ratio, seeds, grid, n_candidates,
    chosen (overrides, JSON), chosen_params (JSON, sorted keys: equals a run's ``params`` column), avg_gap,
    preset_avg_gap, label, finished."""
    cols = ["key", "setup_id", "method", "selector", "ratio", "seeds", "grid", "n_candidates", "chosen",
            "chosen_params", "avg_gap", "preset_avg_gap", "label", "finished"]
    rows = []
    for r in store.list_runs(KIND, "done"):
        c = r["config"]
        if setup_id is not None and setup_key(c) != setup_id:
            continue
        if method is not None and c.get("method") != method:
            continue
        rec = load_tuning(store, r["key"])
        if rec is None:
            continue
        rows.append({"key": r["key"], "setup_id": setup_key(c), "method": c["method"], "selector": c["selector"],
                     "ratio": c["ratio"], "seeds": ",".join(map(str, c["seeds"])),
                     "grid": json.dumps(c["grid"], sort_keys=True), "n_candidates": len(rec["candidates"]),
                     "chosen": json.dumps(rec["chosen"]["overrides"], sort_keys=True),
                     "chosen_params": json.dumps(rec["chosen"]["params"], sort_keys=True),
                     "avg_gap": rec["chosen"]["avg_gap"], "preset_avg_gap": rec["preset"]["avg_gap"],
                     "label": tuning_label(rec), "finished": r.get("finished")})
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values("finished", ascending=False).reset_index(drop=True) if not df.empty else df


def load_tuning(store: Store, key: str) -> dict | None:
    """The record of a finished tuning run (None if missing or corrupt)."""
    run = store.done_run(key)
    if run is None or run["kind"] != KIND:
        return None
    try:
        value, _ = store.decode("json", run)
    except CorruptArtifact:
        return None
    return value


def annotate_tuned(df: pd.DataFrame, store: Store) -> pd.DataFrame:
    """``df`` (runs or aggregated rows with setup_id, method, params) with a ``tuned_on`` column: the tuning label
    where the row's (setup, method, params) are a tuning's chosen values, else "". Method names renamed by
    ``results.results_for_setup`` are matched through its ``method_name`` column."""
    out = df.copy()
    if out.empty:
        out["tuned_on"] = []
        return out
    tun = find_tunings(store)
    labels: dict[tuple, str] = {}
    for r in tun.iloc[::-1].itertuples(index=False):  # oldest first: the newest label wins
        labels[(r.setup_id, r.method, r.chosen_params)] = r.label
    mcol = "method_name" if "method_name" in out else "method"
    sid = out["setup_id"] if "setup_id" in out else pd.Series([None] * len(out), index=out.index)
    out["tuned_on"] = [labels.get((s, m, p), "") for s, m, p in zip(sid, out[mcol], out["params"])]
    return out
