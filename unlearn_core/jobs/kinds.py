"""The project's job kinds. Each is a thin wrapper: validate the config (at submit time), build the
:class:`~unlearn_core.pipeline.Pipeline` of the job's :class:`~unlearn_core.config.Setup`, call the core.

Results land in the store as runs; a job's ``result`` dict is only a receipt (keys, counts) for its log and
the Runs page. Pages read results from the store, so deleting a job never removes a result.

Each registers itself with ``@register_job_kind``; the registry finds this module by discovery.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError
from ..grid_executors import check_executor_options, executor_names
from ..spec import ExperimentSpec
from ..spec import parse as parse_spec
from ..validation import MAX_SEED, check_input_file  # noqa: F401 - MAX_SEED re-exported
from .job_config import (check_ratio, check_seed, check_seeds, check_setup, pipeline_for,  # noqa: F401 (re-exported)
                         setup_label, setup_of)
from .registry import JobEnv, register_job_kind


# ---------------------------------------------------------------------------------------------- core kinds
def _check_train(config: dict) -> None:
    check_setup(config)
    check_seed(config.get("seed", 0))
    ck = config.get("checkpoint")
    if ck is not None:
        if not isinstance(ck, str) or not os.path.isfile(ck):
            raise ConfigError("The checkpoint file does not exist (upload it again).")
        check_input_file(ck, "Checkpoint")
    cd = config.get("confirm_dataset")
    if cd is not None and not isinstance(cd, str):
        raise ConfigError("confirm_dataset must be the name of the data set the checkpoint was trained on.")


@register_job_kind("train_original", title="Train original model", check=_check_train,
                   describe=lambda c: ("Import checkpoint" if c.get("checkpoint") else "Train original model")
                   + f" · {setup_label(c)} · seed {c.get('seed', 0)}")
def _job_train_original(config: dict, env: JobEnv) -> dict:
    pipe = pipeline_for(config, env)
    seed = int(config.get("seed", 0))
    env.ctx.log(f"data set {pipe.dataset_name} ({pipe.ds.n_train} train samples), model {pipe.model_name}, "
                f"recipe {pipe.train_cfg.to_dict()}, device {pipe.device}")
    if config.get("checkpoint"):
        pipe.import_checkpoint(str(config["checkpoint"]), seed, config.get("confirm_dataset"))
    else:
        pipe.original(seed, env.ctx)
    run = pipe.find_original(seed) or {}
    m = run.get("metrics") or {}
    env.ctx.log(f"train acc {m.get('train_acc', float('nan')):.2f}%, test acc {m.get('test_acc', float('nan')):.2f}%")
    return {"original_key": run.get("key"), **{k: v for k, v in m.items() if k in ("train_acc", "test_acc")}}


def _check_score(config: dict) -> None:
    from ..scores import get_score

    setup = setup_of(config)
    check_seed(config.get("seed", 0))
    spec = get_score(str(config.get("score", "")))
    params = config.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError("Score parameters must be a JSON object.")
    p = spec.resolve_params({**(dict(setup.blo) if spec.name == "blo" else {}), **params})
    if spec.depends_on_ratio and p.get("granularity", "sample") != "class":
        check_ratio(config)


@register_job_kind("score", title="Compute score", check=_check_score,
                   describe=lambda c: f"Score {c['score']}" + (f" @ {100 * c['ratio']:g}%" if c.get("ratio")
                   is not None else "")
                   + f" · {setup_label(c)} · seed {c.get('seed', 0)}")
def _job_score(config: dict, env: JobEnv) -> dict:
    from ..scores import get_score

    pipe = pipeline_for(config, env)
    name, seed = config["score"], int(config.get("seed", 0))
    ratio = config.get("ratio") if get_score(name).depends_on_ratio else None
    res = pipe.score_cached(name, seed, ratio, config.get("params") or {}, env.ctx)
    v = np.asarray(res.value.values, dtype=float)
    env.ctx.log(f"{name}: n={len(v)} mean={v.mean():.4g} std={v.std():.4g} min={v.min():.4g} max={v.max():.4g}")
    for row in (res.value.extras.get("trace") or [])[-3:]:
        env.ctx.log("BLO " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    return {"score": name, "ratio": ratio, "key": res.key}


def _check_forget_set(config: dict) -> None:
    from ..selectors import parse_selector

    check_setup(config)
    check_seed(config.get("seed", 0))
    spec = parse_selector(str(config.get("selector", "")))
    if not spec.class_wise:
        check_ratio(config)


@register_job_kind("forget_set", title="Build forget set", check=_check_forget_set,
                   describe=lambda c: f"Forget set {c['selector']}"
                   + (f" @ {100 * c['ratio']:g}%" if c.get("ratio") is not None else "")
                   + f" · {setup_label(c)} · seed {c.get('seed', 0)}")
def _job_forget_set(config: dict, env: JobEnv) -> dict:
    pipe = pipeline_for(config, env)
    sel, ratio, seed = config["selector"], config.get("ratio"), int(config.get("seed", 0))
    res = pipe.forget_set_cached(sel, ratio, seed, env.ctx)
    fs = res.value
    env.ctx.log(f"{sel} @ {ratio}: {fs.size} samples; per class {fs.info.get('class_histogram')}")
    return {"key": res.key, "size": fs.size, "classes": fs.forget_classes}


def spec_of(config: dict) -> ExperimentSpec:
    """The job's grid, parsed (and so validated) once: :func:`unlearn_core.spec.parse`."""
    return parse_spec(config.get("spec"))


