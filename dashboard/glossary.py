"""The one glossary of the dashboard: every term the pages use, with its one-line definition (the hover help of
column headers, metric labels, axes and widgets), its formula and the paper it comes from (the Glossary page).

Pages and table builders take their help text from here and nowhere else: :func:`help_text` finds the term behind a
column or label ("worst-case 10% · UA", "MIA-efficacy (%)", "gap RA", "BLO worst-case weight (10% set)"), and
:func:`hover_line` gives the same text for a plotly hover (``dashboard.tables.column_help`` turns a table's columns
into ``st.column_config`` entries that carry it). No Streamlit here: the figure builders use it too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from unlearn_core.scores import get_score, score_names

PAPERS = {
    "fan": "Fan, Liu, Hero, Liu — *Challenging Forgets: Unveiling the Worst-Case Forget Sets in Machine "
           "Unlearning* (ECCV 2024)",
    "chen": "Chen et al. — *Machine Unlearning in Forgetting Sequence*",
    "zhao": "Zhao, Kurmanji, Bărbulescu, Triantafillou, Triantafillou — *What makes unlearning hard and what to do "
            "about it* (NeurIPS 2024)",
    "feldman": "Feldman & Zhang — *What neural networks memorize and why: discovering the long tail via influence "
               "estimation* (NeurIPS 2020)",
    "akbari": "Akbari, Gaudi, Morshed — *Machine Unlearning*",
    "jia": "Jia, Liu, Ram, Yao, Liu, Liu, Sharma, Liu — *Model Sparsity Can Simplify Machine Unlearning* "
           "(NeurIPS 2023)",
    "carlini": "Carlini, Chien, Nasr, Song, Terzis, Tramèr — *Membership Inference Attacks From First Principles* "
               "(IEEE S&P 2022)",
    "triantafillou": "Triantafillou et al. — *Are we making progress in unlearning? Findings from the first NeurIPS "
                     "unlearning competition* (2024)",
    "georgiev": "Georgiev et al. — *Attribute-to-Delete: Machine Unlearning via Datamodel Matching* (2024)",
    "hayes": "Hayes et al. — *Inexact unlearning needs more careful evaluations to avoid a false sense of privacy*",
    "paul": "Paul, Ganguli, Dziugaite — *Deep Learning on a Data Diet: Finding Important Examples Early in Training* "
            "(NeurIPS 2021)",
}


@dataclass(frozen=True)
class Term:
    """One glossary entry: the one-line definition shown on hover, its formula (LaTeX), the paper it comes from (a
    key of :data:`PAPERS`) and the other names it goes by on the pages (column headers, score ids, labels)."""
    line: str
    formula: str
    paper: str
    aliases: tuple[str, ...] = ()


# D = training set, D_f = forget set, D_r = D \ D_f, D_t = test set, θ_u = unlearned model, p_y = p(true label).
TERMS: dict[str, Term] = {
    "θ_o": Term("The original model, trained on every training sample; everything is measured against it.",
                r"\theta_o = \arg\min_\theta \tfrac{1}{|D|}\sum_{(x,y)\in D} \ell(f_\theta(x), y)", "fan",
                ("original", "θ_o (original)")),
    "Retrain": Term("Train again from scratch without the forget set: the gold standard every method is compared to.",
                    r"\theta_r = \arg\min_\theta \tfrac{1}{|D_r|}\sum_{(x,y)\in D_r} \ell(f_\theta(x), y),\quad "
                    r"D_r = D \setminus D_f", "fan", ("retrain",)),
    "UA": Term("Unlearning accuracy: how much of the forget set the unlearned model gets wrong (%; higher = more "
               "forgotten; Retrain's value is the target).",
               r"\mathrm{UA} = 100\,\bigl(1 - \mathrm{acc}(\theta_u; D_f)\bigr)", "fan"),
    "RA": Term("Remaining accuracy: accuracy of the unlearned model on the retain set (%).",
               r"\mathrm{RA} = 100\,\mathrm{acc}(\theta_u; D_r)", "fan"),
    "TA": Term("Testing accuracy: accuracy of the unlearned model on the test set (%).",
               r"\mathrm{TA} = 100\,\mathrm{acc}(\theta_u; D_t)", "fan"),
    "MIA-efficacy": Term("Share of the forget set that a membership-inference SVC on the confidence p_y calls a "
                         "non-member (%); the SVC learns members = retain samples vs non-members = test samples.",
                         r"\mathrm{MIA} = 100\,\tfrac{1}{|D_f|}\sum_{x\in D_f} \mathbb{1}[\mathrm{SVC}(p_y(x)) = "
                         r"\text{non-member}]", "jia", ("MIA",)),
    "Avg. gap": Term("Mean distance to Retrain over the four metrics (percentage points; lower = closer to Retrain).",
                     r"\text{Avg. gap} = \tfrac14\sum_{m\in\{UA,MIA,RA,TA\}} |\bar m_u - \bar m_r|", "fan",
                     ("avg_gap", "Avg. gap (this seed)", "Avg. gap (objective)")),
    "gap": Term("Distance of a method's mean to Retrain's mean on the same forget sets, in the metric's unit "
                "(the number in brackets in Table 3; lower = closer to Retrain).",
                r"\mathrm{gap}_m = |\bar m_u - \bar m_r|", "fan"),
    "ToW": Term("Tug of war: how closely the forget, retain and test accuracies match Retrain's (1 = exactly).",
                r"\mathrm{ToW} = \prod_{S\in\{D_f,D_r,D_t\}} \bigl(1 - |\mathrm{acc}(\theta_u;S) - "
                r"\mathrm{acc}(\theta_r;S)|\bigr)", "chen"),
    "ES": Term("Entanglement of a forget set with its retain set in θ_o's penultimate features φ (unitless; higher = "
               "more entangled = harder to unlearn).",
               r"\mathrm{ES} = \frac{\tfrac{1}{|D_r|}\sum_{D_r}\|\phi(x)-\mu_r\|^2 + \tfrac{1}{|D_f|}\sum_{D_f}"
               r"\|\phi(x)-\mu_f\|^2}{\tfrac12(\|\mu_r-\mu\|^2 + \|\mu_f-\mu\|^2)}", "zhao",
               ("entanglement", "ES (entanglement)")),
    "BLO weight": Term("Per-sample weight in [0, 1] found by the bi-level optimisation: high = the sample stays well "
                       "fit (low loss) even after the unlearning step that forgets it = in the worst-case set (the "
                       "top-m).",
                       r"\min_{w\in[0,1]^N,\ \mathbf 1^\top w = m}\ \sum_i w_i\,\ell\bigl(\theta_u(w); z_i\bigr)"
                       r" + \gamma\|w\|^2,\quad \theta_u(w) = \text{a few unlearning steps that forget } w", "fan",
                       ("BLO", "blo", "BLO worst-case weight")),
    "ε / forget quality": Term(
        "Per forget sample, ε bounds how well any threshold attack tells a bank of unlearned models from a bank of "
        "retrained ones; the forget quality F averages 2/2^b over the ε buckets b (1 = indistinguishable); also "
        "Akbari et al.'s F-score.",
        r"\varepsilon = \max_{\text{tests}} \max\bigl(\log\tfrac{1-\delta-\mathrm{FPR}}{\mathrm{FNR}},\ "
        r"\log\tfrac{1-\delta-\mathrm{FNR}}{\mathrm{FPR}}\bigr),\quad "
        r"F = \tfrac{1}{|D_f|}\sum_{x\in D_f} 2^{1-b(\varepsilon_x)}", "triantafillou",
        ("F", "ε", "forget quality", "forget_quality", "F (± s.e.)", "F (threshold test)", "forget_quality_threshold",
         "eps_hardness", "hardest to forget by ε under METHOD")),
    "competition score": Term("The unlearning competition's final score: forget quality scaled by how much retain and "
                              "test accuracy the unlearned bank keeps relative to the retrained bank.",
                              r"\mathrm{score} = F\cdot\frac{\mathrm{RA}_u}{\mathrm{RA}_r}\cdot"
                              r"\frac{\mathrm{TA}_u}{\mathrm{TA}_r}", "triantafillou", ("score (F × RA × TA)",)),
    "KLoM": Term("KL divergence of margins: per sample, how far the unlearned models' margin histogram is from the "
                 "retrained models'; the 95th percentile over a split (0 = identical).",
                 r"\mathrm{KLoM}(x) = \mathrm{KL}\bigl(\hat p_{\theta_u}(\phi_x)\,\|\,\hat p_{\theta_r}(\phi_x)\bigr),"
                 r"\quad \phi_x = z_y - \log\sum_{j\ne y} e^{z_j}", "georgiev",
                 ("klom", "KLoM forget P95", "KLoM retain P95", "KLoM test P95", "klom_forget_p95",
                  "klom_retain_p95", "klom_test_p95")),
    "U-LiRA": Term("Accuracy of a per-sample likelihood-ratio test that tells unlearned from retrained models by "
                   "their margin on the forget sample (0.5 = forgotten, 1 = always told apart).",
                   r"\Lambda(\theta; x) = \frac{\mathcal N(\phi_x(\theta);\,\mu_u,\sigma_u^2)}"
                   r"{\mathcal N(\phi_x(\theta);\,\mu_r,\sigma_r^2)},\quad \text{acc} = "
                   r"\Pr[\mathbb 1(\Lambda > 1) = \mathbb 1(\theta\ \text{unlearned})]", "hayes",
                   ("ulira", "ulira_forget_acc", "U-LiRA accuracy")),
    "TPR at low FPR": Term("Share of forget samples an attack calls members while it calls at most 1% (0.1%) of the "
                           "test samples members: the regime where a membership attack matters.",
                           r"\mathrm{TPR}@\alpha = \max_t \{\mathrm{TPR}(t) : \mathrm{FPR}(t) \le \alpha\}",
                           "carlini", ("TPR at 1% FPR", "TPR at 0.1% FPR", "tpr@0.01", "tpr@0.001")),
    "attack AUC": Term("Area under the ROC of the threshold attack 'member if the logit-scaled confidence is above "
                       "t', forget against test samples (0.5 = the attacker cannot tell them apart).",
                       r"\mathrm{AUC} = \Pr\bigl[\phi(x_f) > \phi(x_t)\bigr],\ x_f\in D_f,\ x_t\in D_t",
                       "carlini", ("threshold attack AUC",)),
    "logit-scaled confidence": Term("The membership signal of LiRA-style attacks: the log-odds of the true label, "
                                    "spread out near p_y = 1 where plain confidences bunch up.",
                                    r"\phi(x) = \log\frac{p_y(x)}{1 - p_y(x)}", "carlini",
                                    ("scaled_logit", "log(p_y / (1 − p_y))", "margin")),
    "p_y": Term("The model's probability of the sample's true label (0 … 1): the confidence the MIA-efficacy SVC "
                "reads.", r"p_y(x) = \mathrm{softmax}(f_\theta(x))_y", "jia",
                ("p(true label)", "p_true", "confidence p_y")),
    "confidence (top class)": Term("The model's largest class probability, whatever the class (0 … 1).",
                                   r"\max_j\ \mathrm{softmax}(f_\theta(x))_j", "zhao", ("confidence",)),
    "loss": Term("Cross-entropy of a model on the sample (nats; the Scores page ranks by θ_o's): low = well fit = hard to forget by Chen et al.'s "
                 "account.", r"\ell(x, y) = -\log p_y(x)", "chen", ("Loss",)),
    "entropy": Term("Entropy of θ_o's predicted distribution (nats): low = a confident prediction.",
                    r"H(x) = -\sum_j p_j(x)\log p_j(x)", "chen", ("Entropy",)),
    "memorization": Term("How much better a sample is predicted by models trained with it than by models trained "
                         "without it (−1 … 1), from LiRA's shadow-model bank.",
                         r"\mathrm{mem}(x) = \Pr[f(x) = y \mid x\in S] - \Pr[f(x) = y \mid x\notin S]", "feldman",
                         ("Memorization", "Memorization (Feldman & Zhang)")),
    "LiRA": Term("Likelihood-ratio membership attack with shadow models trained with and without each sample; the "
                 "ASR is the share of shadow models it judges correctly (0 … 1), the score its log ratio.",
                 r"\log\frac{\mathcal N(\phi(x);\mu_{in},\sigma_{in}^2)}{\mathcal N(\phi(x);\mu_{out},\sigma_{out}^2)}",
                 "carlini", ("LiRA ASR", "lira_asr", "lira_score", "LiRA score of θ_o")),
    "learning-event proxies": Term("Memorization proxies recorded during θ_o's training: the mean over epochs of the "
                                   "true-class confidence, the max confidence, the entropy, or whether the sample "
                                   "was classified correctly.",
                                   r"\mathrm{LE}(x) = \tfrac1E\sum_{e=1}^{E} g\bigl(f_{\theta_e}(x)\bigr)", "zhao",
                                   ("le_confidence", "le_max_confidence", "le_entropy", "le_accuracy",
                                    "Learning-event confidence", "Learning-event max confidence",
                                    "Learning-event entropy", "Learning-event accuracy")),
    "EL2N / GraNd": Term("Early-training difficulty scores: the error vector's norm (EL2N) or the loss gradient's "
                         "norm (GraNd) a few epochs into training; low = easy.",
                         r"\mathrm{EL2N}(x) = \|\mathrm{softmax}(f_\theta(x)) - e_y\|_2,\quad "
                         r"\mathrm{GraNd}(x) = \|\nabla_\theta \ell(x, y)\|_2", "paul",
                         ("el2n", "grand", "EL2N", "GraNd")),
    "hard-to-forget rank": Term("A sample's place when all N training samples are ordered by a score from its "
                                "hard-to-forget end (1 = hardest; the top m form the worst-case set); percentile = "
                                "the share of samples it is at least as hard as.",
                                r"\mathrm{rank}(x) = 1 + |\{x' : s(x') \succ s(x)\}|,\quad "
                                r"\mathrm{pct}(x) = 100\,\bigl(1 - \tfrac{\mathrm{rank}(x) - 1}{N}\bigr)", "fan",
                                ("rank", "percentile", "hard end")),
    "distance": Term("Euclidean distance between two samples in θ_o's penultimate features φ: small = the model "
                     "sees them alike.", r"d(x, x') = \|\phi(x) - \phi(x')\|_2", "zhao"),
    "n": Term("Number of seeds (independent runs: own θ_o, own BLO, own forget set) behind a row; the spread is the "
              "sample std over them and needs n ≥ 2 ('—' for one seed).",
              r"\bar m \pm s,\quad s = \sqrt{\tfrac{1}{n-1}\sum_k (m_k - \bar m)^2}", "fan",
              ("std", "n_seeds", "mean ± std")),
}

# Columns that name no term but still need a word on hover (help only; not glossary terms).
COLUMN_NOTES = {
    "seeds": "The seeds actually behind this row.",
    "holds this sample": "Whether this forget set contains the sample (then every run on it had to forget it).",
    "runs on it": "Unlearning runs stored for this forget set (any method, this seed).",
    "in its forget set": "Whether this model had to forget the sample: 'yes' = it was in the model's forget set.",
    "correct": "Whether the model predicts the sample's true label.",
    "predicts": "The class the model predicts for the sample.",
    "size": "Samples in the forget set.",
    "of": "Number of training samples ranked (N).",
    "value": "The score's value for this sample (its unit: see the score's name).",
}


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", str(name)).strip().lower()


def _alias_map() -> dict[str, str]:
    out: dict[str, str] = {}
    for term, t in TERMS.items():
        for name in (term, *t.aliases):
            out.setdefault(_norm(name), term)
    for score in score_names():  # every registered score's display name leads to its term
        label = get_score(score).label
        if _norm(score) in out:
            out.setdefault(_norm(label), out[_norm(score)])
    return out


ALIASES = _alias_map()


def term_of(column: str) -> str | None:
    """The glossary term behind a column header or label, or None: the part after the last ' · ', without a unit
    or set suffix in brackets, a 'gap ' prefix or a score's '@ratio'. 'worst-case 10% · UA' -> 'UA',
    'MIA-efficacy (%)' -> 'MIA-efficacy', 'blo@0.1' -> 'BLO weight', 'gap RA' -> 'gap'."""
    name = str(column).split(" · ")[-1].strip()
    candidates = [name]
    base = re.sub(r"\s*\([^()]*\)\s*$", "", name)  # 'UA (%)', 'BLO worst-case weight (10% set)'
    candidates += [base, re.sub(r"@.*$", "", base)]
    for c in candidates:
        if _norm(c) in ALIASES:
            return ALIASES[_norm(c)]
    if re.match(r"^gap\b", _norm(base)):
        return "gap"
    return None


def help_text(column: str) -> str | None:
    """The one-line hover definition of a column header / label (with the paper, and where the formula is), or
    None when it names no term. For 'gap X' the gap's definition and X's."""
    name = str(column).split(" · ")[-1].strip()
    term = term_of(column)
    if term is None:
        return COLUMN_NOTES.get(name) or COLUMN_NOTES.get(re.sub(r"\s*\([^()]*\)\s*$", "", name))
    t = TERMS[term]
    text = f"**{term}** — {t.line} ({PAPERS[t.paper].split(' — ')[0]}; formula on the Glossary page.)"
    if term == "gap":
        inner = term_of(re.sub(r"^gap\s+", "", re.sub(r"\s*\([^()]*\)\s*$", "", name)))
        if inner and inner != "gap":
            text += f" {TERMS[inner].line}"
    return text


def term_help(term: str) -> str:
    """The hover help of a glossary term named exactly (KeyError for an unknown term: a typo must fail loudly)."""
    if term not in TERMS and _norm(term) not in ALIASES:
        raise KeyError(term)
    return help_text(term) or ""


# term or alias -> hover help (the old name of this table; kept for the pages that index it directly)
GLOSSARY: dict[str, str] = {name: term_help(name) for t, e in TERMS.items() for name in (t, *e.aliases)}
GLOSSARY.update({k: v for k, v in COLUMN_NOTES.items() if k not in GLOSSARY})
GLOSSARY_ENTRIES: dict[str, tuple[str, str, str]] = {k: (t.line, t.formula, t.paper) for k, t in TERMS.items()}


def hover_line(column: str, width: int = 70) -> str:
    """The plain-text definition of the term behind ``column`` for a plotly hover ('<br>'-wrapped, no Markdown);
    '' when it names no term."""
    term = term_of(column)
    if term is None:
        return ""
    words, lines, cur = f"{term}: {TERMS[term].line}".split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return "<br>".join(lines + [cur])


def glossary_markdown(keys=("UA", "MIA-efficacy", "RA", "TA", "Avg. gap", "ToW", "BLO weight", "n")) -> str:
    """A bullet list of the terms' one-line definitions (the Overview's short glossary)."""
    return "\n".join(f"- **{k}** — {TERMS[k].line}" for k in keys)
