"""Plotly figure builders for the dashboard (pure functions of data frames; no Streamlit, no computation)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from unlearn_core.analysis import CompositionResult, CoresetResult
from unlearn_core.analysis.composition import TRAIN_SET

SELECTOR_COLORS = {"random": "#4C78A8", "worst": "#E45756", "easiest": "#54A24B"}
PALETTE = px.colors.qualitative.Safe + px.colors.qualitative.Set2


def _layout(fig: go.Figure, height: int = 360, **kw) -> go.Figure:
    layout = dict(height=height, margin=dict(l=10, r=10, t=75 if "title" in kw else 40, b=10),
                  legend=dict(orientation="h", y=-0.18))
    layout.update(kw)
    fig.update_layout(**layout)
    return fig


def selector_color(sel: str, i: int = 0) -> str:
    return SELECTOR_COLORS.get(sel.split(" ")[0].split("+")[0], PALETTE[i % len(PALETTE)])


def pipeline_schematic() -> go.Figure:
    """The worst-case forget-set pipeline as boxes and arrows (a picture, no data)."""
    steps = [("Train θ<sub>o</sub><br>on all data", "#9ecae1"), ("Score every<br>sample", "#c6dbef"),
             ("Pick forget set<br><b>random</b> or <b>worst-case</b>", "#fdd0a2"),
             ("Unlearn<br>(FT, GA, RL, …)", "#c7e9c0"), ("Compare with<br><b>Retrain</b>", "#dadaeb")]
    fig = go.Figure()
    w, gap = 1.0, 0.35
    for i, (txt, col) in enumerate(steps):
        x0 = i * (w + gap)
        fig.add_shape(type="rect", x0=x0, x1=x0 + w, y0=0.35, y1=1.0, fillcolor=col, line=dict(color="#555"),
                      layer="below")
        fig.add_annotation(x=x0 + w / 2, y=0.675, text=txt, showarrow=False, font=dict(size=14, color="#222"))
        if i < len(steps) - 1:
            fig.add_annotation(x=x0 + w + gap - 0.02, y=0.675, ax=x0 + w + 0.02, ay=0.675, xref="x", yref="y",
                               axref="x", ayref="y", showarrow=True, arrowhead=3, arrowsize=1.2, arrowwidth=2,
                               text="")
    # the two sets below the selection step
    x_sel = 2 * (w + gap)
    rng = np.random.default_rng(3)
    pts_x = rng.uniform(x_sel + 0.05, x_sel + w - 0.05, 60)
    pts_y = rng.uniform(0.02, 0.28, 60)
    hard = np.argsort(np.abs(pts_x - (x_sel + 0.8 * w)) + np.abs(pts_y - 0.15))[:10]
    randm = rng.choice(60, 10, replace=False)
    fig.add_trace(go.Scatter(x=pts_x, y=pts_y, mode="markers", marker=dict(size=7, color="#bbb"),
                             hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=pts_x[randm], y=pts_y[randm], mode="markers", name="random set",
                             marker=dict(size=10, color="rgba(0,0,0,0)", line=dict(color=SELECTOR_COLORS["random"],
                                                                                    width=2))))
    fig.add_trace(go.Scatter(x=pts_x[hard], y=pts_y[hard], mode="markers", name="worst-case set (hardest to forget)",
                             marker=dict(size=8, color=SELECTOR_COLORS["worst"])))
    fig.update_xaxes(visible=False, range=[-0.1, len(steps) * (w + gap)])
    fig.update_yaxes(visible=False, range=[-0.02, 1.05])
    return _layout(fig, 280, plot_bgcolor="white", legend=dict(orientation="h", y=-0.02, x=0.35))


def headline(agg: pd.DataFrame, metrics=("UA", "MIA")) -> go.Figure:
    """Retrain's UA and MIA on random vs worst-case sets (mean ± std over seeds)."""
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[f"Retrain · {m} (%)" for m in metrics])
    for j, m in enumerate(metrics):
        for i, (_, r) in enumerate(agg.iterrows()):
            fig.add_trace(go.Bar(x=[r["selector"]], y=[r[f"{m}_mean"]], error_y=dict(type="data", array=[r[f"{m}_std"]]),
                                 marker_color=selector_color(r["selector"], i), showlegend=False,
                                 hovertemplate=f"{r['selector']}: %{{y:.2f}} ± {r[f'{m}_std']:.2f} "
                                               f"(seeds {r['seeds']})<extra></extra>"), 1, j + 1)
    return _layout(fig, 300)


