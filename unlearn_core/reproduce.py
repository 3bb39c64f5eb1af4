"""Reproduce the papers' headline findings on a data set, with verdicts computed from seed-paired statistics.

``python -m unlearn_core reproduce`` runs, on one setup (default: digits), everything the seven findings need —
through the same cached pipeline, grids and analyses as the dashboard — and returns one :class:`Finding` per
claim: its configuration, its numbers and a verdict.

How a finding is judged (science.md, "how findings are judged"): every claim is one or more
:class:`Comparison` s, each a **seed-paired difference** d_s = a_s − b_s (the two quantities measured on the same
seed, i.e. the same θ_o) with its mean and a 95% Student-t interval (``scipy.stats.t``, n − 1 degrees of
freedom). A comparison *holds* when the interval lies entirely on the paper's side of zero; otherwise it does not
(either the interval contains 0 — no clear difference — or it lies on the other side). Then:

- **holds** — every comparison of the finding holds;
- **partly holds** — some hold, some do not (per-method sub-verdicts are listed, e.g. "RL and SalUn hold, BS not");
- **does not hold** — none holds;
- **inconclusive (n < 3)** — fewer than three seeds: no interval is computed;
- **not applicable** — the data lack what the finding needs (a group attribute for finding 4), or θ_o does not
  fit its training set (RA < 95%: there is little memorized to forget, so the papers' claims do not apply).

Nothing is written by hand; tests feed synthetic numbers to the verdict functions and check that each verdict
flips when the numbers do. The report (HTML with figures, and Markdown) is rendered by ``dashboard.report``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .config import Setup
from .context import NULL_CONTEXT, RunContext
from .errors import ConfigError
from .store import Store

HOLDS, PARTLY, FAILS = "holds", "partly holds", "does not hold"
INCONCLUSIVE = "inconclusive (n < 3)"
NOT_APPLICABLE = "not applicable"
NOT_RUN = "not run"
VERDICTS = (HOLDS, PARTLY, FAILS, INCONCLUSIVE, NOT_APPLICABLE)
CONFIDENCE = 0.95
MIN_SEEDS = 3
MIN_FIT_RA = 95.0  # θ_o must fit its training set (RA, %) for the papers' claims to apply
N_FINDINGS = 7

PAPERS = {
    "fan": "Fan, Liu, Hero, Liu — Challenging Forgets: Unveiling the Worst-Case Forget Sets in Machine Unlearning "
           "(ECCV 2024)",
    "chen": "Chen et al. — Machine Unlearning in Forgetting Sequence",
}


def verdict_kind(verdict: str) -> str:
    """The verdict category of a verdict text ("not applicable: θ_o does not fit …" → "not applicable")."""
    for v in VERDICTS:
        if verdict == v or verdict.startswith(v + ":") or verdict.startswith(v + " ("):
            return v
    return verdict


# ---------------------------------------------------------------------------------------------- statistics
@dataclass
class Comparison:
    """One seed-paired comparison: d_s = a_s − b_s over the seeds where both were measured; the claim is that d
    lies on the ``expected`` side of zero (+1: a above b, −1: a below b)."""

    label: str  # what d is, e.g. "Retrain UA: worst − random"
    expected: int
    diffs: list[float]
    seeds: list[int]
    group: str = ""  # sub-verdict name (e.g. a method) when a finding has several
    mean: float = float("nan")
    lo: float = float("nan")
    hi: float = float("nan")

    def __post_init__(self) -> None:
        if self.expected not in (1, -1):
            raise ValueError("expected must be +1 or -1")
        d = np.asarray([v for v in self.diffs if v == v], dtype=float)
        self.diffs = [float(v) for v in d]
        if len(d):
            self.mean = float(d.mean())
        if len(d) >= 2:
            self.lo, self.hi = t_interval(d)

    @property
    def n(self) -> int:
        return len(self.diffs)

    @property
    def status(self) -> str:
        """holds / does not hold (interval contains 0 or lies on the other side) / inconclusive (n < 3)."""
        if self.n < MIN_SEEDS:
            return INCONCLUSIVE
        if (self.lo > 0 if self.expected == 1 else self.hi < 0):
            return HOLDS
        if (self.hi < 0 if self.expected == 1 else self.lo > 0):
            return FAILS + " (opposite direction)"
        return FAILS + " (interval contains 0)"

    def text(self) -> str:
        side = "> 0" if self.expected == 1 else "< 0"
        if self.n < 2:
            ci = "no interval"
        else:
            ci = f"95% CI [{self.lo:+.2f}, {self.hi:+.2f}]"
        return f"{self.label} = {self.mean:+.2f}, {ci}, n = {self.n} (claim: {side}) → {self.status}"

    def row(self) -> dict:
        return {"group": self.group, "comparison": self.label, "claim": "> 0" if self.expected == 1 else "< 0",
                "mean_diff": self.mean, "ci_low": self.lo, "ci_high": self.hi, "n": self.n,
                "seeds": ",".join(map(str, self.seeds)), "status": self.status}


def t_interval(d: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided Student-t confidence interval of the mean of ``d`` (n − 1 degrees of freedom). Differences that
    are all equal have a zero-width interval at their value."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n < 2:
        return float("nan"), float("nan")
    m = float(d.mean())
    sem = float(d.std(ddof=1)) / math.sqrt(n)
    if sem == 0.0:
        return m, m
    h = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sem
    return m - h, m + h


def paired(label: str, a: pd.Series, b: pd.Series, expected: int, group: str = "") -> Comparison:
    """Seed-paired comparison of two per-seed series (indexed by seed); seeds missing in either are left out."""
    both = a.dropna().index.intersection(b.dropna().index)
    seeds = sorted(int(s) for s in both)
    return Comparison(label, expected, [float(a[s]) - float(b[s]) for s in seeds], seeds, group)


def combine(comparisons: list[Comparison]) -> str:
    """The finding's verdict from its comparisons (module docstring)."""
    if not comparisons:
        return INCONCLUSIVE
    if any(c.n < MIN_SEEDS for c in comparisons):
        return INCONCLUSIVE
    held = [c.status == HOLDS for c in comparisons]
    return HOLDS if all(held) else PARTLY if any(held) else FAILS


