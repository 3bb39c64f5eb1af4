"""The cost model: how much work a grid asks for, and how long that takes on this device, before it starts.

Work is counted in **sample passes**: one forward + backward of one training sample is 1; a forward pass alone
(evaluation, a score) is ``EVAL_PASS`` of that. Each unit of a grid (:mod:`unlearn_core.grid`) has a pass count from
its configuration (recipe epochs × samples, a method's epochs × the set it trains on, a score's own budget). A short
**calibration** times a few training and evaluation batches of the setup's model on this device (cached per process,
in the store and per machine for a day) and turns passes into seconds; a per-run evaluation overhead (the MIA SVCs)
is timed the same way. Units whose results are already stored cost nothing.

The estimate is a planning number ("≈ 6 min on this CPU"), not a promise: it is printed before a grid starts and
compared with the actual time after it ends (both are recorded), so its error is visible.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from .io import atomic_write_json
from .kernels import calibration_dir, device_name, input_format
from .methods import get_method
from .passes import EVAL_PASS
from .scores import get_score

CALIBRATION_MAX_AGE_S = 24 * 3600


@dataclass
class Calibration:
    """Seconds per sample pass of one model on one device (with the current thread count)."""

    train_s_per_sample: float
    eval_s_per_sample: float
    svc_s_per_kpair: float  # one MIA SVC fit, seconds per (1000 samples)² of its training set
    device: str
    model: str
    threads: int
    measured_at: float = field(default_factory=time.time)


_CALIBRATIONS: dict[tuple, Calibration] = {}


# Timings are a property of the machine, not of a store: besides the store (which keeps the one its estimates used),
# they are kept per machine next to the memory-format choice (``FORGETSET_CALIBRATION_DIR``), so a new cache folder
# does not re-time the device before its first grid (8.3 s of a 99.8 s cold gray-28 grid, README "Speed").
def _machine_file():
    return calibration_dir() / "cost_calibration.json"


def _machine_timings() -> dict:
    try:
        data = json.loads(_machine_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _stored_timing(pipe, meta_key: str, store_result: bool) -> dict | None:
    """A timing measured less than a day ago: the store's, else this machine's (then copied into the store, which
    says which timing its estimates used). None: measure it."""
    machine_key = f"{device_name(pipe.device)}|torch {torch.__version__}|{meta_key}"
    for cached, where in ((pipe.store.meta_get(meta_key), "store"), (_machine_timings().get(machine_key), "machine")):
        try:
            d = json.loads(cached)
            if time.time() - float(d["measured_at"]) < CALIBRATION_MAX_AGE_S:
                if where == "machine" and store_result:
                    pipe.store.meta_set(meta_key, cached)
                return d
        except (TypeError, ValueError, KeyError):  # missing, not JSON, or an old layout
            continue
    return None


def _record_timing(pipe, meta_key: str, timing: dict) -> None:
    """Keep a new timing in the store and for this machine (last writer wins; a lost entry is only re-measured)."""
    value = json.dumps(timing)
    pipe.store.meta_set(meta_key, value)
    data = _machine_timings()
    data[f"{device_name(pipe.device)}|torch {torch.__version__}|{meta_key}"] = value
    try:
        atomic_write_json(_machine_file(), data, indent=1, sort_keys=True)
    except OSError:  # a read-only home: the store still keeps it
        pass


def calibrate(pipe, batches: int = 6, store_result: bool = True) -> Calibration:
    """Time a few training and evaluation batches of the pipeline's model on its device (cached)."""
    from .training import get_batch, make_optimizer, new_model

    threads = torch.get_num_threads()
    key = (pipe.setup_key, str(pipe.device), threads)
    if key in _CALIBRATIONS:
        return _CALIBRATIONS[key]
    meta_key = "calibration:" + json.dumps([pipe.model_name, list(pipe.ds.input_shape), pipe.ds.num_classes,
                                            pipe.train_cfg.batch_size, str(pipe.device), threads])
    stored = _stored_timing(pipe, meta_key, store_result)
    if stored is not None:
        try:
            _CALIBRATIONS[key] = Calibration(**stored)
            return _CALIBRATIONS[key]
        except TypeError:  # another layout of the fields: measure again
            pass
    ds = pipe.ds
    bs = min(pipe.train_cfg.batch_size, ds.n_train)
    model = new_model(pipe.model_name, ds, 0, pipe.device).train()
    opt = make_optimizer(model.parameters(), pipe.train_cfg)
    gen = torch.Generator().manual_seed(0)
    idx = [torch.randint(0, ds.n_train, (bs,), generator=gen) for _ in range(batches + 1)]

    fmt = input_format(model)

    def step(ib):
        xb, yb = get_batch(ds, ib.to(ds.device), memory_format=fmt)
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(idx[0])  # warm-up (allocations, kernel selection)
    _sync(pipe.device)
    per_batch = []
    for ib in idx[1:]:
        t0 = time.perf_counter()
        step(ib)
        _sync(pipe.device)
        per_batch.append(time.perf_counter() - t0)
    # the median batch: one batch slowed by another process's burst does not skew a whole grid's estimate
    train_s = float(np.median(per_batch)) / bs
    model.eval()
    eb = min(2048, ds.n_train)
    with torch.no_grad():
        xb, _ = get_batch(ds, torch.arange(eb, device=ds.device), memory_format=fmt)
        model(xb)
        _sync(pipe.device)
        times = []
        for _ in range(5):  # the median of 5: one timed pass was off by up to 30x on a busy machine (issue 22)
            t0 = time.perf_counter()
            model(xb)
            _sync(pipe.device)
            times.append(time.perf_counter() - t0)
    eval_s = float(np.median(times)) / eb
    cal = Calibration(train_s, eval_s, _svc_seconds_per_kpair(), str(pipe.device), pipe.model_name, threads)
    _CALIBRATIONS[key] = cal
    if store_result:
        _record_timing(pipe, meta_key, asdict(cal))
    return cal


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _svc_seconds_per_kpair(n: int = 600) -> float:
    """Time one RBF SVC fit like the MIA's (1-D feature, two classes) and express it per (1000 samples)²."""
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.beta(5, 1, n), rng.beta(2, 2, n)])[:, None]
    y = np.r_[np.ones(n), np.zeros(n)]
    t0 = time.perf_counter()
    SVC(C=3, gamma="auto").fit(x, y)
    return (time.perf_counter() - t0) / (2 * n / 1000) ** 2


