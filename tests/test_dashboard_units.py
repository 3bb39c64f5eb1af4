"""Fast tests of the dashboard's Streamlit-free helpers: escaping and server paths (safety), stage timelines and
ETAs (progress), the palette and names (style), honest Table-3 cells (tables), the ratio-sweep figure (charts), and
the panels beyond the papers: tuned rows, tuning tables, entanglement cells, the correlation matrix, the BLO trace,
the reproduction report's verdicts and the executor fields of an experiment job."""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from dashboard import captions, charts, glossary, progress, safety, style, tables
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
    assert progress.fmt_duration(2.64) == "2.6 s"  # short jobs (the quick demo): no rounding to whole seconds
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
        assert glossary.GLOSSARY[k]


# ---------------------------------------------------------------------------------------------- glossary
def test_every_glossary_term_has_a_formula_and_a_paper_by_authors_and_title():
    import re

    for term, t in glossary.TERMS.items():
        assert len(t.line) > 30 and t.formula.strip(), term
        # a formula is LaTeX as typed: no tab / bell characters from an unescaped "\theta" or "\arg"
        assert not re.search(r"[\x00-\x1f]", t.formula), (term, t.formula)
        paper = glossary.PAPERS[t.paper]
        authors, title = paper.split(" — ", 1)
        assert authors and re.search(r"\*[^*]{10,}\*", title), paper  # authors — *Title*
        assert not re.search(r"seed|\b0\d\d\b|\.txt", paper), paper  # never a file number
    for name in ["UA", "MIA", "RA", "TA", "ToW", "ES", "Avg. gap", "θ_o", "BLO", "F", "ε", "KLoM", "U-LiRA"]:
        assert glossary.term_of(name) in glossary.TERMS, name


def test_table3_columns_carry_the_glossary_definitions():
    """Every metric column of the Table-3 display (stacked and wide) and of the per-run rows maps to its glossary
    term, and the table builders' column_config carries the definition; a 'gap X' column names both."""
    d = _runs([(sel, m, s, 5.0 + s) for sel in ("random", "worst") for m in ("retrain", "ft") for s in (0, 1)])
    disp, _ = tables.table3_stacked(d, ["random", "worst"])
    wide, _ = tables.table3_wide(d, ["random", "worst"], compact=True)
    rows = tables.run_rows(d)
    for frame, must in ((disp, {"UA", "MIA", "RA", "TA", "Avg. gap", "n", "seeds"}),
                        (wide, {"worst-case · UA", "random · Avg. gap", "random · n"}),
                        (rows, {"UA", "gap RA", "Avg. gap (this seed)", "ToW"})):
        cfg = tables.column_help(frame.columns)
        for c in must:
            assert c in frame.columns, (c, list(frame.columns))
            term = glossary.term_of(c)
            if c.endswith("seeds"):
                assert cfg[c]["help"] == glossary.COLUMN_NOTES["seeds"]
                continue
            assert term is not None and cfg[c]["help"].startswith(f"**{term}**"), c
    assert glossary.term_of("gap RA") == "gap" and glossary.TERMS["RA"].line in glossary.help_text("gap RA")
    assert glossary.term_of("BLO worst-case weight (10% set)") == glossary.term_of("blo@0.1") == "BLO weight"
    assert glossary.help_text("time (s)") is None  # no invented definitions


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
    assert rows[("random", "FT")]["n"] == 3 and rows[("random", "FT")]["seeds"] == "0,1,2"  # compact: fits 1400 px
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


