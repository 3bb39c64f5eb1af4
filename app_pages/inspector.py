"""Sample inspector: one training sample — and why it is (or is not) hard to forget: its scores and ranks, the
forget sets and runs that held it, its loss and confidence under every stored model, and its nearest neighbours
in θ_o's feature space. Reads stored models and results only."""
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import common, readers, style, widgets
from dashboard import analysis_readers as dv
from dashboard import forget_quality_charts as fqc
from dashboard.captions import INSPECTOR_CAPTION
from dashboard.safety import md_escape
from unlearn_core import results as res
from unlearn_core.banks import sample_in_banks



@st.cache_data(show_spinner="Reading model banks…", max_entries=16)
def _sample_banks(root: str, setup_js: str, sample: int, ver: tuple) -> list[dict]:
    sets = []
    for r in res.forget_sets(pipe).itertuples():
        fi = readers.forget_idx(r.key)
        if fi is not None:
            sets.append((r.selector, None if r.ratio is None or r.ratio != r.ratio else float(r.ratio), int(r.seed), fi))
    return sample_in_banks(pipe, sample, sets)


common.page_guard()
st.title("Sample inspector")
pipe = readers.require_pipeline()
n = pipe.ds.n_train
classes = pipe.ds.classes

qp = st.query_params.get("sample")
if qp is not None and st.session_state.get("_insp_qp") != qp:
    st.session_state["_insp_qp"] = qp
    try:
        v = int(qp)
        if not 0 <= v < n:
            widgets.warning(f"URL parameter sample={v} is outside 0…{n - 1}; showing the nearest valid sample.")
        st.session_state["insp_index"] = min(max(v, 0), n - 1)
    except ValueError:
        widgets.warning(f"URL parameter sample={qp[:40]!r} is not a sample index; showing sample 0.")
common.keep("insp_index", 0, valid=lambda v: min(max(int(v), 0), n - 1))
c1, c2 = st.columns([1, 3])
idx = int(c1.number_input(f"Training sample (0 … {n - 1})", 0, n - 1, step=1, key="insp_index"))
st.query_params["sample"] = str(idx)
st.session_state["_insp_qp"] = str(idx)  # the address now says what is shown: not a new request next run
df_s = readers.samples()
hard_col = next((c for c in ("blo@0.1",) if c in df_s), next((c for c in df_s.columns if c.startswith("blo@")), None))
if hard_col is not None:
    hardest = int(res.hardest(df_s, hard_col, "high", 1)["index"].iloc[0])  # ties (weights at the cap): lowest loss


    def _go_hardest():
        st.session_state["insp_index"] = hardest
        st.session_state["_keep_insp_index"] = hardest

    c2.button(f"Show the hardest sample to forget (highest {style.score_label(hard_col)})", key="insp_hardest",
              on_click=_go_hardest)
st.caption(INSPECTOR_CAPTION + " Link to a sample with `?sample=N` (e.g. from the Embeddings page).")

if not dv.ModelRef(seed=common.seed()).is_available(pipe):
    st.warning("The original model θ_o is not trained yet: train it on **Data & model** first.", icon=":material/warning:")
    st.page_link(common.PAGES["data"], label="Go to **Data & model**", icon=":material/dataset:")
    st.stop()

models = dv.model_refs(pipe, dv.active_results(pipe))
rep = dv.sample_report(idx, models)
a, b = st.columns([1, 3])
a.image(readers.thumbs([idx], 160)[0], caption=f"sample #{idx} · label {classes[rep.label]}")
with b:
    attrs = "".join(f" · {md_escape(k)} = {v}" for k, v in rep.attributes.items())
    st.markdown(f"### Sample #{rep.index} · label **{md_escape(rep.label_name)}**{attrs}")
    held = rep.forget_sets[rep.forget_sets["contains"]]["set"].tolist() if not rep.forget_sets.empty else []
    st.markdown("**In forget sets:** " + (md_escape(", ".join(held)) if held else "none of the built ones"))
    for note in rep.notes:
        st.caption(md_escape(note))
    if not rep.scores.empty:
        top = rep.scores.dropna(subset=["hard_rank"]).sort_values("hard_rank").head(3)
        st.markdown("**Hard-to-forget ranks** (1 = hardest of " + f"{n}): " + " · ".join(
            f"{md_escape(style.score_label(r.score))} #{int(r.hard_rank)}" for r in top.itertuples()))

