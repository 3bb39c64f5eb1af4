"""What computing only the confidence MIA with every run saves (issue 23: the four other SVC feature variants are
on-demand metrics now). Measured side by side in one run; on a shared machine only the ratios mean anything.

1. Per data set: the evaluation of one unlearning run (FT on a random 10% set, θ_o of seed 0): forward passes on
   D_f, D_r, D_t plus the MIA SVC fits, with all five feature variants (what every run did before) vs the
   confidence variant only (what a run does now), interleaved ``--reps`` times; medians, their ratio, the seconds
   of each variant's SVC fit, and a check that ``MIA`` is bitwise the same number both ways.
2. ``--grid``: the default digits ``compare`` (retrain, ft, ga, rl, l1_sparse × random, worst, bottom:loss × 3
   seeds), cold, one process (``LocalExecutor``), each time in a fresh cache under ``--grid-cache``, after one
   discarded warm-up grid four times in the order now, before, before, now (before = every variant computed with
   every run: the old evaluation, patched in); then the four variants computed on demand for every run of the last
   grid (``Pipeline.on_demand_metrics``): what asking costs.

    python benchmarks/make_gray28.py --out /tmp/mia-gray28.npz --n-train 10000 --n-test 2000
    OMP_NUM_THREADS=1 python benchmarks/bench_mia_variants.py --datasets digits,npz:/tmp/mia-gray28.npz \\
        --grid --grid-cache /tmp/mia-grid
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import unlearn_core.pipeline as pipeline_mod
from unlearn_core.metrics import DEFAULT_MIA, MIA_VARIANTS, eval_view, evaluate, evaluate_view, registry
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store


def eval_one_run(dataset: str, model: str | None, epochs: int | None, reps: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mia-bench-") as tmp:
        train = {"epochs": epochs} if epochs else None
        pipe = Pipeline(Store(tmp), dataset=dataset, model=model, device="cpu", train=train)
        t0 = time.perf_counter()
        row = pipe.run("ft", "random", 0.1, 0)
        setup_s = time.perf_counter() - t0
        run = pipe.find_run("ft", "random", 0.1, 0)
        unlearned = pipe._build(*pipe.store.decode("model", run), "bench")
        fs = pipe.forget_set("random", 0.1, 0)
        keep = np.ones(pipe.ds.n_train, dtype=bool)
        keep[fs.forget_idx] = False
        f, r = torch.as_tensor(fs.forget_idx), torch.as_tensor(np.flatnonzero(keep))
        times: dict[str, list[float]] = {"all five": [], "confidence only": []}
        mia: dict[str, float] = {}
        for _ in range(reps):  # interleaved, so a change of machine load hits both arms alike
            for arm, variants in (("all five", MIA_VARIANTS), ("confidence only", (DEFAULT_MIA,))):
                t = time.perf_counter()
                out = evaluate(unlearned, pipe.ds, f, r, seed=fs.seed, mia_variants=variants)
                times[arm].append(time.perf_counter() - t)
                mia[arm] = out["MIA"]
        view = eval_view(unlearned, pipe.ds, f, r, seed=fs.seed)
        evaluate_view(view, MIA_VARIANTS)
        per_variant = ", ".join(f"{v} {view.seconds[f'MIA_{v}']:.2f}s" for v in MIA_VARIANTS)
        a, c = statistics.median(times["all five"]), statistics.median(times["confidence only"])
        n_test = int(pipe.ds.x_test.shape[0])
        print(f"\n[1] {dataset} / {pipe.model_name}: n_train {pipe.ds.n_train}, n_test {n_test} (SVC on "
              f"{2 * min(n_test, pipe.ds.n_train - fs.size)} samples); θ_o + FT run {setup_s:.1f}s; RA "
              f"{row['RA']:.2f} TA {row['TA']:.2f}")
        print(f"    evaluation of one run, median of {reps}: all five variants {a:.2f}s · confidence only {c:.2f}s · "
              f"ratio {a / c:.2f}x · saved {a - c:.2f}s per run")
        print(f"    SVC fit per variant (one view): {per_variant}")
        same = mia["all five"] == mia["confidence only"] == row["MIA"]
        print(f"    MIA bitwise equal both ways and to the stored run: {same} ({row['MIA']!r})")


def default_compare_spec(cache: str):
    from unlearn_core.cli.grids import experiment_from_args
    from unlearn_core.cli.parser import build_parser

    return experiment_from_args(build_parser().parse_args(["compare", "--cache-dir", cache]))


SVC_SECONDS: dict[str, float] = {}  # the before arm's SVC seconds of the four on-demand variants, summed over runs


def cold_grid(cache: Path, all_variants: bool) -> tuple[float, object]:
    from unlearn_core.grid import LocalExecutor, run_experiment

    shutil.rmtree(cache, ignore_errors=True)
    spec = default_compare_spec(str(cache))
    old = pipeline_mod.evaluate_view
    SVC_SECONDS.clear()

    def old_evaluation(view):  # the evaluation every run made before: all five variants
        out = old(view, MIA_VARIANTS)
        for n in registry.on_demand_names():
            SVC_SECONDS[n] = SVC_SECONDS.get(n, 0.0) + view.seconds[n]
        return out

    if all_variants:
        pipeline_mod.evaluate_view = old_evaluation
    try:
        t0 = time.perf_counter()
        df = run_experiment(spec, Store(cache), executor=LocalExecutor())
        return time.perf_counter() - t0, (spec, df)
    finally:
        pipeline_mod.evaluate_view = old


def grid(cache_root: Path) -> None:
    cache_root.mkdir(parents=True, exist_ok=True)
    # The first grid of a process pays one-off costs (lazy imports, data loading, ~4 s here): one warm-up grid,
    # discarded. Then A-B-B-A, since the machine's load drifts: each arm once early and once late, fresh caches.
    cold_grid(cache_root / "warmup", all_variants=False)
    secs: dict[bool, list[float]] = {False: [], True: []}
    for i, all_variants in enumerate((False, True, True, False)):
        t, (spec, frame) = cold_grid(cache_root / f"{'before' if all_variants else 'now'}{i}", all_variants)
        secs[all_variants].append(t)
        if i == 2:
            df_before, svc_s = frame, sum(SVC_SECONDS.values())
        if i == 3:
            df = frame
    now_s, before_s = statistics.mean(secs[False]), statistics.mean(secs[True])
    pipe = Pipeline(Store(cache_root / "now3"), spec.setup)
    t0 = time.perf_counter()
    got = pipe.on_demand_metrics(list(df["key"]), registry.on_demand_names())
    ask_s = time.perf_counter() - t0
    n = len(df)
    print(f"\n[2] default digits compare, cold, one process: {n} unlearning runs")
    print(f"    every variant with every run (before): {before_s:.1f}s (runs 2, 3: "
          f"{', '.join(f'{t:.1f}' for t in secs[True])}) · confidence only (now): {now_s:.1f}s (runs 1, 4: "
          f"{', '.join(f'{t:.1f}' for t in secs[False])}) · ratio {before_s / now_s:.2f}x · saved "
          f"{before_s - now_s:.1f}s per grid")
    print(f"    of which the four other variants' SVC fits (timed inside the third grid): {svc_s:.2f}s "
          f"({svc_s / len(df_before):.3f}s per run)")
    print(f"    the four other variants afterwards on demand for all {n} runs: {ask_s:.1f}s "
          f"({ask_s / n:.2f}s per run)")
    b = df_before.set_index("key")
    same_mia = all(b.at[k, "MIA"] == v for k, v in zip(df["key"], df["MIA"]))
    same_var = all(b.at[k, m] == got[k][m] for k in got for m in got[k])
    print(f"    same run keys in both grids: {set(b.index) == set(df['key'])} · MIA bitwise equal: {same_mia} · "
          f"on-demand variants bitwise equal to the ones computed with the runs: {same_var}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="digits", help="comma list (e.g. digits,npz:/tmp/mia-gray28.npz)")
    ap.add_argument("--model", default=None, help="model of every data set (default: per data set)")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--grid", action="store_true", help="section 2: the default digits compare, twice, cold")
    ap.add_argument("--grid-cache", default="/tmp/mia-grid", help="section 2's caches (emptied first)")
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()} · python {sys.version.split()[0]}")
    for ds in [d for d in args.datasets.split(",") if d]:
        eval_one_run(ds, args.model, args.epochs, args.reps)
    if args.grid:
        grid(Path(args.grid_cache))


if __name__ == "__main__":
    main()
