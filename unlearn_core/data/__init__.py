"""Data sets by name, held in memory as uint8 image tensors with stable integer indices.

Every data set becomes an :class:`ImageDataset`: ``x_train``/``x_test`` are uint8 tensors in NCHW layout,
``y_*`` int64 labels. Sample ``i`` of the training set keeps index ``i`` everywhere (forget sets, scores and
the store all refer to these indices). Images are normalised per batch (``normalize``) so that a whole data set
can sit on the GPU as uint8 (4x smaller than float32).

Names: ``digits`` (default, ships with scikit-learn), ``biased_digits`` (digits with a spurious colour
attribute, see :func:`load_biased_digits`), ``cifar10``, ``cifar100``, ``mnist``, ``fashion_mnist``, ``svhn``,
``celeba`` (torchvision; local root or ``download=True``), ``tiny_imagenet`` (the official archive's layout),
``npz:PATH`` and ``folder:PATH``.

Modules: ``dataset`` (:class:`ImageDataset`), ``arrays`` (checks, arrays → tensors), ``builtin`` (digits, biased
digits), ``torchvision_sets`` (standard layouts under a data root), ``npz`` and ``folder`` (the user's files),
``registry`` (names → loaders, the memo, default models).
"""
from __future__ import annotations

from .arrays import MAX_CHANNELS, MAX_CLASS_NAME, MAX_CLASSES, MAX_SIDE, check_arrays, check_class_names, from_numpy
from .builtin import load_biased_digits, load_digits_dataset
from .dataset import ImageDataset
from .folder import IMAGE_EXTENSIONS, scan_image_folder
from .npz import NPZ_ARRAYS, NPZ_FORMAT, npz_headers
from .registry import DATASETS, DEFAULT_MODEL, default_model_for, family_of, load_dataset, source_signature
from .torchvision_sets import TINY_IMAGENET_MD5, TINY_IMAGENET_URL, TORCHVISION_SETS

_from_numpy = from_numpy  # the name tests and benchmarks import

__all__ = [
    "DATASETS", "DEFAULT_MODEL", "IMAGE_EXTENSIONS", "ImageDataset", "MAX_CHANNELS", "MAX_CLASSES", "MAX_CLASS_NAME",
    "MAX_SIDE", "NPZ_ARRAYS", "NPZ_FORMAT", "TINY_IMAGENET_MD5", "TINY_IMAGENET_URL", "TORCHVISION_SETS",
    "_from_numpy", "check_arrays", "check_class_names", "default_model_for", "family_of", "from_numpy",
    "load_biased_digits", "load_dataset", "load_digits_dataset", "npz_headers", "scan_image_folder",
    "source_signature",
]
