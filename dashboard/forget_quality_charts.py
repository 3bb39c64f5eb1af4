"""Figures and captions of the Forgetting quality page (per-example distribution tests over model banks)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from unlearn_core.forget_quality import detectable_shift, detectable_spread_ratio

FQ_CAPTION = (
    "Per-example distribution tests compare **many** unlearned models with **many** retrained ones on every forget "
    "example — the field's strongest check of whether a sample was forgotten. **F** (Triantafillou et al., *Are we "
    "making progress in unlearning?*, 2024): per example, ε of the best threshold test telling the two banks apart "
    "from the logit-scaled confidence (δ = 1e-5), points 1, ½, ¼ … per 0.5 of ε, averaged over the forget set; "
    "1 = indistinguishable from Retrain. **score** = F × RA/RA_Retrain × TA/TA_Retrain. **KLoM** (Georgiev et al., "
    "*Attribute-to-Delete*, 2024): the 95th percentile of the KL divergence between 20-bin histograms of the margin "
    "under the two banks, on the forget set, a retain sample and the test set; 0 = identical. Controls: **retrain** "
    "is Retrain against an *independent* retrain bank (should be near F = 1), **original** is θ_o unchanged (the "
    "floor, F = 0), **original_seeds** is θ_o's recipe over N seeds (nothing unlearned). UA / MIA are the grid's "
    "one-model-per-seed metrics of the same forget set.")
ESTIMATOR_CAPTION = (
    "ε estimator: **gauss** (default) fits a Gaussian to each bank per example and shrinks the mean and log-σ "
    "differences to the edge of their 95% intervals — near 0 when the banks do not differ, at the price of missing "
    "differences smaller than the noise of N models; **threshold** is the competition's empirical test, which at "
    "small N finds chance extremes (two retrain banks already score F ≈ 0.1–0.2). See docs/forget_quality.md.")


def margin_histograms(unlearned: np.ndarray, retrained: np.ndarray, method: str, sample: int) -> go.Figure:
    """Overlaid histograms of one example's margin under the unlearned and the retrained bank."""
    fig = go.Figure()
    lo = float(min(unlearned.min(), retrained.min()))
    hi = float(max(unlearned.max(), retrained.max()))
    size = max((hi - lo) / 20, 1e-3)
    for name, v, colour in ((f"unlearned ({method})", unlearned, "#d62728"), ("retrained", retrained, "#1f77b4")):
        fig.add_trace(go.Histogram(x=v, name=f"{name} · n = {len(v)}", opacity=0.6, marker_color=colour,
                                   xbins=dict(start=lo, end=hi + size, size=size)))
    fig.update_layout(barmode="overlay", height=300, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"sample {sample}: margin z_y − logsumexp(z_others) under each model",
                      xaxis_title="margin (= log p_y − log(1 − p_y))", yaxis_title="models",
                      legend=dict(orientation="h", y=-0.3))
    return fig


def eps_histogram(eps: np.ndarray, method: str, cap: float) -> go.Figure:
    fig = go.Figure(go.Histogram(x=np.minimum(eps, cap), nbinsx=30, marker_color="#7f7f7f"))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10), title=f"ε per forget example under {method}",
                      xaxis_title="ε (capped)", yaxis_title="examples")
    return fig


SAMPLE_EPS_CAPTION = (
    "Per forget set holding this sample and per bank stored on it: the sample's ε (Triantafillou et al. 2024; "
    "gauss estimator — the threshold test beside it) between N unlearned and N retrained models, and its KLoM "
    "(Georgiev et al. 2024). ε near 0 = forgotten like Retrain; high = the unlearned models still tell it apart. "
    "**Retrain (control)** = Retrain against an independent retrain bank (the noise level); **original_seeds** = "
    "θ_o's recipe over N seeds (nothing unlearned). Pick a row for its two margin histograms.")


def bank_method_label(method: str) -> str:
    """How a bank is named in tables: the control and the baselines say what they are."""
    return {"retrain": "Retrain (control: vs an independent retrain bank)",
            "original_seeds": "original_seeds (θ_o's recipe over N seeds)",
            "original": "original (θ_o unchanged)"}.get(method, method)


def resolution_text(n_models: int) -> str:
    """What the Gaussian fit can see at N models per bank (docs/forget_quality.md, "What N the estimator needs")."""
    lo = detectable_spread_ratio(n_models)
    return (f"At N = {n_models} the gauss estimator resolves a per-example mean shift of ≥ "
            f"{detectable_shift(n_models):.2f}× the retrained models' sd and a spread ratio sd_u / sd_r outside "
            f"{lo:.2f}–{1 / lo:.2f}; smaller differences count as forgotten (mean shift at N = 32: "
            f"{detectable_shift(32):.2f}×, N = 128: {detectable_shift(128):.2f}×).")


RESOLUTION_CAPTION = (
    "What the two banks differ in, per forget example: the shift of the mean margin in units of the retrained models' "
    "sd (|Δμ| / σ_r) and the spread ratio σ_u / σ_r, medians over the forget set, and the % of examples the gauss "
    "estimator would resolve with N models per bank. Measured from the stored N, so **Retrain (control)** shows what "
    "noise alone reaches; a method's excess over it is real. Runs from one θ_o often agree far more closely than "
    "retrainings (ratio ≪ 1): the test counts that against them as much as a shifted mean.")


def resolution_display(df: pd.DataFrame) -> pd.DataFrame:
    """The resolution table with readable column names (shift / spread % per N)."""
    names = {"method": "method", "median_shift": "median |Δμ|/σ_r", "median_sd_ratio": "median σ_u/σ_r"}
    for col in df.columns:
        if col.startswith("pct_seen_at_N"):
            names[col] = f"% shift seen, N = {col.removeprefix('pct_seen_at_N')}"
        elif col.startswith("pct_spread_seen_at_N"):
            names[col] = f"% spread seen, N = {col.removeprefix('pct_spread_seen_at_N')}"
    out = df[[c for c in df.columns if c in names]].rename(columns=names)
    out["method"] = out["method"].map(bank_method_label)
    return out