def executor_of(config: dict) -> dict:
    """The grid executor an ``experiment`` job asks for: ``"executor": "local" | "ray"``, ``"ray_address"``
    and ``"executor_options"`` (Ray only); validated at submit time (a clear error when Ray is not installed). Any
    other registered backend (:func:`unlearn_core.grid_executors.register_grid_executor`) takes its
    ``executor_options``, checked by its own option check."""
    name = config.get("executor") or "local"
    if name in ("local", "ray"):
        from ..cluster import experiment_executor

        return experiment_executor(config)
    if name not in executor_names():
        raise ConfigError(f"Unknown executor {name!r}: use one of {', '.join(executor_names())}.")
    opts = config.get("executor_options") or {}
    if not isinstance(opts, dict):
        raise ConfigError("executor_options must be a JSON object.")
    return {"name": name, **check_executor_options(name, **opts)}


def _check_experiment(config: dict) -> None:
    spec_of(config)
    executor_of(config)


def _describe_experiment(c: dict) -> str:
    from ..selectors import selector_label

    s = spec_of(c)
    ratios = ", ".join(f"{100 * r:g}%" for r in s.ratios)
    return (f"Experiment · {s.setup.dataset} · {' / '.join(selector_label(x) for x in s.selectors)} × "
            f"{len(s.methods)} methods × {ratios} × {len(s.seeds)} seed{'s' if len(s.seeds) > 1 else ''}")


@register_job_kind("experiment", title="Experiment grid", check=_check_experiment,
                   describe=_describe_experiment)
def _job_experiment(config: dict, env: JobEnv) -> dict:
    from ..grid import run_experiment

    spec = spec_of(config)
    ex = executor_of(config)
    if env.device.startswith("cuda") and ex["name"] == "local":
        spec = spec.replace(setup=spec.setup.replace(device=env.device))  # the GPU slot the manager assigned (Ray assigns its own)
    env.ctx.log(f"{spec.n_runs()} unlearning runs (Retrain included) on device {spec.setup.device}")
    keys: list[str] = []

    def on_row(row: dict) -> None:
        keys.append(row["key"])
        env.ctx.log(f"{row['method']} · {row['selector']} · {row['ratio']} · seed {row['seed']}: UA {row['UA']:.2f} "
                    f"RA {row['RA']:.2f} TA {row['TA']:.2f} MIA {row['MIA']:.2f} ({row['runtime_s']:.2f}s)")

    from ..grid import make_executor

    df = run_experiment(spec, env.store, env.ctx, on_row=on_row, executor=make_executor(**ex))
    return {"n_runs": int(len(df)), "run_keys": keys, "executor": df.attrs.get("executor", "local")}


# ---------------------------------------------------------------------------------------------- analysis kinds
def _check_coreset(config: dict) -> None:
    from ..analysis.coreset import strategy_selector

    check_setup(config)
    check_seeds(config)
    fr = config.get("fractions") or []
    if not isinstance(fr, (list, tuple)) or not fr:
        raise ConfigError("Choose at least one kept fraction.")
    if len(fr) > 100:
        raise ConfigError(f"{len(fr)} kept fractions is more than the limit of 100.")
    bad = [f for f in fr if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < float(f) < 1]
    if bad:
        raise ConfigError(f"Kept fractions must be strictly between 0 and 1 (e.g. 0.9 keeps 90%); got {bad}.")
    strategies = config.get("strategies")
    if strategies is not None:
        if not strategies:
            raise ConfigError("Choose at least one coreset strategy.")
        for s in strategies:
            strategy_selector(str(s))


