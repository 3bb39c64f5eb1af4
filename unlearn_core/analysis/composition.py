"""Group composition of forget sets on a data set with a spurious attribute (Fan et al., Challenging Forgets Fig. 4).

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
from ..store import Computed, run_digest
from ._inputs import attribute_value_name, index_digest


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
                ctx: RunContext = NULL_CONTEXT, compute_if_missing: bool = True) -> CompositionResult | None:
    """Group composition of the training set and of each selector's forget set (see module doc).

    Counts of a set sum to its size (the training set's to N); percentages sum to 100 per set. With
    ``compute_if_missing=False`` nothing is computed: None unless this composition is stored.
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
    # Keyed by the exact forget sets (content hashes): a new θ_o or BLO setting gives a new composition.
    if compute_if_missing:
        sets = {(seed, sel): pipe.forget_set_cached(sel, ratio, seed, ctx.sub(0, 0.9))
                for seed in seeds for sel in selectors}
        digests = {f"{sel}|{seed}": res.digest for (seed, sel), res in sets.items()}
    else:
        runs = {(seed, sel): pipe.find_forget_set(sel, ratio, seed) for seed in seeds for sel in selectors}
        if any(r is None for r in runs.values()):
            return None
        digests = {f"{sel}|{seed}": run_digest(r) for (seed, sel), r in runs.items()}
    config = {"kind": KIND, **pipe.base_config, "attribute": attribute,
              "attribute_digest": index_digest(np.asarray(ds.attributes[attribute])),
              "selectors": selectors, "ratio": ratio, "seeds": seeds, "sets": digests}

    def compute() -> Computed:
        rows = []
        for (seed, sel), res in sets.items():
            fs = res.value
            counts = np.bincount(gid[fs.forget_idx], minlength=len(groups))
            for g, c in zip(groups["group_id"], counts[groups["group_id"]]):
                rows.append({"set": sel, "selector": sel, "seed": seed, "group_id": int(g), "count": int(c),
                             "set_size": fs.size})
        ctx.progress(1.0, "composition done")
        return Computed(pd.DataFrame(rows), {"n_sets": len(sets)})

    if compute_if_missing:
        got = pipe.store.cached(KIND, config, compute, fmt="table", on_log=ctx.log)
        per_seed, hit = got.value, got.hit
    else:
        found = pipe.store.lookup(KIND, config, "table")
        if found is None:
            return None
        per_seed, hit = found[0], True
    per_seed = per_seed.merge(groups.drop(columns="train_count"), on="group_id", how="left")
    per_seed["percent"] = 100.0 * per_seed["count"] / per_seed["set_size"]

    n = ds.n_train
    train = groups.assign(set=TRAIN_SET, selector=None, count=groups["train_count"].astype(float), count_std=0.0,
                          percent=100.0 * groups["train_count"] / n, percent_std=0.0, set_size=float(n), n_seeds=0)
    g = per_seed.groupby(["set", "group_id"], sort=False)
    agg = pd.DataFrame({"count": g["count"].mean(), "count_std": g["count"].std(ddof=1),
                        "percent": g["percent"].mean(), "percent_std": g["percent"].std(ddof=1),
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


def stored_choices(pipe) -> list[dict]:
    """The (selectors, ratio, seeds, attribute) of every composition stored for this setup, newest first."""
    from ..config import setup_key

    out = []
    for r in sorted(pipe.store.list_runs(KIND, "done"), key=lambda r: r.get("finished") or 0, reverse=True):
        c = r["config"]
        if setup_key(c) == pipe.setup_key:
            out.append({"selectors": c["selectors"], "ratio": c["ratio"], "seeds": c["seeds"],
                        "attribute": c["attribute"]})
    return out
