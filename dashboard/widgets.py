"""Display widgets every page uses: error / warning boxes that never render user text as Markdown, the one-time
flash message, full-width tables whose height fits their rows, plotly charts with the dashboard's toolbar, and
the points selected on a chart."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from . import glossary, style
from .safety import md_escape


def flash() -> None:
    """Show (once) the message left by the previous run, e.g. 'job started'."""
    msg = st.session_state.pop("_flash", None)
    if msg:
        st.toast(md_escape(msg), icon=":material/info:")


def error(text: str, icon: str = ":material/error:") -> None:
    """An error box whose text is shown as typed (user input inside is never rendered as Markdown)."""
    st.error(md_escape(text), icon=icon)


def warning(text: str, icon: str = ":material/warning:") -> None:
    st.warning(md_escape(text), icon=icon)


# ---------------------------------------------------------------------------------------------- tables + charts
def table_height(n_rows: int, row_height: int = 35, max_rows: int | None = 40) -> int:
    """Pixels that show ``n_rows`` rows without an inner scroll bar (up to ``max_rows``)."""
    n = n_rows if max_rows is None else min(n_rows, max_rows)
    return 40 + row_height * max(n, 1) + 6


def with_glossary_help(columns, column_config: dict | None) -> dict:
    """``column_config`` with the glossary's one-line definition as the tooltip of every column that names a term
    (UA, MIA-efficacy (%), gap RA, loss, p(true label), KLoM …) and has no tooltip of its own; a column configured
    as hidden (None) or renamed by a plain string stays as it is."""
    cfg = dict(column_config or {})
    for c in columns:
        cur = cfg.get(c, {})
        if not isinstance(cur, dict) or cur.get("help"):
            continue
        h = glossary.help_text(cur.get("label") or c)
        if h:
            cfg[c] = {**cur, "help": h} if cur else st.column_config.Column(help=h)
    return cfg


def table(df: pd.DataFrame, key: str, max_rows: int | None = 40, **kw):
    """A full-width table whose height fits its rows (no inner scrolling up to ``max_rows`` rows); every column
    that names a glossary term defines it on hover (:func:`with_glossary_help`)."""
    kw.setdefault("hide_index", True)
    kw.setdefault("placeholder", "—")  # missing values read "—", never "None"
    rh = kw.get("row_height") or 35
    frame = getattr(df, "data", df)  # a Styler holds its frame in .data
    kw["column_config"] = with_glossary_help(list(frame.columns), kw.get("column_config"))
    return st.dataframe(df, key=key, width="stretch", height=table_height(len(frame), rh, max_rows), **kw)


def plot(fig, key: str, **kw):
    """st.plotly_chart with the dashboard's toolbar settings (shown on hover, no logo, no PNG button)."""
    return st.plotly_chart(fig, key=key, config=style.PLOTLY_CONFIG, **kw)


def point_customdata(point: dict) -> list:
    """The customdata of a selected plotly point as a list (Streamlit may hand it over as list, dict or scalar)."""
    cd = point.get("customdata")
    if cd is None:
        return []
    if isinstance(cd, dict):
        return [cd[k] for k in sorted(cd, key=lambda k: int(k) if str(k).isdigit() else 0)]
    if isinstance(cd, (list, tuple)):
        return list(cd)
    return [cd]


def selected_points(event) -> list[list]:
    """customdata lists of the points selected in a st.plotly_chart(on_select="rerun") event."""
    try:
        points = event.selection.points if event and event.selection else []
    except (AttributeError, KeyError):
        return []
    return [cd for cd in (point_customdata(p) for p in points) if cd]
