"""The seven findings: for each, the claim (:data:`CLAIMS`), a ``judge_N`` that turns its numbers into a verdict
(fed synthetic numbers by the tests) and a ``finding_N`` that computes those numbers through the cached pipeline."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..config import Setup
from ..context import RunContext
from ..errors import ConfigError
from ..store import Store
from .verdicts import (NOT_APPLICABLE, PAPERS, Comparison, Finding, _fmt, _judged, _ms, _per_seed,
                       comparisons_frame, paired, sub_verdicts)

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
    from ..grid import ExperimentSpec, run_experiment

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

    from ..methods.bs import fgsm_neighbour_labels
    from ..pipeline import Pipeline

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
    from ..grid import ExperimentSpec, run_experiment
    from ..methods import get_method
    from ..pipeline import Pipeline

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
    from ..analysis.coreset import coreset_curves, default_strategies
    from ..pipeline import Pipeline

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
    from ..analysis.composition import TRAIN_SET, composition
    from ..pipeline import Pipeline

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

    from ..grid import ExperimentSpec, run_experiment
    from ..pipeline import Pipeline
    from ..scores import get_score

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
    from ..grid import ExperimentSpec, run_experiment
    from ..methods import get_method
    from ..pipeline import Pipeline

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
    from ..grid import ExperimentSpec, run_experiment
    from ..pipeline import Pipeline
    from ..selectors import overlap

    spec = ExperimentSpec(setup=setup, methods=["retrain", *F7_METHODS], selectors=["worst", LOWEST_LOSS],
                          ratios=[ratio], seeds=seeds)
    df = run_experiment(spec, store, ctx, executor=executor)
    pipe = Pipeline(store, setup)
    ov = pd.Series({int(s): overlap(pipe.forget_set("worst", ratio, s).forget_idx,
                                    pipe.forget_set(LOWEST_LOSS, ratio, s).forget_idx) for s in seeds}, dtype=float)
    return judge_7(df, spec.to_dict(), ov)