def use_log10(v: np.ndarray) -> bool:
    """Non-negative values spanning orders of magnitude (loss, entropy of a well-fit model) read better in log10."""
    v = v[np.isfinite(v)]
    if len(v) == 0 or v.min() < 0:
        return False
    lo, hi = np.percentile(v, 10), np.percentile(v, 90)
    return hi / max(lo, 1e-8) > 100


def score_histograms(df: pd.DataFrame, columns: list[str], hard_ends: dict[str, str]) -> go.Figure:
    n = len(columns)
    ncols = min(3, n)
    nrows = (n + ncols - 1) // ncols
    titles = [f"{c}  (hard to forget: {'low' if hard_ends.get(c) == 'low' else 'high'} end)" for c in columns]
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles)
    for i, c in enumerate(columns):
        r, k = divmod(i, ncols)
        v = df[c].to_numpy(dtype=float)
        log = use_log10(v) and not c.startswith("blo")  # BLO weights live in [0, 1]: linear, log counts instead
        fig.add_trace(go.Histogram(x=np.log10(np.clip(v, 1e-8, None)) if log else v, nbinsx=50,
                                   marker_color=PALETTE[i % len(PALETTE)], showlegend=False, name=c), r + 1, k + 1)
        fig.update_xaxes(title_text=f"log10 {c}" if log else c, row=r + 1, col=k + 1)
        if c.startswith("blo"):
            fig.update_yaxes(type="log", title_text="count (log)", row=r + 1, col=k + 1)
    return _layout(fig, 280 * nrows)


def score_scatter(df: pd.DataFrame, x: str, y: str, color: str, log_x: bool, log_y: bool,
                  selected: list[int] | None = None) -> go.Figure:
    d = df.copy()
    d["_color"] = d[color].astype(str)
    hover = {c: True for c in ["index", "label", "pred"] if c in d}
    if log_x:  # zeros (a loss of exactly 0 in float32) would vanish from a log axis: clip them
        d[x] = np.clip(d[x].to_numpy(dtype=float), 1e-8, None)
    if log_y:
        d[y] = np.clip(d[y].to_numpy(dtype=float), 1e-8, None)
    fig = px.scatter(d, x=x, y=y, color="_color", custom_data=["index"], hover_data=hover, log_x=log_x, log_y=log_y,
                     opacity=0.7, color_discrete_sequence=PALETTE, labels={"_color": color},
                     category_orders={"_color": sorted(d["_color"].unique(), key=lambda s: (len(s), s))})
    fig.update_traces(marker=dict(size=6))
    if selected:
        s = d[d["index"].isin(selected)]
        fig.add_trace(go.Scatter(x=s[x], y=s[y], mode="markers", name="selected", hoverinfo="skip",
                                 marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color="black", width=2))))
    return _layout(fig, 460, dragmode="select")


def blo_trace(trace: pd.DataFrame) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("upper objective f(w)", "top-m overlap with previous iteration"))
    fig.add_trace(go.Scatter(x=trace["iteration"], y=trace["objective"], mode="lines+markers", name="objective"), 1, 1)
    fig.add_trace(go.Scatter(x=trace["iteration"], y=trace["topm_overlap"], mode="lines+markers", name="overlap",
                             line=dict(color="#E45756")), 1, 2)
    if "mean_loss_topm" in trace:
        fig.add_trace(go.Scatter(x=trace["iteration"], y=trace["mean_loss_topm"], mode="lines", name="mean loss, top-m",
                                 line=dict(dash="dot")), 1, 1)
    fig.update_xaxes(title_text="upper iteration")
    fig.update_yaxes(range=[0, 1.05], row=1, col=2)
    return _layout(fig, 340, legend=dict(orientation="h", y=-0.3))


def overlap_heatmap(m: pd.DataFrame) -> go.Figure:
    fig = px.imshow(m.values, x=list(m.columns), y=list(m.index), zmin=0, zmax=1, color_continuous_scale="Blues",
                    text_auto=".2f", aspect="auto")
    fig.update_layout(coloraxis_colorbar=dict(title="overlap"))
    return _layout(fig, 120 + 45 * len(m), title="Overlap |A∩B| / min(|A|,|B|)")