# ------------------------------------------------------------------ the answer first, in one line
sets = dv.runs_on_sets(pipe, idx)
st.info(dv.why_one_line(rep, sets, n), icon=":material/lightbulb:")

# ------------------------------------------------------------------ why
st.subheader("Why is it hard (or easy) to forget? The details")
with st.container(border=True):
    st.markdown("#### 1 · Which forget sets and runs held it")
    if sets.empty:
        st.info("No forget sets built for this setup yet (Forget sets page, or run the teaching demo).")
    else:
        k = int(sets["key_holds"].sum())
        st.caption(f"{k} of {len(sets)} built forget sets hold this sample; for those, every run listed unlearned "
                   "it (Retrain never saw it). The other runs kept it in their retain set.")
        shown = sets.drop(columns=[c for c in sets.columns if c.startswith("key_")])
        widgets.table(shown.style.apply(lambda r: ["background-color: #fde0cf" if r["holds this sample"] == "yes"
                                                  else "" for _ in r], axis=1), key="insp_sets_runs", max_rows=None,
                     column_config={"methods": st.column_config.TextColumn("methods", width="large")})

with st.container(border=True):
    st.markdown("#### 2 · Its loss and confidence under every stored model")
    p = rep.predictions.copy()
    member = {(r.key_selector, None if r.key_ratio is None or r.key_ratio != r.key_ratio else r.key_ratio,
               r.key_seed): r.key_holds for r in sets.itertuples()} if not sets.empty else {}

    def _in_set(row) -> str:
        if row["method"] == "original":
            return "— (trained on it)"
        key = (row["selector"], None if row["ratio"] is None or row["ratio"] != row["ratio"] else row["ratio"],
               int(row["seed"]))
        hit = next((v for (s_, r_, sd), v in member.items() if s_ == key[0] and sd == key[2]
                    and ((r_ is None and key[1] is None) or (r_ is not None and key[1] is not None
                                                             and np.isclose(r_, key[1])))), None)
        return "—" if hit is None else ("yes: unlearned" if hit else "no: retained")

    p["in its forget set"] = [_in_set(r) for _, r in p.iterrows()]
    p["loss"] = -np.log(np.clip(p["p_true"].astype(float), 1e-12, None))
    p["model"] = [dv.model_label(dv.ModelRef(r.method, r.selector, r.ratio, int(r.seed))) for r in p.itertuples()]
    p["predicts"] = [classes[int(v)] if v == v and v is not None and not pd.isna(v) else "—"
                     for v in p["prediction"]]
    p["correct"] = p["correct"].map(lambda v: "—" if v is None or v != v else ("yes" if v else "no"))
    shown = p[p["available"]][["model", "in its forget set", "predicts", "correct", "p_true", "loss", "confidence"]]
    shown = shown.rename(columns={"p_true": "p(true label)", "confidence": "confidence (top class)"})
    st.caption("The sample's loss (−log p(true label)) and confidence under θ_o and every stored unlearned model. "
               "Forgotten well = it looks the way it does under Retrain on the same set. Rows in orange held it in "
               "their forget set.")
    held_rows = shown[shown["in its forget set"].astype(str).str.startswith("yes")]
    with st.expander(f"Per-model rows: {len(shown)} models, {len(held_rows)} of which unlearned it",
                     expanded=False):
        widgets.table(shown.style.apply(lambda r: ["background-color: #fde0cf" if str(
            r["in its forget set"]).startswith("yes") else "" for _ in r], axis=1), key="insp_preds", max_rows=None,
            column_config={"p(true label)": st.column_config.NumberColumn(format="%.3f"),
                           "loss": st.column_config.NumberColumn(format="%.3g"),
                           "confidence (top class)": st.column_config.NumberColumn(format="%.3f")})
    if len(models) == 0:
        st.caption("No unlearned models stored for this setup yet: run an experiment to compare Retrain and the "
                   "methods.")

