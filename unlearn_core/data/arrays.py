"""Arrays → :class:`ImageDataset`: every loader's images and labels are checked here (uint8 pixels, shapes,
class ids 0..K-1, printable class names) and turned into NCHW tensors."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from .dataset import ImageDataset

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


def from_numpy(name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                classes: list[str] | None, layout: str = "NHWC", **kw) -> ImageDataset:
    """Build an ImageDataset from uint8 arrays (NHWC or NHW for grayscale; NCHW for SVHN), validated."""
    xtr, ytr, xte, yte, names = check_arrays(name, x_train, y_train, x_test, y_test, classes, layout)

    def to_nchw(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    return ImageDataset(name, to_nchw(xtr), torch.from_numpy(ytr), to_nchw(xte), torch.from_numpy(yte), names, **kw)
