"""The one glossary of the dashboard: every term the pages use, with its one-line definition (the hover help of
column headers, metric labels, axes and widgets), its formula and the paper it comes from (the Glossary page).
Pages and table builders import their help text from here and nowhere else."""
from __future__ import annotations

from unlearn_core import results as res

GLOSSARY = {
    **{k: v for k, v in res.METRIC_HELP.items()},
    "Avg. gap": res.METRIC_HELP["avg_gap"],
    "BLO": "Bi-level optimisation (Fan et al., Challenging Forgets): finds the forget set whose removal an "
           "unlearning step erases least — the worst case. Its per-sample weight is high for hard-to-forget "
           "samples; the top-m weights are the worst-case set, the bottom-m the easiest set.",
    "n": "Number of seeds (independent runs: own θ_o, own BLO, own forget set) behind the row. Spread needs n ≥ 2; "
         "'—' means one seed.",
    "seeds": "The seeds actually behind this row.",
    "std": f"Spread = {res.STD_LABEL}.",
    "θ_o": "The original model, trained on all training samples; everything is measured against it.",
    "Retrain": "Train again from scratch without the forget set: the gold standard every method is compared to.",
    "ES": "Entanglement score of a forget set with its retain set (Zhao et al., What makes unlearning hard and what "
          "to do about it, NeurIPS 2024): within-group over between-group variance of θ_o's penultimate features, "
          "the groups being the retain and the forget set; unitless. Higher = the set sits inside the retain set's "
          "cloud = more entangled = harder to unlearn by their account. '—' = not computed yet.",
}
PAPERS = {
    "fan": "Fan, Liu, Hero, Liu — *Challenging Forgets: Unveiling the Worst-Case Forget Sets in Machine "
           "Unlearning* (ECCV 2024)",
    "chen": "Chen et al. — *Machine Unlearning in Forgetting Sequence*",
    "zhao": "Zhao, Kurmanji, Bărbulescu, Triantafillou, Triantafillou — *What makes unlearning hard and what to do "
            "about it* (NeurIPS 2024)",
    "feldman": "Feldman & Zhang — *What neural networks memorize and why: discovering the long tail via influence "
               "estimation* (NeurIPS 2020)",
}


PAPERS.update({
    "akbari": "Akbari, Gaudi, Morshed — *Machine Unlearning*",
    "jia": "Jia, Liu, Ram, Yao, Liu, Liu, Sharma, Liu — *Model Sparsity Can Simplify Machine Unlearning* "
           "(NeurIPS 2023)",
    "carlini": "Carlini, Chien, Nasr, Song, Terzis, Tramèr — *Membership Inference Attacks From First Principles* "
               "(IEEE S&P 2022)",
})

