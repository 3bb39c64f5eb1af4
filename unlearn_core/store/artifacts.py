"""Artifact files and their codec: where a run's artifact lives, atomic checksummed writes, verified reads, and
the formats (``arrays``, ``model``, ``json``, ``table``) a value is stored in."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..io import as_numpy, atomic_write_bytes, named_arrays_digest, sha256_bytes
from ..limits import fmt_bytes
from .circumstances import CorruptArtifact, StoreUnavailable, circumstance_message, db_circumstance
from .records import json_default


def _safetensors_metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    return header.get("__metadata__") or {}


def state_dict_bytes(state: dict[str, torch.Tensor], meta: dict) -> bytes:
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    return save(tensors, metadata={"forgetset": json.dumps(meta, sort_keys=True, default=str)})


class ArtifactFiles:
    """The artifact folder of a :class:`~unlearn_core.store.Store` (a mixin of it: uses ``root`` and
    ``artifact_dir``)."""

    def artifact_path(self, kind: str, key: str, ext: str) -> Path:
        return self.artifact_dir / kind / f"{key}.{ext}"

    def _write(self, path: Path, data: bytes) -> dict:
        try:
            atomic_write_bytes(path, data)
        except OSError as err:
            kind = db_circumstance(err)
            if kind is None:
                raise
            raise StoreUnavailable(f"cannot write {path.name} ({fmt_bytes(len(data))}): "
                                   + circumstance_message(kind, self.root, err, "write")) from None
        return {"file": str(path.relative_to(self.root)), "sha256": sha256_bytes(data), "bytes": len(data)}

    def _read_verified(self, run: dict, name: str = "main") -> bytes:
        rec = (run.get("artifacts") or {}).get(name)
        if not rec:
            raise CorruptArtifact(f"run {run['key']} has no '{name}' artifact record")
        path = self.root / rec["file"]
        try:
            data = path.read_bytes()
        except OSError as err:
            raise CorruptArtifact(f"{path}: {err.strerror or err}") from None
        if len(data) != rec.get("bytes") or sha256_bytes(data) != rec.get("sha256"):
            raise CorruptArtifact(f"{path} does not match its checksum (truncated or modified)")
        return data

    def encode(self, fmt: str, kind: str, key: str, value: Any, meta: dict) -> dict:
        """Write ``value`` as the run's main artifact; returns the artifact records for the row."""
        if fmt == "arrays":
            from safetensors.numpy import save

            arrays = {k: as_numpy(v) for k, v in value.items()}
            blob = save(arrays, metadata={"meta": json.dumps(meta or {}, default=json_default)})
            return {"main": {**self._write(self.artifact_path(kind, key, "safetensors"), blob),
                             "content": named_arrays_digest(arrays)}}
        if fmt == "model":
            blob = state_dict_bytes(value.state_dict() if isinstance(value, torch.nn.Module) else value, meta)
            return {"main": self._write(self.artifact_path(kind, key, "safetensors"), blob)}
        if fmt in ("json", "table"):
            obj = value
            if fmt == "table":
                obj = {"columns": [str(c) for c in value.columns], "records": value.to_dict("records")}
            blob = json.dumps({"meta": meta or {}, "value": obj}, default=json_default, sort_keys=True).encode()
            return {"main": self._write(self.artifact_path(kind, key, "json"), blob)}
        raise ValueError(f"unknown artifact format {fmt!r}")

    def decode(self, fmt: str, run: dict) -> tuple[Any, dict]:
        """(payload, meta) of a finished run's main artifact, verified; raises :class:`CorruptArtifact`."""
        data = self._read_verified(run)
        try:
            if fmt == "arrays":
                from safetensors.numpy import load

                arrays = load(data)
                meta = json.loads(_safetensors_metadata(data).get("meta", "{}"))
                return arrays, meta
            if fmt == "model":
                from safetensors.torch import load

                state = load(data)
                return state, json.loads(_safetensors_metadata(data).get("forgetset", "{}"))
            if fmt in ("json", "table"):
                obj = json.loads(data)
                value = obj["value"]
                if fmt == "table":
                    import pandas as pd

                    value = pd.DataFrame(value["records"], columns=value["columns"])
                return value, obj.get("meta", {})
        except CorruptArtifact:
            raise
        except Exception as err:  # noqa: BLE001 - any decoding failure means the artifact cannot be trusted
            raise CorruptArtifact(f"artifact of run {run['key']} cannot be decoded ({type(err).__name__}: {err})") \
                from None
        raise ValueError(f"unknown artifact format {fmt!r}")
