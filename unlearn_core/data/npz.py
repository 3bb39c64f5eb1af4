"""``npz:PATH`` data sets: a numpy archive of uint8 images and integer labels, checked from its headers before
anything is inflated, never unpickled."""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataNotFoundError
from ..limits import check_data_bytes
from .arrays import from_numpy
from .dataset import ImageDataset

NPZ_FORMAT = ("an .npz archive written by numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...) "
              "with uint8 images (N, H, W[, C]) and integer labels")


def _npz_error(path: str, err: BaseException) -> ConfigError:
    """What went wrong reading an npz, in words a user can act on (never the advice to unpickle anything)."""
    text = str(err)
    if isinstance(err, ValueError) and ("pickle" in text.lower() or "object arrays" in text.lower()):
        what = ("holds Python objects (dtype=object, e.g. ragged lists or mixed types), which are never loaded: "
                "unpickling can run arbitrary code")
    elif isinstance(err, (zipfile.BadZipFile, EOFError, zlib.error)) or "zip" in text.lower():
        what = f"is truncated or corrupt ({type(err).__name__}: {text[:120]})"
    elif isinstance(err, MemoryError):
        what = "is too large to load into memory"
    else:
        what = f"could not be read ({type(err).__name__}: {text[:160]})"
    return ConfigError(f"npz file '{path}' {what}. It must be {NPZ_FORMAT}.")


NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test", "classes")


def npz_headers(path: str | os.PathLike) -> dict[str, tuple[tuple[int, ...], np.dtype, int]]:
    """{array name: (shape, dtype, bytes declared by the zip entry)} of an npz, read from the .npy headers inside
    the zip (only the first bytes of each entry are inflated). Arrays other than :data:`NPZ_ARRAYS` are skipped."""
    from numpy.lib import format as npy

    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if name not in NPZ_ARRAYS:
                continue
            with zf.open(info) as f:
                version = npy.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = npy.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = npy.read_array_header_2_0(f)
                else:
                    shape, _, dtype = npy._read_array_header(f, version)  # (3, 0): utf-8 field names
            out[name] = (tuple(int(d) for d in shape), np.dtype(dtype), int(info.file_size))
    return out


def _check_npz_headers(path: str, p: Path) -> None:
    """Shapes, dtypes and sizes of an npz's arrays from its headers, before anything is inflated: Python objects
    are refused, images must be uint8, and the arrays must fit the data limit (``limits.data_limit_bytes``)."""
    headers = npz_headers(p)
    total = 0
    for name, (shape, dtype, declared) in headers.items():
        if dtype.hasobject:
            raise ValueError("Object arrays cannot be loaded when allow_pickle=False")  # -> the pickle message
        n_bytes = max(int(np.prod(shape, dtype=np.float64)) * dtype.itemsize, declared)
        total += n_bytes
        if name.startswith("x_"):
            if dtype != np.uint8:
                raise ConfigError(f"npz file '{path}': {name} must hold uint8 images (pixel values 0..255), got "
                                  f"dtype {dtype} (read from the file's header, nothing loaded). Floats in [0, 1]: "
                                  f"save (x * 255).round().astype(np.uint8); values 0..255: save "
                                  f"x.clip(0, 255).round().astype(np.uint8).")
            if len(shape) in (3, 4):
                n, rest = shape[0], "x".join(str(d) for d in shape[1:])
                check_data_bytes(f"npz file '{path}': {name}", n_bytes,
                                 f"{n} images x {rest} pixel values, read from the file's header")
        check_data_bytes(f"npz file '{path}': {name}", n_bytes, f"shape {shape}, dtype {dtype}")
    check_data_bytes(f"npz file '{path}'", total, "all its arrays together")


def load_npz(path: str) -> ImageDataset:
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"'{path}' is a folder, not an npz file. For a folder of images use --dataset folder:{path}.")
    if not p.is_file():
        raise DataNotFoundError(f"npz file '{path}' does not exist.")
    with open(p, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise ConfigError(f"'{path}' is a single .npy array, not an .npz archive. It must be {NPZ_FORMAT}.")
    if magic[:2] != b"PK":
        raise ConfigError(f"'{path}' is not an .npz archive (it does not start like a zip file). It must be "
                          f"{NPZ_FORMAT}.")
    try:
        _check_npz_headers(path, p)
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z.files]
            if missing:
                raise ConfigError(f"npz file '{path}' lacks the arrays {missing} (it has {z.files[:8]}). It must be "
                                  f"{NPZ_FORMAT}; optionally also classes (names).")
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
            classes = z["classes"] if "classes" in z.files else None
    except ConfigError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, MemoryError) as err:
        raise _npz_error(path, err) from None
    except Exception as err:  # noqa: BLE001 - a damaged header can make numpy raise anything (SyntaxError, ...)
        raise _npz_error(path, err) from None
    if classes is not None and (classes.ndim != 1 or classes.dtype.kind not in "USiu"):
        raise ConfigError(f"npz file '{path}': classes must be a 1-D array of names (strings), got dtype "
                          f"{classes.dtype} and shape {classes.shape}.")
    return from_numpy(f"npz:{p.name}", arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                       None if classes is None else [str(c) for c in classes], description=str(p))
