"""The attack view: how a membership-inference attacker sees an unlearned model next to Retrain on the same set.

For one unlearning run and the Retrain run on the same forget set (same selector, ratio, seed):

- **membership signal** per sample of the forget, retain and test sets: the confidence p_y and the logit-scaled
  confidence log(p_y / (1 − p_y)) (``privacy_metrics.output_statistic(..., "scaled_logit")``, the statistic of
  Carlini et al., *Membership Inference Attacks From First Principles*);
- the **SVC attack** of the MIA-efficacy metric (Fan et al., *Challenging Forgets*; Jia et al., *Model Sparsity Can
  Simplify Machine Unlearning*): an RBF SVC on p_y trained with members = retain samples (as many as the test set,
  the same draw as :func:`unlearn_core.metrics.mia_efficacy_from_logits`) and non-members = the test set; its
  decision on each forget sample ("member" / "non-member"), so MIA-efficacy = 100 · share of D_f called non-member
  is reproduced exactly;
- a **threshold sweep**: the attacker that calls a sample a member when its logit-scaled confidence is above a
  threshold, forget samples (positives) against test samples (negatives): ROC curve (sklearn.metrics.roc_curve),
  AUC and the TPR at low FPR (1%, 0.1%) — a forget set forgotten like Retrain sits near Retrain's curve;
- **risk flags** per forget sample: called a member by the SVC under the unlearned model although Retrain calls it
  a non-member, or its logit-scaled confidence above the attack threshold at 1% FPR while Retrain's is not;
- the **prediction matrix**: which forget samples θ_o, the unlearned model and Retrain classify correctly (the
  eight right / wrong patterns and their counts);
- **class-wise accuracy** on the forget, retain and test sets under θ_o, the unlearned model and Retrain.

Everything is computed from stored models (three forward passes and one SVC fit per model); nothing is trained.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..errors import ConfigError
from ..metrics import DEFAULT_MIA, mia_features
from ..privacy_metrics import output_statistic
from ..training import as_index_tensor, predict_logits
from ._inputs import ModelRef

LOW_FPRS = (0.01, 0.001)
MODELS = ("original", "unlearned", "retrain")  # θ_o, the run's model, Retrain on the same set


@dataclass
class AttackView:
    """Frames of the attack view (see the module docstring). ``model`` columns hold 'original' / 'unlearned' /
    'retrain'; ``group`` columns 'forget' / 'retain' / 'test'."""

    signal: pd.DataFrame  # index, group, model, confidence, scaled_logit, svc_member (bool; forget/retain/test)
    roc: pd.DataFrame  # model, fpr, tpr, threshold (forget = positives vs test = negatives, scaled_logit)
    summary: pd.DataFrame  # model, mia_efficacy, auc, tpr@1%fpr, tpr@0.1%fpr, threshold@1%fpr
    risk: pd.DataFrame  # per forget sample: index, label, scaled_logit_*, svc_member_*, flags, risk
    prediction_matrix: pd.DataFrame  # per forget sample: index, label, original_correct, unlearned_correct, retrain_correct
    pattern_counts: pd.DataFrame  # original_correct, unlearned_correct, retrain_correct, count, share
    classwise: pd.DataFrame  # class, group, model, accuracy, n
    info: dict = field(default_factory=dict)


def _svc_member_calls(logits_retain, y_retain, logits_test, y_test, parts: dict, seed: int) -> dict[str, np.ndarray]:
    """The MIA-efficacy SVC (same draw of members as metrics.mia_efficacy_from_logits) and its member (True) /
    non-member (False) call on each array of ``parts`` ({name: (logits, y)})."""
    from sklearn.svm import SVC

    n = min(len(y_test), len(y_retain))
    rng = np.random.default_rng(seed)
    pick = torch.as_tensor(rng.choice(len(y_retain), size=n, replace=False), device=logits_retain.device)
    x_mem = mia_features(logits_retain[pick], y_retain[pick], DEFAULT_MIA)
    x_non = mia_features(logits_test[:n], y_test[:n], DEFAULT_MIA)
    x = np.concatenate([x_mem, x_non])
    if np.unique(x, axis=0).shape[0] < 2:  # degenerate features: the metric's prior, everything a member
        return {k: np.ones(len(y), dtype=bool) for k, (_, y) in parts.items()}
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(x, np.r_[np.ones(n), np.zeros(n)])
    return {k: clf.predict(mia_features(lg, y, DEFAULT_MIA)) == 1 for k, (lg, y) in parts.items()}


def _threshold_sweep(pos: np.ndarray, neg: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """ROC of 'member if score > t' with positives ``pos`` and negatives ``neg``; AUC, TPR at LOW_FPRS and the
    threshold reaching 1% FPR."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    s = np.r_[pos, neg]
    fpr, tpr, thr = roc_curve(y, s)
    out = {"auc": float(roc_auc_score(y, s))}
    for f in LOW_FPRS:
        ok = fpr <= f
        out[f"tpr@{f:g}"] = float(tpr[ok].max()) if ok.any() else 0.0
    ok = np.flatnonzero(fpr <= 0.01)
    out["threshold@0.01"] = float(thr[ok[-1]]) if len(ok) else float("inf")
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr}), out


