"""Digits: BLO variants side by side (overlap with the lowest-loss set, BLO's objective of worst/lowloss/random, stop, cost)."""
import json, sys, time, numpy as np, torch
from unlearn_core.data import load_dataset
from unlearn_core.training import preset_for, train_model
from unlearn_core.scores.base import ScoreInput
from unlearn_core.scores.blo import blo_weights, blo_objective, precise_loss
from unlearn_core.config import forget_count
torch.set_num_threads(1)
ds = load_dataset(sys.argv[1] if len(sys.argv) > 1 else "digits"); cfg = preset_for(ds)
model_name = sys.argv[2] if len(sys.argv) > 2 else "mlp"
m = forget_count(0.1, ds.n_train)
V = {"default (fw, set, sign, K=1)": {}, "pgd rank 1/t (set)": {"upper": "pgd"}, "pgd old 1/t^2 (set)": {"upper": "pgd", "decay": 2.0},
     "fw soft (paper relaxation)": {"lower_weights": "soft"}, "optimizer recipe": {"optimizer": "recipe"}, "K=3": {"K": 3.0}}
rows = {k: [] for k in V}
for seed in range(3):
    model = train_model(model_name, ds, torch.arange(ds.n_train), cfg, seed)
    inp = ScoreInput(model, model_name, ds, cfg, seed=seed)
    lo = np.argsort(precise_loss(model, ds).cpu().numpy(), kind="stable")[:m]
    rnd = np.random.default_rng(seed).choice(ds.n_train, m, replace=False)
    for name, p in V.items():
        t0 = time.time(); res = blo_weights(inp, m, p); dt = time.time() - t0
        worst = np.argsort(-res.values, kind="stable")[:m]
        obj = blo_objective(inp, {"worst": worst, "lowloss": lo, "random": rnd}, p)
        ex = res.extras
        rows[name].append(dict(ov=len(np.intersect1d(worst, lo)) / m, it=ex["iterations"], stop=ex["stop_reason"],
                               cost=ex["cost_vs_training"], s=dt, ow=obj["worst"]["objective"], ol=obj["lowloss"]["objective"],
                               orand=obj["random"]["objective"], o_before=obj["random"]["theta_o_loss"]))
        print(seed, name, rows[name][-1], flush=True)
f = lambda v, d=3: f"{np.mean(v):.{d}g} ± {np.std(v, ddof=1):.{d}g}"
print("| variant | overlap worst/lowest-loss | iterations | stop | cost (trainings) | objective worst | objective lowest-loss | objective random | θ_o loss random |")
print("|---|---|---|---|---|---|---|---|---|")
for name, rs in rows.items():
    g = lambda k: [r[k] for r in rs]
    print(f"| {name} | {f(g('ov'))} | {f(g('it'))} | {','.join(sorted(set(g('stop'))))} | {f(g('cost'))} | {f(g('ow'))} | {f(g('ol'))} | {f(g('orand'))} | {f(g('o_before'))} |")
