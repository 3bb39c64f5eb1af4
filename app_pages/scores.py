"""Scores: compute per-sample scores as jobs; histograms, score-vs-score scatter, BLO convergence, galleries."""
import json

import streamlit as st

from dashboard import captions, charts, common, glossary, job_widgets, readers, style, tables, tour, widgets
from dashboard import analysis_readers as dv
from dashboard.safety import md_escape
from unlearn_core import results as res
from unlearn_core.config import parse_json_object, parse_ratio
from unlearn_core.errors import ForgetsetError
from unlearn_core.scores import get_score, score_names

common.page_guard()
st.title("Per-sample scores")
tour.tour_banner("scores")
pipe = readers.require_pipeline()
seed = common.seed()

if pipe.find_original(seed) is None:
    st.warning("Train (or import) the original model θ_o first — every score is computed from it. A score job "
               "would train it on the way, but you can watch it on its own there.", icon=":material/warning:")
    st.page_link(common.PAGES["data"], label="Go to **Data & model**", icon=":material/dataset:")

entries = readers.score_entries()
per_sample = [e for e in entries if e["per_sample"]]
cached_names = {e["name"] for e in entries}

# ------------------------------------------------------------------ compute
with st.expander("Compute scores", expanded=not per_sample):
    names = score_names()
    default = [n for n in ("loss", "entropy", "blo") if n in names and n not in cached_names] or []
    chosen = st.multiselect(
        "Scores", names, default=default,
        format_func=lambda n: f"{get_score(n).label} ({n})" + (" · cached" if n in cached_names else "")
        + (" · expensive" if get_score(n).expensive else ""), key="score_pick",
        help="Every score registered in unlearn_core.scores is listed.")
    for n in chosen:
        spec = get_score(n)
        st.caption(f"**{spec.label}** — {spec.description} Hard to forget: **{spec.hard_end}** end."
                   + (" ⏱️ trains extra models: can take long." if spec.expensive else ""))
    c1, c2 = st.columns([1, 3])
    ratio_txt = c1.text_input("Forget ratio (for ratio-dependent scores such as BLO)", value="0.1", key="score_ratio")
    params_txt = c2.text_area("Parameters per score as JSON (optional)", value="", key="score_params", height=68,
                              placeholder='{"blo": {"upper_iters": 10}, "lira_asr": {"n_shadow": 16}}',
                              help="BLO defaults: " + json.dumps(get_score("blo").defaults))
    if st.button("Compute as jobs", type="primary", key="score_go"):
        try:
            params = parse_json_object(params_txt, "Score parameters")
            bad = [k for k in params if k not in names]
            if bad:
                raise ForgetsetError(f"Parameters given for unknown scores {bad}; known: {', '.join(names)}.")
            if not chosen:
                raise ForgetsetError("Choose at least one score.")
            ratio = parse_ratio(ratio_txt) if any(get_score(n).depends_on_ratio for n in chosen) else None
        except ForgetsetError as err:
            widgets.error(str(err))
        else:
            ids = []
            for n in chosen:
                jid = job_widgets.submit("score", {"setup": job_widgets.setup_config(), "score": n, "seed": seed,
                                              "ratio": ratio if get_score(n).depends_on_ratio else None,
                                              "params": params.get(n, {})})
                if jid:
                    ids.append(jid)
            if ids:
                st.session_state["score_jobs"] = ids
                st.rerun()
    for jid in st.session_state.get("score_jobs", []):
        job_widgets.watch_job(jid, f"score_{jid}", "Score stored.")

if not per_sample:
    st.info("No scores for this setup yet. Compute loss, entropy and BLO above (digits: well under a minute), "
            "or run the teaching demo on the Overview page.", icon=":material/info:")
    st.stop()

df = readers.samples()
cols = [e["column"] for e in per_sample if e["column"] in df]
hard_ends = {e["column"]: e["hard_end"] for e in per_sample}
st.caption(f"{len(df)} training samples · θ_o of seed {seed} · computed scores: " + ", ".join(
    style.score_label(c) for c in cols) + ". BLO weight: " + glossary.TERMS["BLO weight"].line)


def sample_panel(idx: int, key: str) -> None:
    """Details of one training sample."""
    d = res.sample_details(df, idx, cols, hard_ends)
    with st.container(border=True):
        a, b = st.columns([1, 3])
        a.image(readers.thumbs([idx], 160)[0], caption=f"sample #{idx}")
        with b:
            pred = (f" · θ_o predicts **{md_escape(pipe.ds.classes[d['pred']])}** (p(true label) = {d['p_y']:.3f})"
                    if "pred" in d else "")
            st.markdown(f"**Sample #{idx}** · label **{md_escape(d['class'])}**{pred}")
            sc = d["scores"].copy()
            if not sc.empty:
                sc["score"] = sc["score"].map(style.score_label)
            widgets.table(sc, key=f"{key}_scores",
                         column_config={"value": st.column_config.NumberColumn(format="%.4g"),
                                        "percentile": st.column_config.NumberColumn(format="%.1f")})
            cat = readers.catalog()
            member = [n for n, k in zip(cat["name"], cat["key"]) if (readers.forget_idx(k) == idx).any()] \
                if not cat.empty else []
            st.caption("In forget sets: " + (md_escape(", ".join(member)) if member else "none of the built ones"))
            st.page_link(common.PAGES["inspector"], label="Why? Open it in the **Sample inspector**",
                         icon=":material/search:", query_params={"sample": str(idx)})


