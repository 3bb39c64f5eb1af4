"""The dashboard's pages, in one table: app.py builds the navigation from it and links use its keys (PAGES).

Adding a page = its file in app_pages/ + one row here (+ a test in tests/test_app.py)."""
from __future__ import annotations

from typing import NamedTuple


class PageSpec(NamedTuple):
    key: str  # the name links use (``PAGES[key]``)
    file: str  # the page's script
    title: str
    icon: str  # a Material icon name (rendered from the bundled font: works offline)
    section: str  # the navigation group
    url_path: str | None = None  # None for the default page
    default: bool = False


NAV: tuple[PageSpec, ...] = (
    PageSpec("overview", "app_pages/overview.py", "Overview", ":material/home:", "Learn", default=True),
    PageSpec("glossary", "app_pages/glossary.py", "Glossary", ":material/menu_book:", "Learn", "glossary"),
    PageSpec("summary", "app_pages/tour_summary.py", "Demo summary", ":material/summarize:", "Learn", "demo-summary"),
    PageSpec("data", "app_pages/data_model.py", "Data & model", ":material/dataset:", "Pipeline", "data"),
    PageSpec("scores", "app_pages/scores.py", "Scores", ":material/bar_chart:", "Pipeline", "scores"),
    PageSpec("sets", "app_pages/forget_sets.py", "Forget sets", ":material/target:", "Pipeline", "forget-sets"),
    PageSpec("experiments", "app_pages/experiments.py", "Experiments", ":material/science:", "Pipeline", "experiments"),
    PageSpec("compare", "app_pages/compare.py", "Compare", ":material/balance:", "Pipeline", "compare"),
    PageSpec("coreset", "app_pages/coreset.py", "Coreset curves", ":material/show_chart:", "Analysis", "coreset"),
    PageSpec("composition", "app_pages/composition.py", "Composition", ":material/stacked_bar_chart:", "Analysis",
             "composition"),
    PageSpec("embeddings", "app_pages/embeddings.py", "Embeddings", ":material/scatter_plot:", "Analysis",
             "embeddings"),
    PageSpec("inspector", "app_pages/inspector.py", "Sample inspector", ":material/search:", "Analysis", "inspector"),
    PageSpec("forget_quality", "app_pages/forget_quality.py", "Forgetting quality", ":material/query_stats:",
             "Analysis", "forget-quality"),
    PageSpec("attack", "app_pages/attack.py", "Attack view", ":material/policy:", "Analysis", "attack"),
    PageSpec("runs", "app_pages/runs.py", "Runs", ":material/list_alt:", "Jobs", "runs"),
)

PAGES: dict[str, str] = {p.key: p.file for p in NAV}
