"""Read-only helpers that turn stored results into the data frames the dashboard shows (no Streamlit here).

Nothing in this module trains a model or computes a score: every function reads the
:class:`~unlearn_core.store.Store` (or returns ``None`` / an empty frame when a result is missing). The one
exception is cheap bookkeeping: building a forget set whose scores are already cached (a top-m selection,
milliseconds) and θ_o's predictions from a *stored* model (one forward pass, then cached as an artifact).
"""
from __future__ import annotations

import base64
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ConfigError, ForgetsetError
from .config import config_key
from .store import Store

METRICS = ["UA", "MIA", "RA", "TA"]
METRIC_HELP = {
    "UA": "Unlearning accuracy = 100 − accuracy on the forget set (%)",
    "MIA": "MIA-efficacy: share of the forget set an SVC on p_y calls non-member (%)",
    "RA": "Remaining accuracy: accuracy on the retain set (%)",
    "TA": "Testing accuracy (%)",
    "avg_gap": "Mean |metric − Retrain| over UA, MIA, RA, TA",
    "ToW": "Tug of war (seed 001 Eq. 2): Π(1 − |Δacc|) over forget, retain, test; 1 = matches Retrain",
}
COMMON_SELECTORS = ["random", "worst", "easiest", "top:loss", "bottom:loss", "random+strat", "mixed:0.5", "class:3",
                    "worst_class:1"]

_CATALOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS forget_set_catalog (
    key TEXT PRIMARY KEY,
    base TEXT NOT NULL,
    dataset TEXT,
    model TEXT,
    selector TEXT NOT NULL,
    ratio REAL,
    seed INTEGER NOT NULL,
    size INTEGER,
    classes TEXT,
    created REAL NOT NULL
);
"""


# ---------------------------------------------------------------------------------------------- store state
def store_version(store: Store) -> tuple:
    """Changes whenever a run is started/finished or a forget set is catalogued (a cache key for views)."""
    with store.connect() as con:
        con.executescript(_CATALOG_SCHEMA)
        a = con.execute("SELECT COUNT(*), MAX(created), MAX(finished), "
                        "SUM(CASE WHEN status='done' THEN 1 ELSE 0 END) FROM runs").fetchone()
        b = con.execute("SELECT COUNT(*), MAX(created) FROM forget_set_catalog").fetchone()
    return tuple(a) + tuple(b)


def save_last_setup(store: Store, setup: dict) -> None:
    """Remember the setup a user last chose; new dashboard sessions start from it."""
    with store.connect() as con:
        con.execute("INSERT OR REPLACE INTO meta(k, v) VALUES ('dashboard_last_setup', ?)",
                    (json.dumps(setup, sort_keys=True, default=str),))


def load_last_setup(store: Store) -> dict | None:
    with store.connect() as con:
        row = con.execute("SELECT v FROM meta WHERE k='dashboard_last_setup'").fetchone()
    try:
        return json.loads(row[0]) if row else None
    except (TypeError, ValueError):
        return None


def base_key(pipe) -> str:
    """Hash of a pipeline's data set + fingerprint + model + training recipe."""
    return config_key(pipe.base_config)


def setup_label(dataset: str, model: str, train: dict | None) -> str:
    t = train or {}
    return (f"{dataset} · {model} · {t.get('epochs', '?')} ep {t.get('optimizer', '')} lr {t.get('lr', '?')} "
            f"bs {t.get('batch_size', '?')}").replace("  ", " ")


# ---------------------------------------------------------------------------------------------- data sets
_TORCHVISION_MARKERS = {
    "cifar10": ["cifar-10-batches-py"], "cifar100": ["cifar-100-python"], "mnist": ["MNIST"],
    "fashion_mnist": ["FashionMNIST"], "svhn": ["train_32x32.mat"], "celeba": ["celeba"],
}


def dataset_options(data_root: str | None = None) -> list[dict]:
    """Every named data set with whether its files are present (digits ones ship with scikit-learn)."""
    from .data import DATASETS

    root = Path(data_root or os.environ.get("FORGETSET_DATA_ROOT", "./data"))
    out = []
    for name in DATASETS:
        if name in ("digits", "biased_digits"):
            out.append({"name": name, "available": True, "note": "built in (scikit-learn digits)"})
            continue
        markers = _TORCHVISION_MARKERS.get(name, [name])
        ok = any((root / m).exists() for m in markers)
        out.append({"name": name, "available": ok,
                    "note": f"found under {root}" if ok else f"not found under {root}"})
    return out