# A short real training and one real evaluation, timed once per device: the per-batch calibration above times bare
# optimizer steps, but a unit also pays the training loop's own work (batching, augmentation, schedule, Python per
# batch) and a fixed cost (model construction, the metrics' logits and the MIA SVC fit, storing). On the 2-core box
# the teaching demo's quick variant took 80 s against 11 s from the bare steps (issue 22).
LOOP_PROBE_SAMPLES = 1024
_LOOPS: dict[tuple, tuple[float, float]] = {}


def loop_calibration(pipe, cal: Calibration, store_result: bool = True) -> tuple[float, float]:
    """(loop factor, unit overhead in seconds) of the pipeline's model on this device: the real training loop's
    seconds per sample pass over ``cal.train_s_per_sample`` (≥ 1), and the seconds of one evaluation
    (:func:`unlearn_core.metrics.evaluate`: logits of every training and test sample and the MIA SVC fits) plus
    building a model. Cached per process, in the store and per machine for a day, like :func:`calibrate`."""
    from .metrics import evaluate
    from .training import new_model, train_loop, with_overrides

    key = (pipe.setup_key, str(pipe.device), cal.threads)
    if key in _LOOPS:
        return _LOOPS[key]
    # v2: a run's evaluation fits one MIA SVC, not five (the other feature variants are on demand); a calibration
    # stored before that would over-estimate every unit for a day.
    meta_key = "loop_calibration:v2:" + json.dumps([pipe.setup_key, str(pipe.device), cal.threads])
    stored = _stored_timing(pipe, meta_key, store_result)
    if stored is not None and {"factor", "overhead_s"} <= stored.keys():
        _LOOPS[key] = (float(stored["factor"]), float(stored["overhead_s"]))
        return _LOOPS[key]
    ds = pipe.ds
    n = min(LOOP_PROBE_SAMPLES, ds.n_train)
    idx = np.arange(n)
    small = ds.n_train <= 20_000
    forget = np.arange(0, ds.n_train, 10)
    retain = np.setdiff1d(np.arange(ds.n_train), forget)
    # Warm up first (one batch of training, one evaluation): the first call in a process pays one-off costs a grid
    # pays once, not per unit (imports of the SVC, allocator and kernel warm-up); timing it cold made every unit of
    # the quick demo look ~1.5 s longer than it is (issue 22: estimate 31.8 s vs 14.0 s actual on an idle machine).
    warm = new_model(pipe.model_name, ds, 0, pipe.device)
    train_loop(warm, ds, idx[: max(1, min(n, pipe.train_cfg.batch_size))], with_overrides(pipe.train_cfg, epochs=1), 0,
               what="calibration")
    if small:
        evaluate(warm, ds, forget, retain)
    _sync(pipe.device)
    t0 = time.perf_counter()
    model = new_model(pipe.model_name, ds, 0, pipe.device)
    _sync(pipe.device)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_loop(model, ds, idx, with_overrides(pipe.train_cfg, epochs=1), 0, what="calibration")
    _sync(pipe.device)
    loop_s = time.perf_counter() - t0
    factor = max(1.0, loop_s / max(n * cal.train_s_per_sample, 1e-9))
    if small:  # the real evaluation (on large data it is a few passes the model already counts)
        t0 = time.perf_counter()
        evaluate(model, ds, forget, retain)
        _sync(pipe.device)
        overhead = build_s + time.perf_counter() - t0
    else:
        overhead = build_s
    _LOOPS[key] = (float(factor), float(overhead))
    if store_result:
        _record_timing(pipe, meta_key, {"factor": factor, "overhead_s": overhead, "measured_at": time.time()})
    return _LOOPS[key]


