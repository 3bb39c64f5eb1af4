"""Where a partial-epoch unlearning budget stops acting: FT, RL and GA for k optimizer steps from θ_o.

For each data set, seed and step count k the method runs a custom partial pass (``epoch_fraction`` = k / batches
per epoch, ``min_steps`` 0) on a random 10% forget set; printed: UA and MIA (confidence) and their change from θ_o
(mean ± sample std over seeds). The floor (``budget.DEFAULT_MIN_STEPS``) is the fewest steps at which FT and RL move
UA or MIA off θ_o's values on both data sets.

    python benchmarks/budget_floor.py --dataset npz:/tmp/gray28.npz --model cnn --seeds 0 1 --cache-dir /tmp/perf-floor
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from unlearn_core.methods import get_method
from unlearn_core.metrics import evaluate
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    ap.add_argument("--methods", nargs="+", default=["ft", "rl", "ga"])
    ap.add_argument("--cache-dir", required=True)
    a = ap.parse_args()
    pipe = Pipeline(Store(a.cache_dir), dataset=a.dataset, model=a.model, device="cpu")
    bs = pipe.train_cfg.batch_size
    rows: dict[tuple[str, int], list[tuple[float, float]]] = {}
    base: list[tuple[float, float]] = []
    for seed in a.seeds:
        fs = pipe.forget_set_cached("random", 0.1, seed).value
        n_f = fs.size
        n_r = pipe.ds.n_train - n_f
        f_t, r_t, test_idx = pipe._split(fs, get_method("ft"), {}, seed)
        o = evaluate(pipe.original(seed), pipe.ds, f_t, r_t, seed=fs.seed, test_idx=test_idx)
        base.append((o["UA"], o["MIA"]))
        for m in a.methods:
            n_set = {"ga": n_f, "rl": n_f + n_r}.get(m, n_r)
            spe = math.ceil(n_set / bs)
            for k in a.steps:
                if k > spe:
                    continue
                frac = min(1.0, (k - 0.5) / spe)  # ceil(frac · spe) = k
                row = pipe.run(m, "random", 0.1, seed, {"budget": "custom", "epochs": 1, "epoch_fraction": round(frac, 4),
                                                        "min_steps": 0}, keep_model=False)
                rows.setdefault((m, k), []).append((row["UA"], row["MIA"]))
                print(f"seed {seed} {m} {k:3d} steps (of {spe}/epoch): UA {row['UA']:.2f} MIA {row['MIA']:.2f} "
                      f"(θ_o {o['UA']:.2f} / {o['MIA']:.2f}) steps stored {row.get('unlearn_steps')}", flush=True)
    b = np.array(base)
    print(f"\n{a.dataset} {a.model}, random 10%, seeds {a.seeds}; θ_o UA {b[:, 0].mean():.2f} ± {b[:, 0].std(ddof=1) if len(b) > 1 else 0:.2f}, "
          f"MIA {b[:, 1].mean():.2f}")
    print("method steps  UA mean ± std   ΔUA vs θ_o   MIA mean ± std   ΔMIA vs θ_o  (sample std over seeds)")
    for (m, k), v in sorted(rows.items()):
        x = np.array(v)
        d = x - b[: len(x)]
        sd = (lambda c: c.std(ddof=1) if len(c) > 1 else 0.0)
        print(f"{m:6s} {k:5d}  {x[:, 0].mean():6.2f} ± {sd(x[:, 0]):5.2f}  {d[:, 0].mean():+6.2f} ± {sd(d[:, 0]):5.2f}  "
              f"{x[:, 1].mean():6.2f} ± {sd(x[:, 1]):5.2f}  {d[:, 1].mean():+6.2f} ± {sd(d[:, 1]):5.2f}")


if __name__ == "__main__":
    main()