# ---------------------------------------------------------------------------------------------- original model
def original_run(pipe, seed: int) -> dict | None:
    """The finished run of θ_o (seed), or None when it has not been trained/imported yet."""
    key = pipe.original_key(seed)
    run = pipe.store.done_run(key)
    if run is None or not pipe.store.model_path("model", key).is_file():
        return None
    return run


def original_predictions(pipe, seed: int) -> dict[str, np.ndarray] | None:
    """θ_o's prediction and confidence p_y on each training sample (from the stored model; cached)."""
    key = pipe.original_key(seed)
    cached = pipe.store.load_arrays("predictions", key)
    if cached is not None:
        return cached[0]
    if original_run(pipe, seed) is None:
        return None
    import torch

    from .training import predict_logits

    model = pipe.load_model("model", key)
    logits = predict_logits(model, pipe.ds, "train")
    p = torch.softmax(logits.float(), 1)
    y = pipe.ds.y_train.to(p.device)
    arrays = {"pred": logits.argmax(1).cpu().numpy().astype(np.int64),
              "p_y": p.gather(1, y[:, None]).squeeze(1).cpu().numpy().astype(np.float32),
              "p_max": p.max(1).values.cpu().numpy().astype(np.float32)}
    pipe.store.save_arrays("predictions", key, arrays, {"original": key})
    return arrays


# ---------------------------------------------------------------------------------------------- scores
def score_key_for(pipe, name: str, seed: int, ratio: float | None, params: dict | None = None) -> str:
    """The store key :meth:`Pipeline.score` uses for this request (same parameter resolution)."""
    from .scores import get_score

    spec = get_score(name)
    merged = {**(pipe.blo_params if name == "blo" else {}), **(params or {})}
    resolved = spec.resolve_params(merged)
    return pipe.score_key(name, seed, ratio if spec.depends_on_ratio else None, resolved)


def score_ready(pipe, name: str, seed: int, ratio: float | None, params: dict | None = None) -> str | None:
    """Key of a cached score, or None if it still has to be computed."""
    try:
        key = score_key_for(pipe, name, seed, ratio, params)
    except ForgetsetError:
        return None
    if pipe.store.done_run(key) and pipe.store.has_artifact("score", key, "safetensors"):
        return key
    return None


def load_score(store: Store, key: str) -> tuple[np.ndarray, dict] | None:
    """(values, extras) of a cached score."""
    cached = store.load_arrays("score", key)
    if cached is None:
        return None
    arrays, meta = cached
    return arrays["values"], meta.get("extras", {})


def cached_scores(pipe, seed: int) -> list[dict]:
    """The finished scores of this setup and seed: name, ratio, params, key, column name, per-sample or not."""
    from .scores import SCORES, get_score

    base = pipe.base_config
    out = []
    for r in pipe.store.list_runs("score", "done"):
        c = r["config"]
        if c.get("seed") != seed or any(c.get(k) != v for k, v in base.items()):
            continue
        name = c.get("score")
        if name not in SCORES:
            try:
                get_score(name)
            except ForgetsetError:
                continue
        spec = get_score(name)
        params = c.get("params") or {}
        per_sample = params.get("granularity", "sample") != "class"
        ratio = c.get("ratio") if spec.depends_on_ratio and per_sample else None
        nondefault = {k: v for k, v in params.items() if spec.defaults.get(k) != v}
        col = name + (f"@{ratio:g}" if ratio is not None else "")
        if not per_sample:
            col = f"{name}[class k={params.get('n_classes')}]"
        if nondefault and per_sample:
            col += " " + ",".join(f"{k}={v}" for k, v in sorted(nondefault.items()))
        out.append({"name": name, "label": spec.label, "ratio": ratio, "params": params, "key": r["key"],
                    "column": col, "per_sample": per_sample, "hard_end": spec.hard_end,
                    "finished": r.get("finished"), "time_s": (r.get("timings") or {}).get("score_s")})
    # newest computation of the same column wins
    by_col: dict[str, dict] = {}
    for e in sorted(out, key=lambda e: e["finished"] or 0):
        by_col[e["column"]] = e
    return sorted(by_col.values(), key=lambda e: (e["name"], e["ratio"] or 0, e["column"]))


