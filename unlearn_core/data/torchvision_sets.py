"""Standard data sets in their published layouts, read with torchvision from a data root (or downloaded there):
CIFAR-10/100, MNIST, Fashion-MNIST, SVHN, CelebA and Tiny-ImageNet."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError, unknown_name
from ..io import atomic_write_bytes
from .arrays import from_numpy
from .dataset import ImageDataset

TORCHVISION_SETS = ("cifar10", "cifar100", "mnist", "fashion_mnist", "svhn", "celeba", "tiny_imagenet")


def _torchvision_missing(name: str, root: str, err: Exception) -> DataNotFoundError:
    return DataNotFoundError(
        f"{name} was not found under data root '{root}' ({err}). Either point --data-root at a folder that "
        f"holds it, or pass --download to fetch it there (needs internet access)."
    )


def load_torchvision(name: str, root: str | None, download: bool) -> ImageDataset:
    import torchvision.datasets as tvd

    root = root or os.environ.get("FORGETSET_DATA_ROOT", "./data")
    if not download and not Path(root).exists():
        raise DataNotFoundError(f"Data root '{root}' does not exist. Create it and pass --download to fetch "
                                f"{name} there, or set --data-root to where {name} is stored.")
    try:
        if name in ("cifar10", "cifar100"):
            cls = tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100
            tr, te = cls(root, train=True, download=download), cls(root, train=False, download=download)
            return from_numpy(name, tr.data, np.array(tr.targets), te.data, np.array(te.targets), tr.classes)
        if name in ("mnist", "fashion_mnist"):
            cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
            tr, te = cls(root, train=True, download=download), cls(root, train=False, download=download)
            return from_numpy(name, tr.data.numpy(), tr.targets.numpy(), te.data.numpy(), te.targets.numpy(),
                               list(tr.classes))
        if name == "svhn":
            tr, te = tvd.SVHN(root, split="train", download=download), tvd.SVHN(root, split="test", download=download)
            return from_numpy(name, tr.data, tr.labels, te.data, te.labels, [str(i) for i in range(10)],
                               layout="NCHW")
        if name == "celeba":
            return _load_celeba(root, download)
        if name == "tiny_imagenet":
            return _load_tiny_imagenet(root, download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted. You can use download=True ..."
        raise _torchvision_missing(name, root, err) from err
    except OSError as err:
        raise _torchvision_missing(name, root, err) from err
    raise unknown_name("data set", name, ["digits", "biased_digits", *TORCHVISION_SETS])


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
    return from_numpy("celeba", xtr, ytr, xte, yte, ["not blond", "blond"], attributes={"male": mtr},
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
            return from_numpy("tiny_imagenet", z["x_train"], z["y_train"], z["x_test"], z["y_test"], wnids)
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
    buf = io.BytesIO()
    np.savez(buf, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    atomic_write_bytes(decoded, buf.getvalue())
    return from_numpy("tiny_imagenet", x_train, y_train, x_test, y_test, wnids)
