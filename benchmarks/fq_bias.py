"""The ε estimators' bias vs the number of models N (digits, MLP, random 10% forget set, seed 0).

Control (no difference): the Retrain bank (members 0..N−1) against an *independent* Retrain bank (members
64..64+N−1): every ε above 0 is the estimator's upward bias, F below 1 its cost. Difference: θ_o's recipe over N
seeds (``original_seeds``, the forget set still in training) against the same Retrain bank. Both estimators
(the competition's threshold test, the Gaussian fit) at N = 8, 16, 32, 64, plus, on synthetic Gaussians with a known
shift, the estimate vs the ε of the true distributions at the same resolution.

    PYTHONPATH=. python benchmarks/fq_bias.py [--cache-dir /tmp/banks-bias]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from unlearn_core import forget_quality as fq
from unlearn_core.banks import BankContext, ensure_members
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store

NS = (8, 16, 32, 64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", default="/tmp/banks-bias")
    args = ap.parse_args()
    torch.set_num_threads(1)
    pipe = Pipeline(Store(args.cache_dir), dataset="digits", device="cpu")
    bc = BankContext.of(pipe)
    fs = pipe.forget_set("random", 0.1, 0)
    idx = np.sort(fs.forget_idx)
    nmax = max(NS)
    ret, _ = ensure_members(bc, "retrain", list(range(2 * nmax)), idx)
    org, _ = ensure_members(bc, "original", list(range(nmax)), idx)
    r_all = np.stack([o["train"][idx] for o in ret])
    o_all = np.stack([o["train"][idx] for o in org])
    print(f"digits / MLP · random 10% (seed 0, {idx.size} examples) · F = mean points; ε mean over the forget set")
    print(f"{'N':>3} {'case':<28} {'F thr':>6} {'ε thr':>6} {'F gauss':>8} {'ε gauss':>8}")
    for n in NS:
        ref = r_all[:n]
        for case, u in (("retrain vs independent retrain", r_all[nmax:nmax + n]), ("original_seeds vs retrain",
                                                                                    o_all[:n])):
            e_t, e_g = fq.epsilons(u, ref, "threshold"), fq.epsilons(u, ref, "gauss")
            print(f"{n:>3} {case:<28} {fq.forget_quality(e_t, n)[0]:6.3f} {e_t.mean():6.2f} "
                  f"{fq.forget_quality(e_g, n)[0]:8.3f} {e_g.mean():8.2f}")
    print("\nsynthetic: 200 examples, N(0,1) retrained vs N(shift,1) unlearned; 'true' = ε of the true Gaussians with "
          "rates below 1/N unseen (the best any estimator with N models can resolve)")
    rng = np.random.default_rng(0)
    print(f"{'N':>3} {'shift':>5} {'true ε':>7} {'ε thr':>6} {'ε gauss':>8}")
    for n in NS:
        for shift in (0.0, 0.7, 1.5):
            u, r = rng.normal(shift, 1, (n, 200)), rng.normal(0, 1, (n, 200))
            true = fq._gauss_rates_eps(shift, 1.0, 0.0, 1.0, n, fq.DELTA)
            print(f"{n:>3} {shift:5.1f} {true:7.2f} {fq.epsilons(u, r, 'threshold').mean():6.2f} "
                  f"{fq.epsilons(u, r, 'gauss').mean():8.2f}")


if __name__ == "__main__":
    main()
