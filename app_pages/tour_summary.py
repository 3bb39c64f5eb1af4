"""Demo summary: the tour's last page — what the class just saw, with the numbers of its own run (read from the
store; nothing is computed here)."""
import numpy as np
import streamlit as st

from dashboard import common, glossary, progress, readers, style, tour
from dashboard.safety import md_escape
from unlearn_core import results as res

common.page_guard()
st.title("What we saw")
tour.tour_banner("summary")
pipe = readers.require_pipeline()
job = tour.demo_job()
cfg = {**tour.DEMO_DEFAULTS, **((job or {}).get("config") or tour.demo_config())}
ratio = float(cfg["ratio"])
seed0 = int(cfg["seeds"][0])
df = readers.results()
d = res.results_for_setup(df, pipe.setup_key) if not df.empty else df
if d.empty or not {"random", "worst"} <= set(d["selector"]):
    st.info("The demo has not stored its random and worst-case runs yet: this summary fills in when the “seed 0” "
            "stage lands (progress on the Overview).", icon=":material/hourglass_top:")
    st.page_link(common.PAGES["overview"], label="Back to the **Overview**", icon=":material/home:")
    st.stop()

t3 = res.table3(d, ["random", "worst"], ratio)
row = {(r.selector, r.method): r for r in t3.itertuples()}
n_seeds = int(t3["n"].max())
points = []

# 1. θ_o
orig = pipe.find_original(seed0)
if orig:
    m = orig.get("metrics") or {}
    points.append(f"**θ_o**, the original model ({md_escape(common.setup_name())}), fit the training set "
                  f"({m.get('train_acc', float('nan')):.1f}% train accuracy) and scored "
                  f"{m.get('test_acc', float('nan')):.1f}% on held-out test images.")

# 2. the worst-case set is made of easy, low-loss samples
samples = readers.samples()
blo_col = f"blo@{ratio:g}"
sets = readers.catalog()
if not sets.empty and "loss" in samples:
    pick = {s: sets[(sets["selector"] == s) & (sets["seed"] == seed0) & np.isclose(sets["ratio"].astype(float), ratio)]
            for s in ("random", "worst")}
    idx = {s: readers.forget_idx(p["key"].iloc[0]) for s, p in pick.items() if len(p)}
    if len(idx) == 2 and all(v is not None for v in idx.values()):
        loss = samples.set_index("index")["loss"]
        lw, lr_ = float(loss.loc[idx["worst"]].median()), float(loss.loc[idx["random"]].median())
        overlap = len(np.intersect1d(idx["worst"], idx["random"])) / max(1, len(idx["worst"]))
        points.append(f"The **BLO** picked a worst-case {style.ratio_label(ratio)} set of {len(idx['worst'])} "
                      f"samples whose median loss under θ_o is {lw:.2g} — against {lr_:.2g} for the random set "
                      f"({lr_ / max(lw, 1e-12):.0f}× higher): the hard-to-forget samples are the confidently learned "
                      f"ones. The two sets share {100 * overlap:.0f}% of their samples.")

# 3. Retrain on random vs worst


def cell(sel: str, method: str, metric: str) -> str:
    r = row.get((sel, method))
    if r is None:
        return "—"
    text = res.fmt_mean_std(getattr(r, f"{metric}_mean"), getattr(r, f"{metric}_std"), int(r.n))
    mean, _, spread = text.partition(" ± ")  # '9.03% ± —', never '9.03 ± —%'
    return f"{mean}% ± {spread}" if spread else text


if ("worst", "retrain") in row and ("random", "retrain") in row:
    lower = row[("worst", "retrain")].UA_mean < row[("random", "retrain")].UA_mean
    points.append(f"**Retrain** (the gold standard) on the random set: UA {cell('random', 'retrain', 'UA')}, MIA "
                  f"{cell('random', 'retrain', 'MIA')}; on the worst-case set: UA {cell('worst', 'retrain', 'UA')}, "
                  f"MIA {cell('worst', 'retrain', 'MIA')} — "
                  + ("lower on the worst case: even a model that never saw those samples classifies them right, so "
                     "they are predictable from the rest and there is little to 'forget'." if lower else
                     "not lower on the worst case in this run, unlike Fan et al.'s finding."))

# 4. which method drifts furthest from Retrain
gaps = {s: {r.method: float(r.avg_gap) for r in t3[t3["selector"] == s].itertuples()
            if r.method != "retrain" and r.avg_gap == r.avg_gap} for s in ("random", "worst")}
if gaps["worst"]:
    far = max(gaps["worst"], key=gaps["worst"].get)
    near = min(gaps["worst"], key=gaps["worst"].get)
    points.append(f"Closest to Retrain on the worst case: **{md_escape(style.method_label(near))}** (Avg. gap "
                  f"{gaps['worst'][near]:.2f} points); furthest: **{md_escape(style.method_label(far))}** "
                  f"({gaps['worst'][far]:.2f}; on the random set {gaps['random'].get(far, float('nan')):.2f}).")
if ("worst", "rl") in row:
    r_w, r_r = row[("worst", "rl")], row.get(("random", "rl"))
    points.append(f"**RL** (relabeling) on the worst case: MIA {cell('worst', 'rl', 'MIA')} against Retrain's "
                  f"{cell('worst', 'retrain', 'MIA')} (gap {r_w.gap_MIA:.2f} points"
                  + (f"; on the random set {r_r.gap_MIA:.2f}" if r_r is not None else "") + ") — Fan et al. report "
                  "that relabeling methods drift away from Retrain in MIA on worst-case sets. Judge from these numbers.")

# 5. time: estimate vs actual
if job is not None and job["status"] == "done" and job.get("started"):
    took = (job["finished"] or 0) - job["started"]
    est = sum(tour.demo_stage_estimate(cfg, job, corrected=False).values())  # its own estimate, before it ran
    points.append(f"The whole demo took **{progress.fmt_duration(took)}** on this machine; the cost model had "
                  f"estimated {progress.fmt_duration(est)} before it started"
                  + (f" (actual / estimate {took / est:.2f})." if est > 0 else "."))

st.markdown(f"From this demo's own results ({style.ratio_label(ratio)} forget sets, mean ± {res.STD_LABEL}, "
            f"n = {n_seeds} seed{'s' if n_seeds != 1 else ''}; ‘—’ = one seed, no spread):")
for k, p in enumerate(points, start=1):
    st.markdown(f"{k}. {p}")
st.caption(f"Paper: {glossary.PAPERS['fan']}. Every term is defined on the Glossary page.")
c1, c2, c3 = st.columns(3)
c1.page_link(common.PAGES["compare"], label="The full table on **Compare**", icon=":material/balance:")
c2.page_link(common.PAGES["attack"], label="How an attacker sees it: **Attack view**", icon=":material/policy:")
c3.page_link(common.PAGES["glossary"], label="**Glossary**", icon=":material/menu_book:")
