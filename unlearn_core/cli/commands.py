"""The single-step commands (train, score, select, unlearn, runs, list) and what every command shares: the setup,
the store and the pipeline built from the arguments, output checks and atomic writes. The grid commands (compare,
reproduce, tune) are in grids.py."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .inputs import _json_arg
from .progress import _Bar


def _with_budget(method_params: dict, methods: list[str], budget: str) -> dict:
    """Per-method overrides with ``budget`` (unlearn_core/budget.py) for every method that has epochs, unless the
    user set that method's budget or epochs already. The default budget (paper) adds nothing."""
    from ..budget import DEFAULT_BUDGET
    from ..methods import get_method

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


def _setup(args):
    """The command's Setup, validated without loading anything (names, recipe overrides, BLO parameters)."""
    from ..config import Setup

    return Setup(dataset=args.dataset, model=args.model, preset=args.preset,
                 train={"epochs": args.epochs} if args.epochs is not None else {},
                 blo=_json_arg(args.blo, "--blo"), data_root=args.data_root, download=args.download,
                 device=args.device).validate()


def _store(args):
    from ..errors import ConfigError
    from ..store import Store

    if args.cache_dir is not None and not str(args.cache_dir).strip():
        raise ConfigError("--cache-dir is empty; give a folder, e.g. --cache-dir ./cache.")
    store = Store(args.cache_dir)
    for notice in store.notices:
        print(f"note: {notice}", file=sys.stderr)
    return store


def _pipeline(args, setup=None):
    """Store first (an unusable cache is reported before the data is loaded), then the setup resolved: data
    checked, model fitted to the image size, device available."""
    from ..pipeline import Pipeline

    setup = setup or _setup(args)
    pipe = Pipeline(_store(args), setup)
    _warn_model(pipe)
    return pipe


def _warn_model(pipe) -> None:
    """Say so (stderr) when the model is far too large for the data, e.g. resnet18 on 8×8 digits."""
    from ..data import default_model_for
    from ..models import model_mismatch_warning

    msg = model_mismatch_warning(pipe.model_name, tuple(pipe.ds.input_shape), pipe.ds.n_train,
                                 default_model_for(pipe.ds))
    if msg:
        print(f"warning: {msg}", file=sys.stderr, flush=True)


def _outputs(*pairs: tuple[str | None, str]) -> None:
    """Output files must be writable before any compute starts (a typo must not cost a whole grid)."""
    from ..validation import check_output_file

    for path, what in pairs:
        check_output_file(path, what)


def _write_atomic(path: str, text: str) -> None:
    from ..io import atomic_write_bytes

    atomic_write_bytes(Path(path), text.encode())


def _check_writable_dir(path: Path) -> None:
    """The output folder exists (or can be made) and is writable — checked before any computation."""
    from ..errors import ConfigError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"Cannot create the output folder '{path}': {err.strerror or err}.") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"The output folder '{path}' is not writable.")


def cmd_train(args) -> int:
    from ..errors import ConfigError
    from ..validation import check_input_file

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
    """--selector parsed (a bad one is refused before anything loads); --ratio defaults to 0.1; given to a
    class-wise selector (which takes whole classes) it is refused."""
    from ..errors import ConfigError
    from ..selectors import parse_selector

    spec = parse_selector(args.selector)
    if spec.class_wise and args.ratio is not None:
        raise ConfigError(f"Selector '{args.selector}' forgets whole classes and takes no --ratio; leave it out.")
    if not spec.class_wise and args.ratio is None:
        args.ratio = 0.1


def cmd_score(args) -> int:
    import numpy as np
    import pandas as pd

    from ..errors import ConfigError
    from ..scores import get_score

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
    _outputs((args.out, "--out"))
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
    from ..methods import validate_method_params

    from ..metrics import parse_mia_variants, variant_metric

    params = _with_budget({args.method: _json_arg(args.params)}, [args.method], args.budget)[args.method]
    validate_method_params(args.method, params)
    extra = [variant_metric(v) for v in parse_mia_variants(args.mia_variants)]
    _selector_ratio(args)
    pipe = _pipeline(args)
    with _Bar(args.quiet, f"unlearn {args.method}") as bar:
        row = pipe.run(args.method, args.selector, args.ratio, args.seed, params, bar.ctx(), extra_metrics=extra)
    print(f"{args.method} on {args.selector} @ {args.ratio} seed {args.seed}: UA {row['UA']:.2f}  "
          f"RA {row['RA']:.2f}  TA {row['TA']:.2f}  MIA {row['MIA']:.2f}  ({row['runtime_s']:.2f}s)")
    if extra:
        print("MIA feature variants: " + "  ".join(f"{n} {row[n]:.2f}" for n in extra))
    return 0


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
    from ..data import DATASETS
    from ..methods import get_method, method_names
    from ..models import MODELS
    from ..scores import get_score, score_names
    from ..selectors import SELECTOR_HELP

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
    from ..methods.base import WRAPPERS

    print("method wrappers (PREFIX:METHOD around any method above, e.g. rsu:ga):")
    for prefix, factory in WRAPPERS.items():
        doc = (getattr(factory, "__doc__", None) or "").strip().splitlines()
        print(f"  {prefix + ':METHOD':18s} {doc[0] if doc else ''}")
    return 0
