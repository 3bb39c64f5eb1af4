"""Which BLO lower level best exposes the worst case? (science.md asks us to measure it.)

For each lower level (ft, ft_ga, retrain) and seed: run the BLO at the given ratio, take the top-m set, Retrain on
its complement and report Retrain's UA and MIA on it (lower = harder to forget = a better worst case), next to
random sets. Usage:

    python benchmarks/blo_lower_levels.py --dataset digits --seeds 3
    python benchmarks/blo_lower_levels.py --dataset npz:../shared/data/cifar10_subset.npz --model cnn --epochs 15
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from unlearn_core.experiments import Pipeline
from unlearn_core.store import Store





def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--blo", default="{}", help="extra BLO params (JSON) applied to every variant")
    ap.add_argument("--cache-dir", default="cache")
    args = ap.parse_args()
    rows = []
    extra = json.loads(args.blo)
    for lower in ["ft", "ft_ga", "retrain"]:
        pipe = Pipeline(Store(args.cache_dir), args.dataset, args.model, args.device,
                        train_overrides={"epochs": args.epochs}, blo_params={"lower": lower, **extra})
        for seed in range(args.seeds):
            t0 = time.time()
            pipe.score("blo", seed, args.ratio)
            blo_s = time.time() - t0
            for sel in ["worst", "random"]:
                if sel == "random" and lower != "ft":
                    continue  # random sets do not depend on the BLO variant
                r = pipe.run("retrain", sel, args.ratio, seed)
                rows.append({"lower": lower if sel == "worst" else "-", "selector": sel, "seed": seed,
                             "UA": r["UA"], "MIA": r["MIA"], "RA": r["RA"], "TA": r["TA"],
                             "blo_s": blo_s if sel == "worst" else float("nan")})
    df = pd.DataFrame(rows)
    agg = df.groupby(["selector", "lower"])[["UA", "MIA", "RA", "TA", "blo_s"]].agg(["mean", "std"])
    print(f"{args.dataset} · ratio {args.ratio} · {args.seeds} seeds · Retrain metrics on the selected set (%)")
    print(agg.round(2).to_string())


if __name__ == "__main__":
    main()