# ---------------------------------------------------------------------------------------------- beyond the papers
def test_tuned_rows_are_labelled_with_their_resolved_hyperparameters():
    d = _runs([(sel, m, 0, 1.0) for sel in ("random", "worst") for m in ("retrain", "ga")])
    d.loc[d["method"] == "ga", "params"] = '{"epochs": 2, "lr": 0.05}'
    tuned = {("ga", '{"epochs": 2, "lr": 0.05}'): "tuned on random 10% · seeds 0 (Avg. gap 0.10)"}
    disp, _ = tables.table3_stacked(d, ["random", "worst"], tuned=tuned,
                                    es={"random": (1700.0, 400.0, 3), "worst": (900.0, np.nan, 1)})
    ga = disp[disp["method"] == "GA · tuned"]
    assert len(ga) == 2 and (ga["hyperparameters"] == "epochs=2, lr=0.05").all()
    assert ga["tuned on"].str.startswith("tuned on random 10%").all()
    assert set(disp.loc[disp["method"] == "Retrain", "tuned on"]) == {"—"}
    assert list(disp["ES"]) == ["1700 ± 400", "1700 ± 400", "900 ± —", "900 ± —"]  # n = 1: no spread
    plain, _ = tables.table3_stacked(d, ["random"])
    assert "tuned on" not in plain and "ES" not in plain and "GA" in set(plain["method"])
    wide, _ = tables.table3_wide(d, ["random", "worst"], compact=True, tuned=tuned)
    assert "GA · tuned" in wide.index and "Retrain" in wide.index


def test_tuned_vs_preset_and_candidates_tables():
    chosen, preset = {"epochs": 2, "lr": 0.05}, {"epochs": 5, "lr": 0.02}
    rows = [("random", "retrain", 0, 2.0), ("worst", "retrain", 0, 0.0), ("worst", "ga", 0, 1.0),
            ("worst", "ga", 0, 3.0), ("random", "ga", 0, 2.5)]
    d = _runs(rows)
    d["params"] = ["{}", "{}", json.dumps(chosen, sort_keys=True), json.dumps(preset, sort_keys=True),
                   json.dumps(chosen, sort_keys=True)]
    d["method_name"] = d["method"]
    d["method"] = [m if p in ("{}", json.dumps(chosen, sort_keys=True)) else f"{m} {p}"
                   for m, p in zip(d["method"], d["params"])]
    cand = lambda i, c, gap, p: {"candidate": i, "overrides": c, "params": p, "is_preset": p == preset,  # noqa: E731
                                 "avg_gap": gap, "n": 1, "ToW_mean": 0.9,
                                 **{f"gap_{m}": gap for m in ("UA", "MIA", "RA", "TA")},
                                 **{f"{m}_mean": 1.0 for m in ("UA", "MIA", "RA", "TA")}}
    record = {"method": "ga", "selector": "random", "ratio": 0.1, "seeds": [0], "grid": {"lr": [0.05], "epochs": [2]},
              "candidates": [cand(0, {"lr": 0.05, "epochs": 2}, 0.1, chosen), cand(1, {}, 0.7, preset)],
              "chosen": {"candidate": 0, "overrides": {"lr": 0.05, "epochs": 2}, "params": chosen, "avg_gap": 0.1},
              "preset": {"params": preset, "avg_gap": 0.7}}
    disp, t3 = tables.tuned_vs_preset(d, record)
    assert list(disp["variant"]) == ["Retrain", "tuned", "preset"] and set(disp["forget set"]) == {"worst-case"}
    assert disp.loc[disp["variant"] == "tuned", "hyperparameters"].iloc[0] == "epochs=2, lr=0.05"
    assert disp.loc[disp["variant"] == "preset", "UA"].iloc[0] == "3.00 ± — (3.00)"  # gap to Retrain in brackets
    c = tables.candidates_table(record)
    assert list(c["candidate"]) == [1, 2] and list(c["chosen"]) == ["✓ chosen", ""]
    assert list(c["preset"]) == ["", "preset"] and c["Avg. gap (objective)"].dtype == float
    assert tables.tuning_choice_text(record).startswith("epochs = 2, lr = 0.05 (Avg. gap 0.100")


