"""Figures of the attack view: membership-signal distributions, the attack's threshold sweep, the prediction
matrix (θ_o vs unlearned vs Retrain on the forget set) and class-wise accuracy."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import glossary, style
from .charts import LOG_TICKS, base_layout


ATTACK_MODEL_NAMES = {"original": "θ_o", "unlearned": "unlearned", "retrain": "Retrain"}


ATTACK_GROUP_COLORS = {"forget": style.SELECTOR_COLORS["worst"], "retain": style.TRAINING_SET_COLOR,
                       "test": style.OKABE_ITO["blue"]}


ATTACK_STAT_LABELS = {"scaled_logit": "logit-scaled confidence log(p_y / (1 − p_y))", "confidence": "confidence p_y"}


ATTACK_AXIS_LABELS = {"scaled_logit": "log(p_y / (1 − p_y))", "confidence": "p_y"}  # short: two panels side by side


def attack_signal(signal: pd.DataFrame, statistic: str, models: Sequence[str] = ("unlearned", "retrain")) -> go.Figure:
    """Per model (a panel each), the distribution of the membership signal of forget, retain and test samples
    (probability-normalised histograms on shared bins)."""
    fig = make_subplots(rows=1, cols=len(models), shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=[ATTACK_MODEL_NAMES[m] for m in models])
    v_all = signal[statistic].to_numpy(dtype=float)
    v_all = v_all[np.isfinite(v_all)]
    lo, hi = (np.percentile(v_all, 0.5), np.percentile(v_all, 99.5)) if len(v_all) else (0, 1)
    size = (hi - lo) / 40 if hi > lo else 1.0
    for j, m in enumerate(models):
        for g in ("retain", "test", "forget"):
            v = signal.loc[(signal["model"] == m) & (signal["group"] == g), statistic].to_numpy(dtype=float)
            fig.add_trace(go.Histogram(x=np.clip(v, lo, hi), xbins=dict(start=lo, end=hi + size, size=size),
                                       histnorm="probability", name=f"{g} set", legendgroup=g, showlegend=j == 0,
                                       marker_color=ATTACK_GROUP_COLORS[g], opacity=0.55,
                                       hovertemplate=f"{g} set · {ATTACK_AXIS_LABELS[statistic]} %{{x}}: "
                                       "%{y:.1%} of the set<br><br>" + glossary.hover_line(ATTACK_AXIS_LABELS[statistic])
                                       + "<extra></extra>"), 1, j + 1)
        fig.update_xaxes(title_text=ATTACK_AXIS_LABELS[statistic], row=1, col=j + 1)
    fig.update_yaxes(title_text="share of the set", row=1, col=1)
    return base_layout(fig, 360, barmode="overlay", legend=dict(orientation="h", y=-0.25))


def attack_roc(roc: pd.DataFrame, summary: pd.DataFrame) -> go.Figure:
    """ROC of the threshold attack (forget = positives, test = negatives) per model, log FPR axis so the low-FPR
    end (where an attack matters) is readable; the diagonal = chance."""
    fig = go.Figure()
    colors = {"original": style.OKABE_ITO["grey"], "unlearned": style.OKABE_ITO["vermillion"],
              "retrain": style.OKABE_ITO["black"]}
    s = summary.set_index("model")
    for m in ("original", "unlearned", "retrain"):
        d = roc[roc["model"] == m]
        if d.empty:
            continue
        fpr = np.clip(d["fpr"].to_numpy(dtype=float), 1e-4, 1)
        fig.add_trace(go.Scatter(x=fpr, y=d["tpr"], mode="lines", line=dict(color=colors[m], width=2.2,
                                                                              dash="dot" if m == "original" else None),
                                 name=f"{ATTACK_MODEL_NAMES[m]} · AUC {s.at[m, 'auc']:.2f} · TPR@1%FPR "
                                      f"{100 * s.at[m, 'tpr@0.01']:.1f}%",
                                 hovertemplate="FPR %{x:.3%} · TPR %{y:.1%}<br><br>"
                                               + glossary.hover_line("TPR at low FPR") + "<extra></extra>"))
    grid = np.logspace(-4, 0, 50)
    fig.add_trace(go.Scatter(x=grid, y=grid, mode="lines", line=dict(color="#bbbbbb", dash="dash"), name="chance"))
    fig.add_vline(x=0.01, line=dict(color="#999999", width=1, dash="dot"))
    fig.update_xaxes(type="log", title_text="FPR (test samples called members)", **LOG_TICKS)
    fig.update_yaxes(title_text="TPR (forget samples called members)", range=[0, 1.02])
    return base_layout(fig, 380, legend=dict(orientation="h", y=-0.3))


PATTERN_ORDER = [(True, True, True), (True, False, False), (True, False, True), (True, True, False),
                 (False, False, False), (False, True, True), (False, False, True), (False, True, False)]


def prediction_matrix(pm: pd.DataFrame) -> go.Figure:
    """Forget samples (columns, grouped by their right / wrong pattern) × models (rows: θ_o, unlearned, Retrain):
    a cell is dark when that model classifies that sample correctly."""
    cols = [f"{m}_correct" for m in ("original", "unlearned", "retrain")]
    key = {p: k for k, p in enumerate(PATTERN_ORDER)}
    order = sorted(range(len(pm)), key=lambda i: (key[tuple(bool(pm[c].iloc[i]) for c in cols)],
                                                  int(pm["index"].iloc[i])))
    z = np.array([[float(pm[c].iloc[i]) for i in order] for c in cols])
    idx = [int(pm["index"].iloc[i]) for i in order]
    fig = go.Figure(go.Heatmap(z=z, x=list(range(len(idx))), y=["θ_o", "unlearned", "Retrain"], zmin=0, zmax=1,
                               colorscale=[[0, "#f3f3f3"], [0.5, "#f3f3f3"], [0.5, "#2b6cb0"], [1, "#2b6cb0"]],
                               showscale=False, customdata=np.array([idx] * 3), xgap=0.3, ygap=3,
                               hovertemplate="sample #%{customdata} · %{y}: %{z:.0f} (1 = right)<extra></extra>"))
    fig.update_xaxes(title_text="forget samples, grouped by pattern (blue = classified right)", showticklabels=False)
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, 220, margin=dict(l=10, r=10, t=20, b=40))


def classwise_accuracy(cw: pd.DataFrame, group: str) -> go.Figure:
    """Accuracy per class of one set (forget / retain / test) under θ_o, the unlearned model and Retrain."""
    d = cw[cw["group"] == group]
    fig = go.Figure()
    colors = {"original": style.OKABE_ITO["grey"], "unlearned": style.OKABE_ITO["vermillion"],
              "retrain": style.OKABE_ITO["black"]}
    for m in ("original", "unlearned", "retrain"):
        e = d[d["model"] == m]
        fig.add_trace(go.Bar(x=e["class"].astype(str), y=e["accuracy"], name=ATTACK_MODEL_NAMES[m],
                             marker_color=colors[m], customdata=e[["n"]].to_numpy(),
                             hovertemplate="class %{x}: %{y:.1f}% of %{customdata[0]} samples<extra></extra>"))
    fig.update_layout(barmode="group", xaxis=dict(type="category", title_text="class"))
    style.percent_axis(fig, "y", f"accuracy on the {group} set (%)", range=[0, 102])
    return base_layout(fig, 320, legend=dict(orientation="h", y=-0.25))