def class_histogram(df: pd.DataFrame) -> go.Figure:
    fig = px.bar(df, x="class", y="count", color="set", barmode="group", color_discrete_sequence=PALETTE,
                 hover_data=["share"])
    return _layout(fig, 340, title="Samples per class")


def set_score_box(df: pd.DataFrame) -> go.Figure:
    """One panel per score: a box per set (the whole training set first). Wide-ranged scores on a log axis."""
    scores = list(dict.fromkeys(df["score"]))
    sets = list(dict.fromkeys(df["set"]))
    fig = make_subplots(rows=1, cols=len(scores), subplot_titles=scores)
    for j, sc in enumerate(scores):
        sub = df[df["score"] == sc]
        log = use_log10(sub["value"].to_numpy(dtype=float)) and not sc.startswith("blo")
        for i, name in enumerate(sets):
            v = sub.loc[sub["set"] == name, "value"].to_numpy(dtype=float)
            v = np.clip(v, 1e-8, None) if log else v
            fig.add_trace(go.Box(y=v, name=name, marker_color=PALETTE[i % len(PALETTE)], boxpoints=False,
                                 legendgroup=name, showlegend=j == 0), 1, j + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=j + 1)
        if log:
            fig.update_yaxes(type="log", row=1, col=j + 1)
    return _layout(fig, 380, title="Score distributions inside each set")


def gap_heatmap(gl: pd.DataFrame, methods: list[str]) -> go.Figure:
    sels = list(dict.fromkeys(gl["selector"]))
    metrics = ["UA", "MIA", "RA", "TA", "Avg.Gap"]
    zmax = float(np.nanmax(gl["gap"].to_numpy())) if len(gl) else 1.0
    fig = make_subplots(rows=1, cols=len(sels), subplot_titles=[f"{s} set" for s in sels], shared_yaxes=True)
    for j, sel in enumerate(sels):
        sub = gl[gl["selector"] == sel].pivot_table(index="method", columns="metric", values="gap")
        sub = sub.reindex(index=[m for m in methods if m in sub.index], columns=metrics)
        fig.add_trace(go.Heatmap(z=sub.values, x=metrics, y=list(sub.index), zmin=0, zmax=max(zmax, 1e-9),
                                 colorscale="Reds", text=[["" if v != v else f"{v:.2f}" for v in row] for row in sub.values],
                                 texttemplate="%{text}", showscale=j == len(sels) - 1,
                                 colorbar=dict(title="gap"),
                                 hovertemplate="%{y} · %{x}: gap %{z:.2f}<extra>" + sel + "</extra>"), 1, j + 1)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, 130 + 40 * max(1, len(methods)))


def ratio_sweep(agg: pd.DataFrame, metric: str, methods: list[str]) -> go.Figure:
    fig = go.Figure()
    dashes = ["solid", "dash", "dot", "dashdot"]
    sels = list(dict.fromkeys(agg["selector"]))
    for i, m in enumerate(methods):
        color = PALETTE[i % len(PALETTE)]
        for j, sel in enumerate(sels):
            d = agg[(agg["method"] == m) & (agg["selector"] == sel)].sort_values("ratio")
            if d.empty:
                continue
            x = 100 * d["ratio"].to_numpy(dtype=float)
            mu, sd = d[f"{metric}_mean"].to_numpy(dtype=float), d[f"{metric}_std"].to_numpy(dtype=float)
            rgba = px.colors.hex_to_rgb(color) if color.startswith("#") else px.colors.unlabel_rgb(color)
            fill = f"rgba({int(rgba[0])},{int(rgba[1])},{int(rgba[2])},0.15)"
            fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([mu + sd, (mu - sd)[::-1]]),
                                     mode="lines", fill="toself", fillcolor=fill, line=dict(width=0), hoverinfo="skip",
                                     showlegend=False, legendgroup=f"{m}{sel}"))
            fig.add_trace(go.Scatter(x=x, y=mu, mode="lines+markers", name=f"{m} · {sel}", legendgroup=f"{m}{sel}",
                                     line=dict(color=color, dash=dashes[j % len(dashes)]),
                                     customdata=np.stack([d["method"], d["selector"], d["ratio"], d["seeds"]], -1),
                                     hovertemplate=f"{m} · {sel} · %{{x:.0f}}%: %{{y:.2f}} ± "
                                                   "%{text}<br>seeds %{customdata[3]}<extra></extra>",
                                     text=[f"{v:.2f}" for v in sd]))
    fig.update_xaxes(title_text="forget ratio (%)")
    fig.update_yaxes(title_text=metric)
    return _layout(fig, 420, title=f"{metric} vs forget ratio (mean ± std over seeds; dashed = other selector)")


