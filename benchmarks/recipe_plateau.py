"""How many epochs does θ_o need? (the evidence behind the sized training presets)

For a data set and model, trains with the preset's recipe at several epoch counts (the cosine schedule is
stretched to each count, as a user's --epochs would) and prints the train accuracy RA and the test accuracy TA
(mean ± sample std over seeds) and the time per run. It reports the smallest count whose mean RA reaches ``--fit``
(98%: the papers' models fit their training set, and unlearning is measured on what a model memorised) and the
plateau of TA (the smallest count within ``--tol`` points of the best mean).

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
    ap.add_argument("--fit", type=float, default=98.0, help="train accuracy (RA, %%) that counts as fitting")
    ap.add_argument("--batch-size", type=int, default=None, help="override the recipe's batch size")
    args = ap.parse_args()
    apply_thread_policy()
    r = Setup(dataset=args.dataset, model=args.model, preset=args.preset, device="cpu").resolve()
    ds = r.ds
    print(f"{args.dataset} · {r.model} · preset {r.preset} {r.recipe.to_dict()} · {ds.n_train} train / "
          f"{ds.x_test.shape[0]} test · {torch.get_num_threads()} thread(s)")
    rows = []
    fits = []
    for ep in [int(e) for e in args.epochs.split(",")]:
        accs, ras, secs = [], [], []
        for seed in range(args.seeds):
            t0 = time.time()
            cfg = recipe_with(r.recipe, {"epochs": ep, "batch_size": args.batch_size})
            model = train_model(r.model, ds, torch.arange(ds.n_train), cfg, seed)
            secs.append(time.time() - t0)
            accs.append(100 * accuracy(model, ds, "test"))
            ras.append(100 * accuracy(model, ds, "train"))
        sd = (lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"))
        rows.append((ep, float(np.mean(accs)), sd(accs), float(np.mean(secs))))
        fits.append((ep, float(np.mean(ras))))
        print(f"  {ep:4d} epochs: RA {np.mean(ras):6.2f} ± {sd(ras):.2f}, TA {rows[-1][1]:6.2f} ± {rows[-1][2]:.2f} "
              f"(sample std, {args.seeds} seeds) · {rows[-1][3]:6.1f} s per model", flush=True)
    best = max(m for _, m, _, _ in rows)
    plateau = min(ep for ep, m, _, _ in rows if m >= best - args.tol)
    fit = [ep for ep, ra in fits if ra >= args.fit]
    print(f"TA plateau (within {args.tol} points of the best mean {best:.2f}): {plateau} epochs · θ_o fits "
          f"(RA >= {args.fit:g}%) from " + (f"{min(fit)} epochs" if fit else "none of these counts"))


if __name__ == "__main__":
    main()