with st.container(border=True):
    st.markdown("#### 3 · Its nearest neighbours (θ_o's features)")
    nn, why = dv.neighbours(pipe, idx, k=8)
    if nn is None:
        st.info(why, icon=":material/info:")
    else:
        st.caption(f"The 8 training samples closest to #{idx} in {why} (Euclidean). Samples that look alike to the "
                   "model: if they stay in the retain set, they keep teaching the model what #{idx} taught it — "
                   "one reason a sample is hard to forget.".replace("#{idx}", f"#{idx}"))
        st.image(readers.mosaic(nn["index"], ncols=8, size=56), caption="nearest first: sample number and class")
        cols = ["index", "class", "distance"] + (["pred", "p_y"] if "pred" in nn else []) + \
            [c for c in nn.columns if c not in ("index", "label", "class", "distance", "pred", "p_y", "correct")
             and c not in pipe.ds.attributes]
        t = nn[cols].copy()
        if "pred" in t:
            t["pred"] = [classes[int(v)] for v in t["pred"]]
        cat = readers.catalog()
        for r in cat.itertuples() if not cat.empty else []:
            if r.seed == common.seed() and r.selector in ("worst", "random") and r.ratio == 0.1:
                fi = readers.forget_idx(r.key)
                if fi is not None:
                    t[f"in {r.name}"] = np.where(np.isin(t["index"], fi), "yes", "no")
        t["inspect"] = [dv.inspector_link(i) for i in t["index"]]
        t.insert(0, "image", readers.data_uris(t["index"], 32))
        names = {c: style.column_label(c) for c in t.columns if c not in ("image", "inspect", "distance")
                 and not c.startswith("in ")}
        cfg = {"image": st.column_config.ImageColumn("image", width="small"),
               "inspect": st.column_config.LinkColumn("inspect", display_text="open", width="small"),
               "distance": st.column_config.NumberColumn(format="%.3g")}
        for c in cols:
            if c not in ("index", "class", "pred", "distance"):
                cfg[names[c]] = st.column_config.NumberColumn(names[c], format="%.3g")
        widgets.table(t.rename(columns=names), key="insp_nn", row_height=36, max_rows=None, column_config=cfg)

with st.container(border=True):
    st.markdown("#### 4 · Its scores")
    if rep.scores.empty:
        st.info("No scores computed yet (Scores page).")
    else:
        sc = rep.scores.copy()
        blo_rows = sc["score"].astype(str).str.startswith("blo")
        sc.loc[blo_rows, "value"] = sc.loc[blo_rows, "value"].astype(float).clip(0.0, 1.0)  # weights live in [0, 1]
        sc["score"] = sc["score"].map(style.score_label)
        sc = sc.rename(columns={"hard_end": "hard end", "hard_rank": "hard-to-forget rank", "n": "of"})
        widgets.table(sc, key="insp_scores", column_config={"value": st.column_config.NumberColumn(format="%.4g"),
                                                          "percentile": st.column_config.NumberColumn(format="%.1f")})

# ------------------------------------------------------------------ its ε under the model banks (issue 19)
with st.container(border=True):
    st.markdown("#### 5 · Is it still distinguishable after unlearning? Its ε over model banks")
    bank_rows = _sample_banks(common.cache_root(), common.setup_json(), idx, readers.version())
    if not bank_rows:
        st.info("No forget set with stored model banks holds this sample. ε is defined only while a sample is "
                "forgotten: build banks on **Forgetting quality** (or Compare), or compute the score "
                f"“{style.score_label('eps_hardness')}” on **Scores** (every sample gets its ε, fold by fold).",
                icon=":material/info:")
    else:
        st.caption(fqc.SAMPLE_EPS_CAPTION)
        eps_t = pd.DataFrame([{"forget set": f"{style.selector_label(r['selector'])} · seed {r['seed']}",
                               "method": fqc.bank_method_label(r["method"]), "N": r["n_models"], "ε": r["eps"],
                               "ε (threshold test)": r["eps_threshold"], "KLoM": r["klom"],
                               "mean margin unlearned": float(r["unlearned"].mean()),
                               "mean margin retrained": float(r["retrained"].mean())} for r in bank_rows])
        widgets.table(eps_t, key="insp_eps", max_rows=None,
                     column_config={c: st.column_config.NumberColumn(format="%.2f") for c in eps_t.columns
                                    if c not in ("forget set", "method", "N")})
        pick = st.selectbox("Margin histograms of", range(len(bank_rows)), key="insp_eps_pick",
                            format_func=lambda i: f"{eps_t['method'][i]} · {eps_t['forget set'][i]} · "
                                                  f"ε {eps_t['ε'][i]:.2f}")
        r = bank_rows[pick]
        widgets.plot(fqc.margin_histograms(r["unlearned"], r["retrained"], fqc.bank_method_label(r["method"]), idx),
                    key="insp_eps_hist")