# The glossary page (app_pages/glossary.py) and every hover help: term → (one line, formula, paper key).
GLOSSARY_ENTRIES: dict[str, tuple[str, str, str]] = {
    "θ_o": ("The original model, trained on every training sample; everything is measured against it.",
            r"	heta_o = rg\min_	heta 	frac{1}{|D|}\sum_{(x,y)\in D} \ell(f_	heta(x), y)", "fan"),
    "Retrain": ("Train again from scratch without the forget set: the gold standard every method is compared to.",
                r"	heta_r = rg\min_	heta 	frac{1}{|D_r|}\sum_{(x,y)\in D_r} \ell(f_	heta(x), y),\quad "
                r"D_r = D \setminus D_f", "fan"),
    "UA": ("Unlearning accuracy: how much of the forget set the unlearned model gets wrong (%; higher = more "
           "forgotten; Retrain's value is the target).",
           r"\mathrm{UA} = 100\,igl(1 - \mathrm{acc}(	heta_u; D_f)igr)", "fan"),
    "RA": ("Remaining accuracy: accuracy of the unlearned model on the retain set (%).",
           r"\mathrm{RA} = 100\,\mathrm{acc}(	heta_u; D_r)", "fan"),
    "TA": ("Testing accuracy: accuracy of the unlearned model on the test set (%).",
           r"\mathrm{TA} = 100\,\mathrm{acc}(	heta_u; D_t)", "fan"),
    "MIA-efficacy": ("Share of the forget set that a membership-inference SVC on the confidence p_y calls a "
                     "non-member (%); the SVC learns members = retain samples vs non-members = test samples.",
                     r"\mathrm{MIA} = 100\,	frac{1}{|D_f|}\sum_{x\in D_f} \mathbb{1}[\mathrm{SVC}(p_y(x)) = "
                     r"	ext{non-member}]", "jia"),
    "Avg. gap": ("Mean distance to Retrain over the four metrics (percentage points; lower = closer to Retrain).",
                 r"	ext{Avg. gap} = 	frac14\sum_{m\in\{UA,MIA,RA,TA\}} |ar m_u - ar m_{r}|", "fan"),
    "ToW": ("Tug of war: how closely the forget, retain and test accuracies match Retrain's (1 = exactly).",
            r"\mathrm{ToW} = \prod_{S\in\{D_f,D_r,D_t\}} igl(1 - |\mathrm{acc}(	heta_u;S) - "
            r"\mathrm{acc}(	heta_r;S)|igr)", "chen"),
    "ES": ("Entanglement of a forget set with its retain set in θ_o's feature space (unitless; higher = more "
           "entangled = harder to unlearn).",
           r"\mathrm{ES} = rac{	frac{1}{|D_r|}\sum_{D_r}\|\phi(x)-\mu_r\|^2 + 	frac{1}{|D_f|}\sum_{D_f}\|\phi(x)-"
           r"\mu_f\|^2}{	frac12(\|\mu_r-\mu\|^2 + \|\mu_f-\mu\|^2)}", "zhao"),
    "BLO weight": ("Per-sample weight in [0, 1] found by the bi-level optimisation: high = the sample stays well fit "
                   "(low loss) even after the unlearning step that forgets it = in the worst-case set (the top-m).",
                   r"\min_{w\in[0,1]^N,\ \mathbf 1^\top w = m}\ \sum_i w_i\,\ell\bigl(\theta_u(w); z_i\bigr)"
                   r" + \gamma\|w\|^2,\quad \theta_u(w) = \text{a few unlearning steps that forget } w", "fan"),
    "ε / forget quality": ("Akbari et al.'s privacy score: per forget sample, ε bounds how well any threshold "
                           "attack tells unlearned models from retrained ones; forget quality F averages 2/2^b over "
                           "the ε buckets b (1 = indistinguishable).",
                           r"arepsilon = \sup_{	ext{attacks}} \maxigl(\log	frac{1-\delta-\mathrm{FPR}}"
                           r"{\mathrm{FNR}},\ \log	frac{1-\delta-\mathrm{FNR}}{\mathrm{FPR}}igr),\quad "
                           r"F = 	frac{1}{|D_f|}\sum_{x\in D_f} 2^{1-b(arepsilon_x)}", "akbari"),
    "TPR at low FPR": ("Share of forget samples an attack calls members while it calls at most 1% (0.1%) of the "
                       "test samples members: the regime where a membership attack matters.",
                       r"\mathrm{TPR}@lpha = \max_t \{\mathrm{TPR}(t) : \mathrm{FPR}(t) \le lpha\}", "carlini"),
    "n": ("Number of seeds (independent runs: own θ_o, own BLO, own forget set) behind a row; the spread is the "
          "sample std over them and needs n ≥ 2 ('—' for one seed).",
          r"ar m \pm s,\quad s = \sqrt{	frac{1}{n-1}\sum_k (m_k - ar m)^2}", "fan"),
}


for _term, (_line, _, _paper) in GLOSSARY_ENTRIES.items():  # hover help everywhere comes from the same entries
    GLOSSARY.setdefault(_term, f"{_line} ({PAPERS[_paper].split(' — ')[0]}; formula on the Glossary page)")
GLOSSARY.setdefault("MIA", GLOSSARY["MIA-efficacy"])


def term_help(term: str) -> str:
    """The one-line definition of a glossary term (for ``help=``), with where the formula is."""
    line, _, paper = GLOSSARY_ENTRIES[term]
    return f"**{term}** — {line} ({PAPERS[paper].split(' — ')[0]}; formula on the Glossary page.)"


def glossary_markdown(keys=("UA", "MIA", "RA", "TA", "Avg. gap", "ToW", "BLO", "n")) -> str:
    return "\n".join(f"- **{k}** — {GLOSSARY[k]}" for k in keys if k in GLOSSARY)
