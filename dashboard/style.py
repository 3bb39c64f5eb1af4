"""The dashboard's one visual language: colours, display names, units and the glossary.

Every chart and table takes its colours and names from here, so "random", "worst-case", "Retrain" or "FT" look
and read the same on every page. Colours are colour-blind safe: Okabe & Ito's eight colours, then Paul Tol's
"muted" set for further methods. Names come from the registries (``get_method(m).metadata()["label"]``,
``get_score(s).label``, ``selectors.selector_label``); ids such as ``l1_sparse`` or ``blo@0.1`` never reach a user.
"""
from __future__ import annotations

import json
import re


# ------------------------------------------------------------------------------------------------ colours
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999"}
TOL_MUTED = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499"]

# Forget-set selectors (also the sets built by them, coreset strategies that remove them, composition bars).
SELECTOR_COLORS = {
    "random": OKABE_ITO["blue"],
    "worst": OKABE_ITO["vermillion"],
    "easiest": OKABE_ITO["green"],
    "mixed": OKABE_ITO["purple"],
    "top": OKABE_ITO["orange"],
    "bottom": OKABE_ITO["sky"],
    "class": OKABE_ITO["yellow"],
    "worst_class": "#882255",
}
TRAINING_SET_COLOR = OKABE_ITO["grey"]  # "all training samples" / "training set" next to the forget sets
SELECTED_COLOR = OKABE_ITO["black"]
# Unlearning methods: Retrain (the gold standard) black, the default five first, the rest in registry order.
_METHOD_FIXED = {"retrain": OKABE_ITO["black"], "ft": OKABE_ITO["orange"], "ga": OKABE_ITO["sky"],
                 "rl": OKABE_ITO["purple"], "l1_sparse": OKABE_ITO["green"]}
_METHOD_CYCLE = [OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["yellow"]] + TOL_MUTED
# Per-sample scores (histograms, coreset baselines).
SCORE_COLORS = {"loss": OKABE_ITO["blue"], "entropy": OKABE_ITO["sky"], "blo": OKABE_ITO["vermillion"],
                "el2n": OKABE_ITO["orange"], "grand": OKABE_ITO["green"], "lira_asr": OKABE_ITO["purple"],
                "lira_score": "#882255", "memorization": "#332288", "le_confidence": "#44AA99",
                "le_max_confidence": "#117733", "le_entropy": "#999933", "le_accuracy": "#DDCC77"}
CORRELATION_SCALE = "RdBu"  # Spearman ρ in [−1, 1], 0 = white
# Classes (labels / predictions) in scatter plots: ten distinct colour-blind-safe colours.
CLASS_COLORS = [OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["green"], OKABE_ITO["vermillion"],
                OKABE_ITO["purple"], OKABE_ITO["sky"], OKABE_ITO["yellow"], "#332288", "#999933", OKABE_ITO["black"]]
SEQUENTIAL = "Viridis"  # continuous values (scores on maps)
GAP_SCALE = "Reds"  # gaps to Retrain (0 = white)


def selector_base(selector: str) -> str:
    """'worst+strat {...}' -> 'worst'; 'top:loss' -> 'top'."""
    return str(selector).split(" ")[0].split("+")[0].split(":")[0]


def selector_color(selector: str) -> str:
    return SELECTOR_COLORS.get(selector_base(selector), OKABE_ITO["grey"])


def method_base(method: str) -> str:
    return str(method).split(" ")[0]


def method_color(method: str) -> str:
    base = method_base(method)
    if base in _METHOD_FIXED:
        return _METHOD_FIXED[base]
    from unlearn_core.methods import method_names

    names = [m for m in method_names() if m not in _METHOD_FIXED]
    i = names.index(base) if base in names else sum(map(ord, base))  # stable across processes
    return _METHOD_CYCLE[i % len(_METHOD_CYCLE)]


def score_color(column: str) -> str:
    return SCORE_COLORS.get(re.split(r"[@ \[]", str(column))[0], OKABE_ITO["grey"])


def rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# ------------------------------------------------------------------------------------------------ names
def params_text(params: str | dict) -> str:
    """'{"lr": 0.01, "epochs": 5}' -> 'epochs=5, lr=0.01'."""
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except (json.JSONDecodeError, TypeError):
            return str(params)
    if not isinstance(params, dict):
        return str(params)
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def method_label(method: str) -> str:
    """Display name of a method id, also of a variant 'ft {"lr": 0.01}' -> 'FT (lr=0.01)'."""
    from unlearn_core.errors import ForgetsetError
    from unlearn_core.methods import get_method

    base, _, rest = str(method).partition(" ")
    try:
        name = get_method(base).metadata()["label"]
    except (ForgetsetError, KeyError, ValueError):
        name = base
    return name + (f" ({params_text(rest)})" if rest.strip() else "")