def sub_verdicts(comparisons: list[Comparison]) -> dict[str, str]:
    """Per group (e.g. per method): its own verdict by :func:`combine`."""
    groups: dict[str, list[Comparison]] = {}
    for c in comparisons:
        groups.setdefault(c.group or "", []).append(c)
    return {g: combine(cs) for g, cs in groups.items()}


def verdict_sentence(comparisons: list[Comparison]) -> str:
    """'RL, SalUn hold; BS, BE do not.' (only when the comparisons have groups)."""
    sv = sub_verdicts(comparisons)
    if len(sv) < 2:
        return ""
    hold = [g for g, v in sv.items() if v == HOLDS]
    part = [g for g, v in sv.items() if v == PARTLY]
    no = [g for g, v in sv.items() if v == FAILS]
    parts = []
    if hold:
        parts.append(f"{', '.join(hold)} {'holds' if len(hold) == 1 else 'hold'}")
    if part:
        parts.append(f"{', '.join(part)} partly")
    if no:
        parts.append(f"{', '.join(no)} {'does' if len(no) == 1 else 'do'} not")
    return "Sub-verdicts: " + "; ".join(parts) + "."


def comparisons_frame(comparisons: list[Comparison]) -> pd.DataFrame:
    return pd.DataFrame([c.row() for c in comparisons],
                        columns=["group", "comparison", "claim", "mean_diff", "ci_low", "ci_high", "n", "seeds",
                                 "status"])


def _ms(v: pd.Series) -> tuple[float, float]:
    v = v.astype(float).dropna()
    return (float(v.mean()) if len(v) else float("nan")), (float(v.std(ddof=1)) if len(v) > 1 else float("nan"))


def _fmt(m: float, s: float) -> str:
    return "—" if m != m else f"{m:.2f} ± " + ("—" if s != s else f"{s:.2f}")


def _per_seed(df: pd.DataFrame, col: str, **where) -> pd.Series:
    """``col`` per seed among the rows matching ``where`` (one row per seed expected; the mean otherwise)."""
    d = df
    for k, v in where.items():
        d = d[d[k] == v]
    return d.groupby("seed")[col].mean().astype(float)


@dataclass
class Finding:
    number: int
    title: str
    claim: str
    source: str
    verdict: str
    why: str  # the comparisons and their intervals, in words
    config: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: float = 0.0
    comparisons: list[Comparison] = field(default_factory=list)


def _judged(number: int, title: str, claim: str, source: str, comparisons: list[Comparison], lead: str,
            config: dict, tables: dict[str, pd.DataFrame]) -> Finding:
    """A finding whose verdict and text come from its comparisons."""
    verdict = combine(comparisons)
    body = "; ".join(c.text() for c in comparisons)
    why = " ".join(p for p in (lead, body + ".", verdict_sentence(comparisons)) if p)
    tables = {"verdict": comparisons_frame(comparisons), **tables}
    return Finding(number, title, claim, source, verdict, why, config, tables, comparisons=comparisons)


# ---------------------------------------------------------------------------------------------- the findings
CLAIMS: dict[int, tuple[str, str, str]] = {
    1: ("Retrain cannot 'forget' the worst-case set",
        "Retrain on the worst-case set gives UA and MIA near 0 with lower variance than random sets, with no loss "
        "of RA/TA.", PAPERS["fan"] + ", Table 2"),
    2: ("Relabeling methods drift from Retrain on the worst case",
        "Relabeling-based methods (RL, BE, BS, SalUn) show a large MIA gap to Retrain on worst-case sets, while "
        "relabeling-free ones (FT, EU-k, CF-k, SCRUB, ℓ1-sparse) track Retrain.", PAPERS["fan"] + ", Table 3"),
    3: ("The worst case's complement is a good coreset",
        "Training on the complement of the worst-case set matches EL2N/GraNd coresets and beats random.",
        PAPERS["fan"] + ", Fig. 3"),
    4: ("The worst case is the easy majority group",
        "On a biased data set the worst-case set is dominated by the easy majority group (CelebA: Blond + Female).",
        PAPERS["fan"] + ", Fig. 4"),
    5: ("Low loss, low privacy risk, hard to forget",
        "Loss correlates positively with LiRA ASR; high-ASR samples are easier to forget than random ones.",
        PAPERS["chen"] + ", Fig. 5 and Tables 1–2"),
    6: ("Forget the hardest samples first",
        "Hard-to-easy sequential unlearning (RSU) beats one-shot and easy-to-hard unlearning (GA, class-wise "
        "forgetting, equal budgets).", PAPERS["chen"] + ", Fig. 7 (random sets: Table 6)"),
    7: ("The worst case is harder than the lowest-loss set",
        "The BLO worst-case set is harder to unlearn than θ_o's lowest-loss set of the same size (its cheap "
        "first-order rival): lower Retrain UA and MIA, larger Avg. gaps of the approximate methods.",
        PAPERS["fan"] + " (the search vs its first-order answer)"),
}


