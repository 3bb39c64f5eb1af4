"""Forget sets: build sets with any selector and ratio; compare overlap, classes, score distributions, images."""
import hashlib

import pandas as pd
import streamlit as st

from dashboard import captions, charts, common, glossary, job_widgets, readers, style, tables, tour, widgets
from dashboard import analysis_readers as dv
from dashboard.safety import code_span, md_escape
from unlearn_core import results as res
from unlearn_core.config import forget_count, parse_ratio
from unlearn_core.errors import ForgetsetError
from unlearn_core.selectors import SELECTOR_HELP, parse_selector

common.page_guard()
st.title("Forget sets")
tour.tour_banner("sets")
pipe = readers.require_pipeline()
seed = common.seed()

# ------------------------------------------------------------------ build
with st.expander("Build a forget set", expanded=readers.catalog().empty):
    c1, c2, c3 = st.columns([2, 2, 1])
    pick = c1.selectbox("Selector", common.COMMON_SELECTORS + ["custom…"], key="fs_pick",
                        format_func=lambda x: x if x == "custom…" else f"{style.selector_label(x)} ({x})")
    custom = c2.text_input("Custom selector", key="fs_custom", placeholder="e.g. top:entropy+strat, class:1,7",
                           disabled=pick != "custom…")
    ratio_txt = c3.text_input("Forget ratio", value="0.1", key="fs_ratio", help="0 < ratio < 1, e.g. 0.1 or 10%")
    with st.popover("Selector syntax"):
        st.table(pd.DataFrame({"selector": list(SELECTOR_HELP), "meaning": list(SELECTOR_HELP.values())}))
        st.caption("Append `+strat` to select per class in proportion to class sizes. Class-wise selectors ignore "
                   "the ratio.")
    if st.button("Build", type="primary", key="fs_build"):
        selector = custom.strip() if pick == "custom…" else pick
        try:
            spec = parse_selector(selector)
            ratio = None if spec.class_wise else parse_ratio(ratio_txt)
            if not spec.class_wise:
                forget_count(ratio, pipe.ds.n_train)
        except ForgetsetError as err:
            widgets.error(str(err))
        else:
            missing = [n for n, _ in spec.needs_scores()
                       if pipe.find_score(n, seed, ratio if not spec.class_wise else None,
                                          {"granularity": "class", "n_classes": int(spec.arg)}
                                          if spec.kind == "worst_class" else spec.score_params() or None) is None]
            if pipe.find_original(seed) is None:
                missing.insert(0, "the original model")
            if missing:
                st.info(f"{code_span(selector)} needs {md_escape(', '.join(missing))} first: the job computes them.",
                        icon=":material/hourglass_top:")
            jid = job_widgets.submit("forget_set", {"setup": job_widgets.setup_config(), "selector": selector,
                                               "ratio": ratio, "seed": seed})
            if jid:
                st.session_state["fs_job"] = jid
                st.rerun()
    job_widgets.watch_job(st.session_state.get("fs_job"), "fs", "Forget set stored.")

cat = readers.catalog()
if cat.empty:
    st.info("No forget sets for this setup yet. Build one above (random needs nothing; worst / easiest need the "
            "BLO score, which a job computes).", icon=":material/info:")
    st.stop()

# ------------------------------------------------------------------ choose sets to compare
st.subheader("Built sets")
view = cat[["name", "selector", "ratio", "seed", "size"]].copy()
# Entanglement (Zhao et al., "What makes unlearning hard and what to do about it", NeurIPS 2024): read-only here;
# the view_entanglement job computes the missing ones.
ent = dv.entanglement_by_key()
view["entanglement (ES)"] = [ent.get(k) for k in cat["key"]]
view["selector"] = view["selector"].map(style.selector_label)
view["ratio"] = view["ratio"].astype(float) * 100
view = view.rename(columns={"name": "forget set", "ratio": "ratio (%)"})
default_rows = [i for i, k in enumerate(cat["key"]) if k in st.session_state.get("fs_selected_keys", [])]
if not default_rows:  # random vs worst case at the active seed, 10% if built
    pool = cat[(cat["seed"] == seed) & cat["selector"].isin(["random", "worst"])]
    if (pool["ratio"] == 0.1).any():
        pool = pool[pool["ratio"] == 0.1]
    default_rows = list(pool.index[:2]) or [len(cat) - 1]
