"""Speed ratios that hold on any machine, measured side by side in one run (absolute times on shared machines
vary several-fold; ratios measured back to back do not).

1. trainer vs a minimal hand-written PyTorch loop (same model, data, batch size, optimizer): time ratio
2. BLO cost in units of one original training: sample passes (from its trace) and wall time
3. the default comparison per stage (estimate vs actual)
4. stacked (vmap) vs one-at-a-time training of k models
5. worker processes vs sequential on a grid

    python benchmarks/bench_perf.py                                   # digits
    python benchmarks/bench_perf.py --dataset npz:../shared/data/cifar10_subset.npz --model cnn
    python benchmarks/bench_perf.py --device cuda                     # the same on a GPU
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from unlearn_core.config import Setup
from unlearn_core.cost import estimate_grid, fmt_seconds
from unlearn_core.grid import ExperimentSpec, LocalExecutor, ProcessExecutor, run_experiment
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store
from unlearn_core.threads import apply_thread_policy, cpu_count
from unlearn_core.training import ensemble_speedup, make_generator, new_model, train_loop


def minimal_loop(model, ds, idx, cfg, seed):
    """The textbook loop: shuffle, gather, normalise, forward, CE, backward, SGD step (no schedule, no checks)."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    gen = make_generator(seed)
    model.train()
    for _ in range(cfg.epochs):
        perm = idx[torch.randperm(len(idx), generator=gen)]
        for s in range(0, len(perm), cfg.batch_size):
            ib = perm[s:s + cfg.batch_size].to(ds.device)
            x, y = ds.normalize(ds.x_train[ib]), ds.y_train[ib]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def timed(fn, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (all stages)")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: trainer,blo,grid,stack,workers")
    args = ap.parse_args()
    apply_thread_policy()
    skip = set(args.skip.split(","))
    setup = Setup(dataset=args.dataset, model=args.model, device=args.device,
                  train={"epochs": args.epochs} if args.epochs else {})
    tmp = Path(tempfile.mkdtemp(prefix="forgetset-bench-"))
    pipe = Pipeline(Store(tmp / "a"), setup)
    ds, cfg, device = pipe.ds, pipe.train_cfg, pipe.device
    print(f"{args.dataset} · {pipe.model_name} · recipe {cfg.to_dict()} · {device} · {torch.get_num_threads()} "
          f"torch thread(s) · {cpu_count()} cores")

    if "trainer" not in skip:  # 1
        idx = torch.arange(ds.n_train)
        one_epoch = cfg.__class__(**{**cfg.to_dict(), "epochs": 2, "augment": "none", "schedule": "constant"})
        t_ours, t_min = [], []
        for rep in range(3):  # interleaved, so load changes hit both
            t_ours.append(timed(lambda: train_loop(new_model(pipe.model_name, ds, rep, device), ds, idx, one_epoch,
                                                   rep), device))
            t_min.append(timed(lambda: minimal_loop(new_model(pipe.model_name, ds, rep, device), ds, idx, one_epoch,
                                                    rep), device))
        r = np.median(t_ours) / np.median(t_min)
        print(f"[1] trainer / minimal loop time: {r:.2f} (median of 3; ours {np.median(t_ours):.2f}s, "
              f"minimal {np.median(t_min):.2f}s for 2 epochs)")

    if "blo" not in skip:  # 2
        t_train = timed(lambda: pipe.original(0), device)
        t_blo = timed(lambda: pipe.score("blo", 0, 0.1), device)
        extras = pipe.score("blo", 0, 0.1).extras
        passes = extras.get("cost_sample_passes")
        one = cfg.epochs * ds.n_train
        print(f"[2] BLO cost / one original training: wall {t_blo / t_train:.3f} ({t_blo:.1f}s vs {t_train:.1f}s)"
              + (f", sample passes {passes / one:.3f} ({passes:,.0f} vs {one:,})" if passes else "")
              + f"; converged={extras.get('converged')} after {extras.get('iterations', len(extras.get('trace', [])))}"
                f" iterations")

    spec = ExperimentSpec(setup=setup, methods=["retrain", "ft", "rl"], selectors=["random", "worst"],
                          ratios=[0.1], seeds=[0, 1, 2])
    if "grid" not in skip:  # 3
        store = Store(tmp / "grid")
        est = estimate_grid(spec, store)
        ex = LocalExecutor(batch_models="off")
        t = timed(lambda: run_experiment(spec, store, executor=ex, estimate=est), device)
        actual: dict[str, float] = {}
        for uid, sec in ex.unit_seconds.items():
            actual[uid.split("/")[0]] = actual.get(uid.split("/")[0], 0.0) + sec
        print(f"[3] default comparison (retrain, ft, rl × random, worst × 10% × 3 seeds): {fmt_seconds(t)}, estimate "
              f"{fmt_seconds(est.seconds)} (actual/estimate {t / est.seconds:.2f})")
        for st, e in est.by_stage().items():
            print(f"      {st:<11s} estimate {fmt_seconds(e):>8s} · actual {fmt_seconds(actual.get(st, 0.0)):>8s}")

    if "stack" not in skip:  # 4
        for k in (3, 16):
            sp = ensemble_speedup(pipe.model_name, ds, cfg, k)
            print(f"[4] {k} models stacked (vmap) vs one at a time: speed-up {sp:.2f}× "
                  f"({'stacked' if sp >= 1.15 else 'one at a time'} is what auto chooses)")

    if "workers" not in skip and cpu_count() >= 2:  # 5
        small = ExperimentSpec(setup=setup, methods=["retrain", "ft"], selectors=["random"], ratios=[0.1],
                               seeds=[0, 1, 2, 3])
        res = {}
        for name, ex in (("sequential", LocalExecutor(batch_models="off")), ("2 workers", ProcessExecutor(2))):
            store = Store(tmp / name.replace(" ", "_"))
            res[name] = (timed(lambda: run_experiment(small, store, executor=ex), device),
                         run_experiment(small, store))  # second call: cached rows for the comparison
        same = res["sequential"][1][["UA", "RA", "TA", "MIA"]].equals(res["2 workers"][1][["UA", "RA", "TA", "MIA"]])
        print(f"[5] 2 worker processes vs sequential (retrain, ft × random × 4 seeds): speed-up "
              f"{res['sequential'][0] / res['2 workers'][0]:.2f}× ({res['sequential'][0]:.1f}s vs "
              f"{res['2 workers'][0]:.1f}s); metrics bit-identical: {same}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
