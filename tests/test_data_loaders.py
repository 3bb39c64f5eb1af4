"""Real loaders for named data sets, on layouts the test builds (nothing is downloaded)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from unlearn_core.data import load_dataset
from unlearn_core.errors import DataNotFoundError


def _tiny_imagenet_tree(root, wnids=("n01443537", "n01629819"), per_class=3, n_val=4):
    base = root / "tiny-imagenet-200"
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    rng = np.random.default_rng(0)
    for w in wnids:
        d = base / "train" / w / "images"
        d.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(d / f"{w}_{i}.JPEG")
    lines = []
    for i in range(n_val):
        name = f"val_{i}.JPEG"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(base / "val" / "images" / name)
        lines.append(f"{name}\t{wnids[i % len(wnids)]}\t0\t0\t63\t63")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return base


def test_tiny_imagenet_reads_the_official_layout_and_caches_the_decoded_arrays(tmp_path):
    base = _tiny_imagenet_tree(tmp_path)
    ds = load_dataset("tiny_imagenet", root=str(tmp_path))
    assert tuple(ds.x_train.shape) == (6, 3, 64, 64) and tuple(ds.x_test.shape) == (4, 3, 64, 64)
    assert ds.num_classes == 2 and sorted(ds.y_train.tolist()) == [0, 0, 0, 1, 1, 1]
    assert ds.y_test.tolist() == [0, 1, 0, 1]
    assert (base / "forgetset_arrays.npz").exists()  # decoded once


def test_named_data_sets_without_their_files_say_where_to_put_them(tmp_path):
    for name in ("tiny_imagenet", "cifar10"):
        with pytest.raises(DataNotFoundError, match="--download"):
            load_dataset(name, root=str(tmp_path / "empty" if name == "cifar10" else tmp_path))
