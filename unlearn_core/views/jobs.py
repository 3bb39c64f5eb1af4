"""Job kinds of the analysis views (issue 6): the expensive views run as background jobs of the dashboard.

- ``view_coreset``      coreset curves (trains one model per strategy × kept fraction × seed; cached per point)
- ``view_composition``  group composition of forget sets (builds the forget sets, BLO included; cached)
- ``view_embedding``    a 2-D projection (UMAP, or PCA) of a model's penultimate features (cached coordinates)

Each job's result dict carries what the page draws (JSON-serialisable records), so a page never recomputes:
the coreset and composition pages rebuild their figures from ``result``; the embeddings page reads the cached
coordinates through :func:`~unlearn_core.views.embeddings.embedding` (a cache hit: the model is not loaded).
Imported by :mod:`unlearn_core.jobs` so the kinds exist wherever the registry does.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..jobs import JobEnv, _check_setup, _setup_label, pipeline_from_setup, register_job_kind


def _seeds(config: dict, default=(0,)) -> list[int]:
    seeds = config.get("seeds", list(default))
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise ConfigError("Choose at least one seed.")
    if any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ConfigError(f"Seeds must be non-negative integers, got {seeds!r}.")
    return [int(s) for s in seeds]


def _ratio(config: dict):
    r = config.get("ratio", 0.1)
    if r is None:
        return None
    if not isinstance(r, (int, float)) or not 0 < float(r) < 1:
        raise ConfigError(f"The forget ratio must be strictly between 0 and 1, got {r!r}.")
    return float(r)


# ---------------------------------------------------------------------------------------------- coreset
def _check_coreset(config: dict) -> None:
    from .coreset import strategy_selector

    _check_setup(config)
    _seeds(config)
    fr = config.get("fractions") or []
    if not fr:
        raise ConfigError("Choose at least one kept fraction.")
    bad = [f for f in fr if not isinstance(f, (int, float)) or not 0 < float(f) < 1]
    if bad:
        raise ConfigError(f"Kept fractions must be strictly between 0 and 1 (e.g. 0.9 keeps 90%); got {bad}.")
    strategies = config.get("strategies")
    if strategies is not None:
        if not strategies:
            raise ConfigError("Choose at least one coreset strategy.")
        for s in strategies:
            strategy_selector(str(s))


@register_job_kind("view_coreset", title="Coreset curves", check=_check_coreset,
                   describe=lambda c: f"Coreset curves · {'/'.join(c.get('strategies') or ['default'])} · keep "
                   + ",".join(f"{f:g}" for f in c.get("fractions", [])) + f" · {_setup_label(c.get('setup'))} · seeds "
                   + ",".join(map(str, c.get("seeds", [0]))))
def _job_coreset(config: dict, env: JobEnv) -> dict:
    from .coreset import coreset_curves

    pipe = pipeline_from_setup(env.store, config.get("setup"), env.device)
    res = coreset_curves(pipe, [float(f) for f in config["fractions"]], _seeds(config), config.get("strategies"),
                         env.ctx)
    for r in res.summary.itertuples():
        env.ctx.log(f"{r.label} keep {r.kept_fraction:.0%}: {r.test_acc_mean:.2f} ± {r.test_acc_std:.2f}")
    env.ctx.log(f"full data: {res.full_acc_mean:.2f} ± {res.full_acc_std:.2f}; {res.n_trained} models trained")
    return {"points": res.points.to_dict("records"), "full": res.full.to_dict("records"),
            "n_trained": res.n_trained, "dataset": pipe.dataset_name}


# ---------------------------------------------------------------------------------------------- composition
def _check_composition(config: dict) -> None:
    from ..selectors import parse_selector

    _check_setup(config)
    _seeds(config)
    _ratio(config)
    sels = config.get("selectors") or []
    if not sels:
        raise ConfigError("Choose at least one forget-set selector.")
    for s in sels:
        parse_selector(str(s))


@register_job_kind("view_composition", title="Group composition", check=_check_composition,
                   describe=lambda c: f"Composition · {'/'.join(c.get('selectors', []))} @ {c.get('ratio')} · "
                   f"{_setup_label(c.get('setup'))} · seeds {','.join(map(str, c.get('seeds', [0])))}")
def _job_composition(config: dict, env: JobEnv) -> dict:
    from .composition import composition

    pipe = pipeline_from_setup(env.store, config.get("setup"), env.device)
    res = composition(pipe, list(config["selectors"]), _ratio(config), _seeds(config), config.get("attribute"),
                      env.ctx)
    maj = res.table[res.table["majority"]].groupby("set", sort=False)["percent"].sum()
    for name, pct in maj.items():
        env.ctx.log(f"{name}: {pct:.1f}% in majority groups")
    table = res.table.astype(object).where(res.table.notna(), None)
    return {"table": table.to_dict("records"), "attribute": res.attribute, "ratio": res.ratio,
            "cache_hit": res.cache_hit, "dataset": pipe.dataset_name}


# ---------------------------------------------------------------------------------------------- embedding
def model_from_config(config: dict):
    """The model a view job names: "original" or [method, selector, ratio, seed]."""
    m = config.get("model", "original")
    return "original" if m in (None, "original") else tuple(m)


def _check_embedding(config: dict) -> None:
    from .embeddings import _resolve_params

    _check_setup(config)
    _resolve_params(str(config.get("reducer", "umap")), config.get("params"))
    m = config.get("model", "original")
    if m not in (None, "original") and (not isinstance(m, (list, tuple)) or not 3 <= len(m) <= 4):
        raise ConfigError(f"Cannot read {m!r} as a model: use 'original' or [method, selector, ratio, seed].")
    mp = config.get("max_points", 10000)
    if mp is not None and (not isinstance(mp, int) or mp < 3):
        raise ConfigError("max_points must be an integer >= 3 (or null for all samples).")


def _describe_embedding(c: dict) -> str:
    m = c.get("model", "original")
    what = "original" if m in (None, "original") else f"{m[0]} on {m[1]} {m[2]}"
    return f"Embedding {str(c.get('reducer', 'umap')).upper()} · {what} · {_setup_label(c.get('setup'))} · " \
           f"seed {c.get('seed', 0)}"


@register_job_kind("view_embedding", title="Embedding (UMAP/PCA)", check=_check_embedding,
                   describe=_describe_embedding)
def _job_embedding(config: dict, env: JobEnv) -> dict:
    from .embeddings import embedding

    pipe = pipeline_from_setup(env.store, config.get("setup"), env.device)
    df = embedding(pipe, model_from_config(config), str(config.get("reducer", "umap")), "train",
                   int(config.get("seed", 0)), config.get("params") or None, config.get("max_points", 10000),
                   ctx=env.ctx)
    how = "from the cache" if df.attrs["cache_hit"] else f"reduced in {df.attrs.get('reduce_s') or 0:.1f}s"
    env.ctx.log(f"{df.attrs['reducer']} of {len(df)} points ({df.attrs['model']}): {how}")
    return {"key": df.attrs["key"], "n_points": len(df), "cache_hit": bool(df.attrs["cache_hit"]),
            "reduce_s": df.attrs.get("reduce_s"), "model": df.attrs["model"]}
