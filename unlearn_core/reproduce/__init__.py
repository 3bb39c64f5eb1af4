"""Reproduce the papers' headline findings on a data set, with verdicts computed from seed-paired statistics.

``python -m unlearn_core reproduce`` runs, on one setup (default: digits), everything the seven findings need —
through the same cached pipeline, grids and analyses as the dashboard — and returns one :class:`Finding` per
claim: its configuration, its numbers and a verdict.

How a finding is judged (science.md, "how findings are judged"): every claim is one or more
:class:`Comparison` s, each a **seed-paired difference** d_s = a_s − b_s (the two quantities measured on the same
seed, i.e. the same θ_o) with its mean and a 95% Student-t interval (``scipy.stats.t``, n − 1 degrees of
freedom). A comparison *holds* when the interval lies entirely on the paper's side of zero; otherwise it does not
(either the interval contains 0 — no clear difference — or it lies on the other side). Then:

- **holds** — every comparison of the finding holds;
- **partly holds** — some hold, some do not (per-method sub-verdicts are listed, e.g. "RL and SalUn hold, BS not");
- **does not hold** — none holds;
- **inconclusive (n < 3)** — fewer than three seeds: no interval is computed;
- **not applicable** — the data lack what the finding needs (a group attribute for finding 4), or θ_o does not
  fit its training set (RA < 95%: there is little memorized to forget, so the papers' claims do not apply).

Nothing is written by hand; tests feed synthetic numbers to the verdict functions and check that each verdict
flips when the numbers do. The report (HTML with figures, and Markdown) is rendered by ``dashboard.report``.

Modules: ``verdicts`` (comparisons, intervals, verdicts, :class:`Finding`), ``findings`` (the seven claims: a
``judge_N`` and a ``finding_N`` each), ``runner`` (:func:`reproduce` and its configuration), ``quality`` (the report's forgetting-quality section).
"""
from __future__ import annotations

from ..config import Setup
from .findings import (CLAIMS, F7_METHODS, LABELS, LOWEST_LOSS, ORDERS, RELABEL_FREE, RELABELING, RSU_METHODS,
                       bs_label_change, finding_1, finding_2, finding_3, finding_4, finding_5, finding_6, finding_7,
                       group_reason, judge_1, judge_2, judge_3, judge_4, judge_5, judge_6, judge_7, not_applicable,
                       rsu_budgets)
from .quality import FQ_DOC, Section, documented_question, forget_quality_section
from .runner import ReproduceConfig, fit_reason, original_fit, reproduce, summary_frame
from .verdicts import (CONFIDENCE, FAILS, HOLDS, INCONCLUSIVE, MIN_FIT_RA, MIN_SEEDS, N_FINDINGS, NOT_APPLICABLE,
                       NOT_RUN, PAPERS, PARTLY, VERDICTS, Comparison, Finding, combine, comparisons_frame, paired,
                       sub_verdicts, t_interval, verdict_kind, verdict_sentence)

__all__ = [
    "bs_label_change", "CLAIMS", "combine", "Comparison", "comparisons_frame", "CONFIDENCE", "F7_METHODS", "FAILS",
    "Finding", "finding_1", "finding_2", "finding_3", "finding_4", "finding_5", "finding_6", "finding_7",
    "fit_reason", "forget_quality_section", "documented_question", "FQ_DOC", "Section", "group_reason", "HOLDS", "INCONCLUSIVE", "judge_1", "judge_2", "judge_3", "judge_4", "judge_5",
    "judge_6", "judge_7", "LABELS", "LOWEST_LOSS", "MIN_FIT_RA", "MIN_SEEDS", "N_FINDINGS", "not_applicable",
    "NOT_APPLICABLE", "NOT_RUN", "ORDERS", "original_fit", "paired", "PAPERS", "PARTLY", "RELABEL_FREE",
    "RELABELING", "reproduce", "ReproduceConfig", "rsu_budgets", "RSU_METHODS", "Setup", "sub_verdicts",
    "summary_frame", "t_interval", "verdict_kind", "verdict_sentence", "VERDICTS",
]