# ---------------------------------------------------------------------------------------------- pass counts
def method_passes(method: str, params: dict, n_forget: int, n_retain: int, recipe) -> float:
    """Sample passes of one unlearning run (the method's own training; evaluation is counted separately): the
    method's :meth:`~unlearn_core.methods.base.UnlearnMethod.cost_passes`."""
    return float(get_method(method).cost_passes(params, n_forget, n_retain, recipe))


def score_passes(name: str, params: dict, n: int, recipe, m: int | None) -> float:
    """Sample passes of one score: its :meth:`~unlearn_core.scores.base.ScoreSpec.cost_passes`."""
    return float(get_score(name).cost_passes(params, n, recipe, m))


def mia_svc_seconds(cal: Calibration, n_train: int, n_test: int) -> float:
    """One MIA SVC fit (one feature variant) of a run: its training set is 2·min(n_test, n_train) samples."""
    return cal.svc_s_per_kpair * (2 * min(n_test, n_train) / 1000) ** 2


def eval_passes(n_train: int, n_test: int) -> float:
    """Evaluation of one run: logits of every training and test sample."""
    return (n_train + n_test) * EVAL_PASS


# ---------------------------------------------------------------------------------------------- estimates
@dataclass
class UnitEstimate:
    unit_id: str
    stage: str
    label: str
    passes: float
    seconds: float
    cached: bool
    deps: tuple[str, ...] = ()  # units that must finish first (grid.plan)
    seed: int | None = None  # the unit's seed and forget ratio (None: not ratio-dependent), for grouping
    ratio: float | None = None


# A worker process imports torch and loads the data before its first unit (measured 2-4 s on a CPU).
WORKER_START_S = 3.0


