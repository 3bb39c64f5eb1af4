"""The bottom layer: atomic file writes and content digests (no other project module is imported here).

Every module that writes a file or names content by a hash uses these, so the store, the data loaders, the kernels
and the scores agree on one definition of each.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch


def config_key(config: dict) -> str:
    """Stable hash of a JSON-serialisable configuration (key order does not matter): the key of every cached run."""
    blob = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


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


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_digest(model: torch.nn.Module) -> str:
    """Content hash of a model's weights and buffers (names, dtypes, shapes, values): names a θ_o whatever the
    artifact format it was stored in."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        a = np.ascontiguousarray(t.detach().cpu().numpy())
        h.update(f"{name}|{a.dtype.str}|{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]
