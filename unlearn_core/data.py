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
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .errors import ConfigError, DataNotFoundError, unknown_name


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
    names = classes if classes is not None else [str(i) for i in range(k)]
    return xtr, ytr, xte, yte, names


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

    from .store import atomic_write_bytes

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
    if classes is not None and (classes.ndim != 1 or classes.dtype.kind not in "USiu"):
        raise ConfigError(f"npz file '{path}': classes must be a 1-D array of names (strings), got dtype "
                          f"{classes.dtype} and shape {classes.shape}.")
    return _from_numpy(f"npz:{p.name}", arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                       None if classes is None else [str(c) for c in classes], description=str(p))


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _load_folder(path: str) -> ImageDataset:
    """torchvision ImageFolder layout: PATH/train/<class>/*.png and PATH/test/<class>/*.png (resized to the size of
    the first training image)."""
    from PIL import Image
    import torchvision.datasets as tvd

    root = Path(path)
    if root.is_file():
        raise ConfigError(f"'{path}' is a file, not a folder." + (f" For an npz file use --dataset npz:{path}."
                                                                     if root.suffix == ".npz" else ""))
    for sub in ("train", "test"):
        if not (root / sub).is_dir():
            raise DataNotFoundError(f"folder data set '{path}' needs sub-folders train/ and test/ "
                                    f"(ImageFolder layout: train/<class>/<image>).")
    sets = {}
    for sub in ("train", "test"):
        try:
            sets[sub] = tvd.ImageFolder(str(root / sub))
        except (FileNotFoundError, OSError) as err:  # no class folders, or class folders without images
            raise ConfigError(f"folder data set '{path}': {sub}/ holds no usable images ({str(err)[:160]}). It needs "
                              f"{sub}/<class>/<image> files with one of the extensions "
                              f"{', '.join(IMAGE_EXTENSIONS)}.") from None
    tr, te = sets["train"], sets["test"]
    if tr.classes != te.classes:
        raise ConfigError(f"train/ and test/ of '{path}' have different class folders "
                          f"({tr.classes[:5]} vs {te.classes[:5]}).")

    def open_rgb(f: str):
        try:
            with Image.open(f) as im:
                return im.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as err:
            # PIL raises UnidentifiedImageError (an OSError) for garbage, OSError for truncated files.
            raise ConfigError(f"folder data set '{path}': cannot read the image '{f}' ({type(err).__name__}: "
                              f"{str(err)[:120]}). Remove or replace it.") from None

    size = open_rgb(tr.samples[0][0]).size
    if max(size) > MAX_SIDE:
        raise ConfigError(f"folder data set '{path}': the first image is {size[0]}x{size[1]}; the limit is {MAX_SIDE} "
                          f"pixels per side. Resize the images first.")

    def read(ds) -> tuple[np.ndarray, np.ndarray]:
        xs = np.stack([np.asarray(open_rgb(f).resize(size)) for f, _ in ds.samples])
        return xs.astype(np.uint8), np.array(ds.targets)

    (xtr, ytr), (xte, yte) = read(tr), read(te)
    return _from_numpy(f"folder:{root.name}", xtr, ytr, xte, yte, tr.classes, description=str(root))


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


def load_dataset(name: str, root: str | None = None, download: bool = False) -> ImageDataset:
    """Load a data set by name (see module docstring). Results are memoised per process."""
    if not name or not isinstance(name, str):
        raise ConfigError("A data set name is required, e.g. 'digits'.")
    key = (name, root, download)
    if key in _CACHE:
        return _CACHE[key]
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
