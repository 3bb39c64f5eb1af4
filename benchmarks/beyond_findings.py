"""Beyond the papers (issue 15): is a forget set hard because it is memorized, entangled, or low-loss? Does RUM
help on a mixed-difficulty set?

Part ``findings`` (any data set): per seed, the per-sample difficulty scores — Feldman & Zhang memorization (from the
LiRA bank), the learning-event proxies recorded while θ_o trained (Zhao & Triantafillou 2024), θ_o's loss, LiRA ASR
(Chen et al.) and the BLO worst-case weight (Fan et al.) — their Spearman correlations (mean ± sample std over
seeds), and the random, worst-case and easiest sets' entanglement (Zhao et al. 2024, ES) and mean memorization /
loss / ASR / confidence. It answers "is the worst-case set the least entangled and the least memorized?".

Part ``rum`` (digits): RUM (Zhao et al. 2024) around FT / GA / RL vs the one-shot method and the reverse order, and
the paper-style pipeline "nothing → FT → SalUn", on a mixed-difficulty set (``mixed:0.5``: the worst-case set with
half of it replaced by random samples), ToW and gaps to Retrain over the seeds.

    python benchmarks/beyond_findings.py findings --dataset digits --seeds 3
    python benchmarks/beyond_findings.py findings --dataset npz:/work/shared/data/cifar10_subset.npz --model cnn \\
        --seeds 2 --blo '{"upper_iters": 10, "K": 2}'
    python benchmarks/beyond_findings.py rum --dataset digits --seeds 3

Results are cached in ``--cache-dir`` (default ``cache/beyond``); a re-run only prints. ``--json`` writes the
numbers. The tuning protocol has its own command: ``python -m unlearn_core tune --method ft``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from unlearn_core.analysis.entanglement import entanglement, random_reference
from unlearn_core.analysis.hardness import (CORRELATION_QUANTITIES, hardness_correlation, percentile_ranks,
                                           score_values)
from unlearn_core.config import Setup
from unlearn_core.context import RunContext
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store
from unlearn_core.threads import apply_thread_policy

SETS = ("random", "worst", "easiest")
SET_QUANTITIES = ("memorization", "loss", "lira_asr", "le_confidence")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def to_md(df: pd.DataFrame, index: bool = True, digits: int = 3) -> str:
    """A Markdown table (no tabulate dependency)."""
    d = df.reset_index() if index else df
    cells = [[(f"{v:.{digits}g}" if isinstance(v, (float, np.floating)) else str(v)) for v in row]
             for row in d.itertuples(index=False)]
    head = [str(c) for c in d.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(lines)


def mean_std(v) -> str:
    v = [x for x in v if x == x]
    if not v:
        return "—"
    return f"{np.mean(v):.3g} ± {np.std(v, ddof=1):.2g}" if len(v) > 1 else f"{v[0]:.3g} ± —"


def findings(pipe: Pipeline, seeds: list[int], ratio: float, n_reference: int) -> dict:
    ctx = RunContext(on_log=log)
    t0 = time.time()
    for s in seeds:
        for name in CORRELATION_QUANTITIES:
            t = time.time()
            pipe.score(name, s, ratio if name == "blo" else None, None, ctx)
            log(f"seed {s}: {name} ready ({time.time() - t:.0f}s)")
        for sel in SETS:
            pipe.forget_set(sel, ratio, s, ctx)
    corr = hardness_correlation(pipe, seeds, CORRELATION_QUANTITIES, ratio)
    rows = []
    for s in seeds:
        vals = score_values(pipe, s, SET_QUANTITIES, ratio)
        ref = random_reference(pipe, pipe.forget_set("random", ratio, s).size, s, n_reference, ctx)
        for sel in SETS:
            fs = pipe.forget_set(sel, ratio, s)
            e = entanglement(pipe, fs, ctx=ctx)
            row = {"seed": s, "set": sel, "size": fs.size, "ES": e["es"], "ES_random_ref_mean": float(ref["es"].mean())}
            for q in SET_QUANTITIES:
                v = vals[q].to_numpy()
                row[q] = float(v[fs.forget_idx].mean())
                # mean percentile of the set's samples within the training set (50 = typical)
                row[f"{q}_pct"] = float(percentile_ranks(v)[fs.forget_idx].mean())  # ties share their rank
            row["memorized_share"] = float((vals["memorization"].to_numpy()[fs.forget_idx] >= 0.5).mean())
            rows.append(row)
    per_set = pd.DataFrame(rows)
    verdict = {}
    for q, key in (("ES", "least entangled"), ("memorization", "least memorized")):
        by_seed = per_set.pivot(index="seed", columns="set", values=q)
        lowest = by_seed.idxmin(axis=1)
        verdict[key] = {"worst_lowest_in_seeds": int((lowest == "worst").sum()), "n_seeds": len(seeds),
                        "lowest_per_seed": lowest.to_dict(),
                        "means": {c: float(by_seed[c].mean()) for c in by_seed.columns}}
    return {"corr": corr, "per_set": per_set, "verdict": verdict, "seconds": time.time() - t0}


def print_findings(pipe: Pipeline, seeds: list[int], out: dict) -> dict:
    corr, per_set, verdict = out["corr"], out["per_set"], out["verdict"]
    print(f"## {pipe.resolved.label} · seeds {','.join(map(str, seeds))}")
    print(f"BLO parameters (pipe.blo_params): {json.dumps(pipe.blo_params, sort_keys=True)}")
    print("\nSpearman ρ, mean ± sample std over seeds (ddof = 1):\n")
    print(to_md(corr.formatted()))
    agg = []
    for sel in SETS:
        d = per_set[per_set["set"] == sel]
        r = {"set": sel, "ES": mean_std(d["ES"]), "ES (random refs)": mean_std(d["ES_random_ref_mean"])}
        for q in SET_QUANTITIES:
            r[q] = mean_std(d[q])
            r[f"{q} pct"] = mean_std(d[f"{q}_pct"])
        r["share mem ≥ 0.5"] = mean_std(d["memorized_share"])
        agg.append(r)
    print("\nForget sets (mean over the set's samples; pct = mean percentile within the training set), mean ± std "
          "over seeds:\n")
    print(to_md(pd.DataFrame(agg), index=False))
    print()
    for k, v in verdict.items():
        print(f"- worst-case set {k}? lowest in {v['worst_lowest_in_seeds']}/{v['n_seeds']} seeds "
              f"(per seed: {v['lowest_per_seed']}); means {json.dumps({a: round(b, 4) for a, b in v['means'].items()})}")
    print(f"\n(computed in {out['seconds']:.0f}s)")
    return {"blo_params": pipe.blo_params, "correlation_mean": corr.mean.round(4).to_dict(),
            "correlation_std": corr.std.round(4).to_dict(), "per_set": per_set.to_dict(orient="records"),
            "verdict": verdict, "setup": pipe.resolved.label}


# ---------------------------------------------------------------------------------------------- RUM
RUM_VARIANTS = [
    # (label, method, params)
    ("{m} one-shot", "{m}", {}),
    ("{m} RUM (memorization)", "rum:{m}", {}),
    ("{m} RUM reverse", "rum_reverse:{m}", {}),
    ("{m} RUM (le_confidence)", "rum:{m}", {"rum_score": "le_confidence"}),
]


def rum(pipe: Pipeline, seeds: list[int], ratio: float, selector: str, methods: list[str]) -> dict:
    from unlearn_core.results import aggregate, results_frame

    ctx = RunContext(on_log=log)
    t0 = time.time()
    plan = [("retrain", "retrain", {})]  # the label must stay "retrain": aggregate finds Retrain by it
    for m in methods:
        plan += [(lab.format(m=m), meth.format(m=m), p) for lab, meth, p in RUM_VARIANTS]
    plan.append(("nothing → FT → SalUn (RUM paper)", "rum:ft", {"rum_methods": ["none", "ft", "salun"]}))
    keys = {}
    for s in seeds:
        for lab, meth, p in plan:
            t = time.time()
            row = pipe.run(meth, selector, ratio, s, p or None, ctx, keep_model=False)
            keys[(lab, s)] = row["key"]
            log(f"seed {s} {lab}: UA {row['UA']:.1f} RA {row['RA']:.1f} TA {row['TA']:.1f} ({time.time() - t:.0f}s)")
    df = results_frame(pipe.store, pipe.setup_key)
    df = df[df["key"].isin(set(keys.values()))].copy()
    lab_of = {v: k[0] for k, v in keys.items()}
    df["variant"] = df["key"].map(lab_of)
    df["method"] = df["variant"]  # aggregate per variant (rum:ft appears with two parameter sets)
    agg = aggregate(df)
    order = {lab: i for i, (lab, _, _) in enumerate(plan)}
    agg = agg.assign(_o=agg["method"].map(order)).sort_values("_o")
    cols = ["method", "n", "UA_mean", "UA_std", "MIA_mean", "RA_mean", "TA_mean", "gap_UA", "gap_MIA", "gap_RA",
            "gap_TA", "avg_gap", "ToW_mean", "ToW_std", "runtime_s_mean"]
    return {"table": agg[cols].reset_index(drop=True), "seconds": time.time() - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("part", choices=["findings", "rum"])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--model", default=None)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--ratio", type=float, default=0.1)
    ap.add_argument("--blo", default=None, help="BLO parameters (JSON); default: the setup's defaults")
    ap.add_argument("--n-reference", type=int, default=5, help="random sets of the same size for the ES reference")
    ap.add_argument("--selector", default="mem:mix",
                    help="rum: the forget set (default mem:mix: a third from each data-set-level memorization group, "
                         "Zhao et al.'s 'mix' set)")
    ap.add_argument("--methods", default="ft,ga,rl", help="rum: base methods")
    ap.add_argument("--cache-dir", default="cache/beyond")
    ap.add_argument("--json", default=None, help="write the numbers here")
    args = ap.parse_args(argv)
    apply_thread_policy()
    setup = Setup(dataset=args.dataset, model=args.model, blo=json.loads(args.blo) if args.blo else {}, device="cpu")
    pipe = Pipeline(Store(args.cache_dir), setup)
    seeds = list(range(args.seeds))
    if args.part == "findings":
        out = findings(pipe, seeds, args.ratio, args.n_reference)
        data = print_findings(pipe, seeds, out)
    else:
        out = rum(pipe, seeds, args.ratio, args.selector, [m.strip() for m in args.methods.split(",") if m.strip()])
        print(f"## RUM on {args.selector} {100 * args.ratio:g}% · {pipe.resolved.label} · seeds "
              f"{','.join(map(str, seeds))} · metrics in %, gaps = |mean − Retrain's mean|, ToW = Chen et al. Eq. 2")
        print(to_md(out["table"], index=False))
        print(f"\n(computed in {out['seconds']:.0f}s)")
        data = {"table": out["table"].to_dict(orient="records"), "selector": args.selector}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(data, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