def sample_frame(pipe, seed: int, entries: list[dict] | None = None) -> pd.DataFrame:
    """One row per training sample: index, label, θ_o's prediction/confidence and every cached per-sample score."""
    ds = pipe.ds
    y = ds.y_train.cpu().numpy()
    df = pd.DataFrame({"index": np.arange(ds.n_train), "label": y})
    df["class"] = [ds.classes[int(c)] for c in y]
    pred = original_predictions(pipe, seed)
    if pred is not None:
        df["pred"] = pred["pred"]
        df["p_y"] = pred["p_y"]
        df["correct"] = df["pred"] == df["label"]
    for e in entries if entries is not None else cached_scores(pipe, seed):
        if not e["per_sample"]:
            continue
        loaded = load_score(pipe.store, e["key"])
        if loaded is not None and len(loaded[0]) == ds.n_train:
            df[e["column"]] = loaded[0].astype(float)
    for k, v in ds.attributes.items():
        if len(v) == ds.n_train:
            df[k] = v
    return df


def hardest(df: pd.DataFrame, column: str, hard_end: str, n: int, easiest: bool = False,
            tiebreak: str | None = "loss") -> pd.DataFrame:
    """The n hardest (or easiest) samples by ``column``; ``hard_end`` says which end is hard ("low"/"high").

    Ties (e.g. BLO weights at the cap 1 or at 0) are broken by ``tiebreak`` (loss: low = harder, seed 001)."""
    ascending = (hard_end == "low") != easiest
    cols, asc = [column], [ascending]
    if tiebreak and tiebreak in df and tiebreak != column:
        cols.append(tiebreak)
        asc.append(not easiest)
    return df.sort_values(cols, ascending=asc, kind="stable").head(n)


def preferred_column(columns: list[str], prefer: tuple[str, ...] = ("blo@0.1",), prefix: str = "blo") -> int:
    """Index of the column a view should start with (e.g. the 10% BLO weight)."""
    for p in prefer:
        if p in columns:
            return columns.index(p)
    return next((i for i, c in enumerate(columns) if c.startswith(prefix)), 0)


def trace_frame(extras: dict) -> pd.DataFrame:
    """BLO convergence trace (objective, top-m overlap, ... per upper iteration)."""
    return pd.DataFrame(extras.get("trace") or [])


def sample_details(df: pd.DataFrame, idx: int, score_cols: list[str], hard_ends: dict[str, str]) -> dict:
    """A sample's row plus, per score, its value, percentile and rank from the hard end."""
    row = df.loc[df["index"] == idx].iloc[0]
    out = {"index": int(idx), "label": int(row["label"]), "class": row["class"]}
    if "pred" in df:
        out.update(pred=int(row["pred"]), p_y=float(row["p_y"]))
    scores = []
    for c in score_cols:
        if c not in df:
            continue
        v = df[c].to_numpy()
        x = float(row[c])
        hard_low = hard_ends.get(c, "low") == "low"
        rank = int((v < x).sum() + 1) if hard_low else int((v > x).sum() + 1)
        scores.append({"score": c, "value": x, "percentile": float(100 * (v <= x).mean()),
                       "hard-to-forget rank": f"{rank} / {len(v)}", "hard end": hard_ends.get(c, "")})
    out["scores"] = pd.DataFrame(scores)
    return out


# ---------------------------------------------------------------------------------------------- images
def thumbnails(ds, idx, size: int = 64, split: str = "train") -> list[np.ndarray]:
    """uint8 images upscaled (nearest neighbour) to about ``size`` pixels, HWC (gray as HxW)."""
    imgs = ds.images_hwc(split, np.asarray(idx, dtype=np.int64))
    out = []
    for im in imgs:
        h = im.shape[0]
        f = max(1, int(round(size / max(h, 1))))
        big = im.repeat(f, 0).repeat(f, 1)
        out.append(big[:, :, 0] if big.shape[2] == 1 else big)
    return out


def png_data_uri(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_mosaic(ds, idx, ncols: int = 12, size: int = 48, pad: int = 2, split: str = "train") -> np.ndarray:
    """One RGB picture holding the given samples in a grid (white gaps)."""
    thumbs = thumbnails(ds, idx, size, split)
    if not thumbs:
        return np.full((size, size, 3), 255, np.uint8)
    thumbs = [np.stack([t] * 3, -1) if t.ndim == 2 else t for t in thumbs]
    h, w = thumbs[0].shape[:2]
    nrows = (len(thumbs) + ncols - 1) // ncols
    ncols = min(ncols, len(thumbs))
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), 255, np.uint8)
    for i, t in enumerate(thumbs):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = t
    return out


