"""The report's forgetting-quality section (not a judged finding): F, score and KLoM over the model banks stored for
the setup, with the controls, and Spearman ρ of ε with θ_o's quantities (Triantafillou et al. 2024; Georgiev et
al. 2024)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..analysis.fq_question import question_tables
from ..config import Setup
from ..pipeline import Pipeline
from ..store import Store


@dataclass
class Section:
    """A part of the report that is not a judged finding: text, tables and (optionally) verbatim Markdown."""

    title: str
    text: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    markdown: str = ""


FQ_DOC = "docs/forget_quality.md"
FQ_DOC_HEADING = "## The product's question"


def documented_question(doc_path=None) -> str:
    """The section "The product's question" of docs/forget_quality.md (its commands and measured tables), or ''
    when the file is not there (an installed package without the repository's docs)."""
    path = Path(doc_path) if doc_path else Path(__file__).resolve().parents[2] / FQ_DOC
    try:
        text = path.read_text()
    except OSError:
        return ""
    start = text.find(FQ_DOC_HEADING)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(FQ_DOC_HEADING))
    return text[start:end if end > 0 else None].strip()


def forget_quality_section(setup: Setup, store: Store, seeds: list[int], ratio: float) -> Section:
    """Per-example forgetting quality (Triantafillou et al. 2024: F, score; Georgiev et al. 2024: KLoM P95) of FT,
    GA, RL, SalUn, SCRUB on the random, worst-case and lowest-loss sets, with the controls, from the model banks
    stored for this setup (``compare --eval-models N``), and Spearman ρ of a forget example's ε with BLO weight,
    loss, memorization and (per set) entanglement; nothing is trained. Without banks: how to get them, and the
    numbers measured in docs/forget_quality.md."""
    title = "Forgetting quality over model banks (is the worst case still the hardest?)"
    q = question_tables(Pipeline(store, setup), seeds, ratio)
    if q.per_seed.empty:
        doc = documented_question()
        cmd = (f"python -m unlearn_core compare --selectors random,worst,bottom:loss --methods "
               f"retrain,ft,ga,rl,salun,scrub --seeds {','.join(map(str, seeds))} --ratio {ratio:g} --eval-models 32")
        return Section(title, "Not computed for this setup: no model banks are stored for its random, worst-case and "
                              f"lowest-loss sets. `{cmd}` (same setup options) builds them; this report then shows "
                              "F, score and KLoM P95 per set and method with the controls, and the Spearman ρ of ε "
                              "with BLO weight, loss, memorization and entanglement."
                       + (" Below: the numbers measured on digits, the 10k gray-28 set and the CIFAR-10 subset "
                          "(docs/forget_quality.md), not this run." if doc
                          else ""), markdown=doc)
    t = q.table
    lines = []
    for sel in t["selector"].unique():
        g = t[t["selector"] == sel].set_index("method")
        part = ", ".join(f"{m} {g.at[m, 'F']:.3f}" for m in g.index)
        lines.append(f"{sel}: F {part}")
    text = (f"N = {q.n} unlearned vs N retrained models per forget set (retrain = Retrain against an independent "
            "retrain bank, the control; original = θ_o unchanged, the floor; original_seeds = θ_o's recipe over N "
            "seeds); mean ± sample std over the seeds whose banks are stored. " + "; ".join(lines) + ". Paired "
            "differences of F between the kinds with 95% t-intervals, and Spearman ρ of a forget example's ε with "
            "θ_o's quantities (within each set), in the tables.")
    tables = {"F, score, KLoM P95 per set and method": t, "F differences between kinds (seed-paired)": q.paired,
              "Spearman ρ(ε, BLO weight / loss / memorization) within each set": q.rho,
              "Spearman ρ(F of a set, its entanglement) across sets": q.rho_entanglement,
              f"What N the estimator needs (per-example mean shift |Δμ|/σ_r and spread ratio σ_u/σ_r measured at "
              f"N = {q.n}; % of forget examples the Gaussian fit would resolve at N models; retrain = noise floor)":
                  q.resolution}
    return Section(title, text, {k: v for k, v in tables.items() if not v.empty})
