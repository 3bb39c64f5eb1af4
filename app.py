"""forgetset dashboard: ``streamlit run app.py``.

Multipage app (st.Page + st.navigation, pages in app_pages/). The sidebar always shows the session's active data set /
model and the running jobs. All computation runs as background jobs in unlearn_core.jobs (one manager per server,
held by st.cache_resource); pages only read finished results from the store.
"""
from __future__ import annotations

import streamlit as st

from dashboard import common, images, sidebar, widgets
from dashboard.pages import NAV

# The icon is drawn locally: a Material-icon page icon makes the browser fetch it from a font CDN (fails offline).
st.set_page_config(page_title="forgetset · hard-to-unlearn samples", page_icon=images.app_icon(), layout="wide")

pages: dict[str, list] = {}
for p in NAV:  # the one table of pages (dashboard/pages.py)
    kw = {"default": True} if p.default else {"url_path": p.url_path}
    pages.setdefault(p.section, []).append(st.Page(p.file, title=p.title, icon=p.icon, **kw))
nav = st.navigation(pages)
common.mark_app_run()

common.apply_query_params()
common.manager()  # start the job manager (marks jobs of a dead server as interrupted)
widgets.flash()
if st.session_state.get("_qp_error"):
    widgets.warning(st.session_state.pop("_qp_error"))
common.sync_url()  # the setup in the address bar (pages add their own choices)
sidebar.sidebar()
nav.run()
