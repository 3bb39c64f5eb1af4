"""The BLO benchmark: selection quality and cost of BLO variants, and the lower-level comparison.

For one data set, forget ratio and S seeds: train θ_o (seeded, cached), run each BLO variant on it, take the top-m
set, Retrain on its complement with the original recipe and report Retrain's UA and MIA on the set (lower = harder
to forget = a stronger worst case), next to random sets. Per variant it also prints the BLO's cost in units of
one original training — sample passes (training forward+backward = 1, eval forward = 1/3) divided by
epochs × N, and the wall-time ratio BLO seconds / θ_o training seconds (and the same with process CPU time, which
is less sensitive to other jobs on a shared machine) — and the convergence numbers of the last
iteration (overlap with the previous iteration, with the starting/chance set, with θ_o's m lowest-loss samples)
and the top-m overlap with the long-budget reference set of the same seed. Mean ± sample std (ddof=1) over seeds.

Self-contained (low-level APIs only: load_dataset, train_model, blo_weights, metrics.evaluate). θ_o, BLO results
and Retrain metrics are cached in --cache (delete it, or use a fresh one, to re-time everything in one run).

    python benchmarks/blo_quality.py --dataset digits --model mlp --seeds 3 --cache /tmp/blo_bench
    python benchmarks/blo_quality.py --dataset npz:/work/shared/data/cifar10_subset.npz --model cnn --seeds 3 \\
        --cache /tmp/blo_bench
    python benchmarks/blo_quality.py ... --mode lower          # ft / ft_ga / retrain lower levels, new BLO
    python benchmarks/blo_quality.py ... --mode steps --no-retrain   # step scales x uniform/random start
    python benchmarks/blo_quality.py ... --variant 'k1={"K": 1}' --only new,k1   # ad-hoc variants
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from unlearn_core.config import forget_count
from unlearn_core.data import load_dataset
from unlearn_core.metrics import evaluate
from unlearn_core.scores.base import ScoreInput
from unlearn_core.scores.blo import blo_weights
from unlearn_core.training import (
    new_model,
    per_sample_loss,
    preset_for,
    train_model,
    with_overrides,
)

# The variants of each mode. "random" is a random forget set and "lowloss" θ_o's m lowest-loss samples (no BLO:
# one eval pass); "long" is the long-budget converged reference every other set is compared with.
OLD_DEFAULT = {"init": "random", "step_scale": "std", "alpha": 0.2, "decay": 0.0, "max_iters": 20, "K": 10,
               "warm_start": False, "patience": 1000, "max_cost": 0}  # the previous default: 20 upper iterations x 10 epochs, no early stop
LONG = {"K": 1, "warm_start": False, "step_scale": "rank", "alpha": 1.0, "decay": 1.0, "max_iters": 40, "patience": 3,
        "max_cost": 0}  # 10-20x the default's lower level per iteration, Robbins-Monro steps, no cost cap
MODES = {
    "quality": {"random": None, "lowloss": "lowloss", "old": OLD_DEFAULT, "new": {}, "long": LONG},
    # Step scales x starts at the default budget (use with --no-retrain: convergence and overlaps only).
    "steps": {"lowloss": "lowloss", **{f"{init}_{scale}": {"init": init, "step_scale": scale}
                                       for init in ("uniform", "random") for scale in ("rank", "mad", "std", "none")},
              "long": LONG},
    "lower": {"random": None, "lowloss": "lowloss", "ft": {"lower": "ft"}, "ft_ga": {"lower": "ft_ga"}, "retrain": {"lower": "retrain"},
              "long": LONG},
}


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


_WARM = []


def theta_o(cache: Path, model_name: str, ds, cfg, seed: int):
    """θ_o and its training time: (model, wall s, CPU s, cached?)."""
    path = cache / f"theta_seed{seed}.pt"
    model = new_model(model_name, ds, seed, ds.device)
    if path.exists():
        blob = torch.load(path, weights_only=False)
        model.load_state_dict(blob["state"])
        model.eval()
        return model, blob["seconds"], blob.get("cpu_seconds", float("nan")), True
    if not _WARM:  # one short throwaway run first, so the timed run does not pay for start-up costs
        train_model(model_name, ds, torch.arange(min(ds.n_train, 512)), with_overrides(cfg, epochs=1), seed)
        _WARM.append(True)
    t0, c0 = time.perf_counter(), time.process_time()
    model = train_model(model_name, ds, torch.arange(ds.n_train), cfg, seed)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    torch.save({"state": model.state_dict(), "seconds": seconds, "cpu_seconds": cpu}, path)
    return model, seconds, cpu, False


def run_blo(cache: Path, model, model_name: str, ds, cfg, seed: int, m: int, params: dict) -> dict:
    path = cache / f"blo_{_key(params)}_seed{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    t0, c0 = time.perf_counter(), time.process_time()
    res = blo_weights(ScoreInput(model, model_name, ds, cfg, seed=seed), m, params)
    out = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "values": np.asarray(res.values, dtype=float).tolist(),
           **{k: res.extras[k] for k in ("trace", "converged", "stop_reason", "iterations",
                                         "cost_sample_passes", "cost_vs_training")}}
    path.write_text(json.dumps(out))
    return out


def retrain_metrics(cache: Path, model_name: str, ds, cfg, seed: int, forget_idx: np.ndarray) -> dict:
    forget_idx = np.sort(forget_idx)
    path = cache / f"retrain_{_key(forget_idx.tolist())}_seed{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    retain_idx = np.setdiff1d(np.arange(ds.n_train), forget_idx)
    model = train_model(model_name, ds, retain_idx, cfg, seed)
    out = evaluate(model, ds, forget_idx, retain_idx, seed)
    path.write_text(json.dumps(out))
    return out


def top_m(values, m: int) -> np.ndarray:
    return np.argsort(-np.asarray(values), kind="stable")[:m]


def fmt(s: pd.Series, digits: int) -> str:
    s = s.dropna()
    if len(s) == 0:
        return "-"
    if len(s) == 1:
        return f"{s.iloc[0]:.{digits}f}"
    return f"{s.mean():.{digits}f} ± {s.std(ddof=1):.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (default: preset_for)")
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--mode", choices=sorted(MODES), default="quality")
    ap.add_argument("--variant", action="append", default=[], help="NAME=JSON: an extra BLO variant")
    ap.add_argument("--only", default=None, help="comma-separated variant names to run (default: all of the mode)")
    ap.add_argument("--no-retrain", action="store_true", help="skip Retrain (convergence and cost only)")
    ap.add_argument("--cache", default="/tmp/blo_bench")
    ap.add_argument("--out", default=None, help="write the per-seed rows as CSV")
    args = ap.parse_args()
    torch.set_num_threads(1)

    ds = load_dataset(args.dataset)
    cfg = preset_for(ds)
    if args.epochs:
        cfg = with_overrides(cfg, epochs=args.epochs)
    m = forget_count(args.ratio, ds.n_train)
    tag = re.sub(r"[^A-Za-z0-9]+", "_", f"{Path(args.dataset).stem}_{args.model}_{_key(cfg.to_dict())}_{args.ratio}")
    cache = Path(args.cache) / tag
    cache.mkdir(parents=True, exist_ok=True)
    variants = dict(MODES[args.mode])
    for spec in args.variant:
        name, _, js = spec.partition("=")
        variants[name] = json.loads(js)
    if args.only:
        keep = set(args.only.split(","))
        variants = {k: v for k, v in variants.items() if k in keep or k == "long"}
    print(f"{args.dataset} · {args.model} · recipe {cfg.to_dict()} · N={ds.n_train} · m={m} · {args.seeds} seeds")
    rows = []
    for seed in range(args.seeds):
        model, train_s, train_cpu, cached = theta_o(cache, args.model, ds, cfg, seed)
        print(f"seed {seed}: θ_o {'(cached) ' if cached else ''}trained in {train_s:.1f}s wall, {train_cpu:.1f}s CPU",
              flush=True)
        sets, results = {}, {}
        for name, params in variants.items():
            if params is None:
                rng = np.random.default_rng(seed + 104729)
                sets[name] = rng.choice(ds.n_train, size=m, replace=False)
                continue
            if params == "lowloss":
                sets[name] = np.argsort(per_sample_loss(model, ds, "train").cpu().numpy(), kind="stable")[:m]
                continue
            r = run_blo(cache, model, args.model, ds, cfg, seed, m, params)
            results[name] = r
            sets[name] = top_m(r["values"], m)
            print(f"  {name}: {r['iterations']} iterations, converged {r['converged']}, "
                  f"cost {r['cost_vs_training']:.3f} of a training, {r['seconds']:.1f}s", flush=True)
        long_set = sets.get("long")
        for name, idx in sets.items():
            row = {"variant": name, "seed": seed}
            if name in results:
                r, last = results[name], results[name]["trace"][-1]
                row.update(cost=r["cost_vs_training"], wall=r["seconds"] / train_s,
                           cpu=r.get("cpu_seconds", float("nan")) / train_cpu, iters=r["iterations"],
                           converged=float(r["converged"]), ov_prev=last["overlap_prev"],
                           ov_start=last["overlap_start"], ov_lowloss=last["overlap_lowloss"],
                           ov_response=last["overlap_response"])
            if long_set is not None:
                row["ov_long"] = len(np.intersect1d(idx, long_set)) / m
            if not args.no_retrain:
                met = retrain_metrics(cache, args.model, ds, cfg, seed, idx)
                row.update(UA=met["UA"], MIA=met["MIA"], RA=met["RA"], TA=met["TA"])
                print(f"  Retrain on {name}: UA {met['UA']:.2f} MIA {met['MIA']:.2f} TA {met['TA']:.2f}", flush=True)
            rows.append(row)
    df = pd.DataFrame(rows)
    if args.out:
        df.to_csv(args.out, index=False)
    cols = [("cost", 3), ("wall", 3), ("cpu", 3), ("iters", 1), ("converged", 2), ("ov_prev", 3), ("ov_start", 3),
            ("ov_lowloss", 3), ("ov_response", 3), ("ov_long", 3), ("UA", 2), ("MIA", 2), ("TA", 2)]
    table = pd.DataFrame({c: df.groupby("variant", sort=False)[c].apply(fmt, digits=d) for c, d in cols if c in df})
    print(f"\nratio {args.ratio}, {args.seeds} seeds (mean ± std, ddof=1). cost = sample passes / (epochs·N) of one "
          f"original training; wall (cpu) = BLO wall (CPU) s / θ_o training wall (CPU) s; ov_* = top-m overlap of the final set")
    try:
        print(table.to_markdown())
    except ImportError:  # tabulate not installed
        print(table.to_string())
    for name, params in variants.items():
        if isinstance(params, dict):
            print(f"  {name}: {json.dumps(params, sort_keys=True)}")


if __name__ == "__main__":
    main()
