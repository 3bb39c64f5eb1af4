"""Captions of the dashboard's figures: how to read each chart, which paper it follows, and one-line summaries
computed from the plotted data (plain text; the figures themselves are in ``charts``, ``analysis_charts`` and
``attack_charts``)."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from unlearn_core.analysis.hardness import CORRELATION_QUANTITIES
from unlearn_core.scores import get_score
from unlearn_core.scores.blo import sort_verdict

from .style import score_label


BLO_STOP_REASONS = {"fixed_point": "reached a fixed point (the set is its own best response and the objective "
                                   "stopped improving)",
                    "converged": "converged (the top-m set stopped changing; a result of the earlier BLO)",
                    "max_cost": "stopped at its cost cap (max_cost)", "max_iters": "stopped at its iteration cap"}


def blo_trace_caption(trace: pd.DataFrame, extras: dict) -> str:
    """How a BLO run ended: iterations, stop reason, cost in units of one original training, time; its last
    overlaps (plain text: no user input in it)."""
    last = trace.iloc[-1]
    iters = int(extras.get("iterations") or last["iteration"])
    parts = [f"{iters} upper iteration{'s' if iters != 1 else ''}"]
    reason = extras.get("stop_reason")
    if reason:
        parts.append(BLO_STOP_REASONS.get(reason, f"stopped: {reason}"))
    elif "converged" in extras:
        parts.append("converged" if extras["converged"] else "not converged")
    cost = extras.get("cost_vs_training")
    if cost is not None:
        passes = extras.get("cost_sample_passes", last.get("sample_passes"))
        parts.append(f"cost {float(cost):.3g} × one original training"
                     + (f" ({float(passes):,.0f} sample passes)" if passes is not None and passes == passes else ""))
    secs = extras.get("seconds", last.get("seconds"))
    if secs is not None and secs == secs:
        parts.append(f"took {float(secs):.1f} s" if float(secs) >= 0.1 else "took under 0.1 s")
    prev = last.get("overlap_prev", last.get("topm_overlap", float("nan")))
    text = "; ".join(parts) + (f". Last iteration: objective {float(last['objective']):.4g}, top-m overlap with the "
                               f"previous iteration {float(prev):.2f} (1.0 = the set stopped changing)")
    if "overlap_start" in last:
        text += f", with the starting / chance set {float(last['overlap_start']):.2f} (≈ m/N: the start is forgotten)"
    if "overlap_lowloss" in last:
        text += f", with θ_o's lowest-loss set {float(last['overlap_lowloss']):.2f}"
    if "overlap_response" in last and last["overlap_response"] is not None and last["overlap_response"] == last["overlap_response"]:
        text += f"; the set that defined θ_u vs its response {float(last['overlap_response']):.2f} (1.0 = a fixed point)"
    text += ". A fixed point is a set that stays the easiest after BLO's lower level unlearns it."
    verdict = sort_verdict(extras.get("overlap_lowloss", last.get("overlap_lowloss")))
    return text + (f" **{verdict[0].upper()}{verdict[1:]}**" if verdict else "")


WHY_HARD_CAPTION = (
    "Is this set hard because it is **memorized**, **entangled** with the retain set, or **low-loss**? Each panel "
    "puts the set's values (coloured) next to the whole training set's (grey). Memorization follows Feldman & Zhang "
    "(*What neural networks memorize and why*, 2020) and comes free once LiRA's shadow-model bank exists (it reuses "
    "those models: one prediction pass each); the learning-event confidence and the entanglement score follow Zhao "
    "et al., *What makes unlearning hard and what to do about it* (NeurIPS 2024), who find memorized and entangled "
    "sets harder to unlearn; loss and LiRA ASR follow Chen et al., *Machine Unlearning in Forgetting Sequence* (low "
    "= hard); the BLO weight follows Fan et al., *Challenging Forgets* (high = in the worst case). These notions of "
    "difficulty can disagree: the table says which way the set leans on each.")


def why_entanglement_caption(ent: pd.DataFrame) -> str:
    """'Entanglement (ES) of this set: 930; random sets of the same size: 1720 ± 490 (mean ± sample std over 5
    draws)…' ('—' for the spread of a single draw)."""
    own = ent[ent["group"] == "this set"]["es"]
    ref = ent[ent["group"] != "this set"]["es"]
    text = f"Entanglement (ES) of this set: {own.iloc[0]:.4g}" if len(own) else "Entanglement not computed yet"
    if len(ref):
        spread = f"{ref.std(ddof=1):.3g}" if len(ref) > 1 else "—"
        text += (f"; random sets of the same size: {ref.mean():.4g} ± {spread} (mean ± sample std over {len(ref)} "
                 f"draw{'s' if len(ref) != 1 else ''})")
        if len(own):
            frac = float((ref < own.iloc[0]).mean())
            text += (f". The set is {'more' if own.iloc[0] > ref.mean() else 'less'} entangled with the retain set "
                     f"than the average random set ({100 * frac:.0f}% of the random draws lie below it)")
    return text + (". Higher ES = the set sits inside the retain set's cloud of θ_o features (Zhao et al., NeurIPS "
                   "2024: harder to unlearn).")


