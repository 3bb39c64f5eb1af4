"""Local executor vs Ray executor on the default digits grid: identical results? what does Ray cost?

The default grid (random + worst, Retrain/FT/GA/RL/ℓ1-sparse, 10%, seeds 0-2: 42 units) with a short recipe
(3 epochs, BLO upper_iters 2, K 1), each executor into a fresh store:

1. in this process, on a local Ray cluster this script starts (``ray.init(num_cpus=2)`` on 127.0.0.1): rounds of
   (local grid, Ray grid), round 1 with cold processes on both sides, later ones warm (the machine is shared, so
   each round prints the load average); then the Ray grid again on its complete store (every unit served from
   the driver's store: the idempotency overhead); the cluster start is timed separately;
2. through the CLI (``compare --executor local`` vs ``compare --executor ray --ray-address local``), end to end
   in subprocesses, comparing the CSVs it writes.

Checks: same run keys, same metrics bit for bit, and (in-process) every store holds the same runs with the same
artifact SHA-256s. On a 2-core machine Ray cannot be faster than one local process; the point is correctness
and the overhead (cluster start, worker start-up, bundles through the object store, scheduling).

    PYTHONPATH=$PWD python benchmarks/ray_overhead.py [--skip-cli] [--seeds 3] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unlearn_core.threads import apply_thread_policy

apply_thread_policy()  # one torch thread, as the local policy and the Ray workers use

from unlearn_core.config import Setup  # noqa: E402
from unlearn_core.grid import ExperimentSpec, plan, run_experiment  # noqa: E402
from unlearn_core.metrics import MIA_VARIANTS  # noqa: E402
from unlearn_core.store import Store  # noqa: E402

METRICS = ["UA", "RA", "TA", "MIA", *(f"MIA_{v}" for v in MIA_VARIANTS), "forget_size"]
SETUP = dict(device="cpu", train={"epochs": 3}, blo={"upper_iters": 2, "K": 1})


def compare_frames(a, b) -> tuple[bool, int]:
    """(identical?, number of values compared) over the metric columns both frames have, by run key."""
    cols = [c for c in METRICS if c in a.columns and c in b.columns]
    a = a.set_index("key").sort_index()
    b = b.set_index("key").sort_index()
    if list(a.index) != list(b.index):
        return False, 0
    same = all(list(a[c]) == list(b[c]) for c in cols)
    return same, len(a) * len(cols)


def artifacts(store: Store) -> dict[str, str]:
    return {r["key"]: r["artifacts"]["main"]["sha256"] for r in store.list_runs(status="done")}


def load_avg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def in_process(seeds: list[int], repeats: int) -> dict:
    """``repeats`` rounds of (local grid, Ray grid), each into fresh stores, on one Ray cluster. Round 1 pays
    the warm-up of fresh processes on both sides (imports, first training); later rounds run on warm workers."""
    import ray

    from unlearn_core.cluster import RayExecutor

    spec = ExperimentSpec(setup=Setup(**SETUP), seeds=seeds)
    tmp = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    out: dict = {"units": len(plan(spec)), "runs": spec.n_runs(), "load_before": load_avg(), "rounds": [],
                 "identical_metrics": True, "identical_store": True, "values_compared": 0}
    t = time.time()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    out["ray_init_s"] = time.time() - t
    try:
        for i in range(repeats):
            local_store, ray_store = Store(tmp / f"local{i}"), Store(tmp / f"ray{i}")
            t = time.time()
            local = run_experiment(spec, local_store)
            local_s = time.time() - t
            ex = RayExecutor()
            t = time.time()
            remote = run_experiment(spec, ray_store, executor=ex)
            ray_s = time.time() - t
            same, n = compare_frames(local, remote)
            out["identical_metrics"] &= same
            out["identical_store"] &= artifacts(local_store) == artifacts(ray_store)
            out["values_compared"] += n
            out["store_runs"] = len(artifacts(ray_store))
            out["rounds"].append({"local_s": local_s, "ray_s": ray_s, "tasks": len(ex.submitted),
                                  "task_s": sum(r["end"] - r["start"] for r in ex.timeline),
                                  "workers": len({r["pid"] for r in ex.timeline}), "load": load_avg()})
        ex = RayExecutor()
        t = time.time()
        again = run_experiment(spec, ray_store, executor=ex)
        out["ray_cached_s"], out["ray_cached_submitted"] = time.time() - t, len(ex.submitted)
        out["identical_cached_rerun"] = compare_frames(remote, again)[0]
    finally:
        t = time.time()
        ray.shutdown()
        out["ray_shutdown_s"] = time.time() - t
    out["load_after"] = load_avg()
    return out


def via_cli(seeds: int) -> dict:
    import pandas as pd

    tmp = Path(tempfile.mkdtemp(prefix="ray-overhead-cli-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the local CLI computes in its own process: one thread, as policy
    common = ["--epochs", "3", "--blo", json.dumps(SETUP["blo"]), "--device", "cpu", "--seeds", str(seeds), "--quiet"]
    out: dict = {}
    for name, extra in (("local", ["--executor", "local"]),
                        ("ray", ["--executor", "ray", "--ray-address", "local"])):
        csv = tmp / f"{name}.csv"
        t = time.time()
        p = subprocess.run([sys.executable, "-m", "unlearn_core", "compare", "--cache-dir", str(tmp / name),
                            "--out", str(csv), *common, *extra], env=env, capture_output=True, text=True)
        out[f"cli_{name}_s"] = time.time() - t
        if p.returncode != 0:
            raise SystemExit(f"CLI {name} failed ({p.returncode}):\n{p.stderr[-3000:]}")
        out[f"cli_{name}_frame"] = pd.read_csv(csv)
    same, n = compare_frames(out.pop("cli_local_frame"), out.pop("cli_ray_frame"))
    out["cli_identical_metrics"], out["cli_values_compared"] = same, n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2, help="rounds of (local, Ray); round 1 is cold")
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args()
    r = in_process(list(range(args.seeds)), args.repeats)
    print(f"grid: {r['units']} units, {r['runs']} unlearning runs; load average (1/5/15 min) before "
          f"{r['load_before']}, after {r['load_after']} on {os.cpu_count()} cores")
    print(f"ray.init (2 CPUs): {r['ray_init_s']:.1f}s; ray.shutdown: {r['ray_shutdown_s']:.1f}s")
    print(f"{'round':>5s} {'local':>8s} {'Ray':>8s} {'overhead':>9s} {'per unit':>9s} {'tasks':>6s} "
          f"{'task-s':>7s} {'workers':>8s}  load")
    for i, x in enumerate(r["rounds"], 1):
        over = x["ray_s"] - x["local_s"]
        print(f"{i:5d} {x['local_s']:7.1f}s {x['ray_s']:7.1f}s {over:+8.1f}s {over / r['units']:+8.2f}s "
              f"{x['tasks']:6d} {x['task_s']:6.1f}s {x['workers']:8d}  {x['load']}")
    print(f"Ray again on the complete store: {r['ray_cached_s']:.2f}s ({r['ray_cached_submitted']} tasks)")
    print(f"identical metrics: {r['identical_metrics']} ({r['values_compared']} values); identical store "
          f"(keys + artifact SHA-256 of {r['store_runs']} runs): {r['identical_store']}; cached rerun identical: "
          f"{r['identical_cached_rerun']}")
    ok = r["identical_metrics"] and r["identical_store"] and r["identical_cached_rerun"]
    if not args.skip_cli:
        c = via_cli(args.seeds)
        print(f"CLI compare --executor local: {c['cli_local_s']:.1f}s; --executor ray --ray-address local (starts "
              f"and stops its own cluster): {c['cli_ray_s']:.1f}s; identical metrics: {c['cli_identical_metrics']} "
              f"({c['cli_values_compared']} values)")
        ok = ok and c["cli_identical_metrics"]
    print("RESULT:", "identical" if ok else "DIFFERENT")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
