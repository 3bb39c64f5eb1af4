"""Data sets by name: the built-in and torchvision loaders, ``npz:`` and ``folder:`` data, the per-process memo
keyed by the files' signature, and the default model per data set."""
from __future__ import annotations

import os
from typing import Callable, Iterator

from ..errors import ConfigError, unknown_name
from ..io import sha256_chunks
from .builtin import load_biased_digits, load_digits_dataset
from .dataset import ImageDataset
from .folder import load_folder
from .npz import load_npz
from .torchvision_sets import TORCHVISION_SETS, load_torchvision

DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "digits": lambda root=None, download=False: load_digits_dataset(),
    "biased_digits": lambda root=None, download=False: load_biased_digits(),
    **{n: (lambda n: lambda root=None, download=False: load_torchvision(n, root, download))(n)
       for n in TORCHVISION_SETS},
}

# Default model per data set family (see models.py).
DEFAULT_MODEL = {"digits": "mlp", "biased_digits": "mlp", "mnist": "cnn", "fashion_mnist": "cnn",
                 "cifar10": "resnet18", "cifar100": "resnet18", "svhn": "resnet18", "celeba": "resnet18", "tiny_imagenet": "resnet18"}

_CACHE: dict[tuple, ImageDataset] = {}


def source_signature(name: str) -> tuple:
    """What an ``npz:`` / ``folder:`` data set's files are now (resolved path, size, modification time and inode of
    every file), so a memo never serves data that was replaced under the same name; () for built-in data sets."""
    kind, _, path = name.partition(":")
    if kind not in ("npz", "folder") or not path:
        return ()
    try:
        if kind == "npz":
            st = os.stat(path)
            return (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)
        def lines() -> Iterator[bytes]:
            for dirpath, dirnames, fnames in os.walk(path, followlinks=True):
                dirnames.sort()
                for f in sorted(fnames):
                    full = os.path.join(dirpath, f)
                    try:
                        st = os.stat(full)
                    except OSError:
                        continue
                    yield f"{full}|{os.path.realpath(full)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}\n".encode()

        return (os.path.realpath(path), sha256_chunks(lines()))
    except OSError:
        return ()  # missing: the loader says so


def load_dataset(name: str, root: str | None = None, download: bool = False) -> ImageDataset:
    """Load a data set by name (see module docstring). Results are memoised per process, keyed by the files'
    signature (:func:`source_signature`) for npz / folder data, so a replaced file is loaded again."""
    if not name or not isinstance(name, str):
        raise ConfigError("A data set name is required, e.g. 'digits'.")
    key = (name, root, download, source_signature(name))
    if key in _CACHE:
        return _CACHE[key]
    for old in [k for k in _CACHE if k[:3] == key[:3]]:
        del _CACHE[old]  # an older version of the same files
    if name.startswith("npz:"):
        ds = load_npz(name[4:])
    elif name.startswith("folder:"):
        ds = load_folder(name[7:])
    elif name in DATASETS:
        ds = DATASETS[name](root=root, download=download)
    else:
        raise unknown_name("data set", name, list(DATASETS) + ["npz:PATH", "folder:PATH"])
    _CACHE[key] = ds
    return ds


def default_model_for(ds: ImageDataset) -> str:
    """A sensible model for the data set: MLP for tiny images, small CNN for 28x28 gray, ResNet-18 otherwise."""
    if ds.name in DEFAULT_MODEL:
        return DEFAULT_MODEL[ds.name]
    c, h, w = ds.input_shape
    if h * w <= 16 * 16:
        return "mlp"
    if c == 1:
        return "cnn"
    return "resnet18"


def family_of(ds: ImageDataset) -> str:
    """Data set family used to pick hyperparameter presets: 'small' (tiny images / MLP-scale) or 'image'."""
    c, h, w = ds.input_shape
    return "small" if h * w <= 16 * 16 else "image"
