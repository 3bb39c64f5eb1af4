"""The reproduction report (``python -m unlearn_core reproduce``): one self-contained HTML file with a figure per
finding, plus the same numbers as Markdown and JSON. No Streamlit here; the figures are plotly (plotly.js is
embedded once, so the HTML opens offline)."""
from __future__ import annotations

import html
import json
import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from unlearn_core.reproduce import (FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, PARTLY, Finding, summary_frame,
                                    verdict_kind)
from unlearn_core.store import atomic_write_bytes

from . import charts, style

VERDICT_COLOR = {HOLDS: "#1a7f37", PARTLY: "#6e7781", FAILS: "#cf222e", INCONCLUSIVE: "#9a6700",
                 NOT_APPLICABLE: "#57606a"}


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
                            float(full["test_acc"].std(ddof=1)) if len(full) > 1 else float("nan"), 0)
        return charts.coreset_figure(res)
    if f.number == 4:
        from unlearn_core.analysis.composition import CompositionResult

        comp = t["composition"]
        return charts.composition_figure(CompositionResult(comp, pd.DataFrame(), pd.DataFrame(), "", None, True))
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


def is_seconds_column(name) -> bool:
    n = str(name).lower()
    return n in ("seconds", "wall_s", "time", "runtime") or n.endswith(("_s", "(s)", " s", "seconds"))


def fmt_number(v, seconds: bool = False) -> str:
    """A report cell: seconds as '6 s' / '1.2 s' / '4.5 min' (never '6.000'); whole numbers without decimals;
    other floats with 3 decimals."""
    if v is None or v != v:
        return "—"
    v = float(v)
    if seconds:
        if v >= 90:
            return f"{v / 60:.1f} min"
        return f"{v:.0f} s" if v >= 10 or v == int(v) else f"{v:.1f} s"
    return f"{v:.0f}" if v == int(v) and abs(v) < 1e15 else f"{v:.3f}"


def _table_html(df: pd.DataFrame) -> str:
    show = df.drop(columns=[c for c in ("runs",) if c in df], errors="ignore")
    fmts = {c: (lambda v, sec=is_seconds_column(c): fmt_number(v, sec)) for c in show.columns
            if pd.api.types.is_numeric_dtype(show[c]) and not pd.api.types.is_bool_dtype(show[c])}
    return show.to_html(index=False, formatters=fmts, na_rep="—", border=0, classes="num")


def write_report(findings: list[Finding], out_dir: str | Path, title: str, meta: dict) -> Path:
    """Write report.html (self-contained), report.md and summary.json into ``out_dir``; returns the HTML path."""
    import plotly.offline as po

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{html.escape(meta.get('when', time.strftime('%Y-%m-%d %H:%M')))} · wall time "
             f"{meta.get('wall_s', 0):.0f} s · verdicts are computed from seed-paired differences with 95% "
             f"t-intervals: a comparison <b>holds</b> when its interval is clear of zero in the paper's direction; a "
             f"finding <b>holds</b> when all its comparisons do, <b>partly holds</b> when some do, <b>does not "
             f"hold</b> when none does; <b>inconclusive (n &lt; 3)</b> with fewer than three seeds; <b>not "
             f"applicable</b> when the data lack what it needs or θ_o does not fit its training set.</p>",
             _table_html(summary_frame(findings))]
    md = [f"# {title}", "", f"Wall time {meta.get('wall_s', 0):.0f} s. Verdicts are computed from the numbers "
          "(seed-paired differences with 95% t-intervals, n ≥ 3).", "", summary_frame(findings).to_markdown(index=False)
          if _has_tabulate() else summary_frame(findings).to_string(index=False), ""]
    for f in findings:
        color = VERDICT_COLOR.get(verdict_kind(f.verdict), "#57606a")
        parts.append(f"<h2>{f.number}. {html.escape(f.title)} — <span style='color:{color}'>{f.verdict}</span></h2>")
        parts.append(f"<p><i>{html.escape(f.claim)}</i> ({html.escape(f.source)})</p>")
        parts.append(f"<p>{html.escape(f.why)}</p>")
        fig = figure(f)
        if fig is not None:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
        for name, t in f.tables.items():
            if name != "runs" and isinstance(t, pd.DataFrame) and not t.empty:
                parts.append(f"<details><summary>{html.escape(name)}</summary>{_table_html(t)}</details>")
        parts.append(f"<details><summary>configuration ({f.seconds:.0f} s)</summary><pre>"
                     f"{html.escape(json.dumps(f.config, indent=1, default=str))}</pre></details>")
        md += [f"## {f.number}. {f.title} — **{f.verdict}**", "", f"*{f.claim}* ({f.source})", "", f.why, "",
               f"Configuration: `{json.dumps(f.config, default=str)}`", ""]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#1f2328}"
            "table.num{border-collapse:collapse}table.num td,table.num th{padding:2px 8px;border-bottom:1px solid #ddd;"
            "text-align:right}pre{white-space:pre-wrap;font-size:12px}</style>"
            f"<script>{po.get_plotlyjs()}</script></head><body>" + "\n".join(parts) + "</body></html>")
    atomic_write_bytes(out / "report.html", page.encode())
    atomic_write_bytes(out / "report.md", "\n".join(md).encode())
    summary = {"title": title, **meta, "findings": [{"number": f.number, "title": f.title, "verdict": f.verdict,
                                                     "why": f.why, "source": f.source, "seconds": f.seconds,
                                                     "config": f.config} for f in findings]}
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1, default=str).encode())
    return out / "report.html"


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def latest_report(cache_root: str | Path) -> Path | None:
    """The newest report.html under ``<cache>/reports`` (None when there is none)."""
    root = Path(cache_root) / "reports"
    found = sorted(root.glob("*/report.html"), key=lambda p: p.stat().st_mtime, reverse=True) if root.is_dir() else []
    return found[0] if found else None


def read_summary(report_dir: str | Path) -> dict | None:
    """The report's ``summary.json`` (title, when, wall_s, setup, seeds, findings with their verdicts), or None when
    it is missing or unreadable (a report written by hand or by an older version)."""
    p = Path(report_dir) / "summary.json"
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("findings"), list) else None


def verdict_frame(summary: dict) -> pd.DataFrame:
    """One row per finding of a report summary: finding, title, verdict, why, source (plain text)."""
    rows = []
    for f in summary.get("findings") or []:
        if not isinstance(f, dict):
            continue
        rows.append({"finding": f.get("number"), "title": str(f.get("title", "")), "verdict": str(f.get("verdict", "")),
                     "why": str(f.get("why", "")), "source": str(f.get("source", ""))})
    return pd.DataFrame(rows, columns=["finding", "title", "verdict", "why", "source"])


def verdict_counts(frame: pd.DataFrame) -> str:
    """'3 hold · 1 does not hold · 2 inconclusive' (in the order of the verdict rule)."""
    counts = frame["verdict"].map(verdict_kind).value_counts() if len(frame) else pd.Series(dtype=int)
    names = {HOLDS: "hold", PARTLY: "partly hold", FAILS: "do not hold", INCONCLUSIVE: INCONCLUSIVE,
             NOT_APPLICABLE: NOT_APPLICABLE}
    parts = [f"{int(counts[v])} {names[v] if counts[v] != 1 else v}" for v in names if v in counts]
    parts += [f"{int(c)} {v}" for v, c in counts.items() if v not in names]
    return " · ".join(parts)