tab_h, tab_s, tab_c, tab_b, tab_g = st.tabs(["Distributions", "Score vs score", "Correlation matrix",
                                             "BLO convergence", "Hardest / easiest"])

with tab_h:
    widgets.plot(charts.score_histograms(df, cols, hard_ends), key="score_hist")
    st.caption(f"Loss ({glossary.PAPERS['chen']}): **low** loss = hard to forget. BLO weight ({glossary.PAPERS['fan']}): "
               "**high** weight = in the worst-case set. Axes are log10 (clipped at 1e-8) when the values span "
               "orders of magnitude.")

with tab_s:
    c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
    x = c1.selectbox("x", cols, index=res.preferred_column(cols, ("loss",), "loss"), key="sc_x",
                     format_func=style.score_label)
    y = c2.selectbox("y", cols, index=res.preferred_column(cols), key="sc_y", format_func=style.score_label)
    color_opts = [c for c in ["class", "correct"] + list(pipe.ds.attributes) if c in df]
    color = c3.selectbox("colour", color_opts, key="sc_color", format_func=style.column_label)
    logs = c4.multiselect("log", ["x", "y"], default=[a for a, c in (("x", x), ("y", y))
                                                       if charts.use_log10(df[c].to_numpy()) and not c.startswith("blo")],
                          key="sc_log")
    event = widgets.plot(charts.score_scatter(df, x, y, color, "x" in logs, "y" in logs),
                        key="score_scatter", on_select="rerun", selection_mode=("points", "box", "lasso"))
    picked = list(dict.fromkeys(int(cd[0]) for cd in widgets.selected_points(event)))
    st.caption(f"Pearson r = {df[x].corr(df[y]):.3f} · Spearman ρ = {df[x].corr(df[y], method='spearman'):.3f}. "
               "Click a point (or drag a box / lasso) to see the sample.")
    if len(picked) == 1:
        sample_panel(picked[0], "scatter_one")
    elif picked:
        st.markdown(f"**{len(picked)} selected samples**")
        st.image(readers.mosaic(picked[:96], ncols=12, size=40), caption="first 96 selected: sample number and class")
        sub = df[df["index"].isin(picked)]
        shown = sub.drop(columns=[c for c in ("label",) if c in sub])
        if "pred" in shown:
            shown["pred"] = [pipe.ds.classes[int(p)] for p in shown["pred"]]
        ev = widgets.table(shown.rename(columns={c: style.column_label(c) for c in shown.columns}), key="scatter_table",
                          on_select="rerun", selection_mode="single-row", max_rows=15)
        if ev.selection.rows:
            sample_panel(int(sub.iloc[ev.selection.rows[0]]["index"]), "scatter_table_one")