def test_entanglement_summary_and_missing():
    per_seed = pd.DataFrame({"selector": ["random", "random", "worst", "worst"], "seed": [0, 1, 0, 1],
                             "ES": [10.0, 14.0, 5.0, np.nan]})
    s = tables.entanglement_summary(per_seed)
    assert s["random"][0] == 12.0 and s["random"][1] == pytest.approx(np.std([10, 14], ddof=1)) and s["random"][2] == 2
    assert s["worst"][2] == 1 and np.isnan(s["worst"][1])
    assert tables.entanglement_missing(per_seed) == 1
    assert tables.es_cell(*s["worst"]) == "5 ± —" and tables.es_cell(np.nan, np.nan, 0) == "—"
    assert tables.missing_label("entanglement_reference") == "entanglement of random reference sets"
    assert tables.missing_label("le_confidence") == "Learning-event confidence"


def test_correlation_frames_drop_quantities_missing_everywhere():
    from unlearn_core.analysis.hardness import CorrelationResult

    q = ["memorization", "loss", "blo"]
    mean = pd.DataFrame([[1, np.nan, np.nan], [np.nan, 1, -0.8], [np.nan, -0.8, 1]], index=q, columns=q, dtype=float)
    n = pd.DataFrame([[0, 0, 0], [0, 2, 2], [0, 2, 2]], index=q, columns=q)
    std = pd.DataFrame(0.05, index=q, columns=q)
    res_ = CorrelationResult({}, mean, std, n, q, {0: ["memorization"], 1: ["memorization"]})
    m, text, nn = tables.correlation_frames(res_)
    assert list(m.index) == ["loss", "blo"] and text.loc["loss", "blo"] == "-0.80 ± 0.05"
    fig = charts.correlation_heatmap(m, text, nn)
    assert fig.layout.title.text == "Spearman ρ, mean over 2 seeds (sample std)"
    assert list(fig.data[0].x) == ["Loss", "BLO worst-case weight"] and fig.data[0].zmid == 0
    assert "n = 2 seeds" in captions.correlation_caption(nn)


def test_blo_trace_caption_and_figure_read_the_trace_fields():
    trace = pd.DataFrame([{"iteration": i, "objective": 10.0 / i, "overlap_prev": 0.5 + 0.1 * i, "overlap_start": 0.1,
                           "overlap_lowloss": 0.9, "overlap_response": 0.8, "seconds": 0.5 * i,
                           "sample_passes": 100.0 * i} for i in (1, 2, 3)])
    extras = {"stop_reason": "fixed_point", "iterations": 3, "cost_vs_training": 0.091, "cost_sample_passes": 300.0,
              "seconds": 1.5, "converged": True}
    cap = captions.blo_trace_caption(trace, extras)
    assert cap.startswith("3 upper iterations; reached a fixed point (the set is its own best response and the "
                          "objective stopped improving); cost 0.091 × one original training (300 sample passes); "
                          "took 1.5 s")
    assert "previous iteration 0.80" in cap and "vs its response 0.80" in cap
    assert "the worst case is almost exactly the lowest-loss set; the sort costs nothing" in cap  # overlap 0.9
    assert "sort costs nothing" not in captions.blo_trace_caption(trace.assign(overlap_lowloss=0.5), extras)
    fig = charts.blo_trace(trace)
    overl = [t for t in fig.data if t.name.startswith("with ")]
    assert len(overl) == 4 and {t.yaxis for t in overl} == {"y2"} and tuple(fig.layout.yaxis2.range) == (0, 1.05)
    old = trace.rename(columns={"overlap_prev": "topm_overlap"}).drop(columns=["overlap_response", "seconds",
                                                                              "sample_passes"])
    assert "previous iteration 0.80" in captions.blo_trace_caption(old, {})  # an older trace still reads


def test_report_verdicts(tmp_path):
    from dashboard import report
    from unlearn_core.reproduce import FAILS, HOLDS, Finding

    assert report.latest_report(tmp_path) is None and report.read_summary(tmp_path) is None
    out = tmp_path / "reports" / "r1"
    report.write_report([Finding(98, "A", "c", "s", HOLDS, "why a", {}), Finding(99, "B", "c", "s", FAILS, "w", {})],
                        out, "t", {"wall_s": 3.0, "seeds": [0, 1]})
    assert report.latest_report(tmp_path) == out / "report.html"
    v = report.verdict_frame(report.read_summary(out))
    assert list(v["verdict"]) == [HOLDS, FAILS] and list(v["why"]) == ["why a", "w"]
    assert report.verdict_counts(v) == "1 holds · 1 does not hold"
    (out / "summary.json").write_text("{not json")
    assert report.read_summary(out) is None


