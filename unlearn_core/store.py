"""Persistence: an embedded SQLite database of runs plus an artifact cache (weights, scores, sets) on disk.

Everything is keyed by a hash of the full configuration (:func:`config_key`), so a repeated request is served
from the cache. Writes are atomic: files are written to a temporary name and renamed into place, and each
result row is one transaction. A run killed half-way leaves at most a row with status ``running`` (shown as
interrupted) and stray ``*.tmp`` files, never something that looks complete.

Location: ``Store(root)``; default ``$FORGETSET_CACHE_DIR`` or ``./cache``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .config import config_key  # noqa: F401 - re-exported for old callers
from .errors import CheckpointError

SCHEMA_VERSION = 1


def default_cache_dir() -> Path:
    return Path(os.environ.get("FORGETSET_CACHE_DIR", "cache"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder + fsync + rename (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Store:
    """SQLite run table + artifact folder under one root."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "forgetset.db"
        self.artifact_dir = self.root / "artifacts"
        self.artifact_dir.mkdir(exist_ok=True)
        with self.connect() as con:
            con.executescript(
                """
                CREATE TABLE IF NOT EXISTS runs (
                    key TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    status TEXT NOT NULL,
                    config TEXT NOT NULL,
                    metrics TEXT,
                    timings TEXT,
                    error TEXT,
                    created REAL NOT NULL,
                    finished REAL
                );
                CREATE INDEX IF NOT EXISTS runs_kind ON runs(kind, status);
                CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
                """
            )
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    # ------------------------------------------------------------------ database
    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection (safe to use from any thread); commits on success, rolls back on error."""
        con = sqlite3.connect(self.db_path, timeout=30.0)
        con.row_factory = sqlite3.Row
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=30000")
            yield con
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()

    def start_run(self, key: str, kind: str, config: dict) -> None:
        """Record that a run has started (status 'running'; it is not a result)."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO runs(key, kind, status, config, created) VALUES (?, ?, 'running', ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET status='running', error=NULL, created=excluded.created",
                (key, kind, json.dumps(config, sort_keys=True, default=str), time.time()),
            )

    def finish_run(self, key: str, kind: str, config: dict, metrics: dict, timings: dict | None = None) -> None:
        """Store a complete result in one transaction (status 'done')."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO runs(key, kind, status, config, metrics, timings, created, finished) "
                "VALUES (?, ?, 'done', ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET status='done', "
                "metrics=excluded.metrics, timings=excluded.timings, finished=excluded.finished, error=NULL",
                (key, kind, json.dumps(config, sort_keys=True, default=str), json.dumps(metrics, default=float),
                 json.dumps(timings or {}), time.time(), time.time()),
            )

    def fail_run(self, key: str, error: str, status: str = "failed") -> None:
        with self.connect() as con:
            con.execute("UPDATE runs SET status=?, error=?, finished=? WHERE key=?", (status, error, time.time(), key))

    def get_run(self, key: str) -> dict | None:
        with self.connect() as con:
            row = con.execute("SELECT * FROM runs WHERE key=?", (key,)).fetchone()
        return _row_to_dict(row) if row else None

    def done_run(self, key: str) -> dict | None:
        run = self.get_run(key)
        return run if run and run["status"] == "done" else None

    def list_runs(self, kind: str | None = None, status: str | None = None) -> list[dict]:
        q, args = "SELECT * FROM runs WHERE 1=1", []
        if kind:
            q += " AND kind=?"
            args.append(kind)
        if status:
            q += " AND status=?"
            args.append(status)
        with self.connect() as con:
            rows = con.execute(q + " ORDER BY created", args).fetchall()
        return [_row_to_dict(r) for r in rows]

    def delete_run(self, key: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM runs WHERE key=?", (key,))

    def mark_interrupted(self) -> int:
        """Runs left 'running' by a dead process become 'interrupted' (call at start-up)."""
        with self.connect() as con:
            cur = con.execute("UPDATE runs SET status='interrupted' WHERE status='running'")
            return cur.rowcount

    # ------------------------------------------------------------------ artifacts
    def artifact_path(self, kind: str, key: str, ext: str) -> Path:
        return self.artifact_dir / kind / f"{key}.{ext}"

    def has_artifact(self, kind: str, key: str, ext: str) -> bool:
        return self.artifact_path(kind, key, ext).is_file()

    def save_json(self, kind: str, key: str, obj: Any) -> Path:
        path = self.artifact_path(kind, key, "json")
        atomic_write_bytes(path, json.dumps(obj, default=_json_default, sort_keys=True).encode())
        return path

    def load_json(self, kind: str, key: str) -> Any | None:
        path = self.artifact_path(kind, key, "json")
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise CheckpointError(f"Cached file {path} is corrupt ({err}); delete it to recompute.") from err

    def save_arrays(self, kind: str, key: str, arrays: dict[str, np.ndarray | torch.Tensor],
                    meta: dict | None = None) -> Path:
        """Save named arrays (scores, indices) as safetensors, atomically."""
        from safetensors.numpy import save

        data = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
                for k, v in arrays.items()}
        data = {k: np.ascontiguousarray(v) for k, v in data.items()}
        path = self.artifact_path(kind, key, "safetensors")
        atomic_write_bytes(path, save(data, metadata={"meta": json.dumps(meta or {}, default=_json_default)}))
        return path

    def load_arrays(self, kind: str, key: str) -> tuple[dict[str, np.ndarray], dict] | None:
        path = self.artifact_path(kind, key, "safetensors")
        if not path.is_file():
            return None
        return load_safetensors_numpy(path)

    def save_model(self, kind: str, key: str, model: torch.nn.Module, meta: dict) -> Path:
        """Save a state dict with identifying metadata (model name, data set fingerprint)."""
        path = self.artifact_path(kind, key, "safetensors")
        save_state_dict(path, model.state_dict(), meta)
        return path

    def model_path(self, kind: str, key: str) -> Path:
        return self.artifact_path(kind, key, "safetensors")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.detach().cpu().tolist()
    return str(o)


def _row_to_dict(row: sqlite3.Row) -> dict:
    d = dict(row)
    for k in ("config", "metrics", "timings"):
        if d.get(k):
            d[k] = json.loads(d[k])
    return d


def save_state_dict(path: Path, state: dict[str, torch.Tensor], meta: dict) -> None:
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    blob = save(tensors, metadata={"forgetset": json.dumps(meta, sort_keys=True, default=str)})
    atomic_write_bytes(Path(path), blob)


def load_safetensors_numpy(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    from safetensors import safe_open

    try:
        out = {}
        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get("meta", "{}"))
            for k in f.keys():
                out[k] = f.get_tensor(k)
        return out, meta
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"Cached file {path} is corrupt or unreadable ({err}); delete it to recompute.") from err


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a state dict from ``.safetensors`` or a torch file, never unpickling arbitrary objects.

    Returns (state_dict, metadata). Raises :class:`CheckpointError` for missing, corrupt or non-state-dict files.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint '{path}' does not exist.")
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {}).get("forgetset", "{}"))
                state = {k: f.get_tensor(k) for k in f.keys()}
            return state, meta
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as err:
        raise CheckpointError(f"Checkpoint '{path}' is corrupt or not a weights file ({type(err).__name__}: "
                              f"{str(err)[:200]}).") from err
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"Checkpoint '{path}' does not hold a state dict of tensors.")
    return obj, {}


def load_weights_into(model: torch.nn.Module, path: str | os.PathLike, expect: dict | None = None) -> torch.nn.Module:
    """Load a checkpoint into ``model``; refuse a checkpoint made for another model or data set.

    ``expect`` holds metadata that must match (e.g. ``{"model": "mlp", "dataset": fingerprint}``) when the
    checkpoint carries such metadata; the state dict's keys and shapes must always match the model.
    """
    state, meta = read_checkpoint(path)
    for k, v in (expect or {}).items():
        if k in meta and meta[k] != v:
            raise CheckpointError(f"Checkpoint '{path}' was made for {k}={meta[k]!r}, not {v!r}.")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"Checkpoint '{path}' does not fit this model: {len(missing)} missing, {len(unexpected)} unexpected "
            f"and {len(wrong)} mis-shaped tensors (e.g. {(missing + unexpected + wrong)[:3]}). It was probably "
            f"trained for another model or data set.")
    model.load_state_dict(state)
    return model
