"""Embeddings: PCA (instant) / UMAP (job) of penultimate features; colour by score or forget set; box/lasso select."""
import streamlit as st

from dashboard import common
from dashboard import views as dv
from dashboard.charts import EMBEDDINGS_CAPTION as EMBEDDING_CAPTION
from dashboard.charts import embedding_figure

common.page_guard()
st.title("Feature embeddings")
pipe = common.require_pipeline()
seed = common.seed()

if not dv.ModelRef(seed=seed).is_available(pipe):
    st.warning("The original model θ_o is not trained yet: train it on **Data & model** first.", icon=":material/warning:")
    st.page_link(common.PAGES["data"], label="Go to **Data & model**", icon=":material/dataset:")
    st.stop()

models = dv.model_refs(pipe, dv.active_results(pipe))
c1, c2, c3 = st.columns([1, 3, 1])
reducer = c1.segmented_control("Projection", ["pca", "umap"], default="pca", key="emb_reducer",
                               format_func=str.upper) or "pca"
after = c2.selectbox("After unlearning (right)", ["(none)"] + list(models), key="emb_after",
                     help="A finished unlearning run whose model is stored; shown next to the original model.")
max_points = c3.selectbox("Points", [500, 1000, 2000, 5000, 10000], index=4, key="emb_points")
panels = [("original", "Original θ_o")] + ([(models[after], after)] if after != "(none)" else [])


frames = []
for model, title in panels:
    df = dv.embedding_frame(model, reducer, max_points)
    frames.append((model, title, df))

missing = [(m, t) for m, t, df in frames if df is None]
if missing and reducer == "umap":
    st.info("UMAP takes seconds to minutes, so it runs as a job; its coordinates are cached.", icon=":material/info:")
    if st.button(f"Compute UMAP ({', '.join(t for _, t in missing)})", type="primary", key="emb_umap_go"):
        ids = []
        for m, _ in missing:
            jid = common.submit("view_embedding", {"setup": common.setup_config(), "reducer": "umap", "seed": seed,
                                                   "model": "original" if m == "original" else list(m[:4]),
                                                   "max_points": max_points})
            if jid:
                ids.append(jid)
        st.session_state["emb_jobs"] = ids
        st.rerun()
for jid in st.session_state.get("emb_jobs", []):
    common.watch_job(jid, f"emb_{jid}", "UMAP coordinates stored.")

ready = [(m, t, df) for m, t, df in frames if df is not None]
if not ready:
    st.stop()

ready = [(m, t, dv.membership(dv.with_scores(df))) for m, t, df in ready]
base = ready[0][2]
color_opts = [c for c in base.columns if c not in ("index", "x", "y", "label_name", "prediction_name")]
pref = next((c for c in base.columns if c.startswith("in:worst")), "label")
color = st.selectbox("Colour by", color_opts, index=color_opts.index(pref), key="emb_color",
                     help="label / prediction / correctness, a score (continuous scale) or membership of a built "
                          "forget set (members in red, on top).")
cols = st.columns(len(ready))
picked: list[int] = []
for i, ((model, title, df), col) in enumerate(zip(ready, cols)):
    with col:
        c = color if color in df else "label"
        fig = embedding_figure(df, c, title=f"{title} · {reducer.upper()}")
        fig.update_layout(height=520, dragmode="select", margin=dict(l=10, r=10, t=60, b=10),
                          legend=dict(orientation="h", y=-0.15))
        ev = st.plotly_chart(fig, key=f"emb_fig_{i}", on_select="rerun", selection_mode=("box", "lasso"))
        picked += [int(cd[0]) for cd in common.selected_points(ev)]
        info = df.attrs.get("info") or {}
        if "explained_variance_ratio" in info:
            st.caption("PCA explained variance: " + ", ".join(f"{v:.1%}" for v in info["explained_variance_ratio"]))
st.caption(EMBEDDING_CAPTION + " Drag a box or lasso (toolbar) on a map to list the selected samples below.")

picked = list(dict.fromkeys(picked))
if picked:
    st.subheader(f"{len(picked)} selected samples")
    a, b = st.columns([2, 3])
    a.image(common.mosaic(picked[:120], ncols=12, size=40), caption="first 120 selected (mosaic, row by row)")
    sel = base[base["index"].isin(picked)]
    show = ["index", "label_name", "prediction_name", "confidence"] + [c for c in sel.columns
                                                                       if c not in ("x", "y", "label", "prediction",
                                                                                    "correct", "index", "label_name",
                                                                                    "prediction_name", "confidence")
                                                                       and not c.startswith("in:")]
    table = sel[show].copy()
    table.insert(0, "image", common.data_uris(table["index"][:200], 32) + [None] * max(0, len(table) - 200))
    table["inspect"] = [dv.inspector_link(i) for i in table["index"]]
    b.dataframe(table, hide_index=True, key="emb_sel_table", row_height=36,
                column_config={"image": st.column_config.ImageColumn("image", width="small"),
                               "inspect": st.column_config.LinkColumn("inspect", display_text="open")})
    means = sel.drop(columns=[c for c in ("x", "y", "index", "label", "prediction") if c in sel]).mean(numeric_only=True)
    b.caption("Mean over the selection: " + " · ".join(f"{k} {v:.3g}" for k, v in means.items()))
else:
    st.caption("No samples selected yet.")