def class_counts(y: np.ndarray, classes: list[str]) -> go.Figure:
    counts = np.bincount(y, minlength=len(classes))
    fig = px.bar(x=classes, y=counts, labels={"x": "class", "y": "training samples"})
    return _layout(fig, 240)


# ============================================================================ analysis pages (moved from the core)
# ---- coreset caption

CORESET_CAPTION = (
    "Test accuracy of a model trained from scratch (the original recipe) on a coreset that keeps the given "
    "fraction of the training set. Worst = the complement of the worst-case (hardest-to-forget) set; Random = a "
    "random subset; EL2N / GraNd = keep the samples with the highest EL2N / GraNd score (Paul et al.). Lines are "
    "means over seeds, bands ± one standard deviation; the dashed line is the model trained on all the data. "
    "A curve above Random means the removed samples were redundant: if Worst tracks EL2N/GraNd and beats "
    "Random, the worst-case forget set is the non-coreset (Fan et al., Challenging Forgets, Fig. 3)."
)

# ---- composition caption

COMPOSITION_CAPTION = (
    "Share of each (label × attribute) group in the training set and in each forget set, as a percentage of "
    "the set (bar labels: sample counts; error bars: std over seeds). ★ marks the majority group of each label "
    "(the attribute value most common for that label in the training set, i.e. the bias-aligned, easy-to-learn "
    "samples). A bar higher than the training set's bar means the selector over-picks that group. Fan et al. (Challenging Forgets) "
    "Fig. 4 finds the worst-case (hardest-to-forget) set dominated by the easy majority group (Blond + Female "
    "on CelebA): easy, redundant samples are the ones whose removal leaves no trace."
)

# ---- embeddings caption

EMBEDDINGS_CAPTION = (
    "Each point is one sample, placed by a 2-D projection (PCA or UMAP) of the model's penultimate-layer "
    "features, i.e. what the final linear layer sees. Points close together look alike to the model. Colour by "
    "label to see the class clusters, by prediction/correctness to see where the model errs, by a score to see "
    "where hard-to-forget samples lie, or by forget-set membership (highlighted on top). PCA axes are linear "
    "directions of largest variance; UMAP distances are only meaningful locally (clusters and neighbours, not "
    "distances between clusters). Compare the original model with an unlearned one: a forgotten sample should "
    "move out of its class cluster the way it does under Retrain."
)

# ---- inspector caption

INSPECTOR_CAPTION = (
    "One training sample. Scores: its value under each computed score, its rank (1 = highest value), its "
    "percentile among all training samples, and its rank from the hard-to-forget end of that score (1 = the "
    "hardest sample, e.g. lowest loss or highest BLO weight). Forget sets: which of the chosen sets hold it. "
    "Predictions: the class each model predicts and its confidence, and the probability of the true label. A "
    "sample that was forgotten well should look the way it does under Retrain (which never saw it)."
)


# ---- coreset

_COLOURS = {"worst": "#d62728", "random": "#7f7f7f", "el2n": "#1f77b4", "grand": "#2ca02c"}
_EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e"]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def coreset_figure(result: CoresetResult, title: str | None = "Coreset test accuracy"):
    """Plotly figure: mean test accuracy vs kept fraction per strategy, ± std bands, full-data dashed line."""
    
    fig = go.Figure()
    s = result.summary
    extra = iter(_EXTRA * 4)
    for strategy in dict.fromkeys(s["strategy"]):
        d = s[s["strategy"] == strategy].sort_values("kept_fraction")
        colour = _COLOURS.get(strategy) or next(extra)
        x = (100 * d["kept_fraction"]).tolist()
        hi = (d["test_acc_mean"] + d["test_acc_std"]).tolist()
        lo = (d["test_acc_mean"] - d["test_acc_std"]).tolist()
        fig.add_trace(go.Scatter(x=x + x[::-1], y=hi + lo[::-1], fill="toself", fillcolor=_rgba(colour, 0.18),
                                 line=dict(width=0), hoverinfo="skip", showlegend=False,
                                 legendgroup=strategy, name=f"{strategy} ± std"))
        fig.add_trace(go.Scatter(
            x=x, y=d["test_acc_mean"], mode="lines+markers", name=d["label"].iloc[0], legendgroup=strategy,
            line=dict(color=colour), customdata=np.stack([d["test_acc_std"], d["n_seeds"]], axis=1),
            hovertemplate="keep %{x:.0f}%<br>test acc %{y:.2f} ± %{customdata[0]:.2f} "
                          "(%{customdata[1]} seeds)<extra>%{fullData.name}</extra>"))
    if np.isfinite(result.full_acc_mean):
        fig.add_hline(y=result.full_acc_mean, line_dash="dash", line_color="black",
                      annotation_text=f"full data {result.full_acc_mean:.2f}", annotation_position="bottom right")
    fig.update_layout(title=title, xaxis_title="kept fraction of the training set (%)",
                      yaxis_title="test accuracy (%)", hovermode="closest", legend_title_text="coreset")
    return fig


