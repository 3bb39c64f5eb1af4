"""Figures of the analysis pages: coreset accuracy curves (Fan et al., Challenging Forgets, Fig. 3), forget-set
composition by (label × attribute) group (Fig. 4) and 2-D embeddings of a model's penultimate features."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from unlearn_core.analysis import CompositionResult, CoresetResult
from unlearn_core.analysis.composition import TRAIN_SET
from unlearn_core.errors import ConfigError

from . import style


_COLOURS = {"worst": style.SELECTOR_COLORS["worst"], "random": style.SELECTOR_COLORS["random"],
            "easiest": style.SELECTOR_COLORS["easiest"], "el2n": style.SCORE_COLORS["el2n"],
            "grand": style.SCORE_COLORS["grand"]}


_EXTRA = list(style.TOL_MUTED)


_rgba = style.rgba


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
        fig.add_trace(go.Scatter(x=x + x[::-1], y=hi + lo[::-1], mode="lines", fill="toself",
                                 fillcolor=_rgba(colour, 0.18),
                                 line=dict(width=0), hoverinfo="skip", showlegend=False,
                                 legendgroup=strategy, name=f"{strategy} ± std"))
        fig.add_trace(go.Scatter(
            x=x, y=d["test_acc_mean"], mode="lines+markers", name=d["label"].iloc[0], legendgroup=strategy,
            line=dict(color=colour),
            customdata=np.stack([["—" if v != v or n < 2 else f"{v:.2f}" for v, n in
                                  zip(d["test_acc_std"], d["n_seeds"])], d["n_seeds"]], axis=1),
            hovertemplate="keep %{x:.0f}%<br>test acc %{y:.2f}% ± %{customdata[0]} "
                          "(n = %{customdata[1]} seeds; sample std)<extra>%{fullData.name}</extra>"))
    if np.isfinite(result.full_acc_mean):
        fig.add_hline(y=result.full_acc_mean, line_dash="dash", line_color="black",
                      annotation_text=f"all training data: {result.full_acc_mean:.2f}%",
                      annotation_position="top left")
    fig.update_layout(title=title, xaxis_title="kept fraction of the training set (%)",
                      yaxis_title="test accuracy (%)", hovermode="closest", legend_title_text="coreset")
    return fig


_SET_COLOURS = {TRAIN_SET: style.TRAINING_SET_COLOR, "worst": style.SELECTOR_COLORS["worst"],
                "easiest": style.SELECTOR_COLORS["easiest"], "random": style.SELECTOR_COLORS["random"]}


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


def embedding_figure(df: pd.DataFrame, color: str = "label", title: str | None = None,
                     hover: Sequence[str] | None = None, marker_size: int = 6, set_selector: str | None = None):
    """Plotly scattergl of x/y coloured by ``color``: categories (label, prediction, bool membership) get one
    trace each (members of a forget set drawn last, on top, in the colour of the set's selector); numbers get a
    continuous colour scale. ``set_selector``: the selector of the set an ``in:…`` column refers to."""
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
    clabel = style.column_label(color)
    tmpl = "sample %{customdata[0]}<br>" + "<br>".join(
        f"{style.column_label(c)}: %{{customdata[{i + 1}]}}" for i, c in enumerate(hover)) \
        + f"<br>{clabel}: %{{marker.color}}"
    col = df[color]
    fig = go.Figure()
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) \
        and color not in ("label", "prediction") and col.nunique() > 12
    if numeric:
        fig.add_trace(go.Scattergl(
            x=df["x"], y=df["y"], mode="markers", name=clabel, customdata=custom,
            marker=dict(size=marker_size, color=col, colorscale=style.SEQUENTIAL, showscale=True,
                        colorbar=dict(title=clabel[:24])),
            hovertemplate=tmpl + "<extra></extra>"))
    else:
        cats = list(dict.fromkeys(sorted(col.unique(), key=lambda v: (str(type(v)), v))))
        if pd.api.types.is_bool_dtype(col):
            cats = [False, True]
        for i, cat in enumerate(cats):
            m = (col == cat).to_numpy()
            if not m.any():
                continue
            name = value = str(cat)
            mstyle = dict(size=marker_size, color=style.CLASS_COLORS[i % len(style.CLASS_COLORS)])
            if pd.api.types.is_bool_dtype(col):
                value = "yes" if cat else "no"
                name = f"{clabel}: {value}"
                mstyle = dict(size=marker_size, color=style.OKABE_ITO["blue"] if cat else style.OKABE_ITO["grey"])
            elif color in ("label", "prediction") and "label_name" in df:
                name = df.loc[m, "label_name" if color == "label" else "prediction_name"].iloc[0]
                mstyle = dict(size=marker_size, color=style.CLASS_COLORS[int(cat) % len(style.CLASS_COLORS)])
            if pd.api.types.is_bool_dtype(col) and color.startswith("in:"):  # forget-set members on top
                member = style.selector_color(set_selector) if set_selector else style.SELECTOR_COLORS["worst"]
                name = "in the set" if cat else "not in the set"
                mstyle = dict(size=marker_size + (2 if cat else 0), color=member if cat else "#c7c7c7",
                              opacity=1.0 if cat else 0.5)
            fig.add_trace(go.Scattergl(
                x=df.loc[m, "x"], y=df.loc[m, "y"], mode="markers", name=name, marker=mstyle,
                customdata=custom[m] if custom is not None else None,
                hovertemplate=tmpl.replace("%{marker.color}", value) + "<extra></extra>"))
    reducer = str(df.attrs.get("reducer", "")).upper()
    fig.update_layout(title=title or f"{reducer} of penultimate features — {df.attrs.get('model', '')}",
                      xaxis_title=f"{reducer} 1", yaxis_title=f"{reducer} 2", legend_title_text=clabel[:40],
                      hovermode="closest")
    return fig
