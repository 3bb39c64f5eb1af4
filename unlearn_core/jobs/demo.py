"""The teaching demo: the default digits pipeline, stage by stage (each stage cached, so pages fill as it goes).

Stage boundaries are fractions of the job's progress; the dashboard reads them to show which stage is running
and unlocks each page as its stage lands.
"""
from __future__ import annotations

from ..context import RunContext
from ..grid import ExperimentSpec, run_experiment
from .job_config import pipeline_for, setup_label, setup_of
from .registry import JobEnv, register_job_kind

DEMO_STAGES = [  # (name, what it does, progress range)
    ("original", "Train the original model θ_o on the digits training set", 0.0, 0.08),
    ("scores", "Score every training sample: loss and entropy", 0.08, 0.1),
    ("blo", "Find the worst-case forget set by bi-level optimisation (BLO)", 0.1, 0.3),
    ("sets", "Build the random, worst-case, lowest-loss and easiest forget sets (10%)", 0.3, 0.32),
    ("seed0", "Unlearn with Retrain, FT, GA, RL and ℓ1-sparse on random, worst-case and lowest-loss sets (seed 0)",
     0.32, 0.5),
    ("seeds", "Repeat for seeds 1 and 2 (mean ± std)", 0.5, 0.75),
    ("sweep", "Ratio sweep: 5% and 20% forget sets", 0.75, 1.0),
]
# bottom:loss (θ_o's lowest-loss set) stands beside the worst case: its cheap rival, the sort
DEMO_DEFAULTS = {"setup": {"dataset": "digits"}, "ratio": 0.1, "seeds": [0, 1, 2], "sweep_ratios": [0.05, 0.2],
                 "methods": ["retrain", "ft", "ga", "rl", "l1_sparse"], "selectors": ["random", "worst", "bottom:loss"]}


def demo_config(config: dict) -> dict:
    c = {**DEMO_DEFAULTS, **(config or {})}
    c["setup"] = c.get("setup") or DEMO_DEFAULTS["setup"]
    return c


def _spec(c: dict, seeds: list[int], ratios: list[float]) -> ExperimentSpec:
    return ExperimentSpec(setup=setup_of(c), methods=list(c["methods"]), selectors=list(c["selectors"]),
                          ratios=ratios, seeds=seeds)


def _check_demo(config: dict) -> None:
    c = demo_config(config)
    _spec(c, list(c["seeds"]), [c["ratio"], *c["sweep_ratios"]])  # built = validated


@register_job_kind("teaching_demo", title="Teaching demo", check=_check_demo,
                   describe=lambda c: f"Teaching demo · {setup_label(demo_config(c))}")
def _job_teaching_demo(config: dict, env: JobEnv) -> dict:
    c = demo_config(config)
    pipe = pipeline_for(c, env)
    ctx, ratio, seeds = env.ctx, float(c["ratio"]), [int(s) for s in c["seeds"]]
    bounds = {name: (lo, hi) for name, _, lo, hi in DEMO_STAGES}
    titles = {name: title for name, title, _, _ in DEMO_STAGES}
    stages_done: list[str] = []

    def stage(name: str) -> RunContext:
        lo, hi = bounds[name]
        ctx.progress(lo, f"stage {list(bounds).index(name) + 1}/{len(bounds)}: {titles[name]}")
        return ctx.sub(lo, hi)

    pipe.original(seeds[0], stage("original"))
    stages_done.append("original")
    sub = stage("scores")
    for name in ("loss", "entropy"):
        pipe.score(name, seeds[0], None, {}, sub)
    stages_done.append("scores")
    pipe.score("blo", seeds[0], ratio, {}, stage("blo"))
    stages_done.append("blo")
    sub = stage("sets")
    for sel in ("random", "worst", "bottom:loss", "easiest"):
        pipe.forget_set(sel, ratio, seeds[0], sub)
    stages_done.append("sets")

    def grid(name: str, grid_seeds: list[int], ratios: list[float]) -> int:
        spec = _spec(c, grid_seeds, ratios)
        spec = spec.replace(setup=spec.setup.replace(device=str(pipe.device)))

        def on_row(row: dict) -> None:
            ctx.log(f"{row['method']} · {row['selector']} · {row['ratio']} · seed {row['seed']}: UA {row['UA']:.2f} "
                    f"MIA {row['MIA']:.2f} RA {row['RA']:.2f} TA {row['TA']:.2f}")

        return len(run_experiment(spec, env.store, stage(name), on_row=on_row))

    n = grid("seed0", seeds[:1], [ratio])
    stages_done.append("seed0")
    if len(seeds) > 1:
        n += grid("seeds", seeds[1:], [ratio])
    stages_done.append("seeds")
    if c["sweep_ratios"]:
        n += grid("sweep", seeds, [float(r) for r in c["sweep_ratios"]])
    stages_done.append("sweep")
    ctx.progress(1.0, "teaching demo done")
    return {"stages": stages_done, "n_runs": n, "original_key": pipe.original_key(seeds[0])}
