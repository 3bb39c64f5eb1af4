"""The ``reproduce`` driver: θ_o's fit first, then each chosen finding (or "not applicable"), with progress."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from ..config import Setup
from ..context import NULL_CONTEXT, RunContext
from ..errors import ConfigError
from ..validation import Ratio
from ..store import Store
from .findings import (finding_1, finding_2, finding_3, finding_4, finding_5, finding_6, finding_7, group_reason,
                       not_applicable)
from .verdicts import MIN_FIT_RA, N_FINDINGS, NOT_APPLICABLE, Finding, verdict_kind

@dataclass
class ReproduceConfig:
    setup: Setup = field(default_factory=Setup)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    ratio: float = 0.1
    fractions: list[float] = field(default_factory=lambda: [0.5, 0.7, 0.9])
    findings: list[int] = field(default_factory=lambda: list(range(1, N_FINDINGS + 1)))
    force: bool = False  # compute the findings even when θ_o does not fit its training set (verdicts stay n/a)
    table6: bool = True  # finding 6: also the random-set (Table-6) analogue for GA, RL, Bad-T

    def validate(self) -> "ReproduceConfig":
        if not self.seeds:
            raise ConfigError("reproduce needs at least one seed (three or more for verdicts).", field="seed")
        Ratio(self.ratio)
        bad = [f for f in self.findings if f not in range(1, N_FINDINGS + 1)]
        if bad or not self.findings:
            raise ConfigError(f"Findings are numbered 1-{N_FINDINGS}, got {self.findings}.")
        if any(not 0 < f < 1 for f in self.fractions):
            raise ConfigError("Kept fractions must be strictly between 0 and 1.")
        return self


def original_fit(setup: Setup, store: Store, seeds: list[int], ctx: RunContext = NULL_CONTEXT) -> pd.Series:
    """θ_o's accuracy on its own training set (RA, %) per seed (trains θ_o where it is not cached)."""
    from ..pipeline import Pipeline
    from ..training import accuracy

    pipe = Pipeline(store, setup)
    out = {}
    for i, s in enumerate(seeds):
        pipe.original(s, ctx.sub(i / len(seeds), (i + 1) / len(seeds)))
        run = store.done_run(pipe.original_key(s)) or {}
        ra = (run.get("metrics") or {}).get("train_acc")
        out[int(s)] = float(ra) if ra is not None else 100 * accuracy(pipe.original(s), pipe.ds, "train")
    return pd.Series(out, dtype=float)


def fit_reason(ra: pd.Series) -> str | None:
    """'θ_o does not fit its training set (RA x%)' when θ_o's mean RA is below 95%, else None."""
    m = float(ra.mean())
    if m < MIN_FIT_RA:
        return f"θ_o does not fit its training set (RA {m:.1f}%, below {MIN_FIT_RA:.0f}%)"
    return None


def reproduce(cfg: ReproduceConfig, store: Store, ctx: RunContext = NULL_CONTEXT, executor=None,
              on_finding: Callable[[Finding], None] | None = None) -> list[Finding]:
    """Run the chosen findings (each cached like any other result) and return them with their verdicts.

    θ_o is trained first; when it does not fit its training set (RA < 95%) every finding is "not applicable"
    (and is not computed unless ``cfg.force``)."""
    cfg.validate()
    ctx.progress(0.0, "original models")
    ra = original_fit(cfg.setup, store, cfg.seeds, ctx.sub(0, 0.05))
    unfit = fit_reason(ra)
    runners: dict[int, Callable[[RunContext], Finding]] = {
        1: lambda c: finding_1(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        2: lambda c: finding_2(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        3: lambda c: finding_3(cfg.setup, store, cfg.seeds, cfg.fractions, c),
        4: lambda c: finding_4(cfg.setup, store, cfg.seeds, cfg.ratio, c),
        5: lambda c: finding_5(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
        6: lambda c: finding_6(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor, cfg.table6),
        7: lambda c: finding_7(cfg.setup, store, cfg.seeds, cfg.ratio, c, executor),
    }
    out = []
    todo = sorted(set(cfg.findings))
    fit_note = "θ_o's RA per seed: " + ", ".join(f"{s}: {v:.1f}%" for s, v in ra.items())
    for i, k in enumerate(todo):
        ctx.progress(0.05 + 0.95 * i / len(todo), f"finding {k}")
        t0 = time.time()
        config = {"setup": cfg.setup.to_dict(), "seeds": cfg.seeds, "ratio": cfg.ratio}
        if unfit and not cfg.force:
            f = not_applicable(k, unfit, config)
            if k == 4:  # the more basic reason, when it applies, comes first
                from ..pipeline import Pipeline

                reason = group_reason(Pipeline(store, cfg.setup).ds, cfg.setup)
                f = not_applicable(4, reason, config) if reason else f
        else:
            f = runners[k](ctx.sub(0.05 + 0.95 * i / len(todo), 0.05 + 0.95 * (i + 1) / len(todo)))
            if unfit and verdict_kind(f.verdict) != NOT_APPLICABLE:
                f.why = f"(Computed with --force; the verdict would have been '{f.verdict}'.) " + f.why
                f.verdict = f"{NOT_APPLICABLE}: {unfit}"
        f.why = f"{f.why} {fit_note}."
        f.tables["theta_o_fit"] = pd.DataFrame({"seed": ra.index, "RA_theta_o": ra.values})
        f.seconds = time.time() - t0
        out.append(f)
        ctx.log(f"finding {k}: {f.verdict} — {f.why}")
        if on_finding is not None:
            on_finding(f)
    ctx.progress(1.0, "reproduction done")
    return out


def summary_frame(findings: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame([{"finding": f.number, "title": f.title, "verdict": f.verdict, "source": f.source,
                          "seconds": round(f.seconds, 1)} for f in findings])
