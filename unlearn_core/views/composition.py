"""Group composition of forget sets on a data set with a spurious attribute (seed 000 Fig. 4).

Data sets with a spurious attribute carry it in ``ds.attributes`` (``biased_digits``: ``red_ink``; ``celeba``:
``male``). Every training sample falls in one (label × attribute) group. This view counts the groups in the
training set and in each chosen forget set (worst-case, easiest, random or any selector), per seed, and
averages over seeds. A group is the *majority* group of its label when it is the most common attribute value
for that label in the training set (the bias-aligned, easy-to-learn groups: Blond + Female on CelebA, high
digit + red ink and low digit + green ink on ``biased_digits``). Headline finding 4 (science.md): the
worst-case set is dominated by the easy majority group(s).

Cached as one step (kind ``view_composition``) keyed by the data, model, recipe, BLO parameters, selectors,
ratio, seeds and the attribute; the forget sets themselves (and the BLO runs behind them) come from the
pipeline's cache, so an interrupted view resumes with the sets already found.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..context import NULL_CONTEXT, RunContext
from ..errors import ConfigError
from ..selectors import parse_selector
from ._common import attribute_value_name, cached_table, index_digest

CAPTION = (
    "Share of each (label × attribute) group in the training set and in each forget set, as a percentage of "
    "the set (bar labels: sample counts; error bars: std over seeds). ★ marks the majority group of each label "
    "(the attribute value most common for that label in the training set, i.e. the bias-aligned, easy-to-learn "
    "samples). A bar higher than the training set's bar means the selector over-picks that group. Seed 000 "
    "Fig. 4 finds the worst-case (hardest-to-forget) set dominated by the easy majority group (Blond + Female "
    "on CelebA): easy, redundant samples are the ones whose removal leaves no trace."
)

TRAIN_SET = "training set"
KIND = "view_composition"


def spurious_attribute(ds, attribute: str | None = None) -> str:
    """The attribute to group by: the given one, or the data set's only/first attribute."""
    if not ds.attributes:
        raise ConfigError(f"Data set '{ds.name}' has no spurious attribute; group composition needs one "
                          f"(e.g. biased_digits with 'red_ink', celeba with 'male').")
    if attribute is None:
        return next(iter(ds.attributes))
    if attribute not in ds.attributes:
        raise ConfigError(f"Data set '{ds.name}' has no attribute '{attribute}'. "
                          f"Known: {', '.join(ds.attributes)}.")
    return attribute


