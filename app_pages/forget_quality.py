"""Forgetting quality: per-example distribution tests over model banks (F / score of Triantafillou et al., KLoM of
Georgiev et al.) beside the grid's UA–MIA, a sample's ε and its two margin histograms, and the samples hardest to
forget by ε. Reads stored banks only; building banks is an ``experiment`` job with ``eval_models``."""
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import common, glossary, job_widgets, readers, widgets
from dashboard import forget_quality_charts as fqc
from dashboard.safety import md_escape
from unlearn_core import results as res
from unlearn_core.analysis.fq_question import RESOLUTION_N, bank_resolution
from unlearn_core.banks import (PSEUDO_METHODS, available_n, bank_comparison, digest_indices, stored_banks)
from unlearn_core.forget_quality import EPSILON_CAP, ESTIMATORS
from unlearn_core.metrics import registry as metric_registry
from unlearn_core.grid import ExperimentSpec

common.page_guard()
st.title("Forgetting quality")
st.caption(fqc.FQ_CAPTION)
pipe = readers.require_pipeline()
ver = readers.version()


@st.cache_data(show_spinner=False, max_entries=4)
def _banks(setup_js: str, ver: tuple) -> dict:
    return stored_banks(pipe)


sets = res.forget_sets(pipe)
banks = _banks(common.setup_json(), ver)
rows = []
for r in sets.itertuples():
    idx = readers.forget_idx(r.key)
    if idx is None:
        continue
    counts = banks.get(digest_indices(idx), {})
    if counts.get("retrain", 0) >= 4:
        rows.append((r.name, r.selector, r.ratio, int(r.seed), counts))

with st.expander("Build model banks (an experiment job)", expanded=not rows):
    st.caption("Runs the grid with N models per bank: N retrained (Retrain recipe, seeds 1000…) and 2N for the "
               "Retrain control, N runs of each method from θ_o (method seeds 0…N−1), N originals. Stored per "
               "example (margins, correctness), reused by every table and page. The CLI prints a cost estimate "
               "first: `python -m unlearn_core compare --eval-models N ...`. " + fqc.resolution_text(8))
    b1, b2, b3, b4 = st.columns([2, 3, 1, 1])
    sel = b1.multiselect("Forget sets", ["random", "worst", "bottom:loss"], default=["random"], key="fq_sel")
    meths = b2.multiselect("Methods", ["ft", "ga", "rl", "salun", "scrub", "l1_sparse"],
                           default=["ft", "ga", "rl", "salun", "scrub"], key="fq_methods")
    n_new = int(b3.selectbox("N models", [8, 16, 32, 64], index=2, key="fq_n_new"))
    seed_new = int(b4.number_input("Seed", 0, 10_000, common.seed(), key="fq_seed_new"))
    if st.button("Build banks", key="fq_build", disabled=not sel or not meths):
        spec = ExperimentSpec(setup=common.setup(), selectors=sel, methods=["retrain", *meths], ratios=[0.1],
                              seeds=[seed_new], eval_models=n_new)
        job_widgets.submit("experiment", {"spec": spec.to_dict()})

if not rows:
    st.info("No model banks stored for the active setup yet.", icon=":material/info:")
    st.stop()

c1, c2, c3 = st.columns([3, 1, 1])
pick = c1.selectbox("Forget set", range(len(rows)), format_func=lambda i: rows[i][0], key="fq_set")
name, selector, ratio, seed, counts = rows[pick]
ratio = None if ratio is None or ratio != ratio else float(ratio)
methods = ["retrain", *PSEUDO_METHODS, *[m for m in counts if m not in ("retrain", "original_seeds")]]
n_max = max(available_n(counts, m) for m in methods if m != "original")  # θ_o needs only the reference
options = [n for n in (4, 8, 16, 32, 64, 128, 256, 512) if n <= n_max] or [n_max]
n = int(c2.selectbox("N models per bank", options, index=len(options) - 1, key="fq_n"))
estimator = c3.selectbox("ε estimator", ESTIMATORS, index=ESTIMATORS.index("gauss"), key="fq_est",
                         help=glossary.term_help("ε"))
st.caption(fqc.ESTIMATOR_CAPTION)


@st.cache_data(show_spinner="Comparing banks…", max_entries=16)
def _compare(setup_js: str, selector: str, ratio, seed: int, n: int, methods: tuple, estimator: str, ver: tuple):
    out = {}
    for m in methods:
        r = bank_comparison(pipe, m, selector, ratio, seed, n, estimator=estimator)
        if r is not None:
            out[m] = r
    return out


got = _compare(common.setup_json(), selector, ratio, seed, n, tuple(methods), estimator, ver)
if not got:
    st.info(f"No method has {n} stored models on this forget set.", icon=":material/info:")
    st.stop()
grid = res.results_frame(common.store(), pipe.setup_key)
if not grid.empty:
    same = (grid["selector"] == selector) & (grid["seed"] == seed)
    same &= grid["ratio"].isna() if ratio is None else np.isclose(grid["ratio"].astype(float), ratio)
    grid = grid[same]
