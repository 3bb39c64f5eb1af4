"""Fast tests of the dashboard's Streamlit-free helpers: escaping and server paths (safety), stage timelines and
ETAs (progress), the palette and names (style), honest Table-3 cells (tables) and the ratio-sweep figure (charts)."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from dashboard import charts, progress, safety, style, tables
from unlearn_core.jobs.demo import DEMO_STAGES


# ---------------------------------------------------------------------------------------------- safety
def _unescaped(md: str, chars: str) -> list[str]:
    """Characters of ``chars`` in ``md`` not preceded by a backslash (what Markdown would interpret)."""
    out, i = [], 0
    while i < len(md):
        if md[i] == "\\":
            i += 2
            continue
        if md[i] in chars:
            out.append(md[i])
        i += 1
    return out


@pytest.mark.parametrize("text", ["npz:![x](http://evil.example/a.png)", "<img src=http://evil.example/b>",
                                  "[click](http://evil.example)", "see http://evil.example/c and www.evil.example",
                                  "**bold** _it_ `code` $x$ # head", "a\\](b)"])
def test_md_escape_leaves_no_image_link_or_html(text):
    md = safety.md_escape(text)
    assert _unescaped(md, "![]()<>*_`$#:") == []  # every Markdown/HTML metacharacter is escaped
    assert "http:" not in md and "www." not in md  # autolink triggers broken (zero-width joiner)
    assert md.replace("\\", "").replace("\u200d", "") == text.replace("\\", "")  # reads the same


def test_code_span_is_literal():
    span = safety.code_span("a`b![x](http://e/)")
    assert span.startswith("``") and span.endswith("``") and "a`b" in span


# ---------------------------------------------------------------------------------------------- progress / ETA
def test_parse_eta_forms():
    assert progress.parse_eta("BLO iteration 3/20 · ETA 2 min") == 120
    assert progress.parse_eta("eta: 45s") == 45
    assert progress.parse_eta("about 3 min left") == 180
    assert progress.parse_eta("~1.5 h remaining") == 5400
    assert progress.parse_eta("epoch 3/30") is None


def _demo_job(progress_: float, stage_starts: list[float], status="running", **kw) -> dict:
    t0 = stage_starts[0]
    log = [time.strftime("%H:%M:%S", time.localtime(t)) + f"  stage {i + 1}/{len(DEMO_STAGES)}: {DEMO_STAGES[i][1]}"
           for i, t in enumerate(stage_starts)]
    return {"status": status, "progress": progress_, "started": t0, "created": t0, "finished": None,
            "message": kw.pop("message", "working"), "log": log, **kw}


def test_timeline_states_durations_and_pace():
    now = time.time()
    starts = [now - 200, now - 150, now - 148, now - 100, now - 98]  # stages 1–5 started; 5 (seed0) running
    job = _demo_job(0.41, starts)
    typical = {"original": 25, "scores": 2, "blo": 24, "sets": 2, "seed0": 80, "seeds": 200, "sweep": 400}
    rows, left, source = progress.timeline(job, DEMO_STAGES, typical, now=now)
    states = [r.state for r in rows]
    assert states == ["done", "done", "done", "done", "running", "pending", "pending"]
    assert rows[0].took_s == pytest.approx(50, abs=1.5) and rows[2].took_s == pytest.approx(48, abs=1.5)
    assert rows[4].elapsed_s == pytest.approx(98, abs=1.5)
    assert source == "at this run's pace"  # stages took ~2× typical: later ones are scaled up
    assert rows[6].left_s > rows[5].left_s > rows[4].left_s > 0 and left == pytest.approx(rows[6].left_s)
    assert rows[5].left_s - rows[4].left_s > 300  # 'seeds' typical 200 s × pace ≈ 2


def test_timeline_prefers_the_job_s_own_estimate():
    now = time.time()
    job = _demo_job(0.2, [now - 30, now - 10, now - 9], message="BLO iteration 4/20 · ETA 5 min")
    rows, left, source = progress.timeline(job, DEMO_STAGES, {"blo": 30}, now=now)
    assert source == "reported by the job" and left == 300
    assert rows[-1].left_s == pytest.approx(300)
    job = _demo_job(0.2, [now - 30, now - 10, now - 9], estimate={"remaining_s": 42.0})
    assert progress.timeline(job, DEMO_STAGES, {}, now=now)[1] == 42.0


def test_history_from_earlier_runs_skips_cached_stages():
    now = time.time()
    starts = [now - 700 + 100 * i for i in range(7)]
    done = _demo_job(1.0, starts, status="done", finished=now)
    cached = _demo_job(1.0, [now - 10 + i for i in range(7)], status="done", finished=now - 2)
    h = progress.history([done, cached], DEMO_STAGES)
    assert h["original"] == pytest.approx(100, abs=1.5) and h["sweep"] == pytest.approx(100, abs=1.5)


def test_fmt_duration():
    assert progress.fmt_duration(42) == "42 s"
    assert progress.fmt_duration(150) == "2.5 min"
    assert progress.fmt_duration(3900) == "1 h 5 min"


# ---------------------------------------------------------------------------------------------- style
def test_one_palette_colour_blind_safe_and_stable():
    allowed = set(style.OKABE_ITO.values()) | set(style.TOL_MUTED) | {"#882255"}
    assert style.selector_color("worst") == style.selector_color("worst+strat") == style.SELECTOR_COLORS["worst"]
    assert style.selector_color("random") != style.selector_color("worst")
    cols = [style.method_color(m) for m in ["retrain", "ft", "ga", "rl", "l1_sparse"]]
    assert len(set(cols)) == 5 and set(cols) <= allowed
    assert style.method_color("ft {\"lr\": 0.1}") == style.method_color("ft")
    from unlearn_core.methods import method_names

    assert {style.method_color(m) for m in method_names()} <= allowed


def test_display_names():
    assert style.method_label("l1_sparse") == "ℓ1-sparse"
    assert style.method_label('ft {"lr": 0.01}') == "FT (lr=0.01)"
    assert style.score_label("blo@0.1") == "BLO worst-case weight (10% set)"
    assert style.score_label("loss") == "Loss"
    assert style.selector_label("worst") == "worst-case"
    assert style.ratio_label(0.05) == "5%"
    for k in ("UA", "MIA", "RA", "TA", "ToW", "BLO", "Avg. gap"):
        assert style.GLOSSARY[k]


# ---------------------------------------------------------------------------------------------- honest tables
def _runs(rows) -> pd.DataFrame:
    out = []
    for sel, method, seed, ua in rows:
        out.append({"dataset": "digits", "model": "mlp", "selector": sel, "method": method, "ratio": 0.1,
                    "seed": seed, "UA": ua, "RA": 99.0, "TA": 95.0, "MIA": ua / 2, "runtime_s": 1.0, "params": "{}",
                    "blo": "", "setup_id": "s", "setup": "digits", "train": "{}", "key": f"{sel}{method}{seed}",
                    "finished": seed})
    from unlearn_core.results import with_gaps

    return with_gaps(pd.DataFrame(out))


def test_table3_one_seed_and_three_seed_rows_side_by_side():
    d = _runs([("random", "retrain", s, 5.0 + s) for s in (0, 1, 2)] + [("random", "ft", s, 3.0 + s) for s in (0, 1, 2)]
              + [("worst", "retrain", 0, 0.0), ("worst", "ft", 0, 1.0)])
    disp, gaps = tables.table3_stacked(d, ["random", "worst"])
    rows = {(r["forget set"], r["method"]): r for _, r in disp.iterrows()}
    assert rows[("random", "FT")]["n"] == 3 and rows[("random", "FT")]["seeds"] == "0, 1, 2"
    assert rows[("random", "FT")]["UA"].startswith("4.00 ± 1.00")  # sample std of 3, 4, 5
    assert rows[("worst-case", "FT")]["n"] == 1 and "± —" in rows[("worst-case", "FT")]["UA"]
    wide, _ = tables.table3_wide(d, ["random", "worst"])
    assert list(wide.loc["FT", ["random · n", "worst-case · n"]]) == [3, 1]
    assert "± —" in wide.loc["FT", "worst-case · UA"] and "± 1.00" in wide.loc["FT", "random · UA"]
    compact, _ = tables.table3_wide(d, ["random", "worst"], compact=True)
    assert compact.loc["FT", "worst-case · UA"] == "1.0±—" and compact.loc["FT", "random · UA"] == "4.0±1.0"


def test_ratio_sweep_faceted_hollow_single_seed_points_and_no_joined_bands():
    rows = []
    for sel in ("random", "worst"):
        for r, n in ((0.05, 1), (0.1, 3), (0.2, 3)):
            for m in ("retrain", "ft"):
                rows.append({"selector": sel, "method": m, "ratio": r, "n": n, "seeds": ",".join(map(str, range(n))),
                             "UA_mean": 0.0 if sel == "worst" else 5.0, "UA_std": np.nan if n == 1 else 0.5})
    fig = charts.ratio_sweep(pd.DataFrame(rows), "UA", ["retrain", "ft"])
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert {t.xaxis for t in lines} == {"x", "x2"}  # one panel per selector
    assert len([t for t in lines if t.showlegend]) == 2  # one legend entry per method
    ft = [t for t in lines if t.name == "FT"]
    assert len({t.line.color for t in ft}) == 1  # the same colour in both panels
    for t in lines:
        assert list(t.marker.color)[0] == "white"  # the 5% point has one seed: hollow
    for b in bands:
        assert min(b.x) >= 10  # bands only between the multi-seed points (10%, 20%)
    assert fig.layout.yaxis.range[0] < 0  # a line at 0 stays visible
    assert fig.layout.xaxis.ticksuffix == "%" and fig.layout.yaxis.ticksuffix == "%"