# The selection is remembered by set (not by row position): when a job adds sets, rows move but the chosen sets
# stay chosen. The table's key changes with the catalogue so Streamlit never re-applies stale row numbers.

cat_id = hashlib.sha1("|".join(cat["key"]).encode()).hexdigest()[:10]
ev = widgets.table(view, key=f"fs_table_{cat_id}", on_select="rerun", selection_mode="multi-row", max_rows=12,
                  selection_default={"selection": {"rows": default_rows}},
                  column_config={"ratio (%)": st.column_config.NumberColumn(format="%g%%"),
                                 "entanglement (ES)": st.column_config.NumberColumn(
                                     format="%.4g", help=glossary.GLOSSARY["ES"])})
n_no_es = int(sum(k not in ent for k in cat["key"]))
if n_no_es:
    e1, e2 = st.columns([1.5, 3])
    if e1.button(f"Compute the entanglement of {n_no_es} set{'s' if n_no_es != 1 else ''}", key="fs_ent_job",
                 icon=":material/hub:", help="A background job: θ_o's penultimate features of the training set "
                                             "(one forward pass per seed), then ES per set."):
        jid = job_widgets.submit("view_entanglement", {"setup": job_widgets.setup_config()})
        if jid:
            st.session_state["fs_ent_job_id"] = jid
    e2.caption("ES “—” = not computed yet. "
               + md_escape(dv.estimate_text([("view_entanglement", {"setup": job_widgets.setup_config()})])))
job_widgets.watch_job(st.session_state.get("fs_ent_job_id"), "fs_ent", "Entanglement stored.")
rows = ev.selection.rows if ev.selection.rows else default_rows
st.session_state["fs_selected_keys"] = [cat["key"].iloc[r] for r in rows if r < len(cat)]
chosen = cat.iloc[rows]
sets = {}
set_sel = {}
for name, key, sel in zip(chosen["name"], chosen["key"], chosen["selector"]):
    idx = readers.forget_idx(key)
    if idx is not None:
        sets[name] = idx
        set_sel[name] = sel
st.caption(f"Comparing {len(sets)} set(s) — select rows in the table to change which.")
if not sets:
    st.stop()

df = readers.samples()
entries = [e for e in readers.score_entries() if e["per_sample"] and e["column"] in df]
score_cols = [e["column"] for e in entries]
y = pipe.ds.y_train.cpu().numpy()

c1, c2 = st.columns(2)
with c1:
    if len(sets) > 1:
        widgets.plot(charts.overlap_heatmap(res.overlap_matrix(sets)), key="fs_overlap")
    else:
        st.info("Select two or more sets to see their overlap.")
with c2:
    widgets.plot(charts.class_histogram(res.class_histogram_frame(sets, y, pipe.ds.classes), set_sel),
                key="fs_classes")

if score_cols:
    ratio_cols = [f"blo@{r:g}" for r in chosen["ratio"].dropna().unique()]
    pref = [c for c in ["loss", "entropy"] + ratio_cols if c in score_cols]
    show = st.multiselect("Scores", score_cols, default=pref or score_cols[:3], key="fs_scores",
                          format_func=style.score_label)
    if show:
        widgets.plot(charts.set_score_box(res.set_score_frame(sets, df, show), set_sel), key="fs_box")
else:
    st.caption("Compute scores on the Scores page to compare the sets' score distributions.")

# ------------------------------------------------------------------ why is it hard?
st.subheader("Why is it hard?")
st.caption(captions.WHY_HARD_CAPTION)
# Opens on the most interesting set: the worst case first, then any other non-random one (a random set is the
# reference, not the question).
_why_names = list(sets)
_interest = sorted(range(len(_why_names)), key=lambda i: ({"worst": 0, "random": 3}.get(
    style.selector_base(set_sel[_why_names[i]]), 1), i))
