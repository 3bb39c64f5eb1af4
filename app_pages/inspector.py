"""Sample inspector: one training sample with every score and its rank, forget sets, and every model's prediction."""
import streamlit as st

from dashboard import common
from dashboard import views as dv
from dashboard.charts import INSPECTOR_CAPTION

common.page_guard()
st.title("Sample inspector")
pipe = common.require_pipeline()
n = pipe.ds.n_train

qp = st.query_params.get("sample")
if qp is not None and st.session_state.get("_insp_qp") != qp:
    st.session_state["_insp_qp"] = qp
    try:
        st.session_state["insp_index"] = min(max(int(qp), 0), n - 1)
    except ValueError:
        st.warning(f"URL parameter sample={qp!r} is not a sample index; showing sample 0.")
st.session_state.setdefault("insp_index", 0)
idx = int(st.number_input(f"Training sample (0 … {n - 1})", 0, n - 1, step=1, key="insp_index"))
st.query_params["sample"] = str(idx)
st.caption(INSPECTOR_CAPTION + " Link to a sample with `?sample=N` (e.g. from the Embeddings page).")

if not dv.ModelRef(seed=common.seed()).is_available(pipe):
    st.warning("The original model θ_o is not trained yet: train it on **Data & model** first.", icon=":material/warning:")
    st.page_link(common.PAGES["data"], label="Go to **Data & model**", icon=":material/dataset:")
    st.stop()

models = dv.model_refs(pipe, dv.active_results(pipe))
rep = dv.sample_report(idx, models)
a, b = st.columns([1, 3])
a.image(common.thumbs([idx], 160)[0], caption=f"sample #{idx}")
with b:
    attrs = "".join(f" · {k} = {v}" for k, v in rep.attributes.items())
    st.markdown(f"### Sample #{rep.index} · label **{rep.label_name}**{attrs}")
    held = rep.forget_sets[rep.forget_sets["contains"]]["set"].tolist() if not rep.forget_sets.empty else []
    st.markdown("**In forget sets:** " + (", ".join(f"`{s}`" for s in held) if held else "none of the built ones"))
    for note in rep.notes:
        st.caption(note)

st.subheader("Scores")
if rep.scores.empty:
    st.info("No scores computed yet (Scores page).")
else:
    st.dataframe(rep.scores, hide_index=True, key="insp_scores",
                 column_config={"value": st.column_config.NumberColumn(format="%.4g"),
                                "percentile": st.column_config.NumberColumn(format="%.1f")})
st.subheader("Predictions")
pred = rep.predictions[["model", "available", "prediction_name", "confidence", "p_true", "correct"]]
st.dataframe(pred, hide_index=True, key="insp_preds",
             column_config={"confidence": st.column_config.NumberColumn(format="%.3f"),
                            "p_true": st.column_config.NumberColumn(format="%.3f")})
if len(models) == 0:
    st.caption("No unlearned models stored for this setup yet: run an experiment to compare Retrain and the methods.")
st.subheader("Forget sets")
st.dataframe(rep.forget_sets, hide_index=True, key="insp_sets")
