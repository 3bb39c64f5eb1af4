"""BLO with an unlearning method as its lower level (``lower_level``, issue 18) vs the built-in fine-tuning one.

Per seed: the worst set of each lower level, its overlap with θ_o's lowest-loss set and with the built-in's worst
set, BLO's stop reason, iterations and cost (in trainings); then mean ± sample std over seeds.

    python benchmarks/blo_lower_method.py --dataset digits --seeds 0 1 2 --lower ft rl ga --cache-dir /tmp/perf-blo
"""
from __future__ import annotations

import argparse

import numpy as np

from unlearn_core.config import Setup
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lower", nargs="+", default=["ft", "rl", "ga"])
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--cache-dir", required=True)
    a = ap.parse_args()
    rows: dict[str, list[tuple]] = {}
    for seed in a.seeds:
        tops = {}
        for lower in a.lower:
            pipe = Pipeline(Store(a.cache_dir), Setup(dataset=a.dataset, model=a.model, blo={"lower_level": lower}))
            res = pipe.score("blo", seed, a.ratio)
            m = res.extras["m"]
            tops[lower] = set(np.argsort(-res.values)[:m].tolist())
            ex = res.extras
            ov_ft = len(tops[lower] & tops[a.lower[0]]) / m
            rows.setdefault(lower, []).append((ex["overlap_lowloss"], ov_ft, ex["cost_vs_training"], ex["iterations"]))
            print(f"seed {seed} lower_level {lower:4s}: stop {ex['stop_reason']} after {ex['iterations']} iterations, "
                  f"cost {ex['cost_vs_training']:.2f} trainings ({ex['seconds']:.1f}s), overlap with lowest-loss "
                  f"{ex['overlap_lowloss']:.3f}, with the '{a.lower[0]}' worst set {ov_ft:.3f}", flush=True)
    print(f"\n{a.dataset}, {a.ratio:.0%} sets, seeds {a.seeds} (mean ± sample std):")
    for lower, v in rows.items():
        x = np.array(v, dtype=float)
        sd = x.std(0, ddof=1) if len(x) > 1 else np.zeros(x.shape[1])
        print(f"  {lower:4s}: overlap lowest-loss {x[:, 0].mean():.3f} ± {sd[0]:.3f} · overlap with '{a.lower[0]}' "
              f"{x[:, 1].mean():.3f} ± {sd[1]:.3f} · cost {x[:, 2].mean():.2f} ± {sd[2]:.2f} trainings · "
              f"iterations {x[:, 3].mean():.1f}")


if __name__ == "__main__":
    main()
