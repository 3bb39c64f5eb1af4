"""``folder:PATH`` data sets: torchvision's ImageFolder layout (train/<class>/<image>, test/<class>/<image>), with
file-count, image-size and byte limits checked before decoding and symbolic links kept inside PATH."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataNotFoundError
from ..limits import FOLDER_FILES_ENV, check_data_bytes, max_folder_files
from .arrays import MAX_SIDE, from_numpy
from .dataset import ImageDataset

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


def load_folder(path: str) -> ImageDataset:
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
    return from_numpy(f"folder:{root.name}", xtr, ytr, xte, yte, tr_classes, description=str(root))
