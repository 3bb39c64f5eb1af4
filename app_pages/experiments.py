"""Experiments: selectors × methods × ratios × seeds grids with editable method presets, launched as a job."""
import json

import streamlit as st

from dashboard import common
from dashboard.forms import params_from_frame
from unlearn_core import results as res
from unlearn_core.config import parse_json_object, parse_ratio
from unlearn_core.errors import ForgetsetError
from unlearn_core.grid import DEFAULT_METHODS, DEFAULT_SELECTORS, ExperimentSpec, grid_status
from unlearn_core.methods import get_method, method_names
from unlearn_core.scores.blo import BLO_DEFAULTS
from unlearn_core.selectors import SELECTOR_HELP, parse_selector

common.page_guard()
st.title("Experiments")
st.caption("A grid of forget-set selectors × unlearning methods × forget ratios × seeds on the active setup. "
           "Retrain always runs (every gap is measured against it). Cached runs are reused.")
pipe = common.require_pipeline()
ds = pipe.ds
qp = st.query_params


def _qp_list(name: str, default: list) -> list:
    """Prefill from the URL (?methods=retrain,ft&selectors=random,worst&ratios=0.1&seeds=0) on first load."""
    if name in qp and f"_exp_qp_{name}" not in st.session_state:
        st.session_state[f"_exp_qp_{name}"] = True
        return [x for x in qp[name].split(",") if x.strip()]
    return default


all_methods = method_names()


def _method_label(m: str) -> str:
    label = get_method(m).metadata()["label"]
    return label if label.lower() == m else f"{label} ({m})"


meth_default = _qp_list("methods", [m for m in DEFAULT_METHODS if m in all_methods])
methods = st.multiselect("Unlearning methods", all_methods, default=[m for m in meth_default if m in all_methods],
                         key="exp_methods", format_func=_method_label,
                         help="Every registered method; Retrain is always added (the gaps need it).")
unknown_methods = [m for m in meth_default if m not in all_methods]
if unknown_methods:
    st.warning(f"Unknown methods in the URL ignored: {', '.join(unknown_methods)}.")
c1, c2, c3 = st.columns([2, 1.2, 1.2])
sel_default = _qp_list("selectors", list(DEFAULT_SELECTORS))
selectors = c1.multiselect("Forget-set selectors", list(dict.fromkeys(common.COMMON_SELECTORS + sel_default)),
                           default=sel_default, key="exp_selectors", accept_new_options=True,
                           help="Type any selector, e.g. top:entropy or mixed:0.3. "
                                + " · ".join(f"{k}: {v}" for k, v in SELECTOR_HELP.items()))
ratio_default = _qp_list("ratios", ["0.1"])
ratios_txt = c2.multiselect("Forget ratios", list(dict.fromkeys(["0.01", "0.05", "0.1", "0.2"] + ratio_default)),
                            default=ratio_default, key="exp_ratios", accept_new_options=True,
                            help="Type another ratio (0 < r < 1) and press Enter.")
seed_default = [int(x) for x in _qp_list("seeds", ["0", "1", "2"]) if str(x).isdigit()]
seeds = c3.multiselect("Seeds", list(range(10)), default=[s for s in seed_default if s < 10], key="exp_seeds",
                       help="Each seed trains its own θ_o, BLO and forget sets; results show mean ± std over seeds.")

# ------------------------------------------------------------------ method presets
st.markdown("**Method hyperparameters** — the preset for this data set family; edit a value to override it.")
method_params: dict = {}
errors = []
editable = [m for m in methods if not get_method(m).metadata()["exact"]]
if editable:
    tabs = st.tabs([get_method(m).metadata()["label"] for m in editable])
    for tab, m in zip(tabs, editable):
        with tab:
            meta = get_method(m).metadata()
            st.caption(meta["description"] + (" · relabeling" if meta["relabeling"] else ""))
            frame = res.method_param_frame(m, ds)
            edited = st.data_editor(frame, key=f"exp_params_{m}", hide_index=True, disabled=["parameter"],
                                    column_config={"value": st.column_config.TextColumn("value (JSON)")})
            try:
                over = params_from_frame(m, ds, edited)
            except ForgetsetError as err:
                errors.append(str(err))
                st.error(str(err), icon=":material/error:")
            else:
                if over:
                    method_params[m] = over
                    st.caption(f"Overrides: `{json.dumps(over)}`")
elif methods:
    st.caption("Retrain reuses the original training recipe; it has no hyperparameters of its own.")

# ------------------------------------------------------------------ setup + BLO
s = common.setup()
with st.expander("Setup and BLO parameters"):
    st.markdown(f"Data set `{pipe.dataset_name}`, model `{pipe.model_name}`, training recipe "
                f"`{json.dumps(pipe.train_cfg.to_dict())}` (change it on **Data & model**).")
    blo_txt = st.text_area("BLO parameters (JSON; part of the active setup)", value=json.dumps(dict(s.blo)),
                           key="exp_blo", height=68,
                           help="Defaults: " + json.dumps(BLO_DEFAULTS))

# ------------------------------------------------------------------ validate + estimate
spec = None
try:
    ratios = [parse_ratio(r) for r in ratios_txt]
    blo = parse_json_object(blo_txt, "BLO parameters")
    for sel in selectors:
        parse_selector(sel)
    spec = ExperimentSpec(setup=s.replace(blo=blo), selectors=list(selectors), methods=list(methods),
                          ratios=ratios, seeds=[int(x) for x in seeds], method_params=method_params).validate()
    if errors:
        raise ForgetsetError(errors[0])
except ForgetsetError as err:
    st.error(str(err), icon=":material/error:")
    spec = None


@st.cache_data(show_spinner=False, max_entries=32)
def _status(spec_json: str, ver: tuple):
    """Which runs of the grid are cached — with the grid's own setup and BLO parameters."""
    return grid_status(ExperimentSpec.from_dict(json.loads(spec_json)), common.store())


if spec is not None:
    n = spec.n_runs()
    try:
        cached = int(_status(json.dumps(spec.to_dict(), sort_keys=True), common.version())["cached"].sum())
    except ForgetsetError:
        cached = 0
    needs_blo = any(parse_selector(x).needs_scores() for x in spec.selectors)
    c1, c2, c3 = st.columns(3)
    c1.metric("Unlearning runs", n, help="methods (+Retrain) × selector-ratio sets × seeds")
    c2.metric("Already cached", cached)
    c3.metric("Original models", len(spec.seeds), help="one θ_o per seed (cached after the first time)")
    if needs_blo:
        st.caption(f"Score-based selectors also need {len(spec.seeds) * len(spec.ratios)} BLO/score computations "
                   "(cached after the first time).")
    if dict(spec.setup.blo) != dict(s.blo):
        st.caption("The BLO parameters differ from the active setup's; launching makes them the active ones.")

launch = st.button("Launch experiment", type="primary", disabled=spec is None, key="exp_launch")
if launch and spec is not None:
    if dict(spec.setup.blo) != dict(s.blo):
        common.use_setup(spec.setup, why="the experiment's BLO parameters")
    jid = common.submit("experiment", {"spec": spec.to_dict()})
    if jid:
        st.session_state["exp_job"] = jid
        st.rerun()
common.watch_job(st.session_state.get("exp_job"), "exp", "Experiment finished — see Compare.")
if st.session_state.get("exp_job"):
    st.page_link(common.PAGES["compare"], label="Open **Compare**", icon=":material/balance:")
