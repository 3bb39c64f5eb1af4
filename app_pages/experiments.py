"""Experiments: selectors × methods × ratios × seeds grids with editable method presets, launched as a job.

The grid's choices live for the whole session and in the address bar (``?methods=retrain,ft&selectors=random,worst
&ratios=0.05,0.1&grid_seeds=0,1``), so leaving the page, reloading or sharing the link keeps them."""
import json

import streamlit as st

from dashboard import common, glossary, job_widgets, readers, style, widgets
from dashboard import analysis_readers as dv
from dashboard.forms import params_from_frame
from dashboard.safety import code_span, md_escape
from unlearn_core import results as res
from unlearn_core.config import parse_json_object, parse_ratio
from unlearn_core.errors import ConfigError, ForgetsetError
from unlearn_core.grid import DEFAULT_METHODS, DEFAULT_SELECTORS, ExperimentSpec, grid_status
from unlearn_core.methods import get_method, method_names
from unlearn_core.scores.blo import BLO_DEFAULTS
from unlearn_core.selectors import SELECTOR_HELP, parse_selector

common.page_guard()
st.title("Experiments")
st.caption("A grid of forget-set selectors × unlearning methods × forget ratios × seeds on the active setup. "
           "Retrain always runs (every gap is measured against it). Cached runs are reused.")
pipe = readers.require_pipeline()
ds = pipe.ds
qp = st.query_params
all_methods = method_names()
notes: list[str] = []


def _qp_list(name: str, default: list, alias: str | None = None) -> list:
    """The URL's value of a list parameter (first visit of this session), else ``default``."""
    for n in (name, alias):
        if n and n in qp and not st.session_state.get(f"_exp_qp_{name}"):
            st.session_state[f"_exp_qp_{name}"] = True
            return [x.strip() for x in qp[n].split(",") if x.strip()]
    return default


url_methods = _qp_list("methods", [m for m in DEFAULT_METHODS if m in all_methods])
unknown = [m for m in url_methods if m not in all_methods]
if unknown:
    notes.append(f"Unknown methods in the address ignored: {', '.join(unknown)}.")
common.keep("exp_methods", [m for m in url_methods if m in all_methods],
            valid=lambda v: [m for m in (v or []) if m in all_methods])
methods = st.multiselect("Unlearning methods", all_methods, key="exp_methods",
                         format_func=style.method_label,
                         help="Every registered method (their command-line names: "
                              + ", ".join(f"{style.method_label(m)} = {m}" for m in all_methods)
                              + "); Retrain is always added (the gaps need it).")

c1, c2, c3 = st.columns([2, 1.2, 1.2])
url_sels = _qp_list("selectors", list(DEFAULT_SELECTORS))
sel_opts = list(dict.fromkeys(common.COMMON_SELECTORS + url_sels + st.session_state.get("_keep_exp_selectors", [])))
common.keep("exp_selectors", url_sels, valid=lambda v: [x for x in (v or []) if x in sel_opts])
selectors = c1.multiselect("Forget-set selectors", sel_opts, key="exp_selectors", accept_new_options=True,
                           format_func=lambda x: f"{style.selector_label(x)} ({x})" if style.selector_label(x) != x
                           else x,
                           help="Type any selector, e.g. top:entropy or mixed:0.3. "
                                + " · ".join(f"{k}: {v}" for k, v in SELECTOR_HELP.items()))
url_ratios = _qp_list("ratios", ["0.1"])
common.keep("exp_ratios_txt", ", ".join(url_ratios))
ratios_txt = c2.text_input("Forget ratios", key="exp_ratios_txt",
                           help="Comma-separated, each strictly between 0 and 1 (0.05) or a percentage (5%). "
                                "Nothing is completed for you: what you type is what runs.")
url_seeds = _qp_list("grid_seeds", ["0", "1", "2"], alias="seeds")
seed_default = [int(x) for x in url_seeds if str(x).isdigit() and int(x) < 10]
if len(seed_default) != len(url_seeds):
    notes.append("Seeds in the address must be whole numbers 0–9; others ignored.")
common.keep("exp_seeds", seed_default, valid=lambda v: [s for s in (v or []) if s in range(10)])
seeds = c3.multiselect("Seeds", list(range(10)), key="exp_seeds",
                       help="Each seed trains its own θ_o, BLO and forget sets; results show mean ± std over seeds.")
for n in notes:
    widgets.warning(n)