if st.session_state.get("fs_why_pick") not in _why_names:
    st.session_state["fs_why_pick"] = _why_names[_interest[0]]
why_name = st.selectbox("Forget set", _why_names, key="fs_why_pick")
why_row = chosen[chosen["name"] == why_name].iloc[0]
why = dv.why_hard(why_row["key"])
if why is None:
    st.info("This set is not stored any more, or its original model is missing.", icon=":material/info:")
else:
    if len(why.summary):
        why_t = tables.why_summary_table(why.summary)
        for c in ("set mean", "set median", "train mean", "train median"):
            # written here, 4 significant digits: the grid's own "%.4g" drew 3.783e-06 as "0.000003783", cut to
            # "000003783" in a narrow column (issue 22, item 5)
            why_t[c] = why_t[c].map(tables.fmt_sig)
        widgets.table(why_t, key="fs_why_table",
                     column_config={"train mean": st.column_config.TextColumn(
                                        help="Mean of the quantity over the whole training set."),
                                    "train median": st.column_config.TextColumn(
                                        help="Median of the quantity over the whole training set."),
                                    "percentile": st.column_config.NumberColumn(
                         format="%.0f", help="Mean percentile rank of the set's samples in the whole training set "
                                             "(50 = typical). The set leans hard / easy by the quantity's hard end "
                                             "(typical when close to 50).")})
        widgets.plot(charts.why_hard_distributions(why.distributions, why.summary, why_row["selector"]),
                    key="fs_why_dist")
        if (why.info or {}).get("blo_params"):
            st.caption(f"BLO weight: the {style.ratio_label(why.info['ratio'])} BLO of the active setup's parameters.")
    w1, w2 = st.columns([1.2, 1])
    with w1:
        if len(why.entanglement):
            widgets.plot(charts.why_hard_entanglement(why.entanglement, why_row["selector"]), key="fs_why_es")
        st.caption(captions.why_entanglement_caption(why.entanglement))
    with w2:
        if len(why.composition):
            widgets.plot(charts.why_hard_composition(why.composition, why_row["selector"]), key="fs_why_comp")
    if why.missing:
        # the set's own ES, then (once it exists) that of the random reference sets of its size
        why_cfg = {"setup": job_widgets.setup_config(), "selector": why_row["selector"],
                   "ratio": None if why_row["ratio"] != why_row["ratio"] else float(why_row["ratio"]),
                   "seed": int(why_row["seed"])}
        st.caption("Not computed yet: " + ", ".join(tables.missing_label(q) for q in why.missing) + ". "
                   + md_escape(dv.estimate_text([("view_why_hard", why_cfg)])),
                   help="Memorization and LiRA ASR share one bank of shadow models: whichever comes first trains "
                        "it, the other reuses it.")
        job_widgets.job_button(st, "Compute what is missing", "view_why_hard", why_cfg, "fs_why",
                               icon=":material/play_arrow:",
                               help="A background job (view_why_hard): the missing scores of this set's seed and the "
                                    "entanglement of the set and of random sets of its size.")
    job_widgets.watch_key("fs_why", "Stored: the panel shows it.")

st.subheader("Images")
order_opts = ["index"] + score_cols
order = st.selectbox("Order images by", order_opts, index=order_opts.index("loss") if "loss" in order_opts else 0,
                     key="fs_order", format_func=lambda c: "sample number" if c == "index" else style.score_label(c))
n_img = st.slider("Images per set", 12, 120, 48, step=12, key="fs_nimg")
hard = {e["column"]: e["hard_end"] for e in entries}
for name, idx in sets.items():
    sub = df.iloc[idx]
    if order != "index":
        sub = sub.sort_values(order, ascending=hard.get(order) == "low")
    st.markdown(f"**{md_escape(name)}** · {len(idx)} samples"
                + (f" · ordered by {style.score_label(order)}, hardest first" if order != "index" else ""))
    shown = sub["index"].to_numpy()[:n_img]
    st.image(readers.mosaic(shown, ncols=16, size=40),
             caption=f"first {len(shown)} of {len(idx)}: sample number and class under each image")