# ---------------------------------------------------------------------------------------------- forget sets
def register_forget_set(pipe, fs) -> None:
    """Remember a built forget set in the catalogue so the Forget sets page can list it."""
    with pipe.store.connect() as con:
        con.executescript(_CATALOG_SCHEMA)
        con.execute("INSERT OR IGNORE INTO forget_set_catalog VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (fs.info.get("key"), base_key(pipe), pipe.dataset_name, pipe.model_name, fs.selector,
                     fs.ratio, int(fs.seed), fs.size, json.dumps(fs.forget_classes), time.time()))


def forget_set_ready(pipe, selector: str, ratio: float | None, seed: int) -> tuple[bool, list[str]]:
    """Whether a forget set can be built without training (θ_o and the scores it needs are cached)."""
    from .selectors import parse_selector

    spec = parse_selector(selector)
    missing = []
    for name, by_ratio in spec.needs_scores():
        params = {"granularity": "class", "n_classes": int(spec.arg)} if spec.kind == "worst_class" else {}
        r = ratio if (by_ratio and not spec.class_wise) else None
        if score_ready(pipe, name, seed, r, params) is None:
            missing.append(f"{name}" + (f" @ {r:g}" if r is not None else "") + (" (class-level)" if params else ""))
    return (not missing), missing


def build_forget_set_if_ready(pipe, selector: str, ratio: float | None, seed: int):
    """Build (or load) a forget set when no training is needed; None otherwise. Registers it in the catalogue."""
    from .config import forget_count
    from .selectors import parse_selector

    spec = parse_selector(selector)
    if not spec.class_wise:
        forget_count(ratio, pipe.ds.n_train)
    ok, _ = forget_set_ready(pipe, selector, ratio, seed)
    if not ok:
        return None
    fs = pipe.forget_set(selector, None if spec.class_wise else ratio, seed)
    register_forget_set(pipe, fs)
    return fs


def forget_set_catalog(pipe) -> pd.DataFrame:
    """Catalogued forget sets of this setup plus those used by finished unlearning runs (built if cheap)."""
    with pipe.store.connect() as con:
        con.executescript(_CATALOG_SCHEMA)
        rows = con.execute("SELECT * FROM forget_set_catalog WHERE base=? ORDER BY created",
                           (base_key(pipe),)).fetchall()
    seen = {(r["selector"], r["ratio"], r["seed"]) for r in rows}
    base = pipe.base_config
    for run in pipe.store.list_runs("unlearn", "done"):
        c = run["config"]
        if any(c.get(k) != v for k, v in base.items()):
            continue
        ident = (c["selector"], c.get("ratio"), c["seed"])
        if ident in seen or (c.get("blo") not in (None, pipe.blo_params)):
            continue
        seen.add(ident)
        try:
            build_forget_set_if_ready(pipe, *ident)
        except ForgetsetError:
            continue
    with pipe.store.connect() as con:
        rows = con.execute("SELECT * FROM forget_set_catalog WHERE base=? ORDER BY created",
                           (base_key(pipe),)).fetchall()
    df = pd.DataFrame([dict(r) for r in rows])
    if df.empty:
        return pd.DataFrame(columns=["name", "selector", "ratio", "seed", "size", "key"])
    df["name"] = [f"{s} @ {r:g} · seed {sd}" if r == r and r is not None else f"{s} · seed {sd}"
                  for s, r, sd in zip(df["selector"], df["ratio"], df["seed"])]
    first = {s: i for i, s in enumerate(["random", "worst", "easiest"])}
    df["_o"] = [first.get(s, 99) for s in df["selector"]]
    df = df.sort_values(["seed", "ratio", "_o", "created"], na_position="last").reset_index(drop=True)
    return df[["name", "selector", "ratio", "seed", "size", "key", "created"]]


def load_forget_idx(store: Store, key: str) -> np.ndarray | None:
    cached = store.load_arrays("forget_set", key)
    return None if cached is None else cached[0]["forget_idx"].astype(np.int64)


def overlap_matrix(sets: dict[str, np.ndarray]) -> pd.DataFrame:
    """|A ∩ B| / min(|A|, |B|) for every pair of sets."""
    from .selectors import overlap

    names = list(sets)
    m = np.array([[overlap(sets[a], sets[b]) for b in names] for a in names], dtype=float)
    return pd.DataFrame(m, index=names, columns=names)


