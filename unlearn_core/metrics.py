"""Unlearning metrics (Fan et al., Challenging Forgets §3, Chen et al., Forgetting Sequence Eq. 2, Sharma et al., DAU §4.1). All accuracies are reported in percent.

- UA  = 100·(1 − acc(θ_u; D_f))          unlearning accuracy
- RA  = 100·acc(θ_u; D_r)                remaining accuracy
- TA  = 100·acc(θ_u; D_t)                testing accuracy
- MIA = 100·(fraction of D_f an SVC predicts as non-member), the SVC (RBF, C=3, gamma="auto") trained on a
        feature of θ_u's outputs with members = retain samples (as many as the test set) and non-members = the
        test set. Five feature variants; "confidence" (p_y) is the one the papers report and the default shown.
- Gap to Retrain: |m_u − m_retrain| per metric; Avg. gap = mean over UA, MIA, RA, TA.
- ToW = (1 − da_f)(1 − da_r)(1 − da_t), da = |acc_u − acc_retrain| as a fraction (Chen et al., Forgetting Sequence Eq. 2).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .data import ImageDataset
from .errors import ConfigError
from .training import as_index_tensor, predict_logits

MIA_VARIANTS = ("confidence", "correctness", "entropy", "m_entropy", "prob")
DEFAULT_MIA = "confidence"
GAP_METRICS = ("UA", "MIA", "RA", "TA")


def mia_features(logits: torch.Tensor, y: torch.Tensor, variant: str) -> np.ndarray:
    """Attack features of model outputs: p_y, correctness, entropy, modified entropy (Song & Mittal 2021), probs."""
    if variant not in MIA_VARIANTS:
        raise ConfigError(f"Unknown MIA feature '{variant}'. Choose one of: {', '.join(MIA_VARIANTS)}.")
    logp = torch.log_softmax(logits.float(), dim=1)
    p = logp.exp()
    py = p.gather(1, y[:, None]).squeeze(1)
    if variant == "confidence":
        f = py[:, None]
    elif variant == "correctness":
        f = (logits.argmax(1) == y).float()[:, None]
    elif variant == "entropy":
        f = -(p * logp).sum(1, keepdim=True)
    elif variant == "m_entropy":
        # Mentr = −(1 − p_y) log p_y − Σ_{j≠y} p_j log(1 − p_j)
        log1mp = torch.log1p(-p.clamp(max=1 - 1e-7))
        onehot = F.one_hot(y, p.shape[1]).bool()
        term_y = -(1 - py) * logp.gather(1, y[:, None]).squeeze(1)
        term_o = -(p * log1mp).masked_fill(onehot, 0).sum(1)
        f = (term_y + term_o)[:, None]
    else:
        f = p
    return f.detach().cpu().numpy().astype(np.float64)


def mia_efficacy_from_logits(logits_retain: torch.Tensor, y_retain: torch.Tensor, logits_test: torch.Tensor,
                             y_test: torch.Tensor, logits_forget: torch.Tensor, y_forget: torch.Tensor,
                             variant: str = DEFAULT_MIA, seed: int = 0) -> float:
    """MIA-efficacy in percent: share of D_f that the shadow SVC calls non-member."""
    from sklearn.svm import SVC

    n = min(len(y_test), len(y_retain))
    if n == 0 or len(y_forget) == 0:
        raise ConfigError("MIA needs non-empty retain, test and forget sets.")
    rng = np.random.default_rng(seed)
    pick = torch.as_tensor(rng.choice(len(y_retain), size=n, replace=False), device=logits_retain.device)
    x_mem = mia_features(logits_retain[pick], y_retain[pick], variant)
    x_non = mia_features(logits_test[:n], y_test[:n], variant)
    x = np.concatenate([x_mem, x_non])
    lab = np.concatenate([np.ones(n), np.zeros(n)])
    if np.unique(x, axis=0).shape[0] < 2:
        # Degenerate features (e.g. correctness when every sample is classified right): the SVC cannot separate
        # anything, so no sample is called a non-member by evidence; report the prior (all members).
        return 0.0
    clf = SVC(C=3, gamma="auto", kernel="rbf")
    clf.fit(x, lab)
    pred = clf.predict(mia_features(logits_forget, y_forget, variant))
    return float(100.0 * (pred == 0).mean())


def evaluate(model: torch.nn.Module, ds: ImageDataset, forget_idx, retain_idx, seed: int = 0,
             test_idx=None, mia_variants: tuple[str, ...] = MIA_VARIANTS) -> dict[str, float]:
    """UA, RA, TA and MIA-efficacy (every feature variant as ``MIA_<variant>``; ``MIA`` = confidence).

    ``test_idx`` restricts D_t (class-wise forgetting evaluates TA on the remaining classes' test samples).
    """
    device = ds.device
    forget_t = as_index_tensor(forget_idx, device)
    retain_t = as_index_tensor(retain_idx, device)
    if forget_t.numel() == 0:
        raise ConfigError("The forget set is empty.")
    logits_train = predict_logits(model, ds, "train")
    logits_test_all = predict_logits(model, ds, "test")
    test_t = torch.arange(ds.x_test.shape[0], device=device) if test_idx is None else as_index_tensor(test_idx, device)
    y_tr, y_te = ds.y_train, ds.y_test[test_t]
    lf, lr, lt = logits_train[forget_t], logits_train[retain_t], logits_test_all[test_t]
    yf, yr = y_tr[forget_t], y_tr[retain_t]

    def acc(logits, y):
        return float((logits.argmax(1) == y).float().mean().item()) if len(y) else float("nan")

    out = {
        "UA": 100.0 * (1.0 - acc(lf, yf)),
        "RA": 100.0 * acc(lr, yr),
        "TA": 100.0 * acc(lt, y_te),
    }
    for v in mia_variants:
        out[f"MIA_{v}"] = mia_efficacy_from_logits(lr, yr, lt, y_te, lf, yf, v, seed)
    out["MIA"] = out.get(f"MIA_{DEFAULT_MIA}", float("nan"))
    return out


def gap_to_retrain(metrics: dict[str, float], retrain: dict[str, float]) -> dict[str, float]:
    """|m_u − m_retrain| per metric and their mean over UA, MIA, RA, TA ("avg_gap")."""
    gaps = {f"gap_{k}": abs(metrics[k] - retrain[k]) for k in GAP_METRICS}
    gaps["avg_gap"] = float(np.mean([gaps[f"gap_{k}"] for k in GAP_METRICS]))
    return gaps


def tug_of_war(metrics: dict[str, float], retrain: dict[str, float]) -> float:
    """ToW = Π_{s∈{f,r,t}} (1 − |acc_u(s) − acc_retrain(s)|), accuracies as fractions (Chen et al., Forgetting Sequence Eq. 2)."""
    acc_f_u, acc_f_r = 1 - metrics["UA"] / 100, 1 - retrain["UA"] / 100
    da_f = abs(acc_f_u - acc_f_r)
    da_r = abs(metrics["RA"] - retrain["RA"]) / 100
    da_t = abs(metrics["TA"] - retrain["TA"]) / 100
    return float((1 - da_f) * (1 - da_r) * (1 - da_t))