# ------------------------------------------------------------------ method presets
st.markdown("**Method hyperparameters** — the preset for this data set family; edit a value to override it.")
method_params: dict = {}
errors = []
editable = [m for m in methods if not get_method(m).metadata()["exact"]]
if editable:
    tabs = st.tabs([style.method_label(m) for m in editable])
    for tab, m in zip(tabs, editable):
        with tab:
            meta = get_method(m).metadata()
            st.caption(md_escape(meta["description"]) + (" · relabeling" if meta["relabeling"] else ""))
            frame = res.method_param_frame(m, ds)
            edited = st.data_editor(frame, key=f"exp_params_{m}", hide_index=True, disabled=["parameter"],
                                    width="stretch",
                                    column_config={"value": st.column_config.TextColumn("value (JSON)")})
            try:
                over = params_from_frame(m, ds, edited)
            except ForgetsetError as err:
                errors.append(str(err))
                widgets.error(str(err))
            else:
                if over:
                    method_params[m] = over
                    st.caption(f"Overrides: {code_span(json.dumps(over))}")
elif methods:
    st.caption("Retrain reuses the original training recipe; it has no hyperparameters of its own.")

# ------------------------------------------------------------------ setup + BLO
s = common.setup()
with st.expander("Setup and BLO parameters"):
    st.markdown(f"Data set {code_span(pipe.dataset_name)}, model {code_span(pipe.model_name)}, training recipe "
                f"{code_span(json.dumps(pipe.train_cfg.to_dict()))} (change it on **Data & model**).")
    st.session_state.setdefault("exp_blo", json.dumps(dict(s.blo)))
    blo_txt = st.text_area("BLO parameters (JSON; part of the active setup)", key="exp_blo", height=68,
                           help=glossary.GLOSSARY["BLO"] + " Defaults: " + json.dumps(BLO_DEFAULTS))

# ------------------------------------------------------------------ validate + estimate
spec = None
ratios: list[float] = []
try:
    parts = [r.strip() for r in ratios_txt.replace(";", ",").split(",") if r.strip()]
    if not parts:
        raise ConfigError("Type at least one forget ratio, e.g. 0.1 or 5%.")
    ratios = list(dict.fromkeys(parse_ratio(r) for r in parts))
    blo = parse_json_object(blo_txt, "BLO parameters")
    for sel in selectors:
        parse_selector(sel)
    spec = ExperimentSpec(setup=s.replace(blo=blo), selectors=list(selectors), methods=list(methods),
                          ratios=ratios, seeds=[int(x) for x in seeds], method_params=method_params).validate()
    if errors:
        raise ForgetsetError(errors[0])
except ForgetsetError as err:
    widgets.error(str(err))
    spec = None

common.sync_url(methods=list(methods), selectors=list(selectors),
                ratios=[f"{r:g}" for r in ratios] if ratios else ratios_txt.replace(" ", ""),
                grid_seeds=[int(x) for x in seeds])


@st.cache_data(show_spinner=False, max_entries=32)
def _status(spec_json: str, ver: tuple):
    """Which runs of the grid are cached — with the grid's own setup and BLO parameters."""
    return grid_status(ExperimentSpec.from_dict(json.loads(spec_json)), common.store())


if spec is not None:
    n = spec.n_runs()
    try:
        status = _status(json.dumps(spec.to_dict(), sort_keys=True), readers.version())
        cached = int(status["cached"].sum())
    except ForgetsetError:
        status, cached = None, 0
    c1, c2, c3 = st.columns(3)
    c1.metric("Unlearning runs", n, help="methods (+Retrain) × selector-ratio sets × seeds")
    c2.metric("Already cached", cached)
    c3.metric("Original models", len(spec.seeds), help="one θ_o per seed (cached after the first time)")
    if status is not None:
        # the CLI's estimate of the same grid (unlearn_core.grid_estimate.estimate_grid), before anything runs
        st.caption(md_escape(dv.estimate_text([("experiment", {"spec": spec.to_dict()})])))
    if dict(spec.setup.blo) != dict(s.blo):
        st.caption("The BLO parameters differ from the active setup's; launching makes them the active ones "
                   "(you will be told).")

# Where the grid's units run: this machine (the job runtime's worker) or a Ray cluster (docs/cluster.md).
ex_fields = job_widgets.executor_choice("exp")
launch = st.button("Launch experiment", type="primary", disabled=spec is None or ex_fields is None, key="exp_launch")
if launch and spec is not None and ex_fields is not None:
    if dict(spec.setup.blo) != dict(s.blo):
        common.use_setup(spec.setup, why="the experiment's BLO parameters")
    jid = job_widgets.submit("experiment", {"spec": spec.to_dict(), **ex_fields})
    if jid:
        st.session_state["exp_job"] = jid
        st.rerun()
job_widgets.watch_job(st.session_state.get("exp_job"), "exp", "Experiment finished — see Compare, or its results "
                 "table on Runs.")
if st.session_state.get("exp_job"):
    st.page_link(common.PAGES["compare"], label="Open **Compare**", icon=":material/balance:")
