"""Stored forget sets of a setup, their names, overlaps and contents."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import setup_key
from ..selectors import overlap, selector_label
from ..store import CorruptArtifact, Store

def forget_sets(pipe) -> pd.DataFrame:
    """Finished forget sets of this setup (θ_o-independent ones and those of the current θ_o's), one row each."""
    rows = []
    for r in pipe.store.list_runs("forget_set", "done"):
        c = r["config"]
        if setup_key(c) != pipe.setup_key:
            continue
        rows.append({"selector": c["selector"], "ratio": c.get("ratio"), "seed": int(c["seed"]),
                     "size": (r.get("metrics") or {}).get("size"), "key": r["key"], "created": r["created"],
                     "run": r})
    if not rows:
        return pd.DataFrame(columns=["name", "selector", "ratio", "seed", "size", "key", "created", "run"])
    df = pd.DataFrame(rows)
    # A set whose scores were recomputed (another θ_o or BLO) keeps only its newest version.
    df["_r"] = df["ratio"].fillna(-1.0)
    df = df.sort_values("created").drop_duplicates(["selector", "_r", "seed"], keep="last").drop(columns="_r")
    df["name"] = [forget_set_name(s, r, sd) for s, r, sd in zip(df["selector"], df["ratio"], df["seed"])]
    first = {s: i for i, s in enumerate(["random", "worst", "easiest"])}
    df["_o"] = [first.get(s, 99) for s in df["selector"]]
    df = df.sort_values(["seed", "ratio", "_o", "created"], na_position="last").reset_index(drop=True)
    return df[["name", "selector", "ratio", "seed", "size", "key", "created", "run"]]


def forget_idx_of(store: Store, key: str) -> np.ndarray | None:
    """The indices of a finished forget-set run (None if missing or corrupt)."""
    run = store.done_run(key)
    if run is None or run["kind"] != "forget_set":
        return None
    try:
        arrays, _ = store.decode("arrays", run)
    except CorruptArtifact:
        return None
    return arrays["forget_idx"].astype(np.int64)


def forget_set_name(selector: str, ratio: float | None, seed: int) -> str:
    """'worst-case 10% · seed 0' style name of a forget set (how users see it)."""
    what = selector_label(selector)
    if ratio is None or ratio != ratio:
        return f"{what} · seed {seed}"
    return f"{what} {100 * ratio:g}% · seed {seed}"


def overlap_matrix(sets: dict[str, np.ndarray]) -> pd.DataFrame:
    """|A ∩ B| / min(|A|, |B|) for every pair of sets."""
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
