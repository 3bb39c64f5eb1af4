"""What can be chosen: a method's preset as an editable table, the named data sets and whether their files exist."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..data import DATASETS
from ..methods import get_method

def method_param_frame(method: str, ds) -> pd.DataFrame:
    """The method's preset for this data set family as an editable (parameter, value) table."""
    preset = get_method(method).default_params(ds)
    return pd.DataFrame({"parameter": list(preset), "value": [json.dumps(v) for v in preset.values()]})


_TORCHVISION_MARKERS = {
    "cifar10": ["cifar-10-batches-py"], "cifar100": ["cifar-100-python"], "mnist": ["MNIST"],
    "fashion_mnist": ["FashionMNIST"], "svhn": ["train_32x32.mat"], "celeba": ["celeba"],
}


def dataset_options(data_root: str | None = None) -> list[dict]:
    """Every named data set with whether its files are present (the digits ones ship with scikit-learn)."""
    root = Path(data_root or os.environ.get("FORGETSET_DATA_ROOT", "./data"))
    out = []
    for name in DATASETS:
        if name in ("digits", "biased_digits"):
            out.append({"name": name, "available": True, "note": "built in (scikit-learn digits)"})
            continue
        markers = _TORCHVISION_MARKERS.get(name, [name])
        ok = any((root / m).exists() for m in markers)
        out.append({"name": name, "available": ok, "note": f"found under {root}" if ok else f"not found under {root}"})
    return out
