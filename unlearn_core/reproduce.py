"""Reproduce the papers' six headline findings on a data set, with a verdict computed from the numbers.

``python -m unlearn_core reproduce`` runs, on one setup (default: digits), everything the six findings of
science.md need — through the same cached pipeline, grids and analyses as the dashboard — and returns one
:class:`Finding` per claim: its configuration, its numbers (mean ± sample std over seeds) and a verdict:

- **holds** — the numbers agree with the paper, beyond the spread over seeds (mean ± std intervals that do not
  overlap, in the paper's direction);
- **does not hold** — they disagree beyond the spread;
- **inconclusive** — the spreads overlap, or there is only one seed (no spread to judge by).

The verdict rule is :func:`separated`; nothing is written by hand. The report (HTML with figures, and Markdown)
is rendered by ``dashboard.report`` (figures live in the dashboard).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .config import Setup
from .context import NULL_CONTEXT, RunContext
from .errors import ConfigError
from .store import Store

HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "holds", "does not hold", "inconclusive", "not run"

PAPERS = {
    "fan": "Fan, Liu, Hero, Liu — Challenging Forgets: Unveiling the Worst-Case Forget Sets in Machine Unlearning "
           "(ECCV 2024)",
    "chen": "Chen et al. — Machine Unlearning in Forgetting Sequence",
}


@dataclass
class Finding:
    number: int
    title: str
    claim: str
    source: str
    verdict: str
    why: str  # the rule applied to the numbers, in words
    config: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: float = 0.0


def separated(a_mean: float, a_std: float, b_mean: float, b_std: float, n: int) -> int:
    """+1 if a is above b beyond both spreads (mean − std > mean + std), −1 if below, 0 if the intervals overlap
    or there is no spread to judge by (fewer than two seeds, or a missing value)."""
    if n < 2 or any(v != v for v in (a_mean, b_mean)):
        return 0
    a_std = 0.0 if a_std != a_std else a_std
    b_std = 0.0 if b_std != b_std else b_std
    if a_mean - a_std > b_mean + b_std:
        return 1
    if a_mean + a_std < b_mean - b_std:
        return -1
    return 0


def _verdict(sign: int, expected: int) -> str:
    return INCONCLUSIVE if sign == 0 else HOLDS if sign == expected else FAILS


def _ms(df: pd.DataFrame, col: str) -> tuple[float, float]:
    v = df[col].astype(float)
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else float("nan"))


def _fmt(m: float, s: float) -> str:
    return "—" if m != m else f"{m:.2f} ± " + ("—" if s != s else f"{s:.2f}")


# ---------------------------------------------------------------------------------------------- the findings
def finding_1(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor) -> Finding:
    """Retrain on the worst-case set: UA and MIA near 0, below random sets, no loss of RA/TA (Fan et al. Table 2)."""
    from .grid import ExperimentSpec, run_experiment

    spec = ExperimentSpec(setup=setup, methods=["retrain"], selectors=["random", "worst"], ratios=[ratio], seeds=seeds)
    df = run_experiment(spec, store, ctx, executor=executor)
    rows = []
    for sel in ("random", "worst"):
        d = df[df["selector"] == sel]
        rows.append({"selector": sel, **{f"{k}_mean": _ms(d, k)[0] for k in ("UA", "MIA", "RA", "TA")},
                     **{f"{k}_std": _ms(d, k)[1] for k in ("UA", "MIA", "RA", "TA")}, "n": len(d)})
    t = pd.DataFrame(rows).set_index("selector")
    n = int(t["n"].min())
    ua = separated(t.at["worst", "UA_mean"], t.at["worst", "UA_std"], t.at["random", "UA_mean"], t.at["random", "UA_std"], n)
    mia = separated(t.at["worst", "MIA_mean"], t.at["worst", "MIA_std"], t.at["random", "MIA_mean"],
                    t.at["random", "MIA_std"], n)
    verdict = HOLDS if ua == -1 and mia == -1 else FAILS if ua == 1 or mia == 1 else INCONCLUSIVE
    why = (f"Retrain UA worst {_fmt(t.at['worst', 'UA_mean'], t.at['worst', 'UA_std'])} vs random "
           f"{_fmt(t.at['random', 'UA_mean'], t.at['random', 'UA_std'])}; MIA worst "
           f"{_fmt(t.at['worst', 'MIA_mean'], t.at['worst', 'MIA_std'])} vs random "
           f"{_fmt(t.at['random', 'MIA_mean'], t.at['random', 'MIA_std'])} (n = {n} seeds). Holds when both are "
           f"lower on the worst-case set beyond the spreads. RA/TA: worst {t.at['worst', 'RA_mean']:.2f}/"
           f"{t.at['worst', 'TA_mean']:.2f} vs random {t.at['random', 'RA_mean']:.2f}/{t.at['random', 'TA_mean']:.2f}.")
    return Finding(1, "Retrain cannot 'forget' the worst-case set", "Retrain on the worst-case set gives UA and MIA "
                   "near 0 with lower variance than random sets, with no loss of RA/TA.", PAPERS["fan"] + ", Table 2",
                   verdict, why, spec.to_dict(), {"retrain": t.reset_index(), "runs": df})


RELABELING = ("rl", "salun", "be", "bs")
RELABEL_FREE = ("ft", "ga", "l1_sparse")


def finding_2(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor) -> Finding:
    """Relabeling methods show a large MIA gap to Retrain on worst-case sets; relabeling-free ones track Retrain."""
    from .grid import ExperimentSpec, run_experiment
    from .results import aggregate

    methods = ["retrain", *RELABEL_FREE, *RELABELING]
    spec = ExperimentSpec(setup=setup, methods=methods, selectors=["worst"], ratios=[ratio], seeds=seeds)
    df = run_experiment(spec, store, ctx, executor=executor)
    agg = aggregate(df)
    agg = agg[agg["method"] != "retrain"].copy()
    # Spread of a gap: the sample std of the per-seed |Δ| (the paper's gap itself is a difference of means).
    spread = df[df["method"] != "retrain"].groupby("method")["gap_MIA"].std(ddof=1)
    agg["gap_MIA_spread"] = agg["method"].map(spread)
    agg["relabeling"] = agg["method"].isin(RELABELING)
    rel, free = agg[agg["relabeling"]], agg[~agg["relabeling"]]
    n = int(agg["n"].min())
    spread = agg["gap_MIA_spread"].fillna(0.0)
    lo_rel = rel.loc[(rel["gap_MIA"] - spread[rel.index]).idxmin()]
    hi_rel = rel.loc[(rel["gap_MIA"] + spread[rel.index]).idxmax()]
    lo_free = free.loc[(free["gap_MIA"] - spread[free.index]).idxmin()]
    hi_free = free.loc[(free["gap_MIA"] + spread[free.index]).idxmax()]
    if separated(lo_rel["gap_MIA"], lo_rel["gap_MIA_spread"], hi_free["gap_MIA"], hi_free["gap_MIA_spread"], n) == 1:
        verdict = HOLDS  # every relabeling method drifts further than every relabeling-free one
    elif separated(hi_rel["gap_MIA"], hi_rel["gap_MIA_spread"], lo_free["gap_MIA"], lo_free["gap_MIA_spread"],
                   n) == -1:
        verdict = FAILS  # the reverse, beyond the spreads
    else:
        verdict = INCONCLUSIVE
    why = (f"MIA gap to Retrain on the worst-case set: relabeling methods {', '.join(f'{m} {g:.2f}' for m, g in zip(rel['method'], rel['gap_MIA']))}; "
           f"relabeling-free {', '.join(f'{m} {g:.2f}' for m, g in zip(free['method'], free['gap_MIA']))} (n = {n}). "
           f"Holds when the smallest relabeling gap ({lo_rel['method']}) exceeds the largest relabeling-free gap "
           f"({hi_free['method']}) beyond their spreads (std of per-seed gaps).")
    return Finding(2, "Relabeling methods drift from Retrain on the worst case", "Relabeling-based methods (RL, BE, "
                   "BS, SalUn) show a large MIA gap to Retrain on worst-case sets, while relabeling-free ones track "
                   "Retrain.", PAPERS["fan"] + ", Table 3", verdict, why, spec.to_dict(),
                   {"gaps": agg[["method", "relabeling", "gap_MIA", "gap_MIA_spread", "MIA_mean", "MIA_std", "n"]],
                    "runs": df})


def finding_3(setup: Setup, store: Store, seeds: list[int], fractions: list[float], ctx: RunContext) -> Finding:
    """The complement of the worst-case set is a good coreset (Fan et al. Fig. 3)."""
    from .analysis.coreset import coreset_curves, default_strategies
    from .pipeline import Pipeline

    pipe = Pipeline(store, setup)
    res = coreset_curves(pipe, fractions, seeds, default_strategies(), ctx)
    s = res.summary.set_index(["strategy", "kept_fraction"])
    n = int(res.summary["n_seeds"].min())
    signs = []
    for f in fractions:
        w, r = s.loc[("worst", f)], s.loc[("random", f)]
        signs.append(separated(w["test_acc_mean"], w["test_acc_std"], r["test_acc_mean"], r["test_acc_std"], n))
    ups, downs = signs.count(1), signs.count(-1)
    verdict = HOLDS if ups > len(signs) / 2 else FAILS if downs > len(signs) / 2 else INCONCLUSIVE
    parts = [f"keep {f:.0%}: worst-complement {_fmt(s.loc[('worst', f), 'test_acc_mean'], s.loc[('worst', f), 'test_acc_std'])}"
             f" vs random {_fmt(s.loc[('random', f), 'test_acc_mean'], s.loc[('random', f), 'test_acc_std'])}"
             for f in fractions]
    why = ("Test accuracy of models trained on coresets: " + "; ".join(parts) + f" (n = {n}). Holds when the "
           f"worst-case complement beats random beyond the spreads at most kept fractions ({ups} of {len(signs)}).")
    return Finding(3, "The worst case's complement is a good coreset", "Training on the complement of the worst-case "
                   "set matches EL2N/GraNd coresets and beats random.", PAPERS["fan"] + ", Fig. 3", verdict, why,
                   {"setup": setup.to_dict(), "fractions": fractions, "seeds": seeds,
                    "strategies": default_strategies()},
                   {"summary": res.summary, "points": res.points, "full": res.full})


def finding_4(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext) -> Finding:
    """On a biased data set the worst-case set is dominated by the easy majority group (Fan et al. Fig. 4)."""
    from .analysis.composition import TRAIN_SET, composition
    from .pipeline import Pipeline

    pipe = Pipeline(store, setup)
    note = ""
    if not pipe.ds.attributes:
        setup = setup.replace(dataset="biased_digits", model=None, train={})
        pipe = Pipeline(store, setup)
        note = ("The chosen data set has no spurious attribute, so this finding runs on biased_digits (scikit-learn's "
                "digits with an ink colour that agrees with the label for 90% of the images). ")
    res = composition(pipe, ("worst", "random"), ratio, seeds, None, ctx)
    maj = res.per_seed[res.per_seed["majority"]].groupby(["set", "seed"])["percent"].sum().reset_index()
    train_share = float(res.table[(res.table["set"] == TRAIN_SET) & res.table["majority"]]["percent"].sum())
    w = maj[maj["set"] == "worst"]["percent"]
    r = maj[maj["set"] == "random"]["percent"]
    n = len(w)
    sw = (float(w.mean()), float(w.std(ddof=1)) if n > 1 else float("nan"))
    sr = (float(r.mean()), float(r.std(ddof=1)) if n > 1 else float("nan"))
    sign = separated(sw[0], sw[1], max(sr[0], train_share), sr[1] if sr[0] >= train_share else 0.0, n)
    verdict = _verdict(sign, 1)
    why = (note + f"Share of the majority (bias-aligned) groups: worst-case set {_fmt(*sw)}%, random sets "
           f"{_fmt(*sr)}%, training set {train_share:.2f}% (n = {n}). Holds when the worst-case set holds more "
           f"majority samples than both, beyond the spreads.")
    return Finding(4, "The worst case is the easy majority group", "On a biased data set the worst-case set is "
                   "dominated by the easy majority group (CelebA: Blond + Female).", PAPERS["fan"] + ", Fig. 4",
                   verdict, why, {"setup": setup.to_dict(), "ratio": ratio, "seeds": seeds},
                   {"composition": res.table, "majority_share": maj})


def finding_5(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor) -> Finding:
    """Loss correlates positively with LiRA ASR; high-ASR samples are easier to forget (Chen et al.).

    Uses the registered LiRA defaults (16 shadow models per seed, "a usable minimum"), so the correlation and the
    ``top:lira_asr`` / ``bottom:lira_asr`` selectors share one shadow bank."""
    from scipy.stats import spearmanr

    from .grid import ExperimentSpec, run_experiment
    from .pipeline import Pipeline
    from .scores import get_score

    n_shadow = int(get_score("lira_asr").defaults["n_shadow"])
    pipe = Pipeline(store, setup)
    rhos = []
    for i, seed in enumerate(seeds):
        sub = ctx.sub(i / (2 * len(seeds)), (i + 1) / (2 * len(seeds)))
        loss = pipe.score("loss", seed, None, None, sub).values
        asr = pipe.score("lira_asr", seed, None, None, sub).values
        rhos.append(float(spearmanr(loss, asr).statistic))
    rho = (float(np.mean(rhos)), float(np.std(rhos, ddof=1)) if len(rhos) > 1 else float("nan"))
    spec = ExperimentSpec(setup=setup, methods=["retrain"], selectors=["top:lira_asr", "bottom:lira_asr"],
                          ratios=[ratio], seeds=seeds)
    df = run_experiment(spec, store, ctx.sub(0.5, 1.0), executor=executor)
    n = len(seeds)
    corr_sign = separated(rho[0], rho[1], 0.0, 0.0, n)
    top, bot = df[df["selector"] == "top:lira_asr"], df[df["selector"] == "bottom:lira_asr"]
    ua_sign = separated(*_ms(top, "UA"), *_ms(bot, "UA"), n)
    rows = [{"selector": "top:lira_asr", "UA_mean": _ms(top, "UA")[0], "UA_std": _ms(top, "UA")[1]},
            {"selector": "bottom:lira_asr", "UA_mean": _ms(bot, "UA")[0], "UA_std": _ms(bot, "UA")[1]}]
    verdict = (HOLDS if corr_sign == 1 and ua_sign == 1 else FAILS if corr_sign == -1 or ua_sign == -1
               else INCONCLUSIVE)
    why = (f"Spearman(loss, LiRA ASR) = {_fmt(*rho)} over {n} seeds ({n_shadow} shadow models each); Retrain UA on "
           f"the {ratio:.0%} highest-ASR samples {_fmt(rows[0]['UA_mean'], rows[0]['UA_std'])} vs lowest "
           f"{_fmt(rows[1]['UA_mean'], rows[1]['UA_std'])}. Holds when the correlation is positive and high-ASR "
           f"samples are forgotten more (higher UA), beyond the spreads.")
    return Finding(5, "Low loss, low privacy risk, hard to forget", "Loss correlates positively with LiRA ASR; "
                   "high-ASR samples are easier to forget.", PAPERS["chen"] + ", Fig. 5 and Tables 1–2", verdict, why,
                   {"setup": setup.to_dict(), "seeds": seeds, "n_shadow": n_shadow, "ratio": ratio},
                   {"spearman": pd.DataFrame({"seed": seeds, "spearman_loss_asr": rhos}),
                    "retrain_by_asr": pd.DataFrame(rows), "runs": df})


RSU_METHODS = ("ga", "rl", "bad_t")


def finding_6(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor) -> Finding:
    """Hard-to-easy sequential unlearning (RSU) beats one-shot and easy-to-hard for GA/RL/Bad-T (Chen et al.)."""
    from .grid import ExperimentSpec, run_experiment
    from .results import aggregate

    methods = ["retrain"] + [f"{p}{m}" for m in RSU_METHODS for p in ("", "rsu:", "rsu_reverse:")]
    spec = ExperimentSpec(setup=setup, methods=methods, selectors=["random"], ratios=[ratio], seeds=seeds)
    df = run_experiment(spec, store, ctx, executor=executor)
    agg = aggregate(df).set_index("method")
    n = int(agg["n"].min())
    rows, votes = [], []
    for m in RSU_METHODS:
        r, o, e = agg.loc[f"rsu:{m}"], agg.loc[m], agg.loc[f"rsu_reverse:{m}"]
        s1 = separated(r["ToW_mean"], r["ToW_std"], o["ToW_mean"], o["ToW_std"], n)
        s2 = separated(r["ToW_mean"], r["ToW_std"], e["ToW_mean"], e["ToW_std"], n)
        votes.append(1 if s1 == 1 and s2 == 1 else -1 if s1 == -1 or s2 == -1 else 0)
        rows.append({"method": m, "hard_to_easy": r["ToW_mean"], "hard_to_easy_std": r["ToW_std"],
                     "one_shot": o["ToW_mean"], "one_shot_std": o["ToW_std"], "easy_to_hard": e["ToW_mean"],
                     "easy_to_hard_std": e["ToW_std"], "n": n})
    verdict = (HOLDS if votes.count(1) > len(votes) / 2 else FAILS if votes.count(-1) > len(votes) / 2
               else INCONCLUSIVE)
    t = pd.DataFrame(rows)
    why = ("ToW (1 = matches Retrain) " + "; ".join(
        f"{r.method}: hard→easy {_fmt(r.hard_to_easy, r.hard_to_easy_std)}, one-shot {_fmt(r.one_shot, r.one_shot_std)}, "
        f"easy→hard {_fmt(r.easy_to_hard, r.easy_to_hard_std)}" for r in t.itertuples())
        + f" (n = {n}). Holds when hard-to-easy beats both other orders beyond the spreads for most methods.")
    return Finding(6, "Forget the hardest samples first", "Hard-to-easy sequential unlearning (RSU) beats one-shot and "
                   "easy-to-hard for GA, RL and Bad-T.", PAPERS["chen"] + ", Fig. 7", verdict, why, spec.to_dict(),
                   {"tow": t, "runs": df})


# ---------------------------------------------------------------------------------------------- driver
@dataclass
class ReproduceConfig:
    setup: Setup = field(default_factory=Setup)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    ratio: float = 0.1
    fractions: list[float] = field(default_factory=lambda: [0.5, 0.7, 0.9])
    findings: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6])

    def validate(self) -> "ReproduceConfig":
        from .config import forget_count

        if not self.seeds:
            raise ConfigError("reproduce needs at least one seed (three or more for verdicts with a spread).")
        forget_count(self.ratio, 10**9)
        bad = [f for f in self.findings if f not in range(1, 7)]
        if bad or not self.findings:
            raise ConfigError(f"Findings are numbered 1-6, got {self.findings}.")
        if any(not 0 < f < 1 for f in self.fractions):
            raise ConfigError("Kept fractions must be strictly between 0 and 1.")
        return self


def reproduce(cfg: ReproduceConfig, store: Store, ctx: RunContext = NULL_CONTEXT, executor=None,
              on_finding: Callable[[Finding], None] | None = None) -> list[Finding]:
    """Run the chosen findings (each cached like any other result) and return them with their verdicts."""
    cfg.validate()
    runners: dict[int, Callable[[RunContext], Finding]] = {
        1: lambda c: finding_1(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        2: lambda c: finding_2(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        3: lambda c: finding_3(cfg.setup, store, cfg.seeds, cfg.fractions, c),
        4: lambda c: finding_4(cfg.setup, store, cfg.seeds, cfg.ratio, c),
        5: lambda c: finding_5(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        6: lambda c: finding_6(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
    }
    out = []
    todo = sorted(set(cfg.findings))
    for i, k in enumerate(todo):
        ctx.progress(i / len(todo), f"finding {k}")
        t0 = time.time()
        f = runners[k](ctx.sub(i / len(todo), (i + 1) / len(todo)))
        f.seconds = time.time() - t0
        out.append(f)
        ctx.log(f"finding {k}: {f.verdict} — {f.why}")
        if on_finding is not None:
            on_finding(f)
    ctx.progress(1.0, "reproduction done")
    return out


def summary_frame(findings: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame([{"finding": f.number, "title": f.title, "verdict": f.verdict, "source": f.source,
                          "seconds": round(f.seconds, 1)} for f in findings])