def attack_view(pipe, method: str, selector: str, ratio: float | None, seed: int, params: dict | None = None,
                max_retain: int | None = 5000) -> AttackView:
    """The attack view of the stored run (method, selector, ratio, seed) next to Retrain and θ_o on the same set.

    Raises ConfigError when the run, Retrain's run on the same set or θ_o is not stored (the caller offers to run
    it). ``max_retain``: retain samples shown in the signal frame (a random subset, fixed by ``seed``; the SVC and
    the class-wise accuracy use all of them)."""
    refs = {"original": ModelRef(seed=seed), "unlearned": ModelRef(method, selector, ratio, seed, params),
            "retrain": ModelRef("retrain", selector, ratio, seed)}
    missing = [k for k, r in refs.items() if not r.is_available(pipe)]
    if missing:
        raise ConfigError("The attack view needs stored models of θ_o, the run and Retrain on the same forget set; "
                          f"missing: {', '.join(missing)}.")
    fs_run = pipe.find_forget_set(selector, ratio, seed)
    fs = pipe.load_forget_set(fs_run) if fs_run else None
    if fs is None:
        raise ConfigError(f"The forget set {selector} {ratio} (seed {seed}) is not stored.")
    ds = pipe.ds
    n = ds.n_train
    forget = np.asarray(fs.forget_idx, dtype=np.int64)
    retain = np.setdiff1d(np.arange(n), forget)
    test = np.arange(int(ds.x_test.shape[0]))
    dev = ds.device
    f_t, r_t = as_index_tensor(forget, dev), as_index_tensor(retain, dev)
    y_tr, y_te = ds.y_train, ds.y_test
    rng = np.random.default_rng(seed)
    shown_retain = retain if max_retain is None or len(retain) <= max_retain else \
        np.sort(rng.choice(retain, max_retain, replace=False))
    sig_rows, roc_rows, summ, correct, member = [], [], [], {}, {}
    cls_rows = []
    for name, ref in refs.items():
        model = ref.load(pipe, train_if_missing=False)
        model.eval()
        lt_train = predict_logits(model, ds, "train")
        lt_test = predict_logits(model, ds, "test")
        lf, lr = lt_train[f_t], lt_train[r_t]
        yf, yr = y_tr[f_t], y_tr[r_t]
        calls = _svc_member_calls(lr, yr, lt_test, y_te, {"forget": (lf, yf), "retain": (lr, yr),
                                                         "test": (lt_test, y_te)}, seed)
        stats = {}
        for group, (lg, yy, idx) in {"forget": (lf, yf, forget), "retain": (lr, yr, retain),
                                     "test": (lt_test, y_te, test)}.items():
            conf = output_statistic(lg, yy, "confidence").cpu().numpy().astype(float)
            sl = output_statistic(lg, yy, "scaled_logit").cpu().numpy().astype(float)
            stats[group] = sl
            keep = np.isin(idx, shown_retain) if group == "retain" else np.ones(len(idx), bool)
            sig_rows.append(pd.DataFrame({"index": idx[keep], "group": group, "model": name, "confidence": conf[keep],
                                          "scaled_logit": sl[keep], "svc_member": calls[group][keep]}))
            pred = lg.argmax(1).cpu().numpy()
            yy_np = yy.cpu().numpy()
            ok = pred == yy_np
            if group == "forget":
                correct[name] = ok
                member[name] = (calls["forget"], sl)
            for c in np.unique(yy_np):
                m = yy_np == c
                cls_rows.append({"class": int(c), "group": group, "model": name, "accuracy": 100.0 * ok[m].mean(),
                                 "n": int(m.sum())})
        roc, s = _threshold_sweep(stats["forget"], stats["test"])
        roc_rows.append(roc.assign(model=name))
        summ.append({"model": name, "mia_efficacy": 100.0 * float((~calls["forget"]).mean()), **s})
    summary = pd.DataFrame(summ)
    thr_u = float(summary.set_index("model").at["unlearned", "threshold@0.01"])
    thr_r = float(summary.set_index("model").at["retrain", "threshold@0.01"])
    labels = y_tr[f_t].cpu().numpy()
    svc_u, sl_u = member["unlearned"]
    svc_r, sl_r = member["retrain"]
    flag_svc = svc_u & ~svc_r
    flag_thr = (sl_u > thr_u) & ~(sl_r > thr_r)
    risk = pd.DataFrame({"index": forget, "label": labels, "scaled_logit_unlearned": sl_u, "scaled_logit_retrain": sl_r,
                         "svc_member_unlearned": svc_u, "svc_member_retrain": svc_r,
                         "flag_svc": flag_svc, "flag_threshold": flag_thr})
    risk["risk"] = flag_svc.astype(int) + flag_thr.astype(int)
    risk = risk.sort_values(["risk", "scaled_logit_unlearned"], ascending=[False, False], kind="stable")
    pm = pd.DataFrame({"index": forget, "label": labels, **{f"{k}_correct": correct[k] for k in MODELS}})
    counts = pm.groupby([f"{k}_correct" for k in MODELS]).size().rename("count").reset_index()
    counts["share"] = counts["count"] / len(pm)
    counts = counts.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
    return AttackView(signal=pd.concat(sig_rows, ignore_index=True), roc=pd.concat(roc_rows, ignore_index=True),
                      summary=summary, risk=risk.reset_index(drop=True), prediction_matrix=pm,
                      pattern_counts=counts, classwise=pd.DataFrame(cls_rows),
                      info={"method": method, "selector": selector, "ratio": ratio, "seed": int(seed),
                            "n_forget": int(len(forget)), "n_retain": int(len(retain)), "n_test": int(len(test)),
                            "n_retain_shown": int(len(shown_retain)), "low_fprs": list(LOW_FPRS)})