@register_job_kind("view_coreset", title="Coreset curves", check=_check_coreset,
                   describe=lambda c: "Coreset curves · keep " + ", ".join(f"{100 * f:g}%" for f in c.get("fractions", []))
                   + f" · {setup_label(c)} · {len(c.get('seeds', [0]))} seed(s)")
def _job_coreset(config: dict, env: JobEnv) -> dict:
    from ..analysis.coreset import coreset_curves

    pipe = pipeline_for(config, env)
    res = coreset_curves(pipe, [float(f) for f in config["fractions"]], check_seeds(config), config.get("strategies"),
                         env.ctx)
    for r in res.summary.itertuples():
        env.ctx.log(f"{r.label} keep {r.kept_fraction:.0%}: {r.test_acc_mean:.2f} ± {r.test_acc_std:.2f}")
    env.ctx.log(f"full data: {res.full_acc_mean:.2f} ± {res.full_acc_std:.2f}; {res.n_trained} models trained")
    return {"n_points": int(len(res.points)), "n_trained": res.n_trained}


def _check_composition(config: dict) -> None:
    from ..selectors import parse_selector

    check_setup(config)
    check_seeds(config)
    check_ratio(config)
    sels = config.get("selectors") or []
    if not sels:
        raise ConfigError("Choose at least one forget-set selector.")
    for s in sels:
        parse_selector(str(s))


@register_job_kind("view_composition", title="Group composition", check=_check_composition,
                   describe=lambda c: f"Composition · {' / '.join(c.get('selectors', []))} · {setup_label(c)}")
def _job_composition(config: dict, env: JobEnv) -> dict:
    from ..analysis.composition import composition

    pipe = pipeline_for(config, env)
    res = composition(pipe, list(config["selectors"]), check_ratio(config), check_seeds(config),
                      config.get("attribute"), env.ctx)
    maj = res.table[res.table["majority"]].groupby("set", sort=False)["percent"].sum()
    for name, pct in maj.items():
        env.ctx.log(f"{name}: {pct:.1f}% in majority groups")
    return {"attribute": res.attribute, "cache_hit": res.cache_hit}


def model_from_config(config: dict):
    """The model an analysis job names: "original" or [method, selector, ratio, seed]."""
    m = config.get("model", "original")
    return "original" if m in (None, "original") else tuple(m)


def _check_embedding(config: dict) -> None:
    from ..analysis.embeddings import _resolve_params

    check_setup(config)
    _resolve_params(str(config.get("reducer", "umap")), config.get("params"))
    m = config.get("model", "original")
    if m not in (None, "original") and (not isinstance(m, (list, tuple)) or not 3 <= len(m) <= 4):
        raise ConfigError(f"Cannot read {m!r} as a model: use 'original' or [method, selector, ratio, seed].")
    mp = config.get("max_points", 10000)
    if mp is not None and (isinstance(mp, bool) or not isinstance(mp, int) or not 3 <= mp <= 1_000_000):
        raise ConfigError("max_points must be an integer between 3 and 1,000,000 (or null for all samples).")


def _describe_embedding(c: dict) -> str:
    m = c.get("model", "original")
    what = "original model" if m in (None, "original") else f"{m[0]} on {m[1]} {m[2]}"
    return f"Embedding {str(c.get('reducer', 'umap')).upper()} · {what} · {setup_label(c)} · seed {c.get('seed', 0)}"


@register_job_kind("view_embedding", title="Embedding (UMAP/PCA)", check=_check_embedding,
                   describe=_describe_embedding)
def _job_embedding(config: dict, env: JobEnv) -> dict:
    from ..analysis.embeddings import embedding

    pipe = pipeline_for(config, env)
    df = embedding(pipe, model_from_config(config), str(config.get("reducer", "umap")), "train",
                   int(config.get("seed", 0)), config.get("params") or None, config.get("max_points", 10000),
                   ctx=env.ctx)
    how = "from the cache" if df.attrs["cache_hit"] else f"reduced in {df.attrs.get('reduce_s') or 0:.1f}s"
    env.ctx.log(f"{df.attrs['reducer']} of {len(df)} points ({df.attrs['model']}): {how}")
    return {"key": df.attrs["key"], "n_points": len(df), "cache_hit": bool(df.attrs["cache_hit"])}


