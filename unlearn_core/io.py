"""The bottom layer: atomic file writes and content digests (imports nothing else of forgetset).

Everything that writes a file the project keeps (store artifacts, decoded data sets, reports, tables) goes through
:func:`atomic_write_bytes`, so a killed process never leaves a half-written file under the final name. Every
content hash of arrays (a model's weights, a run's array artifact, an index set) goes through :func:`arrays_digest`.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch

# Headers hashed before each array's bytes by :func:`arrays_digest`. They are part of stored keys and artifact
# records (changing one would orphan every cached result keyed by it), so each caller keeps its own, fixed.
NAMED_HEADER = "{name}|{dtype}|{shape}|"  # a run's array artifact (``content`` of its artifact record)
WEIGHTS_HEADER = "{name}|{dtype}|{shape}"  # a model's weights and buffers (:func:`weights_digest`)
ARRAY_HEADER = "{dtype}{shape}"  # one unnamed array (:func:`array_digest`)


def config_key(config: dict) -> str:
    """Stable hash of a JSON-serialisable configuration (key order does not matter): the key of every cached run."""
    blob = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write via a temporary file in the same folder + fsync + rename (atomic on POSIX)."""
    path = Path(path)
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


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded (UTF-8 by default)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike, obj: Any, **dumps_kwargs: Any) -> None:
    """:func:`atomic_write_bytes` of ``json.dumps(obj, **dumps_kwargs)`` (UTF-8)."""
    atomic_write_bytes(path, json.dumps(obj, **dumps_kwargs).encode())


def sha256_chunks(chunks: Iterable[bytes]) -> str:
    """SHA-256 (hex) of byte strings fed in order (the same as of their concatenation): the one hashing routine
    of file contents, arrays, rows and data sets (configurations are keyed by :func:`config_key`)."""
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """SHA-256 (hex) of a byte string: the checksum of a stored artifact file."""
    return sha256_chunks((data,))


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB chunks."""
    with open(path, "rb") as f:
        return sha256_chunks(iter(lambda: f.read(1 << 20), b""))


def as_numpy(a: np.ndarray | torch.Tensor | Any) -> np.ndarray:
    """A C-contiguous numpy array of ``a`` (a tensor is detached and moved to the CPU first)."""
    return np.ascontiguousarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a))


def arrays_digest(items: Iterable[tuple[str, np.ndarray]], header: str = NAMED_HEADER) -> str:
    """SHA-256 (hex) of named arrays, in the order given: for each, ``header`` (formatted with its name, dtype
    string and shape) then its raw bytes. The one content hash of arrays in forgetset; callers sort the names."""
    def chunks() -> Iterable[bytes]:
        for name, arr in items:
            arr = as_numpy(arr)
            yield header.format(name=name, dtype=arr.dtype.str, shape=arr.shape).encode()
            yield arr.tobytes()

    return sha256_chunks(chunks())


def weights_digest(model: torch.nn.Module) -> str:
    """Content hash of a model's weights and buffers (names, dtypes, shapes, values): names a θ_o whatever the
    artifact format it was stored in."""
    return arrays_digest(sorted(model.state_dict().items()), WEIGHTS_HEADER)[:24]


def array_digest(a: np.ndarray | torch.Tensor) -> str:
    """Content hash of an array (dtype, shape and bytes): keys of results derived from it."""
    return arrays_digest([("", a)], ARRAY_HEADER)[:24]


def named_arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """Content hash of a dict of arrays sorted by name (the ``content`` record of a run's array artifact)."""
    return arrays_digest(((k, arrays[k]) for k in sorted(arrays)), NAMED_HEADER)
