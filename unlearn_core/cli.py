"""Command line: ``python -m unlearn_core <command> ...``.

Commands: ``train``, ``score``, ``select``, ``unlearn``, ``compare`` (the grid; with no arguments the default
demo: digits, Retrain/FT/GA/RL/ℓ1-sparse, random vs worst-case, 10%, 3 seeds), ``reproduce`` (the papers'
headline findings as a report), ``tune`` (tune a method on random sets, apply it to others), ``runs`` and ``list``.
Progress bars go to stderr; tables to stdout. Everything that can be checked is checked before any compute starts
(arguments, output folders, the cache, the data, the model's fit to the image size, every hyperparameter). Any
failure prints one ``error: ...`` line saying what to do and exits with status 2 (130 for Ctrl-C); an unexpected
exception prints a short message with the path of a saved traceback, never a traceback itself
(``FORGETSET_TRACEBACK=1`` prints it too, for debugging).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

DESCRIPTION = "forgetset compute core: which training samples are hard to unlearn?"


def _csv_list(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def _arg_type(fn, what: str):
    """An argparse ``type=`` from a validator: its ConfigError message becomes argparse's (exit 2, usage line)."""
    from .errors import ConfigError

    def convert(text: str):
        try:
            return fn(text)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    convert.__name__ = what
    return convert


def _seed(text: str) -> int:
    from .errors import ConfigError
    from .validation import check_seed

    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(f"a seed must be an integer between 0 and 4294967295, got '{text}'.") from None
    return check_seed(value)


def _ratio(text: str) -> float:
    from .config import parse_ratio

    return parse_ratio(text)


def _epochs(text: str) -> int:
    from .errors import ConfigError
    from .validation import MAX_EPOCHS

    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(f"--epochs must be a whole number between 0 and {MAX_EPOCHS}, got '{text}'.") from None
    if not 0 <= value <= MAX_EPOCHS:
        raise ConfigError(f"--epochs must be between 0 and {MAX_EPOCHS}, got {value}.")
    return value


def _positive_int(s: str, flag: str) -> int:
    from .errors import ConfigError

    if not str(s).isdigit() or not 1 <= int(s) <= 256:
        raise ConfigError(f"{flag} must be an integer between 1 and 256 (or auto), got '{s}'.")
    return int(s)


def _eval_models(s: str) -> int:
    from .banks import MAX_EVAL_MODELS, check_eval_models
    from .errors import ConfigError

    if not str(s).strip().isdigit():
        raise ConfigError(f"--eval-models must be 0 (off) or an integer between 4 and {MAX_EVAL_MODELS}, got '{s}'.")
    return check_eval_models(int(s))


def _json_arg(s: str | None, what: str = "--params") -> dict:
    from .config import parse_json_object

    return parse_json_object(s, what)


def _with_budget(method_params: dict, methods: list[str], budget: str) -> dict:
    """Per-method overrides with ``budget`` (unlearn_core/budget.py) for every method that has epochs, unless the
    user set that method's budget or epochs already. The default budget (paper) adds nothing."""
    from .budget import DEFAULT_BUDGET
    from .methods import get_method

    if budget == DEFAULT_BUDGET:
        return method_params
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in (method_params or {}).items()}
    for name in methods:
        m = get_method(name)
        has_epochs = any("epochs" in p for p in (m.presets or {}).values())
        own = out.get(name) if isinstance(out.get(name), dict) else {}
        if m.exact or not has_epochs or "budget" in own or "epochs" in own:
            continue
        out[name] = {**own, "budget": budget}
    return out


