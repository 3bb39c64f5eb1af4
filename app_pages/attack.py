"""Attack view: how a membership-inference attacker sees an unlearned model next to Retrain on the same forget set
(signal distributions, the MIA SVC's calls, a threshold sweep, risk flags), the prediction matrix and class-wise
accuracy. Computed by unlearn_core.analysis.attack from stored models; this page only draws."""
import pandas as pd
import streamlit as st

from dashboard import attack_charts, common, glossary, readers, style, widgets
from dashboard import analysis_readers as dv
from dashboard.safety import md_escape
from unlearn_core.errors import ForgetsetError

common.page_guard()
st.title("Attack view")
st.caption("For one unlearning run and Retrain on the same forget set: what a membership-inference attacker sees "
           "(the MIA-efficacy SVC of Fan et al., *Challenging Forgets*, and a threshold attack on the logit-scaled "
           "confidence of Carlini et al., *Membership Inference Attacks From First Principles*), which forget samples "
           "each model still gets right, and the accuracy per class. Good unlearning looks like Retrain, not like θ_o.")
pipe = readers.require_pipeline()
cands = dv.attack_candidates(pipe)
if cands.empty:
    st.info("No unlearning run of the active setup has its model, θ_o and Retrain on the same set stored. Run the "
            "teaching demo (Overview) or a grid with Retrain and a method (Experiments).", icon=":material/info:")
    st.stop()


def _label(i: int) -> str:
    r = cands.iloc[i]
    where = style.selector_label(r["selector"]) + ("" if r["ratio"] is None or r["ratio"] != r["ratio"]
                                                   else f" {style.ratio_label(r['ratio'])}")
    return f"{style.method_label(r['method'])} on {where} · seed {r['seed']}"


# opens on the most telling run (issue 22): a non-uniform prediction matrix, the membership signal furthest from
# Retrain's; the caption says why while that choice is shown
first, why_first = dv.informative_attack_run(cands)
common.keep("atk_run", first, valid=lambda v: v if isinstance(v, int) and 0 <= v < len(cands) else first)
pick = st.selectbox("Run", list(range(len(cands))), format_func=_label, key="atk_run")
common.remember("atk_run")
if pick == first:
    st.caption(md_escape(why_first))
r = cands.iloc[pick]
try:
    with st.spinner("Three forward passes and three SVC fits…"):
        view = dv.attack(r["method"], r["selector"], r["ratio"], int(r["seed"]), r["params"])
except ForgetsetError as err:
    widgets.error(str(err))
    st.stop()
info = view.info
s = view.summary.set_index("model")
name = {"original": "θ_o", "unlearned": style.method_label(r["method"]), "retrain": "Retrain"}
st.markdown(f"**{md_escape(_label(pick))}** · forget {info['n_forget']} · retain {info['n_retain']} · test "
            f"{info['n_test']} samples · one seed: no spread over seeds here (Compare has the mean ± std).")
summ = pd.DataFrame({
    "model": [name[m] for m in s.index],
    "MIA-efficacy (%)": s["mia_efficacy"].to_numpy(),
    "threshold attack AUC": s["auc"].to_numpy(),
    "TPR at 1% FPR (%)": 100 * s["tpr@0.01"].to_numpy(),
    "TPR at 0.1% FPR (%)": 100 * s["tpr@0.001"].to_numpy(),
})
widgets.table(summ, key="atk_summary", max_rows=None, column_config={
    "MIA-efficacy (%)": st.column_config.NumberColumn(format="%.1f", help=glossary.GLOSSARY["MIA"]),
    "threshold attack AUC": st.column_config.NumberColumn(
        format="%.3f", help="Area under the ROC of 'member if the logit-scaled confidence is above t', forget "
                            "samples against test samples: 0.5 = the attacker cannot tell them apart."),
    "TPR at 1% FPR (%)": st.column_config.NumberColumn(
        format="%.1f", help="Share of forget samples the threshold attack calls members while calling at most 1% "
                            "of the test samples members (Carlini et al.: the regime where an attack matters)."),
    "TPR at 0.1% FPR (%)": st.column_config.NumberColumn(format="%.1f")})

st.subheader("Membership signal per sample")
c1, c2 = st.columns([1.25, 1])
with c1:
    stat = st.segmented_control("Signal", ["scaled_logit", "confidence"], key="atk_stat",
                                format_func=attack_charts.ATTACK_STAT_LABELS.get, default="scaled_logit",
                                help=glossary.term_help("logit-scaled confidence") + "\n\n"
                                + glossary.term_help("p_y")) or "scaled_logit"
    widgets.plot(attack_charts.attack_signal(view.signal, stat), key="atk_signal")
    st.caption(f"Forget samples (vermillion) against retain (grey, {info['n_retain_shown']} shown) and test samples "
               "(blue). Under Retrain the forget set never was a member: it should look like the test set. Where the "
               "unlearned model's forget histogram sits with the retain set, an attacker still sees membership.")
