"""Plotly figure builders for the dashboard (pure functions of data frames; no Streamlit, no computation)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from unlearn_core.analysis.composition import TRAIN_SET

from . import glossary, style
from .captions import correlation_title
from .style import method_color, method_label, score_color, score_label, selector_color, selector_label


def base_layout(fig: go.Figure, height: int = 360, **kw) -> go.Figure:
    """Common layout: legend below, room at the top for titles (and for the toolbar, shown on hover)."""
    titled = "title" in kw or any(getattr(a, "text", None) for a in (fig.layout.annotations or ()))
    layout = dict(height=height, margin=dict(l=10, r=10, t=80 if "title" in kw else 60 if titled else 30, b=10),
                  legend=dict(orientation="h", y=-0.18), font=dict(size=13))
    layout.update(kw)
    fig.update_layout(**layout)
    return fig


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
                             marker=dict(size=10, color="rgba(0,0,0,0)", line=dict(color=style.SELECTOR_COLORS["random"],
                                                                                    width=2))))
    fig.add_trace(go.Scatter(x=pts_x[hard], y=pts_y[hard], mode="markers", name="worst-case set (hardest to forget)",
                             marker=dict(size=8, color=style.SELECTOR_COLORS["worst"])))
    fig.update_xaxes(visible=False, range=[-0.1, len(steps) * (w + gap)])
    fig.update_yaxes(visible=False, range=[-0.02, 1.05])
    return base_layout(fig, 280, plot_bgcolor="white", legend=dict(orientation="h", y=-0.02, x=0.35))


def headline(agg: pd.DataFrame, metrics=("UA", "MIA")) -> go.Figure:
    """Retrain's UA and MIA on random vs worst-case sets (mean ± sample std over seeds; no whisker for n = 1)."""
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[f"Retrain · {m} (%)" for m in metrics])
    for j, m in enumerate(metrics):
        for _, r in agg.iterrows():
            n, sd = int(r["n"]), r[f"{m}_std"]
            spread = "— (one seed)" if n < 2 or sd != sd else f"{sd:.2f}"
            fig.add_trace(go.Bar(x=[selector_label(r["selector"])], y=[r[f"{m}_mean"]],
                                 error_y=dict(type="data", array=[0 if sd != sd else sd], visible=n >= 2),
                                 marker_color=selector_color(r["selector"]), showlegend=False,
                                 hovertemplate=f"{selector_label(r['selector'])}: %{{y:.2f}}% ± {spread} "
                                               f"(n = {n}; seeds {r['seeds']})<br><br>{glossary.hover_line(m)}"
                                               "<extra></extra>"), 1, j + 1)
        fig.update_yaxes(ticksuffix="%", rangemode="tozero", row=1, col=j + 1)
    return base_layout(fig, 300)


# Log axes: one labelled tick per decade written as a power of ten (1e-06, 0.001, 1) — Plotly's default SI prefixes
# read "100μ", "100n", and its minor labels "5 100 2 5 1000 2" (issue 22, item 6).
LOG_TICKS = dict(dtick=1, exponentformat="power", showexponent="all", minor=dict(showgrid=False))
COLORBAR_PX = 220  # colour bars of short heatmaps keep this length (ticks never overlap)


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
    titles = [f"{score_label(c)}<br><sup>hard to forget: {'low' if hard_ends.get(c) == 'low' else 'high'} end</sup>"
              for c in columns]
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles, vertical_spacing=0.22 if nrows > 1 else 0.1)
    for i, c in enumerate(columns):
        r, k = divmod(i, ncols)
        v = df[c].to_numpy(dtype=float)
        log = use_log10(v) and not c.startswith("blo")  # BLO weights live in [0, 1]: linear, log counts instead
        fig.add_trace(go.Histogram(x=np.log10(np.clip(v, 1e-8, None)) if log else v, nbinsx=50,
                                   marker_color=score_color(c), showlegend=False, name=score_label(c),
                                   hovertemplate=("log10 " if log else "") + score_label(c) + " %{x}: %{y} samples"
                                   + (f"<br><br>{glossary.hover_line(c)}" if glossary.hover_line(c) else "")
                                   + "<extra></extra>"),
                      r + 1, k + 1)
        fig.update_xaxes(title_text=f"log10 {score_label(c)}" if log else score_label(c), row=r + 1, col=k + 1)
        fig.update_yaxes(title_text="samples", row=r + 1, col=k + 1)
        if c.startswith("blo"):
            fig.update_yaxes(type="log", title_text="samples (log)", row=r + 1, col=k + 1, **LOG_TICKS)
    return base_layout(fig, 300 * nrows, margin=dict(l=10, r=10, t=70, b=10))


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
                     opacity=0.7, color_discrete_sequence=style.CLASS_COLORS + style.TOL_MUTED,
                     labels={"_color": style.column_label(color), x: score_label(x), y: score_label(y),
                             "index": "sample", "pred": "prediction"},
                     category_orders={"_color": sorted(d["_color"].unique(), key=lambda s: (len(s), s))})
    fig.update_traces(marker=dict(size=6))
    if log_x:
        fig.update_xaxes(**LOG_TICKS)
    if log_y:
        fig.update_yaxes(**LOG_TICKS)
    if selected:
        s = d[d["index"].isin(selected)]
        fig.add_trace(go.Scatter(x=s[x], y=s[y], mode="markers", name="selected", hoverinfo="skip",
                                 marker=dict(size=14, color="rgba(0,0,0,0)",
                                             line=dict(color=style.SELECTED_COLOR, width=2))))
    return base_layout(fig, 460, dragmode="select")