def not_applicable(number: int, reason: str, config: dict) -> Finding:
    title, claim, source = CLAIMS[number]
    return Finding(number, title, claim, source, f"{NOT_APPLICABLE}: {reason}", f"Not applicable: {reason}.", config)


def _selector_table(df: pd.DataFrame, selectors: Sequence[str], method: str = "retrain") -> pd.DataFrame:
    rows = []
    for sel in selectors:
        d = df[(df["selector"] == sel) & (df["method"] == method)]
        row = {"selector": sel, "method": method, "n": int(len(d))}
        for k in ("UA", "MIA", "RA", "TA"):
            row[f"{k}_mean"], row[f"{k}_std"] = _ms(d[k]) if k in d else (float("nan"), float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


# 1 ----------------------------------------------------------------------------------------------------------
def judge_1(df: pd.DataFrame, config: dict) -> Finding:
    """Retrain rows (selector random / worst, one per seed) → finding 1."""
    r = df[df["method"] == "retrain"]
    comps = [paired(f"Retrain {k}: worst − random", _per_seed(r, k, selector="worst"),
                    _per_seed(r, k, selector="random"), -1, "Retrain") for k in ("UA", "MIA")]
    t = _selector_table(df, ["random", "worst"])
    ti = t.set_index("selector")
    rt = [paired(f"{k}: worst − random", _per_seed(r, k, selector="worst"), _per_seed(r, k, selector="random"), 1)
          for k in ("RA", "TA")]
    lead = ("Mean ± sample std over seeds — " + "; ".join(
        f"{k} worst {_fmt(ti.at['worst', f'{k}_mean'], ti.at['worst', f'{k}_std'])} vs random "
        f"{_fmt(ti.at['random', f'{k}_mean'], ti.at['random', f'{k}_std'])}" for k in ("UA", "MIA", "RA", "TA"))
        + ". RA/TA (reported, not judged): " + "; ".join(
        f"{c.label} = {c.mean:+.2f}" + (f" [{c.lo:+.2f}, {c.hi:+.2f}]" if c.n >= 2 else "") for c in rt)
        + ". Seed-paired differences with 95% t-intervals:")
    return _judged(1, *CLAIMS[1], comps, lead, config, {"retrain": t, "runs": df})


def finding_1(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor) -> Finding:
    from .grid import ExperimentSpec, run_experiment

    spec = ExperimentSpec(setup=setup, methods=["retrain"], selectors=["random", "worst"], ratios=[ratio], seeds=seeds)
    return judge_1(run_experiment(spec, store, ctx, executor=executor), spec.to_dict())


# 2 ----------------------------------------------------------------------------------------------------------
RELABELING = ("rl", "be", "bs", "salun")
RELABEL_FREE = ("ft", "eu_k", "cf_k", "scrub", "l1_sparse")  # Fan et al.'s comparison group (science.md)
LABELS = {"retrain": "Retrain", "ft": "FT", "ga": "GA", "rl": "RL", "eu_k": "EU-k", "cf_k": "CF-k", "scrub": "SCRUB",
          "l1_sparse": "ℓ1-sparse", "be": "BE", "bs": "BS", "salun": "SalUn", "bad_t": "Bad-T"}


def judge_2(df: pd.DataFrame, config: dict, bs_flip: pd.Series | None = None) -> Finding:
    """Rows with per-seed ``gap_MIA`` (|MIA − Retrain's MIA| of the same seed and forget set) on the worst-case
    set → finding 2. For each relabeling method m and seed s: d_s = gap_m,s − mean over the relabeling-free group
    of gap_s; the claim is d > 0 (m drifts further from Retrain than the relabeling-free methods do)."""
    d = df[df["method"] != "retrain"].dropna(subset=["gap_MIA"])
    free = d[d["method"].isin(RELABEL_FREE)].groupby("seed")["gap_MIA"].mean()
    comps = [paired(f"{LABELS[m]} MIA gap − relabeling-free mean MIA gap", _per_seed(d, "gap_MIA", method=m), free, 1,
                    LABELS[m]) for m in RELABELING if (d["method"] == m).any()]
    rows = []
    for m in [*RELABEL_FREE, *RELABELING]:
        g = d[d["method"] == m]
        if g.empty:
            continue
        mean, std = _ms(g["gap_MIA"])
        mia_m, _ = _ms(g["MIA"])
        ret = df[(df["method"] == "retrain") & df["seed"].isin(g["seed"])]
        rows.append({"method": m, "relabeling": m in RELABELING, "paired_gap_MIA_mean": mean, "paired_gap_MIA_std": std,
                     "gap_MIA_of_means": abs(mia_m - _ms(ret["MIA"])[0]) if len(ret) else float("nan"),
                     "MIA_mean": mia_m, "MIA_std": _ms(g["MIA"])[1], "n": int(len(g))})
    gaps = pd.DataFrame(rows)
    lead = ("Per-seed MIA gap |MIA − Retrain's MIA| on the worst-case set (same seed, same forget set), mean ± "
            "sample std over seeds: " + ", ".join(
                f"{LABELS[r.method]} {_fmt(r.paired_gap_MIA_mean, r.paired_gap_MIA_std)}" for r in gaps.itertuples())
            + ".")
    tables = {"gaps": gaps, "runs": df}
    if bs_flip is not None and len(bs_flip):
        lead += (f" BS's adversarial label differs from y for {_fmt(*_ms(bs_flip * 100))}% of the worst-case set "
                 f"(FGSM neighbour on θ_o; BS only relabels those).")
        tables["bs_label_changed"] = pd.DataFrame({"seed": bs_flip.index, "percent_changed": bs_flip.values * 100})
    return _judged(2, *CLAIMS[2], comps, lead + " Seed-paired differences with 95% t-intervals:", config, tables)


def bs_label_change(setup: Setup, store: Store, seeds: list[int], ratio: float, params: dict) -> pd.Series:
    """Per seed: the fraction of the worst-case set whose BS label (θ_o's prediction on the FGSM neighbour, BS's
    preset bound) differs from y — BS moves only those samples."""
    import torch

    from .methods.bs import fgsm_neighbour_labels
    from .pipeline import Pipeline

    pipe = Pipeline(store, setup)
    out = {}
    for s in seeds:
        idx = torch.as_tensor(pipe.forget_set("worst", ratio, s).forget_idx, device=pipe.ds.device)
        lab = fgsm_neighbour_labels(pipe.original(s), pipe.ds, idx, float(params["bound"]),
                                    exclude_true_class=bool(params["exclude_true_class"]),
                                    discretize=bool(params["discretize"]))
        out[int(s)] = float((lab != pipe.ds.y_train[idx]).float().mean().item())
    return pd.Series(out, dtype=float)


def finding_2(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor) -> Finding:
    from .grid import ExperimentSpec, run_experiment
    from .methods import get_method
    from .pipeline import Pipeline

    spec = ExperimentSpec(setup=setup, methods=["retrain", *RELABEL_FREE, *RELABELING], selectors=["worst"],
                          ratios=[ratio], seeds=seeds)
    df = run_experiment(spec, store, ctx, executor=executor)
    bs_params = get_method("bs").resolve_params(Pipeline(store, setup).ds, None)
    return judge_2(df, spec.to_dict(), bs_label_change(setup, store, seeds, ratio, bs_params))


# 3 ----------------------------------------------------------------------------------------------------------
def judge_3(points: pd.DataFrame, fractions: Sequence[float], config: dict, summary: pd.DataFrame | None = None
            ) -> Finding:
    """Coreset points (strategy, kept_fraction, seed, test_acc) → finding 3: per kept fraction, the test accuracy
    of the worst-case complement minus that of a random coreset of the same size, same seed; claim > 0."""
    comps = []
    for f in fractions:
        p = points[np.isclose(points["kept_fraction"].astype(float), f)]
        comps.append(paired(f"test acc keeping {f:.0%}: worst-complement − random",
                            _per_seed(p, "test_acc", strategy="worst"), _per_seed(p, "test_acc", strategy="random"),
                            1, f"keep {f:.0%}"))
    others = sorted(set(points["strategy"]) - {"worst", "random"})
    lead = ""
    if others:
        parts = []
        for f in fractions:
            p = points[np.isclose(points["kept_fraction"].astype(float), f)]
            parts.append(f"keep {f:.0%}: " + ", ".join(
                f"{s} {_fmt(*_ms(p[p['strategy'] == s]['test_acc']))}" for s in ["worst", "random", *others]))
        lead = "Test accuracy (%), mean ± sample std over seeds — " + "; ".join(parts) + "."
    tables = {"points": points}
    if summary is not None:
        tables = {"summary": summary, **tables}
    return _judged(3, *CLAIMS[3], comps, lead + " Seed-paired differences with 95% t-intervals:", config, tables)


def finding_3(setup: Setup, store: Store, seeds: list[int], fractions: list[float], ctx: RunContext) -> Finding:
    from .analysis.coreset import coreset_curves, default_strategies
    from .pipeline import Pipeline

    res = coreset_curves(Pipeline(store, setup), fractions, seeds, default_strategies(), ctx)
    f = judge_3(res.points, fractions, {"setup": setup.to_dict(), "fractions": fractions, "seeds": seeds,
                                        "strategies": default_strategies()}, res.summary)
    f.tables["full"] = res.full
    return f


# 4 ----------------------------------------------------------------------------------------------------------
def judge_4(majority: pd.DataFrame, train_share: float, config: dict, composition: pd.DataFrame | None = None
            ) -> Finding:
    """Per-seed share (%) of the majority (bias-aligned) groups in each set (columns set, seed, percent) → finding
    4: worst − random (same seed) > 0 and worst − the training set's share > 0."""
    w = majority[majority["set"] == "worst"].set_index("seed")["percent"].astype(float)
    r = majority[majority["set"] == "random"].set_index("seed")["percent"].astype(float)
    comps = [paired("majority share (%): worst − random", w, r, 1, "vs random"),
             paired("majority share (%): worst − training set", w, pd.Series(train_share, index=w.index), 1,
                    "vs training set")]
    lead = (f"Share of the majority groups: worst-case set {_fmt(*_ms(w))}%, random sets {_fmt(*_ms(r))}%, "
            f"training set {train_share:.2f}%. Seed-paired differences with 95% t-intervals:")
    tables = {"majority_share": majority}
    if composition is not None:
        tables = {"composition": composition, **tables}
    return _judged(4, *CLAIMS[4], comps, lead, config, tables)


def group_reason(ds, setup: Setup) -> str | None:
    """Why finding 4 cannot be judged on these data (no group attribute), or None. No other data set is
    substituted: the biased-digits result appears only under its own name."""
    if ds.attributes:
        return None
    return (f"the data set '{setup.dataset}' has no group attribute (the finding needs a spurious attribute, e.g. "
            f"CelebA's gender; `reproduce --dataset biased_digits --findings 4` runs the biased-digits analogue "
            f"under its own name)")


def finding_4(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext) -> Finding:
    from .analysis.composition import TRAIN_SET, composition
    from .pipeline import Pipeline

    pipe = Pipeline(store, setup)
    config = {"setup": setup.to_dict(), "ratio": ratio, "seeds": seeds}
    reason = group_reason(pipe.ds, setup)
    if reason:
        return not_applicable(4, reason, config)
    res = composition(pipe, ("worst", "random"), ratio, seeds, None, ctx)
    maj = res.per_seed[res.per_seed["majority"]].groupby(["set", "seed"])["percent"].sum().reset_index()
    train_share = float(res.table[(res.table["set"] == TRAIN_SET) & res.table["majority"]]["percent"].sum())
    return judge_4(maj, train_share, config, res.table)


# 5 ----------------------------------------------------------------------------------------------------------
def judge_5(rhos: pd.Series, df: pd.DataFrame, config: dict, n_shadow: int) -> Finding:
    """Per-seed Spearman(loss, LiRA ASR) and Retrain rows on ``top:lira_asr`` and ``random`` → finding 5:
    ρ > 0 (one-sample t-interval) and Retrain UA on the high-ASR set − on a random set of the same size > 0
    (Chen et al. compare high-privacy-risk samples with random ones)."""
    r = df[df["method"] == "retrain"]
    comps = [paired("Spearman(loss, LiRA ASR) − 0", rhos, pd.Series(0.0, index=rhos.index), 1, "correlation"),
             paired("Retrain UA: highest-ASR − random", _per_seed(r, "UA", selector="top:lira_asr"),
                    _per_seed(r, "UA", selector="random"), 1, "easier to forget")]
    t = _selector_table(df, ["top:lira_asr", "random"])
    ti = t.set_index("selector")
    lead = (f"Spearman(loss, LiRA ASR) {_fmt(*_ms(rhos))} ({n_shadow} shadow models per seed); Retrain UA on the "
            f"highest-ASR set {_fmt(ti.at['top:lira_asr', 'UA_mean'], ti.at['top:lira_asr', 'UA_std'])} vs random "
            f"{_fmt(ti.at['random', 'UA_mean'], ti.at['random', 'UA_std'])}. Seed-paired differences with 95% "
            f"t-intervals:")
    return _judged(5, *CLAIMS[5], comps, lead, config,
                   {"spearman": pd.DataFrame({"seed": rhos.index, "spearman_loss_asr": rhos.values}),
                    "retrain_by_asr": t, "runs": df})


def finding_5(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor) -> Finding:
    """Uses the registered LiRA defaults, so the correlation and ``top:lira_asr`` share one shadow bank."""
    from scipy.stats import spearmanr

    from .grid import ExperimentSpec, run_experiment
    from .pipeline import Pipeline
    from .scores import get_score

    n_shadow = int(get_score("lira_asr").defaults["n_shadow"])
    pipe = Pipeline(store, setup)
    rhos = {}
    for i, seed in enumerate(seeds):
        sub = ctx.sub(i / (2 * len(seeds)), (i + 1) / (2 * len(seeds)))
        loss = pipe.score("loss", seed, None, None, sub).values
        asr = pipe.score("lira_asr", seed, None, None, sub).values
        rhos[int(seed)] = float(spearmanr(loss, asr).statistic)
    spec = ExperimentSpec(setup=setup, methods=["retrain"], selectors=["top:lira_asr", "random"], ratios=[ratio],
                          seeds=seeds)
    df = run_experiment(spec, store, ctx.sub(0.5, 1.0), executor=executor)
    return judge_5(pd.Series(rhos, dtype=float), df, {**spec.to_dict(), "n_shadow": n_shadow}, n_shadow)


# 6 ----------------------------------------------------------------------------------------------------------
RSU_METHODS = ("ga", "rl", "bad_t")  # Chen et al.'s Table 6 (random sets)
ORDERS = (("rsu:", "hard_to_easy"), ("", "one_shot"), ("rsu_reverse:", "easy_to_hard"))


def _order_comparisons(agg_rows: pd.DataFrame, methods: Sequence[str], selector: str, group_suffix: str
                       ) -> tuple[list[Comparison], pd.DataFrame]:
    """Per method: ToW hard→easy − one-shot > 0 and hard→easy − easy→hard > 0, seed-paired on ``selector``."""
    comps, rows = [], []
    d = agg_rows[agg_rows["selector"] == selector]
    for m in methods:
        tow = {o: _per_seed(d, "ToW", method=p + m) for p, o in ORDERS}
        g = LABELS.get(m, m) + group_suffix
        comps.append(paired("ToW: hard→easy − one-shot", tow["hard_to_easy"], tow["one_shot"], 1, g))
        comps.append(paired("ToW: hard→easy − easy→hard", tow["hard_to_easy"], tow["easy_to_hard"], 1, g))
        row = {"method": m, "selector": selector}
        for o, s in tow.items():
            row[o], row[f"{o}_std"] = _ms(s)
        row["n"] = int(min(len(s) for s in tow.values()))
        rows.append(row)
    return comps, pd.DataFrame(rows)


def rsu_budgets(ga_epochs: int, stages: int = 3) -> tuple[dict, dict]:
    """Equal budgets for one-shot and staged GA: nested stages D_1 ⊂ … ⊂ D_T of sizes t/T·|D_f| with k epochs each
    visit the forget set k·(T + 1)/2 times, so one-shot GA gets E = k·(T + 1)/2 epochs (T = 3: E = 2k).
    Returns (one-shot params, staged params); k = max(1, round(preset E · 2 / (T + 1)))."""
    k = max(1, round(ga_epochs * 2 / (stages + 1)))
    one_shot = k * (stages + 1) / 2
    if one_shot != int(one_shot):
        raise ConfigError("Equal RSU budgets need an odd number of stages.")
    return {"epochs": int(one_shot)}, {"rsu_stages": stages, "rsu_stage_epochs": k}


def judge_6(fig7: pd.DataFrame, class_selector: str, config: dict, table6: pd.DataFrame | None = None) -> Finding:
    """Runs with per-seed ToW: GA one-shot / rsu:ga / rsu_reverse:ga on ``class_selector`` (Fig. 7 analogue,
    judged) and, optionally, GA/RL/Bad-T in the three orders on random sets (Table-6 analogue, reported with its
    own sub-verdicts but not part of the verdict)."""
    comps, t7 = _order_comparisons(fig7, ["ga"], class_selector, f" ({class_selector})")
    lead = ("ToW (1 = matches Retrain), mean ± sample std: GA on " + class_selector + ": " + ", ".join(
        f"{o.replace('_', ' ')} {_fmt(t7.iloc[0][o], t7.iloc[0][f'{o}_std'])}" for _, o in ORDERS) + ".")
    tables = {"tow_fig7": t7}
    if table6 is not None and not table6.empty:
        c6, t6 = _order_comparisons(table6, RSU_METHODS, "random", " (random)")
        tables["tow_table6"] = t6
        tables["table6_verdict"] = comparisons_frame(c6)
        sv = sub_verdicts(c6)
        lead += (" Table-6 analogue (random sets, reported, not judged here): " + "; ".join(
            f"{g}: {v}" for g, v in sv.items()) + ".")
    f = _judged(6, *CLAIMS[6], comps, lead + " Fig.-7 analogue, seed-paired differences with 95% t-intervals:",
                config, tables)
    return f


def finding_6(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor,
              table6: bool = True) -> Finding:
    from .grid import ExperimentSpec, run_experiment
    from .methods import get_method
    from .pipeline import Pipeline

    ds = Pipeline(store, setup).ds
    one, staged = rsu_budgets(int(get_method("ga").default_params(ds)["epochs"]))
    cls = f"class:{ds.num_classes - 1}"  # one whole class (Chen et al.'s Fig. 7 forgets a class)
    spec7 = ExperimentSpec(setup=setup, methods=["retrain", "ga", "rsu:ga", "rsu_reverse:ga"], selectors=[cls],
                           ratios=[ratio], seeds=seeds,
                           method_params={"ga": one, "rsu:ga": staged, "rsu_reverse:ga": staged})
    df7 = run_experiment(spec7, store, ctx.sub(0, 0.4 if table6 else 1.0), executor=executor)
    df6 = None
    config = {"fig7": spec7.to_dict(), "budgets": {"one_shot": one, "staged": staged}}
    if table6:
        spec6 = ExperimentSpec(setup=setup, methods=["retrain"] + [p + m for m in RSU_METHODS for p, _ in ORDERS],
                               selectors=["random"], ratios=[ratio], seeds=seeds)
        df6 = run_experiment(spec6, store, ctx.sub(0.4, 1.0), executor=executor)
        config["table6"] = spec6.to_dict()
    f = judge_6(df7, cls, config, df6)
    f.tables["runs"] = df7 if df6 is None else pd.concat([df7, df6], ignore_index=True)
    return f


# 7 ----------------------------------------------------------------------------------------------------------
LOWEST_LOSS = "bottom:loss"
F7_METHODS = ("ft", "ga", "rl", "salun", "scrub")


def judge_7(df: pd.DataFrame, config: dict, overlaps: pd.Series | None = None) -> Finding:
    """Rows on ``worst`` and ``bottom:loss`` (per-seed gaps) → finding 7: Retrain UA and MIA worst − lowest-loss
    < 0, and per method the per-seed Avg. gap worst − lowest-loss > 0."""
    r = df[df["method"] == "retrain"]
    comps = [paired(f"Retrain {k}: worst − lowest-loss", _per_seed(r, k, selector="worst"),
                    _per_seed(r, k, selector=LOWEST_LOSS), -1, "Retrain") for k in ("UA", "MIA")]
    d = df[df["method"] != "retrain"]
    for m in [m for m in F7_METHODS if (d["method"] == m).any()]:
        comps.append(paired(f"{LABELS[m]} per-seed Avg. gap: worst − lowest-loss",
                            _per_seed(d, "avg_gap", method=m, selector="worst"),
                            _per_seed(d, "avg_gap", method=m, selector=LOWEST_LOSS), 1, LABELS[m]))
    t = _selector_table(df, ["worst", LOWEST_LOSS])
    ti = t.set_index("selector")
    lead = (f"Retrain UA worst {_fmt(ti.at['worst', 'UA_mean'], ti.at['worst', 'UA_std'])} vs lowest-loss "
            f"{_fmt(ti.at[LOWEST_LOSS, 'UA_mean'], ti.at[LOWEST_LOSS, 'UA_std'])}; MIA "
            f"{_fmt(ti.at['worst', 'MIA_mean'], ti.at['worst', 'MIA_std'])} vs "
            f"{_fmt(ti.at[LOWEST_LOSS, 'MIA_mean'], ti.at[LOWEST_LOSS, 'MIA_std'])}.")
    tables = {"retrain": t, "runs": df}
    if overlaps is not None and len(overlaps):
        mo = float(overlaps.mean())
        lead += f" Overlap of the worst-case set with the lowest-loss set: {_fmt(*_ms(overlaps))}."
        if mo >= 0.9:
            lead += (" On these data the worst case is almost exactly the lowest-loss set; the sort costs nothing.")
        tables["overlap"] = pd.DataFrame({"seed": overlaps.index, "overlap_worst_lowest_loss": overlaps.values})
    return _judged(7, *CLAIMS[7], comps, lead + " Seed-paired differences with 95% t-intervals:", config, tables)


def finding_7(setup: Setup, store: Store, seeds: list[int], ratio: float, ctx: RunContext, executor) -> Finding:
    from .grid import ExperimentSpec, run_experiment
    from .pipeline import Pipeline
    from .selectors import overlap

    spec = ExperimentSpec(setup=setup, methods=["retrain", *F7_METHODS], selectors=["worst", LOWEST_LOSS],
                          ratios=[ratio], seeds=seeds)
    df = run_experiment(spec, store, ctx, executor=executor)
    pipe = Pipeline(store, setup)
    ov = pd.Series({int(s): overlap(pipe.forget_set("worst", ratio, s).forget_idx,
                                    pipe.forget_set(LOWEST_LOSS, ratio, s).forget_idx) for s in seeds}, dtype=float)
    return judge_7(df, spec.to_dict(), ov)


# ---------------------------------------------------------------------------------------------- driver
@dataclass
class ReproduceConfig:
    setup: Setup = field(default_factory=Setup)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    ratio: float = 0.1
    fractions: list[float] = field(default_factory=lambda: [0.5, 0.7, 0.9])
    findings: list[int] = field(default_factory=lambda: list(range(1, N_FINDINGS + 1)))
    force: bool = False  # compute the findings even when θ_o does not fit its training set (verdicts stay n/a)
    table6: bool = True  # finding 6: also the random-set (Table-6) analogue for GA, RL, Bad-T

    def validate(self) -> "ReproduceConfig":
        from .config import forget_count

        if not self.seeds:
            raise ConfigError("reproduce needs at least one seed (three or more for verdicts).")
        forget_count(self.ratio, 10**9)
        bad = [f for f in self.findings if f not in range(1, N_FINDINGS + 1)]
        if bad or not self.findings:
            raise ConfigError(f"Findings are numbered 1-{N_FINDINGS}, got {self.findings}.")
        if any(not 0 < f < 1 for f in self.fractions):
            raise ConfigError("Kept fractions must be strictly between 0 and 1.")
        return self


def original_fit(setup: Setup, store: Store, seeds: list[int], ctx: RunContext = NULL_CONTEXT) -> pd.Series:
    """θ_o's accuracy on its own training set (RA, %) per seed (trains θ_o where it is not cached)."""
    from .pipeline import Pipeline
    from .training import accuracy

    pipe = Pipeline(store, setup)
    out = {}
    for i, s in enumerate(seeds):
        pipe.original(s, ctx.sub(i / len(seeds), (i + 1) / len(seeds)))
        run = store.done_run(pipe.original_key(s)) or {}
        ra = (run.get("metrics") or {}).get("train_acc")
        out[int(s)] = float(ra) if ra is not None else 100 * accuracy(pipe.original(s), pipe.ds, "train")
    return pd.Series(out, dtype=float)


def fit_reason(ra: pd.Series) -> str | None:
    """'θ_o does not fit its training set (RA x%)' when θ_o's mean RA is below 95%, else None."""
    m = float(ra.mean())
    if m < MIN_FIT_RA:
        return f"θ_o does not fit its training set (RA {m:.1f}%, below {MIN_FIT_RA:.0f}%)"
    return None


def reproduce(cfg: ReproduceConfig, store: Store, ctx: RunContext = NULL_CONTEXT, executor=None,
              on_finding: Callable[[Finding], None] | None = None) -> list[Finding]:
    """Run the chosen findings (each cached like any other result) and return them with their verdicts.

    θ_o is trained first; when it does not fit its training set (RA < 95%) every finding is "not applicable"
    (and is not computed unless ``cfg.force``)."""
    cfg.validate()
    ctx.progress(0.0, "original models")
    ra = original_fit(cfg.setup, store, cfg.seeds, ctx.sub(0, 0.05))
    unfit = fit_reason(ra)
    runners: dict[int, Callable[[RunContext], Finding]] = {
        1: lambda c: finding_1(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        2: lambda c: finding_2(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        3: lambda c: finding_3(cfg.setup, store, cfg.seeds, cfg.fractions, c),
        4: lambda c: finding_4(cfg.setup, store, cfg.seeds, cfg.ratio, c),
        5: lambda c: finding_5(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        6: lambda c: finding_6(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor, cfg.table6),
        7: lambda c: finding_7(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
    }
    out = []
    todo = sorted(set(cfg.findings))
    fit_note = "θ_o's RA per seed: " + ", ".join(f"{s}: {v:.1f}%" for s, v in ra.items())
    for i, k in enumerate(todo):
        ctx.progress(0.05 + 0.95 * i / len(todo), f"finding {k}")
        t0 = time.time()
        config = {"setup": cfg.setup.to_dict(), "seeds": cfg.seeds, "ratio": cfg.ratio}
        if unfit and not cfg.force:
            f = not_applicable(k, unfit, config)
            if k == 4:  # the more basic reason, when it applies, comes first
                from .pipeline import Pipeline

                reason = group_reason(Pipeline(store, cfg.setup).ds, cfg.setup)
                f = not_applicable(4, reason, config) if reason else f
        else:
            f = runners[k](ctx.sub(0.05 + 0.95 * i / len(todo), 0.05 + 0.95 * (i + 1) / len(todo)))
            if unfit and verdict_kind(f.verdict) != NOT_APPLICABLE:
                f.why = f"(Computed with --force; the verdict would have been '{f.verdict}'.) " + f.why
                f.verdict = f"{NOT_APPLICABLE}: {unfit}"
        f.why = f"{f.why} {fit_note}."
        f.tables["theta_o_fit"] = pd.DataFrame({"seed": ra.index, "RA_theta_o": ra.values})
        f.seconds = time.time() - t0
        out.append(f)
        ctx.log(f"finding {k}: {f.verdict} — {f.why}")
        if on_finding is not None:
            on_finding(f)
    ctx.progress(1.0, "reproduction done")
    return out


# ---------------------------------------------------------------------------------------------- forgetting quality
@dataclass
class Section:
    """A part of the report that is not a judged finding: text, tables and (optionally) verbatim Markdown."""

    title: str
    text: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    markdown: str = ""


FQ_DOC = "docs/forget_quality.md"
FQ_DOC_HEADING = "## The product's question"


def documented_question(doc_path=None) -> str:
    """The section "The product's question" of docs/forget_quality.md (its commands and measured tables), or ''
    when the file is not there (an installed package without the repository's docs)."""
    from pathlib import Path

    path = Path(doc_path) if doc_path else Path(__file__).resolve().parents[1] / FQ_DOC
    try:
        text = path.read_text()
    except OSError:
        return ""
    start = text.find(FQ_DOC_HEADING)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(FQ_DOC_HEADING))
    return text[start:end if end > 0 else None].strip()


def forget_quality_section(setup: Setup, store: Store, seeds: list[int], ratio: float) -> Section:
    """Per-example forgetting quality (Triantafillou et al. 2024: F, score; Georgiev et al. 2024: KLoM P95) of FT,
    GA, RL, SalUn, SCRUB on the random, worst-case and lowest-loss sets, with the controls, from the model banks
    stored for this setup (``compare --eval-models N``), and Spearman ρ of a forget example's ε with BLO weight,
    loss, memorization and (per set) entanglement; nothing is trained. Without banks: how to get them, and the
    numbers measured on digits (docs/forget_quality.md)."""
    from .analysis.fq_question import question_tables
    from .pipeline import Pipeline

    title = "Forgetting quality over model banks (is the worst case still the hardest?)"
    q = question_tables(Pipeline(store, setup), seeds, ratio)
    if q.per_seed.empty:
        doc = documented_question()
        cmd = (f"python -m unlearn_core compare --selectors random,worst,bottom:loss --methods "
               f"retrain,ft,ga,rl,salun,scrub --seeds {','.join(map(str, seeds))} --ratio {ratio:g} --eval-models 32")
        return Section(title, "Not computed for this setup: no model banks are stored for its random, worst-case and "
                              f"lowest-loss sets. `{cmd}` (same setup options) builds them; this report then shows "
                              "F, score and KLoM P95 per set and method with the controls, and the Spearman ρ of ε "
                              "with BLO weight, loss, memorization and entanglement."
                       + (" Below: the numbers measured on digits (docs/forget_quality.md), not this run." if doc
                          else ""), markdown=doc)
    t = q.table
    lines = []
    for sel in t["selector"].unique():
        g = t[t["selector"] == sel].set_index("method")
        part = ", ".join(f"{m} {g.at[m, 'F']:.3f}" for m in g.index)
        lines.append(f"{sel}: F {part}")
    text = (f"N = {q.n} unlearned vs N retrained models per forget set (retrain = Retrain against an independent "
            "retrain bank, the control; original = θ_o unchanged, the floor; original_seeds = θ_o's recipe over N "
            "seeds); mean ± sample std over the seeds whose banks are stored. " + "; ".join(lines) + ". Paired "
            "differences of F between the kinds with 95% t-intervals, and Spearman ρ of a forget example's ε with "
            "θ_o's quantities (within each set), in the tables.")
    tables = {"F, score, KLoM P95 per set and method": t, "F differences between kinds (seed-paired)": q.paired,
              "Spearman ρ(ε, BLO weight / loss / memorization) within each set": q.rho,
              "Spearman ρ(F of a set, its entanglement) across sets": q.rho_entanglement}
    return Section(title, text, {k: v for k, v in tables.items() if not v.empty})


def summary_frame(findings: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame([{"finding": f.number, "title": f.title, "verdict": f.verdict, "source": f.source,
                          "seconds": round(f.seconds, 1)} for f in findings])