def _budget_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", default="paper", choices=("paper", "fixed10"),
                   help="unlearning budget: paper (default: the papers' 10 of 182 epochs, GA 5, as a fraction of this "
                        "recipe) or fixed10 (the presets' fixed 10 epochs, GA 5)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="digits (default), biased_digits, cifar10, cifar100, mnist, "
                   "fashion_mnist, svhn, celeba, npz:PATH or folder:PATH")
    p.add_argument("--model", default=None, help="mlp, cnn, resnet18, resnet50, vgg16_bn (default: per data set)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--cache-dir", default=None, help="artifact cache and database folder "
                   "(default $FORGETSET_CACHE_DIR or ./cache)")
    p.add_argument("--data-root", default=None, help="folder holding torchvision data sets (default ./data)")
    p.add_argument("--download", action="store_true", help="download torchvision data sets into --data-root")
    p.add_argument("--preset", default="auto", help="training preset: auto, small, image, quick")
    p.add_argument("--epochs", type=_arg_type(_epochs, "epochs"), default=None,
                   help="override the training preset's epochs (0..1000)")
    p.add_argument("--blo", default=None, help='BLO parameters as JSON, e.g. \'{"lower": "ft", "upper_iters": 20}\'')
    p.add_argument("--quiet", action="store_true", help="no progress bars")


PLAIN_PROGRESS_S = 10.0


class _Bar:
    """tqdm progress bar on stderr fed by RunContext callbacks; a context manager, so an error never leaves a
    half-drawn bar in front of its message."""

    def __init__(self, quiet: bool, desc: str):
        self.bar = None
        self.desc = desc
        self.tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.last_line = (-1.0, "")  # (time, text) of the last plain progress line (stderr is not a terminal)
        if not quiet and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=1000, desc=desc, file=sys.stderr, leave=False,
                            bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")
        self.quiet = quiet

    def ctx(self):
        from .context import RunContext

        def on_progress(f: float, msg: str) -> None:
            if self.bar is not None:
                self.bar.n = int(1000 * f)
                self.bar.set_postfix_str(msg[:60], refresh=False)
                self.bar.refresh()
            elif not self.quiet:
                # a file or pipe gets whole lines (no carriage-return redraws): one when the step changes, at
                # most one every PLAIN_PROGRESS_S seconds otherwise
                now = time.time()
                if msg != self.last_line[1] or now - self.last_line[0] >= PLAIN_PROGRESS_S:
                    print(f"{self.desc}: {100 * f:5.1f}% {msg}", file=sys.stderr, flush=True)
                    self.last_line = (now, msg)

        return RunContext(on_progress=on_progress)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "_Bar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _setup(args):
    """The command's Setup, validated without loading anything (names, recipe overrides, BLO parameters)."""
    from .config import Setup

    return Setup(dataset=args.dataset, model=args.model, preset=args.preset,
                 train={"epochs": args.epochs} if args.epochs is not None else {},
                 blo=_json_arg(args.blo, "--blo"), data_root=args.data_root, download=args.download,
                 device=args.device).validate()


def _store(args):
    from .errors import ConfigError
    from .store import Store

    if args.cache_dir is not None and not str(args.cache_dir).strip():
        raise ConfigError("--cache-dir is empty; give a folder, e.g. --cache-dir ./cache.")
    store = Store(args.cache_dir)
    for notice in store.notices:
        print(f"note: {notice}", file=sys.stderr)
    return store


def _pipeline(args, setup=None):
    """Store first (an unusable cache is reported before the data is loaded), then the setup resolved: data
    checked, model fitted to the image size, device available."""
    from .pipeline import Pipeline

    setup = setup or _setup(args)
    pipe = Pipeline(_store(args), setup)
    _warn_model(pipe)
    return pipe


def _warn_model(pipe) -> None:
    """Say so (stderr) when the model is far too large for the data, e.g. resnet18 on 8×8 digits."""
    from .data import default_model_for
    from .models import model_mismatch_warning

    msg = model_mismatch_warning(pipe.model_name, tuple(pipe.ds.input_shape), pipe.ds.n_train,
                                 default_model_for(pipe.ds))
    if msg:
        print(f"warning: {msg}", file=sys.stderr, flush=True)


def _outputs(*pairs: tuple[str | None, str]) -> None:
    """Output files must be writable before any compute starts (a typo must not cost a whole grid)."""
    from .validation import check_output_file

    for path, what in pairs:
        check_output_file(path, what)


