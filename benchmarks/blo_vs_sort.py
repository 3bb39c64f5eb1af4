"""BLO against its cheap rival, the sort: random, worst-case (BLO) and lowest-loss (``bottom:loss``) forget sets.

For one data set, forget ratio and S seeds (through the cached pipeline, so the sets and runs are the ones the tool
shows): the worst-case set's overlap with θ_o's lowest-loss set, BLO's objective (the mean loss on the set after
BLO's own lower level unlearns exactly that set; lower = harder to forget) for all three sets, Retrain's UA and MIA
on each set, and the Avg. gap to Retrain (mean over UA, MIA, RA, TA of |m − Retrain|, per seed) of each method,
with BLO's cost in units of one original training and its stop reason. Mean ± sample std (ddof=1) over seeds.

    python benchmarks/blo_vs_sort.py --dataset digits --seeds 3 --cache-dir /tmp/blo-cache-digits
    python benchmarks/make_gray28.py --out /tmp/gray28.npz --n-train 10000 --n-test 2000
    python benchmarks/blo_vs_sort.py --dataset npz:/tmp/gray28.npz --seeds 3 --cache-dir /tmp/blo-cache-gray28
    python benchmarks/blo_vs_sort.py --dataset npz:../shared/data/cifar10_subset.npz --model cnn --seeds 3 \\
        --methods ft,ga --cache-dir /tmp/blo-cache-cifar
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch

from unlearn_core.metrics import GAP_METRICS
from unlearn_core.pipeline import Pipeline
from unlearn_core.scores.base import ScoreInput
from unlearn_core.scores.blo import blo_objective, sort_verdict
from unlearn_core.selectors import overlap
from unlearn_core.store import Store

SETS = {"random": "random", "worst (BLO)": "worst", "lowest loss": "bottom:loss"}


def fmt(values: list[float], digits: int = 2) -> str:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default=None)
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--methods", default="ft,ga,rl,salun,scrub")
    ap.add_argument("--no-retrain", action="store_true", help="skip Retrain and the methods (overlap, objective only)")
    ap.add_argument("--blo", default="{}", help="BLO parameters (JSON) for the worst-case set")
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--out", default=None, help="write the per-seed rows as JSON")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    train = {"epochs": args.epochs} if args.epochs else {}
    pipe = Pipeline(Store(args.cache_dir), dataset=args.dataset, model=args.model, train=train,
                    blo=json.loads(args.blo))
    methods = [] if args.no_retrain else [m for m in args.methods.split(",") if m]
    print(f"{args.dataset} · {pipe.model_name} · recipe {pipe.train_cfg.to_dict()} · N={pipe.ds.n_train} · "
          f"ratio {args.ratio} · seeds {args.seeds} · BLO {json.dumps(pipe.blo_params, sort_keys=True)}", flush=True)
    rows = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        original = pipe.original(seed)
        blo = pipe.score("blo", seed, args.ratio)
        sets = {name: pipe.forget_set(sel, args.ratio, seed).forget_idx for name, sel in SETS.items()}
        inp = ScoreInput(original, pipe.model_name, pipe.ds, pipe.train_cfg, seed=seed)
        objective = blo_objective(inp, sets, pipe.blo_params)
        row = {"seed": seed, "cost": blo.extras["cost_vs_training"], "stop": blo.extras["stop_reason"],
               "iterations": blo.extras["iterations"],
               "overlap_worst_lowloss": overlap(sets["worst (BLO)"], sets["lowest loss"])}
        for name, sel in SETS.items():
            row[f"{name}|objective"] = objective[name]["objective"]
            row[f"{name}|theta_o_loss"] = objective[name]["theta_o_loss"]
            if args.no_retrain:
                row[f"{name}|UA"] = row[f"{name}|MIA"] = float("nan")
                continue
            ret = pipe.run("retrain", sel, args.ratio, seed)
            row[f"{name}|UA"], row[f"{name}|MIA"] = ret["UA"], ret["MIA"]
            for meth in methods:
                r = pipe.run(meth, sel, args.ratio, seed)
                row[f"{name}|{meth}"] = float(np.mean([abs(r[k] - ret[k]) for k in GAP_METRICS]))
        rows.append(row)
        print(f"seed {seed}: BLO {row['iterations']} iterations, stop {row['stop']}, cost {row['cost']:.3f} "
              f"trainings; overlap worst/lowest-loss {row['overlap_worst_lowloss']:.3f} "
              f"; BLO objective " + ", ".join(f"{k} {v['objective']:.3g}" for k, v in objective.items())
              + f" ({time.perf_counter() - t0:.0f}s)", flush=True)
        if args.out:  # after every seed, so a run cut short keeps what it measured
            with open(args.out, "w") as fh:
                json.dump(rows, fh, indent=1)
    col = lambda k: [r[k] for r in rows]  # noqa: E731
    table = {}
    for name in SETS:
        line = {"BLO objective": fmt(col(f"{name}|objective"), 6), "θ_o loss": fmt(col(f"{name}|theta_o_loss"), 6),
                "Retrain UA": fmt(col(f"{name}|UA")), "Retrain MIA": fmt(col(f"{name}|MIA"))}
        line.update({f"Avg. gap {m}": fmt(col(f"{name}|{m}")) for m in methods})
        table[name] = line
    df = pd.DataFrame(table).T
    print(f"\n{args.dataset}, ratio {args.ratio}, seeds 0..{args.seeds - 1} (mean ± sample std, ddof=1)")
    try:
        print(df.to_markdown())
    except ImportError:
        print(df.to_string())
    ov = col("overlap_worst_lowloss")
    print(f"overlap of the worst-case set with the lowest-loss set: {fmt(ov, 3)}; BLO cost {fmt(col('cost'), 3)} "
          f"trainings; iterations {fmt(col('iterations'), 1)}; stop reasons {sorted(set(col('stop')))}")
    verdict = sort_verdict(float(np.mean(ov)))
    if verdict:
        print(verdict)


if __name__ == "__main__":
    main()
