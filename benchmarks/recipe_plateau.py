"""How many epochs reach the plateau of test accuracy? (the evidence behind the sized training presets)

For a data set and model, trains with the preset's recipe at several epoch counts (the cosine schedule is
stretched to each count, as a user's --epochs would) and prints the test accuracy (mean ± sample std over seeds)
and the time per run. The plateau is the smallest count within ``--tol`` points of the best mean.

    python benchmarks/recipe_plateau.py --dataset digits --epochs 5,10,20,30,60
    python benchmarks/recipe_plateau.py --dataset npz:../shared/data/cifar10_subset.npz --model cnn --epochs 4,8,12,16,24
    python benchmarks/recipe_plateau.py --dataset npz:/tmp/gray28.npz --model cnn --epochs 2,4,8,12   # make_gray28.py
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from unlearn_core.config import Setup
from unlearn_core.threads import apply_thread_policy
from unlearn_core.training import accuracy, recipe_with, train_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default=None)
    ap.add_argument("--preset", default="auto")
    ap.add_argument("--epochs", default="5,10,20,30")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--tol", type=float, default=0.5, help="points of test accuracy that count as the plateau")
    args = ap.parse_args()
    apply_thread_policy()
    r = Setup(dataset=args.dataset, model=args.model, preset=args.preset, device="cpu").resolve()
    ds = r.ds
    print(f"{args.dataset} · {r.model} · preset {r.preset} {r.recipe.to_dict()} · {ds.n_train} train / "
          f"{ds.x_test.shape[0]} test · {torch.get_num_threads()} thread(s)")
    rows = []
    for ep in [int(e) for e in args.epochs.split(",")]:
        accs, secs = [], []
        for seed in range(args.seeds):
            t0 = time.time()
            model = train_model(r.model, ds, torch.arange(ds.n_train), recipe_with(r.recipe, {"epochs": ep}), seed)
            secs.append(time.time() - t0)
            accs.append(100 * accuracy(model, ds, "test"))
        rows.append((ep, float(np.mean(accs)), float(np.std(accs, ddof=1)) if len(accs) > 1 else float("nan"),
                     float(np.mean(secs))))
        print(f"  {ep:4d} epochs: test acc {rows[-1][1]:6.2f} ± {rows[-1][2]:.2f} (sample std, {args.seeds} seeds) · "
              f"{rows[-1][3]:6.1f} s per model", flush=True)
    best = max(m for _, m, _, _ in rows)
    plateau = min(ep for ep, m, _, _ in rows if m >= best - args.tol)
    print(f"plateau (within {args.tol} points of the best mean {best:.2f}): {plateau} epochs")


if __name__ == "__main__":
    main()