def test_executor_fields_replace_the_old_ones():
    from dashboard.forms import with_executor

    cfg = {"spec": {"methods": ["ft"]}, "executor": "ray", "ray_address": "auto", "executor_options": {"max_retries": 1}}
    assert with_executor(cfg, {}) == {"spec": {"methods": ["ft"]}}
    assert with_executor({"spec": {}}, {"executor": "ray", "ray_address": "local", "other": 1}) == {
        "spec": {}, "executor": "ray", "ray_address": "local"}


# ---------------------------------------------------------------------------------------------- attack view
def test_attack_view_opens_on_a_non_uniform_matrix_with_the_largest_membership_gap():
    """A worst-case set that every model classifies right (UA = 0 under the method and Retrain) draws a one-colour
    prediction matrix, even when its MIA gap is the largest: the view opens on the informative run instead, and
    says why. With only uniform matrices it opens on the first run and says that."""
    from dashboard.analysis_readers import informative_attack_run

    cands = pd.DataFrame([
        {"method": "ft", "selector": "worst", "ratio": 0.1, "MIA": 10.0, "MIA_retrain": 90.0, "UA": 0.0,
         "UA_retrain": 0.0},  # the largest gap, but a uniform matrix
        {"method": "ft", "selector": "random", "ratio": 0.1, "MIA": 80.0, "MIA_retrain": 95.0, "UA": 2.0,
         "UA_retrain": 4.0},
        {"method": "rl", "selector": "random", "ratio": 0.1, "MIA": 40.0, "MIA_retrain": 95.0, "UA": 3.0,
         "UA_retrain": 4.0},  # the largest gap among the informative ones
    ])
    i, why = informative_attack_run(cands)
    assert i == 2 and "55.0 points" in why and "2 of 3 runs" in why
    uniform = cands.assign(UA=0.0, UA_retrain=0.0)
    i, why = informative_attack_run(uniform)
    assert i == 0 and "one colour" in why


def test_every_page_is_in_the_one_page_table_and_every_row_has_a_page():
    """Adding a page = its file + one row in dashboard/pages.py: app.py's navigation and the links come from it."""
    from pathlib import Path

    from dashboard.pages import NAV, PAGES

    root = Path(__file__).resolve().parents[1]
    files = sorted(str(p.relative_to(root)) for p in (root / "app_pages").glob("*.py"))
    assert sorted(p.file for p in NAV) == files
    assert len(PAGES) == len(NAV) and sum(p.default for p in NAV) == 1
    assert len({p.url_path for p in NAV if not p.default}) == len(NAV) - 1  # unique addresses


def test_a_metric_registered_later_shows_in_the_per_seed_runs_table_with_its_definition():
    """Adding a metric = one registered function: Compare's per-seed table shows its column, with its formula on hover."""
    import pandas as pd

    from dashboard import tables
    from unlearn_core.metrics import registry

    def forget_margin(view) -> float:
        return 0.0

    metric = registry.Metric("forget_margin", "forget margin", "higher", "", "mean margin on D_f", 1, forget_margin)
    runs = pd.DataFrame([{"selector": "random", "method": "ft", "ratio": 0.1, "seed": 0, "UA": 1.0, "MIA": 2.0,
                          "RA": 99.0, "TA": 97.0, "forget_margin": 0.5}])
    with registry.replaced(metric):
        out = tables.run_rows(runs)
        assert "forget_margin" in out.columns and list(out.columns).index("forget_margin") > list(out.columns).index("TA")
        assert "mean margin on D_f" in (tables._metric_help("forget_margin") or "")
    assert "forget_margin" not in tables.run_rows(runs).columns