table = []
for m, r in got.items():
    v = r.comparison.metrics
    g = grid[grid["method"] == m] if not grid.empty else grid
    table.append({"method": m, "F": f"{v['forget_quality']:.3f} ± {v['forget_quality_se']:.3f}",
                  "score": v["score"], "F (threshold test)": v["forget_quality_threshold"],
                  "KLoM forget P95": f"{v['klom_forget_p95']:.2f} [{v['klom_forget_p95_lo']:.2f}, "
                                     f"{v['klom_forget_p95_hi']:.2f}]",
                  "KLoM retain P95": v["klom_retain_p95"], "KLoM test P95": v["klom_test_p95"],
                  "UA": float(g["UA"].iloc[0]) if len(g) else np.nan,
                  "MIA": float(g["MIA"].iloc[0]) if len(g) else np.nan,
                  "RA (bank mean)": v["RA_bank"], "TA (bank mean)": v["TA_bank"], "n models": int(v["n_models"])})
helps = {col: metric_registry.get(m).cited()  # the registry's one description per measure
         for col, m in (("F", "forget_quality"), ("score", "score"), ("F (threshold test)", "forget_quality_threshold"),
                        ("KLoM forget P95", "klom_forget_p95"), ("KLoM retain P95", "klom_retain_p95"),
                        ("KLoM test P95", "klom_test_p95"), ("n models", "n_models"))}
widgets.table(pd.DataFrame(table), key="fq_table",
             column_config={k: st.column_config.Column(help=h) for k, h in helps.items()}
             | {c: st.column_config.NumberColumn(format="%.3f", help=helps.get(c))
                for c in ("score", "F (threshold test)", "KLoM retain P95", "KLoM test P95")}
             | {c: st.column_config.NumberColumn(format="%.2f") for c in ("UA", "MIA", "RA (bank mean)",
                                                                           "TA (bank mean)")})
st.caption(f"{name} · {len(next(iter(got.values())).forget_idx)} forget examples · N = {n} models per bank · "
           f"F ± standard error over examples · UA / MIA: the grid's run of seed {seed} (one model). "
           + (fqc.resolution_text(n) if n >= 4 else ""))

with st.expander("What the banks differ in: mean shift and spread, and what N resolves them"):
    st.caption(fqc.RESOLUTION_CAPTION)
    widgets.table(fqc.resolution_display(bank_resolution(got, n)), key="fq_resolution",
                  column_config={"median |Δμ|/σ_r": st.column_config.NumberColumn(format="%.2f"),
                                 "median σ_u/σ_r": st.column_config.NumberColumn(format="%.2f")}
                  | {c: st.column_config.NumberColumn(format="%.0f") for c in
                     [f"% {k} seen, N = {m}" for k in ("shift", "spread") for m in RESOLUTION_N]})

# ------------------------------------------------------------------ one method, one sample
st.subheader("Which samples stay distinguishable?")
m1, m2 = st.columns([1, 3])
choices = [m for m in got if m != "original"]
if not choices:
    st.stop()
method = m1.selectbox("Method", choices, key="fq_method")
r = got[method]
eps = r.comparison.eps
order = np.argsort(-eps, kind="stable")
with m2:
    widgets.plot(fqc.eps_histogram(eps, method, EPSILON_CAP), key="fq_eps_hist")
hard = pd.DataFrame({"sample": r.forget_idx[order], "ε": eps[order],
                     "ε (threshold test)": r.comparison.eps_threshold[order],
                     "KLoM": r.comparison.klom["forget"][order],
                     "mean margin unlearned": r.unlearned["forget"].mean(0)[order],
                     "mean margin retrained": r.retrained["forget"].mean(0)[order]})
st.markdown(f"**Hardest to forget by ε under {md_escape(method)}**"
            " (highest ε first). A selector can use this as a score: compute `eps_hardness` on **Scores** (parameter "
            "`method`), then `top:eps_hardness`.")
widgets.table(hard.head(200), key="fq_hard", max_rows=12,
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in hard.columns if c != "sample"})
pos = st.selectbox("Sample", range(len(order)), key="fq_sample",
                   format_func=lambda i: f"{int(r.forget_idx[order[i]])} · ε {eps[order[i]]:.2f}")
j = int(order[pos])
s1, s2 = st.columns([1, 3])
s1.metric("ε (chosen estimator)", f"{eps[j]:.2f}")
s1.metric("ε (threshold test)", f"{r.comparison.eps_threshold[j]:.2f}")
s1.metric("KLoM", f"{r.comparison.klom['forget'][j]:.2f}")
s1.image(readers.thumbs([int(r.forget_idx[j])], 96)[0], caption=f"sample {int(r.forget_idx[j])}")
with s2:
    widgets.plot(fqc.margin_histograms(r.unlearned["forget"][:, j], r.retrained["forget"][:, j], method,
                                      int(r.forget_idx[j])), key="fq_margins")
