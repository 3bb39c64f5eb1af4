"""What a run row holds and how it is read: the ``Computed`` / ``Cached`` values of :meth:`Store.cached`, the run's
content digest, the row checksum and the row decoder (a damaged row reads as ``corrupt``)."""
from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import CancelledError
from ..io import sha256_chunks

RUN_STATES = ("running", "done", "failed", "cancelled", "interrupted", "legacy", "corrupt")


@dataclass
class Computed:
    """What a step's ``compute()`` returns to :meth:`Store.cached`."""

    value: Any
    metrics: dict = field(default_factory=dict)  # small numbers stored in the row (shown in listings)
    timings: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # stored with the artifact (safetensors metadata / JSON)


@dataclass
class Cached:
    """What :meth:`Store.cached` returns: the value, whether it came from the cache, and the run row."""

    value: Any
    hit: bool
    run: dict
    meta: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.run["key"]

    @property
    def digest(self) -> str:
        """Content hash of the main artifact (the key part of everything derived from this result)."""
        return run_digest(self.run)


def run_digest(run: dict) -> str:
    """The content hash that keys everything derived from a finished run: for array artifacts the hash of the
    arrays alone (names, dtypes, shapes, bytes), so timings in their metadata never change a derived key; else
    the SHA-256 of the artifact file."""
    rec = (run.get("artifacts") or {}).get("main") or {}
    return (rec.get("content") or rec.get("sha256", ""))[:24]


_DIGEST_FIELDS = ("key", "kind", "status", "config", "metrics", "timings", "artifacts")


def row_digest(row: Any) -> str:
    """SHA-256 of what a finished run's row says (key, kind, status, configuration, metrics, timings, artifact
    records), in the stored text itself: any damaged cell changes it."""
    def chunks() -> Iterator[bytes]:
        for k in _DIGEST_FIELDS:
            v = row[k]
            yield b"\x00" if v is None else str(v).encode("utf-8", "surrogatepass")
            yield b"\x1f"

    return sha256_chunks(chunks())


def fail_status(err: BaseException) -> str:
    return "cancelled" if isinstance(err, (CancelledError, KeyboardInterrupt)) else "failed"


def finite_metrics(d: dict) -> dict:
    """NaN/inf become None in stored metrics (JSON has no NaN); readers treat None as missing."""
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        else:
            out[k] = v
    return out


def json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.detach().cpu().tolist()
    return str(o)


def row_to_dict(row: sqlite3.Row) -> dict:
    """A run row as a dict with its JSON decoded. A finished row whose checksum does not match (a damaged database
    cell) or whose JSON does not decode is reported as status ``corrupt``: never served, recomputed when needed."""
    d = dict(row)
    damaged = d.get("status") == "done" and d.get("digest") != row_digest(d)
    for k in ("config", "metrics", "timings", "artifacts"):
        if d.get(k):
            try:
                d[k] = json.loads(d[k])
            except (TypeError, ValueError):
                d[k] = {}
                damaged = damaged or d.get("status") == "done"
    if damaged:
        d["status"] = "corrupt"
        d["error"] = "its database row fails its checksum (damaged); it is recomputed when needed"
    d.pop("digest", None)
    return d