def blo_trace(trace: pd.DataFrame) -> go.Figure:
    """BLO's convergence trace (docs/blo.md, "What other code reads"): left, the upper objective f(w) (and the mean
    θ_u loss of the top-m set where stored); right, on one 0–1 axis, the top-m set's overlap with the previous
    iteration (the stopping rule), with the starting / chance set, with θ_o's lowest-loss set and with this
    iteration's θ_u lowest-loss set (1.0 = a fixed point). Hover shows seconds and cumulative sample passes."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("upper objective f(w)", "top-m set overlap"))
    it = trace["iteration"]
    extra = [c for c in ("seconds", "sample_passes") if c in trace]
    custom = trace[extra].to_numpy(dtype=float) if extra else None
    hover = "".join(f"<br>{'seconds' if c == 'seconds' else 'sample passes (cumulative)'}: %{{customdata[{i}]:.4g}}"
                    for i, c in enumerate(extra))
    fig.add_trace(go.Scatter(x=it, y=trace["objective"], mode="lines+markers",
                             name="objective (mean loss on the set once unlearned)",
                             line=dict(color=style.OKABE_ITO["blue"]), customdata=custom,
                             hovertemplate="iteration %{x}: f(w) = %{y:.4g}" + hover + "<extra></extra>"), 1, 1)
    if "mean_loss_topm" in trace:
        fig.add_trace(go.Scatter(x=it, y=trace["mean_loss_topm"], mode="lines", name="mean loss of the top-m set",
                                 line=dict(dash="dot", color=style.OKABE_ITO["sky"])), 1, 1)
    prev = "overlap_prev" if "overlap_prev" in trace else "topm_overlap"
    for col, name, color, dash in blo_overlap_lines(prev):
        if col in trace:
            fig.add_trace(go.Scatter(x=it, y=trace[col], mode="lines+markers", name=name, line=dict(color=color, dash=dash),
                                     customdata=custom,
                                     hovertemplate=f"iteration %{{x}}: overlap {name} %{{y:.3f}}" + hover
                                     + "<extra></extra>"), 1, 2)
    fig.update_xaxes(title_text="upper iteration", dtick=1 if len(trace) <= 20 else None)
    fig.update_yaxes(title_text="mean loss on the set after unlearning it (nats)", row=1, col=1)
    fig.update_yaxes(title_text="|top-m ∩ other set| / m (0 … 1)", range=[0, 1.05], row=1, col=2)
    return base_layout(fig, 380, legend=dict(orientation="h", y=-0.3))


def blo_overlap_lines(prev: str = "overlap_prev") -> list[tuple[str, str, str, str]]:
    """(trace column, legend name, colour, dash) of the overlap lines."""
    return [(prev, "with the previous iteration", style.SELECTOR_COLORS["worst"], "solid"),
            ("overlap_start", "with the starting / chance set", style.SELECTOR_COLORS["random"], "dash"),
            ("overlap_lowloss", "with θ_o's lowest-loss set", style.OKABE_ITO["green"], "dot"),
            ("overlap_response", "with its response (the best set given θ_u)", style.OKABE_ITO["purple"], "dashdot")]


# ---------------------------------------------------------------------------------------------- why is it hard?


def why_hard_distributions(dist: pd.DataFrame, summary: pd.DataFrame | None = None,
                           selector: str | None = None) -> go.Figure:
    """Per quantity, the forget set's values against the whole training set's (box plots, one panel per quantity;
    the y axis states the unit, the title which end is hard)."""
    qs = list(dict.fromkeys(dist["quantity"]))
    ends = dict(zip(summary["quantity"], summary["hard_end"])) if summary is not None and len(summary) else {}
    titles = [score_label(q) + (f"<br><sup>hard: {ends[q]} end</sup>" if q in ends else "") for q in qs]
    fig = make_subplots(rows=1, cols=max(len(qs), 1), subplot_titles=titles, horizontal_spacing=0.06)
    set_color = selector_color(selector) if selector else style.SELECTOR_COLORS["worst"]
    for j, q in enumerate(qs):
        d = dist[dist["quantity"] == q]
        log = q in ("loss",) and use_log10(d["value"].to_numpy(dtype=float))
        for group, color in (("training set", style.TRAINING_SET_COLOR), ("forget set", set_color)):
            v = d.loc[d["group"] == group, "value"].to_numpy(dtype=float)
            fig.add_trace(go.Box(y=np.clip(v, 1e-8, None) if log else v, name=group, marker_color=color,
                                 boxpoints=False, showlegend=j == 0, legendgroup=group), 1, j + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=j + 1)
        unit = style.score_unit(q)
        fig.update_yaxes(title_text=(unit or score_label(q)) + (" (log)" if log else ""), type="log" if log else None,
                         title_font=dict(size=11), row=1, col=j + 1, **(LOG_TICKS if log else {}))
    return base_layout(fig, 380, legend=dict(orientation="h", y=-0.08), margin=dict(l=10, r=10, t=70, b=10))


def why_hard_entanglement(ent: pd.DataFrame, selector: str | None = None) -> go.Figure:
    """The set's entanglement score (a large marker) over the ES of random sets of the same size (grey points)."""
    own = ent[ent["group"] == "this set"]
    ref = ent[ent["group"] != "this set"]
    fig = go.Figure()
    if len(ref):
        fig.add_trace(go.Scatter(x=ref["es"], y=["random sets, same size"] * len(ref), mode="markers",
                                 name="random sets of the same size", marker=dict(size=10, color=style.TRAINING_SET_COLOR),
                                 hovertemplate="random draw: ES %{x:.4g}<br><br>" + glossary.hover_line("ES")
                                 + "<extra></extra>"))
    if len(own):
        fig.add_trace(go.Scatter(x=own["es"], y=["this set"] * len(own), mode="markers", name="this set",
                                 marker=dict(size=16, symbol="diamond",
                                             color=selector_color(selector) if selector else style.SELECTOR_COLORS["worst"]),
                                 hovertemplate="this set: ES %{x:.4g}<br><br>" + glossary.hover_line("ES")
                                 + "<extra></extra>"))
    vals = ent["es"].to_numpy(dtype=float)
    vals = vals[np.isfinite(vals) & (vals > 0)]
    log = len(vals) > 1 and vals.max() / vals.min() > 20
    fig.update_xaxes(title_text="ES (unitless; higher = more entangled)" + (", log axis" if log else ""),
                     type="log" if log else None,
                     **(LOG_TICKS if log else {}))
    fig.update_yaxes(type="category")
    return base_layout(fig, 220, showlegend=False, margin=dict(l=10, r=10, t=20, b=10))


