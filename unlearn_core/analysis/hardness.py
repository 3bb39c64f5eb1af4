"""Why is a forget set hard? Memorization, entanglement and loss of a set against the training set's, and how the
difficulty scores relate (data for the "Why is it hard?" panel of the Forget sets page and the score-correlation
matrix; figures live in the dashboard).

- :func:`why_hard` — one forget set: its per-sample distributions of memorization (Feldman & Zhang, from the LiRA
  bank), θ_o's loss, LiRA ASR, the learning-event confidence and the BLO weight against the whole training set's;
  its entanglement (Zhao et al. 2024) against random sets of the same size; its composition by class.
- :func:`hardness_correlation` — Spearman rank correlations between memorization, the learning-event proxies, loss,
  LiRA ASR and the BLO weight, per seed and as mean ± sample std over seeds.

Which end is "hard" comes from the score registry (``hard_end``): memorization high (Zhao et al.), loss and LiRA ASR
low (Chen et al.), BLO weight high (Fan et al.). These disagree by design — the panel shows a set's position on each
so a user can see *which* notion of difficulty the set embodies.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..context import NULL_CONTEXT, RunContext
from ..errors import ConfigError
from .correlation import score_correlation

WHY_QUANTITIES = ("memorization", "loss", "lira_asr", "le_confidence", "blo")
# Shown when already stored, never computed for the panel nor listed as missing (expensive: model banks).
WHY_OPTIONAL = ("eps_hardness",)
CORRELATION_QUANTITIES = ("memorization", "le_confidence", "le_max_confidence", "le_entropy", "le_accuracy", "loss",
                          "lira_asr", "blo")


def _column_for(columns: Sequence[str], name: str, ratio: float | None) -> str | None:
    """The sample-frame column of score ``name`` (BLO: at ``ratio``); default parameters preferred."""
    want = f"blo@{ratio:g}" if name == "blo" and ratio is not None else name
    if want in columns:
        return want
    prefix = want + " "
    return next((c for c in columns if c.startswith(prefix)), None)


def _ensure_scores(pipe, seed: int, names: Sequence[str], ratio: float | None, ctx: RunContext) -> None:
    from ..scores import get_score

    for k, name in enumerate(names):
        if name == "blo" and ratio is None:
            continue
        r = ratio if get_score(name).depends_on_ratio else None
        pipe.score(name, seed, r, None, ctx.sub(k / len(names), (k + 1) / len(names)))


def score_values(pipe, seed: int, names: Sequence[str] = CORRELATION_QUANTITIES, ratio: float | None = 0.1,
                 compute_if_missing: bool = False, ctx: RunContext = NULL_CONTEXT,
                 every_variant: bool = False) -> pd.DataFrame:
    """One row per training sample: index, label, class, and one column per requested score that is available
    (named by the score; BLO as ``blo``), read from the store (computed first with ``compute_if_missing``).
    ``every_variant``: every stored column of the score instead (named as stored, e.g. "eps_hardness method=ga")."""
    from ..results import sample_frame

    if compute_if_missing:
        _ensure_scores(pipe, seed, names, ratio, ctx)
    df = sample_frame(pipe, seed)
    out = df[["index", "label", "class"]].copy()
    for name in names:
        if every_variant:
            for c in [c for c in df.columns if c == name or str(c).startswith(name + " ")]:
                out[c] = df[c].to_numpy(dtype=float)
            continue
        col = _column_for(list(df.columns), name, ratio)
        if col is not None:
            out[name] = df[col].to_numpy(dtype=float)
    if "memorization" in out:  # its standard error, from the same stored score
        run = pipe.find_score("memorization", seed)
        if run is not None:
            from ..store import CorruptArtifact

            try:
                arrays, _ = pipe.store.decode("arrays", run)
                out["memorization_se"] = arrays["se"].astype(float)
            except (CorruptArtifact, KeyError):
                pass
    return out


# ---------------------------------------------------------------------------------------------- correlations
@dataclass
class CorrelationResult:
    """Spearman matrices per seed and their mean / sample std (ddof = 1) / count over seeds."""

    per_seed: dict[int, pd.DataFrame]
    mean: pd.DataFrame
    std: pd.DataFrame
    n: pd.DataFrame
    quantities: list[str]
    missing: dict[int, list[str]] = field(default_factory=dict)

    def long(self) -> pd.DataFrame:
        """Columns a, b, rho_mean, rho_std, n (upper triangle, a before b in ``quantities`` order)."""
        rows = []
        q = list(self.mean.index)
        for i, a in enumerate(q):
            for b in q[i + 1:]:
                rows.append({"a": a, "b": b, "rho_mean": self.mean.loc[a, b], "rho_std": self.std.loc[a, b],
                             "n": int(self.n.loc[a, b])})
        return pd.DataFrame(rows, columns=["a", "b", "rho_mean", "rho_std", "n"])

    def formatted(self, digits: int = 2) -> pd.DataFrame:
        """'0.41 ± 0.03' strings (the std is '—' with one seed)."""
        def fmt(m, s, n):
            if m != m:
                return "—"
            return f"{m:.{digits}f} ± " + (f"{s:.{digits}f}" if n > 1 and s == s else "—")

        q = list(self.mean.index)
        return pd.DataFrame([[fmt(self.mean.loc[a, b], self.std.loc[a, b], self.n.loc[a, b]) for b in q] for a in q],
                            index=q, columns=q)


def hardness_correlation(pipe, seeds: Sequence[int], quantities: Sequence[str] = CORRELATION_QUANTITIES,
                         ratio: float | None = 0.1, compute_if_missing: bool = False,
                         ctx: RunContext = NULL_CONTEXT) -> CorrelationResult:
    """Spearman correlation matrix of ``quantities`` (per training sample, θ_o of each seed), mean ± sample std over
    ``seeds``. ``blo`` is the BLO weight at ``ratio`` with the setup's BLO parameters (``pipe.blo_params``).

    Read-only by default: a quantity not stored for a seed is left out of that seed's matrix (listed in
    ``missing``); ``compute_if_missing=True`` computes it (LiRA / memorization train the shadow bank).
    """
    if not seeds:
        raise ConfigError("Choose at least one seed.")
    per_seed: dict[int, pd.DataFrame] = {}
    missing: dict[int, list[str]] = {}
    for k, s in enumerate(seeds):
        vals = score_values(pipe, int(s), quantities, ratio, compute_if_missing,
                            ctx.sub(k / len(seeds), (k + 1) / len(seeds)))
        have = [q for q in quantities if q in vals]
        missing[int(s)] = [q for q in quantities if q not in vals]
        if len(have) >= 2:
            per_seed[int(s)] = score_correlation({q: vals[q].to_numpy() for q in have})
    q = list(quantities)
    stack = np.full((len(per_seed), len(q), len(q)), np.nan)
    for i, m in enumerate(per_seed.values()):
        stack[i] = m.reindex(index=q, columns=q).to_numpy()
    import warnings

    n = np.isfinite(stack).sum(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells (a quantity missing everywhere)
        mean = np.nanmean(stack, axis=0) if len(stack) else np.full((len(q), len(q)), np.nan)
        std = np.nanstd(stack, axis=0, ddof=1) if len(stack) > 1 else np.full((len(q), len(q)), np.nan)
    std = np.where(n > 1, std, np.nan)
    return CorrelationResult(per_seed, pd.DataFrame(mean, index=q, columns=q), pd.DataFrame(std, index=q, columns=q),
                             pd.DataFrame(n, index=q, columns=q), q, missing)


# ---------------------------------------------------------------------------------------------- one set
def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Percentile rank of every value in (0, 100), ties sharing their average rank (memorization is mostly ties
    at 0: an index-order tie-break would place a set anywhere inside the tied block)."""
    from scipy.stats import rankdata

    v = np.asarray(values, dtype=np.float64)
    return 100.0 * (rankdata(v, method="average") - 0.5) / len(v)