def cmd_train(args) -> int:
    from .errors import ConfigError
    from .validation import check_input_file

    if args.confirm_dataset is not None and not args.checkpoint:
        raise ConfigError("--confirm-dataset only applies with --checkpoint (it confirms the data set of an imported "
                          "checkpoint).")
    if args.checkpoint:
        check_input_file(args.checkpoint, "Checkpoint")
    pipe = _pipeline(args)
    t0 = time.time()
    with _Bar(args.quiet, "train") as bar:
        if args.checkpoint:
            pipe.import_checkpoint(args.checkpoint, args.seed, args.confirm_dataset)
        else:
            pipe.original(args.seed, bar.ctx())
    run = pipe.find_original(args.seed)
    m = run["metrics"]
    print(f"{pipe.dataset_name} / {pipe.model_name} seed {args.seed}: train acc {m['train_acc']:.2f}%, "
          f"test acc {m['test_acc']:.2f}% ({time.time() - t0:.1f}s)")
    print(f"checkpoint: {pipe.store.root / run['artifacts']['main']['file']}")
    return 0


def _selector_ratio(args) -> None:
    """--ratio defaults to 0.1; given to a class-wise selector (which takes whole classes) it is refused."""
    from .errors import ConfigError
    from .selectors import parse_selector

    spec = parse_selector(args.selector)
    if spec.class_wise and args.ratio is not None:
        raise ConfigError(f"Selector '{args.selector}' forgets whole classes and takes no --ratio; leave it out.")
    if not spec.class_wise and args.ratio is None:
        args.ratio = 0.1


