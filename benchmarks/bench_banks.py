"""Speed of model banks on digits (MLP), printed side by side in one run.

1. Cold: θ_o, the N = 32 Retrain bank and 5 methods × 32 unlearned runs (FT, GA, RL, SalUn, SCRUB) for one random
   10% forget set, into an empty store (target: within 3 minutes on 2 cores).
2. Reuse: the metrics of a second method once the Retrain bank is stored (no retraining: 0 Retrain models trained).
3. Stacked vs one at a time: the same Retrain bank members trained with ``model_batch`` = all vs 1.
4. The metrics' KLoM: all examples at once (``forget_quality.klom``) vs the per-example histograms (``klom_one``),
   on the margins of step 1 (the same numbers; the time of one comparison's three splits).
5. Store writes: a GA bank of N members into an empty store with each member stored in line vs on the writer
   thread while the next one runs (``ensure_members(background_writes=...)``).

    PYTHONPATH=. python benchmarks/bench_banks.py [--n 32] [--stack-k 16] [--cache-dir /tmp/bench-banks]

Times are wall-clock on this machine with one torch thread; the load average is printed (a shared machine's load
slows everything: compare the ratios, not the absolute numbers, across runs).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np
import torch

from unlearn_core.banks import BankContext, bank_comparison, ensure_members
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store

METHODS = ["ft", "ga", "rl", "salun", "scrub"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--stack-k", type=int, default=16)
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = args.cache_dir or tempfile.mkdtemp(prefix="bench-banks-")
    shutil.rmtree(root, ignore_errors=True)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores · store {root}")
    t_all = time.perf_counter()
    pipe = Pipeline(Store(root), dataset="digits", device="cpu")
    bc = BankContext.of(pipe)
    t0 = time.perf_counter()
    theta = pipe.original(0)
    fs = pipe.forget_set("random", 0.1, 0)
    t_orig = time.perf_counter() - t0
    n = args.n
    t0 = time.perf_counter()
    _, k_ret = ensure_members(bc, "retrain", list(range(n)), fs.forget_idx)
    t_ret = time.perf_counter() - t0
    per_method = {}
    for m in METHODS:
        t0 = time.perf_counter()
        _, k = ensure_members(bc, "unlearn", list(range(n)), fs.forget_idx, m, None, theta)
        per_method[m] = (time.perf_counter() - t0, k)
    t0 = time.perf_counter()
    f = {m: bank_comparison(pipe, m, "random", 0.1, 0, n).comparison.metrics for m in METHODS}
    t_metrics = time.perf_counter() - t0
    cold = time.perf_counter() - t_all
    print(f"\n1. cold, N = {n}: θ_o + forget set {t_orig:.1f} s · Retrain bank ({k_ret} models) {t_ret:.1f} s · "
          + " · ".join(f"{m} {s:.1f} s ({k} runs)" for m, (s, k) in per_method.items())
          + f" · metrics of 5 methods {t_metrics:.1f} s\n   total {cold:.1f} s = {cold / 60:.2f} min (target 3 min)")
    print("   F / score / KLoM forget P95: " + ", ".join(
        f"{m} {v['forget_quality']:.3f}/{v['score']:.3f}/{v['klom_forget_p95']:.2f}" for m, v in f.items()))

    # 2. a second method on the stored Retrain bank: only its own runs
    t0 = time.perf_counter()
    res = bank_comparison(pipe, "l1_sparse", "random", 0.1, 0, n, compute_if_missing=True)
    t_second = time.perf_counter() - t0
    _, k_again = ensure_members(bc, "retrain", list(range(n)), fs.forget_idx)
    print(f"\n2. reuse: a 6th method (l1_sparse, {n} runs) against the stored Retrain bank: {t_second:.1f} s, "
          f"Retrain models trained again: {k_again} (bank reused) · F {res.comparison.metrics['forget_quality']:.3f}")

    # 3. stacked vs one at a time (no store: both train)
    k = args.stack_k
    nostore = BankContext(pipe.ds, pipe.model_name, pipe.train_cfg, None, pipe.base_config)
    members = list(range(1000, 1000 + k))
    t0 = time.perf_counter()
    one, _ = ensure_members(nostore, "retrain", members, fs.forget_idx, model_batch=1)
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    stacked, _ = ensure_members(nostore, "retrain", members, fs.forget_idx, model_batch=k)
    t_stacked = time.perf_counter() - t0
    diff = max(float(np.abs(a["train"] - b["train"]).max()) for a, b in zip(one, stacked))
    from unlearn_core.ensemble import auto_model_batch

    auto = auto_model_batch(pipe.model_name, pipe.ds, k, pipe.train_cfg)
    print(f"\n3. {k} Retrain models: one at a time {t_one:.1f} s · stacked (vmap) {t_stacked:.1f} s · "
          f"speed-up {t_one / t_stacked:.2f}× · auto_model_batch chooses {auto} · max |Δ margin| between the two "
          f"{diff:.2e}")
    # 4. KLoM vectorised vs per example, on the stored banks of step 1 (FT vs Retrain: forget, retain, test)
    from unlearn_core.forget_quality import klom, klom_one

    r = bank_comparison(pipe, "ft", "random", 0.1, 0, n)
    t0 = time.perf_counter()
    loop = {s: np.array([klom_one(r.unlearned[s][:, j], r.retrained[s][:, j]) for j in range(r.unlearned[s].shape[1])])
            for s in r.unlearned}
    t_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    vec = {s: klom(r.unlearned[s], r.retrained[s]) for s in r.unlearned}
    t_vec = time.perf_counter() - t0
    same = all(np.array_equal(loop[s], vec[s]) for s in loop)
    print(f"\n4. KLoM of {sum(v.size for v in vec.values())} examples: per example {t_loop:.2f} s · all at once "
          f"{t_vec:.3f} s · speed-up {t_loop / max(t_vec, 1e-9):.1f}× · identical: {same}")
    # 5. store writes in line vs on the writer thread (GA: its runs are short, so the writes are most of it)
    times = {}
    for bg in (False, True):
        p2 = Pipeline(Store(tempfile.mkdtemp(prefix="bench-writes-")), dataset="digits", device="cpu")
        th2, fs2 = p2.original(0), p2.forget_set("random", 0.1, 0)
        t0 = time.perf_counter()
        ensure_members(BankContext.of(p2), "unlearn", list(range(n)), fs2.forget_idx, "ga", None, th2,
                       background_writes=bg)
        times[bg] = time.perf_counter() - t0
        shutil.rmtree(p2.store.root, ignore_errors=True)
    print(f"\n5. GA bank of {n} into an empty store: writes in line {times[False]:.2f} s · on the writer thread "
          f"{times[True]:.2f} s · speed-up {times[False] / times[True]:.2f}×")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    if args.cache_dir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
