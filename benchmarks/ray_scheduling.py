"""A simulated larger cluster: 4 "GPUs" declared on a local Ray cluster, fractional GPU requests packing.

Starts ``ray.init(num_cpus=2, num_gpus=4)`` on this machine (Ray accepts declared GPUs without the hardware; it
sets each task's ``CUDA_VISIBLE_DEVICES`` to the ids it assigns) and runs the default digits grid (42 units,
8 epochs) once per resource configuration, each into a fresh store. The setup says ``device="cpu"``, so
torch computes on the CPU whatever Ray assigns: the unit takes its device from the configuration.

For each configuration it records every unit's start and end (inside the task) and the GPU id Ray gave it, and
prints the most units that ran at once (overall and per GPU), the bound the requests imply, the concurrency over
time, and whether the metrics are bit-identical to the local executor's. Each configuration runs twice: pass 1
starts the worker processes it needs, pass 2 finds them running.

    PYTHONPATH=$PWD python benchmarks/ray_scheduling.py [--out timeline.csv]
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from unlearn_core.threads import apply_thread_policy

apply_thread_policy()

from unlearn_core.config import Setup  # noqa: E402
from unlearn_core.grid import ExperimentSpec, run_experiment  # noqa: E402
from unlearn_core.metrics import MIA_VARIANTS  # noqa: E402
from unlearn_core.store import Store  # noqa: E402

CLUSTER_CPUS, CLUSTER_GPUS = 2, 4
# 8 epochs (not the tests' 3): units then last longer than dispatching them, so the packing limit shows.
SPEC = ExperimentSpec(setup=Setup(device="cpu", train={"epochs": 8}, blo={"upper_iters": 2, "K": 1}))
METRICS = ["UA", "RA", "TA", "MIA", *(f"MIA_{v}" for v in MIA_VARIANTS), "forget_size"]
CONFIGS = [  # (name, cpus_per_unit, gpus_per_unit)
    ("0.25 GPU + 1 CPU per unit", 1, 0.25),
    ("0.25 GPU + 0.125 CPU per unit", 0.125, 0.25),
    ("1 GPU + 0.125 CPU per unit", 0.125, 1),
]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end at t closes before a start at t opens)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def profile(intervals: list[tuple[float, float]], step: float) -> list[int]:
    """Units running at t0, t0 + step, ... (the concurrency over time)."""
    t0, t1 = min(s for s, _ in intervals), max(e for _, e in intervals)
    return [sum(s <= t < e for s, e in intervals) for t in [t0 + i * step for i in range(int((t1 - t0) / step) + 1)]]


def same(a, b) -> bool:
    a, b = a.set_index("key").sort_index(), b.set_index("key").sort_index()
    return list(a.index) == list(b.index) and all(list(a[c]) == list(b[c]) for c in METRICS if c in a)


def main() -> None:
    import ray

    from unlearn_core.cluster import RayExecutor

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="write every unit's timeline (all configurations) as CSV")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ray-sched-"))
    t = time.time()
    local = run_experiment(SPEC, Store(tmp / "local"))
    print(f"local executor: {time.time() - t:.1f}s")
    # Ray keeps at most num_workers_soft_limit idle workers (default: the CPU count) and kills the others after
    # a second; with fractions of a CPU per unit more units run than there are CPUs, so keep enough workers.
    ray.init(address="local", num_cpus=CLUSTER_CPUS, num_gpus=CLUSTER_GPUS, include_dashboard=False,
             log_to_driver=False, configure_logging=False, _system_config={"num_workers_soft_limit": 16})
    rows, lines = [], []
    try:
        print(f"cluster: {ray.cluster_resources()}")
        runs = [(name, cpus, gpus, p) for name, cpus, gpus in CONFIGS for p in (1, 2)]
        for i, (name, cpus, gpus, p) in enumerate(runs):
            ex = RayExecutor(cpus_per_unit=cpus, gpus_per_unit=gpus)
            t = time.time()
            df = run_experiment(SPEC, Store(tmp / f"ray{i}"), executor=ex)
            wall = time.time() - t
            iv = [(r["start"], r["end"]) for r in ex.timeline]
            by_gpu: dict[str, list[tuple[float, float]]] = {}
            for r in ex.timeline:
                for g in r["gpu_ids"]:
                    by_gpu.setdefault(g, []).append((r["start"], r["end"]))
            bound = min(math.floor(CLUSTER_CPUS / cpus + 1e-9), math.floor(CLUSTER_GPUS / gpus + 1e-9))
            per_gpu = {g: max_overlap(v) for g, v in sorted(by_gpu.items())}
            devices = sorted({r["device"] for r in ex.timeline})
            label = f"{name} (pass {p})"
            rows.append((label, bound, max_overlap(iv), per_gpu, wall, devices, same(df, local),
                         len({r["pid"] for r in ex.timeline})))
            lines.append((label, profile(iv, 0.5)))
            for r in ex.timeline:
                r["config"] = label
            if args.out:
                import pandas as pd

                pd.DataFrame(ex.timeline).to_csv(args.out, mode="a" if i else "w", header=not i, index=False)
    finally:
        ray.shutdown()
    print(f"\n{'configuration':41s} {'bound':>5s} {'max at once':>11s}  {'per GPU id: max at once':26s} "
          f"{'workers':>7s} {'wall':>6s}  device  identical")
    for label, bound, peak, per_gpu, wall, devices, ident, workers in rows:
        pg = ", ".join(f"{g}:{n}" for g, n in per_gpu.items())
        print(f"{label:41s} {bound:5d} {peak:11d}  {pg:26s} {workers:7d} {wall:5.1f}s  {','.join(devices):6s}  "
              f"{ident}")
    print("\nunits running, sampled every 0.5 s (inside the tasks):")
    for label, prof in lines:
        print(f"  {label:41s} {' '.join(str(n) for n in prof)}")


if __name__ == "__main__":
    main()