def cmd_score(args) -> int:
    import numpy as np
    import pandas as pd

    from .errors import ConfigError
    from .scores import get_score

    _outputs((args.out, "--out"))
    params = _json_arg(args.params)
    if get_score(args.score).depends_on_ratio:
        args.ratio = 0.1 if args.ratio is None else args.ratio
    elif args.ratio is not None:
        raise ConfigError(f"Score '{args.score}' does not depend on the forget ratio; leave --ratio out.")
    pipe = _pipeline(args)
    with _Bar(args.quiet, f"score {args.score}") as bar:
        res = pipe.score(args.score, args.seed, args.ratio, params, bar.ctx())
    v = np.asarray(res.values)
    print(f"{args.score}: n={len(v)} mean={v.mean():.4g} std={v.std():.4g} min={v.min():.4g} max={v.max():.4g}")
    trace = res.extras.get("trace")
    if trace:
        print("BLO trace:")
        print(pd.DataFrame(trace).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if args.out:
        _write_atomic(args.out, pd.DataFrame({"index": np.arange(len(v)), args.score: v}).to_csv(index=False))
        print(f"wrote {args.out}")
    return 0


def cmd_select(args) -> int:
    from .selectors import parse_selector

    _outputs((args.out, "--out"))
    parse_selector(args.selector)
    _selector_ratio(args)
    pipe = _pipeline(args)
    with _Bar(args.quiet, f"select {args.selector}") as bar:
        fs = pipe.forget_set(args.selector, args.ratio, args.seed, bar.ctx())
    print(f"{args.selector} @ {args.ratio} seed {args.seed}: {fs.size} samples; per class: "
          f"{fs.info.get('class_histogram')}" + (f"; classes {fs.forget_classes}" if fs.forget_classes else ""))
    if args.out:
        _write_atomic(args.out, "".join(f"{int(i)}\n" for i in fs.forget_idx))
        print(f"wrote {args.out}")
    return 0


def cmd_unlearn(args) -> int:
    from .selectors import parse_selector
    from .validation import validate_method_params

    params = _with_budget({args.method: _json_arg(args.params)}, [args.method], args.budget)[args.method]
    validate_method_params(args.method, params)
    parse_selector(args.selector)
    _selector_ratio(args)
    pipe = _pipeline(args)
    with _Bar(args.quiet, f"unlearn {args.method}") as bar:
        row = pipe.run(args.method, args.selector, args.ratio, args.seed, params, bar.ctx())
    print(f"{args.method} on {args.selector} @ {args.ratio} seed {args.seed}: UA {row['UA']:.2f}  "
          f"RA {row['RA']:.2f}  TA {row['TA']:.2f}  MIA {row['MIA']:.2f}  ({row['runtime_s']:.2f}s)")
    return 0


def _write_atomic(path: str, text: str) -> None:
    from .store import atomic_write_bytes

    atomic_write_bytes(Path(path), text.encode())


def _print_worst_vs_lowloss(spec, store) -> None:
    """Beside a worst-case grid: its overlap with θ_o's lowest-loss set and BLO's objective for the three sets."""
    if not ({"worst", "bottom:loss"} <= set(spec.selectors)):
        return
    from .grid import worst_vs_lowloss
    from .pipeline import Pipeline

    pipe = Pipeline(store, spec.setup)
    for ratio in spec.ratios:
        rep = worst_vs_lowloss(pipe, ratio, list(spec.seeds))
        objs = [r["objective"] for r in rep["per_seed"]]
        line = ", ".join(f"{k} {sum(o[k] for o in objs) / len(objs):.4g}" for k in objs[0]) if objs else "-"
        print(f"worst case vs lowest-loss set (ratio {ratio}): overlap {rep['overlap_mean']:.3f} (mean over seeds); "
              f"BLO's objective (mean loss on the set after its lower level unlearns it; lower = harder): {line}")
        if rep["verdict"]:
            print(rep["verdict"])


def cmd_compare(args) -> int:
    import pandas as pd

    from .errors import ConfigError
    from .grid import ExperimentSpec, make_executor, preflight, run_experiment
    from .results import RUN_COLUMNS, STD_LABEL, format_table3, table3
    from .validation import check_names, parse_ratios, parse_seeds

    _outputs((args.out, "--out"), (args.table_out, "--table-out"))
    if args.out and args.table_out and Path(args.out).resolve() == Path(args.table_out).resolve():
        raise ConfigError("--out and --table-out name the same file; give two different files.")
    if args.ray_address and args.executor != "ray":
        raise ConfigError("--ray-address only applies with --executor ray.")
    methods = check_names(_csv_list(args.methods), "methods")
    params = _json_arg(args.params)
    if methods == ["all"]:
        from .methods import method_names

        methods = method_names()
    params = _with_budget(params, methods, args.budget)
    spec = ExperimentSpec(setup=_setup(args), selectors=check_names(_csv_list(args.selectors), "selectors"),
                          methods=methods, ratios=parse_ratios(args.ratios),
                          seeds=parse_seeds(args.seeds), method_params=params,
                          eval_models=_eval_models(args.eval_models)).validate()
    workers = None if args.workers == "auto" else _positive_int(args.workers, "--workers")
    if workers is not None and args.executor != "local":
        raise ConfigError("--workers only applies with --executor local (Ray schedules its own workers).")
    store = _store(args)
    # data, model size, device, every method's hyperparameters and every forget-set size, before compute
    preflight(spec, check_device=args.executor == "local")
    from .cost import auto_workers, describe_actual, fmt_seconds
    from .grid_estimate import estimate_grid

    from .pipeline import Pipeline

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
    rest = [c for c in df.columns if c not in RUN_COLUMNS]
    out = df[RUN_COLUMNS + rest]
    t3 = table3(df, spec.selectors)
    print(f"{spec.setup.dataset} / {out['model'].iloc[0]} · seeds {','.join(map(str, spec.seeds))} · metrics in % "
          f"· mean ± {STD_LABEL}, (gap to Retrain = |mean − Retrain's mean|) · MIA = confidence-feature SVC efficacy")
    from .pipeline import Pipeline
    from .results import format_original_fit, original_fit

    fit = original_fit(Pipeline(store, spec.setup), spec.seeds)
    print(format_original_fit(fit))
    for k in ("RA_mean", "RA_std", "TA_mean", "TA_std"):
        t3[f"theta_o_{k}"] = fit[k]
    if spec.eval_models:
        from .forget_quality import DEFAULT_ESTIMATOR

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
            actual[uid.split("/")[0]] = actual.get(uid.split("/")[0], 0.0) + sec
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
        from .results import table3_csv, table3_metadata

        _write_atomic(args.table_out, table3_csv(t3))
        side = str(args.table_out) + ".json"  # the notes on the statistics: a sidecar, not a '#' line in the CSV
        _write_atomic(side, json.dumps(table3_metadata(t3, setup=spec.setup.to_dict(), seeds=spec.seeds,
                                                       command=" ".join(sys.argv)), indent=1, default=str))
        print(f"wrote {args.table_out} (notes on the columns: {side})")
    return 0


def cmd_reproduce(args) -> int:
    from .reproduce import ReproduceConfig, reproduce, summary_frame
    from .validation import parse_seeds

    cfg = ReproduceConfig(setup=_setup(args), seeds=parse_seeds(args.seeds), ratio=_ratio(args.ratio),
                          findings=_findings(args.findings), force=args.force,
                          table6=not args.no_table6).validate()
    out_dir = Path(args.out) if args.out else None
    store = _store(args)
    if out_dir is None:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{args.dataset.replace(':', '_').replace('/', '_')[-40:]}"
        out_dir = store.root / "reports" / name
    _check_writable_dir(out_dir)
    from .grid import make_executor

    executor = make_executor("local", workers=1 if args.workers == "auto" else _positive_int(args.workers, "--workers"))
    t0 = time.time()

    def on_finding(f) -> None:
        print(f"finding {f.number} ({f.title}): {f.verdict}  [{f.seconds:.0f}s]", file=sys.stderr, flush=True)

    with _Bar(args.quiet, "reproduce") as bar:
        findings = reproduce(cfg, store, bar.ctx(), executor=executor, on_finding=on_finding)
    wall = time.time() - t0
    from .report import report_figures, write_report
    from .reproduce import forget_quality_section

    title = f"Reproduction of the headline findings on {args.dataset}"
    path = write_report(findings, out_dir, title, {"wall_s": wall, "when": time.strftime("%Y-%m-%d %H:%M"),
                                                    "setup": cfg.setup.to_dict(), "seeds": cfg.seeds},
                        figures=report_figures(),
                        sections=[forget_quality_section(cfg.setup, store, cfg.seeds, cfg.ratio)])
    print(summary_frame(findings).to_string(index=False))
    print(f"wall time {wall:.0f}s · report: {path}")
    return 0


def _findings(text: str | None) -> list[int]:
    """'--findings 1,3' -> [1, 3]; default all seven."""
    from .errors import ConfigError
    from .reproduce import N_FINDINGS

    if not text:
        return list(range(1, N_FINDINGS + 1))
    items = _csv_list(text)
    if not items or not all(x.isdigit() and 1 <= int(x) <= N_FINDINGS for x in items):
        raise ConfigError(f"--findings must be a comma list of findings 1-{N_FINDINGS}, e.g. 1,3; got '{text}'.")
    return sorted({int(x) for x in items})


def cmd_tune(args) -> int:
    """The tuning protocol (unlearn_core/tuning.py): grid on random sets → chosen values → applied elsewhere."""
    import pandas as pd

    from .cost import fmt_seconds
    from .grid import make_executor
    from .results import STD_LABEL, format_table3
    from .config import parse_ratio
    from .tuning import TuneSpec, estimate_tuning, tune
    from .validation import parse_seeds

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
    from .pipeline import Pipeline
    from .results import format_original_fit, original_fit

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


def _check_writable_dir(path: Path) -> None:
    """The output folder exists (or can be made) and is writable — checked before any computation."""
    from .errors import ConfigError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"Cannot create the output folder '{path}': {err.strerror or err}.") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"The output folder '{path}' is not writable.")