def why_hard_composition(comp: pd.DataFrame, selector: str | None = None) -> go.Figure:
    """Class shares of the forget set vs the training set (%), over-representation on hover."""
    fig = go.Figure()
    x = comp["label"].astype(str)
    fig.add_trace(go.Bar(x=x, y=100 * comp["train_share"], name="training set", marker_color=style.TRAINING_SET_COLOR,
                         customdata=comp[["train_count"]].to_numpy(),
                         hovertemplate="class %{x}: %{y:.1f}% of the training set (%{customdata[0]} samples)"
                                       "<extra></extra>"))
    fig.add_trace(go.Bar(x=x, y=100 * comp["set_share"], name="forget set",
                         marker_color=selector_color(selector) if selector else style.SELECTOR_COLORS["worst"],
                         customdata=np.c_[comp["set_count"].to_numpy(), comp["over_representation"].to_numpy(float)],
                         hovertemplate="class %{x}: %{y:.1f}% of the forget set (%{customdata[0]} samples; "
                                       "%{customdata[1]:.2f}× its training share)<extra></extra>"))
    fig.update_layout(barmode="group", xaxis_title="class", yaxis_title="share of the set (%)",
                      xaxis=dict(type="category"))
    # the legend sits below the class axis' title (at y=-0.25 the two overlapped; issue 22's screenshots)
    return base_layout(fig, 340, title="Composition by class", legend=dict(orientation="h", y=-0.42),
                       margin=dict(l=10, r=10, t=80, b=40))