def groups_of(ds, attribute: str | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Group id of every training sample and the group table (group, label, label_name, attribute value, name,
    majority, train_count). Group id = label · n_values + attribute position."""
    attribute = spurious_attribute(ds, attribute)
    y = ds.y_train.cpu().numpy().astype(np.int64)
    a = np.asarray(ds.attributes[attribute]).astype(np.int64).reshape(-1)
    if a.shape != y.shape:
        raise ConfigError(f"Attribute '{attribute}' has {a.size} values for {y.size} training samples.")
    values = np.unique(a)
    pos = np.searchsorted(values, a)
    gid = y * len(values) + pos
    counts = np.bincount(gid, minlength=ds.num_classes * len(values))
    rows = []
    for label in range(ds.num_classes):
        c = counts[label * len(values):(label + 1) * len(values)]
        top = int(np.argmax(c)) if c.sum() else -1
        for j, v in enumerate(values):
            vname = attribute_value_name(attribute, int(v))
            rows.append({"group_id": label * len(values) + j, "label": label, "label_name": ds.classes[label],
                         "attribute": attribute, "attribute_value": int(v), "attribute_value_name": vname,
                         "group": f"{ds.classes[label]} + {vname}", "majority": bool(j == top and c[j] > 0),
                         "train_count": int(c[j])})
    return gid, pd.DataFrame(rows)


@dataclass
class CompositionResult:
    table: pd.DataFrame  # one row per (set, group): mean count/percent over seeds; the training set first
    per_seed: pd.DataFrame  # one row per (set, seed, group)
    groups: pd.DataFrame  # the group table (training counts, majority flags)
    attribute: str
    ratio: float | None
    cache_hit: bool

    def wide(self, value: str = "percent") -> pd.DataFrame:
        """Groups × sets table of ``value`` (percent or count)."""
        return self.table.pivot_table(index="group", columns="set", values=value, sort=False)[
            list(dict.fromkeys(self.table["set"]))]


def composition(pipe, selectors: Sequence[str] = ("worst", "easiest", "random"), ratio: float | None = 0.1,
                seeds: Sequence[int] = (0,), attribute: str | None = None,
                ctx: RunContext = NULL_CONTEXT) -> CompositionResult:
    """Group composition of the training set and of each selector's forget set (see module doc).

    Counts of a set sum to its size (the training set's to N); percentages sum to 100 per set.
    """
    ds = pipe.ds
    attribute = spurious_attribute(ds, attribute)
    selectors = list(dict.fromkeys(selectors))
    seeds = [int(s) for s in seeds]
    if not selectors:
        raise ConfigError("Choose at least one forget-set selector.")
    if not seeds:
        raise ConfigError("Choose at least one seed.")
    for s in selectors:
        parse_selector(s)
    gid, groups = groups_of(ds, attribute)
    needs_blo = any(parse_selector(s).needs_scores() for s in selectors)
    config = {"kind": KIND, **pipe.base_config, "attribute": attribute,
              "attribute_digest": index_digest(np.asarray(ds.attributes[attribute])),
              "selectors": selectors, "ratio": ratio, "seeds": seeds,
              "blo": pipe.blo_params if needs_blo else None}

    def compute() -> pd.DataFrame:
        rows = []
        jobs = [(seed, sel) for seed in seeds for sel in selectors]
        for i, (seed, sel) in enumerate(jobs):
            ctx.progress(i / len(jobs), f"forget set {sel} · seed {seed}")
            fs = pipe.forget_set(sel, ratio, seed, ctx.sub(i / len(jobs), (i + 1) / len(jobs)))
            counts = np.bincount(gid[fs.forget_idx], minlength=len(groups))
            for g, c in zip(groups["group_id"], counts[groups["group_id"]]):
                rows.append({"set": sel, "selector": sel, "seed": seed, "group_id": int(g), "count": int(c),
                             "set_size": fs.size})
        ctx.progress(1.0, "composition done")
        return pd.DataFrame(rows)

    per_seed, hit, _ = cached_table(pipe.store, KIND, config, compute)
    per_seed = per_seed.merge(groups.drop(columns="train_count"), on="group_id", how="left")
    per_seed["percent"] = 100.0 * per_seed["count"] / per_seed["set_size"]

    n = ds.n_train
    train = groups.assign(set=TRAIN_SET, selector=None, count=groups["train_count"].astype(float), count_std=0.0,
                          percent=100.0 * groups["train_count"] / n, percent_std=0.0, set_size=float(n), n_seeds=0)
    g = per_seed.groupby(["set", "group_id"], sort=False)
    agg = pd.DataFrame({"count": g["count"].mean(), "count_std": g["count"].std(ddof=0).fillna(0.0),
                        "percent": g["percent"].mean(), "percent_std": g["percent"].std(ddof=0).fillna(0.0),
                        "set_size": g["set_size"].mean(), "n_seeds": g.size()}).reset_index()
    agg["selector"] = agg["set"]
    agg = agg.merge(groups, on="group_id", how="left")
    cols = ["set", "selector", "group", "group_id", "label", "label_name", "attribute", "attribute_value",
            "attribute_value_name", "majority", "count", "count_std", "percent", "percent_std", "set_size",
            "n_seeds", "train_count"]
    table = pd.concat([train[cols], agg[cols]], ignore_index=True)
    train_pct = 100.0 * table["train_count"] / n
    table["enrichment"] = np.where(train_pct > 0, table["percent"] / train_pct.where(train_pct > 0, 1.0), np.nan)
    table = table.drop(columns="train_count")
    return CompositionResult(table, per_seed, groups, attribute, ratio, hit)


_SET_COLOURS = {TRAIN_SET: "#7f7f7f", "worst": "#d62728", "easiest": "#2ca02c", "random": "#1f77b4"}
_EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e"]


def composition_figure(result: CompositionResult, title: str | None = None):
    """Plotly grouped bars: x = (label × attribute) group (★ = majority), one bar per set, y = % of the set."""
    import plotly.graph_objects as go

    t = result.table
    fig = go.Figure()
    extra = iter(_EXTRA * 4)
    for name in dict.fromkeys(t["set"]):
        d = t[t["set"] == name]
        x = [f"{g} ★" if m else g for g, m in zip(d["group"], d["majority"])]
        size = d["set_size"].iloc[0]
        fig.add_trace(go.Bar(
            x=x, y=d["percent"], name=f"{name} (n={size:.0f})",
            marker_color=_SET_COLOURS.get(name) or next(extra),
            error_y=dict(type="data", array=d["percent_std"], visible=bool((d["percent_std"] > 0).any())),
            text=[f"{c:.0f}" if float(c).is_integer() else f"{c:.1f}" for c in d["count"]], textposition="outside",
            customdata=np.stack([d["count"], d["enrichment"]], axis=1),
            hovertemplate="%{x}<br>%{y:.1f}% of the set (%{customdata[0]:.1f} samples)<br>"
                          "×%{customdata[1]:.2f} vs training set<extra>%{fullData.name}</extra>"))
    ratio = f" at ratio {result.ratio:g}" if result.ratio is not None else ""
    fig.update_layout(barmode="group", title=title or f"Group composition (label × {result.attribute}){ratio}",
                      xaxis_title=f"label + {result.attribute} group (★ = majority group of its label)",
                      yaxis_title="% of the set", legend_title_text="set")
    return fig
