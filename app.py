"""forgetset dashboard: ``streamlit run app.py``.

Multipage app (st.Page + st.navigation, pages in app_pages/). The sidebar always shows the session's active data set /
model and the running jobs. All computation runs as background jobs in unlearn_core.jobs (one manager per server,
held by st.cache_resource); pages only read finished results from the store.
"""
from __future__ import annotations

import streamlit as st

from dashboard import common, images, sidebar, widgets

# The icon is drawn locally: a Material-icon page icon makes the browser fetch it from a font CDN (fails offline).
st.set_page_config(page_title="forgetset · hard-to-unlearn samples", page_icon=images.app_icon(), layout="wide")

pages = {
    "Learn": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("app_pages/glossary.py", title="Glossary", icon=":material/menu_book:", url_path="glossary"),
        st.Page("app_pages/tour_summary.py", title="Demo summary", icon=":material/summarize:",
                url_path="demo-summary"),
    ],
    "Pipeline": [
        st.Page("app_pages/data_model.py", title="Data & model", icon=":material/dataset:", url_path="data"),
        st.Page("app_pages/scores.py", title="Scores", icon=":material/bar_chart:", url_path="scores"),
        st.Page("app_pages/forget_sets.py", title="Forget sets", icon=":material/target:", url_path="forget-sets"),
        st.Page("app_pages/experiments.py", title="Experiments", icon=":material/science:", url_path="experiments"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/balance:", url_path="compare"),
    ],
    "Analysis": [
        st.Page("app_pages/coreset.py", title="Coreset curves", icon=":material/show_chart:", url_path="coreset"),
        st.Page("app_pages/composition.py", title="Composition", icon=":material/stacked_bar_chart:",
                url_path="composition"),
        st.Page("app_pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:", url_path="embeddings"),
        st.Page("app_pages/inspector.py", title="Sample inspector", icon=":material/search:", url_path="inspector"),
        st.Page("app_pages/forget_quality.py", title="Forgetting quality", icon=":material/query_stats:",
                url_path="forget-quality"),
        st.Page("app_pages/attack.py", title="Attack view", icon=":material/policy:", url_path="attack"),
    ],
    "Jobs": [
        st.Page("app_pages/runs.py", title="Runs", icon=":material/list_alt:", url_path="runs"),
    ],
}
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