RUN_KINDS = ("original", "score", "forget_set", "unlearn", "predictions")


def cmd_runs(args) -> int:
    import pandas as pd

    store = _store(args)
    if args.mark_interrupted:
        print(f"marked {store.mark_interrupted()} runs interrupted")
    runs = store.list_runs(args.kind, args.status)
    rows = [{"key": r["key"], "kind": r["kind"], "status": r["status"],
             "what": (r["config"].get("method") or r["config"].get("score") or r["config"].get("model")),
             "selector": r["config"].get("selector"), "ratio": r["config"].get("ratio"),
             "seed": r["config"].get("seed"), "error": (r["error"] or "")[:60]} for r in runs]
    print(pd.DataFrame(rows).to_string(index=False) if rows else "no runs")
    return 0


def cmd_list(args) -> int:
    from .data import DATASETS
    from .methods import get_method, method_names
    from .models import MODELS
    from .scores import get_score, score_names
    from .selectors import SELECTOR_HELP

    print("data sets: " + ", ".join(list(DATASETS) + ["npz:PATH", "folder:PATH"]))
    print("models:    " + ", ".join(MODELS))
    print("selectors:")
    for k, v in SELECTOR_HELP.items():
        print(f"  {k:18s} {v}")
    print("scores:")
    for s in score_names():
        spec = get_score(s)
        print(f"  {s:18s} {spec.description}")
    print("methods:")
    for m in method_names():
        meta = get_method(m).metadata()
        flags = ",".join(k for k in ("relabeling", "reinit", "partial_update") if meta[k])
        print(f"  {m:18s} {meta['description']}" + (f" [{flags}]" if flags else ""))
    from .methods.base import WRAPPERS

    print("method wrappers (PREFIX:METHOD around any method above, e.g. rsu:ga):")
    for prefix, factory in WRAPPERS.items():
        doc = (getattr(factory, "__doc__", None) or "").strip().splitlines()
        print(f"  {prefix + ':METHOD':18s} {doc[0] if doc else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m unlearn_core", description=DESCRIPTION)
    sub = ap.add_subparsers(dest="command", required=True)
    seed = _arg_type(_seed, "seed")
    ratio = _arg_type(_ratio, "ratio")

    p = sub.add_parser("train", help="train (or import) the original model")
    _common(p)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--checkpoint", default=None, help="import weights (.safetensors or .pt state dict) as θ_o")
    p.add_argument("--confirm-dataset", default=None, metavar="NAME",
                   help="a checkpoint without forgetset metadata is only used when this names the data set")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("score", help="compute a per-sample score (loss, entropy, blo, ...)")
    _common(p)
    p.add_argument("--score", default="blo")
    p.add_argument("--ratio", type=ratio, default=None, help="forget ratio (scores that depend on it: blo; default 0.1)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--params", default=None, help="score parameters as JSON")
    p.add_argument("--out", default=None, help="write index,score CSV")
    p.set_defaults(fn=cmd_score)

    p = sub.add_parser("select", help="build a forget set")
    _common(p)
    p.add_argument("--selector", default="worst")
    p.add_argument("--ratio", type=ratio, default=None, help="forget ratio (default 0.1; not for class-wise selectors)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out", default=None, help="write the forget indices, one per line")
    p.set_defaults(fn=cmd_select)

    p = sub.add_parser("unlearn", help="run one unlearning method on one forget set and evaluate it")
    _common(p)
    p.add_argument("--method", default="ft")
    p.add_argument("--selector", default="random")
    p.add_argument("--ratio", type=ratio, default=None, help="forget ratio (default 0.1; not for class-wise selectors)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--params", default=None, help='method hyperparameters as JSON, e.g. \'{"epochs": 5}\'')
    _budget_arg(p)
    p.set_defaults(fn=cmd_unlearn)

    p = sub.add_parser("compare", help="grid of selectors × methods × ratios × seeds (default: the demo)")
    _common(p)
    p.add_argument("--selectors", default="random,worst,bottom:loss",
                   help="comma list; bottom:loss (θ_o's lowest-loss set) is the worst case's cheap rival")
    p.add_argument("--methods", default="retrain,ft,ga,rl,l1_sparse", help="comma list, or 'all'")
    p.add_argument("--ratios", default="0.1")
    p.add_argument("--seeds", default="3", help="count (3 = seeds 0,1,2) or list (0,4,7)")
    p.add_argument("--params", default=None, help='per-method hyperparameters as JSON: \'{"ga": {"lr": 0.01}}\'')
    p.add_argument("--out", default=None, help="write one CSV row per run")
    p.add_argument("--table-out", default=None, help="write the Table-3 statistics (mean, std, n, gaps) as CSV")
    p.add_argument("--eval-models", default="0", help="models per bank for the per-example distribution tests "
                   "(N retrained, N unlearned per method and forget set; adds forget_quality, score, KLoM P95 and "
                   "n_models columns, and rows for the baselines original and original_seeds); 0 = off (default)")
    _budget_arg(p)
    p.add_argument("--executor", default="local", help="where the grid's units run: local (default) or ray")
    p.add_argument("--workers", default="auto",
                   help="local worker processes: a number, or auto (all cores when the grid is long enough to gain)")
    p.add_argument("--ray-address", default=None,
                   help="with --executor ray: auto (a running cluster), ray://host:port, or local (start one here)")
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser("reproduce", help="run the papers' headline findings (seven) and write a report with verdicts")
    _common(p)
    p.add_argument("--seeds", default="3", help="count (3 = seeds 0,1,2) or list")
    p.add_argument("--ratio", default="0.1", help="forget ratio of the findings' sets")
    p.add_argument("--findings", default=None, help="comma list of findings to run (1-7; default all)")
    p.add_argument("--force", action="store_true",
                   help="compute the findings even when θ_o does not fit its training set (RA < 95%%; the verdicts "
                        "stay 'not applicable')")
    p.add_argument("--no-table6", action="store_true",
                   help="finding 6: skip the random-set (Chen et al. Table-6) analogue for GA, RL and Bad-T")
    p.add_argument("--workers", default="1", help="worker processes for the grids (default 1)")
    p.add_argument("--out", default=None, help="report folder (default CACHE/reports/<time>-<data set>)")
    p.set_defaults(fn=cmd_reproduce)

    p = sub.add_parser("tune", help="tune a method on random forget sets (min Avg. gap to Retrain), apply it elsewhere")
    _common(p)
    p.add_argument("--method", default="ft")
    p.add_argument("--grid", default=None,
                   help='JSON {hyperparameter: [values]}, e.g. \'{"lr": [0.01, 0.02], "epochs": [5, 10]}\' '
                        "(default: the preset's lr x 0.25/0.5/1/2 and epochs E/2, E)")
    p.add_argument("--selector", default="random", help="forget sets the grid is searched on (default random)")
    p.add_argument("--ratio", default="0.1")
    p.add_argument("--seeds", default="3", help="count (3 = seeds 0,1,2) or list")
    p.add_argument("--apply-to", default="worst", help="comma list of selectors to run the chosen values on "
                   "(with the preset for comparison); empty = none")
    p.add_argument("--params", default=None, help="fixed hyperparameters every candidate shares (JSON)")
    _budget_arg(p)
    p.add_argument("--workers", default="1", help="local worker processes (default 1)")
    p.set_defaults(fn=cmd_tune)

    p = sub.add_parser("runs", help="list runs in the store")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--kind", default=None, choices=RUN_KINDS, help="original, score, forget_set, unlearn, ...")
    p.add_argument("--status", default=None, choices=("done", "running", "failed", "cancelled", "interrupted",
                                                      "legacy", "corrupt"))
    p.add_argument("--mark-interrupted", action="store_true", help="mark runs left 'running' as interrupted")
    p.set_defaults(fn=cmd_runs)

    p = sub.add_parser("list", help="list data sets, models, selectors, scores and methods")
    p.set_defaults(fn=cmd_list)
    return ap


