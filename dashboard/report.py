"""The reproduction report's figures (one per finding, Plotly; plotly.js embedded once, so the HTML opens offline),
registered as the core report writer's figure renderer (entry point ``forgetset.report_figures`` in
pyproject.toml). The writer itself, and the readers of stored reports, live in :mod:`unlearn_core.report`;
they are re-exported here for the pages. No Streamlit here."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from unlearn_core import report as core_report
from unlearn_core.report import (VERDICT_COLOR, fmt_number, is_seconds_column, latest_report,  # noqa: F401
                                 read_summary, verdict_counts, verdict_frame)
from unlearn_core.reproduce import Finding, verdict_kind  # noqa: F401 - the Overview colours verdicts by kind
from unlearn_core.stats import sample_std

from . import analysis_charts, style



def _bars(t: pd.DataFrame, x: str, cols: list[str], title: str, ytitle: str) -> go.Figure:
    fig = make_subplots(rows=1, cols=len(cols), subplot_titles=cols)
    for j, c in enumerate(cols):
        fig.add_trace(go.Bar(x=t[x], y=t[f"{c}_mean"], error_y=dict(type="data", array=t[f"{c}_std"].fillna(0)),
                             marker_color=[style.selector_color(str(s)) for s in t[x]], showlegend=False),
                      1, j + 1)
    fig.update_yaxes(title_text=ytitle, row=1, col=1)
    fig.update_layout(title=title, height=360, margin=dict(t=60, l=50, r=20, b=40))
    return fig


def figure(f: Finding) -> go.Figure | None:
    """The figure of one finding (from its tables)."""
    t = f.tables
    if "verdict" not in t:  # not applicable and not computed: no numbers to draw
        return None
    if f.number == 1:
        return _bars(t["retrain"], "selector", ["UA", "MIA", "RA", "TA"], "Retrain on random vs worst-case sets "
                     "(mean ± sample std over seeds)", "%")
    if f.number == 2:
        g = t["gaps"].sort_values("paired_gap_MIA_mean")
        fig = go.Figure(go.Bar(x=g["method"], y=g["paired_gap_MIA_mean"],
                               error_y=dict(type="data", array=g["paired_gap_MIA_std"].fillna(0)),
                               marker_color=["#E45756" if r else "#4C78A8" for r in g["relabeling"]]))
        fig.update_layout(title="Per-seed MIA gap to Retrain on the worst-case set, mean ± sample std over seeds "
                                "(red = relabeling methods)", yaxis_title="|MIA − Retrain's MIA| (points)", height=360)
        return fig
    if f.number == 3:
        from unlearn_core.analysis.coreset import CoresetResult

        full = t["full"]
        res = CoresetResult(t["points"], t["summary"], full, float(full["test_acc"].mean()),
                            sample_std(full["test_acc"].dropna()), 0)
        return analysis_charts.coreset_figure(res)
    if f.number == 4:
        from unlearn_core.analysis.composition import CompositionResult

        comp = t["composition"]
        return analysis_charts.composition_figure(CompositionResult(comp, pd.DataFrame(), pd.DataFrame(), "", None, True))
    if f.number == 5:
        fig = make_subplots(rows=1, cols=2, subplot_titles=["Spearman(loss, LiRA ASR) per seed",
                                                            "Retrain UA on the highest-ASR vs a random set"])
        sp = t["spearman"]
        fig.add_trace(go.Bar(x=[f"seed {s}" for s in sp["seed"]], y=sp["spearman_loss_asr"], showlegend=False,
                             marker_color="#4C78A8"), 1, 1)
        r = t["retrain_by_asr"]
        if not r.empty:
            fig.add_trace(go.Bar(x=r["selector"], y=r["UA_mean"], error_y=dict(type="data", array=r["UA_std"].fillna(0)),
                                 showlegend=False, marker_color=["#E45756", "#54A24B"]), 1, 2)
        fig.update_layout(height=360)
        return fig
    if f.number == 6:
        tow = pd.concat([t[k].assign(method=t[k]["method"] + " · " + t[k]["selector"])
                         for k in ("tow_fig7", "tow_table6") if k in t], ignore_index=True)
        fig = go.Figure()
        for col, name, color in (("hard_to_easy", "hard → easy (RSU)", "#E45756"), ("one_shot", "one shot", "#4C78A8"),
                                 ("easy_to_hard", "easy → hard", "#54A24B")):
            fig.add_trace(go.Bar(x=tow["method"], y=tow[col], name=name, marker_color=color,
                                 error_y=dict(type="data", array=tow[f"{col}_std"].fillna(0))))
        fig.update_layout(barmode="group", title="ToW by unlearning order (1 = matches Retrain)", yaxis_title="ToW",
                          height=360)
        return fig
    if f.number == 7:
        return _bars(t["retrain"], "selector", ["UA", "MIA", "RA", "TA"], "Retrain on the worst-case vs the "
                     "lowest-loss set (mean ± sample std over seeds)", "%")
    return None


def report_figures(findings: list[Finding]) -> tuple[str, dict[int, str]]:
    """The report's figure renderer (entry point ``forgetset.report_figures``): Plotly's script for the page head
    and one figure per finding that has numbers to draw."""
    import plotly.offline as po

    drawn = {}
    for f in findings:
        fig = figure(f)
        if fig is not None:
            drawn[f.number] = fig.to_html(full_html=False, include_plotlyjs=False)
    return f"<script>{po.get_plotlyjs()}</script>", drawn


def write_report(findings: list[Finding], out_dir: str | Path, title: str, meta: dict) -> Path:
    """:func:`unlearn_core.report.write_report` with this package's figures."""
    return core_report.write_report(findings, out_dir, title, meta, figures=report_figures)
