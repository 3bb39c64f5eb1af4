"""Speed ratios that hold on any machine, measured side by side in one run (absolute times on shared machines
vary several-fold; ratios measured back to back do not).

0. the trainer's GFLOP/s per model (the setup's model, plus the small CNN on 32x32x3 and 28x28x1) in the memory format
   the calibration chose and in the other one, and its ratio to a 1024² float32 matmul timed in the same run, one
   thread (the issue's target: the small CNN's step at >= 50% of the matmul's GFLOP/s)
1. trainer vs a minimal hand-written PyTorch loop (same model, data, batch size, optimizer): time ratio
2. BLO cost in units of one original training: sample passes (from its trace) and wall time
3. the default comparison per stage (estimate vs actual)
4. stacked (vmap) vs one-at-a-time training of k models
5. worker processes vs sequential on a grid
6. where the time of a cold grid goes (retrain, ft, rl × random, worst × 3 seeds, one process, under cProfile):
   process start and imports (fresh interpreters), training, evaluation passes, MIA SVC fits, BLO, store writes
7. the issue's target ratio: a cold ``compare --methods retrain,ft,rl --selectors random,worst --seeds 3`` on
   ``--workers`` (default 2) over one cold ``train`` of θ_o, both as fresh CLI processes with fresh caches

    python benchmarks/bench_perf.py                                   # digits
    python benchmarks/bench_perf.py --dataset npz:../shared/data/cifar10_subset.npz --model cnn
    python benchmarks/bench_perf.py --device cuda                     # the same on a GPU
    python benchmarks/bench_perf.py --dataset npz:/tmp/gray28.npz --model cnn --skip trainer,blo,grid,stack,workers
                                                                      # 0, 6, 7 only (benchmarks/make_gray28.py)
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from unlearn_core.config import Setup
from unlearn_core.cost import fmt_seconds
from unlearn_core.grid_estimate import estimate_grid
from unlearn_core.grid import ExperimentSpec, LocalExecutor, ProcessExecutor, run_experiment
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store
from unlearn_core.threads import apply_thread_policy, cpu_count
from unlearn_core import kernels
from unlearn_core.models import build_model
from unlearn_core.ensemble import ensemble_speedup
from unlearn_core.training import make_generator, new_model, train_loop


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    """float32 n×n matmul throughput on this thread (median of ``reps``): what the core does on dense math."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t0)
    return 2 * n ** 3 / float(np.median(ts)) / 1e9