def correlation_intro(quantities: Sequence[str] | None = None) -> str:
    """What the correlation matrix shows, with the papers and each quantity's hard end (from the score registry)."""
    qs = list(quantities or CORRELATION_QUANTITIES)
    ends = {"high": [], "low": []}
    for q in qs:
        ends.setdefault(get_score(q).hard_end, []).append(score_label(q))
    return ("Spearman rank correlations over the training samples between memorization (Feldman & Zhang, *What "
            "neural networks memorize and why*, 2020: free once LiRA's shadow-model bank exists), the learning-event "
            "proxies of memorization (Zhao et al., *What makes unlearning hard and what to do about it*, NeurIPS "
            "2024), θ_o's loss and LiRA ASR (Chen et al., *Machine Unlearning in Forgetting Sequence*) and the BLO "
            "weight (Fan et al., *Challenging Forgets*). One matrix per seed (its own θ_o); each cell shows the mean "
            "over the seeds ± the sample std (— with one seed). Positive = the two rank the samples alike. Hard to "
            "forget at the high end: " + (", ".join(ends["high"]) or "none") + "; at the low end: "
            + (", ".join(ends["low"]) or "none") + ".")


def correlation_title(n_min: int, n_max: int) -> str:
    n = f"{n_min}" if n_min == n_max else f"{n_min}–{n_max}"
    return f"Spearman ρ, mean over {n} seed{'s' if n_max != 1 else ''} (sample std)"


CORESET_CAPTION = (
    "Test accuracy of a model trained from scratch (the original recipe) on a coreset that keeps the given "
    "fraction of the training set. Worst = the complement of the worst-case (hardest-to-forget) set; Random = a "
    "random subset; EL2N / GraNd = keep the samples with the highest EL2N / GraNd score (Paul et al.). Lines are "
    "means over seeds, bands ± one standard deviation; the dashed line is the model trained on all the data. "
    "A curve above Random means the removed samples were redundant: if Worst tracks EL2N/GraNd and beats "
    "Random, the worst-case forget set is the non-coreset (Fan et al., Challenging Forgets, Fig. 3)."
)


COMPOSITION_CAPTION = (
    "Share of each (label × attribute) group in the training set and in each forget set, as a percentage of "
    "the set (bar labels: sample counts; error bars: std over seeds). ★ marks the majority group of each label "
    "(the attribute value most common for that label in the training set, i.e. the bias-aligned, easy-to-learn "
    "samples). A bar higher than the training set's bar means the selector over-picks that group. Fan et al. (Challenging Forgets) "
    "Fig. 4 finds the worst-case (hardest-to-forget) set dominated by the easy majority group (Blond + Female "
    "on CelebA): easy, redundant samples are the ones whose removal leaves no trace."
)


EMBEDDINGS_CAPTION = (
    "Each point is one sample, placed by a 2-D projection (PCA or UMAP) of the model's penultimate-layer "
    "features, i.e. what the final linear layer sees. Points close together look alike to the model. Colour by "
    "label to see the class clusters, by prediction/correctness to see where the model errs, by a score to see "
    "where hard-to-forget samples lie, or by forget-set membership (highlighted on top). PCA axes are linear "
    "directions of largest variance; UMAP distances are only meaningful locally (clusters and neighbours, not "
    "distances between clusters). Compare the original model with an unlearned one: a forgotten sample should "
    "move out of its class cluster the way it does under Retrain."
)


INSPECTOR_CAPTION = (
    "One training sample and why it is hard (or easy) to forget: (1) the built forget sets that hold it and the "
    "unlearning runs made on each; (2) its loss (−log p(true label)) and confidence under θ_o and every stored "
    "unlearned model, marked where the model had to forget it — forgotten well means it looks the way it does under "
    "Retrain on the same set; (3) the training samples nearest to it in θ_o's penultimate features, which keep "
    "teaching the model what it taught if they stay in the retain set; (4) every computed score with its rank from "
    "the hard-to-forget end (1 = hardest, e.g. lowest loss or highest BLO weight) and its percentile."
)


def correlation_caption(n: pd.DataFrame) -> str:
    """How to read the matrix: n per cell, '—' with one seed, and whether cells differ in n."""
    vals = n.to_numpy(dtype=float)
    vals = vals[vals > 0]
    lo, hi = (int(vals.min()), int(vals.max())) if len(vals) else (0, 0)
    text = (f"Colour and number: Spearman ρ, mean over the seeds ± sample std; n = {lo} seed{'s' if hi != 1 else ''}"
            if lo == hi else f"Colour and number: Spearman ρ, mean over the seeds ± sample std; cells differ in n "
                             f"({lo}–{hi} seeds: a quantity is missing for some seeds), hover a cell for its n")
    if lo == 1 or hi == 1:
        text += "; ‘—’ = one seed, no spread"
    return text + "."