@dataclass
class Estimate:
    """A grid's estimated work and time, per unit and per stage."""

    units: list[UnitEstimate]
    calibration: Calibration
    one_training_passes: float  # sample passes of one original training (the unit BLO costs are quoted in)

    @property
    def seconds(self) -> float:
        return float(sum(u.seconds for u in self.units if not u.cached))

    @property
    def passes(self) -> float:
        return float(sum(u.passes for u in self.units if not u.cached))

    def by_stage(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for u in self.units:
            if not u.cached:
                out[u.stage] = out.get(u.stage, 0.0) + u.seconds
        return out

    def weights(self) -> dict[str, float]:
        """Each unit's share of the estimated time (progress bars advance in proportion to the work done)."""
        total = sum(max(u.seconds, 1e-3) for u in self.units) or 1.0
        return {u.unit_id: max(u.seconds, 1e-3) / total for u in self.units}

    def wall_seconds(self, workers: int = 1) -> float:
        """Expected wall time on ``workers`` workers: the units to compute list-scheduled in plan order as their
        dependencies finish (what the executors do), plus the workers' start-up."""
        todo = {u.unit_id: u for u in self.units if not u.cached}
        if not todo:
            return 0.0
        if workers <= 1:
            return self.seconds
        deps = {uid: [d for d in u.deps if d in todo] for uid, u in todo.items()}
        free_at = [WORKER_START_S] * workers  # when each worker can take its next unit
        finish: dict[str, float] = {}
        remaining = list(todo)  # plan order is a topological order
        while remaining:
            free_at.sort()
            worker_free = free_at.pop(0)
            # the unit that can start soonest on this worker (its dependencies are all scheduled already)
            best, best_start = None, math.inf
            for uid in remaining:
                if all(d in finish for d in deps[uid]):
                    start = max([worker_free, *(finish[d] for d in deps[uid])])
                    if start < best_start:
                        best, best_start = uid, start
            finish[best] = best_start + todo[best].seconds
            remaining.remove(best)
            free_at.append(finish[best])
        return max(finish.values())

    def summary(self, workers: int = 1) -> str:
        n_todo = sum(not u.cached for u in self.units)
        where = "GPU" if self.calibration.device.startswith("cuda") else "CPU"
        wall = self.wall_seconds(workers)
        on = f" with {workers} workers" if workers > 1 and wall > 0 else ""
        return (f"≈ {fmt_seconds(wall)} on this {where}{on} ({n_todo} of {len(self.units)} units to compute, "
                f"{self.passes / max(self.one_training_passes, 1):.1f}× the work of one original training)")


def fmt_seconds(s: float) -> str:
    if s < 90:
        return f"{max(s, 0):.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


# A worker process costs a few seconds to start (it imports torch and loads the data): below this much estimated
# work a grid runs faster in one process.
PARALLEL_MIN_SECONDS = 45.0


def auto_workers(est: Estimate, max_workers: int | None = None) -> int:
    """Worker processes for a grid: one per core when the estimated work is long enough to repay their start-up,
    capped by the number of units that can run at once (the seeds, mostly); else 1."""
    from .threads import cpu_count

    cores = cpu_count() if max_workers is None else max_workers
    todo = [u for u in est.units if not u.cached]
    if cores < 2 or est.seconds < PARALLEL_MIN_SECONDS or len(todo) < 2:
        return 1
    widest = max(sum(1 for u in todo if u.stage == st) for st in {u.stage for u in todo})
    return max(1, min(cores, widest))


def describe_actual(estimate: Estimate, actual_s: float, workers: int = 1) -> str:
    planned = estimate.wall_seconds(workers)
    ratio = actual_s / planned if planned > 0 else math.nan
    return f"took {fmt_seconds(actual_s)} (estimate {fmt_seconds(planned)}, actual/estimate {ratio:.2f})"


def as_dict(est: Estimate) -> dict[str, Any]:
    return {"seconds": est.seconds, "passes": est.passes, "by_stage": est.by_stage(),
            "calibration": asdict(est.calibration), "one_training_passes": est.one_training_passes}