# ---------------------------------------------------------------------------------------------- failures
def _save_crash(err: BaseException, argv: list[str]) -> str | None:
    """Write the traceback of an unexpected error to a file; returns its path (None if it cannot be written)."""
    import platform
    import tempfile
    import traceback

    text = (f"forgetset internal error\ncommand: python -m unlearn_core {' '.join(argv)}\n"
            f"python {platform.python_version()} on {platform.platform()}\ntime: {time.ctime()}\n\n"
            + "".join(traceback.format_exception(type(err), err, err.__traceback__)))
    try:
        fd, path = tempfile.mkstemp(prefix=f"forgetset-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path
    except OSError:
        return None


def _oneline(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explain(err: BaseException, argv: list[str]) -> tuple[str, int]:
    """(message, exit status) for an exception that reached the top level; never a traceback."""
    import errno
    import pickle
    import sqlite3
    import zipfile

    from .errors import ForgetsetError

    if isinstance(err, KeyboardInterrupt):
        return "interrupted; finished runs are kept in the cache, the interrupted one is not.", 130
    if isinstance(err, ForgetsetError):
        return f"error: {err}", 2
    try:
        import torch

        oom = (torch.cuda.OutOfMemoryError,)
    except (ImportError, AttributeError):  # pragma: no cover - torch is a dependency
        oom = ()
    if isinstance(err, (MemoryError, *oom)):
        return ("error: out of memory. Use a smaller request: fewer seeds or ratios, a smaller batch size or model, "
                "or a smaller data set (--device cpu if the GPU is the one that is full)."), 2
    if isinstance(err, sqlite3.Error):
        if "locked" in str(err):
            return (f"error: the cache database is locked by another process ({_oneline(err)}). Wait for it to "
                    f"finish or use another --cache-dir."), 2
        return (f"error: the cache database failed ({type(err).__name__}: {_oneline(err)}). Run the command again "
                f"(a database that fails its integrity check is moved aside when the cache opens, and the note says "
                f"where), or use another --cache-dir."), 2
    if isinstance(err, (zipfile.BadZipFile, pickle.UnpicklingError, EOFError)):
        return (f"error: a file could not be read: it is truncated or not in the expected format "
                f"({type(err).__name__}: {_oneline(err)}). Check the file named in your command."), 2
    if isinstance(err, OSError):
        where = f" '{err.filename}'" if getattr(err, "filename", None) else ""
        reason = err.strerror or _oneline(err)
        if err.errno == errno.ENOSPC:
            return f"error: the disk is full{where}. Free some space or use another --cache-dir / --out.", 2
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return (f"error: no permission to write or read{where} ({reason}). Use a folder you can write "
                    f"(--cache-dir, --out)."), 2
        return f"error: {reason}{where}. Check the paths in your command.", 2
    if type(err).__module__.startswith("PIL"):
        return f"error: an image could not be read ({_oneline(err)}). Remove or replace it.", 2
    path = _save_crash(err, argv)
    where = f" Details: {path}" if path else ""
    return (f"error: internal error ({type(err).__name__}: {_oneline(err, 200)}). This is a bug in forgetset, not "
            f"in your input; please report it.{where}"), 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)  # usage errors: argparse prints "error: ..." and exits with status 2
    from .threads import apply_thread_policy

    apply_thread_policy()  # one torch thread per worker: measured faster on shared cores (threads.py)
    try:
        return int(args.fn(args) or 0)
    except BrokenPipeError:  # stdout closed early (| head): nothing left to say
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 141
    except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001 - the one place that turns failures into messages
        if os.environ.get("FORGETSET_TRACEBACK"):
            import traceback

            traceback.print_exc()
        message, code = explain(err, argv)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        print(message, file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