with tab_c:
    # Memorization, learning-event proxies, loss, LiRA ASR and the BLO weight (docs/beyond.md): how the notions of
    # "hard to forget" relate on this setup. Read-only; score jobs compute what is missing.
    st.caption(captions.correlation_intro())
    have_seeds = dv.original_seeds(pipe)
    if not have_seeds:
        st.info("No original model θ_o is stored for this setup yet.")
    else:
        blo_ratios = sorted({float(e["ratio"]) for e in entries if e["name"] == "blo" and e.get("ratio")})
        ratio_opts = blo_ratios or [0.1]
        k1, k2 = st.columns([2, 1])
        common.keep("corr_seeds", lambda: list(have_seeds),
                    valid=lambda v: [x for x in (v or []) if x in have_seeds] or list(have_seeds))
        corr_seeds = k1.multiselect("Seeds (each with its own θ_o)", have_seeds, key="corr_seeds",
                                    help="The seeds whose original model is stored for this setup.")
        corr_ratio = k2.selectbox("BLO weight of the", ratio_opts, format_func=lambda r: f"{style.ratio_label(r)} set",
                                  key="corr_ratio", index=ratio_opts.index(0.1) if 0.1 in ratio_opts else 0,
                                  help=glossary.term_help("BLO weight"))
        result = dv.correlation(corr_seeds, corr_ratio) if corr_seeds else None
        if not corr_seeds:
            st.warning("Choose at least one seed.")
        elif result is None:
            widgets.error("The stored scores of this setup could not be read.")
        else:
            shown = tables.correlation_frames(result)
            if shown is None:
                st.info("Fewer than two of these quantities are stored for the chosen seeds: compute them below.")
            else:
                widgets.plot(charts.correlation_heatmap(*shown), key="corr_heatmap")
                st.caption(captions.correlation_caption(shown[2]))
            todo = [(q, s_) for s_, qs in sorted(result.missing.items()) for q in qs]
            if todo:
                by_q: dict = {}
                for q, s_ in todo:
                    by_q.setdefault(q, []).append(s_)
                est = dv.estimate_text([("score", {"setup": job_widgets.setup_config(), "score": q, "seed": int(s_),
                                                   "ratio": float(corr_ratio) if get_score(q).depends_on_ratio
                                                   else None, "params": {}}) for q, s_ in todo])
                st.caption("Not computed yet: " + "; ".join(
                    f"{tables.missing_label(q)} (seed{'s' if len(v) > 1 else ''} {', '.join(map(str, v))})"
                    for q, v in by_q.items()) + ". " + md_escape(est))
                if st.button(f"Compute the missing scores ({len(todo)} job{'s' if len(todo) > 1 else ''})",
                             key="corr_go", icon=":material/play_arrow:"):
                    ids = []
                    for q, s_ in todo:
                        dep = get_score(q).depends_on_ratio
                        jid = job_widgets.submit("score", {"setup": job_widgets.setup_config(), "score": q, "seed": int(s_),
                                                      "ratio": float(corr_ratio) if dep else None, "params": {}})
                        if jid:
                            ids.append(jid)
                    st.session_state["corr_jobs"] = ids
            for jid in st.session_state.get("corr_jobs", []):
                job_widgets.watch_job(jid, f"corr_{jid}", "Score stored.")
        common.remember("corr_seeds")

with tab_b:
    blo = [e for e in entries if e["name"] == "blo"]
    if not blo:
        st.info("No BLO score yet: compute it above (it gives the worst-case forget set).")
    else:
        blo_cols = [e["column"] for e in blo]
        pick = st.selectbox("BLO run", blo_cols, index=res.preferred_column(blo_cols), key="blo_pick",
                            format_func=style.score_label)
        e = next(b for b in blo if b["column"] == pick)
        trace = res.trace_frame(readers.score_extras(e["key"]))
        if trace.empty:
            st.warning("This BLO result carries no convergence trace.")
        else:
            widgets.plot(charts.blo_trace(trace), key="blo_trace")
            st.caption(captions.blo_trace_caption(trace, readers.score_extras(e["key"])))
            with st.expander("Trace table and parameters"):
                widgets.table(trace, key="blo_trace_table", max_rows=25)
                st.json(e["params"], expanded=False)

with tab_g:
    c1, c2 = st.columns([2, 1])
    gcol = c1.selectbox("Order by", cols, index=res.preferred_column(cols), key="gal_score",
                        format_func=style.score_label)
    n = c2.slider("Samples", 6, 48, 18, step=6, key="gal_n")
    st.caption(f"Hard to forget = the **{hard_ends[gcol]}** end of {style.score_label(gcol)}"
               + (" (ties broken by loss)" if "loss" in df and gcol != "loss" else "")
               + ". Select a row in a table to open the sample.")
    extra_cols = [c for c in cols if c != gcol][:2]
    for title, easiest, key in [("Hardest to forget", False, "hard"), ("Easiest to forget", True, "easy")]:
        st.markdown(f"#### {title}")
        top = res.hardest(df, gcol, hard_ends[gcol], n, easiest=easiest)
        tie = tables.near_tie_note(df[gcol], n, hard_ends[gcol], easiest,
                                   "weight" if gcol.startswith("blo") else "value")
        if tie:
            st.caption(":material/info: " + tie, help="BLO weights live in [0, 1] and are shown clipped there.")
        imgs = readers.thumbs(top["index"], 64)
        caps = [f"#{i} label {pipe.ds.classes[l]}" + (f" → {pipe.ds.classes[p]}" if "pred" in top and p != l else "")
                + f" · {v:.3g}" for i, l, p, v in zip(top["index"], top["label"],
                                                     top["pred"] if "pred" in top else top["label"], top[gcol])]
        st.image(imgs, caption=caps, width=84)
        table = top[["index", "class"] + (["pred", "p_y"] if "pred" in top else []) + [gcol] + extra_cols].copy()
        if "pred" in table:
            table["pred"] = [pipe.ds.classes[int(p)] for p in table["pred"]]
        table.insert(0, "image", readers.data_uris(top["index"], 40))
        ev = widgets.table(table.rename(columns={c: style.column_label(c) for c in table.columns if c != "image"}),
                          key=f"gal_{key}", on_select="rerun", selection_mode="single-row", row_height=44,
                          max_rows=None, column_config={"image": st.column_config.ImageColumn("image", width="small")})
        if ev.selection.rows:
            sample_panel(int(table.iloc[ev.selection.rows[0]]["index"]), f"gal_{key}_one")
