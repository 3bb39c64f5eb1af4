"""Embeddings: PCA (instant) / UMAP (job) of penultimate features; colour by score or forget set; box/lasso select.

The choices (projection, unlearned model, points, colour) persist for the session and in the address bar
(``?proj=umap&color=loss``), so coming back to the page — or reloading it — shows the same map."""
import streamlit as st

from dashboard import common, job_widgets, readers, style, widgets
from dashboard import analysis_readers as dv
from dashboard.captions import EMBEDDINGS_CAPTION as EMBEDDING_CAPTION
from dashboard.analysis_charts import embedding_figure
from dashboard.safety import md_escape

common.page_guard()
st.title("Feature embeddings")
pipe = readers.require_pipeline()
seed = common.seed()
qp = st.query_params

if not dv.ModelRef(seed=seed).is_available(pipe):
    st.warning("The original model θ_o is not trained yet: train it on **Data & model** first.", icon=":material/warning:")
    st.page_link(common.PAGES["data"], label="Go to **Data & model**", icon=":material/dataset:")
    st.stop()


def _from_url(name: str, default, options=None):
    """A value from the address bar on this session's first visit (ignored if not among ``options``)."""
    flag = f"_emb_qp_{name}"
    if name in qp and not st.session_state.get(flag):
        st.session_state[flag] = True
        v = qp[name]
        if options is None or v in options:
            return v
        widgets.warning(f"URL parameter {name}={v[:40]!r} is not one of the choices here; ignored.")
    return default


models = dv.model_refs(pipe, dv.active_results(pipe))
after_opts = ["(none)"] + list(models)
point_opts = [500, 1000, 2000, 5000, 10000]
c1, c2, c3 = st.columns([1, 3, 1])
common.keep("emb_reducer", _from_url("proj", "pca", ["pca", "umap"]),
            valid=lambda v: v if v in ("pca", "umap") else "pca")
reducer = c1.segmented_control("Projection", ["pca", "umap"], key="emb_reducer", format_func=str.upper) or "pca"
common.keep("emb_after", _from_url("after", "(none)", after_opts), valid=lambda v: v if v in after_opts else "(none)")
after = c2.selectbox("After unlearning (right)", after_opts, key="emb_after",
                     help="A finished unlearning run whose model is stored; shown next to the original model.")
pts_url = _from_url("points", "10000", [str(p) for p in point_opts])
common.keep("emb_points", int(pts_url), valid=lambda v: v if v in point_opts else 10000)
max_points = c3.selectbox("Points", point_opts, key="emb_points")
panels = [("original", "Original θ_o")] + ([(models[after], after)] if after != "(none)" else [])

frames = []
for model, title in panels:
    df = dv.embedding_frame(model, reducer, max_points)
    frames.append((model, title, df))

missing = [(m, t) for m, t, df in frames if df is None]
if missing and reducer == "umap":
    st.info("UMAP takes seconds to minutes, so it runs as a job; its coordinates are cached and shown here "
            "whenever you come back.", icon=":material/info:")
    emb_cfgs = [{"setup": job_widgets.setup_config(), "reducer": "umap", "seed": seed,
                 "model": "original" if m == "original" else list(m[:4]), "max_points": max_points} for m, _ in missing]
    st.caption(md_escape(dv.estimate_text([("view_embedding", c) for c in emb_cfgs])))
    if st.button(f"Compute UMAP ({', '.join(t for _, t in missing)})", type="primary", key="emb_umap_go"):
        ids = []
        for cfg in emb_cfgs:
            jid = job_widgets.submit("view_embedding", cfg)
            if jid:
                ids.append(jid)
        st.session_state["emb_jobs"] = ids
        st.rerun()
for jid in st.session_state.get("emb_jobs", []):
    job_widgets.watch_job(jid, f"emb_{jid}", "UMAP coordinates stored.")