with c2:
    widgets.plot(attack_charts.attack_roc(view.roc, view.summary), key="atk_roc")
    st.caption("Threshold sweep (sklearn.metrics.roc_curve): every threshold t on the logit-scaled confidence, forget "
               "samples = positives, test samples = negatives. Log FPR axis; the dotted line marks 1% FPR.")

st.subheader("Risk flags: forget samples the attack still calls members")
risk = view.risk
flagged = risk[risk["risk"] > 0]
st.caption(f"{len(flagged)} of {len(risk)} forget samples are flagged: the SVC calls them members under "
           f"{md_escape(name['unlearned'])} but not under Retrain ({int(risk['flag_svc'].sum())}), or their logit-scaled "
           f"confidence is above the 1%-FPR threshold while Retrain's is not ({int(risk['flag_threshold'].sum())}). "
           "Open one in the inspector.")
if len(flagged):
    t = flagged.head(50).copy()
    t["class"] = [pipe.ds.classes[int(y)] for y in t["label"]]
    t["inspect"] = [dv.inspector_link(i) for i in t["index"]]
    t.insert(0, "image", readers.data_uris(t["index"], 32))
    t = t[["image", "index", "class", "risk", "flag_svc", "flag_threshold", "scaled_logit_unlearned",
           "scaled_logit_retrain", "inspect"]]
    widgets.table(t, key="atk_risk", row_height=36, max_rows=15, column_config={
        "image": st.column_config.ImageColumn("image", width="small"),
        "index": st.column_config.NumberColumn("sample", format="%d"),
        "risk": st.column_config.NumberColumn("flags", help="Number of the two flags raised (0–2)."),
        "flag_svc": st.column_config.CheckboxColumn("SVC: member (Retrain: not)"),
        "flag_threshold": st.column_config.CheckboxColumn("above 1%-FPR threshold (Retrain: not)"),
        "scaled_logit_unlearned": st.column_config.NumberColumn(f"signal under {name['unlearned']}", format="%.2f"),
        "scaled_logit_retrain": st.column_config.NumberColumn("signal under Retrain", format="%.2f"),
        "inspect": st.column_config.LinkColumn("inspect", display_text="open")})

st.subheader("Prediction matrix: which forget samples each model gets right")
pm_left, pm_right = st.columns([2, 1])
with pm_left:
    widgets.plot(attack_charts.prediction_matrix(view.prediction_matrix), key="atk_pm")
with pm_right:
    pc = view.pattern_counts.copy()
    yn = {True: "right", False: "wrong"}
    pc_t = pd.DataFrame({"θ_o": pc["original_correct"].map(yn), name["unlearned"]: pc["unlearned_correct"].map(yn),
                         "Retrain": pc["retrain_correct"].map(yn), "samples": pc["count"],
                         "share (%)": 100 * pc["share"]})
    widgets.table(pc_t, key="atk_patterns", max_rows=None,
                 column_config={"share (%)": st.column_config.NumberColumn(format="%.1f")})
pm = view.prediction_matrix
agree = float((pm["unlearned_correct"] == pm["retrain_correct"]).mean())
st.caption(f"Columns = the {len(pm)} forget samples, grouped by pattern; blue = classified right. "
           f"{md_escape(name['unlearned'])} agrees with Retrain on {100 * agree:.1f}% of them. "
           "‘right under θ_o and the unlearned model, wrong under Retrain’ = knowledge the method failed to remove; "
           "‘wrong under the unlearned model, right under Retrain’ = over-forgetting (Retrain generalises to them).")

st.subheader("Class-wise accuracy before and after")
common.keep("atk_group", "forget")
group = st.segmented_control("Set", ["forget", "retain", "test"], key="atk_group") or "forget"
common.remember("atk_group")
widgets.plot(attack_charts.classwise_accuracy(view.classwise, group), key="atk_cw")
cw = view.classwise[view.classwise["group"] == group]
worst_cls = cw.pivot_table(index="class", columns="model", values="accuracy")
if {"unlearned", "retrain"} <= set(worst_cls.columns):
    d = (worst_cls["unlearned"] - worst_cls["retrain"]).abs()
    k = int(d.idxmax())
    st.caption(f"Accuracy per class on the {group} set under θ_o (before), {md_escape(name['unlearned'])} (after) "
               f"and Retrain (the target). Largest gap to Retrain: class {md_escape(pipe.ds.classes[k])}, "
               f"{d.max():.1f} points (n = {int(cw[(cw['class'] == k) & (cw['model'] == 'retrain')]['n'].iloc[0])}).")
