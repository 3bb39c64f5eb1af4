"""The grid commands: ``compare`` (selectors × methods × ratios × seeds), ``reproduce`` (the papers' findings as a
report) and ``tune`` (the tuning protocol)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..methods import method_names
from ..spec import ExperimentSpec
from ..validation import parse_ratios, parse_seeds
from .commands import _check_writable_dir, _outputs, _setup, _store, _warn_model, _with_budget, _write_atomic
from .inputs import _csv_list, _eval_models, _findings, _json_arg, _positive_int, _ratio
from .progress import _Bar


def _print_worst_vs_lowloss(spec, store) -> None:
    """Beside a worst-case grid: its overlap with θ_o's lowest-loss set and BLO's objective for the three sets."""
    if not ({"worst", "bottom:loss"} <= set(spec.selectors)):
        return
    from ..grid import worst_vs_lowloss
    from ..pipeline import Pipeline

    pipe = Pipeline(store, spec.setup)
    for ratio in spec.ratios:
        rep = worst_vs_lowloss(pipe, ratio, list(spec.seeds))
        objs = [r["objective"] for r in rep["per_seed"]]
        line = ", ".join(f"{k} {sum(o[k] for o in objs) / len(objs):.4g}" for k in objs[0]) if objs else "-"
        print(f"worst case vs lowest-loss set (ratio {ratio}): overlap {rep['overlap_mean']:.3f} (mean over seeds); "
              f"BLO's objective (mean loss on the set after its lower level unlearns it; lower = harder): {line}")
        if rep["verdict"]:
            print(rep["verdict"])


def experiment_from_args(args) -> ExperimentSpec:
    """The grid ``compare`` asks for, parsed once (:class:`~unlearn_core.spec.ExperimentSpec`): a bad ratio,
    selector, seed, method or hyperparameter is a ConfigError naming its field, before anything is loaded."""
    methods = _csv_list(args.methods)
    if methods == ["all"]:
        methods = method_names()
    params = _with_budget(_json_arg(args.params), methods, args.budget)
    return ExperimentSpec(setup=_setup(args), selectors=_csv_list(args.selectors), methods=methods,
                          ratios=parse_ratios(args.ratios), seeds=parse_seeds(args.seeds), method_params=params,
                          eval_models=_eval_models(args.eval_models))


def cmd_compare(args) -> int:
    import pandas as pd

    from ..errors import ConfigError
    from ..grid import make_executor, preflight, run_experiment
    from ..metrics import parse_mia_variants, registry as metric_registry, variant_metric
    from ..results import RUN_COLUMNS, STD_LABEL, format_table3, mark_not_computed, on_demand_columns, table3

    _outputs((args.out, "--out"), (args.table_out, "--table-out"))
    if args.out and args.table_out and Path(args.out).resolve() == Path(args.table_out).resolve():
        raise ConfigError("--out and --table-out name the same file; give two different files.")
    if args.ray_address and args.executor != "ray":
        raise ConfigError("--ray-address only applies with --executor ray.")
    spec = experiment_from_args(args)
    # the on-demand MIA variants asked for (the confidence one comes with every run)
    extra = [n for n in (variant_metric(v) for v in parse_mia_variants(args.mia_variants))
             if n in metric_registry.on_demand_names()]
    workers = None if args.workers == "auto" else _positive_int(args.workers, "--workers")
    if workers is not None and args.executor != "local":
        raise ConfigError("--workers only applies with --executor local (Ray schedules its own workers).")
    store = _store(args)
    # data, model size, device, every method's hyperparameters and every forget-set size, before compute
    preflight(spec, check_device=args.executor == "local")
    from ..cost import auto_workers, describe_actual, fmt_seconds
    from ..grid_stages import stage_of
    from ..grid_estimate import estimate_grid
    from ..pipeline import Pipeline

    pipe = Pipeline(store, spec.setup)
    _warn_model(pipe)
    est = estimate_grid(spec, store, pipe)
    options: dict = {"address": args.ray_address} if args.ray_address else {}
    if args.executor == "local":
        options["workers"] = auto_workers(est) if workers is None else workers
    executor = make_executor(args.executor, **options)
    n_workers = options.get("workers", 1) if args.executor == "local" else 1
    print(f"estimate: {est.summary(n_workers)} · {executor.describe()}", file=sys.stderr, flush=True)
    t0 = time.time()
    with _Bar(args.quiet, "compare") as bar:
        df = run_experiment(spec, store, bar.ctx(), executor=executor, estimate=est)
    elapsed = time.time() - t0
    if extra:
        t_extra = time.time()
        with _Bar(args.quiet, "MIA variants") as bar:
            got = pipe.on_demand_metrics([k for k in df["key"] if k], extra, bar.ctx())  # "": θ_o baselines
        for n in extra:
            df[n] = [got[k][n] if k in got else float("nan") for k in df["key"]]
        print(f"MIA feature variants {', '.join(extra)} for {len(df)} runs (read where stored, else computed from "
              f"the stored models): {time.time() - t_extra:.1f}s", file=sys.stderr)
    rest = [c for c in df.columns if c not in RUN_COLUMNS]
    out = mark_not_computed(df[RUN_COLUMNS + rest], on_demand_columns(df, extra))
    t3 = table3(df, spec.selectors)
    print(f"{spec.setup.dataset} / {out['model'].iloc[0]} · seeds {','.join(map(str, spec.seeds))} · metrics in % "
          f"· mean ± {STD_LABEL}, (gap to Retrain = |mean − Retrain's mean|) · MIA = confidence-feature SVC efficacy")
    from ..results import format_original_fit, original_fit

    fit = original_fit(pipe, spec.seeds)
    print(format_original_fit(fit))
    for k in ("RA_mean", "RA_std", "TA_mean", "TA_std"):
        t3[f"theta_o_{k}"] = fit[k]
    if spec.eval_models:
        from ..forget_quality import DEFAULT_ESTIMATOR

        print(f"F = forgetting quality, score = F × RA/RA_r × TA/TA_r (Triantafillou et al.; ε by the "
              f"{DEFAULT_ESTIMATOR} estimator, forget_quality_threshold in the CSV: the competition's threshold test), "
              f"KLoM = P95 of KL of margin histograms (Georgiev et al.) on forget / retain / test; {spec.eval_models} "
              f"models per bank; retrain = vs an independent retrain bank; original = θ_o unchanged; "
              f"original_seeds = θ_o's recipe over {spec.eval_models} seeds (no unlearning)")
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.max_colwidth", 40):
        print(format_table3(t3).to_string(index=False))
    print(f"{len(df)} runs in {elapsed:.1f}s · cache: {store.root}")
    _print_worst_vs_lowloss(spec, store)
    unit_s = df.attrs.get("unit_seconds") or {}
    if est.seconds > 0:
        print(describe_actual(est, elapsed, n_workers))
        actual: dict[str, float] = {}
        for uid, sec in unit_s.items():
            actual[stage_of(uid)] = actual.get(stage_of(uid), 0.0) + sec
        rows = [f"  {st:<11s} estimate {fmt_seconds(e):>8s} · actual {fmt_seconds(actual.get(st, 0.0)):>8s}"
                for st, e in est.by_stage().items()]
        print("compute time per stage, summed over workers (estimate vs actual):\n" + "\n".join(rows))
    stages = df.attrs.get("stage_seconds") or {}
    if stages:
        print("computed this time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    elif est.seconds == 0:
        print("everything was served from the cache")
    if args.out:
        _write_atomic(args.out, out.to_csv(index=False))
        print(f"wrote {args.out}")
    if args.table_out:
        from ..results import table3_csv, table3_metadata

        _write_atomic(args.table_out, table3_csv(t3))
        side = str(args.table_out) + ".json"  # the notes on the statistics: a sidecar, not a '#' line in the CSV
        _write_atomic(side, json.dumps(table3_metadata(t3, setup=spec.setup.to_dict(), seeds=spec.seeds,
                                                       command=" ".join(sys.argv)), indent=1, default=str))
        print(f"wrote {args.table_out} (notes on the columns: {side})")
    return 0


def cmd_reproduce(args) -> int:
    from ..reproduce import ReproduceConfig, reproduce, summary_frame
    from ..validation import parse_seeds

    cfg = ReproduceConfig(setup=_setup(args), seeds=parse_seeds(args.seeds), ratio=_ratio(args.ratio),
                          findings=_findings(args.findings), force=args.force,
                          table6=not args.no_table6).validate()
    out_dir = Path(args.out) if args.out else None
    store = _store(args)
    if out_dir is None:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{args.dataset.replace(':', '_').replace('/', '_')[-40:]}"
        out_dir = store.root / "reports" / name
    _check_writable_dir(out_dir)
    from ..grid import make_executor

    executor = make_executor("local", workers=1 if args.workers == "auto" else _positive_int(args.workers, "--workers"))
    t0 = time.time()

    def on_finding(f) -> None:
        print(f"finding {f.number} ({f.title}): {f.verdict}  [{f.seconds:.0f}s]", file=sys.stderr, flush=True)

    with _Bar(args.quiet, "reproduce") as bar:
        findings = reproduce(cfg, store, bar.ctx(), executor=executor, on_finding=on_finding)
    wall = time.time() - t0
    from ..report import report_figures, write_report
    from ..reproduce import forget_quality_section

    title = f"Reproduction of the headline findings on {args.dataset}"
    path = write_report(findings, out_dir, title, {"wall_s": wall, "when": time.strftime("%Y-%m-%d %H:%M"),
                                                    "setup": cfg.setup.to_dict(), "seeds": cfg.seeds},
                        figures=report_figures(),
                        sections=[forget_quality_section(cfg.setup, store, cfg.seeds, cfg.ratio)])
    print(summary_frame(findings).to_string(index=False))
    print(f"wall time {wall:.0f}s · report: {path}")
    return 0


def cmd_tune(args) -> int:
    """The tuning protocol (unlearn_core/tuning.py): grid on random sets → chosen values → applied elsewhere."""
    import pandas as pd

    from ..cost import fmt_seconds
    from ..grid import make_executor
    from ..results import STD_LABEL, format_table3
    from ..config import parse_ratio
    from ..tuning import TuneSpec, estimate_tuning, tune
    from ..validation import parse_seeds

    grid = _json_arg(args.grid) or None
    ts = TuneSpec(setup=_setup(args), method=args.method, grid=grid, selector=args.selector,
                  ratio=parse_ratio(args.ratio), seeds=parse_seeds(args.seeds), apply_to=_csv_list(args.apply_to or ""),
                  base_params=_with_budget({args.method: _json_arg(args.params)}, [args.method], args.budget)[args.method])
    store = _store(args)
    workers = 1 if args.workers == "auto" else _positive_int(args.workers, "--workers")
    executor = make_executor("local", workers=workers)
    est = estimate_tuning(ts, store)
    print(f"estimate: {est.summary()} · {executor.describe()}", file=sys.stderr, flush=True)
    t0 = time.time()
    with _Bar(args.quiet, f"tune {args.method}") as bar:
        res = tune(ts, store, bar.ctx(), executor=executor, on_log=lambda m: print(m, file=sys.stderr, flush=True))
    rec = res.record
    cands = res.candidates()
    from ..pipeline import Pipeline
    from ..results import format_original_fit, original_fit

    print(format_original_fit(original_fit(Pipeline(store, ts.setup), ts.seeds)))
    print(f"{args.method}: grid {json.dumps(rec['grid'])} on {rec['selector']} {100 * rec['ratio']:g}% · seeds "
          f"{','.join(map(str, rec['seeds']))} · objective = Avg. gap to Retrain (lower is better)")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(cands.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    pre = rec["preset"]["avg_gap"]
    print(f"chosen: {json.dumps(rec['chosen']['overrides']) if rec['chosen']['overrides'] else '(the preset)'} → "
          f"{json.dumps(rec['chosen']['params'], sort_keys=True)} · Avg. gap {rec['chosen']['avg_gap']:.3f}"
          + (f" (preset {pre:.3f})" if pre is not None else "") + f" · tuning run {res.key[:12]}"
          + (" (from the cache)" if res.cache_hit else ""))
    if not res.applied.empty:
        print(f"Table 3 on {', '.join(ts.apply_to)} {100 * ts.ratio:g}% · tuned vs preset · mean ± {STD_LABEL} "
              f"(gap to Retrain)")
        shown = format_table3(res.applied)
        shown.insert(0, "variant", res.applied["variant"].values)
        with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 40):
            print(shown.to_string(index=False))
    print(f"took {fmt_seconds(time.time() - t0)} (estimate {fmt_seconds(est.seconds)}) · cache: {store.root}")
    return 0
