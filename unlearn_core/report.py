"""The reproduction report (``python -m unlearn_core reproduce``): report.html (self-contained), report.md and
summary.json, written atomically. The core writes the text and the tables; figures come from an optional plugin
(the entry-point group ``forgetset.report_figures``; the dashboard package provides the Plotly figures), so a
core-only install (``pip install -e .``) writes the same report without them."""
from __future__ import annotations

import html
import json
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

import pandas as pd

from .reproduce import (FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, PARTLY, Finding, Section, summary_frame,
                        verdict_kind)
from .io import atomic_write_json, atomic_write_text

VERDICT_COLOR = {HOLDS: "#1a7f37", PARTLY: "#6e7781", FAILS: "#cf222e", INCONCLUSIVE: "#9a6700",
                 NOT_APPLICABLE: "#57606a"}

# findings -> (HTML for <head>, e.g. a plotting library's script; {finding number: figure HTML})
FigureRenderer = Callable[[list[Finding]], tuple[str, dict[int, str]]]
FIGURES_GROUP = "forgetset.report_figures"


def report_figures() -> FigureRenderer | None:
    """The installed figure renderer (entry point ``forgetset.report_figures``), or None when none is installed or
    its dependencies (Plotly) are missing: the report is then written without figures."""
    for ep in entry_points(group=FIGURES_GROUP):
        try:
            return ep.load()
        except ImportError:
            continue
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


def write_report(findings: list[Finding], out_dir: str | Path, title: str, meta: dict,
                 figures: FigureRenderer | None = None, sections: list[Section] | None = None) -> Path:
    """Write report.html (self-contained), report.md and summary.json into ``out_dir``; returns the HTML path.
    ``figures`` draws one figure per finding (see :func:`report_figures`); without it the report has no figures and
    says how to get them. ``sections`` (e.g. :func:`unlearn_core.reproduce.forget_quality_section`) follow the
    findings."""
    head, drawn = figures(findings) if figures is not None else ("", {})

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
    if figures is None:
        parts.append("<p><i>Figures are drawn by the dashboard extra (pip install -e '.[dashboard]'); this report has "
                     "the tables only.</i></p>")
    md = [f"# {title}", "", f"Wall time {meta.get('wall_s', 0):.0f} s. Verdicts are computed from the numbers "
          "(seed-paired differences with 95% t-intervals, n ≥ 3).", "", summary_frame(findings).to_markdown(index=False)
          if _has_tabulate() else summary_frame(findings).to_string(index=False), ""]
    for f in findings:
        color = VERDICT_COLOR.get(verdict_kind(f.verdict), "#57606a")
        parts.append(f"<h2>{f.number}. {html.escape(f.title)} — <span style='color:{color}'>{f.verdict}</span></h2>")
        parts.append(f"<p><i>{html.escape(f.claim)}</i> ({html.escape(f.source)})</p>")
        parts.append(f"<p>{html.escape(f.why)}</p>")
        if f.number in drawn:
            parts.append(drawn[f.number])
        for name, t in f.tables.items():
            if name != "runs" and isinstance(t, pd.DataFrame) and not t.empty:
                parts.append(f"<details><summary>{html.escape(name)}</summary>{_table_html(t)}</details>")
        parts.append(f"<details><summary>configuration ({f.seconds:.0f} s)</summary><pre>"
                     f"{html.escape(json.dumps(f.config, indent=1, default=str))}</pre></details>")
        md += [f"## {f.number}. {f.title} — **{f.verdict}**", "", f"*{f.claim}* ({f.source})", "", f.why, "",
               f"Configuration: `{json.dumps(f.config, default=str)}`", ""]
    for sec in sections or []:
        parts.append(f"<h2>{html.escape(sec.title)}</h2><p>{html.escape(sec.text)}</p>")
        md += [f"## {sec.title}", "", sec.text, ""]
        for name, t in sec.tables.items():
            parts.append(f"<h3>{html.escape(name)}</h3>{_table_html(t)}")
            md += [f"### {name}", "", t.to_markdown(index=False) if _has_tabulate() else t.to_string(index=False), ""]
        if sec.markdown:
            parts.append(f"<pre>{html.escape(sec.markdown)}</pre>")
            md += [sec.markdown, ""]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#1f2328}"
            "table.num{border-collapse:collapse}table.num td,table.num th{padding:2px 8px;border-bottom:1px solid #ddd;"
            "text-align:right}pre{white-space:pre-wrap;font-size:12px}</style>"
            + head + "</head><body>" + "\n".join(parts) + "</body></html>")
    atomic_write_text(out / "report.html", page)
    atomic_write_text(out / "report.md", "\n".join(md))
    summary = {"title": title, **meta, "findings": [{"number": f.number, "title": f.title, "verdict": f.verdict,
                                                     "why": f.why, "source": f.source, "seconds": f.seconds,
                                                     "config": f.config} for f in findings],
               "sections": [{"title": sec.title, "text": sec.text} for sec in sections or []]}
    atomic_write_json(out / "summary.json", summary, indent=1, default=str)
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
