"""Coreset curves (seed 000 Fig. 3): is the complement of the worst-case forget set a good coreset?

For each kept fraction f, a fresh model is trained with the pipeline's recipe on the training set minus a
forget set of ratio 1 − f, and its test accuracy is recorded:

- ``worst``  — minus the worst-case (BLO top-m) set: the coreset is the complement of the worst-case set;
- ``random`` — minus a random set (seeded);
- ``el2n`` / ``grand`` — minus the samples with the *lowest* EL2N / GraNd score, i.e. keep the hardest
  samples, as Paul et al. (2021) prune; included only when those scores are registered;
- any other selector string (``"easiest"``, ``"top:loss"``, ...) as an extra strategy.

Each (strategy, fraction, seed) point is its own cached run (kind ``view_coreset_point``), keyed by the data,
model, recipe, seed and the exact kept index set, so an interrupted curve resumes where it stopped and a point
shared by two curves is trained once. The forget sets and the BLO weights behind them come from the pipeline's
own cache. Headline finding 3 (science.md) is what this view checks: Worst ≈ EL2N/GraNd > Random.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..context import NULL_CONTEXT, RunContext
from ..errors import ConfigError
from ..scores import score_names
from ..selectors import parse_selector
from ..config import config_key
from ..training import accuracy, train_model
from ._common import _err_text, _fail_status, index_digest

CAPTION = (
    "Test accuracy of a model trained from scratch (the original recipe) on a coreset that keeps the given "
    "fraction of the training set. Worst = the complement of the worst-case (hardest-to-forget) set; Random = a "
    "random subset; EL2N / GraNd = keep the samples with the highest EL2N / GraNd score (Paul et al.). Lines are "
    "means over seeds, bands ± one standard deviation; the dashed line is the model trained on all the data. "
    "A curve above Random means the removed samples were redundant: if Worst tracks EL2N/GraNd and beats "
    "Random, the worst-case forget set is the non-coreset (seed 000 Fig. 3)."
)

DEFAULT_FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

# strategy -> (forget-set selector, display name). Score-pruning strategies need their score registered.
STRATEGIES: dict[str, tuple[str, str]] = {
    "worst": ("worst", "Worst (complement)"),
    "random": ("random", "Random"),
    "el2n": ("bottom:el2n", "EL2N"),
    "grand": ("bottom:grand", "GraNd"),
}
SCORE_STRATEGIES = {"el2n": "el2n", "grand": "grand"}
POINT_KIND = "view_coreset_point"


def default_strategies() -> list[str]:
    """worst, random, and el2n / grand when those scores are registered."""
    names = set(score_names())
    return ["worst", "random"] + [s for s, score in SCORE_STRATEGIES.items() if score in names]


def strategy_selector(strategy: str) -> tuple[str, str]:
    """(selector, display name) of a strategy; any selector string is accepted as its own strategy."""
    if strategy in STRATEGIES:
        sel, label = STRATEGIES[strategy]
        if strategy in SCORE_STRATEGIES and SCORE_STRATEGIES[strategy] not in score_names():
            raise ConfigError(f"Coreset strategy '{strategy}' needs the score '{SCORE_STRATEGIES[strategy]}', "
                              f"which is not registered. Known scores: {', '.join(score_names())}.")
        return sel, label
    spec = parse_selector(strategy)  # raises a helpful ConfigError for unknown names
    if spec.class_wise:
        raise ConfigError(f"Coreset strategy '{strategy}' is class-wise; coreset curves need a sample-wise "
                          f"selector (random, worst, easiest, top:SCORE, bottom:SCORE, ...).")
    return strategy, f"minus {strategy}"


@dataclass
class CoresetResult:
    points: pd.DataFrame  # one row per (strategy, kept_fraction, seed)
    summary: pd.DataFrame  # mean/std over seeds per (strategy, kept_fraction)
    full: pd.DataFrame  # test accuracy of the model trained on all data, per seed
    full_acc_mean: float
    full_acc_std: float
    n_trained: int  # points trained by this call (0 = everything came from the cache)


def coreset_curves(pipe, fractions: Sequence[float] = DEFAULT_FRACTIONS, seeds: Sequence[int] = (0, 1),
                   strategies: Sequence[str] | None = None, ctx: RunContext = NULL_CONTEXT) -> CoresetResult:
    """Train on coresets of each kept fraction for each strategy and seed (cached per point); see module doc.

    ``strategies`` defaults to :func:`default_strategies`. Test accuracies are in percent.
    """
    fractions = [float(f) for f in fractions]
    if not fractions:
        raise ConfigError("Choose at least one kept fraction.")
    bad = [f for f in fractions if not 0 < f < 1]
    if bad:
        raise ConfigError(f"Kept fractions must be strictly between 0 and 1 (e.g. 0.9 keeps 90%); got {bad}.")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("Choose at least one seed.")
    strategies = list(strategies) if strategies is not None else default_strategies()
    if not strategies:
        raise ConfigError("Choose at least one coreset strategy.")
    resolved = [(s, *strategy_selector(s)) for s in strategies]

    jobs = [(seed, st, f) for seed in seeds for st in resolved for f in fractions]
    n_total = len(jobs) + len(seeds)
    rows, full_rows, n_trained = [], [], 0
    for j, seed in enumerate(seeds):
        ctx.progress(j / n_total, f"full-data model (seed {seed})")
        pipe.original(seed, ctx.sub(j / n_total, (j + 1) / n_total))
        run = pipe.store.done_run(pipe.original_key(seed))
        acc = (run or {}).get("metrics", {}).get("test_acc")
        if acc is None:
            acc = 100 * accuracy(pipe.original(seed), pipe.ds, "test")
        full_rows.append({"seed": seed, "test_acc": float(acc)})
    for i, (seed, (strategy, selector, label), frac) in enumerate(jobs):
        lo, hi = (len(seeds) + i) / n_total, (len(seeds) + i + 1) / n_total
        ctx.progress(lo, f"coreset {label} · keep {frac:.0%} · seed {seed}")
        row, trained = _point(pipe, strategy, selector, label, frac, seed, ctx.sub(lo, hi))
        n_trained += trained
        rows.append(row)
    ctx.progress(1.0, "coreset curves done")
    points = pd.DataFrame(rows)
    full = pd.DataFrame(full_rows)
    return CoresetResult(points, summarize(points), full, float(full["test_acc"].mean()),
                         float(full["test_acc"].std(ddof=0)), n_trained)


def _point(pipe, strategy: str, selector: str, label: str, frac: float, seed: int,
           ctx: RunContext) -> tuple[dict, int]:
    ratio = round(1.0 - frac, 10)
    fs = pipe.forget_set(selector, ratio, seed, ctx.sub(0, 0.5))
    keep = np.setdiff1d(np.arange(pipe.ds.n_train), fs.forget_idx)
    config = {"kind": POINT_KIND, **pipe.base_config, "seed": int(seed), "selector": selector, "ratio": ratio,
              "kept": index_digest(keep), "n_kept": int(len(keep))}
    key = config_key(config)
    base = {"strategy": strategy, "label": label, "selector": selector, "kept_fraction": frac,
            "n_kept": int(len(keep)), "seed": int(seed)}
    done = pipe.store.done_run(key)
    if done is not None:
        return {**base, "test_acc": float(done["metrics"]["test_acc"]), "key": key}, 0
    pipe.store.start_run(key, POINT_KIND, config)
    t0 = time.time()
    try:
        model = train_model(pipe.model_name, pipe.ds, keep, pipe.train_cfg, seed, ctx.sub(0.5, 1.0),
                            what=f"coreset {label} {frac:.0%} (seed {seed})")
        acc = 100 * accuracy(model, pipe.ds, "test")
    except BaseException as err:
        pipe.store.fail_run(key, _err_text(err), _fail_status(err))
        raise
    pipe.store.finish_run(key, POINT_KIND, config, {"test_acc": acc}, {"train_s": time.time() - t0})
    return {**base, "test_acc": float(acc), "key": key}, 1


def summarize(points: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof=0) of test accuracy over seeds per (strategy, kept_fraction)."""
    if points.empty:
        return pd.DataFrame(columns=["strategy", "label", "kept_fraction", "test_acc_mean", "test_acc_std",
                                     "n_seeds"])
    g = points.groupby(["strategy", "label", "kept_fraction"], sort=False)["test_acc"]
    out = pd.DataFrame({"test_acc_mean": g.mean(), "test_acc_std": g.std(ddof=0).fillna(0.0),
                        "n_seeds": g.size()}).reset_index()
    return out  # strategies in the order given, fractions in the order given


