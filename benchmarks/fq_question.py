"""The product's question under the per-example distribution tests: is the worst case still the hardest to forget?

Reads the model banks a grid stored (``compare --eval-models N``) and prints, per forget-set kind (random, worst-case,
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

import numpy as np
import pandas as pd
import torch
from scipy import stats

from unlearn_core.analysis.entanglement import entanglement
from unlearn_core.banks import bank_comparison
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store

SELECTORS = ["random", "worst", "bottom:loss"]
METHODS = ["ft", "ga", "rl", "salun", "scrub"]
BASELINES = ["retrain", "original", "original_seeds"]


def t_interval(d: np.ndarray) -> tuple[float, float, float]:
    d = np.asarray(d, float)
    if d.size < 2:
        return float(d.mean()), np.nan, np.nan
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--out", default=None, help="write the numbers as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    pipe = Pipeline(Store(args.cache_dir), dataset=args.dataset, device="cpu")
    rows, rho_rows = [], []
    for seed in seeds:
        loss = pipe.score("loss", seed).values
        blo = pipe.score("blo", seed, args.ratio).values
        mem = pipe.score("memorization", seed).values
        for sel in SELECTORS:
            fs = pipe.forget_set(sel, args.ratio, seed)
            es = entanglement(pipe, fs.forget_idx, seed=seed, compute_if_missing=True)["es"]
            for m in BASELINES + METHODS:
                r = bank_comparison(pipe, m, sel, args.ratio, seed, args.n)
                if r is None:
                    continue
                v = r.comparison.metrics
                rows.append({"selector": sel, "method": m, "seed": seed, "es": es,
                             **{k: v[k] for k in ("forget_quality", "forget_quality_threshold", "score",
                                                  "klom_forget_p95", "klom_retain_p95", "klom_test_p95", "eps_mean")}})
                if m in METHODS:
                    idx = r.forget_idx
                    for q, vals in (("blo", blo), ("loss", loss), ("memorization", mem)):
                        rho = stats.spearmanr(r.comparison.eps, vals[idx]).statistic
                        rho_rows.append({"method": m, "selector": sel, "seed": seed, "quantity": q, "rho": rho})
    df = pd.DataFrame(rows)
    print(f"{args.dataset} · N = {args.n} models per bank · {len(seeds)} seeds · ratio {args.ratio:g} · "
          f"mean ± sample std over seeds\n")
    agg = df.groupby(["selector", "method"], sort=False).agg(
        F=("forget_quality", "mean"), F_sd=("forget_quality", "std"), F_thr=("forget_quality_threshold", "mean"),
        score=("score", "mean"), score_sd=("score", "std"), klom_f=("klom_forget_p95", "mean"),
        klom_r=("klom_retain_p95", "mean"), klom_t=("klom_test_p95", "mean"), n=("seed", "count")).reset_index()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(agg.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print("\nseed-paired differences of F (95% t-interval, n = seeds): negative = the first set is harder to forget")
    diffs = []
    for m in METHODS + ["original_seeds"]:
        piv = df[df["method"] == m].pivot(index="seed", columns="selector", values="forget_quality")
        for a, b in (("worst", "random"), ("worst", "bottom:loss"), ("bottom:loss", "random")):
            if a in piv and b in piv:
                d = (piv[a] - piv[b]).dropna().to_numpy()
                mean, lo, hi = t_interval(d)
                diffs.append({"method": m, "diff": f"{a} − {b}", "mean": mean, "lo": lo, "hi": hi, "n": d.size})
    dd = pd.DataFrame(diffs)
    print(dd.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    rr = pd.DataFrame(rho_rows)
    rho = rr.groupby(["method", "quantity"]).agg(rho=("rho", "mean"), sd=("rho", "std"), sets=("rho", "count"))
    print("\nSpearman ρ(ε of a forget example, quantity of θ_o) within each set; mean ± std over sets")
    print(rho.reset_index().pivot(index="method", columns="quantity", values="rho").to_string(
        float_format=lambda x: f"{x:+.3f}"))
    ent = []
    for m in METHODS:
        s = df[df["method"] == m]
        ent.append({"method": m, "rho_F_vs_entanglement": stats.spearmanr(s["forget_quality"], s["es"]).statistic,
                    "sets": len(s)})
    print("\nSpearman ρ(F of a set, entanglement score of the set) across sets")
    print(pd.DataFrame(ent).to_string(index=False, float_format=lambda x: f"{x:+.3f}"))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"rows": rows, "diffs": diffs, "rho": rho_rows, "entanglement": ent}, f, indent=1, default=float)


if __name__ == "__main__":
    main()