@dataclass
class WhyHard:
    """The frames of the "Why is it hard?" panel (columns documented in docs/beyond.md)."""

    name: str
    seed: int
    size: int
    summary: pd.DataFrame  # one row per quantity: set vs training set, percentile, which way is hard
    distributions: pd.DataFrame  # long: quantity, group ("forget set" | "training set"), value
    entanglement: pd.DataFrame  # group ("this set" | "random, same size"), draw, es
    composition: pd.DataFrame  # class, label, set_count, set_share, train_count, train_share, over_representation
    missing: list[str]  # quantities not stored yet (offer a job)
    info: dict[str, Any] = field(default_factory=dict)


def why_hard(pipe, forget: Any, quantities: Sequence[str] = WHY_QUANTITIES, n_reference: int = 5,
             compute_if_missing: bool = False, ctx: RunContext = NULL_CONTEXT) -> WhyHard | None:
    """Why is this forget set hard? ``forget``: a stored forget-set key, a (selector, ratio, seed) tuple or a
    ForgetSet. Returns None if the set is not stored (read-only mode). Reads everything from the store; with
    ``compute_if_missing`` computes the missing scores and entanglement first (a job, not a page)."""
    from ..scores import get_score
    from ..selectors import ForgetSet
    from .entanglement import _resolve_set, entanglement, random_reference

    try:
        idx, seed, name = _resolve_set(pipe, forget, None)
    except LookupError:
        return None
    ratio = forget.ratio if isinstance(forget, ForgetSet) else (forget[1] if isinstance(forget, tuple) else None)
    if isinstance(forget, str):
        run = pipe.store.done_run(forget)
        ratio = run["config"].get("ratio") if run else None
    ds = pipe.ds
    n = ds.n_train
    vals = score_values(pipe, seed, quantities, ratio, compute_if_missing, ctx.sub(0, 0.8))
    optional = [q for q in WHY_OPTIONAL if q not in quantities]
    if optional:  # every stored column of each (e.g. ε under FT and under GA: "eps_hardness method=ga")
        got = score_values(pipe, seed, optional, ratio, every_variant=True)
        optional = [c for c in got.columns if c.split(" ")[0] in optional]
        vals = vals.assign(**{c: got[c].to_numpy(dtype=float) for c in optional})
    in_set = np.zeros(n, dtype=bool)
    in_set[idx] = True
    present = [q for q in [*quantities, *optional] if q in vals]
    missing = [q for q in quantities if q not in vals and not (q == "blo" and ratio is None)]
    rows, parts = [], []
    for q in present:
        v = vals[q].to_numpy(dtype=float)
        spec = get_score(q.split(" ")[0])  # a column with non-default parameters: "eps_hardness method=ga"
        pct = percentile_ranks(v)
        set_pct = float(pct[in_set].mean())
        hard_side = set_pct > 50 if spec.hard_end == "high" else set_pct < 50
        rows.append({"quantity": q, "label": spec.label, "hard_end": spec.hard_end,
                     "set_mean": float(v[in_set].mean()), "set_median": float(np.median(v[in_set])),
                     "train_mean": float(v.mean()), "train_median": float(np.median(v)),
                     "set_mean_percentile": set_pct,
                     "leans": "typical" if abs(set_pct - 50) < 5 else ("hard" if hard_side else "easy"),
                     "n_set": int(in_set.sum())})
        parts.append(pd.DataFrame({"quantity": q, "group": "training set", "value": v}))
        parts.append(pd.DataFrame({"quantity": q, "group": "forget set", "value": v[in_set]}))
    summary = pd.DataFrame(rows, columns=["quantity", "label", "hard_end", "set_mean", "set_median", "train_mean",
                                          "train_median", "set_mean_percentile", "leans", "n_set"])
    dist = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["quantity", "group", "value"])
    ent_rows = []
    e = entanglement(pipe, idx, seed=seed, ctx=ctx.sub(0.8, 0.9), compute_if_missing=compute_if_missing)
    if e is not None:
        ent_rows.append({"group": "this set", "draw": 0, "es": e["es"]})
        ref = random_reference(pipe, len(idx), seed, n_reference, ctx.sub(0.9, 1.0), compute_if_missing)
        if ref is not None:
            ent_rows += [{"group": "random, same size", "draw": int(r.draw), "es": float(r.es)}
                         for r in ref.itertuples(index=False)]
        else:
            missing.append("entanglement_reference")
    else:
        missing.append("entanglement")
    ent = pd.DataFrame(ent_rows, columns=["group", "draw", "es"])
    y = ds.y_train.cpu().numpy()
    sc = np.bincount(y[idx], minlength=ds.num_classes)
    tc = np.bincount(y, minlength=ds.num_classes)
    comp = pd.DataFrame({"class": np.arange(ds.num_classes), "label": ds.classes, "set_count": sc,
                         "set_share": sc / max(len(idx), 1), "train_count": tc, "train_share": tc / n})
    comp["over_representation"] = comp["set_share"] / comp["train_share"].where(comp["train_share"] > 0)
    info = {"ratio": ratio, "blo_params": dict(pipe.blo_params) if "blo" in present else None}
    return WhyHard(name, seed, int(len(idx)), summary, dist, ent, comp, missing, info)
