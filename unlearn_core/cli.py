"""Command line: ``python -m unlearn_core <command> ...``.

Commands: ``train``, ``score``, ``select``, ``unlearn``, ``compare`` (the grid; with no arguments the default
demo: digits, Retrain/FT/GA/RL/ℓ1-sparse, random vs worst-case, 10%, 3 seeds), ``tune`` (tune a method on random
sets, apply it to others), ``runs`` and ``list``.
Progress bars go to stderr; tables to stdout. Bad input prints ``error: ...`` and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

DESCRIPTION = "forgetset compute core: which training samples are hard to unlearn?"


def _csv_list(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def _ratios(s: str) -> list[float]:
    from .errors import ConfigError

    try:
        return [float(x) for x in _csv_list(s)]
    except ValueError:
        raise ConfigError(f"--ratios must be comma-separated numbers such as 0.01,0.1; got '{s}'.") from None


def _seeds(s: str) -> list[int]:
    """'3' -> seeds 0,1,2; '0,5,7' -> those seeds."""
    from .errors import ConfigError

    try:
        if "," in s:
            return [int(x) for x in _csv_list(s)]
        n = int(s)
    except ValueError:
        raise ConfigError(f"--seeds must be a count (3) or a list (0,1,2); got '{s}'.") from None
    if n < 1:
        raise ConfigError("--seeds must be at least 1.")
    return list(range(n))


def _positive_int(s: str, flag: str) -> int:
    from .errors import ConfigError

    if not str(s).isdigit() or not 1 <= int(s) <= 256:
        raise ConfigError(f"{flag} must be an integer between 1 and 256 (or auto), got '{s}'.")
    return int(s)


def _json_arg(s: str | None) -> dict:
    from .errors import ConfigError

    if not s:
        return {}
    try:
        v = json.loads(s)
    except json.JSONDecodeError as err:
        raise ConfigError(f"Expected a JSON object, e.g. '{{\"epochs\": 5}}'; got {s!r} ({err}).") from None
    if not isinstance(v, dict):
        raise ConfigError("Expected a JSON object.")
    return v


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
    p.add_argument("--epochs", type=int, default=None, help="override the training preset's epochs")
    p.add_argument("--blo", default=None, help='BLO parameters as JSON, e.g. \'{"lower": "ft", "upper_iters": 20}\'')
    p.add_argument("--quiet", action="store_true", help="no progress bars")


class _Bar:
    """tqdm progress bar on stderr fed by RunContext callbacks."""

    def __init__(self, quiet: bool, desc: str):
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=1000, desc=desc, file=sys.stderr, leave=False,
                            bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")

    def ctx(self):
        from .context import RunContext

        def on_progress(f: float, msg: str) -> None:
            if self.bar is not None:
                self.bar.n = int(1000 * f)
                self.bar.set_postfix_str(msg[:60], refresh=False)
                self.bar.refresh()

        return RunContext(on_progress=on_progress)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _setup(args):
    from .config import Setup

    return Setup(dataset=args.dataset, model=args.model, preset=args.preset,
                 train={"epochs": args.epochs} if args.epochs is not None else {}, blo=_json_arg(args.blo),
                 data_root=args.data_root, download=args.download, device=args.device)


def _store(args):
    from .store import Store

    store = Store(args.cache_dir)
    for notice in store.notices:
        print(f"note: {notice}", file=sys.stderr)
    return store


def _pipeline(args):
    from .pipeline import Pipeline

    return Pipeline(_store(args), _setup(args))


def cmd_train(args) -> int:
    pipe = _pipeline(args)
    bar = _Bar(args.quiet, "train")
    t0 = time.time()
    if args.checkpoint:
        pipe.import_checkpoint(args.checkpoint, args.seed, args.confirm_dataset)
    else:
        pipe.original(args.seed, bar.ctx())
    bar.close()
    run = pipe.find_original(args.seed)
    m = run["metrics"]
    print(f"{pipe.dataset_name} / {pipe.model_name} seed {args.seed}: train acc {m['train_acc']:.2f}%, "
          f"test acc {m['test_acc']:.2f}% ({time.time() - t0:.1f}s)")
    print(f"checkpoint: {pipe.store.root / run['artifacts']['main']['file']}")
    return 0


def cmd_score(args) -> int:
    import numpy as np
    import pandas as pd

    pipe = _pipeline(args)
    bar = _Bar(args.quiet, f"score {args.score}")
    res = pipe.score(args.score, args.seed, args.ratio, _json_arg(args.params), bar.ctx())
    bar.close()
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
    pipe = _pipeline(args)
    bar = _Bar(args.quiet, f"select {args.selector}")
    fs = pipe.forget_set(args.selector, args.ratio, args.seed, bar.ctx())
    bar.close()
    print(f"{args.selector} @ {args.ratio} seed {args.seed}: {fs.size} samples; per class: "
          f"{fs.info.get('class_histogram')}" + (f"; classes {fs.forget_classes}" if fs.forget_classes else ""))
    if args.out:
        _write_atomic(args.out, "".join(f"{int(i)}\n" for i in fs.forget_idx))
        print(f"wrote {args.out}")
    return 0


def cmd_unlearn(args) -> int:
    pipe = _pipeline(args)
    bar = _Bar(args.quiet, f"unlearn {args.method}")
    row = pipe.run(args.method, args.selector, args.ratio, args.seed, _json_arg(args.params), bar.ctx())
    bar.close()
    print(f"{args.method} on {args.selector} @ {args.ratio} seed {args.seed}: UA {row['UA']:.2f}  "
          f"RA {row['RA']:.2f}  TA {row['TA']:.2f}  MIA {row['MIA']:.2f}  ({row['runtime_s']:.2f}s)")
    return 0


def _write_atomic(path: str, text: str) -> None:
    from .store import atomic_write_bytes

    atomic_write_bytes(Path(path), text.encode())


def cmd_compare(args) -> int:
    import pandas as pd

    from .grid import ExperimentSpec, run_experiment
    from .results import RUN_COLUMNS, STD_LABEL, format_table3, table3

    params = _json_arg(args.params)
    spec = ExperimentSpec(setup=_setup(args), selectors=_csv_list(args.selectors), methods=_csv_list(args.methods),
                          ratios=_ratios(args.ratios), seeds=_seeds(args.seeds), method_params=params).validate()
    store = _store(args)
    from .cost import describe_actual, estimate_grid, fmt_seconds
    from .grid import make_executor

    est = estimate_grid(spec, store)
    options: dict = {"address": args.ray_address} if args.ray_address else {}
    if args.executor == "local":
        from .cost import auto_workers

        options["workers"] = auto_workers(est) if args.workers == "auto" else _positive_int(args.workers, "--workers")
    executor = make_executor(args.executor, **options)
    print(f"estimate: {est.summary()} · {executor.describe()}", file=sys.stderr, flush=True)
    bar = _Bar(args.quiet, "compare")
    t0 = time.time()
    try:
        df = run_experiment(spec, store, bar.ctx(), executor=executor, estimate=est)
    finally:
        bar.close()
    elapsed = time.time() - t0
    rest = [c for c in df.columns if c not in RUN_COLUMNS]
    out = df[RUN_COLUMNS + rest]
    t3 = table3(df, spec.selectors)
    print(f"{spec.setup.dataset} / {out['model'].iloc[0]} · seeds {','.join(map(str, spec.seeds))} · metrics in % "
          f"· mean ± {STD_LABEL}, (gap to Retrain = |mean − Retrain's mean|) · MIA = confidence-feature SVC efficacy")
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 40):
        print(format_table3(t3).to_string(index=False))
    print(f"{len(df)} runs in {elapsed:.1f}s · cache: {store.root}")
    unit_s = df.attrs.get("unit_seconds") or {}
    if est.seconds > 0:
        print(describe_actual(est, elapsed))
        actual: dict[str, float] = {}
        for uid, sec in unit_s.items():
            actual[uid.split("/")[0]] = actual.get(uid.split("/")[0], 0.0) + sec
        rows = [f"  {st:<11s} estimate {fmt_seconds(e):>8s} · actual {fmt_seconds(actual.get(st, 0.0)):>8s}"
                for st, e in est.by_stage().items()]
        print("stages (estimate vs actual):\n" + "\n".join(rows))
    stages = df.attrs.get("stage_seconds") or {}
    if stages:
        print("computed this time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    elif est.seconds == 0:
        print("everything was served from the cache")
    if args.out:
        _write_atomic(args.out, out.to_csv(index=False))
        print(f"wrote {args.out}")
    if args.table_out:
        from .results import table3_csv

        _write_atomic(args.table_out, table3_csv(t3))
        print(f"wrote {args.table_out}")
    return 0


def cmd_reproduce(args) -> int:
    from .reproduce import ReproduceConfig, reproduce, summary_frame

    cfg = ReproduceConfig(setup=_setup(args), seeds=_seeds(args.seeds), ratio=float(args.ratio),
                          findings=[int(x) for x in _csv_list(args.findings)] if args.findings else [1, 2, 3, 4, 5, 6]
                          ).validate()
    out_dir = Path(args.out) if args.out else None
    store = _store(args)
    if out_dir is None:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{args.dataset.replace(':', '_').replace('/', '_')[-40:]}"
        out_dir = store.root / "reports" / name
    _check_writable_dir(out_dir)
    from .cost import auto_workers, estimate_grid  # noqa: F401 - the grids inside use the local executor
    from .grid import make_executor

    executor = make_executor("local", workers=1 if args.workers == "auto" else _positive_int(args.workers, "--workers"))
    bar = _Bar(args.quiet, "reproduce")
    t0 = time.time()

    def on_finding(f) -> None:
        print(f"finding {f.number} ({f.title}): {f.verdict}  [{f.seconds:.0f}s]", file=sys.stderr, flush=True)

    ctx = bar.ctx()
    try:
        findings = reproduce(cfg, store, ctx, executor=executor, on_finding=on_finding)
    finally:
        bar.close()
    wall = time.time() - t0
    from dashboard.report import write_report

    title = f"Reproduction of the headline findings on {args.dataset}"
    path = write_report(findings, out_dir, title, {"wall_s": wall, "when": time.strftime("%Y-%m-%d %H:%M"),
                                                    "setup": cfg.setup.to_dict(), "seeds": cfg.seeds})
    print(summary_frame(findings).to_string(index=False))
    print(f"wall time {wall:.0f}s · report: {path}")
    return 0


def cmd_tune(args) -> int:
    """The tuning protocol (unlearn_core/tuning.py): grid on random sets → chosen values → applied elsewhere."""
    import pandas as pd

    from .cost import fmt_seconds
    from .grid import make_executor
    from .results import STD_LABEL, format_table3
    from .config import parse_ratio
    from .tuning import TuneSpec, estimate_tuning, tune

    grid = _json_arg(args.grid) or None
    ts = TuneSpec(setup=_setup(args), method=args.method, grid=grid, selector=args.selector,
                  ratio=parse_ratio(args.ratio), seeds=_seeds(args.seeds), apply_to=_csv_list(args.apply_to or ""),
                  base_params=_json_arg(args.params))
    store = _store(args)
    workers = 1 if args.workers == "auto" else _positive_int(args.workers, "--workers")
    executor = make_executor("local", workers=workers)
    est = estimate_tuning(ts, store)
    print(f"estimate: {est.summary()} · {executor.describe()}", file=sys.stderr, flush=True)
    bar = _Bar(args.quiet, f"tune {args.method}")
    t0 = time.time()
    try:
        res = tune(ts, store, bar.ctx(), executor=executor, on_log=lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        bar.close()
    rec = res.record
    cands = res.candidates()
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
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m unlearn_core", description=DESCRIPTION)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train (or import) the original model")
    _common(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default=None, help="import weights (.safetensors or .pt state dict) as θ_o")
    p.add_argument("--confirm-dataset", default=None, metavar="NAME",
                   help="a checkpoint without forgetset metadata is only used when this names the data set")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("score", help="compute a per-sample score (loss, entropy, blo, ...)")
    _common(p)
    p.add_argument("--score", default="blo")
    p.add_argument("--ratio", type=float, default=0.1, help="forget ratio (BLO only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--params", default=None, help="score parameters as JSON")
    p.add_argument("--out", default=None, help="write index,score CSV")
    p.set_defaults(fn=cmd_score)

    p = sub.add_parser("select", help="build a forget set")
    _common(p)
    p.add_argument("--selector", default="worst")
    p.add_argument("--ratio", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the forget indices, one per line")
    p.set_defaults(fn=cmd_select)

    p = sub.add_parser("unlearn", help="run one unlearning method on one forget set and evaluate it")
    _common(p)
    p.add_argument("--method", default="ft")
    p.add_argument("--selector", default="random")
    p.add_argument("--ratio", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--params", default=None, help='method hyperparameters as JSON, e.g. \'{"epochs": 5}\'')
    p.set_defaults(fn=cmd_unlearn)

    p = sub.add_parser("compare", help="grid of selectors × methods × ratios × seeds (default: the demo)")
    _common(p)
    p.add_argument("--selectors", default="random,worst")
    p.add_argument("--methods", default="retrain,ft,ga,rl,l1_sparse", help="comma list, or 'all'")
    p.add_argument("--ratios", default="0.1")
    p.add_argument("--seeds", default="3", help="count (3 = seeds 0,1,2) or list (0,4,7)")
    p.add_argument("--params", default=None, help='per-method hyperparameters as JSON: \'{"ga": {"lr": 0.01}}\'')
    p.add_argument("--out", default=None, help="write one CSV row per run")
    p.add_argument("--table-out", default=None, help="write the Table-3 statistics (mean, std, n, gaps) as CSV")
    p.add_argument("--executor", default="local", help="where the grid's units run: local (default) or ray")
    p.add_argument("--workers", default="auto",
                   help="local worker processes: a number, or auto (all cores when the grid is long enough to gain)")
    p.add_argument("--ray-address", default=None,
                   help="with --executor ray: auto (a running cluster), ray://host:port, or local (start one here)")
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser("reproduce", help="run the papers' six headline findings and write a report with verdicts")
    _common(p)
    p.add_argument("--seeds", default="3", help="count (3 = seeds 0,1,2) or list")
    p.add_argument("--ratio", default="0.1", help="forget ratio of the findings' sets")
    p.add_argument("--findings", default=None, help="comma list of findings to run (1-6; default all)")
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
    p.add_argument("--workers", default="1", help="local worker processes (default 1)")
    p.set_defaults(fn=cmd_tune)

    p = sub.add_parser("runs", help="list runs in the store")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--kind", default=None, help="original, score, unlearn")
    p.add_argument("--status", default=None, help="done, running, failed, cancelled, interrupted")
    p.add_argument("--mark-interrupted", action="store_true", help="mark runs left 'running' as interrupted")
    p.set_defaults(fn=cmd_runs)

    p = sub.add_parser("list", help="list data sets, models, selectors, scores and methods")
    p.set_defaults(fn=cmd_list)
    return ap


def main(argv: list[str] | None = None) -> int:
    from .errors import ForgetsetError

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from .threads import apply_thread_policy

    apply_thread_policy()  # one torch thread per worker: measured faster on shared cores (threads.py)
    try:
        return int(args.fn(args) or 0)
    except ForgetsetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished runs are kept in the cache, the interrupted one is not.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