def selector_label(selector: str) -> str:
    """Display name of a selector, also of a BLO variant 'worst {"K": 2}' -> 'worst-case (BLO K=2)'."""
    from unlearn_core.selectors import selector_label as core_label

    base, _, rest = str(selector).partition(" ")
    return core_label(base) + (f" (BLO {params_text(rest)})" if rest.strip() else "")


def ratio_label(ratio) -> str:
    if ratio is None or ratio != ratio:
        return "class-wise"
    r = float(ratio)
    return f"{100 * r:g}%"


def score_label(column: str) -> str:
    """Display name of a score column: 'blo@0.1' -> 'BLO worst-case weight (10% set)', 'loss' -> 'Loss'."""
    from unlearn_core.errors import ForgetsetError
    from unlearn_core.scores import get_score

    col = str(column)
    m = re.match(r"^([a-z0-9_]+)(?:@([0-9.eE-]+))?(?:\[class k=(\d+)\])?(?: (.*))?$", col)
    if not m:
        return col
    name, ratio, k, extra = m.groups()
    try:
        label = get_score(name).label
    except (ForgetsetError, KeyError, ValueError):
        return col
    if "METHOD" in label:  # a score measured under a method (eps_hardness): name it, default or 'method=…'
        got = re.search(r"(?:^|,)method=([^,]+)", extra or "")
        label = label.replace("METHOD", method_label(got.group(1) if got else
                                                     str(get_score(name).defaults.get("method", "METHOD"))))
        extra = re.sub(r"(?:^|,)method=[^,]+", "", extra or "").strip(",") or None
    if ratio:
        label += f" ({100 * float(ratio):g}% set)"
    if k:
        label += f" (class level, k={k})"
    if extra:
        label += f" ({extra.replace(',', ', ')})"
    return label


# What one unit of each per-sample score is (axis titles: every axis says its unit).
SCORE_UNITS = {
    "loss": "cross-entropy of θ_o (nats)",
    "entropy": "softmax entropy of θ_o (nats)",
    "blo": "BLO weight w_i (weights sum to m)",
    "memorization": "mem = P[correct | in] − P[correct | out] (−1 … 1)",
    "lira_asr": "LiRA attack success rate (fraction of shadow models, 0 … 1)",
    "lira_score": "LiRA log-likelihood ratio",
    "le_confidence": "mean p(true class) over training epochs (0 … 1)",
    "le_max_confidence": "mean max softmax over training epochs (0 … 1)",
    "le_entropy": "mean softmax entropy over training epochs (nats)",
    "le_accuracy": "fraction of training epochs classified correctly (0 … 1)",
    "el2n": "‖softmax − one-hot‖₂ early in training",
    "grand": "‖∇θ loss‖₂ early in training",
}


def score_unit(column: str) -> str:
    """The unit of a score column's values ('blo@0.1' -> the BLO weight's); '' if unknown."""
    return SCORE_UNITS.get(re.split(r"[@ \[]", str(column))[0], "")


def set_label(name: str) -> str:
    """Name of a membership column 'in:worst-case 10% · seed 0' -> 'in worst-case 10% · seed 0'."""
    return f"member of {name[3:]}" if str(name).startswith("in:") else str(name)


def column_label(column: str) -> str:
    """Readable name of any per-sample column (scores, membership, the frame's own columns)."""
    own = {"label": "label", "label_name": "label", "prediction": "prediction", "prediction_name": "prediction",
           "confidence": "confidence", "correct": "correct", "p_y": "p(true label)", "p_true": "p(true label)",
           "pred": "prediction", "class": "label", "index": "sample", "red_ink": "red ink (attribute)"}
    if column in own:
        return own[column]
    if str(column).startswith("in:"):
        return set_label(column)
    return score_label(column)


def clip_weights(frame, columns=None):
    """BLO weights for display: clipped to [0, 1], the range they live in (the solver's last projected step can
    leave −5e-07 on a weight at the floor; a reader should never see a negative weight)."""
    import numpy as np

    out = frame.copy()
    out.attrs.update(getattr(frame, "attrs", {}))
    for c in columns or [c for c in out.columns if str(c).startswith("blo")]:
        if c in out:
            out[c] = np.clip(out[c].to_numpy(dtype=float), 0.0, 1.0)
    return out


# ------------------------------------------------------------------------------------------------ plotly
PLOTLY_CONFIG = {"displaylogo": False, "displayModeBar": "hover",
                 "modeBarButtonsToRemove": ["toImage", "autoScale2d", "toggleSpikelines", "hoverClosestCartesian",
                                            "hoverCompareCartesian"]}


def percent_axis(fig, axis: str = "y", title: str | None = None, **kw):
    """An axis of values in % (0–100): '%' tick suffix; lines lying at 0 stay visible (range padded below 0)."""
    upd = dict(ticksuffix="%", **kw)
    if title is not None:
        upd["title_text"] = title
    (fig.update_yaxes if axis == "y" else fig.update_xaxes)(**upd)
    return fig