# ---------------------------------------------------------------------------------------------- correlations
def correlation_heatmap(mean: pd.DataFrame, text: pd.DataFrame, n: pd.DataFrame) -> go.Figure:
    """Spearman ρ between per-sample quantities: colour = mean over seeds (−1 … 1, 0 white), cell text = 'mean ±
    sample std' ('—' with one seed), hover = n. ``mean``/``text``/``n``: square frames indexed by score names."""
    labels = [score_label(q) for q in mean.index]
    nn = n.to_numpy(dtype=float)
    ok = nn[nn > 0]
    title = correlation_title(int(ok.min()) if len(ok) else 0, int(ok.max()) if len(ok) else 0)
    fig = go.Figure(go.Heatmap(z=mean.to_numpy(dtype=float), x=labels, y=labels, zmin=-1, zmax=1, zmid=0,
                               colorscale=style.CORRELATION_SCALE, text=text.to_numpy(), texttemplate="%{text}",
                               customdata=nn, colorbar=dict(title="ρ", lenmode="pixels", len=COLORBAR_PX,
                                                            thickness=14, tickvals=[-1, -0.5, 0, 0.5, 1]),
                               hovertemplate="%{y} vs %{x}: ρ = %{text}<br>n = %{customdata} seed(s)<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-30)
    return base_layout(fig, max(COLORBAR_PX + 120, 140 + 48 * len(labels)), title=title)


def overlap_heatmap(m: pd.DataFrame) -> go.Figure:
    fig = px.imshow(m.values, x=list(m.columns), y=list(m.index), zmin=0, zmax=1, color_continuous_scale="Blues",
                    text_auto=".2f", aspect="auto")
    # a short heatmap squashed its colour bar into overlapping ticks: fixed length in pixels, three ticks
    fig.update_layout(coloraxis_colorbar=dict(title="overlap", lenmode="pixels", len=COLORBAR_PX, thickness=14,
                                              tickvals=[0, 0.5, 1], ticktext=["0", "0.5", "1"]))
    return base_layout(fig, max(COLORBAR_PX + 110, 120 + 45 * len(m)), title="Overlap |A∩B| / min(|A|,|B|)")


def set_colors(names: list[str], selectors: dict[str, str] | None = None) -> dict[str, str]:
    """A colour per forget set: the colour of its selector (sets of one selector at other ratios/seeds get the
    Tol colours); the whole training set grey."""
    out, used = {}, set()
    extra = iter(style.TOL_MUTED * 4)
    for n in names:
        if n in ("all training samples", TRAIN_SET):
            out[n] = style.TRAINING_SET_COLOR
            continue
        sel = (selectors or {}).get(n)
        c = style.selector_color(sel) if sel else None
        if c is None or c in used or c == style.OKABE_ITO["grey"]:
            c = next(extra)
        used.add(c)
        out[n] = c
    return out


def class_histogram(df: pd.DataFrame, selectors: dict[str, str] | None = None) -> go.Figure:
    names = list(dict.fromkeys(df["set"]))
    fig = px.bar(df, x="class", y="count", color="set", barmode="group",
                 color_discrete_map=set_colors(names, selectors), hover_data=["share"],
                 labels={"count": "samples", "class": "class", "set": "forget set"})
    fig.update_xaxes(type="category", tickmode="linear")
    return base_layout(fig, 340, title="Samples per class")


def set_score_box(df: pd.DataFrame, selectors: dict[str, str] | None = None) -> go.Figure:
    """One panel per score: a box per set (the whole training set first). Wide-ranged scores on a log axis."""
    scores = list(dict.fromkeys(df["score"]))
    sets = list(dict.fromkeys(df["set"]))
    colors = set_colors(sets, selectors)
    fig = make_subplots(rows=1, cols=len(scores), subplot_titles=[score_label(c) for c in scores])
    for j, sc in enumerate(scores):
        sub = df[df["score"] == sc]
        log = use_log10(sub["value"].to_numpy(dtype=float)) and not sc.startswith("blo")
        for name in sets:
            v = sub.loc[sub["set"] == name, "value"].to_numpy(dtype=float)
            v = np.clip(v, 1e-8, None) if log else v
            fig.add_trace(go.Box(y=v, name=name, marker_color=colors[name], boxpoints=False,
                                 legendgroup=name, showlegend=j == 0), 1, j + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=j + 1)
        if log:
            fig.update_yaxes(type="log", row=1, col=j + 1, **LOG_TICKS)
    return base_layout(fig, 400, title="Score distributions inside each set")


def gap_heatmap(gl: pd.DataFrame, methods: list[str]) -> go.Figure:
    """Gap to Retrain per method × metric, one panel per selector; hover names n and the seeds of each cell."""
    sels = list(dict.fromkeys(gl["selector"]))
    metrics = ["UA", "MIA", "RA", "TA", "Avg. gap"]
    zmax = float(np.nanmax(gl["gap"].to_numpy())) if len(gl) else 1.0
    fig = make_subplots(rows=1, cols=len(sels), subplot_titles=[f"{selector_label(s)} set" for s in sels],
                        shared_yaxes=True)
    for j, sel in enumerate(sels):
        g = gl[gl["selector"] == sel]
        sub = g.pivot_table(index="method", columns="metric", values="gap")
        order = [m for m in methods if m in sub.index]
        sub = sub.reindex(index=order, columns=metrics)
        info = g.drop_duplicates("method").set_index("method")
        custom = [[[int(info.at[m, "n"]), str(info.at[m, "seeds"]), glossary.hover_line(k)] for k in metrics]
                  for m in order]
        fig.add_trace(go.Heatmap(z=sub.values, x=metrics, y=[method_label(m) for m in order], zmin=0,
                                 zmax=max(zmax, 1e-9), colorscale=style.GAP_SCALE, customdata=custom,
                                 text=[["" if v != v else f"{v:.2f}" for v in row] for row in sub.values],
                                 texttemplate="%{text}", showscale=j == len(sels) - 1,
                                 colorbar=dict(title="gap (pp)"),
                                 hovertemplate="%{y} · %{x}: gap %{z:.2f} percentage points<br>n = %{customdata[0]} "
                                               "(seeds %{customdata[1]})<br><br>%{customdata[2]}<extra>" + selector_label(sel)
                                               + "</extra>"),
                      1, j + 1)
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, 150 + 40 * max(1, len(methods)))


def _segments(mask: np.ndarray) -> list[np.ndarray]:
    """Runs of consecutive True positions (where a band may be drawn)."""
    out, cur = [], []
    for i, m in enumerate(mask):
        if m:
            cur.append(i)
        elif cur:
            out.append(np.array(cur))
            cur = []
    if cur:
        out.append(np.array(cur))
    return out


def ratio_sweep(agg: pd.DataFrame, metric: str, methods: list[str]) -> go.Figure:
    """Metric vs forget ratio, one panel per selector, one colour per method (the same in every panel).

    Lines are means over the seeds of each point; bands (±1 sample std) are drawn only across points with n ≥ 2
    and never join a one-seed point; one-seed points are hollow. Methods with a single ratio are left out (they
    are not lines: the caller lists them)."""
    sels = list(dict.fromkeys(agg["selector"]))
    pct = metric != "ToW"
    fig = make_subplots(rows=1, cols=max(1, len(sels)), shared_yaxes=True,
                        subplot_titles=[f"{selector_label(s)} sets" for s in sels], horizontal_spacing=0.04)
    lo_all, hi_all = [], []
    for j, sel in enumerate(sels):
        for m in methods:
            d = agg[(agg["method"] == m) & (agg["selector"] == sel)].sort_values("ratio")
            if d.empty:
                continue
            color = method_color(m)
            x = 100 * d["ratio"].to_numpy(dtype=float)
            mu, sd = d[f"{metric}_mean"].to_numpy(dtype=float), d[f"{metric}_std"].to_numpy(dtype=float)
            n = d["n"].to_numpy(dtype=int)
            ok = (n >= 2) & np.isfinite(sd)
            # a metric in % lives in [0, 100]: the ± std band is clipped there (UA cannot go below 0%)
            up_all, dn_all = (np.clip(mu + sd, 0, 100), np.clip(mu - sd, 0, 100)) if pct else (mu + sd, mu - sd)
            for seg in _segments(ok):
                xs, up, dn = x[seg], up_all[seg], dn_all[seg]
                if len(seg) == 1:  # a lone multi-seed point: an error bar, not a band
                    continue
                fig.add_trace(go.Scatter(x=np.concatenate([xs, xs[::-1]]), y=np.concatenate([up, dn[::-1]]),
                                         mode="lines", fill="toself", fillcolor=style.rgba(color, 0.15),
                                         line=dict(width=0), hoverinfo="skip", showlegend=False,
                                         legendgroup=m), 1, j + 1)
            lone = np.array([k for k in range(len(x)) if ok[k] and not any(
                len(s) > 1 and k in s for s in _segments(ok))], dtype=int)
            err = np.where(np.isin(np.arange(len(x)), lone), np.nan_to_num(sd), 0.0)
            err_up = np.minimum(err, (up_all - mu)) if pct else err
            err_dn = np.minimum(err, (mu - dn_all)) if pct else err
            spread = ["— (one seed)" if not o else f"{v:.2f}" for o, v in zip(ok, sd)]
            fig.add_trace(go.Scatter(
                x=x, y=mu, mode="lines+markers", name=method_label(m), legendgroup=m, showlegend=j == 0,
                line=dict(color=color, width=2.2),
                marker=dict(size=9, color=[color if o else "white" for o in ok], line=dict(color=color, width=2),
                            symbol="circle"),
                error_y=dict(type="data", array=np.nan_to_num(err_up), arrayminus=np.nan_to_num(err_dn),
                             visible=bool(len(lone)), color=color, thickness=1.2),
                customdata=np.stack([d["method"], d["selector"], d["ratio"], d["seeds"], n, spread], -1),
                hovertemplate=f"{method_label(m)} · {selector_label(sel)} · %{{x:g}}%: %{{y:.2f}}"
                              + ("%" if pct else "") + " ± %{customdata[5]}<br>n = %{customdata[4]} (seeds "
                              "%{customdata[3]})<br><br>" + glossary.hover_line(metric) + "<extra></extra>"), 1, j + 1)
            lo_all += list(np.nan_to_num(dn_all, nan=np.nanmin(mu)) if pct else mu - np.nan_to_num(sd))
            hi_all += list(np.nan_to_num(up_all, nan=np.nanmax(mu)) if pct else mu + np.nan_to_num(sd))
    ticks = sorted({round(100 * float(r), 6) for r in agg["ratio"].dropna()})
    fig.update_xaxes(title_text="forget ratio", ticksuffix="%", type="log" if _wide_ratios(agg) else "linear",
                     tickvals=ticks, ticktext=[f"{t:g}%" for t in ticks])  # the ratios run, no minor log labels
    ylabel = {"UA": "UA", "MIA": "MIA-efficacy", "RA": "RA", "TA": "TA", "ToW": "ToW"}.get(metric, metric)
    if lo_all:
        lo, hi = float(np.nanmin(lo_all)), float(np.nanmax(hi_all))
        padv = max(1.0 if pct else 0.02, 0.06 * (hi - lo))
        fig.update_yaxes(range=[lo - padv, hi + padv])  # lines at 0 (or 100) stay visible
    fig.update_yaxes(title_text=f"{ylabel} (%)" if pct else ylabel, ticksuffix="%" if pct else "", row=1, col=1)
    if pct:
        fig.update_yaxes(ticksuffix="%")
    return base_layout(fig, 440, legend=dict(orientation="h", y=-0.22, title_text="method"))


def _wide_ratios(agg: pd.DataFrame) -> bool:
    r = agg["ratio"].dropna().to_numpy(dtype=float)
    return len(r) > 0 and r.min() > 0 and r.max() / r.min() >= 10


def class_counts(y: np.ndarray, classes: list[str]) -> go.Figure:
    counts = np.bincount(y, minlength=len(classes))
    fig = px.bar(x=[str(c) for c in classes], y=counts, labels={"x": "class", "y": "training samples"},
                 color_discrete_sequence=[style.OKABE_ITO["blue"]])
    fig.update_xaxes(type="category", tickmode="linear")
    return base_layout(fig, 260)


# ---- coreset


# ---- composition


# ---- embeddings