def step_flops(model, x, y) -> float:
    """FLOPs of one training step (forward + backward), counted by torch's FlopCounterMode (convs, matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return float(fc.get_total_flops())


def legacy_cnn(shape: tuple, num_classes: int = 10):
    """The small CNN with its earlier layers (out-of-place ReLUs, adaptive pool): same FLOPs, same numbers."""
    from torch import nn

    from unlearn_core.models import Classifier

    b1 = nn.Sequential(nn.Conv2d(shape[0], 32, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(32), nn.ReLU())
    b2 = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
    fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * 16, 256), nn.ReLU())
    return Classifier(nn.Sequential(b1, b2, fc), nn.Linear(256, num_classes), groups=[b1, b2, fc])


def trainer_gflops(model_name: str, shape: tuple, batch: int, rounds: int = 7) -> dict:
    """The trainer's step (SGD momentum, as train_loop) in both memory formats, interleaved with the matmul."""
    x = torch.randn(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    out = {}
    runs = {}
    for name, fmt in kernels.FORMATS.items():
        m = build_model(model_name, shape, 10).to(memory_format=fmt).train()
        runs[name] = (m, torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9), x.contiguous(memory_format=fmt))
    if model_name == "cnn":  # the layers before issue 23's kernel changes, channels_last: the before/after pair
        m = legacy_cnn(shape).to(memory_format=torch.channels_last).train()
        runs["legacy_channels_last"] = (m, torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9),
                                        x.contiguous(memory_format=torch.channels_last))
    flops = step_flops(runs["contiguous"][0], x, y)
    times = {k: [] for k in runs}
    mm = []
    for r in range(rounds + 1):
        for name, (m, opt, xb) in runs.items():
            t0 = time.perf_counter()
            loss = F.cross_entropy(m(xb), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if r:
                times[name].append(time.perf_counter() - t0)
        if r:
            mm.append(matmul_gflops(reps=1))
    ref = float(np.median(mm))
    for name in runs:
        g = flops / float(np.median(times[name])) / 1e9
        out[name] = (g, g / ref)
    out["matmul"] = ref
    out["flops"] = flops
    return out


def eval_throughput(model_name: str, shape: tuple, n: int = 2048, rounds: int = 3) -> dict[int, float]:
    """Images/s of eval-mode forward passes (no_grad, one thread) in the project's CPU eval batch
    (kernels.eval_batch_size) and in batches of 2048 (the earlier default), interleaved."""
    m = build_model(model_name, shape, 10).eval()
    fmt = torch.channels_last if kernels.has_conv(m) else torch.contiguous_format
    m = m.to(memory_format=fmt)
    x = torch.randn(n, *shape).contiguous(memory_format=fmt) if len(shape) == 3 else torch.randn(n, *shape)
    sizes = sorted({kernels.eval_batch_size(m, torch.device("cpu")), 2048})
    ts: dict[int, list[float]] = {b: [] for b in sizes}
    with torch.no_grad():
        for _ in range(rounds):
            for b in sizes:
                t0 = time.perf_counter()
                for s in range(0, n, b):
                    m(x[s:s + b])
                ts[b].append(time.perf_counter() - t0)
    return {b: n / float(np.median(v)) for b, v in ts.items()}


def cli(args: list[str]) -> tuple[float, str]:
    """Wall time and output of a fresh ``python -m unlearn_core ...`` process (start-up and imports included)."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "unlearn_core", *args], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(args)}\n{p.stdout}\n{p.stderr}")
    return dt, p.stdout


def fresh_python(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


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
    ap.add_argument("--skip", default="", help="comma list of sections to skip: "
                    "gflops,trainer,blo,grid,stack,workers,profile,ratio")
    ap.add_argument("--workers", type=int, default=2, help="workers of the cold grid in section 7")
    ap.add_argument("--budget", default="paper", help="unlearning budget of the grids in sections 6-7")
    ap.add_argument("--grid-cache", default=None, help="section 7: keep the cold grid's cache in this (new) folder, "
                    "e.g. to add the fixed10 runs to the same θ_o and Retrain afterwards")
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

    if "gflops" not in skip:  # 0
        torch.set_num_threads(1)
        models = [(pipe.model_name, tuple(ds.input_shape), cfg.batch_size)]
        models += [m for m in (("mlp", (1, 8, 8), 128), ("cnn", (3, 32, 32), 64), ("cnn", (1, 28, 28), 64))
                   if m != models[0]]
        for name, shape, batch in models:
            r = trainer_gflops(name, shape, batch)
            chosen = kernels.choose_memory_format(name, lambda: build_model(name, shape, 10), shape, 10,
                                                  torch.device("cpu"), probe=build_model(name, shape, 10))
            ch = "channels_last" if chosen == torch.channels_last else "contiguous"
            print(f"[0] {name} {shape} batch {batch}: {r['flops'] / 1e9:.3f} GFLOP per step; contiguous "
                  f"{r['contiguous'][0]:.1f} GFLOP/s ({100 * r['contiguous'][1]:.0f}% of matmul), channels_last "
                  f"{r['channels_last'][0]:.1f} GFLOP/s ({100 * r['channels_last'][1]:.0f}%); 1024² matmul "
                  f"{r['matmul']:.1f} GFLOP/s; the calibration chose {ch} → trainer at "
                  f"{100 * r[ch][1]:.0f}% of matmul"
                  + (f" (earlier layers, channels_last: {r['legacy_channels_last'][0]:.1f} GFLOP/s, "
                     f"{100 * r['legacy_channels_last'][1]:.0f}%)" if "legacy_channels_last" in r else ""))
            ev = eval_throughput(name, shape)
            chosen_b = kernels.eval_batch_size(build_model(name, shape, 10), torch.device("cpu"))
            print(f"    eval forward passes: batch {chosen_b} (chosen) {ev[chosen_b]:,.0f} images/s vs batch 2048 "
                  f"{ev[2048]:,.0f} images/s ({ev[chosen_b] / ev[2048]:.2f}×)")

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
    grid_args = ["--dataset", args.dataset, *(["--model", pipe.model_name]), "--methods", "retrain,ft,rl",
                 "--selectors", "random,worst", "--seeds", "3", "--budget", args.budget, "--quiet"]
    if "profile" not in skip:  # 6
        t_py = fresh_python("pass")
        t_torch = fresh_python("import torch")
        t_core = fresh_python("import unlearn_core.cli, unlearn_core.grid, unlearn_core.pipeline, unlearn_core.results")
        t_list = cli(["list"])[0]
        print(f"[6] process start {t_py:.2f}s · + import torch {t_torch:.2f}s · + the core (grid, pipeline) "
              f"{t_core:.2f}s · `python -m unlearn_core list` {t_list:.2f}s")
        from unlearn_core.cli import main as cli_main

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.runcall(cli_main, ["compare", *grid_args, "--workers", "1", "--cache-dir", str(tmp / "profile")])
        total = time.perf_counter() - t0
        st = pstats.Stats(prof)
        wanted = {"training (train_loop)": [("training.py", "train_loop")],
                  "evaluation (metrics.evaluate)": [("metrics.py", "evaluate")],
                  "  of which forward passes (predict_logits)": [("training.py", "predict_logits")],
                  "  of which MIA SVC fits (SVC.fit)": [("svm/_base.py", "fit")],
                  "BLO score": [("blo.py", "blo_weights")],
                  "store artifact writes (Store.encode)": [("store/artifacts.py", "encode")],
                  "store SQLite (claim, finish)": [("store/runs.py", "claim"), ("store/runs.py", "finish")],
                  "cost calibration (cost.calibrate)": [("cost.py", "calibrate")],
                  "memory-format calibration": [("kernels.py", "measure_speedup")],
                  "learning events + predictions of θ_o": [("learning_events.py", "store_events"),
                                                             ("pipeline.py", "predictions")]}
        found = {}
        for (file, line, fn), (cc, nc, tt, ct, callers) in st.stats.items():
            for label, targets in wanted.items():
                if any(file.endswith(f) and fn == name for f, name in targets):
                    found[label] = found.get(label, 0.0) + ct
        print(f"[6] cold grid in one process ({total:.1f}s wall, cProfile cumulative seconds; nested entries overlap):")
        for label in wanted:
            print(f"      {label:<38s} {found.get(label, 0.0):8.2f}s  {100 * found.get(label, 0.0) / total:5.1f}%")

    if "ratio" not in skip:  # 7
        t_train, out_train = cli(["train", "--dataset", args.dataset, "--model", pipe.model_name, "--quiet",
                                  "--cache-dir", str(tmp / "cold_train")])
        grid_cache = Path(args.grid_cache) if args.grid_cache else tmp / "cold_grid"
        if grid_cache.exists() and any(grid_cache.iterdir()):
            raise SystemExit(f"--grid-cache {grid_cache} is not empty: the grid must run cold")
        t_grid, out_grid = cli(["compare", *grid_args, "--workers", str(args.workers),
                                "--cache-dir", str(grid_cache), "--table-out", str(grid_cache) + "-table3.csv"])
        fit = next((ln for ln in out_grid.splitlines() if ln.startswith("θ_o")), "")
        print(f"[7] cold compare ({args.workers} workers, budget {args.budget}) / one cold train: "
              f"{t_grid / t_train:.2f}× ({t_grid:.1f}s vs {t_train:.1f}s) · {out_train.splitlines()[0]} · {fit}")
        print(out_grid)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
