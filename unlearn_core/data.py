"""Data sets by name, held in memory as uint8 image tensors with stable integer indices.

Every data set becomes an :class:`ImageDataset`: ``x_train``/``x_test`` are uint8 tensors in NCHW layout,
``y_*`` int64 labels. Sample ``i`` of the training set keeps index ``i`` everywhere (forget sets, scores and
the store all refer to these indices). Images are normalised per batch (``normalize``) so that a whole data set
can sit on the GPU as uint8 (4x smaller than float32).

Names: ``digits`` (default, ships with scikit-learn), ``biased_digits`` (digits with a spurious colour
attribute, see :func:`load_biased_digits`), ``cifar10``, ``cifar100``, ``mnist``, ``fashion_mnist``, ``svhn``,
``celeba`` (torchvision; local root or ``download=True``), ``tiny_imagenet`` (the official archive's layout),
``npz:PATH`` and ``folder:PATH``.
"""
from __future__ import annotations

import hashlib
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .errors import ConfigError, DataNotFoundError, unknown_name
from .io import atomic_write_bytes
from .limits import FOLDER_FILES_ENV, check_data_bytes, max_folder_files


@dataclass
class ImageDataset:
    """An in-memory image classification data set (train + test) with stable sample indices."""

    name: str
    x_train: torch.Tensor  # uint8 (N, C, H, W)
    y_train: torch.Tensor  # int64 (N,)
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]
    mean: torch.Tensor = field(default=None)  # (C,) in [0, 1] units
    std: torch.Tensor = field(default=None)
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # optional per-train-sample attributes
    description: str = ""

    def __post_init__(self) -> None:
        if self.mean is None or self.std is None:
            # Channel statistics of the training set, used for normalisation.
            xf = self.x_train.float().div_(255.0)
            self.mean = xf.mean(dim=(0, 2, 3))
            self.std = xf.std(dim=(0, 2, 3)).clamp_min(1e-3)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def to(self, device: torch.device) -> "ImageDataset":
        """Copy the tensors to ``device`` (on CUDA the whole data set lives on the GPU)."""
        if self.x_train.device == device:
            return self
        return ImageDataset(
            self.name, self.x_train.to(device), self.y_train.to(device), self.x_test.to(device),
            self.y_test.to(device), self.classes, self.mean.to(device), self.std.to(device),
            self.attributes, self.description,
        )

    def normalize(self, xb: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> float, standardised with the training-set channel mean/std."""
        mean = self.mean.to(xb.device).view(1, -1, 1, 1)
        std = self.std.to(xb.device).view(1, -1, 1, 1)
        return (xb.float().div_(255.0) - mean) / std

    def split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ConfigError(f"Unknown split '{split}'; use train or test.")

    def images_hwc(self, split: str, idx: np.ndarray | list[int]) -> np.ndarray:
        """uint8 images (n, H, W, C) on the CPU, for display."""
        x, _ = self.split(split)
        idx_t = torch.as_tensor(np.asarray(idx, dtype=np.int64), device=x.device)
        return x[idx_t].permute(0, 2, 3, 1).cpu().numpy()

    def fingerprint(self) -> str:
        """Content hash (labels + a strided sample of pixels): checkpoints made on other data are refused."""
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(str(tuple(self.x_train.shape)).encode())
        h.update(self.y_train.cpu().numpy().tobytes())
        h.update(self.x_train.reshape(-1)[:: max(1, self.x_train.numel() // 100_000)].cpu().numpy().tobytes())
        return h.hexdigest()[:16]


MAX_CLASSES = 10_000  # a stray label such as 100000 must be refused, not turned into a 100,001-class model
MAX_CHANNELS = 4
MAX_SIDE = 4096  # pixels per image side


def _uint8_hint(x: np.ndarray) -> str:
    """What to do with images that are not uint8."""
    if x.dtype.kind == "f":
        try:
            lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        except ValueError:
            lo, hi = 0.0, 0.0
        if 0 <= lo and hi <= 1:
            return " They look like floats in [0, 1]: save (x * 255).round().astype(np.uint8)."
        return " Save them as x.clip(0, 255).round().astype(np.uint8) (pixel values 0..255)."
    if x.dtype.kind in "iub":
        return " Save them as x.astype(np.uint8) if the values are 0..255."
    return " Save uint8 pixel arrays (0..255) with numpy.savez."


def _check_images(name: str, split: str, x: Any, layout: str) -> np.ndarray:
    """uint8 images in ``layout`` (NHWC, or NHW for grayscale; NCHW for SVHN's native layout), as NHWC."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ConfigError(f"{name}: x_{split} must hold uint8 images (pixel values 0..255), got dtype {x.dtype}."
                          + _uint8_hint(x))
    if x.ndim == 3:
        x = x[:, :, :, None] if layout == "NHWC" else x[:, None]
    if x.ndim != 4:
        raise ConfigError(f"{name}: x_{split} must have shape (N, H, W) or (N, H, W, C), got {x.shape}.")
    if layout == "NCHW":
        x = x.transpose(0, 2, 3, 1)
    n, h, w, c = x.shape
    if n == 0:
        raise ConfigError(f"{name}: x_{split} holds no images; the train and test sets must both be non-empty.")
    if h < 1 or w < 1:
        raise ConfigError(f"{name}: x_{split} has {h}x{w} images; images need at least 1x1 pixels.")
    if max(h, w) > MAX_SIDE:
        raise ConfigError(f"{name}: x_{split} has {h}x{w} images; the limit is {MAX_SIDE} pixels per side. "
                          f"Resize them first.")
    if not 1 <= c <= MAX_CHANNELS:
        raise ConfigError(f"{name}: x_{split} has {c} channels in its last axis; images must be channels-last "
                          f"(N, H, W, C) with C = 1 (gray) or 3 (RGB). If they are (N, C, H, W), save "
                          f"x.transpose(0, 2, 3, 1).")
    return x


def _check_labels(name: str, split: str, y: Any, n: int) -> np.ndarray:
    """Integer class ids (any integer-valued numeric dtype), one per image."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dtype.kind not in "biuf" or y.ndim != 1:
        raise ConfigError(f"{name}: y_{split} must be a 1-D array of integer class ids, got dtype {y.dtype} and "
                          f"shape {y.shape}.")
    if len(y) != n:
        raise ConfigError(f"{name}: {n} images but {len(y)} labels in the {split} set; give one label per image.")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            raise ConfigError(f"{name}: y_{split} must hold integer class ids (0, 1, 2, ...); it holds non-integer "
                              f"or non-finite values such as {y[~(np.isfinite(y) & (y == np.round(y)))][0]}.")
    if len(y) and (y.min() < 0 or y.max() >= MAX_CLASSES):
        bad = y[(y < 0) | (y >= MAX_CLASSES)][0]
        raise ConfigError(f"{name}: y_{split} holds the label {bad}; class ids must be between 0 and "
                          f"{MAX_CLASSES - 1} (0..K-1 for K classes).")
    return y.astype(np.int64)


def check_arrays(name: str, x_train: Any, y_train: Any, x_test: Any, y_test: Any, classes: list | None,
                 layout: str = "NHWC") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Validate a data set given as arrays; returns (x_train, y_train, x_test, y_test) with NHWC uint8 images and
    int64 labels, and the class names. Every problem is a :class:`ConfigError` saying how to fix the data."""
    xtr = _check_images(name, "train", x_train, layout)
    xte = _check_images(name, "test", x_test, layout)
    if xtr.shape[1:] != xte.shape[1:]:
        raise ConfigError(f"{name}: train images are {xtr.shape[1]}x{xtr.shape[2]}x{xtr.shape[3]} (HxWxC) but test "
                          f"images are {xte.shape[1]}x{xte.shape[2]}x{xte.shape[3]}; both must have the same size "
                          f"and channels.")
    ytr = _check_labels(name, "train", y_train, len(xtr))
    yte = _check_labels(name, "test", y_test, len(xte))
    k = int(ytr.max()) + 1
    if classes is not None:
        classes = [str(c) for c in classes]
        if len(classes) != len(set(classes)):
            raise ConfigError(f"{name}: the class names are not unique.")
        if len(classes) < k:
            raise ConfigError(f"{name}: {len(classes)} class names for {k} classes (labels 0..{k - 1}).")
        k = len(classes)
    present = np.bincount(ytr, minlength=k)
    if k < 2 or (present > 0).sum() < 2:
        raise ConfigError(f"{name}: the training set has {(present > 0).sum()} class(es); classification needs at "
                          f"least 2.")
    missing = np.flatnonzero(present == 0)
    if len(missing):
        raise ConfigError(f"{name}: classes must be numbered 0..K-1 with every class in the training set; class ids "
                          f"{missing[:10].tolist()}{' ...' if len(missing) > 10 else ''} have no training sample "
                          f"(K = {k}). Renumber the labels (e.g. np.unique(y, return_inverse=True)).")
    if yte.max() >= k:
        raise ConfigError(f"{name}: the test set has label {int(yte.max())}, which no training sample has (classes "
                          f"0..{k - 1}).")
    names = check_class_names(name, classes) if classes is not None else [str(i) for i in range(k)]
    return xtr, ytr, xte, yte, names


MAX_CLASS_NAME = 100  # characters


def check_class_names(name: str, classes: list[str]) -> list[str]:
    """Class names must each be one printable line of 1..MAX_CLASS_NAME characters: they label charts, tables and
    the image mosaics (a line break there crashed every page that draws one)."""
    for i, c in enumerate(classes):
        shown = repr(c[:40] + ("..." if len(c) > 40 else ""))
        if not c.strip():
            raise ConfigError(f"{name}: class name {i} is empty; give every class a name (one line, at most "
                              f"{MAX_CLASS_NAME} characters).")
        if "\n" in c or "\r" in c or "\u2028" in c or "\u2029" in c:
            raise ConfigError(f"{name}: class name {i} ({shown}) spans several lines; class names must be one line "
                              f"of printable characters, at most {MAX_CLASS_NAME} long.")
        if not c.isprintable():
            bad = next(ch for ch in c if not ch.isprintable())
            raise ConfigError(f"{name}: class name {i} ({shown}) holds the non-printable character U+{ord(bad):04X}; "
                              f"class names must be one line of printable characters, at most {MAX_CLASS_NAME} long.")
        if len(c) > MAX_CLASS_NAME:
            raise ConfigError(f"{name}: class name {i} ({shown}) has {len(c)} characters; class names must be one "
                              f"line of at most {MAX_CLASS_NAME} characters.")
    return list(classes)


def _from_numpy(name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                classes: list[str] | None, layout: str = "NHWC", **kw) -> ImageDataset:
    """Build an ImageDataset from uint8 arrays (NHWC or NHW for grayscale; NCHW for SVHN), validated."""
    xtr, ytr, xte, yte, names = check_arrays(name, x_train, y_train, x_test, y_test, classes, layout)

    def to_nchw(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    return ImageDataset(name, to_nchw(xtr), torch.from_numpy(ytr), to_nchw(xte), torch.from_numpy(yte), names, **kw)


def load_digits_dataset(test_fraction: float = 0.2, split_seed: int = 0) -> ImageDataset:
    """scikit-learn's real 8x8 handwritten digits (1,797 images), fixed stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    # Pixel values are 0..16; map them to the 0..255 uint8 range every data set uses.
    images = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    idx = np.arange(len(images))
    tr, te = train_test_split(idx, test_size=test_fraction, stratify=d.target, random_state=split_seed)
    tr, te = np.sort(tr), np.sort(te)
    return _from_numpy("digits", images[tr], d.target[tr], images[te], d.target[te],
                       [str(i) for i in range(10)], description="scikit-learn digits, 8x8 grayscale")


def load_biased_digits(bias: float = 0.9, seed: int = 0) -> ImageDataset:
    """Digits with a spurious attribute, an offline stand-in for CelebA's Blond/Male bias (Fan et al., Challenging Forgets Fig. 4).

    Task label: digit >= 5 ("high") vs < 5 ("low"). Attribute: the image is drawn in red or green ink. For a
    fraction ``bias`` of the samples the ink agrees with the label (high -> red, low -> green); the rest get the
    other colour. So (high, red) and (low, green) are the easy majority groups.
    """
    if not 0.5 <= bias <= 1.0:
        raise ConfigError(f"bias must be in [0.5, 1], got {bias}.")
    base = load_digits_dataset()
    rng = np.random.default_rng(seed)

    def colourise(x: torch.Tensor, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        label = (y >= 5).astype(np.int64)
        agree = rng.random(len(y)) < bias
        red = np.where(agree, label == 1, label == 0)
        gray = x[:, 0].numpy().astype(np.float32)  # (n, H, W)
        rgb = np.zeros(gray.shape + (3,), dtype=np.float32)
        rgb[red, :, :, 0] = gray[red]
        rgb[~red, :, :, 1] = gray[~red]
        rgb += 20.0  # dim background so the colour channel is not the only signal
        return np.clip(rgb, 0, 255).astype(np.uint8), label, red.astype(np.int64)

    xtr, ytr, atr = colourise(base.x_train, base.y_train.numpy())
    xte, yte, _ = colourise(base.x_test, base.y_test.numpy())
    return _from_numpy("biased_digits", xtr, ytr, xte, yte, ["low (0-4)", "high (5-9)"],
                       attributes={"red_ink": atr},
                       description=f"Project-built from real digits: label=digit>=5, ink colour agrees with the "
                                   f"label for {bias:.0%} of samples (spurious attribute 'red_ink').")


def _torchvision_missing(name: str, root: str, err: Exception) -> DataNotFoundError:
    return DataNotFoundError(
        f"{name} was not found under data root '{root}' ({err}). Either point --data-root at a folder that "
        f"holds it, or pass --download to fetch it there (needs internet access)."
    )


def _load_torchvision(name: str, root: str | None, download: bool) -> ImageDataset:
    import torchvision.datasets as tvd

    root = root or os.environ.get("FORGETSET_DATA_ROOT", "./data")
    if not download and not Path(root).exists():
        raise DataNotFoundError(f"Data root '{root}' does not exist. Create it and pass --download to fetch "
                                f"{name} there, or set --data-root to where {name} is stored.")
    try:
        if name in ("cifar10", "cifar100"):
            cls = tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100
            tr, te = cls(root, train=True, download=download), cls(root, train=False, download=download)
            return _from_numpy(name, tr.data, np.array(tr.targets), te.data, np.array(te.targets), tr.classes)
        if name in ("mnist", "fashion_mnist"):
            cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
            tr, te = cls(root, train=True, download=download), cls(root, train=False, download=download)
            return _from_numpy(name, tr.data.numpy(), tr.targets.numpy(), te.data.numpy(), te.targets.numpy(),
                               list(tr.classes))
        if name == "svhn":
            tr, te = tvd.SVHN(root, split="train", download=download), tvd.SVHN(root, split="test", download=download)
            return _from_numpy(name, tr.data, tr.labels, te.data, te.labels, [str(i) for i in range(10)],
                               layout="NCHW")
        if name == "celeba":
            return _load_celeba(root, download)
        if name == "tiny_imagenet":
            return _load_tiny_imagenet(root, download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted. You can use download=True ..."
        raise _torchvision_missing(name, root, err) from err
    except OSError as err:
        raise _torchvision_missing(name, root, err) from err
    raise unknown_name("data set", name, list(DATASETS))


def _load_celeba(root: str, download: bool, size: int = 64, max_train: int | None = None) -> ImageDataset:
    """CelebA, task Blond_Hair vs not, spurious attribute Male; images resized to ``size`` x ``size``."""
    import torchvision.datasets as tvd
    import torchvision.transforms.functional as TF

    def load(split: str):
        ds = tvd.CelebA(root, split=split, target_type="attr", download=download)
        names = ds.attr_names
        blond, male = names.index("Blond_Hair"), names.index("Male")
        n = len(ds) if max_train is None else min(len(ds), max_train)
        xs = np.empty((n, size, size, 3), dtype=np.uint8)
        for i in range(n):  # decoding JPEGs is inherently per-file; done once and then cached by the caller
            img, _ = ds[i]
            xs[i] = np.asarray(TF.resize(img, [size, size]))
        attr = ds.attr[:n].numpy()
        return xs, attr[:, blond].astype(np.int64), attr[:, male].astype(np.int64)

    xtr, ytr, mtr = load("train")
    xte, yte, _ = load("test")
    return _from_numpy("celeba", xtr, ytr, xte, yte, ["not blond", "blond"], attributes={"male": mtr},
                       description="CelebA Blond_Hair vs not; spurious attribute Male")


TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINY_IMAGENET_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"


def _load_tiny_imagenet(root: str, download: bool) -> ImageDataset:
    """Tiny-ImageNet (200 classes, 64x64 RGB; 100,000 train / 10,000 val images used as the test split) from the
    official archive's layout ``ROOT/tiny-imagenet-200/{wnids.txt, train/<wnid>/images/*.JPEG,
    val/images/*.JPEG, val/val_annotations.txt}``. ``download`` fetches and extracts the archive into ROOT
    (torchvision's checked download, MD5 verified). The decoded arrays are cached next to it as an npz of uint8."""
    from PIL import Image

    base = Path(root) / "tiny-imagenet-200"
    if not base.exists() and download:
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive(TINY_IMAGENET_URL, download_root=root, md5=TINY_IMAGENET_MD5)
    if not (base / "wnids.txt").exists():
        raise FileNotFoundError(f"{base / 'wnids.txt'} not found (expected the tiny-imagenet-200 archive's layout)")
    decoded = base / "forgetset_arrays.npz"
    wnids = (base / "wnids.txt").read_text().split()
    if decoded.exists():
        with np.load(decoded, allow_pickle=False) as z:
            return _from_numpy("tiny_imagenet", z["x_train"], z["y_train"], z["x_test"], z["y_test"], wnids)
    cls = {w: i for i, w in enumerate(wnids)}

    def read(paths: list[Path]) -> np.ndarray:
        x = np.empty((len(paths), 64, 64, 3), dtype=np.uint8)
        for i, path in enumerate(paths):  # JPEG decoding is per file; done once, then the npz above is used
            with Image.open(path) as img:
                x[i] = np.asarray(img.convert("RGB").resize((64, 64)))
        return x

    train = sorted((p, cls[p.parts[-3]]) for w in wnids for p in (base / "train" / w / "images").glob("*.JPEG"))
    val = []
    for line in (base / "val" / "val_annotations.txt").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1] in cls:
            val.append((base / "val" / "images" / parts[0], cls[parts[1]]))
    if not train or not val:
        raise FileNotFoundError(f"no images under {base / 'train'} or {base / 'val'}")
    x_train, y_train = read([p for p, _ in train]), np.array([c for _, c in train], dtype=np.int64)
    x_test, y_test = read([p for p, _ in val]), np.array([c for _, c in val], dtype=np.int64)
    import io

    buf = io.BytesIO()
    np.savez(buf, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    atomic_write_bytes(decoded, buf.getvalue())
    return _from_numpy("tiny_imagenet", x_train, y_train, x_test, y_test, wnids)


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


def _load_npz(path: str) -> ImageDataset:
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
    return _from_numpy(f"npz:{p.name}", arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                       None if classes is None else [str(c) for c in classes], description=str(p))


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def scan_image_folder(path: str, split_dir: Path, root_real: str, budget: list[int]) -> tuple[list[str], list[tuple[str, int]]]:
    """(classes, [(file, class id)]) of an ImageFolder split, in torchvision's ImageFolder order (classes sorted,
    ``sorted(os.walk(class_dir, followlinks=True))``, files sorted), so sample indices match earlier releases.

    Every folder and file is resolved with symbolic links followed and must lie inside ``root_real`` (the data
    set's own folder, resolved): a link that leads out of it is refused, never read. ``budget`` (a one-item list)
    is the number of image files still allowed; scanning stops as soon as it is exceeded.
    """
    try:
        classes = sorted(e.name for e in os.scandir(split_dir) if e.is_dir())
    except OSError as err:
        raise ConfigError(f"folder data set '{path}': cannot list {split_dir.name}/ ({err.strerror or err}).") from None
    if not classes:
        raise ConfigError(f"folder data set '{path}': {split_dir.name}/ holds no class folders. It needs "
                          f"{split_dir.name}/<class>/<image> files with one of the extensions "
                          f"{', '.join(IMAGE_EXTENSIONS)}.")

    def outside(p: str, real: str) -> ConfigError:
        return ConfigError(f"folder data set '{path}': '{os.path.relpath(p, str(Path(path)))}' is a symbolic link "
                           f"that leads outside the data set's folder; only files inside it are read. Copy the file "
                           f"into the folder (or link to a place inside it).")

    samples: list[tuple[str, int]] = []
    limit = max_folder_files()
    for target, cls in enumerate(classes):
        class_dir = str(split_dir / cls)
        visited: set[str] = set()
        walked = []
        for dirpath, dirnames, fnames in os.walk(class_dir, followlinks=True):
            real = os.path.realpath(dirpath)
            if not _inside(real, root_real):
                raise outside(dirpath, real)
            if real in visited:  # a link back to a folder already walked (a loop)
                dirnames[:] = []
                continue
            visited.add(real)
            images = [f for f in fnames if f.lower().endswith(IMAGE_EXTENSIONS)]
            budget[0] -= len(images)
            if budget[0] < 0:
                raise ConfigError(f"folder data set '{path}': more than {limit} image files (the limit; set "
                                  f"{FOLDER_FILES_ENV} to change it). Point folder: at a smaller tree.")
            walked.append((dirpath, dirnames, images))
        count = 0
        for dirpath, _, images in sorted(walked):
            for fname in sorted(images):
                f = os.path.join(dirpath, fname)
                real = os.path.realpath(f)
                if not _inside(real, root_real):
                    raise outside(f, real)
                samples.append((f, target))  # a broken link stays in (reading it then says so), as in ImageFolder
                count += 1
        if count == 0:
            raise ConfigError(f"folder data set '{path}': {split_dir.name}/{cls}/ holds no usable images. It needs "
                              f"{split_dir.name}/<class>/<image> files with one of the extensions "
                              f"{', '.join(IMAGE_EXTENSIONS)}.")
    return classes, samples


def _load_folder(path: str) -> ImageDataset:
    """torchvision ImageFolder layout: PATH/train/<class>/*.png and PATH/test/<class>/*.png (resized to the size of
    the first training image). Limits are checked before decoding: the number of files, each image's size (from
    its header) and the whole data set's bytes; symbolic links never lead out of PATH."""
    from PIL import Image

    root = Path(path)
    if root.is_file():
        raise ConfigError(f"'{path}' is a file, not a folder." + (f" For an npz file use --dataset npz:{path}."
                                                                     if root.suffix == ".npz" else ""))
    for sub in ("train", "test"):
        if not (root / sub).is_dir():
            raise DataNotFoundError(f"folder data set '{path}' needs sub-folders train/ and test/ "
                                    f"(ImageFolder layout: train/<class>/<image>).")
    root_real = os.path.realpath(root)
    budget = [max_folder_files()]
    found = {sub: scan_image_folder(path, root / sub, root_real, budget) for sub in ("train", "test")}
    (tr_classes, tr_samples), (te_classes, te_samples) = found["train"], found["test"]
    if tr_classes != te_classes:
        raise ConfigError(f"train/ and test/ of '{path}' have different class folders "
                          f"({tr_classes[:5]} vs {te_classes[:5]}).")
    n_files = len(tr_samples) + len(te_samples)

    def open_checked(f: str):
        """The image, opened lazily (header only) and checked against the size limits before it is decoded."""
        try:
            im = Image.open(f)
        except Image.DecompressionBombError as err:  # PIL refuses > 2 x MAX_IMAGE_PIXELS from the header
            pixels = re.search(r"\((\d+) pixels\)", str(err))
            raise ConfigError(f"folder data set '{path}': the image '{f}' has "
                              f"{pixels.group(1) if pixels else 'too many'} pixels (read from its header, nothing "
                              f"decoded); the limit is {MAX_SIDE} pixels per side. Resize the images first.") from None
        except (OSError, ValueError, SyntaxError) as err:
            raise ConfigError(f"folder data set '{path}': cannot read the image '{f}' ({type(err).__name__}: "
                              f"{str(err)[:120]}). Remove or replace it.") from None
        w, h = im.size
        if max(w, h) > MAX_SIDE:
            im.close()
            raise ConfigError(f"folder data set '{path}': the image '{f}' is {w}x{h}; the limit is {MAX_SIDE} "
                              f"pixels per side (read from its header, nothing decoded). Resize the images first.")
        return im

    def open_rgb(f: str):
        im = open_checked(f)
        try:
            with im:
                return im.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as err:
            # PIL raises UnidentifiedImageError (an OSError) for garbage, OSError for truncated files.
            raise ConfigError(f"folder data set '{path}': cannot read the image '{f}' ({type(err).__name__}: "
                              f"{str(err)[:120]}). Remove or replace it.") from None

    with open_checked(tr_samples[0][0]) as first:
        size = first.size
    check_data_bytes(f"folder data set '{path}'", n_files * size[0] * size[1] * 3,
                     f"{n_files} images x {size[0]}x{size[1]}x3 pixel values at the first image's size")

    def read(samples: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
        xs = np.empty((len(samples), size[1], size[0], 3), dtype=np.uint8)
        for i, (f, _) in enumerate(samples):
            xs[i] = np.asarray(open_rgb(f).resize(size))
        return xs, np.array([t for _, t in samples], dtype=np.int64)

    (xtr, ytr), (xte, yte) = read(tr_samples), read(te_samples)
    return _from_numpy(f"folder:{root.name}", xtr, ytr, xte, yte, tr_classes, description=str(root))


DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "digits": lambda root=None, download=False: load_digits_dataset(),
    "biased_digits": lambda root=None, download=False: load_biased_digits(),
    **{n: (lambda n: lambda root=None, download=False: _load_torchvision(n, root, download))(n)
       for n in ("cifar10", "cifar100", "mnist", "fashion_mnist", "svhn", "celeba", "tiny_imagenet")},
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
        h = hashlib.sha256()
        for dirpath, dirnames, fnames in os.walk(path, followlinks=True):
            dirnames.sort()
            for f in sorted(fnames):
                full = os.path.join(dirpath, f)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                h.update(f"{full}|{os.path.realpath(full)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}\n".encode())
        return (os.path.realpath(path), h.hexdigest())
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
        ds = _load_npz(name[4:])
    elif name.startswith("folder:"):
        ds = _load_folder(name[7:])
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
