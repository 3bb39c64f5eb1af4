"""The product's question under the per-example distribution tests (issue 19; docs/forget_quality.md): is the worst
case still the hardest to forget when forgetting is measured by F / score / KLoM over model banks, and which samples
are hardest by ε?

Reads what a grid stored (``compare --eval-models N``): per forget-set kind (random, worst-case, lowest-loss =
``bottom:loss``) and method, F, score and KLoM P95 (mean ± sample std over the seeds whose banks are stored; the
controls ``retrain`` = Retrain against an independent retrain bank, ``original`` = θ_o unchanged, and
``original_seeds``); seed-paired differences of F between the kinds with 95% t-intervals; Spearman ρ between a
forget example's ε (Triantafillou et al. 2024) and θ_o's BLO weight, loss and memorization within each set (mean ±
std over sets), and between a set's F and its entanglement score (Zhao et al.; a set-level quantity, so across
sets). Nothing is trained here (``compute_if_missing`` computes the cheap scores and entanglement: the benchmark
script, not the report).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..banks import BankResult, bank_comparison, forget_set_banks, n_choices
from ..errors import ConfigError
from ..forget_quality import detectable_shift, detectable_spread_ratio, spread_ratios, standardized_shifts
from .entanglement import entanglement
from .hardness import score_values

KINDS = ("random", "worst", "bottom:loss")
METHODS = ("ft", "ga", "rl", "salun", "scrub")
BASELINES = ("retrain", "original", "original_seeds")
RHO_QUANTITIES = ("blo", "loss", "memorization")
PAIRS = (("worst", "random"), ("worst", "bottom:loss"), ("bottom:loss", "random"))
FQ_KEYS = ("forget_quality", "forget_quality_threshold", "score", "klom_forget_p95", "klom_retain_p95",
           "klom_test_p95", "eps_mean")
RESOLUTION_N = (8, 16, 32, 64)  # bank sizes at which resolution() says what the estimator would see


@dataclass
class QuestionTables:
    """The answer's numbers (empty frames where nothing is stored); ``n`` = models per bank (0: no bank)."""

    n: int
    per_seed: pd.DataFrame = field(default_factory=pd.DataFrame)  # selector, method, seed, es, FQ_KEYS
    table: pd.DataFrame = field(default_factory=pd.DataFrame)  # mean ± sample std over seeds
    paired: pd.DataFrame = field(default_factory=pd.DataFrame)  # F differences between kinds, 95% t-intervals
    rho: pd.DataFrame = field(default_factory=pd.DataFrame)  # method × quantity: ρ(ε, quantity) mean, std, sets
    rho_entanglement: pd.DataFrame = field(default_factory=pd.DataFrame)  # method: ρ(F of a set, ES of the set)
    # method: median standardized shift of the forget examples and the % at or above what the Gaussian estimator
    # sees at N models (RESOLUTION_N); Retrain's row (the control, against an independent bank) is the noise floor
    resolution: pd.DataFrame = field(default_factory=pd.DataFrame)


def t_interval(d: Sequence[float]) -> tuple[float, float, float]:
    """(mean, 95% t-interval low, high) of paired differences; NaN bounds for fewer than 2."""
    d = np.asarray(d, float)
    if d.size < 2:
        return (float(d.mean()) if d.size else np.nan), np.nan, np.nan
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return np.nan
    return float(stats.spearmanr(a[ok], b[ok]).statistic)