# ---- composition

_SET_COLOURS = {TRAIN_SET: "#7f7f7f", "worst": "#d62728", "easiest": "#2ca02c", "random": "#1f77b4"}
_EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e"]


def composition_figure(result: CompositionResult, title: str | None = None):
    """Plotly grouped bars: x = (label × attribute) group (★ = majority), one bar per set, y = % of the set."""
    
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


# ---- embeddings

def embedding_figure(df: pd.DataFrame, color: str = "label", title: str | None = None,
                     hover: Sequence[str] | None = None, marker_size: int = 6):
    """Plotly scattergl of x/y coloured by ``color``: categories (label, prediction, bool membership) get one
    trace each (members of a forget set drawn last, on top); numbers get a continuous colour scale."""
    
    if color not in df.columns:
        raise ConfigError(f"No column '{color}' to colour by. Columns: {', '.join(df.columns)}.")
    hover = list(hover) if hover is not None else [c for c in ("label_name", "prediction_name", "confidence")
                                                    if c in df.columns]
    hover = [c for c in hover if c != color]
    cd = df[["index"] + hover].copy()
    for c in hover:
        if pd.api.types.is_float_dtype(cd[c]):
            cd[c] = cd[c].round(3)
    custom = cd.to_numpy(dtype=object) if len(df) else None
    tmpl = "sample %{customdata[0]}<br>" + "<br>".join(
        f"{c}: %{{customdata[{i + 1}]}}" for i, c in enumerate(hover)) + f"<br>{color}: %{{marker.color}}"
    col = df[color]
    fig = go.Figure()
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) \
        and color not in ("label", "prediction") and col.nunique() > 12
    if numeric:
        fig.add_trace(go.Scattergl(
            x=df["x"], y=df["y"], mode="markers", name=color, customdata=custom,
            marker=dict(size=marker_size, color=col, colorscale="Viridis", showscale=True,
                        colorbar=dict(title=color)),
            hovertemplate=tmpl + "<extra></extra>"))
    else:
        cats = list(dict.fromkeys(sorted(col.unique(), key=lambda v: (str(type(v)), v))))
        if pd.api.types.is_bool_dtype(col):
            cats = [False, True]
        for cat in cats:
            m = (col == cat).to_numpy()
            if not m.any():
                continue
            name = value = str(cat)
            if pd.api.types.is_bool_dtype(col):
                value = "yes" if cat else "no"
                name = f"{color}: {value}"
            elif color in ("label", "prediction") and "label_name" in df:
                name = df.loc[m, "label_name" if color == "label" else "prediction_name"].iloc[0]
            style = dict(size=marker_size)
            if pd.api.types.is_bool_dtype(col) and color.startswith("in:"):  # forget-set members on top, red
                style = dict(size=marker_size + (2 if cat else 0), color="#d62728" if cat else "#c7c7c7",
                             opacity=1.0 if cat else 0.5)
            fig.add_trace(go.Scattergl(
                x=df.loc[m, "x"], y=df.loc[m, "y"], mode="markers", name=name, marker=style,
                customdata=custom[m] if custom is not None else None,
                hovertemplate=tmpl.replace("%{marker.color}", value) + "<extra></extra>"))
    reducer = str(df.attrs.get("reducer", "")).upper()
    fig.update_layout(title=title or f"{reducer} of penultimate features — {df.attrs.get('model', '')}",
                      xaxis_title=f"{reducer} 1", yaxis_title=f"{reducer} 2", legend_title_text=color,
                      hovermode="closest")
    return fig

