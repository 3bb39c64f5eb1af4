"""Weights files from outside the store (imported θ_o, exported models): reading a ``.safetensors`` or torch
state dict safely (never unpickling objects), checking the weights, loading them into a model."""
from __future__ import annotations

import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..io import atomic_write_bytes
from ..limits import data_limit_bytes, data_limit_text, fmt_bytes
from .artifacts import state_dict_bytes


def save_state_dict(path: Path, state: dict[str, torch.Tensor], meta: dict) -> None:
    atomic_write_bytes(Path(path), state_dict_bytes(state, meta))


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a state dict from ``.safetensors`` or a torch file, never unpickling arbitrary objects.

    Returns (state_dict, metadata). Raises :class:`CheckpointError` for missing, oversized, corrupt or
    non-state-dict files, in forgetset's own words: library warnings are silenced and their texts (e.g. torch's
    advice to retry with ``weights_only=False``, which would run the file's code) are never passed on.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"Checkpoint '{path}' is a folder; give the weights file (.safetensors or .pt).")
    if not path.is_file():
        raise CheckpointError(f"Checkpoint '{path}' does not exist (or is not a regular file).")
    size = path.stat().st_size
    if size > data_limit_bytes():
        # Both formats store tensors uncompressed, so the file's size bounds what loading it allocates.
        raise CheckpointError(f"Checkpoint '{path}' is {fmt_bytes(size)}; {data_limit_text()}.")
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # By content, not by name: a safetensors file starts with an 8-byte header length and a JSON header.
            if path.suffix == ".safetensors" or (len(head) == 9 and head[8:9] == b"{"):
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as f:
                    meta = json.loads((f.metadata() or {}).get("forgetset", "{}"))
                    state = {k: f.get_tensor(k) for k in f.keys()}
                if not isinstance(meta, dict):
                    raise CheckpointError(f"Checkpoint '{path}' carries unreadable forgetset metadata.")
                return state, meta
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as err:  # noqa: BLE001 - torch/safetensors raise many types for corrupt files
        raise CheckpointError(_checkpoint_problem(path, err)) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"Checkpoint '{path}' does not hold a state dict of tensors.")
    return obj, {}


def _checkpoint_problem(path: Path, err: BaseException) -> str:
    """Why a checkpoint could not be read, in forgetset's words (the library's text is not repeated: torch's
    names its site-packages paths and advises loading with ``weights_only=False``, which runs the file's code)."""
    text = str(err)
    if isinstance(err, pickle.UnpicklingError) and ("weights only" in text.lower() or "weights_only" in text):
        return (f"Checkpoint '{path}' holds Python objects, not just tensors (e.g. a whole pickled model or "
                f"optimizer). forgetset reads only state dicts of tensors and never unpickles objects, because that "
                f"can run code from the file. Save the weights with torch.save(model.state_dict(), path) or "
                f"safetensors.torch.save_file, and import that file.")
    if isinstance(err, (zipfile.BadZipFile, EOFError, pickle.UnpicklingError)) or "zip" in text.lower():
        what = "truncated or corrupt"
    elif isinstance(err, MemoryError):
        what = "too large to load into memory"
    else:
        what = "not a weights file forgetset can read"
    return (f"Checkpoint '{path}' is {what} ({type(err).__name__}). Give a .safetensors file or a .pt file saved "
            f"with torch.save(model.state_dict(), path).")


def check_weights(state: dict[str, torch.Tensor], where: str, max_abs: float = 1e6) -> None:
    """Refuse weights that cannot be a trained model: non-float parameters, NaN/inf or absurd magnitudes."""
    for k, v in state.items():
        if k.endswith("num_batches_tracked"):
            continue
        if not torch.is_floating_point(v):
            raise CheckpointError(f"{where}: tensor '{k}' is {v.dtype}, not floating point; not a model's weights.")
        if not torch.isfinite(v).all():
            raise CheckpointError(f"{where}: tensor '{k}' holds NaN or infinite values.")
        if v.numel() and float(v.abs().max()) > max_abs:
            raise CheckpointError(f"{where}: tensor '{k}' has values above {max_abs:g} in magnitude; refusing it.")


def load_state_into(model: torch.nn.Module, state: dict[str, torch.Tensor], meta: dict, where: str,
                    expect: dict | None = None) -> torch.nn.Module:
    """Load ``state`` into ``model``; refuse weights made for another model or data set, or non-finite ones."""
    for k, v in (expect or {}).items():
        if k in meta and meta[k] != v:
            raise CheckpointError(f"{where} was made for {k}={meta[k]!r}, not {v!r}.")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{where} does not fit this model: {len(missing)} missing, {len(unexpected)} unexpected and "
            f"{len(wrong)} mis-shaped tensors (e.g. {(missing + unexpected + wrong)[:3]}). It was probably made "
            f"for another model or data set.")
    check_weights(state, where)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model


def load_weights_into(model: torch.nn.Module, path: str | os.PathLike, expect: dict | None = None) -> torch.nn.Module:
    """Load a checkpoint file into ``model`` (see :func:`load_state_into`)."""
    state, meta = read_checkpoint(path)
    return load_state_into(model, state, meta, f"Checkpoint '{path}'", expect)
