"""MIA-efficacy (Fan et al., Challenging Forgets §3).

MIA = 100·(fraction of D_f an SVC predicts as non-member), the SVC (RBF, C=3, gamma="auto") trained on a feature of
θ_u's outputs with members = retain samples (as many as the test set) and non-members = the test set. Five feature
variants, each a registered metric ``MIA_<variant>``; ``MIA`` is the confidence (p_y) variant the papers report.

Only the confidence variant (``MIA`` = ``MIA_confidence``) is computed with every run. The four others are
on-demand metrics (``metrics.registry``): each is one more RBF SVC fit, O(n²) in the test-set size (four of them
cost about twice an FT run on a gray-28 grid), so they are computed from a run's stored model only when asked for
(``compare --mia-variants``, the dashboard's MIA-variants panel) and stored as metric records. The value does not
depend on when it is computed: each variant draws its members with its own generator seeded by the run's seed.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .registry import register_metric

MIA_VARIANTS = ("confidence", "correctness", "entropy", "m_entropy", "prob")
DEFAULT_MIA = "confidence"


def variant_metric(variant: str) -> str:
    return f"MIA_{variant}"


def parse_mia_variants(text: str | None) -> tuple[str, ...]:
    """``--mia-variants``: ``all``, ``none`` / empty, or a comma list of variants (or their metric names
    ``MIA_<variant>``) -> the variants, in ``MIA_VARIANTS`` order. A ConfigError names an unknown one."""
    text = (text or "").strip()
    if text.lower() in ("", "none"):
        return ()
    if text.lower() == "all":
        return MIA_VARIANTS
    asked = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in asked if t.removeprefix("MIA_") not in MIA_VARIANTS]
    if bad:
        raise ConfigError(f"Unknown MIA feature variant {', '.join(repr(b) for b in bad)}. Choose 'all', 'none' or a "
                          f"comma list of: {', '.join(MIA_VARIANTS)}.", field="mia_variants")
    got = {t.removeprefix("MIA_") for t in asked}
    return tuple(v for v in MIA_VARIANTS if v in got)


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


def _register_variant(variant: str, what: str) -> None:
    def fn(view) -> float:
        return mia_efficacy_from_logits(view.logits_retain, view.y_retain, view.logits_test, view.y_test,
                                        view.logits_forget, view.y_forget, variant, view.seed)

    register_metric(variant_metric(variant), label=f"MIA ({what})", direction="higher", unit="%",
                    formula=f"100 · share of D_f an RBF SVC on {what} calls non-member (members D_r, non-members D_t)",
                    paper="Song & Mittal, Systematic Evaluation of Privacy Risks of Machine Learning Models",
                    on_demand=variant != DEFAULT_MIA)(fn)


for _variant, _what in (("confidence", "the confidence p_y"), ("correctness", "correctness"),
                        ("entropy", "the prediction entropy"), ("m_entropy", "the modified entropy"),
                        ("prob", "the probability vector")):
    _register_variant(_variant, _what)


@register_metric("MIA", label="MIA-efficacy", direction="higher", unit="%",
                 formula="100 · share of D_f an RBF SVC on the confidence p_y calls non-member",
                 help="MIA-efficacy: share of the forget set that a membership-inference SVC on the confidence p_y "
                      "calls a non-member (%).",
                 paper="Fan et al., Challenging Forgets §3")
def mia_efficacy(view) -> float:
    return view.value(f"MIA_{DEFAULT_MIA}")
