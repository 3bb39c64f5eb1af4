"""The product's question under the per-example distribution tests: is the worst case still the hardest to forget?

Reads the model banks a grid stored (``compare --eval-models N``) and prints (``unlearn_core.analysis.fq_question``), per forget-set kind (random, worst-case,
lowest-loss = ``bottom:loss``) and method: F, score and KLoM P95 (mean ± sample std over the seeds), the seed-paired
differences worst − random and worst − lowest-loss of F with 95% t-intervals (scipy.stats), and Spearman ρ between
each forget example's ε and its BLO weight, θ_o loss and memorization (per set, mean ± std over sets), and between a
set's F and its entanglement score (Zhao et al.; a set-level quantity, so ρ across sets). Memorization and
entanglement are computed if missing (cheap on digits).

    python -m unlearn_core compare --selectors random,bottom:loss,worst --methods retrain,ft,ga,rl,salun,scrub \\
        --seeds "0," --eval-models 16 --cache-dir /tmp/banks-q   # (and seeds 1, 2)
    PYTHONPATH=. python benchmarks/fq_question.py --cache-dir /tmp/banks-q --n 16 --seeds 0,1,2
"""
from __future__ import annotations

import argparse
import json

import pandas as pd
import torch

from unlearn_core.analysis.fq_question import RESOLUTION_N, question_tables
from unlearn_core.forget_quality import detectable_shift, detectable_spread_ratio
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default=None, help="the grid's --model (default: the data set's default model)")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--out", default=None, help="write the numbers as JSON")
    ap.add_argument("--scores-cache", default=None,
                    help="read θ_o's BLO / loss / memorization scores from this store (same setup, same θ_o; e.g. "
                         "one whose LiRA shadow models give memorization for free)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    pipe = Pipeline(Store(args.cache_dir), dataset=args.dataset, device="cpu",
                    **({"model": args.model} if args.model else {}))
    score_pipe = None
    if args.scores_cache:
        score_pipe = Pipeline(Store(args.scores_cache), dataset=args.dataset, device="cpu",
                              **({"model": args.model} if args.model else {}))
    q = question_tables(pipe, seeds, args.ratio, args.n, compute_if_missing=True, score_pipe=score_pipe)
    print(f"{args.dataset} · N = {q.n} models per bank · {len(seeds)} seeds · ratio {args.ratio:g} · "
          f"mean ± sample std over seeds\n")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(q.table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print("\nseed-paired differences of F (95% t-interval, n = seeds): negative = the first set is harder")
        print(q.paired.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print("\nSpearman ρ(ε of a forget example, quantity of θ_o) within each set; mean ± std over sets")
        print(q.rho.to_string(index=False, float_format=lambda x: f"{x:+.3f}"))
        print("\nWhat N the estimator needs: per-example shift |Δμ| / σ_r of the forget examples (measured at "
              f"N = {q.n}; Retrain = the control, noise only) and the % at or above the shift the Gaussian fit "
              "detects at N models (" + ", ".join(f"N = {k}: {detectable_shift(k):.2f}σ" for k in RESOLUTION_N)
              + "); and the spread ratio sd_u / sd_r with the % outside the band the fit resolves at N ("
              + ", ".join(f"N = {k}: {detectable_spread_ratio(k):.2f}–{1 / detectable_spread_ratio(k):.2f}"
                          for k in RESOLUTION_N) + ")")
        print(q.resolution.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
        print("\nSpearman ρ(F of a set, entanglement score of the set) across sets")
        print(q.rho_entanglement.to_string(index=False, float_format=lambda x: f"{x:+.3f}"))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({k: getattr(q, k).to_dict("records") for k in ("per_seed", "table", "paired", "rho",
                                                                     "rho_entanglement", "resolution")}, f, indent=1,
                      default=float)


if __name__ == "__main__":
    main()