ready = [(m, t, df) for m, t, df in frames if df is not None]
if not ready:
    common.sync_url(proj=reducer, after=None if after == "(none)" else after, points=max_points)
    st.stop()

ready = [(m, t, dv.membership(dv.with_scores(df))) for m, t, df in ready]
base = ready[0][2]
color_opts = [c for c in base.columns if c not in ("index", "x", "y", "label_name", "prediction_name")]
pref = next((c for c in base.columns if c.startswith(f"in:worst-case 10% · seed {seed}")),
            next((c for c in base.columns if c.startswith("in:worst")), "label"))
common.keep("emb_color", _from_url("color", pref, color_opts), valid=lambda v: v if v in color_opts else pref)
color = st.selectbox("Colour by", color_opts, key="emb_color", format_func=style.column_label,
                     help="label / prediction / correctness, a score (continuous scale) or membership of a built "
                          "forget set (members in the colour of their selector, on top).")
common.sync_url(proj=reducer, after=None if after == "(none)" else after, points=max_points, color=color)
set_selector = None
if color.startswith("in:"):
    cat = readers.catalog()
    hit = cat[cat["name"] == color[3:]]
    set_selector = hit["selector"].iloc[0] if len(hit) else None
cols = st.columns(len(ready))
picked: list[int] = []
for i, ((model, title, df), col) in enumerate(zip(ready, cols)):
    with col:
        c = color if color in df else "label"
        fig = embedding_figure(df, c, title=f"{title} · {reducer.upper()}", set_selector=set_selector)
        fig.update_layout(height=520, dragmode="select", margin=dict(l=10, r=10, t=60, b=10),
                          legend=dict(orientation="h", y=-0.15))
        ev = widgets.plot(fig, key=f"emb_fig_{i}", on_select="rerun", selection_mode=("box", "lasso"))
        picked += [int(cd[0]) for cd in widgets.selected_points(ev)]
        info = df.attrs.get("info") or {}
        if "explained_variance_ratio" in info:
            st.caption("PCA explained variance: " + ", ".join(f"{v:.1%}" for v in info["explained_variance_ratio"]))
st.caption(EMBEDDING_CAPTION + " Drag a box or lasso (toolbar) on a map to list the selected samples below.")

picked = list(dict.fromkeys(picked))
if picked:
    st.subheader(f"{len(picked)} selected samples")
    st.image(readers.mosaic(picked[:96], ncols=16, size=40),
             caption=f"first {min(len(picked), 96)} selected, row by row: sample number and class under each image")
    sel = base[base["index"].isin(picked)]
    show = ["index", "label_name", "prediction_name", "confidence"] + [c for c in sel.columns
                                                                       if c not in ("x", "y", "label", "prediction",
                                                                                    "correct", "index", "label_name",
                                                                                    "prediction_name", "confidence")
                                                                       and not c.startswith("in:")]
    table = sel[show].copy()
    table.insert(0, "image", readers.data_uris(table["index"][:200], 32) + [None] * max(0, len(table) - 200))
    table["inspect"] = [dv.inspector_link(i) for i in table["index"]]
    names = {c: style.column_label(c) for c in table.columns if c not in ("image", "inspect")}
    cfg = {"image": st.column_config.ImageColumn("image", width="small"),
           "inspect": st.column_config.LinkColumn("inspect", display_text="open", width="small")}
    for c in show:
        if c not in ("index", "label_name", "prediction_name"):
            cfg[names[c]] = st.column_config.NumberColumn(names[c], format="%.3g")
    widgets.table(table.rename(columns=names), key="emb_sel_table", row_height=36, max_rows=15, column_config=cfg)
    means = sel.drop(columns=[c for c in ("x", "y", "index", "label", "prediction") if c in sel]).mean(numeric_only=True)
    st.caption("Mean over the selection: " + md_escape(" · ".join(f"{style.column_label(k)} {v:.3g}"
                                                                   for k, v in means.items())))
else:
    st.caption("No samples selected yet.")
