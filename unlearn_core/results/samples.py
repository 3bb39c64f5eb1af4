"""Per-sample views of one setup's θ_o: the cached scores, a frame of every training sample with them, and the
project's one hard-to-forget rank rule."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import setup_key
from ..errors import ForgetsetError
from ..scores import get_score
from ..scores.memorization import resolution_text
from ..store import CorruptArtifact, Store, run_digest

def cached_scores(pipe, seed: int) -> list[dict]:
    """The finished per-sample scores of this setup and θ_o (seed): one entry per column name.

    Column names: the score's name, ``@ratio`` for ratio-dependent scores (BLO), then ``k=v`` for each parameter
    that differs from the current defaults (the setup's BLO parameters for BLO). The newest computation of a
    column wins. Class-level scores are listed with ``per_sample=False``.
    """
    orun = pipe.find_original(seed)
    if orun is None:
        return []
    digest = run_digest(orun)
    out = []
    for r in pipe.store.list_runs("score", "done"):
        c = r["config"]
        if c.get("original") != digest or setup_key(c) != pipe.setup_key:
            continue
        try:
            spec = get_score(c.get("score"))
        except ForgetsetError:
            continue  # a score whose module is gone
        params = c.get("params") or {}
        per_sample = params.get("granularity", "sample") != "class"
        ratio = c.get("ratio") if spec.depends_on_ratio and per_sample else None
        defaults = pipe.blo_params if spec.name == "blo" else spec.defaults
        nondefault = {k: v for k, v in params.items() if defaults.get(k) != v}
        col = spec.name + (f"@{ratio:g}" if ratio is not None else "")
        if not per_sample:
            col = f"{spec.name}[class k={params.get('n_classes')}]"
        elif nondefault:
            col += " " + ",".join(f"{k}={v}" for k, v in sorted(nondefault.items()))
        label = spec.label
        if spec.name == "memorization" and params.get("n_shadow"):  # its resolution next to it (2/S)
            label = f"{label} — {resolution_text(int(params['n_shadow']))}"
        out.append({"name": spec.name, "label": label, "ratio": ratio, "params": params, "key": r["key"],
                    "column": col, "per_sample": per_sample, "hard_end": spec.hard_end,
                    "finished": r.get("finished"), "time_s": (r.get("timings") or {}).get("score_s"), "run": r})
    by_col: dict[str, dict] = {}
    for e in sorted(out, key=lambda e: e["finished"] or 0):
        by_col[e["column"]] = e
    return sorted(by_col.values(), key=lambda e: (e["name"], e["ratio"] or 0, e["column"]))


def load_score(store: Store, run: dict) -> tuple[np.ndarray, dict] | None:
    """(values, extras) of a finished score run (None if its artifact is corrupt)."""
    try:
        arrays, meta = store.decode("arrays", run)
    except CorruptArtifact:
        return None
    return arrays["values"], meta.get("extras", {})


def sample_frame(pipe, seed: int, entries: list[dict] | None = None) -> pd.DataFrame:
    """One row per training sample: index, label, θ_o's prediction/confidence/loss and every cached score."""
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
        loaded = load_score(pipe.store, e["run"])
        if loaded is not None and len(loaded[0]) == ds.n_train:
            df[e["column"]] = loaded[0].astype(float)
    for k, v in ds.attributes.items():
        if len(v) == ds.n_train:
            df[k] = v
    return df


def original_predictions(pipe, seed: int) -> dict[str, np.ndarray] | None:
    """θ_o's stored per-sample predictions (made when θ_o is trained or imported); None if there are none."""
    orun = pipe.find_original(seed)
    if orun is None:
        return None
    got = pipe.store.lookup("predictions", pipe.predictions_config(orun, seed), "arrays")
    return None if got is None else got[0]


def hard_ranks(values: np.ndarray, hard_end: str, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Rank of every sample from the hard-to-forget end of a score (1 = hardest): the project's one rank rule.

    ``hard_end`` says which end is hard ("low" for loss, "high" for BLO weights). Ties (e.g. BLO weights at the
    cap 1) are broken by ``tiebreak`` (θ_o's loss: lower = harder, Chen et al.), then by sample index.
    """
    v = np.asarray(values, dtype=np.float64)
    primary = v if hard_end == "low" else -v
    keys = [np.arange(len(v))]
    if tiebreak is not None:
        keys.insert(0, np.asarray(tiebreak, dtype=np.float64))
    order = np.lexsort(tuple(reversed([primary] + keys)))  # lexsort: last key is primary
    ranks = np.empty(len(v), dtype=np.int64)
    ranks[order] = np.arange(1, len(v) + 1)
    return ranks


def hardness_order(df: pd.DataFrame, column: str, hard_end: str, tiebreak: str | None = "loss") -> np.ndarray:
    """Row positions of ``df`` from hardest to easiest to forget by ``column`` (see :func:`hard_ranks`)."""
    tb = df[tiebreak].to_numpy() if tiebreak and tiebreak in df and tiebreak != column else None
    ranks = hard_ranks(df[column].to_numpy(), hard_end, tb)
    return np.argsort(ranks, kind="stable")


def hardest(df: pd.DataFrame, column: str, hard_end: str, n: int, easiest: bool = False,
            tiebreak: str | None = "loss") -> pd.DataFrame:
    """The n hardest (or easiest) samples by ``column`` (see :func:`hardness_order`)."""
    order = hardness_order(df, column, hard_end, tiebreak)
    order = order[::-1] if easiest else order
    return df.reset_index(drop=True).iloc[order[:n]]


def sample_details(df: pd.DataFrame, idx: int, score_cols: list[str], hard_ends: dict[str, str]) -> dict:
    """A sample's row plus, per score, its value, percentile and hard-to-forget rank (1 = hardest)."""
    d = df.reset_index(drop=True)
    pos = int(np.flatnonzero(d["index"].to_numpy() == idx)[0])
    row = d.iloc[pos]
    out = {"index": int(idx), "label": int(row["label"]), "class": row["class"]}
    if "pred" in d:
        out.update(pred=int(row["pred"]), p_y=float(row["p_y"]))
    tb = d["loss"].to_numpy() if "loss" in d else None
    scores = []
    for c in score_cols:
        if c not in d:
            continue
        v = d[c].to_numpy()
        x = float(v[pos])
        rank = int(hard_ranks(v, hard_ends.get(c, "low"), tb if c != "loss" else None)[pos])
        scores.append({"score": c, "value": x, "percentile": float(100 * (v <= x).mean()),
                       "hard-to-forget rank": f"{rank} / {len(v)}", "hard end": hard_ends.get(c, "")})
    out["scores"] = pd.DataFrame(scores)
    return out


def trace_frame(extras: dict) -> pd.DataFrame:
    """BLO convergence trace (one row per upper iteration)."""
    return pd.DataFrame(extras.get("trace") or [])


def preferred_column(columns: list[str], prefer: tuple[str, ...] = ("blo@0.1",), prefix: str = "blo") -> int:
    """Index of the column a view should start with (e.g. the 10% BLO weight)."""
    for p in prefer:
        if p in columns:
            return columns.index(p)
    return next((i for i, c in enumerate(columns) if c.startswith(prefix)), 0)