# ---------------------------------------------------------------------------------------------- beyond the papers
def tune_spec_of(config: dict):
    """The job's TuneSpec: {setup, method, grid, selector, ratio, seeds, apply_to, base_params}."""
    from ..tuning import TuneSpec

    return TuneSpec.from_dict({k: v for k, v in config.items() if k in TuneSpec.__dataclass_fields__})


def _check_tune(config: dict) -> None:
    tune_spec_of(config).validate()


def _describe_tune(c: dict) -> str:
    ts = tune_spec_of(c)
    where = f"{ts.selector} {100 * float(ts.ratio):g}%"
    apply = f" → {', '.join(ts.apply_to)}" if ts.apply_to else ""
    return f"Tune {ts.method} on {where}{apply} · {setup_label(c)} · {len(ts.seeds)} seed(s)"


@register_job_kind("tune", title="Tune a method (random sets → worst case)", check=_check_tune,
                   describe=_describe_tune)
def _job_tune(config: dict, env: JobEnv) -> dict:
    from ..tuning import estimate_tuning, tune

    ts = tune_spec_of(config)
    if env.device.startswith("cuda"):
        ts.setup = ts.setup.replace(device=env.device)
    env.ctx.log(f"estimate: {estimate_tuning(ts, env.store).summary()}")
    res = tune(ts, env.store, env.ctx, on_log=env.ctx.log)
    ch = res.record["chosen"]
    env.ctx.log(f"chosen {ch['overrides'] or '(the preset)'}: Avg. gap {ch['avg_gap']:.3f} "
                f"(preset {res.record['preset']['avg_gap']})")
    return {"tuning_key": res.key, "chosen": ch["params"], "avg_gap": ch["avg_gap"], "cache_hit": res.cache_hit}


def _check_entanglement(config: dict) -> None:
    check_setup(config)
    if config.get("seed") is not None:
        check_seed(config["seed"])


@register_job_kind("view_entanglement", title="Entanglement of forget sets", check=_check_entanglement,
                   describe=lambda c: f"Entanglement of every forget set · {setup_label(c)}"
                   + (f" · seed {c['seed']}" if c.get("seed") is not None else ""))
def _job_entanglement(config: dict, env: JobEnv) -> dict:
    from ..analysis.entanglement import entanglement_frame

    pipe = pipeline_for(config, env)
    df = entanglement_frame(pipe, config.get("seed"), compute_if_missing=True, ctx=env.ctx)
    for r in df.itertuples(index=False):
        env.ctx.log(f"{r.name}: ES {r.es:.4g}")
    return {"n_sets": int(len(df))}


def _check_why_hard(config: dict) -> None:
    from ..selectors import parse_selector

    check_setup(config)
    check_seed(config.get("seed", 0))
    parse_selector(str(config.get("selector", "")))
    check_ratio(config)


@register_job_kind("view_why_hard", title="Why is this set hard?", check=_check_why_hard,
                   describe=lambda c: f"Why hard · {c.get('selector')} @ {100 * float(c.get('ratio', 0.1)):g}% · "
                   f"{setup_label(c)} · seed {c.get('seed', 0)}")
def _job_why_hard(config: dict, env: JobEnv) -> dict:
    """Computes what the "Why is it hard?" panel reads: the set, memorization (LiRA bank), loss, LiRA ASR, the
    learning-event proxies, the BLO weight, and the entanglement of the set and of random reference sets."""
    from ..analysis.hardness import why_hard

    pipe = pipeline_for(config, env)
    sel, ratio, seed = config["selector"], config.get("ratio"), int(config.get("seed", 0))
    pipe.forget_set(sel, ratio, seed, env.ctx.sub(0, 0.2))
    w = why_hard(pipe, (sel, ratio, seed), compute_if_missing=True, ctx=env.ctx.sub(0.2, 1.0))
    for r in w.summary.itertuples(index=False):
        env.ctx.log(f"{r.quantity}: set mean {r.set_mean:.4g} vs training {r.train_mean:.4g} "
                    f"(mean percentile {r.set_mean_percentile:.0f}: leans {r.leans})")
    return {"name": w.name, "missing": w.missing}