def question_tables(pipe, seeds: Sequence[int], ratio: float = 0.1, n: int | None = None,
                    kinds: Sequence[str] = KINDS, methods: Sequence[str] = METHODS,
                    compute_if_missing: bool = False, score_pipe=None) -> QuestionTables:
    """The tables of the product's question from the stored banks of ``kinds`` × ``seeds`` (``n``: models per
    bank; None = the largest N any method has). ``compute_if_missing`` computes θ_o's loss / BLO / memorization
    scores and the sets' entanglement where missing (never a bank). ``score_pipe``: read (and compute) θ_o's scores
    from another store's pipeline of the same setup, e.g. one whose LiRA shadow models already give memorization;
    refused unless its θ_o is the banks' θ_o (the same original-model key per seed)."""
    sp = pipe if score_pipe is None else score_pipe
    for seed in seeds:
        if sp.original_key(seed) != pipe.original_key(seed):
            raise ConfigError(f"the scores' store trains another θ_o than the banks' store for seed {seed} "
                              f"({sp.original_key(seed)} vs {pipe.original_key(seed)}): use the same setup")
    sets = [(k, float(ratio), int(s)) for s in seeds for k in kinds]
    counts = forget_set_banks(pipe, sets)
    if n is None:
        choices = n_choices(list(counts.values()), [*methods, "retrain", "original_seeds"])
        n = choices[-1] if choices else 0
    if not n:
        return QuestionTables(0)
    rows, rho_rows = [], []
    shifts: dict[str, list[np.ndarray]] = {}
    spreads: dict[str, list[np.ndarray]] = {}
    for seed in seeds:
        if compute_if_missing:
            for q in RHO_QUANTITIES:
                sp.score(q, seed, ratio if q == "blo" else None)
        quantities = score_values(sp, seed, RHO_QUANTITIES, ratio)
        for sel in kinds:
            if (sel, float(ratio), int(seed)) not in counts:
                continue
            fs = pipe.forget_set(sel, ratio, seed) if compute_if_missing else pipe.load_forget_set(
                pipe.find_forget_set(sel, ratio, seed))
            ent = entanglement(pipe, fs.forget_idx, seed=seed, compute_if_missing=compute_if_missing)
            es = float(ent["es"]) if ent is not None else np.nan
            for m in [*BASELINES, *methods]:
                r = bank_comparison(pipe, m, sel, ratio, seed, n)
                if r is None:
                    continue
                v = r.comparison.metrics
                if m == "retrain" or m in methods:
                    shifts.setdefault(m, []).append(standardized_shifts(r.unlearned["forget"], r.retrained["forget"]))
                    spreads.setdefault(m, []).append(spread_ratios(r.unlearned["forget"], r.retrained["forget"]))
                rows.append({"selector": sel, "method": m, "seed": int(seed), "es": es,
                             **{k: float(v[k]) for k in FQ_KEYS}})
                if m in methods:
                    for q in RHO_QUANTITIES:
                        if q in quantities:
                            rho_rows.append({"method": m, "selector": sel, "seed": int(seed), "quantity": q,
                                             "rho": _spearman(r.comparison.eps,
                                                              quantities[q].to_numpy(float)[r.forget_idx])})
    out = QuestionTables(n, pd.DataFrame(rows))
    if out.per_seed.empty:
        return out
    df = out.per_seed
    out.table = df.groupby(["selector", "method"], sort=False).agg(
        F=("forget_quality", "mean"), F_std=("forget_quality", "std"),
        F_threshold=("forget_quality_threshold", "mean"), score=("score", "mean"), score_std=("score", "std"),
        klom_forget_p95=("klom_forget_p95", "mean"), klom_forget_p95_std=("klom_forget_p95", "std"),
        klom_retain_p95=("klom_retain_p95", "mean"), klom_test_p95=("klom_test_p95", "mean"),
        seeds=("seed", "count")).reset_index()
    diffs = []
    for m in [*methods, "original_seeds"]:
        piv = df[df["method"] == m].pivot(index="seed", columns="selector", values="forget_quality")
        for a, b in PAIRS:
            if a in piv and b in piv:
                d = (piv[a] - piv[b]).dropna().to_numpy()
                if d.size:
                    mean, lo, hi = t_interval(d)
                    diffs.append({"method": m, "difference": f"F({a}) − F({b})", "mean": mean, "ci_low": lo,
                                  "ci_high": hi, "n": int(d.size)})
    out.paired = pd.DataFrame(diffs)
    if rho_rows:
        rr = pd.DataFrame(rho_rows)
        out.rho = rr.groupby(["method", "quantity"]).agg(rho_mean=("rho", "mean"), rho_std=("rho", "std"),
                                                         sets=("rho", "count")).reset_index()
    ent = []
    for m in methods:
        s = df[(df["method"] == m) & df["es"].notna()]
        if len(s) >= 3:
            ent.append({"method": m, "rho_F_vs_entanglement": _spearman(s["forget_quality"].to_numpy(float),
                                                                         s["es"].to_numpy(float)), "sets": len(s)})
    out.rho_entanglement = pd.DataFrame(ent)
    out.resolution = resolution(shifts, n, spreads)
    return out


def bank_resolution(results: Mapping[str, BankResult], n: int) -> pd.DataFrame:
    """:func:`resolution` of one forget set's bank comparisons (``{method: BankResult}``, e.g. from
    :func:`~unlearn_core.banks.bank_comparison`): per method, how far its forget examples' mean and spread are from
    the retrained bank's and how many of them the Gaussian fit resolves at each N. ``original`` is left out (its N
    models are one model: no spread to compare)."""
    keep = {m: r for m, r in results.items() if m != "original"}
    shifts = {m: [standardized_shifts(r.unlearned["forget"], r.retrained["forget"])] for m, r in keep.items()}
    spreads = {m: [spread_ratios(r.unlearned["forget"], r.retrained["forget"])] for m, r in keep.items()}
    return resolution(shifts, n, spreads)


def resolution(shifts: dict[str, list[np.ndarray]], n: int,
               spreads: dict[str, list[np.ndarray]] | None = None) -> pd.DataFrame:
    """Per method, over all forget examples of its sets: the median standardized shift |Δμ| / σ_r measured at ``n``
    models, and the % of examples at or above :func:`~unlearn_core.forget_quality.detectable_shift` for each N of
    ``RESOLUTION_N`` — how many would lose points if the banks had N models. The shifts are measured with ``n``
    models (noise ≈ √(2/n) σ), so the control row (``retrain``: two independent retrain banks, no true shift) gives
    the rate that noise alone reaches; a method's excess over it is what a larger N would see.

    With ``spreads`` (sd_u / sd_r per example) also the median spread ratio and the % of examples whose ratio lies
    outside the band the fit resolves at N (:func:`~unlearn_core.forget_quality.detectable_spread_ratio`): runs
    from one θ_o that agree far more closely than retrainings are told apart even where the means agree."""
    rows = []
    for m, parts in shifts.items():
        d = np.concatenate(parts)
        row = {"method": m, "examples": int(d.size), "n_measured": int(n), "median_shift": float(np.median(d))}
        for k in RESOLUTION_N:
            row[f"pct_seen_at_N{k}"] = float(100 * np.mean(d >= detectable_shift(k)))
        if spreads and m in spreads:
            ratio = np.concatenate(spreads[m])
            row["median_sd_ratio"] = float(np.median(ratio))
            for k in RESOLUTION_N:
                lo = detectable_spread_ratio(k)
                row[f"pct_spread_seen_at_N{k}"] = float(100 * np.mean((ratio <= lo) | (ratio >= 1 / lo)))
        rows.append(row)
    return pd.DataFrame(rows)