_COLOURS = {"worst": "#d62728", "random": "#7f7f7f", "el2n": "#1f77b4", "grand": "#2ca02c"}
_EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e"]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def coreset_figure(result: CoresetResult, title: str | None = "Coreset test accuracy"):
    """Plotly figure: mean test accuracy vs kept fraction per strategy, ± std bands, full-data dashed line."""
    import plotly.graph_objects as go

    fig = go.Figure()
    s = result.summary
    extra = iter(_EXTRA * 4)
    for strategy in dict.fromkeys(s["strategy"]):
        d = s[s["strategy"] == strategy].sort_values("kept_fraction")
        colour = _COLOURS.get(strategy) or next(extra)
        x = (100 * d["kept_fraction"]).tolist()
        hi = (d["test_acc_mean"] + d["test_acc_std"]).tolist()
        lo = (d["test_acc_mean"] - d["test_acc_std"]).tolist()
        fig.add_trace(go.Scatter(x=x + x[::-1], y=hi + lo[::-1], fill="toself", fillcolor=_rgba(colour, 0.18),
                                 line=dict(width=0), hoverinfo="skip", showlegend=False,
                                 legendgroup=strategy, name=f"{strategy} ± std"))
        fig.add_trace(go.Scatter(
            x=x, y=d["test_acc_mean"], mode="lines+markers", name=d["label"].iloc[0], legendgroup=strategy,
            line=dict(color=colour), customdata=np.stack([d["test_acc_std"], d["n_seeds"]], axis=1),
            hovertemplate="keep %{x:.0f}%<br>test acc %{y:.2f} ± %{customdata[0]:.2f} "
                          "(%{customdata[1]} seeds)<extra>%{fullData.name}</extra>"))
    if np.isfinite(result.full_acc_mean):
        fig.add_hline(y=result.full_acc_mean, line_dash="dash", line_color="black",
                      annotation_text=f"full data {result.full_acc_mean:.2f}", annotation_position="bottom right")
    fig.update_layout(title=title, xaxis_title="kept fraction of the training set (%)",
                      yaxis_title="test accuracy (%)", hovermode="closest", legend_title_text="coreset")
    return fig