def class_histogram_frame(sets: dict[str, np.ndarray], y: np.ndarray, classes: list[str]) -> pd.DataFrame:
    rows = []
    for name, idx in sets.items():
        counts = np.bincount(y[idx], minlength=len(classes))
        for c, n in enumerate(counts):
            rows.append({"set": name, "class": classes[c], "count": int(n), "share": float(n / max(len(idx), 1))})
    return pd.DataFrame(rows)


def set_score_frame(sets: dict[str, np.ndarray], samples: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Long frame (set, score, value) of the score values inside each set, plus the whole training set."""
    parts = []
    for name, idx in {"all training samples": samples["index"].to_numpy(), **sets}.items():
        sub = samples.iloc[idx]
        for c in columns:
            if c in sub:
                parts.append(pd.DataFrame({"set": name, "score": c, "value": sub[c].to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["set", "score", "value"])


# ---------------------------------------------------------------------------------------------- results
def results_frame(store: Store) -> pd.DataFrame:
    """Every finished unlearning run, one row each, with its setup id (data set + model + recipe) and configs."""
    from .experiments import Pipeline

    rows = []
    for r in store.list_runs("unlearn", "done"):
        c = r["config"]
        row = Pipeline._row(r)
        row["train"] = json.dumps(c.get("train", {}), sort_keys=True)
        row["blo"] = json.dumps(c.get("blo"), sort_keys=True) if c.get("blo") is not None else ""
        row["setup_id"] = config_key({k: c.get(k) for k in ("dataset", "data_fingerprint", "model", "train")})[:10]
        row["setup"] = setup_label(c["dataset"], c["model"], c.get("train"))
        row["finished"] = r.get("finished")
        rows.append(row)
    return pd.DataFrame(rows)


def setups_in(df: pd.DataFrame) -> pd.DataFrame:
    """The distinct setups in a results frame with their run counts (most recent first)."""
    if df.empty:
        return pd.DataFrame(columns=["setup_id", "setup", "dataset", "model", "n_runs", "last"])
    g = df.groupby(["setup_id", "setup", "dataset", "model"], sort=False)
    out = g.agg(n_runs=("key", "size"), last=("finished", "max")).reset_index()
    return out.sort_values("last", ascending=False).reset_index(drop=True)


def results_for_setup(df: pd.DataFrame, setup_id: str) -> pd.DataFrame:
    """Runs of one setup with gaps to the Retrain of the same setup/selector/ratio/seed recomputed.

    Methods run with non-preset hyperparameters and selectors with non-default BLO parameters become their own
    rows (``method`` / ``selector`` get the parameters appended), so different configurations are never averaged.
    """
    from .experiments import with_gaps

    d = df[df["setup_id"] == setup_id].copy()
    if d.empty:
        return d
    d = d.drop(columns=[c for c in d.columns if c.startswith("gap_") or c in ("avg_gap", "ToW")])
    d["method_name"] = d["method"]
    variants = {}
    for m, grp in d.groupby("method"):
        ps = grp["params"].unique()
        if len(ps) > 1:
            common = grp["params"].value_counts().index[0]  # the most used configuration keeps the plain name
            for p in ps:
                variants[(m, p)] = m if p == common else f"{m} {p}"
    d["method"] = [variants.get((m, p), m) for m, p in zip(d["method"], d["params"])]
    blos = [b for b in d["blo"].unique() if b]
    if len(blos) > 1:
        common = d.loc[d["blo"] != "", "blo"].value_counts().index[0]
        d["selector"] = [s if (not b or b == common) else f"{s} {b}" for s, b in zip(d["selector"], d["blo"])]
    return with_gaps(d)


def _fmt(m: float, s: float, g: float | None) -> str:
    if m != m:
        return "–"
    base = f"{m:.2f}±{s:.2f}"
    return base + (f" ({g:.2f})" if g is not None and g == g else "")


def method_order(methods) -> list[str]:
    from .methods import method_names

    known = method_names()
    return sorted(methods, key=lambda m: (m != "retrain", known.index(m.split(" ")[0]) if m.split(" ")[0] in known
                                          else len(known), m))


def table3_wide(df: pd.DataFrame, ratio: float | None, selectors: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seed-000 Table-3 view: rows = methods, columns = selector × (UA, MIA, RA, TA, Avg.Gap).

    Cells are "mean±std (gap)", gap = |mean − Retrain's mean-over-seeds of per-seed gaps|. Returns the display frame
    and a numeric frame of the same shape holding the gaps (for colouring). Also adds a "seeds" column.
    """
    from .experiments import aggregate

    d = df if ratio is None else df[np.isclose(df["ratio"].astype(float), float(ratio))]
    d = d[d["selector"].isin(selectors)]
    agg = aggregate(d)
    if agg.empty:
        return pd.DataFrame(), pd.DataFrame()
    methods = method_order(agg["method"].unique())
    disp = pd.DataFrame(index=methods)
    gaps = pd.DataFrame(index=methods, dtype=float)
    seeds = {}
    for sel in selectors:
        a = agg[agg["selector"] == sel].set_index("method")
        for k in METRICS:
            col = f"{sel} · {k}"
            disp[col] = [_fmt(a.at[m, f"{k}_mean"], a.at[m, f"{k}_std"], a.at[m, f"gap_{k}_mean"])
                         if m in a.index else "–" for m in methods]
            gaps[col] = [a.at[m, f"gap_{k}_mean"] if m in a.index else np.nan for m in methods]
        col = f"{sel} · Avg.Gap"
        disp[col] = [f"{a.at[m, 'avg_gap_mean']:.2f}" if m in a.index and a.at[m, "avg_gap_mean"] == a.at[m, "avg_gap_mean"]
                     else "–" for m in methods]
        gaps[col] = [a.at[m, "avg_gap_mean"] if m in a.index else np.nan for m in methods]
        for m in a.index:
            seeds.setdefault(m, set()).update(str(a.at[m, "seeds"]).split(","))
    disp["seeds"] = [",".join(sorted(seeds.get(m, set()), key=lambda s: int(s) if s.isdigit() else 0)) for m in methods]
    disp.index.name = "method"
    gaps.index.name = "method"
    return disp, gaps


def table3_stacked(df: pd.DataFrame, ratio: float | None, selectors: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like :func:`table3_wide` but one row per (selector, method): columns UA, MIA, RA, TA, Avg.Gap, ToW, seeds."""
    from .experiments import aggregate

    d = df if ratio is None else df[np.isclose(df["ratio"].astype(float), float(ratio))]
    d = d[d["selector"].isin(selectors)]
    agg = aggregate(d)
    if agg.empty:
        return pd.DataFrame(), pd.DataFrame()
    order = {m: i for i, m in enumerate(method_order(agg["method"].unique()))}
    agg = agg.assign(_s=agg["selector"].map({s: i for i, s in enumerate(selectors)}), _m=agg["method"].map(order))
    agg = agg.sort_values(["_s", "_m"]).reset_index(drop=True)
    disp = pd.DataFrame({"selector": agg["selector"], "method": agg["method"]})
    gaps = pd.DataFrame(index=disp.index)
    for k in METRICS:
        disp[k] = [_fmt(m, s, g) for m, s, g in zip(agg[f"{k}_mean"], agg[f"{k}_std"], agg[f"gap_{k}_mean"])]
        gaps[k] = agg[f"gap_{k}_mean"]
    disp["Avg.Gap"] = agg["avg_gap_mean"].map(lambda v: "–" if v != v else f"{v:.2f}")
    gaps["Avg.Gap"] = agg["avg_gap_mean"]
    disp["ToW"] = ["–" if m != m else f"{m:.3f}±{s:.3f}" for m, s in zip(agg["ToW_mean"], agg["ToW_std"])]
    disp["time_s"] = agg["runtime_s_mean"].map(lambda v: f"{v:.2f}")
    disp["seeds"] = agg["seeds"]
    return disp, gaps


def gap_long(df: pd.DataFrame, ratio: float | None) -> pd.DataFrame:
    """Mean gap to Retrain per (selector, method, metric) at one ratio (Retrain itself left out)."""
    from .experiments import aggregate

    d = df if ratio is None else df[np.isclose(df["ratio"].astype(float), float(ratio))]
    agg = aggregate(d[d["method"] != "retrain"])
    if agg.empty:
        return pd.DataFrame(columns=["selector", "method", "metric", "gap", "n_seeds"])
    rows = []
    for _, r in agg.iterrows():
        for k in METRICS + ["avg_gap"]:
            col = f"gap_{k}_mean" if k != "avg_gap" else "avg_gap_mean"
            rows.append({"selector": r["selector"], "method": r["method"], "metric": k if k != "avg_gap" else "Avg.Gap",
                         "gap": r[col], "n_seeds": r["n_seeds"], "seeds": r["seeds"]})
    return pd.DataFrame(rows)


def sweep_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (selector, method, ratio) for the ratio sweep."""
    from .experiments import aggregate

    d = df[df["ratio"].notna()]
    return aggregate(d).sort_values(["selector", "method", "ratio"]) if not d.empty else pd.DataFrame()


def run_configs(store: Store, keys: list[str]) -> list[dict]:
    """The exact stored configurations of some runs (what a result was computed with)."""
    out = []
    for k in keys:
        r = store.get_run(k)
        if r is not None:
            out.append({"key": k, "status": r["status"], "config": r["config"], "timings": r.get("timings")})
    return out


def store_runs_frame(store: Store) -> pd.DataFrame:
    """The core's runs table (originals, scores, unlearning runs) for the Runs page."""
    rows = []
    for r in store.list_runs():
        c = r["config"]
        what = c.get("method") or c.get("score") or c.get("model")
        rows.append({"kind": r["kind"], "status": r["status"], "what": what, "dataset": c.get("dataset"),
                     "selector": c.get("selector"), "ratio": c.get("ratio"), "seed": c.get("seed"),
                     "created": pd.to_datetime(r["created"], unit="s"),
                     "seconds": sum((r.get("timings") or {}).values()) if r.get("timings") else None,
                     "error": r.get("error") or "", "key": r["key"]})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- methods
def method_table(ds) -> pd.DataFrame:
    """Registered methods with their metadata (for pickers)."""
    from .methods import get_method, method_names

    rows = []
    for m in method_names():
        meta = get_method(m).metadata()
        rows.append({"method": m, "label": meta["label"], "description": meta["description"],
                     "relabeling": meta["relabeling"], "exact": meta["exact"],
                     "preset": json.dumps(get_method(m).default_params(ds)) if ds is not None else ""})
    return pd.DataFrame(rows)


def method_param_frame(method: str, ds) -> pd.DataFrame:
    """The method's preset for this data set family as an editable (parameter, value) table."""
    from .methods import get_method

    preset = get_method(method).default_params(ds)
    return pd.DataFrame({"parameter": list(preset), "value": [json.dumps(v) for v in preset.values()]})


def params_from_frame(method: str, ds, frame: pd.DataFrame) -> dict[str, Any]:
    """Overrides (values that differ from the preset) parsed from an edited parameter table; validated."""
    from .methods import get_method

    m = get_method(method)
    preset = m.default_params(ds)
    out = {}
    for p, v in zip(frame["parameter"], frame["value"]):
        if p not in preset:
            raise ConfigError(f"{method}: unknown hyperparameter '{p}'. Known: {', '.join(preset) or 'none'}.")
        try:
            val = json.loads(v) if isinstance(v, str) else v
        except json.JSONDecodeError:
            val = v
        if isinstance(preset[p], (int, float)) and not isinstance(preset[p], bool):
            try:
                val = type(preset[p])(val)
            except (TypeError, ValueError):
                raise ConfigError(f"{method}: '{p}' must be a number, got {v!r}.") from None
            if val != val or val in (float("inf"), float("-inf")):
                raise ConfigError(f"{method}: '{p}' must be finite.")
        if val != preset[p]:
            out[p] = val
    m.resolve_params(ds, out)
    return out


def parse_json_object(text: str | None, what: str) -> dict:
    """A JSON object typed into a text box (empty = {}), with a clear error."""
    if text is None or not str(text).strip():
        return {}
    try:
        v = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{what}: not valid JSON ({err.msg} at position {err.pos}). Example: {{\"epochs\": 5}}") \
            from None
    if not isinstance(v, dict):
        raise ConfigError(f"{what}: expected a JSON object such as {{\"epochs\": 5}}.")
    return v


def parse_ratio(value) -> float:
    """A forget ratio typed by a user ('0.1', '10%', 0.1), validated (0 < r < 1)."""
    from .config import forget_count

    try:
        s = str(value).strip()
        r = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise ConfigError(f"Forget ratio '{value}' is not a number; use e.g. 0.1 or 10%.") from None
    forget_count(r, 10**9)
    return r
